"""The Data page's Imports tab through AppTest: upload, map, import, report, roll back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from data.demo import DEFAULT_AREA
from services.access import Viewer
from services.boundaries import save_boundaries
from services.safe_text import plain_text
from store.db import connect, upgrade
from tests.dashboard.conftest import APP, app_environment
from tests.imports.conftest import KEY

DATA_PAGE = str(Path(APP).parent / "pages" / "data.py")
CSV = (
    "Ref,When,Concern,Postcode,Child name,DOB\n"
    "A1,01/08/2021,CCE,ST16 2LJ,Amy Pond,01/02/2007\n"
    "A2,02/08/2021,Exploitation (criminal),WS11 1DB,Rory Williams,03/04/2008\n"
    "A3,31/02/2021,CSE,ST5 1DT,Clara Oswald,05/06/2006\n"
    "A4,03/08/2021,CSE,EH1 1YZ,Donna Noble,07/08/2005\n"
)


@pytest.fixture
def empty_area(tmp_path, area) -> Iterator[str]:
    """A real (not demo) database with only the default area, used by the app."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = connect(url)
    upgrade(engine)
    save_boundaries(engine, area, kind="district", actor="test")
    engine.dispose()
    with app_environment(
        SAFER_SPACES_HOME=str(tmp_path),
        SAFER_SPACES_DATABASE_URL=url,
        SAFER_SPACES_PSEUDONYM_KEY=KEY,
    ):
        yield url


def _data_page(role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["viewer"] = Viewer(role, role, DEFAULT_AREA, "Council", role.title())
    at.run()
    at.switch_page(DATA_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _count(url: str, table: str) -> int:
    engine = connect(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text(f"SELECT count(*) FROM {table}"))
    finally:
        engine.dispose()


def test_an_admin_uploads_maps_imports_and_rolls_back(empty_area):
    at = _data_page("admin")
    at.file_uploader(key="import_file_0").set_value(("august.csv", CSV.encode(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    columns = at.dataframe  # the data editors are shown as frames in AppTest
    assert columns, "the mapping step is not shown"
    assert any("Still needed" in w.value for w in at.warning), "'When' is not a known header"

    at.text_input(key="import_source_0").input("MASH export").run()
    # the data editors keep their edits in session state, as a browser would send them
    editor_key = "import_columns_incidents_MASH export"
    at.session_state[editor_key] = {
        "edited_rows": {1: {"maps to": "date"}, 2: {"maps to": "category"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not any("Still needed" in w.value for w in at.warning)
    at.session_state["import_categories_incidents_MASH export"] = {
        "edited_rows": {0: {"maps to": "cce"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="import_go_0").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    success = plain_text(" ".join(s.value for s in at.success))
    assert "Imported 2 of 4 rows from august.csv" in success
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accepted"] == "2" and metrics["Rejected"] == "1"
    assert metrics["Outside the area"] == "1"
    assert at.get("download_button"), "the report cannot be downloaded"
    assert _count(empty_area, "incidents") == 2
    with connect(empty_area).connect() as connection:
        saved = connection.scalar(
            text("SELECT value FROM settings WHERE key = 'mapping:incidents:MASH export'")
        )
    assert "When" in str(saved), "the mapping was not remembered for the source"

    at.selectbox(key="import_rollback_id").set_value(
        at.selectbox(key="import_rollback_id").options[0]
    )
    at.button(key="import_rollback").click().run()
    assert not at.exception, at.exception
    assert "Rolled back batch" in " ".join(s.value for s in at.success)
    assert _count(empty_area, "incidents") == 0


def test_a_lead_sees_the_imports_but_cannot_import(empty_area):
    at = _data_page("lead")
    assert not any(u.key == "import_file_0" for u in at.get("file_uploader"))
    assert any("Only a data officer" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "import_rollback"]


@pytest.mark.realdata
def test_the_police_uk_sample_through_the_page(empty_area, shared_data):
    sample = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    at = _data_page("admin")
    at.file_uploader(key="import_file_0").set_value((sample.name, sample.read_bytes(), "text/csv"))
    at.run()
    assert "police.uk street-level crime CSV" in plain_text(" ".join(c.value for c in at.caption))
    shown = plain_text(" ".join(m.value for m in at.markdown))
    assert "What each crime type becomes" in shown and "all ages (police.uk)" in shown
    assert not at.button(key="import_go_0").disabled, "context only needs no confirm"
    at.button(key="import_go_0").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    assert _count(empty_area, "incidents") == 0, "police.uk crime is not exploitation"
    assert _count(empty_area, "context_events") > 0
    done = " ".join(s.value for s in at.success)
    assert "as batch 1" in done and "Stored as context" in done
    assert "reports" in " ".join(c.value for c in at.caption), "the report's path is shown"
