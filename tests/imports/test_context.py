"""Context events (police.uk, all ages): stored apart, read per audience with disclosure control."""

from __future__ import annotations

from datetime import date

import pytest

from data.demo import DEFAULT_AREA
from services.access import Viewer
from services.context import context_picture
from services.disclosure import possible_counts
from services.imports import ColumnMapping, ImportFileError
from tests.imports.conftest import count, run, write

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context\n"
)
STAFFORD = (-2.117, 52.806)  # Stafford town centre (E07000197)


def _rows(kinds: dict[str, int]) -> str:
    lines, n = [], 0
    for kind, many in kinds.items():
        for _ in range(many):
            n += 1
            lon, lat = STAFFORD[0] + n * 0.0004, STAFFORD[1]
            lines.append(
                f"c{n:04d},2021-08,Staffordshire Police,Staffordshire Police,{lon:.6f},{lat:.6f},"
                f"On or near X,E01029700,Stafford 001A,{kind},Under investigation,\n"
            )
    return HEADER + "".join(lines)


@pytest.fixture
def imported(db, admin, key, tmp_path):
    path = write(tmp_path / "street.csv", _rows({"Drugs": 3, "Burglary": 12, "Robbery": 7}))
    report = run(db, path, admin)  # offered as incidents: stored as context
    assert report.stored and report.kind == "context"
    return db


def test_police_uk_rows_are_context_never_incidents(imported):
    assert count(imported, "context_events") == 22
    assert count(imported, "incidents") == 0


def test_a_lead_sees_exact_context_counts_and_an_officer_perturbed_ones(imported):
    lead = Viewer("lead", "lead", DEFAULT_AREA)
    officer = Viewer("officer", "officer", ("E07000197",))
    exact = context_picture(imported, lead, districts=DEFAULT_AREA, k=5)
    assert exact.label == "Police-recorded crime, all ages (police.uk)"
    assert exact.total == 22
    truth = {"Burglary": 12, "Drugs": 3, "Robbery": 7, "All types": 22}
    assert dict(zip(exact.by_type["crime_type"], exact.by_type["events"], strict=True)) == truth
    shown = context_picture(imported, officer, districts=("E07000197",), k=5)
    by_type = dict(zip(shown.by_type["crime_type"], shown.by_type["events"], strict=True))
    assert set(by_type) == set(truth) and "key" not in shown.by_type
    for crime_type, value in by_type.items():  # perturbed by the cell key method, never small
        assert value == "<5" or (isinstance(value, int) and value >= 5), (crime_type, value)
        assert truth[crime_type] in possible_counts(value)
    assert by_type["Burglary"] != "<5"  # 12 can move by at most 5
    assert shown.total == by_type["All types"]  # the total is the same cell as the table's
    assert all(v == "<5" or v >= 5 for v in shown.squares["events"])
    assert "key" not in shown.squares
    # the same events always show the same counts
    again = context_picture(imported, officer, districts=("E07000197",), k=5)
    assert again.by_type.equals(shown.by_type) and again.squares.equals(shown.squares)


def test_context_counts_follow_the_period_the_types_and_the_scope(imported):
    lead = Viewer("lead", "lead", DEFAULT_AREA)
    august = context_picture(
        imported, lead, districts=DEFAULT_AREA, first=date(2021, 8, 1), last=date(2021, 8, 1)
    )
    assert august.total == 22
    later = context_picture(imported, lead, districts=DEFAULT_AREA, first=date(2021, 9, 1))
    assert later.total == 0 and later.empty
    drugs = context_picture(imported, lead, districts=DEFAULT_AREA, types=("Drugs",))
    assert drugs.total == 3
    elsewhere = Viewer("o", "officer", ("E07000198",))
    nothing = context_picture(imported, elsewhere, districts=DEFAULT_AREA)
    assert nothing.empty and nothing.total == "<5"  # a 0 reads "<5" to a non-lead, as others


def test_a_mapping_to_exploitation_is_refused_unless_confirmed(db, admin, key, tmp_path):
    path = write(tmp_path / "street.csv", _rows({"Drugs": 6, "Burglary": 6}))
    deliberate = ColumnMapping(categories={"Drugs": "cce"})
    with pytest.raises(ImportFileError, match="'Drugs' -> cce"):
        run(db, path, admin, mapping=deliberate)
    assert count(db, "context_events") == 0 and count(db, "import_batches") == 0
    report = run(db, path, admin, mapping=deliberate, confirm_mapping=True)
    assert report.mapped_incidents == 6 and report.exploitation_mapping == {"Drugs": "cce"}
    assert count(db, "context_events") == 12 and count(db, "incidents") == 6
    assert report.to_json()["exploitation_mapping"] == {"Drugs": "cce"}
