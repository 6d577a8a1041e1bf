"""Evidence and the printable assessment in a real browser (issue 23).

An officer attaches a phone photo (GPS and camera in its EXIF) to a new assessment, sees
its thumbnail with the reminder about faces, downloads it back without the metadata,
and downloads the assessment as PDF. Screenshots of the form with the photo (1366x768 and
1920x1080) and of the PDF's first page go to ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from pypdf import PdfReader

from tests.e2e.test_assessments import PASSWORD, settle, start_first_flagged
from tests.store.test_evidence import GPS_IFD, gps_jpeg

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.e2e.conftest import AppServer

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 400_000  # the machine running the tests may be shared and slow


def sign_in(page, url: str, role: str) -> None:
    """Open ``url``, sign in as the demo account ``role`` and wait for the queue."""
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
    expect(heading).to_be_visible(timeout=TIMEOUT_MS)
    last = page.get_by_test_id("stDownloadButton").filter(has_text="Download the list as CSV")
    expect(last).to_be_attached(timeout=TIMEOUT_MS)
    settle(page)


def test_officer_attaches_a_photo_without_its_location_and_prints_the_pdf(
    browser: Browser, app_server: AppServer, tmp_path: Path
):
    from playwright.sync_api import expect

    photo = tmp_path / "IMG_0412.jpg"
    photo.write_bytes(gps_jpeg((1600, 1200)))
    assert Image.open(photo).getexif().get_ifd(GPS_IFD)  # control: it has a location
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(app_server.url)  # the first run builds the demo: give it time, once
        ready = page.get_by_role("button", name="Sign in", exact=True)
        expect(ready.or_(page.get_by_role("button", name="Sign out")).first).to_be_visible(
            timeout=600_000
        )
        sign_in(page, f"{app_server}/assessments", "officer")
        name = start_first_flagged(page)
        section = page.get_by_role("heading", name="Evidence from the visit")
        section.scroll_into_view_if_needed()
        expect(page.get_by_text("Faces and number plates are your responsibility")).to_be_visible()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(photo))
        expect(page.get_by_text("IMG_0412.jpg")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_label("Caption (about the place, optional)").fill(
            "Broken lamp by the north gate"
        )
        page.get_by_role("button", name="Attach").click()
        expect(
            page.get_by_text("Attached. Location and camera details were removed")
        ).to_be_visible(timeout=TIMEOUT_MS)
        thumb = page.get_by_test_id("stImage").first
        expect(thumb).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text("Broken lamp by the north gate")).to_be_visible()
        settle(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, height in ((1366, 768), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(500)
            page.get_by_role("heading", name="Evidence from the visit").evaluate(
                "el => el.scrollIntoView({block: 'start'})"
            )
            page.wait_for_timeout(300)
            page.screenshot(path=SHOTS / f"evidence-form-{width}x{height}.png")

        with page.expect_download(timeout=TIMEOUT_MS) as got:
            page.get_by_test_id("stDownloadButton").filter(has_text="Download").filter(
                has_not_text="PDF"
            ).filter(has_not_text="printable").filter(has_not_text="CSV").first.click()
        kept = Path(got.value.path()).read_bytes()
        assert got.value.suggested_filename.endswith("-photo-1.jpg")
        image = Image.open(io.BytesIO(kept))
        assert image.size == (1600, 1200)
        assert dict(image.getexif()) == {} and b"PhoneMaker" not in kept

        with page.expect_download(timeout=TIMEOUT_MS) as got:
            page.get_by_role("button", name="Download the assessment as PDF").click()
        pdf_path = tmp_path / "assessment.pdf"
        got.value.save_as(pdf_path)
        reader = PdfReader(pdf_path)
        words = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
        assert " ".join(name.split()) in words
        assert "Photo 1: Broken lamp by the north gate" in words
        assert sum(len(p.images) for p in reader.pages) == 1
        if shutil.which("pdftoppm"):
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "80",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(pdf_path),
                    str(SHOTS / "assessment-pdf-page-1"),
                ],
                check=True,
            )
    finally:
        context.close()
