"""Every CSV a person downloads is neutralised and every download is audited (issue 15)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from dashboard.downloads import downloader
from services.access import Viewer
from services.safe_text import csv_bytes, csv_text, neutral_cell
from store.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    '=HYPERLINK("http://127.0.0.1:8699/x","Click")',
    "+SUM(1,2)",
    "-1+cmd|' /C calc'!A0",
    "@cmd",
    "\tTAB",
    "\rCR",
]


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_formula_cells_are_quoted_and_ordinary_cells_kept():
    frame = pd.DataFrame(
        {"Place": [*HOSTILE, "Park (north)", "-15", "A-road", "+261 (+10%)"], "n": range(10)}
    )
    rows = _cells(csv_bytes(frame))
    places = [r[0] for r in rows[1:]]
    assert places[: len(HOSTILE)] == ["'" + h for h in HOSTILE]
    assert places[len(HOSTILE) :] == ["Park (north)", "-15", "A-road", "+261 (+10%)"]
    assert [r[1] for r in rows[1:]] == [str(i) for i in range(10)]


def test_headers_from_a_file_are_neutralised_too():
    frame = pd.DataFrame({"=cmd()": ["x"]})
    assert csv_text(frame).splitlines()[0] == "'=cmd()"


def test_control_plain_to_csv_would_carry_the_formula():
    """What the check catches: pandas writes the formula as it is."""
    frame = pd.DataFrame({"Place": HOSTILE[:4]})
    raw = [r[0] for r in _cells(frame.to_csv(index=False).encode())[1:]]
    assert any(neutral_cell(v) != v for v in raw)
    assert raw[0].startswith("=")


def test_no_page_writes_a_csv_or_offers_a_download_but_through_the_safe_helpers():
    """A new export that skips csv_bytes or the audited download fails here.

    No XLSX is written anywhere (openpyxl only reads imports): a new workbook export
    would show up here and must neutralise its cells through ``services.safe_text`` as CSV.
    """
    offenders = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")) + sorted((ROOT / "store").rglob("*.py")):
        if path.name in {"safe_text.py", "downloads.py"} or "migrations" in path.parts:
            continue
        text = path.read_text()
        patterns = (
            r"\.to_csv\(",
            r"\.to_excel\(",
            r"\.download_button\(",
            r"Workbook\(",
            r"xlsxwriter",
            r"ExcelWriter",
        )
        for pattern in patterns:
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert offenders == []


def test_a_download_is_audited_when_the_file_is_handed_over(engine: Engine):
    viewer = Viewer(username="officer", role="officer", districts=("E07000192",))
    made = downloader(
        engine,
        viewer,
        lambda: csv_bytes(pd.DataFrame({"Place": HOSTILE[:1]})),
        entity="places",
        file_name="places.csv",
        detail={"rows": 1},
        origin="127.0.0.1",
    )
    with engine.connect() as connection:  # nothing is audited until the file is asked for
        assert connection.scalars(select(AuditEvent.action)).all() == []
    data = made()
    assert _cells(data)[1][0].startswith("'=")
    with engine.connect() as connection:
        event = connection.execute(select(AuditEvent)).one()
    assert (event.actor, event.action, event.entity) == ("officer", "export", "places")
    assert event.detail == {"rows": 1, "file": "places.csv", "bytes": len(data)}
