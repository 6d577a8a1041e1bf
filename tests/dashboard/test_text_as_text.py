"""Every page shows imported and typed text as text, for every role (issue 15).

The demo with hostile names (places, a district, the signed-in person's name and
organisation) goes through every page and meeting slide in AppTest; every element that
Streamlit renders as markdown (text, captions, alerts, headings, metric labels, button
and expander labels, table cells) is read back, and none may hold markdown, HTML or a
bare address that a browser would act on. The control switches the escaping off and
shows the same search finds them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

import dashboard.auth
import services.safe_text
from services.access import Viewer
from store.db import connect
from tests.dashboard.conftest import APP, app_environment

HOSTILE = (
    '![x](http://127.0.0.1:8699/x.png) <img src="http://127.0.0.1:8699/y.png"> '
    '=HYPERLINK("http://127.0.0.1:8699/z","go") :red[red] **bold** www.example.org'
)
# What a browser would act on, unescaped: an image or link, an HTML tag, a bare address,
# a Streamlit directive, emphasis.
ACTIVE = re.compile(r"!\[x\]\(|(?<!\\)<img|http://|:red\[|(?<!\\)\*\*bold|www\.example")
CANNOCK, STAFFORD = "E07000192", "E07000197"


@pytest.fixture
def hostile_demo(demo_database: str, tmp_path: Path) -> Iterator[str]:
    """A copy of the demo whose place names and one district name are hostile text."""
    source = Path(demo_database.removeprefix("sqlite:///"))
    copy = tmp_path / "hostile.db"
    shutil.copy(source, copy)
    url = f"sqlite:///{copy}"
    engine = connect(url, create=False)
    with engine.begin() as connection:
        connection.execute(text("UPDATE places SET name = :n || ' ' || id"), {"n": HOSTILE})
        connection.execute(
            text("UPDATE districts SET name = :n WHERE code = :c"), {"n": HOSTILE, "c": STAFFORD}
        )
        connection.execute(
            text("UPDATE assessments SET assessing_org = :n, goals = :n, partners = :n"),
            {"n": HOSTILE},
        )
    engine.dispose()
    with app_environment(SAFER_SPACES_HOME=str(tmp_path), SAFER_SPACES_DATABASE_URL=url):
        yield url


def _officer() -> Viewer:
    return Viewer("officer", "officer", (CANNOCK, STAFFORD), HOSTILE, HOSTILE)


def _shown(at: AppTest) -> list[str]:
    """Every markdown string the run drew, with where it was."""
    out: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader",
                 "header", "title", "toast"):  # fmt: skip
        out += [f"{kind}: {e.value}" for e in getattr(at, kind)]
    out += [f"metric label: {m.label}" for m in at.metric]
    out += [f"button: {b.label}" for b in at.button]
    out += [f"expander: {e.label}" for e in at.expander]
    out += [f"radio: {o}" for r in at.radio for o in r.options]
    for table in at.table:
        frame = table.value
        if isinstance(frame, pd.DataFrame):
            cells = [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy().ravel()]
            out += [f"table: {c}" for c in cells]
    return out


def _run(viewer: Viewer, page: str | None, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["viewer"] = viewer
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page is not None:
        at.switch_page(str(Path(APP).parent / page))
        at.run()
    assert not at.exception, at.exception
    return at


def _active(viewer: Viewer) -> tuple[list[str], int]:
    """Run every page and slide; return the active strings found and how many were read."""
    runs = [
        _run(viewer, None),
        _run(viewer, "pages/places.py"),
        _run(viewer, "pages/assessments.py"),
        *(_run(viewer, "pages/meeting.py", meeting_slide=n) for n in (0, 1, 2, 4)),
    ]
    shown = [s for at in runs for s in _shown(at)]
    return [s for s in shown if ACTIVE.search(s)], len(shown)


@pytest.mark.slow  # every page and meeting slide, as an officer
def test_hostile_text_is_shown_as_text_on_every_page(hostile_demo):
    found, read = _active(_officer())
    assert read > 50
    assert found == []


@pytest.mark.slow  # every page and meeting slide, as an officer
def test_control_without_escaping_the_same_search_finds_it(hostile_demo, monkeypatch):
    """The check can fail: with md_text and md_frame doing nothing, hostile text is drawn."""
    monkeypatch.setattr(services.safe_text, "md_text", lambda v: "" if v is None else str(v))
    monkeypatch.setattr(services.safe_text, "md_frame", lambda frame: frame)
    monkeypatch.setattr(dashboard.auth, "md_text", lambda v: "" if v is None else str(v))
    found, _ = _active(_officer())
    places = [s for s in found if s.startswith("table: ")]
    sidebar = [s for s in found if s.startswith(("markdown: **![x]", "caption: ![x]"))]
    assert places and sidebar, found
