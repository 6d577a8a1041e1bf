"""An intruder's text, sessions and downloads in a real browser (issue 15).

A demo database whose places, one district and the officer's own name and organisation
are hostile text (a markdown image, an HTML image and a spreadsheet formula, all
pointing at a listener on 127.0.0.1): every page must show them as text and the browser
must never ask the listener for anything. A control app that renders the same text as
markdown shows that the listener and the request log would catch it. Then: signing out
in one window ends the person's other window, and an idle session's screen clears by
itself, both without any click in the window that ends.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text, update

from services.users import ensure_demo_users
from store.db import connect
from store.models import AuditEvent, User
from tests.e2e.conftest import (
    APP_SCRIPT,
    REPO_ROOT,
    STARTUP_TIMEOUT_S,
    AppServer,
    free_port,
    settled,
    sign_in,
    sign_out,
    stop,
    wait_until_healthy,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TIMEOUT_MS = 120_000
IDLE_MINUTES = 1.0
STAFFORD = "E07000197"


@dataclass
class Listener:
    """A tiny HTTP server on 127.0.0.1 that counts every request it gets."""

    port: int
    hits: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hostile(self, tag: str, *, formula_first: bool = False) -> str:
        """Return text that fetches or links this listener if rendered as markdown or HTML."""
        formula = f'=HYPERLINK("{self.origin}/{tag}-link","go")'
        rest = f"![x]({self.origin}/{tag}.png) <img src={self.origin}/{tag}-img.png> :red[{tag}]"
        return f"{formula} {rest}" if formula_first else f"{rest} {formula}"

    def asked_by(self, urls: list[str]) -> list[str]:
        return [u for u in urls if f":{self.port}" in u]


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    port = free_port()
    found = Listener(port)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()


def _serve(script: str, home: Path, env: dict[str, str]) -> tuple[AppServer, subprocess.Popen]:
    port = free_port()
    server = AppServer(url=f"http://127.0.0.1:{port}", log_path=home / "streamlit.log")
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    wait_until_healthy(server.url, process, server, STARTUP_TIMEOUT_S)
    return server, process


@pytest.fixture(scope="module")
def hostile_app(
    tmp_path_factory: pytest.TempPathFactory, listener: Listener
) -> Iterator[tuple[AppServer, str]]:
    """The app on a demo whose names are hostile text; a short idle limit; no warm-up."""
    home = tmp_path_factory.mktemp("hostile-home")
    url = f"sqlite:///{home / 'hostile.db'}"
    env = {
        **os.environ,
        "SAFER_SPACES_DATABASE_URL": url,
        "SAFER_SPACES_HOME": str(home),
        "SAFER_SPACES_WARM": "0",
        "SAFER_SPACES_IDLE_MINUTES": str(IDLE_MINUTES),
    }
    subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main(['demo'])"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    engine = connect(url, create=False)
    ensure_demo_users(engine)
    with engine.begin() as connection:
        ids = connection.scalars(text("SELECT id FROM places ORDER BY id")).all()
        for place_id in ids:
            connection.execute(
                text("UPDATE places SET name = :name WHERE id = :id"),
                {"name": listener.hostile(f"place{place_id}"), "id": place_id},
            )
        connection.execute(
            text("UPDATE districts SET name = :name WHERE code = :code"),
            {"name": listener.hostile("district", formula_first=True), "code": STAFFORD},
        )
        connection.execute(
            update(User)
            .where(User.username == "officer")
            .values(
                display_name=listener.hostile("officer"),
                organisation=listener.hostile("organisation"),
            )
        )
    engine.dispose()
    server, process = _serve(APP_SCRIPT, home, env)
    try:
        yield server, url
    finally:
        stop(process)


def _no_outside_markup(page: Page, listener: Listener) -> None:
    """No element anywhere in the page (or its frames) points at the listener."""
    for frame in page.frames:
        for selector in (f'img[src*=":{listener.port}"]', f'a[href*=":{listener.port}"]'):
            assert frame.locator(selector).count() == 0, (frame.url, selector)


def test_hostile_names_render_as_text_and_fetch_nothing(
    browser: Browser, hostile_app: tuple[AppServer, str], listener: Listener, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    server, url = hostile_app
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    try:
        sign_in(page, server.url + "/", "officer")
        sidebar = page.get_by_test_id("stSidebar")
        # the officer's own name and organisation, drawn in the sidebar's markdown
        # (shown text keeps an invisible word joiner after each colon: no directive or
        # bare address can start there, so the checks look at the text around colons)
        expect(sidebar.get_by_text("![x](http").first).to_be_visible(timeout=TIMEOUT_MS)
        expect(sidebar.get_by_text("/officer.png) <img src=http").first).to_be_visible()
        expect(sidebar.get_by_text("/organisation-img.png>").first).to_be_visible()
        settled(page, TIMEOUT_MS)
        page.screenshot(path=screenshot_dir / "hostile-map-1366.png")

        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_role("link", name="Assessments").click()
        expect(page.get_by_text("Signed in as ![x](")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text("red[organisation]").first).to_be_visible()
        settled(page, TIMEOUT_MS)
        page.screenshot(path=screenshot_dir / "hostile-assessments-1366.png")

        nav.get_by_role("link", name="Meeting").click()
        expect(page.get_by_role("heading", name="Headline figures")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        from reports.meeting import SLIDES

        titles = [t for _, t in SLIDES]
        at = 0
        for title in ("Progress by district", "Places for decision"):
            for _ in range(titles.index(title) - at):  # step on to the slide by its place
                page.get_by_role("button", name="Next").click()
                settled(page, TIMEOUT_MS)
            at = titles.index(title)
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=TIMEOUT_MS)
            if title == "Progress by district":  # district names in an st.table
                table = page.get_by_test_id("stTable")
                expect(table.get_by_text("=HYPERLINK(").first).to_be_visible(timeout=TIMEOUT_MS)
                page.set_viewport_size({"width": 1920, "height": 1080})
                page.screenshot(path=screenshot_dir / "hostile-meeting-districts-1920.png")
                page.set_viewport_size({"width": 1366, "height": 768})
        # the places waiting for a decision, in an st.table
        table = page.get_by_test_id("stTable")
        expect(table.get_by_text('-link","go")').first).to_be_visible(timeout=TIMEOUT_MS)
        expect(table.get_by_text("![x](http").first).to_be_visible()
        page.screenshot(path=screenshot_dir / "hostile-meeting-decisions-1366.png")
        _no_outside_markup(page, listener)

        # the pack: the web page escapes, the CSV neutralises, each download is audited
        page.get_by_role("button", name="Export pack").click()
        files = {}
        for kind, label in (("html", "Web page (HTML)"), ("csv", "Figures (CSV)")):
            button = page.get_by_role("button", name=label)
            expect(button).to_be_visible(timeout=TIMEOUT_MS)
            with page.expect_download() as download:
                button.click()
            files[kind] = download.value.path().read_bytes().decode("utf-8-sig")
    finally:
        context.close()
    assert listener.asked_by(requests) == []
    assert listener.hits == []
    assert f"<img src={listener.origin}" not in files["html"]
    assert f"&lt;img src={listener.origin}/district-img.png&gt;" in files["html"]
    rows = list(csv.DictReader(io.StringIO(files["csv"], newline="")))
    district_cells = [r["measure"] for r in rows if "district-link" in r["measure"]]
    assert district_cells and all(c.startswith("'=HYPERLINK(") for c in district_cells)
    exported = [e.detail["format"] for e in _audited(url, "export", "officer")]
    assert sorted(exported) == ["csv", "html"]


def test_control_the_same_text_rendered_as_markdown_is_caught(
    browser: Browser, tmp_path: Path, listener: Listener
) -> None:
    """What the checks above catch: unescaped, the browser fetches the listener's image."""
    from playwright.sync_api import expect

    script = tmp_path / "unescaped.py"
    script.write_text(
        "import streamlit as st\n"
        f"st.markdown({listener.hostile('control')!r})\n"
        "st.table({'Place': [" + repr(listener.hostile("control-table")) + "]})\n"
    )
    server, process = _serve(str(script), tmp_path, dict(os.environ))
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    before = len(listener.hits)
    try:
        page.goto(server.url)
        expect(page.get_by_test_id("stTable")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator(f'img[src*=":{listener.port}"]').first).to_be_attached()
        page.wait_for_function(
            "() => [...document.images].every(i => i.complete)", timeout=TIMEOUT_MS
        )
    finally:
        context.close()
        stop(process)
    assert listener.asked_by(requests), "the browser did not ask the listener"
    assert len(listener.hits) > before, "the listener got no request"
    listener.hits[before:] = []  # the control's own hits are not the app's


def _audited(url: str, action: str, actor: str) -> list[AuditEvent]:
    engine = connect(url, create=False)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor == actor)
                )
            )
    finally:
        engine.dispose()


def test_signing_out_ends_the_other_window_too(
    browser: Browser, hostile_app: tuple[AppServer, str]
) -> None:
    from playwright.sync_api import expect

    server, url = hostile_app
    first, second = browser.new_context(), browser.new_context()
    try:
        one, two = first.new_page(), second.new_page()
        sign_in(one, server.url + "/", "viewer")
        sign_in(two, server.url + "/places", "viewer")
        sign_out(one)
        # no click in the second window: its timer notices the sign-out and clears it
        try:
            expect(two.get_by_text("You signed out in another window")).to_be_visible(
                timeout=TIMEOUT_MS
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\nit shows: {two.inner_text('body')[:600]!r}") from error
        expect(two.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        signed_in = two.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
        expect(signed_in).to_have_count(0)
    finally:
        first.close()
        second.close()
    reasons = [e.detail.get("reason") for e in _audited(url, "sign out", "viewer")]
    assert "signed out" in reasons and "signed out in another session" in reasons


def test_an_idle_screen_clears_by_itself(
    browser: Browser, hostile_app: tuple[AppServer, str]
) -> None:
    from playwright.sync_api import expect

    server, url = hostile_app
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, server.url + "/places", "lead")
        expect(page.get_by_role("heading", name="Places")).to_be_visible(timeout=TIMEOUT_MS)
        # nothing is clicked: after the idle limit the timer ends the session
        expect(page.get_by_text("Your session ended after")).to_be_visible(
            timeout=int(IDLE_MINUTES * 60_000) + TIMEOUT_MS
        )
        expect(page.get_by_role("heading", name="Places")).to_have_count(0)
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    finally:
        context.close()
    reasons = [e.detail.get("reason") for e in _audited(url, "sign out", "lead")]
    assert "timed out" in reasons
