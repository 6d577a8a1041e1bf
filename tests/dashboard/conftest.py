"""A demo database shared by the page tests (built once per test session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from store.bootstrap import open_database


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    url = f"sqlite:///{home / 'demo.db'}"
    saved = {k: os.environ.get(k) for k in ("SAFER_SPACES_HOME", "SAFER_SPACES_DATABASE_URL")}
    os.environ["SAFER_SPACES_HOME"] = str(home)
    os.environ["SAFER_SPACES_DATABASE_URL"] = url
    open_database(url).dispose()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield url
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    st.cache_resource.clear()
    st.cache_data.clear()


APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
