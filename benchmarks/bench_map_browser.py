# ruff: noqa: B023  (each lambda runs within its own loop iteration)
"""The Map in one real Chromium: ten common interactions, input to settled screen.

The app is started with ``streamlit run`` on loopback against the database given (by
default a fresh SQLite file, which the app fills with the demo on its first start), with
base map tiles off (``SAFER_SPACES_MAP_TILES=none``: no network). One Chromium (Debian's,
through Playwright) at 1366x768 signs in as the demo safeguarding lead and, ``--rounds``
times, works through:

1. open the Map (from the Places page), 2. change the period, 3. the exploitation type,
4. the district, 5. switch a layer, 6. click a pin, 7. close the panel, 8. click a row of
the flagged table, 9. a playback step, 10. open the Places page.

An interaction's time runs from the input to the **settled screen**: the expected content
is there, Streamlit has finished its run, and neither a message from the server nor a long
browser task (over 50 ms, in the page or the map's frame) has come for 600 ms; the time
is to the end of the last of these. The browser's CPU is the user and system time of
Chromium's processes (``/proc``, Linux) over the same span.

Printed: per interaction, the count, median, 95th percentile and worst time and the median
browser CPU seconds; and the same over all interactions. Targets (issue 22): median
<= 1 s and 95th percentile <= 2 s on a quiet machine.

Run::

    .venv/bin/python benchmarks/bench_map_browser.py                       # the demo
    .venv/bin/python benchmarks/bench_map_browser.py sqlite:///var/bench-1m.db --rounds 3
    .venv/bin/python benchmarks/bench_map_browser.py --url http://127.0.0.1:8501  # running app
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dashboard.flag_table import ROW_PX  # noqa: E402  (the flagged table's rows)

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
MARKER = ".leaflet-marker-pane .awesome-marker.leaflet-interactive"
CLUSTER = ".leaflet-marker-pane .place-cluster"
PASSWORD = "safer-spaces-demo"
TIMEOUT_MS = 120_000
QUIET_MS = 600
NO_ANSWER_MS = 5_000  # an input the server never answers is settled when it did nothing
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]

# In every frame: the end of the last long task, and of the last WebSocket message.
WATCH = """
(() => {
    window.__busyUntil = 0;
    try {
        new PerformanceObserver((list) => {
            for (const e of list.getEntries()) {
                window.__busyUntil = Math.max(window.__busyUntil,
                    performance.timeOrigin + e.startTime + e.duration);
            }
        }).observe({type: "longtask", buffered: true});
    } catch (e) {}
    const Native = window.WebSocket;
    if (Native && !Native.__watched) {
        window.WebSocket = function (...args) {
            const socket = new Native(...args);
            socket.addEventListener("message", () => {
                window.__busyUntil = Math.max(window.__busyUntil, Date.now());
            });
            return socket;
        };
        window.WebSocket.prototype = Native.prototype;
        Object.assign(window.WebSocket, Native);
        window.WebSocket.__watched = true;
    }
})();
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the app on a free loopback port; return the process and its URL."""
    port = free_port()
    env = {
        **os.environ,
        "SAFER_SPACES_DATABASE_URL": database,
        "SAFER_SPACES_HOME": str(home),
        "SAFER_SPACES_MAP_TILES": "none",
        "SAFER_SPACES_TIMINGS": str(home / "timings.txt"),  # to see the warm-up end
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = (home / "streamlit.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited: see {home / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("streamlit did not start within 10 minutes")


def wait_for_warm_up(home: Path | None) -> None:
    """Wait until the app's background warm-up (``dashboard.warm``) has finished.

    It computes every audience's opening views once after the first page; timing while it
    runs measures the warm-up's competition for the 2 cores and the GIL (a first close of
    the panel took 16 s in round 1, 1 s in round 2), not the interaction.
    """
    if home is None:  # an app started elsewhere: its warm-up cannot be seen
        return
    from dashboard.timings import read

    path, started = home / "timings.txt", time.monotonic()
    while time.monotonic() - started < 900:
        if path.exists() and any(line[2].startswith("(warm-up") for line in read(path)):
            print(f"(waited {time.monotonic() - started:.0f} s for the app's warm-up)", flush=True)
            return
        time.sleep(1)
    print("(the app's warm-up did not finish within 15 minutes: timing anyway)", flush=True)


def chromium_cpu() -> float:
    """CPU seconds (user + system) of every Chromium process started under this one."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            names[int(entry.name)] = (entry / "comm").read_text().strip()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    me, total = os.getpid(), 0.0
    for pid, name in names.items():
        if not name.startswith(("chrom", "headless")):
            continue
        ancestor = parents.get(pid)
        while ancestor and ancestor != me:
            ancestor = parents.get(ancestor)
        if ancestor == me:
            total += cpu.get(pid, 0.0)
    return total


@dataclass
class Record:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float, cpu: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)
        self.cpu.setdefault(name, []).append(cpu)


def settle(page, started_ms: float, *, answer: bool = False) -> float:
    """Wait for the settled screen; return when it settled (epoch ms).

    With ``answer``, the screen must first have answered the input (a server message or a
    long task after ``started_ms``), unless nothing came for ``NO_ANSWER_MS``.
    """
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    status = page.get_by_test_id("stStatusWidget")
    while time.monotonic() < deadline:
        busy = started_ms
        for frame in page.frames:
            try:
                busy = max(busy, float(frame.evaluate("() => window.__busyUntil || 0")))
            except Exception:  # a frame replaced meanwhile
                continue
        now = float(page.evaluate("() => Date.now()"))
        try:  # the status widget may go between the count and the read
            running = status.count() > 0 and "Running" in (
                status.first.inner_text(timeout=1_000) or ""
            )
        except Exception:  # gone: not running
            running = False
        answered = not answer or busy > started_ms or now - started_ms >= NO_ANSWER_MS
        if answered and not running and now - busy >= QUIET_MS:
            return busy
        page.wait_for_timeout(100)
    raise TimeoutError("the screen did not settle within the timeout")


def timed(
    record: Record, name: str, page, act: Callable[[], float | None], done: Callable[[], None]
) -> None:
    """Run one interaction and record its time and the browser's CPU.

    ``act`` may return when the input itself was made (epoch ms), if it first had to get
    ready for it (reopen a list a rerun closed): the time then starts there.
    """
    cpu = chromium_cpu()
    started = float(page.evaluate("() => Date.now()"))
    made = act()
    if made is not None:
        started = max(started, made)
    done()
    shown = float(page.evaluate("() => Date.now()"))  # the expected content is there
    end = max(settle(page, started, answer=True), shown)
    record.add(name, (end - started) / 1000, chromium_cpu() - cpu)
    spent = record.cpu[name][-1]
    print(f"  {name:<22} {(end - started) / 1000:6.2f} s  (browser CPU {spent:.2f} s)", flush=True)


def run(url: str, rounds: int, record: Record, home: Path | None = None) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.add_init_script(WATCH)
        page.goto(url)
        button = page.get_by_role("button", name="Sign in", exact=True)
        expect(button).to_be_visible(timeout=600_000)  # a fresh demo is built first
        page.get_by_label("Username", exact=True).fill("lead")
        page.locator('input[type="password"]').fill(PASSWORD)
        button.click()
        page.wait_for_selector(MAP_IFRAME, timeout=600_000)  # cold caches: not timed
        frame = page.frame_locator(MAP_IFRAME)
        expect(frame.locator(CLUSTER).first).to_be_visible(timeout=600_000)
        settle(page, float(page.evaluate("() => Date.now()")))
        wait_for_warm_up(home)
        sidebar = page.get_by_test_id("stSidebar")
        nav = page.get_by_test_id("stSidebarNav")
        flagged = page.get_by_test_id("stMetric").filter(has_text="Flagged places")

        def pick(label: str, option: str) -> None:
            box = sidebar.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label))
            box.get_by_role("combobox").click()
            page.get_by_role("option", name=option).first.click()

        def multi(index: int, option: str | None) -> Callable[[], float | None]:
            """Open a sidebar list at its option (not timed); return the choosing click.

            Opening the list is the browser's own widget, not an answer from the app:
            the time starts at the click on the option. (It used to include the retries
            when a first click only closed a list left open, 3 s each.)
            """
            box = sidebar.get_by_test_id("stMultiSelect").nth(index)
            combobox = box.get_by_role("combobox")
            if option is None:  # remove the one chosen
                combobox.focus()
                page.keyboard.press("Backspace")
                page.keyboard.press("Escape")
                return lambda: None
            wanted = page.get_by_role("option", name=option, exact=True).first

            def opened() -> None:
                for attempt in range(5):  # a click may only close a list left open
                    combobox.click()
                    if attempt:  # a rerun may have redrawn the list: narrow it to the option
                        page.keyboard.type(option)
                    try:
                        expect(wanted).to_be_visible(timeout=3_000)
                        return
                    except AssertionError:
                        page.keyboard.press("Escape")
                        settle(page, float(page.evaluate("() => Date.now()")))

            opened()

            def choose() -> float:
                if not wanted.is_visible():  # a rerun closed the list meanwhile
                    opened()
                made = float(page.evaluate("() => Date.now()"))
                wanted.click()
                page.keyboard.press("Escape")
                return made

            return choose

        nav.get_by_role("link", name="Places").click()
        expect(page.get_by_role("heading", name="Places").first).to_be_visible(timeout=TIMEOUT_MS)
        settle(page, float(page.evaluate("() => Date.now()")))
        try:
            _rounds(page, frame, sidebar, nav, flagged, rounds, record, pick, multi)
        except Exception:
            shot = Path(tempfile.gettempdir()) / "bench-map-failure.png"
            page.screenshot(path=shot)
            print(f"failed; the screen is in {shot}", flush=True)
            raise
        browser.close()


def _rounds(page, frame, sidebar, nav, flagged, rounds, record, pick, multi) -> None:
    """The ten interactions, ``rounds`` times."""
    from playwright.sync_api import expect

    if True:
        for number in range(rounds):
            print(f"round {number + 1} of {rounds}", flush=True)
            drawn = frame.locator(f"{CLUSTER}, {MARKER}").first  # the map keeps its view
            timed(record, "open Map", page,
                  lambda: nav.get_by_role("link", name="Map").click(),
                  lambda: expect(drawn).to_be_attached(timeout=TIMEOUT_MS))  # fmt: skip
            before = flagged.inner_text()
            period = ("Last 12 months", "Last 3 months")[number % 2 == 1]
            timed(record, "change period", page, lambda: pick("Period", period),
                  lambda: expect(flagged).not_to_have_text(before, timeout=TIMEOUT_MS))  # fmt: skip
            before = flagged.inner_text()
            choose = multi(0, "Missing episode")
            timed(record, "change type", page, choose,
                  lambda: expect(flagged).not_to_have_text(before, timeout=TIMEOUT_MS))  # fmt: skip
            multi(0, None)
            settle(page, float(page.evaluate("() => Date.now()")))
            before = flagged.inner_text()
            choose = multi(3, "Stafford")
            timed(record, "change district", page, choose,
                  lambda: expect(flagged).not_to_have_text(before, timeout=TIMEOUT_MS))  # fmt: skip
            multi(3, None)
            settle(page, float(page.evaluate("() => Date.now()")))
            pills = page.get_by_role("toolbar", name="Layers").get_by_role("button", name="Density")
            timed(record, "switch a layer", page, lambda: pills.click(),
                  lambda: expect(pills).to_have_attribute("aria-pressed", "true",
                                                          timeout=TIMEOUT_MS))  # fmt: skip
            pills.click()
            settle(page, float(page.evaluate("() => Date.now()")))
            # bring a pin into view: open clusters until single pins show (not timed)
            _map_in_view(page)
            for _ in range(8):
                if frame.locator(MARKER).count() > 0:
                    break
                _click_on_map(page, _central(frame, frame.locator(CLUSTER)))
                page.wait_for_timeout(800)
            back = page.get_by_role("button", name="Back to the flagged places")
            page.wait_for_timeout(1_500)  # the clusters' zoom animation
            # each zoom sends the view to the server (for the link): let those runs finish
            settle(page, float(page.evaluate("() => Date.now()")))
            if frame.locator(MARKER).count() == 0:
                print("  (no single pin came into view: click a pin skipped)", flush=True)
            else:
                _map_in_view(page)
                pin = _central(frame, frame.locator(MARKER))
                # the panel's last part (after its trend, assessments, actions and impact):
                # "why it was flagged" shows first, while the rest is still being computed
                timed(record, "click a pin", page,
                      lambda: _click_on_map(page, pin),
                      lambda: expect(page.get_by_role("button", name="Start an assessment")
                                     ).to_be_visible(timeout=TIMEOUT_MS))  # fmt: skip
                timed(record, "close the panel", page, lambda: back.click(),
                      lambda: _list_shown(page, back))  # fmt: skip
            row = _row_point(page, number % 5)
            timed(record, "click a table row", page,
                  lambda: page.mouse.click(*row),
                  lambda: expect(page.get_by_role("button", name="Start an assessment")
                                 ).to_be_visible(timeout=TIMEOUT_MS))  # fmt: skip
            back.click()
            _list_shown(page, back)
            settle(page, float(page.evaluate("() => Date.now()")))
            slider = page.get_by_test_id("stSlider").filter(has_text="Hot spots month by month")
            label = slider.get_by_test_id("stSliderThumbValue")
            shown = label.inner_text()
            play = page.locator(".st-key-map_play")  # not the header's own "Stop"
            timed(record, "a playback step", page,
                  lambda: play.get_by_role("button", name="Play").click(),
                  lambda: expect(label).not_to_have_text(shown, timeout=TIMEOUT_MS))  # fmt: skip
            play.get_by_role("button", name="Stop").click()
            settle(page, float(page.evaluate("() => Date.now()")))
            expect(play.get_by_role("button", name="Play")).to_be_visible(timeout=TIMEOUT_MS)
            slider.get_by_role("slider").focus()
            page.keyboard.press("Home")
            expect(label).to_have_text("Whole period", timeout=TIMEOUT_MS)
            settle(page, float(page.evaluate("() => Date.now()")))
            timed(record, "open Places", page,
                  lambda: nav.get_by_role("link", name="Places").click(),
                  lambda: expect(page.get_by_role("heading", name="Places").first).to_be_visible(
                      timeout=TIMEOUT_MS))  # fmt: skip


def _map_in_view(page) -> None:
    """Scroll the page so the whole map is on screen, below Streamlit's fixed header.

    The layer pills and the table scroll the page; a pin left under the header (or above
    the screen) takes no click: the click lands on the header, not in the map's frame.
    """
    page.locator(MAP_IFRAME).evaluate(
        "(el) => el.scrollIntoView({block: 'center', inline: 'nearest'})"
    )
    page.wait_for_timeout(300)  # the scroll to land


def _click_on_map(page, item) -> None:
    """Click a pin or cluster at its middle, after checking nothing covers that point."""
    box = item.bounding_box()
    if box is None:
        raise AssertionError("the pin to click is not drawn")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.tagName || ''", [x, y])
    if hit != "IFRAME":
        raise AssertionError(f"the pin at ({x:.0f}, {y:.0f}) is covered by a {hit or 'nothing'}")
    page.mouse.click(x, y)


def _list_shown(page, back) -> None:
    """The panel has closed: the flagged places' list is back."""
    from playwright.sync_api import expect

    expect(back).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Flagged places")).to_be_visible(timeout=TIMEOUT_MS)


def _row_point(page, row: int) -> tuple[float, float]:
    """Where to click to select a row of the flagged table: its selection box, in view.

    The table is a canvas: a row is found by its place (a 35 px header, ``ROW_PX`` rows). The
    page may have been scrolled by what came before (the map's panel is longer than the
    table), so the table is brought to the middle of the screen first and the point is
    checked to be on screen.
    """
    from playwright.sync_api import expect

    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    table.evaluate("(el) => el.scrollIntoView({block: 'center', inline: 'nearest'})")
    page.wait_for_timeout(300)  # the scroll to land
    box = table.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    x, y = box["x"] + 16, box["y"] + 35 + ROW_PX // 2 + ROW_PX * row
    if not (0 < y < viewport["height"] and 0 < x < viewport["width"]):
        raise AssertionError(f"the table's row {row} is off screen at ({x:.0f}, {y:.0f})")
    return x, y


def _central(frame, items):
    """The item nearest the middle of the map (in view, clear of the controls)."""
    box = frame.locator(".leaflet-container").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def distance(i: int) -> float:
        b = items.nth(i).bounding_box() or {"x": 1e9, "y": 1e9, "width": 0, "height": 0}
        return (b["x"] + b["width"] / 2 - cx) ** 2 + (b["y"] + b["height"] / 2 - cy) ** 2

    return items.nth(min(range(items.count()), key=distance))


def table(record: Record) -> str:
    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    rows = ["| interaction | n | median s | p95 s | worst s | browser CPU s (median) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    everything: list[float] = []
    cpus: list[float] = []
    for name, values in record.seconds.items():
        everything += values
        cpus += record.cpu[name]
        rows.append(
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | {p95(values):.2f} "
            f"| {max(values):.2f} | {statistics.median(record.cpu[name]):.2f} |"
        )
    if everything:
        rows.append(
            f"| **all** | {len(everything)} | {statistics.median(everything):.2f} | "
            f"{p95(everything):.2f} | {max(everything):.2f} | {statistics.median(cpus):.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", nargs="?", help="database URL (default: a fresh demo)")
    parser.add_argument("--url", help="an app already running (its tiles should be off)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    record = Record()
    process = None
    with tempfile.TemporaryDirectory(prefix="bench-map-") as folder:
        home = Path(folder)
        try:
            if args.url:
                url = args.url.rstrip("/")
            else:
                database = args.database or f"sqlite:///{home / 'demo.db'}"
                process, url = start_server(database, home)
            run(url, args.rounds, record, None if args.url else home)
        finally:
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
            print()  # what was measured, also when a step failed
            print(table(record))
            print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
