"""The privacy proof: import files full of identifiers, then search a full dump for them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from services.imports import ColumnMapping
from tests.imports.conftest import KEY, dump, run
from tests.imports.fakes import police_extract, social_care_extract, write_extract


def _leaks(database_text: str, extract) -> list[str]:
    found = []
    for what, values in extract.identifiers.items():
        for value in values:
            if len(value) >= 4 and value.lower() in database_text.lower():
                found.append(f"{what}: {value}")
    for value in extract.raw_coordinates:
        if float(value) % 100 == 50:
            continue  # already the centre of its 100 m square: snapping leaves it, and it says
            # no more than any other point of that square
        if re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", database_text):
            found.append(f"raw coordinate {value}")
    return found


def test_nothing_identifying_is_stored_from_a_social_care_extract(db, admin, key, tmp_path):
    extract = social_care_extract()
    path = write_extract(extract, tmp_path / "referrals.xlsx")
    mapping = ColumnMapping(categories={"Missing from home": "missing"})
    report = run(db, path, admin, kind="referrals", mapping=mapping, source="LCS referrals")
    assert report.stored and report.accepted == len(extract.frame), report.issues
    dropped = {i["column"]: i["holds"] for i in report.identifiers_dropped}
    assert dropped["Child Name"] == "names" and dropped["NHS No"] == "NHS numbers"
    assert dropped["Home Address"] == "addresses" and dropped["Home Postcode"] == "addresses"
    assert dropped["Carer phone"] == "phone numbers"
    assert dropped["Social worker notes"] == "free-text notes"
    assert dropped["DOB"] == "dates of birth"

    everything = dump(db)
    assert "LCS referrals" in everything, "the dump is not a dump of this database"
    assert _leaks(everything, extract) == []
    assert KEY not in everything, "the pseudonym key must never be stored"


def test_nothing_identifying_is_stored_from_a_police_export(db, admin, key, tmp_path):
    extract = police_extract()
    path = write_extract(extract, tmp_path / "police.csv")
    report = run(db, path, admin, source="Staffordshire Police")
    assert report.stored and report.accepted == len(extract.frame), report.issues
    dropped = {i["column"]: (i["holds"], i["found by"]) for i in report.identifiers_dropped}
    assert dropped["Field 7"] == ("NHS numbers", "by its values")
    assert dropped["Contact"] == ("phone numbers", "by its values")
    everything = dump(db)
    assert _leaks(everything, extract) == []


def test_the_proof_would_find_a_leak(db, admin, key, tmp_path):
    """The search above can fail: a value put in the database on purpose is found."""
    extract = police_extract(rows=5)
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO settings (key, value, created_at, updated_at, created_by, "
                "updated_by) VALUES ('leak', :v, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"
            ),
            {"v": f'{{"x": "{extract.identifiers["surnames"][0]} {extract.raw_coordinates[0]}"}}'},
        )
    leaks = _leaks(dump(db), extract)
    assert any(leak.startswith("surnames") for leak in leaks)
    assert any(leak.startswith("raw coordinate") for leak in leaks)


def test_referrals_keep_what_is_needed_in_anonymised_form(db, admin, key, tmp_path):
    extract = social_care_extract()
    path = write_extract(extract, tmp_path / "referrals.csv")
    run(
        db,
        path,
        admin,
        kind="referrals",
        mapping=ColumnMapping(categories={"Missing from home": "missing"}),
    )
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT child_pseudonym, route, risk_level, outcome, age_band, occurred_on, "
                "easting, northing, date_precision FROM referrals"
            )
        ).all()
    children = extract.frame["Child ID"].nunique()
    assert len({r.child_pseudonym for r in rows}) == children, "repeat referrals stay linked"
    assert {r.route for r in rows} <= {"rfm", "mace", "other"}
    assert {r.outcome for r in rows} <= {"no further action", "strategy meeting", None}
    assert {r.age_band for r in rows} <= {"10-12", "13-15", "16-17"}
    assert all(r.date_precision == "week" for r in rows)
    assert all(str(r.occurred_on) and _weekday(r.occurred_on) == 0 for r in rows)
    # square centres: 100 m, or a smaller square where the centre would leave the district
    assert all((r.easting - 0.5) % 1 == 0 or (r.easting - 50) % 100 == 0 for r in rows)
    assert sum((r.easting - 50) % 100 == 0 for r in rows) >= 0.9 * len(rows)


def _weekday(value) -> int:
    from datetime import date

    return (value if isinstance(value, date) else date.fromisoformat(str(value))).weekday()


@pytest.mark.parametrize("precision, first", [("month", 1), ("day", None)])
def test_the_date_precision_setting_is_used(db, admin, key, tmp_path, precision, first):
    from services.imports.pipeline import ImportSettings

    extract = police_extract(rows=10)
    path = write_extract(extract, tmp_path / "police.csv")
    run(db, path, admin, settings=ImportSettings(date_precision=precision))
    with db.connect() as connection:
        days = connection.execute(text("SELECT occurred_on, date_precision FROM incidents")).all()
    assert {d.date_precision for d in days} == {precision}
    if first is not None:
        assert all(str(d.occurred_on).endswith("-01") for d in days)
