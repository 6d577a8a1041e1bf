"""Each kind of bad input named in the issue: a clear message, rows listed, the rest stored once.

Storage tests run on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import codecs
import zipfile

import pytest

from services.imports import ColumnMapping, ImportFileError
from tests.imports.conftest import count, run, snapshot, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
STAFFORD = "-2.117,52.806"
CANNOCK = "-2.03,52.69"


def _issues(report, status="rejected"):
    return report.issues.loc[report.issues["status"] == status]


def _refused(db, path, admin, match, **kwargs):
    before = snapshot(db)
    with pytest.raises(ImportFileError, match=match):
        run(db, path, admin, **kwargs)
    assert snapshot(db) == before, "a refused import changed the database"


def test_wrong_encoding_windows_1252_is_read(db, admin, key, tmp_path):
    text = (
        "Ref;Date;Type;Postcode;Notes\n"
        "A1;01/08/2021;Exploitation – criminal;ST16 2LJ;Café owner said £20\n"
        "A2;02/08/2021;Exploitation – sexual;WS11 1DB;naïve\n"
    )
    path = write(tmp_path / "cp1252.csv", text, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    mapping = ColumnMapping(
        categories={"Exploitation – criminal": "cce", "Exploitation – sexual": "cse"}
    )
    report = run(db, path, admin, mapping=mapping)
    assert report.encoding == "cp1252" and report.delimiter == ";"
    assert report.accepted == 2 and report.rejected == 0, report.issues
    assert count(db, "incidents") == 2


def test_utf16_with_byte_order_mark_is_read(db, admin, key, tmp_path):
    text = HEADER + f"U1,2021-08-01,cce,{STAFFORD}\n"
    path = write(tmp_path / "utf16.csv", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    report = run(db, path, admin)
    assert report.encoding == "utf-16" and report.accepted == 1


def test_a_stray_title_row_above_the_header_is_skipped(db, admin, key, tmp_path):
    text = "Exploitation incidents exported 01/09/2021 by the MASH\n\n" + HEADER
    text += f"S1,2021-08-01,cce,{STAFFORD}\nS2,2021-08-02,cse,{CANNOCK}\n"
    report = run(db, write(tmp_path / "title.csv", text), admin)
    assert report.accepted == 2 and report.rejected == 0
    assert report.columns_used["incident_date"] == "date"


def test_a_repeated_header_inside_the_data_is_rejected(db, admin, key, tmp_path):
    text = HEADER + f"R1,2021-08-01,cce,{STAFFORD}\n" + HEADER + f"R2,2021-08-02,cse,{CANNOCK}\n"
    report = run(db, write(tmp_path / "joined.csv", text), admin)
    assert report.accepted == 2
    assert _issues(report)["reason"].tolist() == ["a repeated header line"]
    assert _issues(report)["row"].tolist() == [3]


def test_quoted_newlines_stay_in_their_cell(db, admin, key, tmp_path):
    text = (
        "incident_ref,incident_date,exploitation_type,notes,longitude,latitude\n"
        f'Q1,2021-08-01,cce,"seen at the station\nwith two older males",{STAFFORD}\n'
        f'Q2,2021-08-02,cse,"line one\nline two\nline three",{CANNOCK}\n'
    )
    report = run(db, write(tmp_path / "quoted.csv", text), admin)
    assert report.rows_total == 2 and report.accepted == 2
    assert any(i["column"] == "notes" for i in report.identifiers_dropped)


def test_an_empty_file_is_refused(db, admin, tmp_path):
    _refused(db, write(tmp_path / "empty.csv", b""), admin, "is empty")


def test_a_header_without_rows_is_refused(db, admin, key, tmp_path):
    _refused(db, write(tmp_path / "header.csv", HEADER), admin, "no rows")


def test_binary_garbage_named_csv_is_refused(db, admin, tmp_path):
    garbage = bytes(range(256)) * 64
    _refused(db, write(tmp_path / "garbage.csv", garbage), admin, "binary data")


def test_a_zero_byte_xlsx_is_refused(db, admin, tmp_path):
    _refused(db, write(tmp_path / "empty.xlsx", b""), admin, "is empty")


def test_a_zip_that_is_not_a_workbook_is_refused(db, admin, tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _refused(db, path, admin, "not an Excel workbook")


def test_latitude_and_longitude_swapped_are_put_right(db, admin, key, tmp_path):
    text = HEADER + "W1,2021-08-01,cce,52.806,-2.117\nW2,2021-08-02,cce,-2.117,52.806\n"
    report = run(db, write(tmp_path / "swapped.csv", text), admin)
    assert report.accepted == 2
    assert report.notes["rows with latitude and longitude the wrong way round (swapped)"] == 1
    with db.connect() as connection:
        from sqlalchemy import text as sql

        points = connection.execute(sql("SELECT easting, northing FROM incidents")).all()
    assert points[0] == points[1], "the swapped row was not located at the same place"


def test_coordinates_in_the_sea_or_in_scotland_are_outside_the_area(db, admin, key, tmp_path):
    text = HEADER + (
        f"O1,2021-08-01,cce,{STAFFORD}\n"
        "O2,2021-08-01,cce,-3.19,55.95\n"  # Edinburgh
        "O3,2021-08-01,cce,-5.0,54.0\n"  # the Irish Sea
        "O4,2021-08-01,cce,0,0\n"  # not in the UK at all
    )
    report = run(db, write(tmp_path / "far.csv", text), admin)
    assert report.accepted == 1 and report.outside_area == 2 and report.rejected == 1
    assert _issues(report, "outside the area")["row"].tolist() == [3, 4]
    assert "not in the United Kingdom" in _issues(report)["reason"].iloc[0]
    assert count(db, "incidents") == 1


def test_easting_and_northing_in_longitude_and_latitude_columns(db, admin, key, tmp_path):
    text = HEADER + "E1,2021-08-01,cce,392210,323167\n"
    report = run(db, write(tmp_path / "bng.csv", text), admin)
    assert report.accepted == 1
    assert report.notes["rows with eastings and northings in the longitude and latitude columns"]


def test_dates_in_three_formats_and_impossible_dates(db, admin, key, tmp_path):
    text = HEADER + (
        f"D1,2021-08-14,cce,{STAFFORD}\n"
        f"D2,14/08/2021,cce,{STAFFORD}\n"
        f"D3,14 August 2021,cce,{STAFFORD}\n"
        f"D4,31/02/2021,cce,{STAFFORD}\n"
        f"D5,2021-13-01,cce,{STAFFORD}\n"
        f"D6,next Tuesday,cce,{STAFFORD}\n"
        f"D7,2099-01-01,cce,{STAFFORD}\n"
    )
    report = run(db, write(tmp_path / "dates.csv", text), admin)
    assert report.accepted == 3
    reasons = dict(zip(_issues(report)["row"], _issues(report)["reason"], strict=True))
    assert "not a real date" in reasons[5] and "not a real date" in reasons[6]
    assert reasons[7] == "is not a date" and reasons[8] == "is in the future"
    with db.connect() as connection:
        from sqlalchemy import text as sql

        days = set(connection.scalars(sql("SELECT occurred_on FROM incidents")))
    assert {str(d) for d in days} == {"2021-08-09"}, "three formats, one week (Monday 9 August)"


def test_duplicate_rows_are_stored_once_and_a_reimport_adds_nothing(db, admin, key, tmp_path):
    rows = f"K1,2021-08-01,cce,{STAFFORD}\nK2,2021-08-02,cse,{CANNOCK}\n"
    first = run(db, write(tmp_path / "a.csv", HEADER + rows + rows), admin)
    assert first.accepted == 2 and first.duplicate == 2
    again = run(db, tmp_path / "a.csv", admin)
    assert not again.stored and "already imported" in again.summary()
    overlap = run(
        db, write(tmp_path / "b.csv", HEADER + rows + f"K3,2021-08-03,cce,{CANNOCK}\n"), admin
    )
    assert overlap.accepted == 1 and overlap.duplicate == 2
    assert count(db, "incidents") == 3 and count(db, "import_batches") == 2


def test_duplicates_without_references_use_a_fingerprint(db, admin, no_key, tmp_path):
    text = "date,type,postcode\n2021-08-01,cce,ST16 2LJ\n2021-08-01,cce,ST16 2LJ\n"
    first = run(db, write(tmp_path / "noref.csv", text), admin)
    assert first.accepted == 2, "two identical rows without a reference are two incidents"
    bigger = text + "2021-08-01,cce,ST16 2LJ\n"
    second = run(db, write(tmp_path / "noref2.csv", bigger), admin)
    assert second.accepted == 1 and second.duplicate == 2
    assert count(db, "incidents") == 3


def test_unknown_categories_are_rejected_with_the_value(db, admin, key, tmp_path):
    text = HEADER + f"C1,2021-08-01,cce,{STAFFORD}\nC2,2021-08-01,Burglary,{STAFFORD}\n"
    report = run(db, write(tmp_path / "cats.csv", text), admin)
    assert report.accepted == 1 and report.rejected == 1
    issue = _issues(report).iloc[0]
    assert issue["column"] == "exploitation_type" and issue["value"] == "Burglary"
    assert "not known" in issue["reason"] and "cce" in issue["reason"]
    assert "Burglary" not in str(report.to_json()), "values must not reach the stored report"


def test_a_postcode_that_does_not_exist_is_reported(db, admin, key, tmp_path):
    text = (
        "ref,date,type,postcode\n"
        "P1,2021-08-01,cce,ST16 2LJ\nP2,2021-08-01,cce,ZZ9 9ZZ\nP3,2021-08-01,cce,HELLO\n"
        "P4,2021-08-01,cce,\n"
    )
    report = run(db, write(tmp_path / "postcodes.csv", text), admin)
    assert report.accepted == 1
    reasons = _issues(report).set_index("row")["reason"]
    assert "not in the ONS Postcode Directory" in reasons[3]
    assert "not a UK postcode" in reasons[4]
    assert "cannot be located" in reasons[5]


@pytest.mark.slow  # writes a 500 MB file
def test_a_500_mb_file_is_refused_by_the_page_with_a_clear_message(db, admin, tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(HEADER.encode())
        handle.truncate(500 * 2**20)  # sparse: 500 MB on paper, no disk used
    _refused(db, path, admin, r"500 MB.*command line", max_bytes=200 * 2**20)


def test_a_row_with_too_many_values_is_listed(db, admin, key, tmp_path):
    text = HEADER + f"T1,2021-08-01,cce,{STAFFORD}\nT2,2021-08-01,cce,{STAFFORD},extra\n"
    report = run(db, write(tmp_path / "wide.csv", text), admin)
    assert report.accepted == 1 and report.rejected == 1
    assert "6 values where the header has 5" in _issues(report)["reason"].iloc[0]


def test_an_unclosed_quote_refuses_the_whole_file(db, admin, key, tmp_path):
    text = HEADER + f"U1,2021-08-01,cce,{STAFFORD}\n" + 'U2,"2021-08-01,cce,-2.1,52.8\n' * 3
    _refused(db, write(tmp_path / "quote.csv", text), admin, "could not be read as a table")


def test_linkable_data_without_a_key_is_refused(db, admin, no_key, tmp_path):
    text = HEADER + f"L1,2021-08-01,cce,{STAFFORD}\n"
    _refused(db, write(tmp_path / "linkable.csv", text), admin, "no pseudonym key is set")


def test_a_file_with_no_usable_columns_says_which_are_needed(db, admin, key, tmp_path):
    text = "colour,size\nred,big\n"
    _refused(db, write(tmp_path / "what.csv", text), admin, r"no column for date")


def test_only_an_admin_may_import(db, key, tmp_path):
    from services.access import AccessDenied, Viewer

    lead = Viewer("lead", "lead", ("E07000197",))
    path = write(tmp_path / "x.csv", HEADER + f"X1,2021-08-01,cce,{STAFFORD}\n")
    with pytest.raises(AccessDenied, match="may not import data"):
        run(db, path, lead)
    assert count(db, "incidents") == 0


def test_no_districts_means_nothing_can_be_placed(engine, admin, key, tmp_path):
    path = write(tmp_path / "x.csv", HEADER + f"X1,2021-08-01,cce,{STAFFORD}\n")
    with pytest.raises(ImportFileError, match="No districts are set up"):
        run(engine, path, admin)
