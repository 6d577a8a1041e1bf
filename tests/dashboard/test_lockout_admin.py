"""A lock-out is told to the administrator on Data > Users, not to whoever typed (issue 15)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.users import SignInError, SignInPolicy, authenticate
from store.db import connect
from tests.dashboard.conftest import APP, app_environment
from tests.dashboard.test_roles import demo_viewer

DATA_PAGE = str(Path(APP).parent / "pages" / "data.py")


@pytest.fixture
def demo_copy(demo_database: str, tmp_path: Path) -> Iterator[str]:
    copy = tmp_path / "demo.db"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), copy)
    url = f"sqlite:///{copy}"
    with app_environment(SAFER_SPACES_HOME=str(tmp_path), SAFER_SPACES_DATABASE_URL=url):
        yield url


def _users_tab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["viewer"] = demo_viewer("admin")
    at.run()
    at.switch_page(DATA_PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _locked(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Locked after" in w.value]


def test_the_administrator_sees_who_is_locked_out(demo_copy):
    at = _users_tab()
    assert not _locked(at)  # control: none yet
    engine = connect(demo_copy, create=False)
    messages = set()
    for attempt in range(3):
        with pytest.raises(SignInError) as refused:
            authenticate(
                engine, "viewer", f"wrong {attempt}", policy=SignInPolicy(3, 15, 0, 30)
            )
        messages.add(str(refused.value))
    engine.dispose()
    assert len(messages) == 1 and "locked" not in messages.pop().split(",")[0]
    at.run()  # the administrator's next look at the page (no new session, no new sign-in)
    assert not at.exception, at.exception
    locked = _locked(at)
    assert len(locked) == 1 and "viewer" in locked[0]
