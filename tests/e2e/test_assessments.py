"""Assessments in a real browser: an officer records and submits, a lead approves; locking."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.e2e.conftest import choose

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000
PASSWORD = "safer-spaces-demo"


def sign_in(page: Page, url: str, role: str) -> None:
    """Open ``url`` and, when the sign-in form is shown, sign in as the demo account ``role``."""
    from playwright.sync_api import expect

    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    button = page.get_by_role("button", name="Sign in", exact=True)
    heading = page.get_by_role("heading", name="Place assessments")
    expect(button.or_(heading).first).to_be_visible(timeout=TIMEOUT_MS)
    if button.count() and button.first.is_visible():
        page.get_by_role("textbox", name="Username").fill(role)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        button.first.click()
    expect(page.get_by_role("heading", name="Place assessments")).to_be_visible(timeout=TIMEOUT_MS)
    # The queue is drawn when its last element is there (in the second tab, so hidden).
    last = page.get_by_test_id("stDownloadButton").filter(has_text="Download the list as CSV")
    expect(last).to_be_attached(timeout=TIMEOUT_MS)
    settle(page)


def settle(page: Page) -> None:
    """Wait until Streamlit has finished the current run."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)


#: Queue states where an officer starts a new assessment (a review starts a new version).
STARTABLE = re.compile(r" · (No assessment|Review overdue)$")


def start_first_flagged(page: Page) -> str:
    """Start an assessment of the first flagged place that needs one; return the place's name.

    A place never assessed, or one whose review is overdue: the demo officer's queue holds
    one of the first and several of the second, and each test here takes one.
    """
    from playwright.sync_api import expect

    combobox = page.get_by_test_id("stSelectbox").filter(has_text="Place to assess")
    for wanted in ("No assessment", "Review overdue"):  # typed: narrows (and opens) the list
        combobox.get_by_role("combobox").click()
        page.keyboard.press("Control+A")
        page.keyboard.type(wanted)
        fresh = page.get_by_role("option", name=re.compile(f" · {wanted}$")).first
        try:
            expect(fresh).to_be_visible(timeout=20_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    else:
        raise AssertionError("no place in the officer's queue to start an assessment of")
    label = fresh.inner_text().strip()
    fresh.click()
    name = STARTABLE.sub("", label)
    start = page.get_by_role("button", name="Start or open its assessment")
    expect(start).to_be_enabled(timeout=TIMEOUT_MS)
    start.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)
    return name


def fill(page: Page) -> None:
    """Fill a complete assessment: one finding per domain, risk, goals, one action."""
    fill_findings(page)
    page.get_by_label("New action").first.fill("Repair the lamps on the main path")
    choose(page, "Owner", "Staffordshire County Council")
    due = page.get_by_test_id("stDateInput").filter(has=page.get_by_text("Due", exact=True))
    due.first.get_by_role("spinbutton").first.click()
    page.keyboard.type("31122099")
    page.keyboard.press("Escape")


def fill_findings(page: Page) -> None:
    """Fill one finding per domain, the partners, risk and goals (no action yet)."""
    for item, (score, evidence_index) in {
        "Peer groups gathering": ("2 - significant concern", 1),
        "Staff and wardens present": ("3 - serious concern", 3),
        "Lighting": ("1 - some concern", 6),
    }.items():
        choose(page, item, score)
        page.get_by_label("Evidence", exact=True).nth(evidence_index).fill(
            f"Seen on the site visit: {item}"
        )
        page.get_by_label("Source", exact=True).nth(evidence_index).fill("Site visit")
        choose(page, "Reliability", "High", nth=evidence_index)
    page.get_by_label("Partners who took part (organisations)").fill(
        "Staffordshire Police, Youth service"
    )
    choose(page, "Overall risk", "High")
    page.get_by_label("Goals for the place").fill("Make the place feel safe after dark.")


def test_officer_records_and_submits_and_a_lead_approves(
    app_server: AppServer, browser: Browser, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    officer = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    sign_in(officer, app_server.url + "/assessments", "officer")
    expect(officer.get_by_text("Flagged places without a current assessment")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    settle(officer)
    officer.screenshot(path=screenshot_dir / "assessments-queue.png")

    name = start_first_flagged(officer)
    expect(officer.get_by_text("not about children")).to_be_visible()
    fill(officer)
    settle(officer)
    officer.screenshot(path=screenshot_dir / "assessments-form.png", full_page=True)
    officer.get_by_role("button", name="Submit for review").click()
    expect(officer.get_by_text("Submitted for a safeguarding lead's review.")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(officer.get_by_text(re.compile("Submitted for review · version"))).to_be_visible()

    lead = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    sign_in(lead, app_server.url + "/assessments", "lead")
    choose(lead, "Assessment to review", name)
    review = lead.locator(".st-key-assess_pick_submitted_open button")
    expect(review).to_be_enabled(timeout=TIMEOUT_MS)
    review.click()
    expect(lead.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)
    lead.get_by_role("button", name="Approve").click()
    expect(lead.get_by_text(re.compile("Approved · version"))).to_be_visible(timeout=TIMEOUT_MS)
    lead.screenshot(path=screenshot_dir / "assessments-approved.png", full_page=True)
    officer.context.close()
    lead.context.close()


def test_two_people_editing_one_draft_cannot_overwrite_each_other(
    app_server: AppServer, browser: Browser, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    first = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    sign_in(first, app_server.url + "/assessments", "officer")
    name = start_first_flagged(first)

    second = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    sign_in(second, app_server.url + "/assessments", "officer")
    choose(second, "Draft to open", name)
    opener = second.locator(".st-key-assess_pick_draft_open button")
    expect(opener).to_be_enabled(timeout=TIMEOUT_MS)
    opener.click()
    expect(second.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)

    first.get_by_label("Goals for the place").fill("Goals typed in the first window")
    first.get_by_role("button", name="Save draft").click()
    expect(first.get_by_text("Draft saved.")).to_be_visible(timeout=TIMEOUT_MS)

    typed = "Goals typed in the second window, which must not be lost"
    second.get_by_label("Goals for the place").fill(typed)
    second.get_by_role("button", name="Save draft").click()
    expect(second.get_by_text(re.compile("was changed by officer"))).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(second.get_by_label("Goals for the place")).to_have_value(typed)
    second.screenshot(path=screenshot_dir / "assessments-stale.png")
    second.get_by_role("button", name=re.compile("Reload the latest version")).click()
    expect(second.get_by_text("Your unsaved changes (kept from before the reload)")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(second.get_by_label("Goals for the place")).to_have_value(
        "Goals typed in the first window"
    )
    kept = second.get_by_test_id("stExpander").filter(has_text="Your unsaved changes")
    expect(kept.get_by_test_id("stDataFrame")).to_be_visible()
    first.context.close()
    second.context.close()
