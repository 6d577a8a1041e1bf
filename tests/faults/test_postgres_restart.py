"""PostgreSQL restarted while the app runs: the page says so, then carries on by itself.

The app (``streamlit run``) serves a small demo from a PostgreSQL cluster of the test's
own; a lead signs in in Chromium; the cluster is stopped; the next page shows "The
database is unavailable; retrying…"; the cluster is started again; the same browser
session gets its page back, still signed in, with no restart of the app.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from dashboard.resilience import MESSAGE
from data.load import load_demo
from store.db import connect, upgrade
from tests.e2e.conftest import (
    APP_SCRIPT,
    REPO_ROOT,
    AppServer,
    free_port,
    sign_in,
    stop,
    wait_until_healthy,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]
TIMEOUT_MS = 60_000


def test_the_app_says_the_database_is_away_and_recovers_without_a_restart(
    private_postgres, browser, outlines_cache, tmp_path
):
    from playwright.sync_api import expect

    engine = connect(private_postgres.url)
    upgrade(engine)
    load_demo(
        engine,
        end=date(2026, 10, 31),
        n_incidents=3_000,
        n_referrals=300,
        cache_dir=outlines_cache,
    )
    engine.dispose()

    port = free_port()
    server = AppServer(url=f"http://127.0.0.1:{port}", log_path=tmp_path / "streamlit.log")
    env = {
        **os.environ,
        "SAFER_SPACES_DATABASE_URL": private_postgres.url,
        "SAFER_SPACES_HOME": str(tmp_path),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", APP_SCRIPT, "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        wait_until_healthy(server.url, process, server, 60)
        sign_in(page, server.url, "lead")
        nav = page.get_by_test_id("stSidebarNav")
        notice = page.get_by_text(MESSAGE)  # one notice, in one place, never a second copy

        private_postgres.stop("fast")
        nav.get_by_role("link", name="Assessments").click()
        expect(notice).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text("Safer Spaces cannot reach its database")).to_be_visible()

        private_postgres.start()
        expect(page.get_by_role("heading", name="Place assessments")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        expect(notice).to_have_count(0)
        signed_in = page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
        expect(signed_in).to_be_visible()  # the same session: nobody signed in again
        nav.get_by_role("link", name="Places").click()  # and the next page works as before
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=TIMEOUT_MS)
        assert process.poll() is None  # the app was never restarted
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"))
        print(server.log_tail())
        raise
    finally:
        context.close()
        stop(process)
