"""How a CSV's text encoding is found: UTF-8 on one pass, Windows-1252 and Latin-1 after.

A byte that is not UTF-8 may come anywhere, so the last line of a file larger than the
reader's blocks is where these tests put it.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest

from services.imports.readers import open_source

HEADER = b"Ref,Date,Type,Postcode,Notes\n"
ROW = b"A%07d,2021-08-01,cce,ST16 2LJ,nothing of note\n"


def _file(tmp_path: Path, last: bytes, *, start: bytes = b"") -> Path:
    """Write a CSV of about 10 MB (more than one block of 8 MB) whose last line is given."""
    rows = b"".join(ROW % i for i in range(220_000))
    path = tmp_path / "incidents.csv"
    path.write_bytes(start + HEADER + rows + b"Z1,2021-08-02,cse,ST16 2LJ," + last + b"\n")
    assert path.stat().st_size > 9 * 2**20
    return path


@pytest.mark.parametrize(
    ("last", "start", "expected"),
    [
        ("Café £20".encode(), b"", "utf-8"),
        ("Café £20".encode(), codecs.BOM_UTF8, "utf-8-sig"),
        ("Café £20 – naïve".encode("cp1252"), b"", "cp1252"),
        (b"\x81\x8d", b"", "latin-1"),  # bytes Windows-1252 leaves undefined
    ],
    ids=["utf-8", "utf-8 with its mark", "windows-1252", "neither"],
)
def test_an_encoding_shown_only_by_the_last_line_is_found(tmp_path, last, start, expected):
    path = _file(tmp_path, last, start=start)
    found = open_source(path)
    assert found.encoding == expected
    assert found.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    text = path.read_bytes().decode(expected)
    assert text.endswith(last.decode(expected) + "\n")


def test_the_encodings_are_told_apart_by_the_last_line_alone(tmp_path):
    # control for the test above: the same file but its last line is plain UTF-8 and
    # reads as Windows-1252 too, so the encoding found there came from the last line
    plain = tmp_path / "plain"
    plain.mkdir()
    assert open_source(_file(plain, b"Cafe 20")).encoding == "utf-8"
    with pytest.raises(UnicodeDecodeError):
        "Café £20 – naïve".encode("cp1252").decode("utf-8")
