"""An uploaded extract never outlives the script run that reads it (issue 15)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from dashboard import uploads
from tests.imports.test_page import CSV, _data_page, empty_area  # noqa: F401 (fixture)


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    """The system temp folder, here a private one, so that only this test's files are in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder / "safer-spaces-uploads"


def _left(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*")) if root.exists() else []


@pytest.mark.usefixtures("empty_area")
def test_an_upload_left_without_pressing_import_is_not_on_disk(temp_root):
    at = _data_page("admin")
    at.file_uploader(key="import_file_0").set_value(("august.csv", CSV.encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    assert at.dataframe, "the mapping step is not shown, so the file was read"
    assert _left(temp_root) == []
    at.text_input(key="import_source_0").input("MASH export").run()  # another run, no import
    assert _left(temp_root) == []


def test_control_a_copy_kept_past_its_run_is_found(temp_root):
    """What the check above would see if the page kept the copy (as it used to)."""

    class Upload:
        name = "august.csv"

        def getvalue(self) -> bytes:
            return CSV.encode()

    path = uploads.write_copy(Upload())
    assert _left(temp_root) == [path.name]
    assert "Amy Pond" in path.read_text()
    path.unlink()


def test_the_sweep_removes_what_dead_processes_left_and_keeps_live_runs(temp_root):
    root = uploads.upload_root()
    dead = 2**22 + 12345  # above the kernel's largest process id: never running
    left_over = root / f"{dead}-abc-august.csv"
    left_over.write_text(CSV)
    old_layout = root / "3f2a-file-id-august.csv"
    old_layout.write_text(CSV)
    live = root / f"{os.getpid()}-def-september.csv"
    live.write_text(CSV)
    removed = uploads.sweep(root)
    assert sorted(p.name for p in removed) == sorted([left_over.name, old_layout.name])
    assert _left(temp_root) == [live.name]
    # a copy of a live process that is older than any run is a left-over too
    assert uploads.sweep(root, now=time.time() + uploads.STALE_SECONDS + 60) == [live]
    assert _left(temp_root) == []
