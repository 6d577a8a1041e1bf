"""No input makes the importer crash or store part of a batch (hypothesis-generated rows)."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from services.imports import ImportFileError
from tests.imports.conftest import run, snapshot

HEADER = ["incident_ref", "date", "type", "longitude", "latitude", "postcode", "age", "dob"]

cells = st.one_of(
    st.sampled_from(
        [
            "",
            "cce",
            "cse",
            "2021-08-01",
            "31/02/2021",
            "14 Aug 2021",
            "ST16 2LJ",
            "ZZ9 9ZZ",
            "-2.117",
            "52.806",
            "392210",
            "nan",
            "inf",
            "-0",
            "1e308",
            '"',
            "\n",
            ",",
            ";",
            "NULL",
            "17",
            "-5",
            "01/01/2008",
            "\x00",
            "é",
            "😀",
            "  ",
            "=cmd|' /C calc'!A0",
        ]
    ),
    st.text(alphabet=string.printable + "éß£–", max_size=12),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=10), min_size=1, max_size=12)


def _csv(table: list[list[str]]) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n') else cell

    return "\n".join(",".join(quote(c) for c in row) for row in [HEADER, *table]) + "\n"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(table=rows, raw=st.booleans())
def test_malformed_rows_never_crash_or_store_part_of_a_batch(db, admin, key, tmp_path, table, raw):
    path = tmp_path / "fuzz.csv"
    body = _csv(table).encode("utf-8", errors="surrogatepass")
    if raw:  # unquoted: stray delimiters and quotes reach the parser as they are
        body = ("\n".join(",".join(r) for r in [HEADER, *table]) + "\n").encode(
            "utf-8", errors="surrogatepass"
        )
    path.write_bytes(body)
    before = snapshot(db)
    try:
        report = run(db, path, admin)
    except ImportFileError as error:
        assert str(error), "a refusal must say why"
        assert snapshot(db) == before
        return
    with db.connect() as connection:
        stored = connection.scalar(text("SELECT count(*) FROM incidents"))
        batches = connection.scalar(text("SELECT count(*) FROM import_batches"))
    if report.stored:
        assert stored == report.accepted and batches == 1
        assert (
            report.accepted
            + report.rejected
            + report.outside_area
            + report.duplicate
            + (report.ignored)
            == report.rows_total
        )
        from services.imports import rollback_batch

        rollback_batch(db, report.batch_id, admin)
    else:
        assert report.accepted == 0
    assert snapshot(db)["incidents"] == before["incidents"]
    assert snapshot(db)["import_batches"] == before["import_batches"]
