"""Every slide of the meeting fits a shared screen, at 1366x768 and at 1920x1080.

A steering group member (aggregates only) opens Meeting, presses F (the browser's Fullscreen
API is asked for), and steps through every slide with the arrow keys. On each slide the
height of everything drawn is measured against the window: nothing may need scrolling, and
pictures must have loaded first (a picture still loading takes no height). The slide
counter ("3 / 8") must be visible; Esc leaves. At 1366x768 a screenshot of every slide is
saved in ``docs/screenshots/`` (made small: a palette of 128 colours).

Set ``SAFER_SPACES_SCREENSHOTS`` to another folder to keep ``docs/screenshots`` unchanged.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reports.meeting import SLIDES
from tests.e2e.conftest import REPO_ROOT, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000
SIZES = [(1366, 768), (1920, 1080)]

# How far the slide reaches, and whether anything on it scrolls (Streamlit scrolls stMain).
MEASURE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  const scrollers = [document.scrollingElement, main].filter(Boolean);
  return {
    window: window.innerHeight,
    bottom: Math.ceil(block.getBoundingClientRect().bottom),
    scroll: Math.max(...scrollers.map(e => e.scrollHeight - e.clientHeight)),
    images: [...document.images].every(i => i.complete && i.naturalHeight > 0),
    fullscreen: document.fullscreenEnabled ? Boolean(document.fullscreenElement) : null,
  };
}"""


def _settled(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalHeight > 0)",
        timeout=TIMEOUT_MS,
    )


def _open(page: Page, url: str) -> None:
    """Sign in as a steering group member, waiting first for a cold app (the demo is built
    on the first run)."""
    from playwright.sync_api import expect

    page.goto(url)
    ready = page.get_by_role("button", name="Sign in", exact=True).or_(
        page.get_by_role("button", name="Sign out")
    )
    expect(ready.first).to_be_visible(timeout=3 * TIMEOUT_MS)
    sign_in(page, url, "viewer")


def _small_png(png: bytes, path: Path) -> None:
    """Write a screenshot with a palette of 128 colours (a fraction of the size)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _screenshots() -> Path:
    folder = Path(os.environ.get("SAFER_SPACES_SCREENSHOTS", REPO_ROOT / "docs" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_slide_fits_the_screen_without_scrolling(
    browser: Browser, app_server: AppServer, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    too_tall: list[str] = []
    try:
        _open(page, f"{app_server}/meeting")
        expect(page.get_by_role("heading", name=SLIDES[0][1])).to_be_visible(timeout=TIMEOUT_MS)
        _settled(page)
        page.get_by_role("heading", name=SLIDES[0][1]).click()
        page.keyboard.press("f")
        leave = page.get_by_role("button", name="Leave full screen (Esc)")
        expect(leave).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stSidebar")).to_be_hidden()
        if page.evaluate("() => document.fullscreenEnabled"):  # the browser's own full screen
            page.wait_for_function("() => Boolean(document.fullscreenElement)", timeout=10_000)
        for number, (key, title) in enumerate(SLIDES, start=1):
            if number > 1:
                page.get_by_role("heading", name=SLIDES[number - 2][1]).click()
                page.keyboard.press("ArrowRight")
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=TIMEOUT_MS)
            _settled(page)  # a busy machine may still show the last run's counter beside it
            counter = page.locator(".st-key-meeting_counter")
            expect(counter).to_have_count(1, timeout=TIMEOUT_MS)
            expect(counter).to_contain_text(f"{number} / {len(SLIDES)}", timeout=TIMEOUT_MS)
            size = page.evaluate(MEASURE)
            if not size["images"]:  # an image redrawn between the wait and the measure
                _settled(page)
                size = page.evaluate(MEASURE)
            assert size["window"] == height
            assert size["images"]
            if size["bottom"] > height or size["scroll"] > 0:
                too_tall.append(f"{number}. {title}: {size['bottom']} px in a {height} px window")
            if width == 1366:
                _small_png(page.screenshot(), _screenshots() / f"meeting-{number}-{key}.png")
        assert too_tall == [], "slides taller than the window:\n" + "\n".join(too_tall)

        page.keyboard.press("Escape")
        expect(page.get_by_role("button", name="Present full screen (F)")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=TIMEOUT_MS)
        page.wait_for_function("() => !document.fullscreenElement", timeout=10_000)
    finally:
        context.close()


def test_the_measure_sees_a_slide_that_does_not_fit(browser: Browser, app_server: AppServer):
    """Control: the same measure, on the page as it is without presenting at 1366x768 (the
    title, the export section and the sidebar's room make it taller than the window)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        _open(page, f"{app_server}/meeting")
        expect(page.get_by_role("heading", name=SLIDES[0][1])).to_be_visible(timeout=TIMEOUT_MS)
        _settled(page)
        size = page.evaluate(MEASURE)
        assert size["bottom"] > size["window"] or size["scroll"] > 0
    finally:
        context.close()
