"""The ``safer-spaces`` command line: serve the app, build the demo, manage data."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"


class CommandError(Exception):
    """A failure to report on one line, without a traceback."""


def _database(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from store.db import connect, upgrade

    engine = connect(args.db)
    upgrade(engine)
    return engine


def _demo(args: argparse.Namespace) -> int:
    from data.load import load_demo

    engine = _database(args)
    print("Building the synthetic demo (Staffordshire and Stoke-on-Trent)...", flush=True)
    summary = load_demo(engine, seed=args.seed)
    print(
        f"Stored {summary.districts} districts, {summary.places} places, "
        f"{summary.incidents:,} incidents, {summary.referrals:,} referrals, "
        f"{summary.assessments} assessments and {summary.actions} actions "
        f"in {summary.seconds:.1f} s."
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from config.settings import home_dir

    env = dict(os.environ)
    env["SAFER_SPACES_HOME"] = str(home_dir().resolve())
    if args.db:
        env["SAFER_SPACES_DATABASE_URL"] = args.db
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--server.enableStaticServing",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(f"Safer Spaces on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    cwd = ROOT if (ROOT / ".streamlit" / "config.toml").is_file() else None
    return _run_server(command, env=env, cwd=cwd)


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
STOP_GRACE_S = 15.0  # how long Streamlit may take to stop before it is killed


def _die_with_parent(parent: int) -> None:
    """In the child, before Streamlit starts: be sent SIGTERM when ``serve`` dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # serve died before the line above
            os._exit(1)


def _run_server(command: list[str], *, env: dict[str, str], cwd: Path | None) -> int:
    """Run Streamlit as a child process that stops when ``serve`` stops.

    SIGTERM, SIGINT (Ctrl+C) and SIGHUP sent to ``serve`` are passed on to Streamlit,
    which is given ``STOP_GRACE_S`` seconds to close its sessions before it is killed, so
    the port is free when ``serve`` returns. On Linux the child is also sent SIGTERM if
    ``serve`` itself is killed (SIGKILL). Returns 0 after a requested stop, else
    Streamlit's exit code.
    """
    parent = os.getpid()
    child = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        preexec_fn=(lambda: _die_with_parent(parent)) if os.name == "posix" else None,
    )
    asked: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        asked.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {number: signal.signal(number, forward) for number in STOP_SIGNALS}
    try:
        deadline: float | None = None
        while True:
            try:
                code = child.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if asked and deadline is None:
                    deadline = time.monotonic() + STOP_GRACE_S
                if deadline is not None and time.monotonic() > deadline:
                    child.kill()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0 if asked else code


def _upgrade(args: argparse.Namespace) -> int:
    from store.db import describe_url

    engine = _database(args)
    print(f"The database {describe_url(str(engine.url))} is up to date.")
    return 0


def _boundaries(args: argparse.Namespace) -> int:
    from geo.boundaries import district_boundaries, read_boundary_file
    from services.boundaries import save_boundaries

    if (args.file is None) == (args.approximate is None):
        raise CommandError("give either a boundary FILE or --approximate CODES, not both.")
    engine = _database(args)
    if args.file is not None:
        frame = read_boundary_file(Path(args.file), kind=args.kind)
        origin = Path(args.file).name
    else:
        codes = [code.strip() for code in args.approximate.split(",") if code.strip()]
        frame = district_boundaries(codes)  # cached in config.settings.cache_dir
        origin, args.kind = "the ONS Postcode Directory (approximate)", "district"
    counts = save_boundaries(engine, frame, kind=args.kind, actor="command line")
    print(
        f"Stored {len(frame)} {args.kind} boundaries from {origin}: "
        f"{counts['added']} added, {counts['replaced']} replaced."
    )
    return 0


def _impact_blocks(engine, districts, audience, names):  # type: ignore[no-untyped-def]
    """Return the meeting pack's "Impact of actions" blocks, disclosed for its audience."""
    from dashboard.impact import pack_blocks
    from services import reads
    from services.impact import measure_impact

    figures = measure_impact(engine)
    return pack_blocks(reads.impact(figures, audience, districts=districts, district_names=names))


def _meeting_pack(args: argparse.Namespace) -> int:
    from datetime import date, datetime

    from dashboard.filters import Filters
    from data.load import demo_info
    from reports.meeting import complete_month_end, figures_for
    from reports.pack import CONTEXT_KEY, PackError, pack_context, write_pack
    from services.access import ROLES, Viewer
    from services.audience import audience_of
    from store import queries

    engine = _database(args)
    outlines = queries.load_districts(engine)
    known = dict(zip(outlines["code"], outlines["name"], strict=True))
    chosen = tuple(c.strip() for c in (args.districts or "").split(",") if c.strip())
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise CommandError(
            f"unknown district code(s) {', '.join(unknown)}; known: {', '.join(known)}."
        )
    latest = queries.latest_event_date(engine)
    if latest is None:
        raise CommandError("the database holds no incidents yet, so there is no meeting to report.")
    audience = audience_of(engine, Viewer("command line", args.audience, chosen or tuple(known)))
    filters = Filters(period=args.period, districts=chosen)
    first, last = filters.months(complete_month_end(engine) or latest)  # whole months only
    figures = figures_for(
        engine,
        chosen or tuple(known),
        first=first,
        last=last,
        today=date.today(),
        audience=audience,
    )
    batches = queries.load_import_batches(engine)
    context = pack_context(
        filters=filters.describe(known),
        latest=latest,
        last_import=None if batches.empty else batches["created_at"].max(),
        demo=demo_info(engine) is not None,
        approximate=bool(outlines["source"].str.contains("pprox").any()),
        audience=ROLES[args.audience],
        now=datetime.now(),
    )
    shown = outlines.loc[outlines["code"].isin(chosen or tuple(known))]
    from reports.pack import links_table
    from services import reads

    links = links_table(reads.links(engine, audience, since=first, until=last), known)
    try:
        written = write_pack(
            figures,
            context,
            shown,
            Path(args.out),
            stem=f"meeting-pack-{first}-to-{last}",
            links=links,
            extra={
                "impact": _impact_blocks(engine, chosen or tuple(known), audience, known),
                CONTEXT_KEY: _context_blocks(engine, audience, figures, first, last),
            },
        )
    except PackError as error:
        raise CommandError(str(error)) from error
    print(f"Wrote the meeting pack for {figures.period}: " + ", ".join(str(p) for p in written))
    return 0


def _context_blocks(engine, audience, figures, first: str, last: str) -> list:  # type: ignore[no-untyped-def]
    """Return the pack's context section (police.uk, all ages) read for the pack's audience."""
    from datetime import date

    from reports.pack import context_blocks
    from services import reads

    picture = reads.context(
        engine,
        audience,
        districts=audience.viewer.districts,
        first=date.fromisoformat(f"{first}-01"),
        last=date.fromisoformat(f"{last}-01"),
    )
    return context_blocks(picture, period=figures.period, protected=figures.suppressed, k=figures.k)


def _links(args: argparse.Namespace) -> int:
    """Write the links between places (or their clusters) as CSV: issue 19."""
    import re

    from geo.links import CLUSTER_COLUMNS, LINK_COLUMNS, link_graph
    from services.links import read_members
    from store.audit import log_event

    for name in ("since", "until"):
        value = getattr(args, name)
        if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise CommandError(f"--{name} must be a month written YYYY-MM, not '{value}'.")
    if args.since and args.until and args.since > args.until:
        raise CommandError(f"--since {args.since} comes after --until {args.until}.")
    if args.min_young_people < 0:
        raise CommandError("--min-young-people cannot be negative.")
    engine = _database(args)
    members, districts = read_members(engine, since=args.since, until=args.until)
    graph = link_graph(members, districts=districts, min_young_people=args.min_young_people)
    del members
    frame = graph.clusters if args.clusters else graph.links
    columns = list(CLUSTER_COLUMNS if args.clusters else LINK_COLUMNS)
    out = Path(args.out)
    if out.parent and not out.parent.is_dir():
        raise CommandError(f"the folder {out.parent} does not exist.")
    from services.safe_text import csv_text

    out.write_text(csv_text(frame.loc[:, columns], index=False), encoding="utf-8")
    log_event(
        engine,
        actor="command line",
        action="export links",
        entity="links",
        detail={
            "what": "clusters" if args.clusters else "links",
            "since": args.since,
            "until": args.until,
            "min_young_people": args.min_young_people,
            "rows": len(frame),
        },
    )
    what = "clusters" if args.clusters else "links between places"
    print(f"Wrote {len(frame):,} {what} to {out}.")
    return 0


def _impact(args: argparse.Namespace) -> int:
    from services.impact import csv_table, measure_impact
    from services.safe_text import csv_text

    if args.window_months < 3:
        raise CommandError("--window-months must be at least 3.")
    engine = _database(args)
    figures = measure_impact(engine, window=args.window_months)
    table = csv_table(figures)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"there is no folder {out.parent} to write {out.name} into.")
    partial = out.with_name(f".{out.name}.part")
    try:
        partial.write_text(csv_text(table, index=False), encoding="utf-8")
        partial.replace(out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CommandError(f"could not write {out} ({error.strerror or error}).") from error
    words = {
        "fell": "fell",
        "rose": "rose",
        "no_change": "no clear change",
        "too_few": "too few incidents",
        "too_soon": "too soon",
        "no_comparison": "no comparable places",
    }
    counts = figures.places["verdict"].map(words).value_counts() if len(table) else {}
    print(
        f"Wrote {out}: {len(table)} place(s) with completed actions "
        f"({args.window_months} months before and after; "
        + (", ".join(f"{word}: {n}" for word, n in counts.items()) or "none")
        + "). Exact counts: keep it within the partnership."
    )
    return 0


def _send_reminders(args: argparse.Namespace) -> int:
    """Queue today's due, overdue and weekly e-mails and send every pending one (issue 23)."""
    from datetime import date

    from services.notifications import NotificationError, send_reminders

    engine = _database(args)
    today = date.fromisoformat(args.today) if args.today else None
    try:
        run = send_reminders(engine, today=today, dry_run=args.dry_run)
    except NotificationError as error:
        raise CommandError(str(error)) from error
    kinds: dict[str, int] = {}
    for message in run.queued:
        kinds[message.kind] = kinds.get(message.kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
    if args.dry_run:
        print(f"Dry run: would queue {len(run.queued)} new e-mails ({summary}); "
              f"{run.pending_before} queued earlier are waiting. Nothing was sent.")  # fmt: skip
        for message in run.queued:
            print(f"  {message.kind}\t{message.recipient}\t{message.subject}")
        return 0
    delivery = run.delivery
    assert delivery is not None
    print(
        f"Queued {len(run.queued)} new e-mails ({summary}); sent {len(delivery.sent)}, "
        f"held back {len(delivery.blocked)} (personal details), "
        f"failed {len(delivery.failed)} (kept to retry)."
    )
    if delivery.failed:
        print(f"safer-spaces send-reminders: the SMTP server: {delivery.error}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="safer-spaces",
        description="Safer Spaces: find, assess and change the places where young people "
        "are exploited.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], text: str):  # type: ignore[no-untyped-def]
        command = commands.add_parser(name, help=text, description=text)
        command.set_defaults(handler=handler)
        return command

    db_help = "database URL (default: SAFER_SPACES_DATABASE_URL, secrets.toml, or var/)"
    demo = add("demo", _demo, "Build the synthetic demo into an empty database.")
    demo.add_argument("--db", help=db_help)
    demo.add_argument(
        "--seed", type=int, default=20261122, help="random seed (default %(default)s)"
    )

    serve = add("serve", _serve, "Start the app (the demo is built on the first run).")
    serve.add_argument("--db", help=db_help)
    serve.add_argument("--port", type=int, default=8501, help="port (default %(default)s)")
    serve.add_argument("--address", default="localhost", help="address (default %(default)s)")

    upgrade = add("upgrade", _upgrade, "Create or upgrade the database schema.")
    upgrade.add_argument("--db", help=db_help)

    boundaries = add(
        "boundaries",
        _boundaries,
        "Import official district or ward boundaries (replacing approximate ones), or build "
        "approximate district outlines offline for any ONS district codes.",
    )
    boundaries.add_argument(
        "file", nargs="?", help="GeoJSON, GeoPackage or (zipped) Shapefile, any CRS"
    )
    boundaries.add_argument(
        "--approximate",
        metavar="CODES",
        help="comma-separated ONS district codes, e.g. E07000197,E07000198",
    )
    boundaries.add_argument("--kind", choices=["district", "ward"], default="district")
    boundaries.add_argument("--db", help=db_help)

    meeting = add(
        "meeting-pack",
        _meeting_pack,
        "Write the meeting pack (HTML, PDF and CSV of the figures) into a folder.",
    )
    meeting.add_argument("--out", required=True, help="folder to write the three files into")
    meeting.add_argument(
        "--period",
        choices=["month", "quarter", "year"],
        default="quarter",
        help="the period, ending with the newest month of data (default %(default)s)",
    )
    meeting.add_argument(
        "--districts", metavar="CODES", help="comma-separated ONS codes (default all)"
    )
    meeting.add_argument(
        "--audience",
        choices=["viewer", "lead"],
        default="viewer",
        help="viewer: small counts hidden, for a steering group (default); lead: exact counts",
    )
    meeting.add_argument("--db", help=db_help)

    links = add(
        "links",
        _links,
        "Write the links between places (shared young people and persons of concern) as "
        "CSV, or with --clusters one row per cluster of linked places.",
    )
    links.add_argument("--out", required=True, help="the CSV file to write")
    links.add_argument("--since", metavar="YYYY-MM", help="first month (default: all)")
    links.add_argument("--until", metavar="YYYY-MM", help="last month (default: all)")
    links.add_argument(
        "--min-young-people",
        type=int,
        default=0,
        metavar="N",
        help="keep links shared by at least N young people (default 0: every link, "
        "including those through persons of concern alone)",
    )
    links.add_argument(
        "--clusters", action="store_true", help="one row per cluster instead of per link"
    )
    links.add_argument("--db", help=db_help)
    impact = add(
        "impact",
        _impact,
        "Did it work? For each place with completed actions, incidents near it before and "
        "after its first completed action against comparable places (exact counts, a CSV).",
    )
    impact.add_argument("--out", required=True, help="the CSV file to write, e.g. impact.csv")
    impact.add_argument(
        "--window-months",
        type=int,
        default=6,
        help="months before and after the first completed action (default %(default)s)",
    )
    impact.add_argument("--db", help=db_help)

    reminders = add(
        "send-reminders",
        _send_reminders,
        "Send the e-mails of the day: actions due within 7 days and overdue (to their "
        "owners), the weekly digest, and any that failed before. Safe to run twice: nothing "
        "is sent twice. Run it once a day from cron or a systemd timer.",
    )
    reminders.add_argument(
        "--dry-run", action="store_true", help="say what would be sent; send and record nothing"
    )
    reminders.add_argument(
        "--today", metavar="YYYY-MM-DD", help="the day to run for (default: today)"
    )
    reminders.add_argument("--db", help=db_help)

    from cli.hotspots import register
    from cli.imports import register as register_import

    register(commands)
    register_import(commands)
    from services.text_checks import register as register_check_text

    register_check_text(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] in (["hotspots"], ["emerging"]):  # issue 21: a fast start, no database layer
        from cli.hotspots import main as analysis_main

        return analysis_main(words)  # (it reports its own errors)
    args = build_parser().parse_args(argv)
    from data.load import DemoError
    from geo.boundaries import BoundaryError
    from services.boundaries import BoundaryStoreError
    from store.db import DatabaseError

    try:
        return int(args.handler(args))
    except (DatabaseError, DemoError, BoundaryError, BoundaryStoreError, CommandError) as error:
        print(f"safer-spaces {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
