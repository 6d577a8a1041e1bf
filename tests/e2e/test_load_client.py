"""The protocol-level load client (``benchmarks/bench_sessions.py``) still speaks to the app.

Not timed: it signs in over Streamlit's WebSocket, opens the Map and a place panel, as
the load benchmark does, so a change to the app or to Streamlit cannot leave the
benchmark measuring error pages. The control: a wrong password is seen as a failed step.
"""

from __future__ import annotations

import asyncio
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_sessions as bs


async def _steps(url: str, username: str, password: str = bs.PASSWORD) -> list[str]:
    session = bs.AppSession(url, timeout=120)
    state = {"rng": random.Random(0), "username": username, "password": password}
    done = []
    try:
        await bs.sign_in(session, state)
        done.append("sign in")
        await bs.open_map(session, state)
        done.append("open map")
        name, follow_up = state.pop("follow-up")
        await follow_up(session, state)
        done.append(name)
        await bs.place_panel(session, state)
        done.append("place panel")
    finally:
        await session.close()
    return done


def _run(coroutine):  # type: ignore[no-untyped-def]
    """Run the client in its own thread: Playwright's sync API keeps an event loop running
    in the test's thread once any browser test of the session has used it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_the_load_client_signs_in_and_opens_a_place_panel(app_server):
    done = _run(_steps(app_server.url, "lead"))
    assert done == ["sign in", "open map", "map view", "place panel"]


def test_control_a_failed_sign_in_is_an_error_not_a_step(app_server):
    with pytest.raises(bs.StepError, match="Sign out"):
        _run(_steps(app_server.url, "viewer", password="not-the-password"))
