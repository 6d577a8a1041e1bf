"""After one click the Map settles: no further run of the map while nobody touches it.

The browser's messages to the server are read from the page's WebSocket and decoded
(``BackMsg``). A ``rerun_script`` that is not an automatic one (the sign-in timer's
fragment reruns itself every few seconds by design, ``is_auto_rerun``) is a run the page
asked for: a click, or the map reporting a new view. This is a correctness check (a click
must not set off runs of its own), not a speed measurement.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from tests.e2e.test_map_reading import TIMEOUT_MS, _frame, _frame_locator, _idle, _open

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocket

    from tests.e2e.conftest import AppServer, RequestLog

IDLE_S = 5.0


class Reruns:
    """The runs the page asked the server for, with when they were sent."""

    def __init__(self, page: Page) -> None:
        self.sent: list[tuple[float, str]] = []
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framesent", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        try:
            message.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        except Exception:  # not a Streamlit message
            return
        if message.WhichOneof("type") == "rerun_script" and not message.rerun_script.is_auto_rerun:
            self.sent.append((time.monotonic(), message.rerun_script.query_string))

    def count(self) -> int:
        return len(self.sent)


def _settled(page: Page, reruns: Reruns) -> int:
    """Wait for the app to finish, then idle ``IDLE_S``; return the runs asked meanwhile."""
    _idle(page)
    before = reruns.count()
    page.wait_for_timeout(IDLE_S * 1000)
    _idle(page)
    return reruns.count() - before


def test_one_row_click_is_one_run_and_the_map_then_stays_still(
    app_server: AppServer, page: Page, request_log: RequestLog
) -> None:
    from playwright.sync_api import expect

    reruns = Reruns(page)
    _open(page, app_server.url + "/")
    _frame_locator(page)
    _settled(page, reruns)  # the first load's own report of the map's view

    before = reruns.count()
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's selection box
    back = page.get_by_role("button", name="Back to the flagged places")
    expect(back).to_be_visible(timeout=TIMEOUT_MS)
    _frame(page).wait_for_function("() => window.map && window.map.getZoom() >= 15")
    page.wait_for_url(re.compile(r"place=\d+"), timeout=TIMEOUT_MS)
    page.wait_for_url(re.compile(r"view=[-\d.]+%2C[-\d.]+%2C16"), timeout=TIMEOUT_MS)
    _idle(page)
    assert reruns.count() - before == 1, (
        "a row click should be one run; the map's move to the place set off more: "
        f"{reruns.sent[before:]}"
    )
    assert _settled(page, reruns) == 0, f"the map kept asking for runs: {reruns.sent[before:]}"

    back.click()
    expect(page.get_by_role("heading", name="Flagged places")).to_be_visible(timeout=TIMEOUT_MS)
    assert _settled(page, reruns) == 0, f"closing the panel set off runs: {reruns.sent[before:]}"
    assert request_log.external() == []


def test_control_a_move_made_by_the_person_is_counted_and_reaches_the_link(
    app_server: AppServer, page: Page
) -> None:
    """The counter sees a run the map asks for (so the test above would catch a loop)."""
    reruns = Reruns(page)
    _open(page, app_server.url + "/")
    _frame_locator(page)
    _settled(page, reruns)
    before = reruns.count()
    frame = _frame(page)
    zoom = float(frame.evaluate("() => map.getZoom()"))
    # a person zooming in (not a move the server asked for): reported, so it runs once
    frame.evaluate("() => map.setView(map.getCenter(), map.getZoom() + 1, {animate: false})")
    page.wait_for_url(
        re.compile(rf"view=[-\d.]+%2C[-\d.]+%2C{re.escape(f'{zoom + 1:g}')}(&|$)"),
        timeout=TIMEOUT_MS,
    )
    _idle(page)
    assert reruns.count() - before >= 1
    assert _settled(page, reruns) == 0
