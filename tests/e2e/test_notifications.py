"""Named owners and the submitted e-mail in a real browser, with a real SMTP server on loopback.

An officer records an assessment with four actions, each owner chosen from the list (one
row added with "Add another action"), and submits; the safeguarding lead's address
receives the "submitted" e-mail from the app, through aiosmtpd on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import (
    APP_SCRIPT,
    REPO_ROOT,
    STARTUP_TIMEOUT_S,
    AppServer,
    choose,
    free_port,
    stop,
    wait_until_healthy,
)
from tests.e2e.conftest import sign_in as sign_in_anywhere
from tests.e2e.test_assessments import (
    TIMEOUT_MS,
    fill_findings,
    settle,
    sign_in,
    start_first_flagged,
)
from tests.smtp import SmtpSink

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

LEAD_ADDRESS = "duty-lead@partnership.test.example"
OWNERS = (
    ("Repair the lamps on the main path", "Staffordshire County Council"),
    ("Review the premises licence of the takeaway", "Stafford Borough Council"),
    ("Evening patrols on Fridays", "Staffordshire Police"),
    ("Detached youth work in the park", "Demo district officer"),
)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def notify_server(
    tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink
) -> Iterator[tuple[AppServer, str]]:
    """The app with its own demo database, sending e-mail through the loopback server."""
    from data.bootstrap import open_database

    home = tmp_path_factory.mktemp("notify-home")
    database = f"sqlite:///{home / 'notify.db'}"
    open_database(database).dispose()  # the demo, built before the app opens it
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **smtp.env(),
        "SAFER_SPACES_BASE_URL": url,
        "SAFER_SPACES_DATABASE_URL": database,
        "SAFER_SPACES_HOME": str(home),
        "SAFER_SPACES_WARM": "0",
        "SAFER_SPACES_MAP_TILES": "none",
    }
    command = [
        sys.executable, "-m", "streamlit", "run", APP_SCRIPT, "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    server = AppServer(url=url, log_path=home / "streamlit.log")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(url, process, server, STARTUP_TIMEOUT_S)
        yield server, database
    finally:
        stop(process)


def _lead_address(database: str) -> None:
    """The demo lead signs in as ``lead``: give them an address (their preferences)."""
    from services.access import Viewer
    from services.notifications import set_preferences
    from store.db import connect

    engine = connect(database, create=False)
    set_preferences(engine, Viewer("lead", "lead", ()), email=LEAD_ADDRESS, kinds_off=[])
    engine.dispose()


def _fill_with_four_actions(page: Page) -> None:
    fill_findings(page)

    from playwright.sync_api import expect

    rows = page.get_by_label("New action")
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Add another action").click()
    expect(rows).to_have_count(4, timeout=TIMEOUT_MS)
    settle(page)
    due = page.get_by_test_id("stDateInput").filter(has=page.get_by_text("Due", exact=True))
    for number, (description, owner) in enumerate(OWNERS):
        rows.nth(number).fill(description)
        choose(page, "Owner", owner, nth=number)
        due.nth(number).get_by_role("spinbutton").first.click()
        page.keyboard.type(f"{number + 10}122099")
        page.keyboard.press("Escape")


@pytest.mark.parametrize("viewport", [(1366, 768)], ids=["1366x768"])
def test_officer_adds_four_owned_actions_and_the_lead_is_emailed(
    notify_server: tuple[AppServer, str],
    smtp: SmtpSink,
    browser: Browser,
    screenshot_dir: Path,
    viewport: tuple[int, int],
) -> None:
    from playwright.sync_api import expect
    from sqlalchemy import select

    from store.db import connect, session_scope
    from store.models import Action, Assessment

    server, database = notify_server
    _lead_address(database)
    width, height = viewport
    officer = browser.new_context(viewport={"width": width, "height": height}).new_page()
    sign_in(officer, server.url + "/assessments", "officer")
    name = start_first_flagged(officer)
    _fill_with_four_actions(officer)
    settle(officer)
    officer.get_by_role("heading", name="Actions").scroll_into_view_if_needed()
    officer.screenshot(path=screenshot_dir / "notify-actions-1366.png")
    officer.get_by_role("button", name="Submit for review").click()
    expect(officer.get_by_text("Submitted for a safeguarding lead's review.")).to_be_visible(
        timeout=TIMEOUT_MS
    )

    mails = smtp.to(LEAD_ADDRESS)
    assert len(mails) == 1, [r.rcpt_tos for r in smtp.received]
    mail = mails[0]
    assert (
        mail.message["Subject"] == f"Safer Spaces: the assessment of {name} is submitted for review"
    )
    assert f"{server.url}/assessments?assessment=" in mail.body
    assert "Repair the lamps" not in mail.body and "Seen on the site visit" not in mail.body

    engine = connect(database, create=False)
    with session_scope(engine) as session:
        assessment = session.scalars(
            select(Assessment)
            .where(Assessment.status == "submitted")
            .order_by(Assessment.id.desc())
        ).first()
        assert assessment is not None and assessment.place.name == name
        owners = session.execute(
            select(Action.description, Action.owner_org, Action.owner_org_id, Action.owner_user_id)
            .where(Action.assessment_id == assessment.id)
            .order_by(Action.id)
        ).all()
    engine.dispose()
    assert [o[0] for o in owners] == [d for d, _ in OWNERS]
    assert [o[1].startswith(owner) for o, (_, owner) in zip(owners, OWNERS, strict=True)] == [
        True
    ] * 4
    assert all(o[2] is not None for o in owners[:3]) and owners[3][3] is not None

    # The link in the e-mail opens the assessment for the lead.
    link = next(line for line in mail.body.splitlines() if "?assessment=" in line).split()[-1]
    lead = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    lead.set_default_timeout(TIMEOUT_MS)
    sign_in_anywhere(lead, link, "lead")
    expect(lead.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)
    expect(lead.get_by_role("button", name="Approve")).to_be_visible(timeout=TIMEOUT_MS)
    lead.screenshot(path=screenshot_dir / "notify-link-opens-1920.png")
    officer.context.close()
    lead.context.close()


def test_a_person_sees_and_saves_their_notification_choices(
    notify_server: tuple[AppServer, str], browser: Browser, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    server, _ = notify_server
    for width, height in ((1366, 768), (1920, 1080)):
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        sign_in(page, server.url + "/assessments", "officer")
        page.get_by_role("tab", name="Notifications").click()
        expect(page.get_by_text("You have no e-mail address here")).to_be_visible()
        page.get_by_label("Send them to (leave empty for the address you sign in with)").fill(
            "olu@stafford.test.example"
        )
        page.get_by_text("A weekly digest of what is yours").click()
        page.get_by_role("button", name="Save my choices").click()
        expect(page.get_by_text("Saved your choices.")).to_be_visible(timeout=TIMEOUT_MS)
        page.screenshot(path=screenshot_dir / f"notify-preferences-{width}.png")
        page.context.close()
        # The next size starts without an address again.
        from services.access import Viewer
        from services.notifications import preferences, set_preferences
        from store.db import connect

        engine = connect(notify_server[1], create=False)
        saved = preferences(engine, Viewer("officer", "officer", ()))
        assert saved.email == "olu@stafford.test.example" and "digest" in saved.kinds_off
        set_preferences(engine, Viewer("officer", "officer", ()), email=None, kinds_off=[])
        engine.dispose()


def test_an_admin_keeps_the_organisations_list(
    notify_server: tuple[AppServer, str], browser: Browser, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    server, _ = notify_server
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sign_in_anywhere(page, server.url + "/data", "admin")
    page.get_by_role("tab", name="Organisations").click()
    expect(page.get_by_text("Add an organisation")).to_be_visible()
    page.locator(".st-key-org_add_name input").fill("Tamworth Borough Council licensing")
    page.locator(".st-key-org_add_contact input").fill("licensing@tamworth.test")
    page.get_by_role("button", name="Add organisation").click()
    expect(page.get_by_text("Added Tamworth Borough Council licensing.")).to_be_visible()
    page.screenshot(path=screenshot_dir / "notify-organisations-1366.png", full_page=True)
    page.context.close()
