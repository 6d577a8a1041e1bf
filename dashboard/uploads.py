"""Uploaded extracts on disk only for the script run that reads them.

An upload (names, NHS numbers, everything in the extract) is held in memory by
Streamlit while the browser has it. The import reads files by path, so each script
run writes a private copy with :func:`held_upload` and removes it in a ``finally``,
whatever happens: an import, an error, or a person who signs out or closes the tab
without pressing Import leaves nothing behind. :func:`sweep` removes what a process
that was killed mid-run left; the app calls it once when a process starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["STALE_SECONDS", "held_upload", "sweep", "sweep_once", "upload_root", "write_copy"]

#: A copy older than this is left over, even if its process still runs (a run never lasts so long).
STALE_SECONDS = 6 * 3600
_swept = threading.Lock()
_done = False


def upload_root() -> Path:
    """Return the private folder that holds uploads while a run reads them (made 0700)."""
    root = Path(tempfile.gettempdir()) / "safer-spaces-uploads"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


@contextmanager
def held_upload(upload: Any) -> Iterator[Path]:
    """Yield a private on-disk copy of an ``st.file_uploader`` file; remove it on leaving.

    The copy lives in a folder of its own named after this process, so :func:`sweep`
    can tell a live run's copy from one a killed process left.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=upload_root()))
    try:
        path = folder / (Path(upload.name).name or "upload")
        with open(path, "wb") as stream:
            stream.write(upload.getvalue())
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_copy(upload: Any) -> Path:
    """Write a private copy of an upload for this run and return its path.

    The caller removes it in a ``finally`` (the Data page does); the name starts with
    this process's id so that :func:`sweep` can tell a live run's copy from a left-over.
    """
    handle, name = tempfile.mkstemp(
        prefix=f"{os.getpid()}-", suffix=f"-{Path(upload.name).name}", dir=upload_root()
    )
    with os.fdopen(handle, "wb") as stream:
        stream.write(upload.getvalue())
    return Path(name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(root: Path | None = None, *, now: float | None = None) -> list[Path]:
    """Remove left-over uploads: of processes that no longer run, or older than STALE_SECONDS.

    Returns what was removed. Names that do not start with a process id (the layout
    before this module) are always left-overs.
    """
    root = root or upload_root()
    now = time.time() if now is None else now
    removed = []
    for entry in root.iterdir():
        pid_text = entry.name.split("-", 1)[0]
        try:
            age = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        owner_gone = not (pid_text.isdigit() and _running(int(pid_text)))
        if owner_gone or age > STALE_SECONDS:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def sweep_once() -> None:
    """Sweep left-over uploads the first time this process asks (the app calls it each run)."""
    global _done
    if _done:
        return
    with _swept:
        if not _done:
            sweep()
            _done = True
