"""How long each script run takes on the server, written to a file when asked for.

Set ``SAFER_SPACES_TIMINGS`` to a file path and every run of the app appends one line:
the time, the process id, the page, the seconds the run took on the server (from the
script's start to its end, whatever ended it) and the CPU seconds the run's own thread
used (which, unlike the wall clock, does not grow when the machine is busy).
``benchmarks/bench_load.py`` reads it to tell the server's share of an interaction from
the browser's, ``benchmarks/bench_sessions.py`` the CPU a run costs. Unset, nothing is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from config.settings import raw

__all__ = ["ENVIRONMENT", "label", "read", "read_cpu", "timed"]

ENVIRONMENT = "SAFER_SPACES_TIMINGS"
_PAGE: ContextVar[str] = ContextVar("page", default="(before the page)")


def label(page: str) -> None:
    """Name the page this run is showing, for its line."""
    _PAGE.set(page)


@contextmanager
def timed() -> Iterator[None]:
    """Time the block and append a line to the file named by ``SAFER_SPACES_TIMINGS``."""
    path = raw("timings")
    if not path:
        yield
        return
    _PAGE.set("(before the page)")
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
        line = f"{time.time():.3f}\t{os.getpid()}\t{_PAGE.get()}\t{seconds:.4f}\t{cpu:.4f}\n"
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(line)


def read(path: Path) -> list[tuple[float, int, str, float]]:
    r"""Return the lines of a timings file as (time, process id, page, seconds).

    The CPU column (:func:`read_cpu`) is left out, so older files read the same.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "t.tsv"
    >>> _ = file.write_text("1.0\t7\tMap\t0.25\n")
    >>> read(file)
    [(1.0, 7, 'Map', 0.25)]
    """
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        at, pid, page, seconds = line.split("\t")[:4]
        rows.append((float(at), int(pid), page, float(seconds)))
    return rows


def read_cpu(path: Path) -> list[tuple[float, int, str, float, float]]:
    r"""Return the lines of a timings file as (time, process id, page, seconds, CPU seconds).

    Lines written before the CPU column existed are left out.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "t.tsv"
    >>> _ = file.write_text("1.0\t7\tMap\t0.25\t0.125\n2.0\t7\tMap\t0.5\n")
    >>> read_cpu(file)
    [(1.0, 7, 'Map', 0.25, 0.125)]
    """
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 5:
            at, pid, page, seconds, cpu = fields[:5]
            rows.append((float(at), int(pid), page, float(seconds), float(cpu)))
    return rows
