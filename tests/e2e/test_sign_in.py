"""Signing in as each demo role in a real browser, and what each one is sent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from pyproj import Transformer
from sqlalchemy import func, select

from services.access import Viewer
from services.users import create_user, list_users
from store.db import connect
from store.models import AuditEvent, Incident, Place
from tests.e2e.conftest import sign_in, sign_out

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.e2e.conftest import AppServer

TIMEOUT_MS = 120_000
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
OFFICER_DISTRICTS = ["Cannock Chase", "Stafford", "Tamworth"]
PAIR = re.compile(r"(-?\d{1,3}\.\d{4,})\s*,\s*(-?\d{1,3}\.\d{4,})")
RING = re.compile(r"\[\s*\[\s*\[[-\d.,\s\[\]]*\]\s*\]\s*\]")


def _database(app_server: AppServer) -> Path:
    if app_server.log_path is None:
        pytest.skip("needs the server these tests start (SAFER_SPACES_E2E_BASE_URL is set)")
    return app_server.log_path.parent / "e2e.db"


def _nav(page: Page) -> list[str]:
    nav = page.get_by_test_id("stSidebarNav")
    nav.first.wait_for(timeout=TIMEOUT_MS)
    return [t.strip().splitlines()[-1] for t in nav.get_by_role("link").all_inner_texts()]


@pytest.mark.parametrize(
    ("role", "label", "pages"),
    [
        ("lead", "Safeguarding lead", ["Map", "Places", "Assessments", "Meeting", "MACE", "Data"]),
        (
            "officer",
            "District or borough council officer",
            ["Map", "Places", "Assessments", "Meeting", "MACE"],
        ),
        ("viewer", "Steering group member", ["Map", "Places", "Assessments", "Meeting", "MACE"]),
        (
            "admin",
            "Data officer or administrator",
            ["Map", "Places", "Assessments", "Meeting", "MACE", "Data"],
        ),
    ],
)
def test_each_demo_role_signs_in_and_sees_its_pages(
    app_server: AppServer, page: Page, role: str, label: str, pages: list[str]
) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/", role)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(label)).to_be_visible(timeout=TIMEOUT_MS)
    assert _nav(page) == pages
    expect(page.get_by_text("Demo accounts are switched on")).to_be_visible()


def test_the_officer_chooses_only_among_their_districts(app_server: AppServer, page: Page) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/places", "officer")
    district = page.get_by_test_id("stSidebar").get_by_role("combobox", name="District")
    expect(district).to_be_visible(timeout=TIMEOUT_MS)
    district.click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible(timeout=TIMEOUT_MS)
    offered = [o for o in options.all_inner_texts() if o != "Select all"]
    assert sorted(offered) == OFFICER_DISTRICTS


def test_the_viewer_downloads_places_with_small_counts_hidden(
    app_server: AppServer, page: Page
) -> None:
    sign_in(page, app_server.url + "/places?period=month", "viewer")
    button = page.get_by_test_id("stDownloadButton").get_by_role("button")
    button.wait_for(timeout=TIMEOUT_MS)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        button.click()
    rows = download.value.path().read_text(encoding="utf-8").splitlines()
    counts = [row.split(",")[-3] for row in rows[1:]]
    assert "<5" in counts
    assert not [c for c in counts if c.isdigit() and 0 < int(c) < 5], counts


def _wait_for_attempts(app_server: AppServer, wanted: int) -> None:
    """Wait until the server has audited this many attempts (the message is always the same)."""
    import time

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        engine = connect(f"sqlite:///{_database(app_server)}", create=False)
        try:
            with engine.connect() as connection:
                done = connection.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.actor == "locked.out@example.gov.uk")
                )
        finally:
            engine.dispose()
        if done >= wanted:
            return
        time.sleep(0.5)
    raise AssertionError(f"the server did not audit {wanted} sign-in attempts")


def test_a_wrong_password_then_a_lockout(app_server: AppServer, page: Page) -> None:
    from playwright.sync_api import expect

    engine = connect(f"sqlite:///{_database(app_server)}", create=False)
    admin = Viewer("admin", "admin", ())
    create_user(
        engine,
        admin,
        username="locked.out@example.gov.uk",
        display_name="Locked Out",
        role="viewer",
        districts=["E07000197"],
        password="the right password",
    )
    engine.dispose()
    page.goto(app_server.url + "/")
    button = page.get_by_role("button", name="Sign in", exact=True)
    for attempt in range(5):
        page.get_by_label("Username", exact=True).fill("locked.out@example.gov.uk")
        page.locator('input[type="password"]').fill(f"wrong password {attempt}")
        button.click()
        # the same words every time: the page never says the account exists or is locked
        expect(page.get_by_test_id("stAlert").filter(has_text="not right")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        expect(page.get_by_text("more wrong attempt")).to_have_count(0)
        _wait_for_attempts(app_server, attempt + 1)
    page.get_by_label("Username", exact=True).fill("locked.out@example.gov.uk")
    page.locator('input[type="password"]').fill("the right password")
    button.click()
    expect(page.get_by_test_id("stAlert").filter(has_text="not right")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    engine = connect(f"sqlite:///{_database(app_server)}", create=False)
    try:  # the lock-out is for the administrator to see and tell
        users = list_users(engine, admin).set_index("username")
        assert not pd.isna(users.loc["locked.out@example.gov.uk", "locked_until"])
    finally:
        engine.dispose()


def test_signing_out_returns_to_the_sign_in_page(app_server: AppServer, page: Page) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/", "viewer")
    sign_out(page)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_a_link_to_another_district_is_refused(app_server: AppServer, page: Page) -> None:
    from playwright.sync_api import expect

    sign_in(page, app_server.url + "/places?districts=E06000021", "officer")
    expect(page.get_by_text("which your account does not cover")).to_be_visible(timeout=TIMEOUT_MS)


def _incident_pairs(database: Path) -> set[tuple[float, float]]:
    """Return incident locations (not at a place) as rounded (lat, lon) and (lon, lat) pairs."""
    engine = connect(f"sqlite:///{database}", create=False)
    with engine.connect() as connection:
        incidents = connection.execute(
            select(Incident.easting, Incident.northing).where(Incident.easting.is_not(None))
        ).all()
        places = set(connection.execute(select(Place.easting, Place.northing)).all())
    engine.dispose()
    to_wgs84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    pairs: set[tuple[float, float]] = set()
    for easting, northing in set(incidents) - places:
        lon, lat = to_wgs84.transform(easting, northing)
        pairs |= {(round(lat, 4), round(lon, 4)), (round(lon, 4), round(lat, 4))}
    return pairs


def _record_payload(page: Page) -> list[str]:
    """Collect every websocket message the server sends this page (the app's payload)."""
    received: list[str] = []

    def listen(socket) -> None:  # type: ignore[no-untyped-def]
        socket.on(
            "framereceived",
            lambda data: received.append(
                data if isinstance(data, str) else bytes(data).decode("latin-1")
            ),
        )

    page.on("websocket", listen)
    return received


def _map_payload(page: Page, received: list[str]) -> tuple[str, set[tuple[float, float]]]:
    """Wait for the map, then return the payload sent and the coordinate pairs in it."""
    page.wait_for_selector(MAP_IFRAME, timeout=TIMEOUT_MS)
    page.frame_locator(MAP_IFRAME).locator(".leaflet-pane").first.wait_for(
        state="attached", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(2_000)
    payload = "".join(received)
    # Outlines and grid squares are polygons whose corners may fall on a snapped location;
    # a point is what must never be sent, so rings are left out before looking.
    points_only = RING.sub("", payload)
    found = {(round(float(a), 4), round(float(b), 4)) for a, b in PAIR.findall(points_only)}
    return payload, found


def test_the_officer_map_carries_no_incident_coordinates(app_server: AppServer, page: Page) -> None:
    """The HTML and JSON sent to the officer's browser hold no incident location."""
    link = "/?period=month&districts=E07000197&layers=points"
    received = _record_payload(page)
    sign_in(page, app_server.url + link, "lead")
    payload, lead_pairs = _map_payload(page, received)
    incidents = _incident_pairs(_database(app_server))  # built by the first visit
    assert incidents
    assert "Incidents (points)" in payload
    assert lead_pairs & incidents, "the lead's map shows no incident point: the check sees nothing"

    officer = page.context.browser.new_context().new_page()
    received = _record_payload(officer)
    sign_in(officer, app_server.url + link, "officer")
    payload, officer_pairs = _map_payload(officer, received)
    assert "leaflet" in payload.lower(), "the officer's map was not sent"
    assert "Incidents (points)" not in payload
    assert officer_pairs & incidents == set()
    officer.context.close()
