"""``safer-spaces import incidents|referrals|places FILE``: the command line of the import engine.

Exit status: 0 when a batch was stored (even with rejected rows), 1 when the
file was read but nothing was stored (every row rejected or already stored,
or the same file imported before), 2 when the file could not be imported at
all (the message says why). The report is printed as a table and written as
CSV into the working folder (``$SAFER_SPACES_HOME/reports``, or ``--report``),
never beside the input (which may be on a read-only share); its path is printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.imports.report import ImportFileError, ImportReport, report_path
from services.safe_text import csv_text

__all__ = ["register", "run_import"]


def _engine(url: str | None) -> Any:
    """Connect, create or upgrade the schema, and set up the default area on a new database."""
    from sqlalchemy import func, select

    from store.db import connect, upgrade
    from store.models import District

    engine = connect(url)
    upgrade(engine)
    with engine.connect() as connection:
        has_area = connection.scalar(select(func.count()).select_from(District))
    if not has_area:
        from geo.boundaries import DEFAULT_AREA, district_boundaries
        from services.boundaries import save_boundaries

        print(
            "A new database: setting up the default area (the 9 districts of Staffordshire and "
            "Stoke-on-Trent, approximate outlines)...",
            file=sys.stderr,
            flush=True,
        )
        save_boundaries(
            engine, district_boundaries(DEFAULT_AREA), kind="district", actor="command line"
        )
    return engine


def _write_report(report: ImportReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(report.issues), encoding="utf-8")
    return path.resolve()


def _print_mapping(table: Any, kind: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=max(100, Console().width))
    shown = Table(title="What each category becomes" + (" (context)" if kind == "context" else ""))
    for column in ("value", "rows", "becomes"):
        shown.add_column(column, justify="right" if column == "rows" else "left")
    for row in table.itertuples():
        shown.add_row(str(row.value), f"{row.rows:,}", row.becomes)
    console.print(shown)


def _print_report(report: ImportReport, written: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=max(100, Console().width))
    console.print(f"[bold]Import of {report.file_name}[/bold] ({report.file_format})")
    counts = Table()
    counts.add_column("rows")
    counts.add_column("count", justify="right")
    for name, value in report.counts().items():
        counts.add_row(name, f"{value:,}")
    console.print(counts)
    if report.identifiers_dropped:
        table = Table(title="Identifiers dropped")
        for column in ("column", "holds", "found by", "handling"):
            table.add_column(column)
        for item in report.identifiers_dropped:
            table.add_row(item["column"], item["holds"], item["found by"], item["handling"])
        console.print(table)
    if report.notes:
        table = Table(title="Notes")
        table.add_column("note")
        table.add_column("rows", justify="right")
        for text, value in report.notes.items():
            table.add_row(text, f"{value:,}")
        console.print(table)
    reasons = report.reasons()
    if len(reasons):
        table = Table(title="Rows set aside, by reason")
        for column in ("status", "column", "reason", "rows"):
            table.add_column(column, justify="right" if column == "rows" else "left")
        for row in reasons.head(30).itertuples():
            table.add_row(row.status, row.column, row.reason, f"{row.rows:,}")
        console.print(table)
    console.print(report.summary())
    if written is not None:
        console.print(f"The report (every row set aside, with its reason) is in {written}")


def run_import(args: argparse.Namespace) -> int:
    """Run ``safer-spaces import`` from parsed arguments; return the exit status."""
    from services.access import Viewer
    from services.imports.batch import import_file, inspect_file
    from services.imports.columns import load_mapping_file
    from store.db import DatabaseError

    path = Path(args.file)
    try:
        mapping = load_mapping_file(Path(args.mapping), kind=args.kind) if args.mapping else None
        engine = _engine(args.db)
        from sqlalchemy import select

        from store.models import District

        with engine.connect() as connection:
            codes = tuple(connection.scalars(select(District.code)))
        viewer = Viewer(f"command line ({getpass.getuser()})", "admin", codes)
        plan = inspect_file(engine, path, kind=args.kind, source=args.source, mapping=mapping)
        if len(plan["category_table"]):
            _print_mapping(plan["category_table"], plan["kind"])
        with _progress() as tell:
            report = import_file(
                engine,
                plan["source"],  # the file as inspect_file opened it: not hashed and checked again
                kind=args.kind,
                viewer=viewer,
                source=args.source,
                mapping=mapping,
                progress=tell,
                confirm_mapping=args.confirm_mapping,
            )
    except (ImportFileError, DatabaseError) as error:
        print(f"safer-spaces import: {error}", file=sys.stderr)
        return 2
    written = None
    if report.rows_total:
        target = report_path(path, args.report)
        try:
            written = _write_report(report, target)
        except OSError as error:
            print(
                f"safer-spaces import: the report could not be written ({error}).", file=sys.stderr
            )
    _print_report(report, written)
    return 0 if report.stored else 1


@contextmanager
def _progress() -> Iterator[Any]:
    """Yield a progress callback drawing a bar on a terminal; None when output is redirected."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = bar.add_task("Importing", total=1.0)

    def tell(share: float, text: str) -> None:
        bar.update(task, completed=share, description=text[:70])

    with bar:
        yield tell


def register(subparsers: Any) -> None:
    """Add the ``import`` command to an argparse subparsers object.

    Parameters
    ----------
    subparsers
        From ``ArgumentParser.add_subparsers()``; the handler is stored as
        ``handler`` and returns the exit status.
    """
    command = subparsers.add_parser(
        "import",
        help="Import incidents, referrals or places from a file, anonymised.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read a CSV (any common encoding and delimiter), XLSX, GeoJSON or GeoPackage file,\n"
            "or police.uk's street-level crime CSV (stored as context: public crime of all ages,\n"
            "never as exploitation unless a type is mapped and confirmed); check every row,\n"
            "locate it (coordinates or\n"
            "postcode), drop direct identifiers, pseudonymise references with the key in\n"
            "SAFER_SPACES_PSEUDONYM_KEY, coarsen dates, band ages, snap locations, and store\n"
            "the rows in one transaction. Exit status 0 when stored, 1 when nothing was\n"
            "stored, 2 when the file could not be imported."
        ),
        epilog="example: safer-spaces import incidents 2021-08-staffordshire-street.csv",
    )
    command.add_argument("kind", choices=["incidents", "referrals", "places", "context"])
    command.add_argument("file", help="the file to import")
    command.add_argument(
        "--source",
        help="the source's name; its column mapping is remembered under it "
        "(default: police.uk for police.uk files, else police, social care or place register)",
    )
    command.add_argument("--mapping", help="a TOML mapping file ([columns], [categories])")
    command.add_argument(
        "--report",
        help="where to write the report of rows set aside (default: the working folder, "
        "$SAFER_SPACES_HOME/reports/FILE.<time>.report.csv; never beside the input)",
    )
    command.add_argument(
        "--confirm-mapping",
        action="store_true",
        help="confirm a mapping that turns police.uk crime types into exploitation types "
        "(police.uk crime is all ages; without a mapping it is stored as context only)",
    )
    command.add_argument(
        "--db", help="database URL (default: SAFER_SPACES_DATABASE_URL, secrets.toml, or var/)"
    )
    command.set_defaults(handler=run_import)
