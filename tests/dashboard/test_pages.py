"""Every page renders on the demo through Streamlit's AppTest, without an exception."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP
from tests.dashboard.test_roles import demo_viewer

PAGES = {
    "pages/map.py": "Map",
    "pages/places.py": "Places",
    "pages/assessments.py": "Place assessments",
    "pages/meeting.py": "Steering group summary",
    "pages/data.py": "Data",
}


def _run(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["viewer"] = demo_viewer("lead")
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page != "pages/map.py":
        at.switch_page(str(Path(APP).parent / page))
        at.run()
    return at


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_on_the_demo(demo_database, page):
    at = _run(page)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == [PAGES[page]]


def test_the_demo_banner_and_the_filters_are_shown(demo_database):
    # AppTest keeps the router's own elements only on the default page; the browser tests
    # check them on the others.
    at = _run("pages/map.py")
    assert any("synthetic" in w.value for w in at.warning), "the demo banner is missing"
    assert at.sidebar.selectbox(key="f_period").value == "quarter"


def test_a_link_with_filters_sets_the_sidebar(demo_database):
    at = _run("pages/map.py", {"period": "month", "types": "cce"})
    assert at.selectbox(key="f_period").value == "month"
    assert at.multiselect(key="f_types").value == ["cce"]


def test_a_tampered_link_falls_back_with_a_notice(demo_database):
    at = _run("pages/map.py", {"period": "fortnight", "districts": "E99999999"})
    assert not at.exception
    assert at.selectbox(key="f_period").value == "quarter"
    notices = " ".join(t.value for t in at.toast)
    assert "fortnight" in notices and "E99999999" in notices


def test_filters_change_the_figures(demo_database):
    at = _run("pages/map.py", {"period": "all"})
    everything = at.metric[0].value
    at = _run("pages/map.py", {"period": "all", "types": "missing"})
    assert int(at.metric[0].value.replace(",", "")) < int(everything.replace(",", ""))
