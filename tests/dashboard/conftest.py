"""A demo database shared by the page tests (built once per test session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st

from data.bootstrap import open_database


@contextmanager
def app_environment(**variables: str) -> Iterator[None]:
    """Set the app's environment variables and clear Streamlit's caches, then restore both."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        st.cache_resource.clear()
        st.cache_data.clear()


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    url = f"sqlite:///{home / 'demo.db'}"
    open_database(url).dispose()
    with app_environment(SAFER_SPACES_HOME=str(home), SAFER_SPACES_DATABASE_URL=url):
        yield url


APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
