"""The app explains a database it cannot open, and changes nothing."""

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP


def test_an_unreadable_database_is_explained_on_screen(tmp_path: Path, monkeypatch):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    monkeypatch.setenv("SAFER_SPACES_DATABASE_URL", f"sqlite:///{broken}")
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    assert not at.exception
    assert any("cannot be opened" in e.value for e in at.error)
    assert broken.read_bytes() == b"not a database" * 100
