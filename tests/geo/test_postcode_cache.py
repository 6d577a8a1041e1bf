"""The postcode directory is read from the package once per machine, then from a cache file.

The package's files take seconds to read; here the reader hands back the directory this
process already holds, and counts how often it was asked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo import postcodes


@pytest.fixture
def package_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty home folder, the directory forgotten by this process, reads of it counted."""
    real = postcodes._directory()  # this process's copy (restored after)
    reads: list[int] = []

    def read() -> pd.DataFrame:
        reads.append(1)
        return real.copy()

    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    monkeypatch.setattr(postcodes, "_read_package", read)
    postcodes._directory.cache_clear()
    yield reads, real
    postcodes._directory.cache_clear()
    monkeypatch.undo()
    assert postcodes._directory() is not None


def _same(frame: pd.DataFrame, real: pd.DataFrame) -> bool:
    """Equal rows in the same order, with the same types (a category stays a category)."""
    return frame.dtypes.equals(real.dtypes) and frame.equals(real)


def test_a_new_process_reads_the_cached_directory_not_the_package(package_reads, tmp_path):
    reads, real = package_reads
    assert _same(postcodes._directory(), real)
    assert reads == [1]  # the control: without the file, the package is read
    assert postcodes._cache_path().parent == tmp_path / "cache"
    postcodes._directory.cache_clear()  # as a new process starts
    assert _same(postcodes._directory(), real)  # same rows, order and types
    assert reads == [1]
    assert postcodes.lookup_postcodes(["ST16 2LJ"])["district_code"].iloc[0] == "E07000197"


def test_a_damaged_cache_file_is_read_past_and_replaced(package_reads):
    reads, real = package_reads
    path = postcodes._cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 cut off by a killed process")
    assert _same(postcodes._directory(), real)
    postcodes._directory.cache_clear()
    assert len(postcodes._directory()) == len(real)
    assert reads == [1]  # the good file was written in its place
    assert not list(path.parent.glob("*.partial"))


def test_a_home_that_cannot_be_written_still_gives_the_directory(
    package_reads, tmp_path, monkeypatch
):
    reads, real = package_reads
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("SAFER_SPACES_HOME", str(blocked))
    assert len(postcodes._directory()) == len(real)
    postcodes._directory.cache_clear()
    assert len(postcodes._directory()) == len(real)
    assert reads == [1, 1]  # read each time, as nothing could be kept
