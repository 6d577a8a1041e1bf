"""The postcode directory is read from the package once per machine, then from a cache file.

Each test calls the uncached reader (``_directory.__wrapped__``) as a new process would, so
this process keeps its own copy; the package's files (seconds to read) are not read: the
reader hands back that copy, and counts how often it was asked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo import postcodes

new_process = postcodes._directory.__wrapped__


@pytest.fixture
def package_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty home folder, and reads of the package counted."""
    real = postcodes._directory()
    reads: list[int] = []

    def read() -> pd.DataFrame:
        reads.append(1)
        return real.copy()

    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    monkeypatch.setattr(postcodes, "_read_package", read)
    return reads, real


def _same(frame: pd.DataFrame, real: pd.DataFrame) -> bool:
    """Equal rows in the same order, with the same types (a category stays a category)."""
    return frame.dtypes.equals(real.dtypes) and frame.equals(real)


def test_a_new_process_reads_the_cached_directory_not_the_package(package_reads, tmp_path):
    reads, real = package_reads
    assert _same(new_process(), real)
    assert reads == [1]  # the control: without the file, the package is read
    assert postcodes._cache_path().parent == tmp_path / "cache"
    assert _same(new_process(), real)  # same rows, order and types
    assert reads == [1]


def test_a_damaged_cache_file_is_read_past_and_replaced(package_reads):
    reads, real = package_reads
    path = postcodes._cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 cut off by a killed process")
    assert _same(new_process(), real)
    assert len(new_process()) == len(real)
    assert reads == [1]  # the good file was written in its place
    assert not list(path.parent.glob("*.partial"))


def test_a_home_that_cannot_be_written_still_gives_the_directory(
    package_reads, tmp_path, monkeypatch
):
    reads, real = package_reads
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("SAFER_SPACES_HOME", str(blocked))
    assert len(new_process()) == len(real)
    assert len(new_process()) == len(real)
    assert reads == [1, 1]  # read each time, as nothing could be kept
