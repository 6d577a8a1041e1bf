"""Meeting mode in a real browser: step through the slides full screen, export the pack.

A steering group member (aggregates only) opens Meeting, goes full screen, steps through
every slide with the arrow keys and the buttons, leaves full screen and exports the pack;
the HTML and the PDF are downloaded and read back. Screenshots of two slides at 1920x1080
go to ``test-output/``.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from reports.meeting import SLIDES
from tests.e2e.conftest import sign_in

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000


def _settled(page) -> None:
    """Wait until the script has finished and no element of the last slide is left."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT_MS)


def test_step_through_the_meeting_and_export_the_pack(
    browser: Browser, app_server: AppServer, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect
    from pypdf import PdfReader

    context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    try:
        sign_in(page, f"{app_server}/meeting", "viewer")
        heading = page.get_by_role("heading", name=SLIDES[0][1])
        expect(heading).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT_MS)
        headline = page.get_by_test_id("stMetricValue").first.inner_text()

        page.get_by_role("button", name="Present full screen (F)").click()
        expect(page.get_by_role("button", name="Leave full screen (Esc)")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        expect(page.get_by_test_id("stSidebar")).to_be_hidden()
        expect(page.get_by_text("Demonstration data.")).to_be_hidden()
        _settled(page)
        page.screenshot(path=screenshot_dir / "meeting-slide-headline.png")

        for number, (_, title) in enumerate(SLIDES[1:], start=2):
            if number % 2:
                page.get_by_role("button", name="Next").click()
            else:
                page.get_by_test_id("stMain").click(position={"x": 5, "y": 5})
                page.keyboard.press("ArrowRight")
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=TIMEOUT_MS)
            _settled(page)  # a busy machine may still show the last run's counter beside it
            counter = page.locator(".st-key-meeting_counter")
            expect(counter).to_have_count(1, timeout=TIMEOUT_MS)
            expect(counter).to_contain_text(f"{number} / {len(SLIDES)}", timeout=TIMEOUT_MS)
            if title == "Progress by district":
                page.screenshot(path=screenshot_dir / "meeting-slide-districts.png")
        page.keyboard.press("ArrowLeft")
        expect(page.get_by_role("heading", name=SLIDES[-2][1])).to_be_visible(timeout=TIMEOUT_MS)

        page.get_by_role("button", name="Leave full screen (Esc)").click()
        expect(page.get_by_test_id("stSidebar")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Export pack").click()
        files = {}
        for kind, label in (("html", "Web page (HTML)"), ("pdf", "PDF"), ("csv", "Figures (CSV)")):
            button = page.get_by_role("button", name=label)
            expect(button).to_be_visible(timeout=TIMEOUT_MS)
            with page.expect_download() as download:
                button.click()
            files[kind] = download.value.path().read_bytes()
            assert download.value.suggested_filename.endswith(f".{kind}")

        html = files["html"].decode("utf-8")
        assert "<script" not in html.lower()
        assert not re.search(r'(src|href)="https?://', html)  # self-contained
        assert headline in html
        reader = PdfReader(io.BytesIO(files["pdf"]))
        assert len(reader.pages) >= len(SLIDES) + 1
        text = "\n".join(p.extract_text() for p in reader.pages)
        for _, title in SLIDES:
            assert title in text
        assert headline in text
        (screenshot_dir / "meeting-pack.pdf").write_bytes(files["pdf"])
        assert files["csv"].decode("utf-8-sig").startswith("slide,measure,period,value")
        outside = [
            u
            for u in requests
            if not re.match(r"(https?|wss?)://127\.0\.0\.1[:/]", u)
            and not u.startswith(("data:", "blob:", "about:"))
        ]
        assert outside == []
    finally:
        context.close()
