"""The demo's published key pseudonymises only the demo's own files (issue 15).

A keyless linkable import is refused unless the database is the demo *and* every
reference in the file is one of the demo's own; the demo key never touches other data.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, select

from services.imports import ImportFileError
from store.models import Incident, Setting
from tests.imports.conftest import count, run, snapshot, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
STAFFORD = "-2.117,52.806"
SEED = 20261122


def _mark_as_demo(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Setting).values(
                key="demo", value={"seed": SEED}, created_by="test", updated_by="test"
            )
        )


def test_a_real_extract_is_refused_in_the_demo_database_without_a_key(db, admin, no_key, tmp_path):
    _mark_as_demo(db)
    text = (
        HEADER
        + f"demo-{SEED}-incident-000001,2021-08-01,cce,{STAFFORD}\n"
        + f"CHILD-4471,2021-08-02,cse,{STAFFORD}\n"
    )
    before = snapshot(db)
    with pytest.raises(ImportFileError) as refused:
        run(db, write(tmp_path / "police.csv", text), admin)
    message = str(refused.value)
    assert "not the demo's own" in message and "row 3" in message
    assert "SAFER_SPACES_PSEUDONYM_KEY" in message and "Nothing was imported" in message
    assert snapshot(db) == before


def test_the_demo_key_applies_to_the_demos_own_references(db, admin, no_key, tmp_path):
    _mark_as_demo(db)
    refs = [f"demo-{SEED}-incident-00000{i}" for i in (1, 2)]
    text = HEADER + "".join(f"{r},2021-08-0{i + 1},cce,{STAFFORD}\n" for i, r in enumerate(refs))
    report = run(db, write(tmp_path / "demo.csv", text), admin)
    assert report.accepted == 2
    assert any("demo's published key" in note for note in report.notes)
    with db.connect() as connection:
        stored = set(connection.scalars(select(Incident.source_ref)))
    assert len(stored) == 2 and not stored & set(refs)


def test_another_seeds_references_are_not_the_demos_own(db, admin, no_key, tmp_path):
    _mark_as_demo(db)
    text = HEADER + f"demo-1-incident-000001,2021-08-01,cce,{STAFFORD}\n"
    with pytest.raises(ImportFileError, match="not the demo's own"):
        run(db, write(tmp_path / "other.csv", text), admin)
    assert count(db, "incidents") == 0


def test_a_deployment_key_takes_any_file_in_the_demo_database(db, admin, key, tmp_path):
    _mark_as_demo(db)
    text = HEADER + f"CHILD-4471,2021-08-02,cse,{STAFFORD}\n"
    assert run(db, write(tmp_path / "police.csv", text), admin).accepted == 1


def test_control_without_the_check_the_demo_key_would_take_a_real_extract(
    db, admin, no_key, tmp_path, monkeypatch
):
    """What the refusal prevents: switched off, a real id is pseudonymised with the public key."""
    import services.imports.batch as batch

    monkeypatch.setattr(batch, "demo_references_only", lambda *args, **kwargs: None)
    _mark_as_demo(db)
    text = HEADER + f"CHILD-4471,2021-08-02,cse,{STAFFORD}\n"
    report = run(db, write(tmp_path / "police.csv", text), admin)
    # a real id pseudonymised with a key anyone can read: a guessed id can be tested
    assert report.accepted == 1
    assert any("demo's published key" in note for note in report.notes)
