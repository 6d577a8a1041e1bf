"""Twenty-five people at once: the app under load in real browsers, and two app processes.

The app is started with ``streamlit run`` on loopback (one process per ``--servers``, each
on its own port, all against the one database given), then ``--users`` Playwright browser
contexts in Debian's Chromium (``--browsers`` browser processes) work through a realistic
mix for ``--duration`` seconds, each as one of the demo accounts (lead, officer, viewer in
turn), each held to one app process as a sticky proxy would. Before the people arrive,
each process serves one sign-in page and the benchmark waits for its warm-up
(``dashboard/warm.py``), as on a deployment that has been up for a while:

1. sign in (once);
2. open the Map (until the Leaflet map is drawn);
3. change a filter (the period);
4. open a place panel (click a flagged place on the map, until "Why it was flagged" shows);
5. open an assessment (Assessments > All assessments > Open, then back to the queue);
6. open the Meeting page;

with a pause between steps (``--think``, 3 to 8 s: reading the screen) and people arriving
one every ``--ramp`` seconds. An interaction's time runs from the click to the
end of the app's run with the expected content on screen. An error is a step that timed
out or a page that showed an exception or the "database unavailable" notice.

Printed: per step and overall, the count, median, 95th percentile and worst time and the
errors, as the browsers saw them; the same for the server's own time of every script run,
by page (``SAFER_SPACES_TIMINGS``, see ``dashboard/timings.py``), which tells the app's
share from the browsers' when both share the machine; per app process, its CPU time,
mean CPU use and peak memory (resident set of the process and its children, read from
``/proc``: Linux); where the machine's CPU went (browsers, app processes, database); and,
with two processes, a check that both serve the same figures from the shared database.

Targets on a 2-core machine: no errors, 95th percentile < 3 s on PostgreSQL, server
memory < 4 GB. Note that the browsers run on the same 2 cores as the app: on a real
deployment each person's browser runs on their own computer. ``--browser-nice 19`` runs
every browser thread at the lowest priority, so that the app is not starved by its load.

Run (a generated database, see ``benchmarks/generate.py``)::

    .venv/bin/python benchmarks/bench_load.py postgresql+psycopg://user@127.0.0.1/safer_bench
    .venv/bin/python benchmarks/bench_load.py sqlite:///var/bench-1m.db --servers 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import timings  # noqa: E402
from dashboard.resilience import MESSAGE as UNAVAILABLE  # noqa: E402

PASSWORD = "safer-spaces-demo"
ACCOUNTS = ("lead", "officer", "viewer")
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
MARKER = ".leaflet-marker-pane .awesome-marker.leaflet-interactive"
PERIODS = ("Last 12 months", "Last 3 months", "Last month")
STEP_TIMEOUT_MS = 60_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The app processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One ``streamlit run`` process, and what was measured of it."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    samples: list[tuple[float, int]] = field(default_factory=list)  # (cpu seconds, rss bytes)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(url: str, home: Path) -> Server:
    port = free_port()
    log = home / f"streamlit-{port}.log"
    env = {
        **os.environ,
        "SAFER_SPACES_DATABASE_URL": url,
        "SAFER_SPACES_HOME": str(home),
        timings.ENVIRONMENT: str(home / "timings.tsv"),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    server = Server(port, process, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"streamlit did not start:\n{log.read_text()[-3000:]}")


async def _first_page(server: Server) -> None:
    """Open the sign-in page once: the first page served starts the app's warm-up."""
    from playwright.async_api import async_playwright, expect

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(server.url)
        button = page.get_by_role("button", name="Sign in", exact=True)
        await expect(button).to_be_visible(timeout=STEP_TIMEOUT_MS)
        await browser.close()


def warm_up(servers: list[Server], path: Path, timeout: float = 900) -> dict[int, float]:
    """Start each process's warm-up (``dashboard/warm.py``) and wait for it; return seconds.

    A deployed app warms once it has served its first page and keeps warm after that; the
    people of the benchmark arrive at an app that has been up for a while.
    """
    for server in servers:
        asyncio.run(_first_page(server))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = timings.read(path) if path.exists() else []
        failed = [pid for _, pid, page, _ in rows if page == "(warm-up failed)"]
        if failed:
            raise SystemExit(f"the warm-up failed in process {failed[0]}: see its log")
        done = {pid: seconds for _, pid, page, seconds in rows if page == "(warm-up)"}
        if all(server.process.pid in done for server in servers):
            return {server.port: done[server.process.pid] for server in servers}
        time.sleep(1)
    raise SystemExit(f"the app processes did not warm up within {timeout:.0f} s")


GROUPS = {"chromium": "browsers", "chrome": "browsers", "postgres": "database"}


@dataclass(frozen=True)
class Process:
    """One process as read from ``/proc`` (Linux)."""

    group: str  # browsers, database or other (see GROUPS)
    parent: int
    cpu: float  # seconds, user + system
    rss: int  # resident bytes


def processes() -> dict[int, Process]:
    """Read every process on the machine once: its group, parent, CPU time and memory."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            resident = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError):
            continue
        group = next((g for prefix, g in GROUPS.items() if name.startswith(prefix)), "other")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        found[int(entry.name)] = Process(group, int(fields[1]), cpu, resident * page)
    return found


def _usage(pid: int, found: dict[int, Process]) -> tuple[float, int]:
    """Return CPU seconds and resident bytes of a process and its descendants."""
    children: dict[int, list[int]] = {}
    for member, process in found.items():
        children.setdefault(process.parent, []).append(member)
    cpu, rss, todo = 0.0, 0, [pid]
    while todo:
        current = todo.pop()
        if current in found:
            cpu += found[current].cpu
            rss += found[current].rss
        todo.extend(children.get(current, []))
    return cpu, rss


def _machine_cpu(
    seen: dict[int, tuple[str, float, float]], found: dict[int, Process], *, new_from_zero: bool
) -> None:
    """Update, for every process on the machine, its group and first and latest CPU seconds.

    The groups are the browsers (Chromium), the database (PostgreSQL) and the rest (the
    app processes, this script and anything else). A process that has ended keeps its
    last reading, so a closed browser context still counts. A process first seen with
    ``new_from_zero`` started after the first reading and counts whole.
    """
    for pid, process in found.items():
        first = seen[pid][1] if pid in seen else (0.0 if new_from_zero else process.cpu)
        seen[pid] = (process.group, first, process.cpu)


def _renice_browsers(machine: dict[int, tuple[str, float, float]], nice: int, done: set) -> None:
    """Lower the CPU priority of every browser thread not yet lowered (nice is per thread)."""
    for pid, (group, _, _) in machine.items():
        if group != "browsers":
            continue
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                if int(task.name) not in done:
                    with contextlib.suppress(OSError):
                        os.setpriority(os.PRIO_PROCESS, int(task.name), nice)
                    done.add(int(task.name))


def sample(
    servers: list[Server],
    stop: threading.Event,
    machine: dict[int, tuple[str, float, float]],
    browser_nice: int = 0,
) -> None:
    _machine_cpu(machine, processes(), new_from_zero=False)
    reniced: set[int] = set()
    while not stop.is_set():
        found = processes()
        for server in servers:
            server.samples.append(_usage(server.process.pid, found))
        _machine_cpu(machine, found, new_from_zero=True)
        if browser_nice:
            _renice_browsers(machine, browser_nice, reniced)
        stop.wait(0.5)


# The people ------------------------------------------------------------------------------


@dataclass
class Record:
    timings: list[tuple[str, int, float]] = field(default_factory=list)  # step, port, seconds
    errors: list[tuple[str, int, str]] = field(default_factory=list)


async def settle(page, timeout_ms: int = STEP_TIMEOUT_MS) -> None:
    """Wait for the app's run that a click started to finish."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the run may be over before it is seen
        await page.wait_for_selector('[data-test-script-state="running"]', timeout=1_500)
    await page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout_ms)


async def check_page(page) -> None:
    if await page.get_by_test_id("stException").count():
        text = await page.get_by_test_id("stException").first.inner_text()
        raise RuntimeError(f"exception on the page: {text.splitlines()[0]}")
    if await page.get_by_text(UNAVAILABLE).count():
        raise RuntimeError("the database was unavailable")


async def nav(page, name: str) -> None:
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    await settle(page)


async def sign_in(page, base: str, username: str) -> None:
    from playwright.async_api import expect

    await page.goto(base)
    signed_in = page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
    form = page.get_by_label("Username", exact=True)
    # a reload after a failed step may find the person still signed in (they stay signed in)
    await expect(form.or_(signed_in).first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    if await form.count():
        await form.fill(username, timeout=STEP_TIMEOUT_MS)
        await page.locator('input[type="password"]').fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(signed_in).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await settle(page)


async def map_drawn(page) -> None:
    from playwright.async_api import expect

    frame = page.frame_locator(MAP_IFRAME)
    await expect(frame.locator(".leaflet-container")).to_be_visible(timeout=STEP_TIMEOUT_MS)


async def open_map(page, state: dict) -> None:
    await nav(page, "Map")
    await map_drawn(page)


async def choose(page, box, option: int | str) -> None:
    """Open a Streamlit select box and pick an option, by position or by name.

    A click may only close a list another select box left open, so it tries again.
    """
    from playwright.async_api import expect

    combobox = box.get_by_role("combobox")
    await combobox.scroll_into_view_if_needed()
    options = page.get_by_role("option")
    for _ in range(5):
        await combobox.click()
        try:
            await expect(options.first).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            await page.keyboard.press("Escape")
    if isinstance(option, str):
        text = option
    else:
        text = (await options.nth(min(option, await options.count() - 1)).inner_text()).strip()
    # By keyboard, as tests/e2e/conftest.choose: the option list floats after its box a frame
    # late, and on a busy machine never stood still for a click (60 s timeouts).
    await combobox.press("ControlOrMeta+a")
    await combobox.press_sequentially(text)
    await combobox.press("Enter")
    await settle(page)


async def change_filter(page, state: dict) -> None:
    state["period"] = (state.get("period", 0) + 1) % len(PERIODS)
    box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    await choose(page, box, PERIODS[state["period"]])
    await map_drawn(page)


async def place_panel(page, state: dict) -> None:
    from playwright.async_api import expect

    frame = page.frame_locator(MAP_IFRAME)
    markers = frame.locator(MARKER)
    await expect(markers.first).to_be_attached(timeout=STEP_TIMEOUT_MS)
    count = await markers.count()
    await markers.nth(state["rng"].randrange(min(count, 20))).click(force=True)
    await expect(page.get_by_text("Why it was flagged").first).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )
    await settle(page)


async def open_assessment(page, state: dict) -> None:
    from playwright.async_api import expect

    await nav(page, "Assessments")
    await page.get_by_role("tab", name="All assessments").click()
    box = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text("Assessment to open", exact=True)
    )
    await choose(page, box, state["rng"].randrange(10))
    await page.get_by_role("button", name="Open", exact=True).last.click()
    back = page.get_by_role("button", name="Back to my queue")
    await expect(back).to_be_visible(timeout=STEP_TIMEOUT_MS)
    await settle(page)
    await back.click()
    await settle(page)


async def open_meeting(page, state: dict) -> None:
    from playwright.async_api import expect

    await nav(page, "Meeting")
    await expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=STEP_TIMEOUT_MS)


STEPS = (
    ("open map", open_map),
    ("change filter", change_filter),
    ("place panel", place_panel),
    ("open assessment", open_assessment),
    ("meeting page", open_meeting),
)


async def person(
    n: int,
    browser,
    server: Server,
    deadline: float,
    record: Record,
    ramp: float,
    think: tuple[float, float],
) -> None:
    await asyncio.sleep(n * ramp)
    rng = random.Random(n)
    state: dict = {"rng": rng}
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    username = ACCOUNTS[n % len(ACCOUNTS)]

    async def timed(name: str, step, *args) -> bool:
        started = time.perf_counter()
        try:
            await step(page, *args)
            await check_page(page)
        except Exception as error:
            record.errors.append((name, server.port, str(error).strip().splitlines()[0][:160]))
            return False
        record.timings.append((name, server.port, time.perf_counter() - started))
        return True

    try:
        if not await timed("sign in", sign_in, server.url, username):
            return
        await timed("open map", map_drawn)
        while time.monotonic() < deadline:
            for name, step in STEPS:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(rng.uniform(*think))
                if not await timed(name, step, state):
                    await page.goto(server.url)  # start again from a fresh page
                    await timed("sign in", sign_in, server.url, username)
                    break
    finally:
        await context.close()


async def drive(
    servers: list[Server],
    users: int,
    browsers: int,
    duration: float,
    ramp: float,
    think: tuple[float, float],
) -> Record:
    from playwright.async_api import async_playwright

    record = Record()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        launched = [
            await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for _ in range(browsers)
        ]
        deadline = time.monotonic() + users * ramp + duration
        await asyncio.gather(
            *(
                person(
                    n,
                    launched[n % browsers],
                    servers[n % len(servers)],
                    deadline,
                    record,
                    ramp,
                    think,
                )
                for n in range(users)
            )
        )
        for browser in launched:
            await browser.close()
    return record


async def figures_from(server: Server) -> str:
    """Sign in as the lead on one app process and read the Meeting page's headline figures."""
    from playwright.async_api import async_playwright, expect

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await sign_in(page, server.url, "lead")
        await nav(page, "Meeting")
        metrics = page.get_by_test_id("stMetric")
        await expect(metrics.first).to_be_visible(timeout=STEP_TIMEOUT_MS)
        texts = [await metrics.nth(i).inner_text() for i in range(await metrics.count())]
        await browser.close()
    return " | ".join(t.replace("\n", " ") for t in texts)


# The tables ------------------------------------------------------------------------------


def timing_table(record: Record) -> pd.DataFrame:
    frame = pd.DataFrame(record.timings, columns=["step", "port", "seconds"])
    errors = pd.DataFrame(record.errors, columns=["step", "port", "error"])
    rows = []
    names = [name for name, _ in STEPS]
    for name in ["sign in", *names, "all"]:
        chosen = frame if name == "all" else frame.loc[frame["step"] == name]
        failed = len(errors) if name == "all" else int((errors["step"] == name).sum())
        values = chosen["seconds"].to_numpy()
        rows.append(
            {
                "step": name,
                "count": len(values),
                "median s": round(float(statistics.median(values)), 2) if len(values) else None,
                "p95 s": round(float(pd.Series(values).quantile(0.95)), 2) if len(values) else None,
                "max s": round(float(values.max()), 2) if len(values) else None,
                "errors": failed,
            }
        )
    return pd.DataFrame(rows)


def server_table(servers: list[Server], seconds: float) -> pd.DataFrame:
    rows = []
    for server in servers:
        cpu = [c for c, _ in server.samples]
        rss = [r for _, r in server.samples]
        used = cpu[-1] - cpu[0] if len(cpu) > 1 else 0.0
        rows.append(
            {
                "app process": f":{server.port}",
                "CPU s": round(used, 1),
                "mean CPU %": round(100 * used / max(seconds, 1e-9)),
                "peak memory MB": round(max(rss) / 2**20) if rss else None,
            }
        )
    return pd.DataFrame(rows)


def machine_table(
    machine: dict[int, tuple[str, float, float]], servers: list[Server], seconds: float
) -> pd.DataFrame:
    """Where the machine's CPU went: browsers, app processes and database, in core-seconds."""
    used: dict[str, float] = {}
    for group, first, last in machine.values():
        used[group] = used.get(group, 0.0) + last - first
    app = sum(s.samples[-1][0] - s.samples[0][0] for s in servers if len(s.samples) > 1)
    groups = {
        "browsers": used.get("browsers", 0.0),
        "app processes": app,
        "database": used.get("database", 0.0),
    }
    cores = os.cpu_count() or 1
    return pd.DataFrame(
        [
            {
                "part": name,
                "CPU s": round(used, 1),
                "share of the machine %": round(100 * used / (seconds * cores)),
            }
            for name, used in groups.items()
        ]
    )


def run_table(path: Path) -> pd.DataFrame:
    """Server time of every script run by page: what the app itself took, without browsers."""
    if not path.exists():
        return pd.DataFrame()
    runs = pd.DataFrame(timings.read(path), columns=["at", "pid", "page", "seconds"])
    runs = runs.loc[~runs["page"].str.startswith("(warm-up")]  # reported on its own
    rows = []
    for page, chosen in [*runs.groupby("page"), ("all", runs)]:
        values = chosen["seconds"]
        rows.append(
            {
                "page": page,
                "runs": len(values),
                "median s": round(float(values.median()), 2),
                "p95 s": round(float(values.quantile(0.95)), 2),
                "max s": round(float(values.max()), 2),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    from store.db import describe_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the database (made by benchmarks/generate.py)")
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--duration", type=float, default=180, help="seconds of the mix")
    parser.add_argument("--servers", type=int, default=2, help="app processes (ports)")
    parser.add_argument("--browsers", type=int, default=2, help="Chromium processes")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds between arrivals")
    parser.add_argument("--think", default="3,8", help="pause between steps, min,max seconds")
    parser.add_argument(
        "--browser-nice",
        type=int,
        default=0,
        help="run the browsers at this lower CPU priority (1-19), so that the app's share of "
        "the machine is not taken by the load generator (each person has their own computer)",
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    print(
        f"{args.users} people for {args.duration:.0f} s on {args.servers} app process(es), "
        f"{describe_url(args.url)}; browsers at nice {args.browser_nice}; logs in {home}",
        flush=True,
    )
    servers = [start_server(args.url, home) for _ in range(args.servers)]
    warmed = warm_up(servers, home / "timings.tsv")
    print("warm-up of each app process (s):", warmed, flush=True)
    stop = threading.Event()
    machine: dict[int, tuple[str, float, float]] = {}
    sampler = threading.Thread(
        target=sample, args=(servers, stop, machine, args.browser_nice), daemon=True
    )
    started = time.monotonic()
    sampler.start()
    try:
        think = tuple(float(v) for v in args.think.split(","))
        record = asyncio.run(
            drive(servers, args.users, args.browsers, args.duration, args.ramp, think)  # type: ignore[arg-type]
        )
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        figures = (
            [asyncio.run(figures_from(server)) for server in servers] if len(servers) > 1 else []
        )
    finally:
        stop.set()
        for server in servers:
            server.process.terminate()
            try:
                server.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.process.kill()

    print()
    print(timing_table(record).to_string(index=False))
    print()
    print("server time of each script run (the app's own share of the interactions):")
    print(run_table(home / "timings.tsv").to_string(index=False))
    print()
    print(server_table(servers, seconds).to_string(index=False))
    print()
    print(f"where the machine's CPU went ({os.cpu_count()} cores):")
    print(machine_table(machine, servers, seconds).to_string(index=False))
    by_port = pd.DataFrame(record.timings, columns=["step", "port", "seconds"]).groupby("port")
    print()
    print("interactions served by each app process:", by_port.size().to_dict())
    if figures:
        same = len(set(figures)) == 1
        print(f"both app processes show the same Meeting figures: {'yes' if same else 'NO'}")
        for server, text in zip(servers, figures, strict=True):
            print(f"  :{server.port}  {text[:200]}")
    if record.errors:
        print()
        print("errors (first 10):")
        for step, port, error in record.errors[:10]:
            print(f"  {step} on :{port}: {error}")
    print()
    print("targets: no errors, p95 < 3 s (PostgreSQL), server memory < 4,096 MB")


if __name__ == "__main__":
    main()
