"""Imports give every incident and referral a random record key (``services.disclosure``)."""

from __future__ import annotations

from sqlalchemy import text

from tests.imports.conftest import run, write


def test_imported_rows_get_random_keys(db, admin, key, tmp_path):
    rows = "".join(f"K{i},2021-08-{1 + i % 28:02d},cce,-2.117,52.806\n" for i in range(60))
    run(
        db,
        write(
            tmp_path / "k.csv",
            "incident_ref,incident_date,exploitation_type,longitude,latitude\n" + rows,
        ),
        admin,
    )
    with db.connect() as connection:
        keys = connection.scalars(text("SELECT record_key FROM incidents")).all()
    assert len(keys) == 60
    assert all(0 <= k <= 255 for k in keys)
    assert len(set(keys)) > 20  # drawn, not a constant
