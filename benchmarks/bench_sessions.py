"""Many sessions without many browsers: the app under load from protocol-level clients.

Each simulated person is one WebSocket to Streamlit's ``/_stcore/stream``, speaking its
protocol with Streamlit's own protobuf classes (``BackMsg`` out, ``ForwardMsg`` in), as
the browser does: it signs in, then works through a realistic mix by sending the widget
states a browser would send (widget ids read from the ``ForwardMsg`` deltas, values as
the browser encodes them, the map component's value after a click, the sign-in timer's
fragment reruns every 30 s, the browser's cache of large messages). Steps, with reading
time between them (``--think``):

1. sign in (once);
2. open the Map (then the map component's first value, as Leaflet sends it on drawing);
3. change a filter (the period, in turn);
4. open a place panel (a click on a flagged place's marker; the panel's "Why it was
   flagged" must show);
5. open an assessment (Assessments > "Assessment to open" > Open, then "Back to my queue");
6. the Meeting page, then two slides on ("Next").

Each step is timed from the request (``BackMsg``) to the end of the script run it
started (``script_finished``, after any rerun the script asked for). An error is a step
that timed out (``--timeout``), a page that showed an exception or the "database
unavailable" notice, or a page without what the step needs (e.g. no "Sign out" after
signing in). The clients run in this one process (asyncio); its CPU time is reported.

At the same time one real Chromium (Playwright, Debian's ``/usr/bin/chromium``, at the
lowest CPU priority) does the same steps on the first app process and reports what a
person would feel: from the click to the content on screen (``--no-browser`` to skip).

Printed per level of sessions (``--levels``): per step, the count, median, 95th
percentile and worst time and the errors, for the protocol clients and for the browser;
per app process, its CPU time, mean CPU use and peak memory (``/proc``: Linux); the load
clients' own CPU; and the machine's load (``uptime``) before and after.

Run, with the demo loaded into PostgreSQL (``safer-spaces demo --db URL``) or a generated
database (``benchmarks/generate.py``)::

    nice -n 15 .venv/bin/python benchmarks/bench_sessions.py \\
        postgresql+psycopg://postgres@127.0.0.1:55432/safer_demo --levels 25,50,100

Targets: no errors; 95th percentile < 3 s at 25 sessions (50 and 100 reported).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PASSWORD = "safer-spaces-demo"
ACCOUNTS = ("lead", "officer", "viewer")
PERIODS = ("Last 12 months", "Last 3 months", "Last month")
UNAVAILABLE = "The database is unavailable"
STEP_TIMEOUT_S = 120.0
FINISHED = ForwardMsg.ScriptFinishedStatus
DONE = {FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
CACHE_RUNS = 2  # the browser forgets a cached message not used for this many runs
ROWS = re.compile(r"\}\)\((\[\[.*?\]\])\);", re.S)  # a layer's rows, drawn by its function


class StepError(Exception):
    """A step that did not get what a person would have seen."""


# The protocol client ---------------------------------------------------------------------


@dataclass
class Shown:
    """One element on the page, with the fragment that drew it."""

    element: Element
    fragment: str


@dataclass
class AppSession:
    """One browser tab's conversation with a Streamlit server, without the browser.

    ``send`` reruns the script with the widget states the browser would hold, ``elements``
    is what the page shows after the last finished run (by delta path).
    """

    base_url: str
    timeout: float = STEP_TIMEOUT_S
    elements: dict[tuple[int, ...], Shown] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)  # page name -> script hash
    page_hash: str = ""
    query_string: str = ""
    values: dict[str, WidgetState] = field(default_factory=dict)
    timers: dict[str, float] = field(default_factory=dict)  # fragment id -> interval s
    problems: list[str] = field(default_factory=list)
    received_bytes: int = 0
    _cache: dict[str, tuple[ForwardMsg, int]] = field(default_factory=dict)
    _runs: int = 0
    _pending: dict[tuple[int, ...], Shown] = field(default_factory=dict)
    _finished: asyncio.Queue[int] | None = None
    _ws: Any = None
    _reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect and run the first page, as a browser opening the address does."""
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        parts = urlsplit(self.base_url)
        self._finished = asyncio.Queue()
        self._ws = await connect(
            f"ws://{parts.netloc}/_stcore/stream",
            subprotocols=[Subprotocol("streamlit")],
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,  # as a browser: no keep-alive pings to answer
        )
        self._reader = asyncio.create_task(self._read())
        await self.send()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # Messages in

    async def _read(self) -> None:
        assert self._finished is not None
        try:
            async for data in self._ws:
                self.received_bytes += len(data)
                message = ForwardMsg()
                message.ParseFromString(data)
                self._take(message)
        except Exception as error:  # the connection went: every waiting step fails
            self.problems.append(f"connection lost: {error!r}"[:160])
        finally:
            self._finished.put_nowait(-1)

    def _take(self, message: ForwardMsg) -> None:
        assert self._finished is not None
        if message.ref_hash:  # a large message the browser said it had cached
            cached = self._cache.get(message.ref_hash)
            if cached is None:
                self.problems.append(f"unknown cached message {message.ref_hash}")
                return
            full = ForwardMsg()
            full.CopyFrom(cached[0])
            full.metadata.CopyFrom(message.metadata)
            self._cache[message.ref_hash] = (cached[0], self._runs)
            message = full
        elif message.metadata.cacheable and message.hash:
            self._cache[message.hash] = (message, self._runs)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self._runs += 1
            fragments = set(message.metadata.run.fragment_ids)
            self._pending = (
                {p: s for p, s in self.elements.items() if s.fragment not in fragments}
                if fragments
                else {}
            )
            self.page_hash = message.new_session.page_script_hash or self.page_hash
        elif kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in message.navigation.app_pages}
        elif kind == "delta":
            delta = message.delta
            path = tuple(message.metadata.delta_path)
            if delta.WhichOneof("type") == "new_element":
                self._pending[path] = Shown(delta.new_element, delta.fragment_id)
            elif delta.WhichOneof("type") == "add_block":  # a block replaces what was there
                depth = len(path)
                for old in [p for p in self._pending if p[:depth] == path]:
                    del self._pending[old]
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.timers[message.auto_rerun.fragment_id] = message.auto_rerun.interval
        elif kind == "script_finished":
            status = message.script_finished
            if status in DONE:
                self.elements = self._pending
                self._pending = dict(self.elements)
                active = {self.widget_id(s.element) for s in self.elements.values()}
                self.values = {k: v for k, v in self.values.items() if k in active}
                self._cache = {
                    h: (m, run) for h, (m, run) in self._cache.items()
                    if self._runs - run <= CACHE_RUNS
                }  # fmt: skip
            self._finished.put_nowait(int(status))

    # Messages out

    async def send(
        self,
        *,
        page: str | None = None,
        fragment: str = "",
        auto: bool = False,
        trigger: str | None = None,
    ) -> float:
        """Rerun the script as the browser would; return seconds until the run finished.

        ``page`` moves to another page (by name) with a fresh address, ``fragment`` reruns
        only that fragment, ``trigger`` is a button's id pressed for this run only.
        """
        assert self._finished is not None
        while not self._finished.empty():  # runs the server started by itself
            self._finished.get_nowait()
        message = BackMsg()
        state = message.rerun_script
        if page is not None:
            self.page_hash = self.pages[page]
            self.query_string = ""
        state.query_string = self.query_string
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment
        state.is_auto_rerun = auto
        state.widget_states.widgets.extend(self.values.values())
        if trigger is not None:
            state.widget_states.widgets.add(id=trigger, trigger_value=True)
        state.cached_message_hashes.extend(self._cache)
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-GB"
        info.url = f"{self.base_url}/?{self.query_string}"
        started = time.perf_counter()
        await self._ws.send(message.SerializeToString())
        deadline = started + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise StepError(f"no answer within {self.timeout:.0f} s")
            try:
                status = await asyncio.wait_for(self._finished.get(), left)
            except TimeoutError:
                raise StepError(f"no answer within {self.timeout:.0f} s") from None
            if status == -1:
                raise StepError(self.problems[-1] if self.problems else "connection closed")
            if status == FINISHED.FINISHED_EARLY_FOR_RERUN:
                continue  # the script asked for a rerun (st.rerun): wait for that one
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                raise StepError("the script did not compile")
            seconds = time.perf_counter() - started
            self.check()
            return seconds

    # Reading the page

    @staticmethod
    def widget_id(element: Element) -> str:
        kind = element.WhichOneof("type")
        return str(getattr(getattr(element, kind), "id", "")) if kind else ""

    def find(self, kind: str, label: str | None = None, *, key: str | None = None) -> Any:
        """Return the first element of a kind (``selectbox``...) with a label or key."""
        for shown in sorted(self.elements.items()):
            element = shown[1].element
            if element.WhichOneof("type") != kind:
                continue
            proto = getattr(element, kind)
            if label is not None and getattr(proto, "label", None) != label:
                continue
            if key is not None and not str(getattr(proto, "id", "")).endswith(f"-{key}"):
                continue
            return proto
        raise StepError(f"no {kind} {label or key!r} on the page")

    def texts(self) -> list[str]:
        out = []
        for shown in self.elements.values():
            element = shown.element
            kind = element.WhichOneof("type")
            if kind in ("markdown", "heading", "alert"):
                out.append(getattr(element, kind).body)
            elif kind == "metric":
                out.append(element.metric.label)
        return out

    def check(self) -> None:
        """Raise when the page shows an exception or the database notice."""
        for shown in self.elements.values():
            if shown.element.WhichOneof("type") == "exception":
                exception = shown.element.exception
                raise StepError(f"exception on the page: {exception.type}: {exception.message}")
        if any(UNAVAILABLE in text for text in self.texts()):
            raise StepError("the database was unavailable")

    def fragment_of(self, widget: Any) -> str:
        for shown in self.elements.values():
            if self.widget_id(shown.element) == widget.id:
                return shown.fragment
        return ""

    def set(self, widget: Any, **value: Any) -> None:
        """Hold a widget's value as the browser would (``string_value="..."``...)."""
        state = WidgetState(id=widget.id)
        for name, v in value.items():
            if name == "string_array_value":
                state.string_array_value.data.extend(v)
            else:
                setattr(state, name, v)
        self.values[widget.id] = state


# The people's steps ----------------------------------------------------------------------


async def sign_in(session: AppSession, state: dict) -> float:
    seconds = 0.0
    if not session.elements:
        await session.open()
    session.set(session.find("text_input", "Username"), string_value=state["username"])
    session.set(
        session.find("text_input", "Password"), string_value=state.get("password", PASSWORD)
    )
    submit = session.find("button", "Sign in")
    seconds += await session.send(trigger=submit.id)
    session.find("button", "Sign out")  # signed in
    return seconds


def _map_value(session: AppSession, state: dict, click: tuple[float, float, str] | None) -> str:
    """The map component's value as ``st_folium`` sends it (last click, view)."""
    centre = state.setdefault("centre", (52.8, -2.0))
    if click is not None:
        state["clicks"] = state.get("clicks", 0) + 1
    lat, lng = centre
    return json.dumps(
        {
            "last_object_clicked": None if click is None else {"lat": click[0], "lng": click[1]},
            "last_object_clicked_count": state.get("clicks", 0),
            "last_object_clicked_tooltip": None if click is None else click[2],
            "bounds": {
                "_southWest": {"lat": lat - 0.45, "lng": lng - 0.55},
                "_northEast": {"lat": lat + 0.45, "lng": lng + 0.55},
            },
            "zoom": 9.25,
            "center": {"lat": lat, "lng": lng},
        },
        separators=(",", ":"),
    )


def _markers(component: Any) -> list[tuple[float, float, str]]:
    """Flagged places' pins in the map component's arguments: lat, lng, tooltip text.

    The flagged places layer (``dashboard/maps.py``) draws its pins from rows of
    ``[lat, lng, icon, colour, name, what, why]``; the tooltip a click reports is the
    text of name, what, "Flagged: " why and "Click for details".
    """
    layers = json.loads(component.json_args).get("feature_group") or ""
    found = []
    for rows in ROWS.findall(layers):
        with contextlib.suppress(ValueError):
            for row in json.loads(rows):
                if len(row) >= 7 and isinstance(row[4], str):
                    why = f"Flagged: {row[6]}" if row[6] else ""
                    found.append((row[0], row[1], f"{row[4]}{row[5]}{why}Click for details"))
    return found


async def _map_drawn(session: AppSession, state: dict) -> float:
    """After the map is drawn, Leaflet sends its view once (a fragment rerun)."""
    component = session.find("component_instance")
    markers = _markers(component)
    if markers:
        state["centre"] = (
            statistics.fmean(m[0] for m in markers),
            statistics.fmean(m[1] for m in markers),
        )
    session.set(component, json_value=_map_value(session, state, None))
    return await session.send(fragment=session.fragment_of(component))


async def open_map(session: AppSession, state: dict) -> float:
    seconds = await session.send(page="Map")
    session.find("component_instance")
    state["follow-up"] = ("map view", _map_drawn)
    return seconds


async def change_filter(session: AppSession, state: dict) -> float:
    box = session.find("selectbox", "Period")
    state["period"] = (state.get("period", 0) + 1) % len(PERIODS)
    session.set(box, string_value=PERIODS[state["period"]])
    seconds = await session.send()
    session.find("component_instance")
    return seconds


async def place_panel(session: AppSession, state: dict) -> float:
    component = session.find("component_instance")
    markers = _markers(component)
    if not markers:
        raise StepError("no flagged place on the map")
    click = state["rng"].choice(markers[:20])
    session.set(component, json_value=_map_value(session, state, click))
    seconds = await session.send(fragment=session.fragment_of(component))
    if not any("Why it was flagged" in text for text in session.texts()):
        raise StepError(f"no place panel after a click on {click[2][:40]!r}")
    return seconds


async def open_assessment(session: AppSession, state: dict) -> float:
    seconds = await session.send(page="Assessments")
    box = session.find("selectbox", "Assessment to open")
    options = list(box.options)
    if not options:
        raise StepError("no assessment to open")
    session.set(box, string_value=state["rng"].choice(options[:10]))
    seconds += await session.send()
    opened = session.find("button", key="assess_pick_any_open")
    seconds += await session.send(trigger=opened.id)
    back = session.find("button", "Back to my queue")
    seconds += await session.send(trigger=back.id)
    session.find("selectbox", "Assessment to open")
    return seconds


async def open_meeting(session: AppSession, state: dict) -> float:
    seconds = await session.send(page="Meeting")
    session.find("metric")
    return seconds


async def next_slide(session: AppSession, state: dict) -> float:
    button = session.find("button", "Next")
    if button.disabled:
        raise StepError("the last slide is already shown")
    return await session.send(trigger=button.id)


STEPS = (
    ("open map", open_map),
    ("change filter", change_filter),
    ("place panel", place_panel),
    ("open assessment", open_assessment),
    ("meeting page", open_meeting),
    ("next slide", next_slide),
    ("next slide", next_slide),
)


@dataclass
class Record:
    timings: list[tuple[str, int, float]] = field(default_factory=list)  # step, port, seconds
    errors: list[tuple[str, int, str]] = field(default_factory=list)


async def person(
    n: int,
    base_url: str,
    port: int,
    deadline: float,
    record: Record,
    *,
    ramp: float,
    think: tuple[float, float],
    timeout: float = STEP_TIMEOUT_S,
) -> None:
    """One simulated person: sign in, then the steps in turn until the deadline."""
    await asyncio.sleep(n * ramp)
    rng = random.Random(n)
    state: dict[str, Any] = {"rng": rng, "username": ACCOUNTS[n % len(ACCOUNTS)]}
    session = AppSession(base_url, timeout=timeout)
    next_timer = time.monotonic() + 30.0

    async def timed(name: str, step) -> bool:  # type: ignore[no-untyped-def]
        try:
            seconds = await step(session, state)
        except (StepError, OSError) as error:
            record.errors.append((name, port, str(error).strip().splitlines()[0][:160]))
            return False
        record.timings.append((name, port, seconds))
        follow = state.pop("follow-up", None)
        if follow is not None:
            return await timed(*follow)
        return True

    async def read(seconds: float) -> None:
        """Reading time; the sign-in timer's fragment reruns in the meantime, as in a tab."""
        nonlocal next_timer
        until = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if next_timer <= min(until, deadline) and session.timers:
                await asyncio.sleep(max(0.0, next_timer - now))
                fragment, interval = next(iter(session.timers.items()))
                with contextlib.suppress(StepError, OSError):
                    record.timings.append(
                        ("(timer check)", port, await session.send(fragment=fragment, auto=True))
                    )
                next_timer = time.monotonic() + interval
                continue
            await asyncio.sleep(max(0.0, min(until, deadline) - now))
            return

    try:
        if not await timed("sign in", sign_in):
            return
        while time.monotonic() < deadline:
            for name, step in STEPS:
                await read(rng.uniform(*think))
                if time.monotonic() >= deadline:
                    break
                if not await timed(name, step):
                    await session.close()  # start again, as a person reloading the page
                    session = AppSession(base_url, timeout=timeout)
                    state.pop("clicks", None)
                    if not await timed("sign in", sign_in):
                        return
                    break
    finally:
        await session.close()


# The person in a real browser ------------------------------------------------------------


async def browser_person(
    base_url: str, port: int, deadline: float, record: Record, *, think: tuple[float, float]
) -> None:
    """The same steps in Chromium, timed from the click to the content on screen."""
    import bench_load as bl
    from playwright.async_api import async_playwright, expect

    async def open_map_(page, state):  # type: ignore[no-untyped-def]
        await bl.open_map(page, state)

    async def next_slide_(page, state):  # type: ignore[no-untyped-def]
        await page.get_by_role("button", name="Next").click()
        await bl.settle(page)
        await expect(page.get_by_role("heading").first).to_be_visible()

    steps = (
        ("open map", open_map_),
        ("change filter", bl.change_filter),
        ("place panel", bl.place_panel),
        ("open assessment", bl.open_assessment),
        ("meeting page", bl.open_meeting),
        ("next slide", next_slide_),
        ("next slide", next_slide_),
    )
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    rng = random.Random(-1)
    state: dict[str, Any] = {"rng": rng, "period": 0}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=bl.CHROMIUM_ARGS)
        renice_browsers()
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(bl.STEP_TIMEOUT_MS)

        async def timed(name: str, step, *args) -> bool:  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                await step(page, *args)
                await bl.check_page(page)
            except Exception as error:
                record.errors.append((name, port, str(error).strip().splitlines()[0][:160]))
                return False
            record.timings.append((name, port, time.perf_counter() - started))
            return True

        if await timed("sign in", bl.sign_in, base_url, "lead"):
            while time.monotonic() < deadline:
                for name, step in steps:
                    await asyncio.sleep(rng.uniform(*think))
                    renice_browsers()
                    if time.monotonic() >= deadline:
                        break
                    if not await timed(name, step, state):
                        await timed("sign in", bl.sign_in, base_url, "lead")
                        break
        await browser.close()


def renice_browsers(nice: int = 19) -> None:
    """Run every Chromium thread at the lowest priority: the person's own computer."""
    import bench_load as bl

    for pid, process in bl.processes().items():
        if process.group != "browsers":
            continue
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


# Running a level -------------------------------------------------------------------------


async def drive(
    servers: list[Any],
    sessions: int,
    *,
    duration: float,
    ramp: float,
    think: tuple[float, float],
    browser: bool,
    timeout: float,
) -> tuple[Record, Record]:
    """Run ``sessions`` protocol clients (split between the servers) and one browser."""
    record, felt = Record(), Record()
    deadline = time.monotonic() + sessions * ramp + duration
    people = [
        person(
            n,
            servers[n % len(servers)].url,
            servers[n % len(servers)].port,
            deadline,
            record,
            ramp=ramp,
            think=think,
            timeout=timeout,
        )
        for n in range(sessions)
    ]
    if browser:
        people.append(browser_person(servers[0].url, servers[0].port, deadline, felt, think=think))
    await asyncio.gather(*people)
    return record, felt


async def first_page(url: str) -> None:
    """Open the sign-in page once: the first page served starts the app's warm-up."""
    session = AppSession(url, timeout=300)
    await session.open()
    session.find("button", "Sign in")
    await session.close()


def warm_up(servers: list[Any], path: Path, timeout: float = 900) -> dict[int, float]:
    """Start each process's warm-up (``dashboard/warm.py``) and wait for it; return seconds."""
    from dashboard import timings

    for server in servers:
        asyncio.run(first_page(server.url))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = timings.read(path) if path.exists() else []
        if any(page == "(warm-up failed)" for _, _, page, _ in rows):
            raise SystemExit("the warm-up failed in an app process: see its log")
        done = {pid: seconds for _, pid, page, seconds in rows if page == "(warm-up)"}
        if all(server.process.pid in done for server in servers):
            return {server.port: round(done[server.process.pid], 1) for server in servers}
        time.sleep(1)
    raise SystemExit(f"the app processes did not warm up within {timeout:.0f} s")


def step_table(record: Record) -> pd.DataFrame:
    frame = pd.DataFrame(record.timings, columns=["step", "port", "seconds"])
    errors = pd.DataFrame(record.errors, columns=["step", "port", "error"])
    names = ["sign in", *dict.fromkeys(name for name, _ in STEPS), "map view", "(timer check)"]
    rows = []
    for name in [*names, "all steps"]:
        chosen = (
            frame.loc[frame["step"] != "(timer check)"]
            if name == "all steps"
            else frame.loc[frame["step"] == name]
        )
        failed = len(errors) if name == "all steps" else int((errors["step"] == name).sum())
        values = chosen["seconds"]
        if values.empty and not failed:
            continue
        rows.append(
            {
                "step": name,
                "count": len(values),
                "median s": round(float(values.median()), 2) if len(values) else None,
                "p95 s": round(float(values.quantile(0.95)), 2) if len(values) else None,
                "max s": round(float(values.max()), 2) if len(values) else None,
                "errors": failed,
            }
        )
    return pd.DataFrame(rows)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run_level(servers: list[Any], sessions: int, args: argparse.Namespace) -> dict[str, Any]:
    import bench_load as bl

    think = tuple(float(v) for v in args.think.split(","))
    for server in servers:
        server.samples.clear()
    stop = threading.Event()
    machine: dict[int, tuple[str, float, float]] = {}
    sampler = threading.Thread(target=bl.sample, args=(servers, stop, machine), daemon=True)
    before = uptime()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    level_start = time.time()
    sampler.start()
    try:
        record, felt = asyncio.run(
            drive(
                servers,
                sessions,
                duration=args.duration,
                ramp=args.ramp,
                think=think,  # type: ignore[arg-type]
                browser=not args.no_browser,
                timeout=args.timeout,
            )
        )
    finally:
        stop.set()
        sampler.join()
    seconds = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    return {
        "sessions": sessions,
        "seconds": seconds,
        "record": record,
        "felt": felt,
        "servers": bl.server_table(servers, seconds),
        "machine": bl.machine_table(machine, servers, seconds),
        "client_cpu": client_cpu,
        "uptime": (before, uptime()),
        "runs": run_cpu_table(servers[0].log.parent / "timings.tsv", level_start),
    }


def run_cpu_table(path: Path, since: float) -> pd.DataFrame:
    """Per page, the app processes' script runs of the level: wall and CPU seconds.

    The CPU seconds are the run's own thread's (``dashboard/timings.py``): what a run
    costs the server, whatever the machine's load; the wall clock adds the queue for the
    cores. Page "(before the page)" is the sign-in page and the timer's fragment runs.
    """
    from dashboard import timings

    rows = [r for r in timings.read_cpu(path) if r[0] >= since] if path.exists() else []
    frame = pd.DataFrame(rows, columns=["at", "pid", "page", "seconds", "cpu"])
    frame = frame.loc[~frame["page"].str.startswith("(warm-up")]
    table = frame.groupby("page").agg(
        runs=("cpu", "size"),
        wall_median=("seconds", "median"),
        cpu_median=("cpu", "median"),
        cpu_p95=("cpu", lambda v: v.quantile(0.95)),
        cpu_total=("cpu", "sum"),
    )
    table.columns = ["runs", "wall median s", "CPU median s", "CPU p95 s", "CPU total s"]
    return table.round(3).reset_index()


def report(level: dict[str, Any]) -> None:
    sessions, seconds = level["sessions"], level["seconds"]
    print(f"\n=== {sessions} sessions, {seconds:.0f} s ===")
    print("protocol clients (server time per step, request to script finished):")
    print(step_table(level["record"]).to_string(index=False))
    if level["felt"].timings or level["felt"].errors:
        print("\none person in Chromium at the same time (click to content on screen):")
        print(step_table(level["felt"]).to_string(index=False))
    print("\nscript runs on the app processes (CPU: the run's own thread, whatever the load):")
    print(level["runs"].to_string(index=False))
    print()
    print(level["servers"].to_string(index=False))
    cpu = level["client_cpu"]
    print(
        f"\nload clients (this process, {sessions} sessions): {cpu:.1f} CPU s, "
        f"{100 * cpu / seconds:.1f} % of a core, "
        f"{1000 * cpu / seconds / sessions:.1f} ms of CPU per session per second"
    )
    print(f"where the machine's CPU went ({os.cpu_count()} cores):")
    print(level["machine"].to_string(index=False))
    print("machine before:", level["uptime"][0])
    print("machine after: ", level["uptime"][1])
    errors = level["record"].errors + level["felt"].errors
    if errors:
        print("errors (first 10):")
        for step, port, error in errors[:10]:
            print(f"  {step} on :{port}: {error}")


def summary(levels: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for level in levels:
        frame = pd.DataFrame(level["record"].timings, columns=["step", "port", "seconds"])
        steps = frame.loc[frame["step"] != "(timer check)", "seconds"]
        felt = pd.DataFrame(level["felt"].timings, columns=["step", "port", "seconds"])["seconds"]
        servers = level["servers"]
        runs = level["runs"].set_index("page")
        rows.append(
            {
                "sessions": level["sessions"],
                "steps": len(steps),
                "errors": len(level["record"].errors),
                "median s": round(float(steps.median()), 2) if len(steps) else None,
                "p95 s": round(float(steps.quantile(0.95)), 2) if len(steps) else None,
                "browser median s": round(float(felt.median()), 2) if len(felt) else None,
                "browser p95 s": round(float(felt.quantile(0.95)), 2) if len(felt) else None,
                "browser errors": len(level["felt"].errors),
                "app CPU % (each)": " / ".join(str(v) for v in servers["mean CPU %"]),
                "app peak MB (each)": " / ".join(str(v) for v in servers["peak memory MB"]),
                "client CPU ms/session/s": round(
                    1000 * level["client_cpu"] / level["seconds"] / level["sessions"], 1
                ),
                "Map run CPU median s": (
                    runs.loc["Map", "CPU median s"] if "Map" in runs.index else None
                ),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    import bench_load as bl

    from store.db import describe_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the database (the demo, or made by benchmarks/generate.py)")
    parser.add_argument("--levels", default="25,50,100", help="sessions per level, in turn")
    parser.add_argument("--duration", type=float, default=150, help="seconds per level")
    parser.add_argument("--servers", type=int, default=2, help="app processes (ports)")
    parser.add_argument("--ramp", type=float, default=0.5, help="seconds between arrivals")
    parser.add_argument("--think", default="10,30", help="reading time, min,max seconds")
    parser.add_argument("--timeout", type=float, default=STEP_TIMEOUT_S, help="per request")
    parser.add_argument("--no-browser", action="store_true", help="no Chromium beside them")
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="do not wait for the app processes to warm their caches (the first people pay)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the app processes too
    if args.no_warm_up:
        os.environ["SAFER_SPACES_WARM"] = "0"

    home = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    print(
        f"levels {args.levels} on {args.servers} app process(es), {describe_url(args.url)}, "
        f"{args.duration:.0f} s each, reading {args.think} s; logs in {home}",
        flush=True,
    )
    servers = [bl.start_server(args.url, home) for _ in range(args.servers)]
    levels = []
    try:
        if not args.no_warm_up:
            print("warm-up of each app process (s):", warm_up(servers, home / "timings.tsv"))
        for sessions in (int(v) for v in args.levels.split(",")):
            level = run_level(servers, sessions, args)
            report(level)
            levels.append(level)
    finally:
        for server in servers:
            server.process.terminate()
            try:
                server.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.process.kill()
    print("\n=== summary (protocol clients: server time per step; browser: what a person felt)")
    print(summary(levels).to_string(index=False))
    print("targets: no errors; p95 < 3 s at 25 sessions")


if __name__ == "__main__":
    main()
