"""The Streamlit options the app is served with (``.streamlit/config.toml``).

``safer-spaces serve``, the browser tests and the benchmarks run Streamlit from the
project's folder, so this file is what every app process reads. Two options are about
the server's CPU under many sessions (``benchmarks/bench_sessions.py``, docs/load.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit import config

from cli.main import ROOT

CONFIG = ROOT / ".streamlit" / "config.toml"


def _options(path: Path) -> dict[str, dict[str, object]]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def test_no_full_garbage_collection_after_every_run_and_no_file_polling() -> None:
    options = _options(CONFIG)
    # gc.collect(2) after every script run was about 40 % of a busy process's CPU (py-spy)
    assert options["runner"]["postScriptGC"] is False
    assert options["server"]["fileWatcherType"] == "none"
    assert options["server"]["runOnSave"] is False


@pytest.mark.parametrize(
    ("section", "name"), [("runner", "postScriptGC"), ("server", "fileWatcherType")]
)
def test_the_options_checked_are_streamlit_options(section: str, name: str) -> None:
    """Control: a misspelt option would be ignored by Streamlit and pass the test above."""
    assert f"{section}.{name}" in config._config_options_template
    assert f"{section}.noSuchOption" not in config._config_options_template
