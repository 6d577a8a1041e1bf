"""Stopping ``safer-spaces serve`` stops its Streamlit child and frees the port.

``serve`` runs Streamlit as a child process. Before issue 21 a SIGTERM (a service manager
stopping it) or a SIGINT sent to ``serve`` alone ended ``serve`` and left Streamlit
holding the port. The control below runs the old way (``subprocess.call`` under a parent
that is stopped) and shows that these checks see such a leftover child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STARTUP_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Return True when a server could listen on the port now (as a restart would)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def children(pid: int) -> list[int]:
    """Return the child processes of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Return True while a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def start_serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SAFER_SPACES_HOME": str(tmp_path / "home"),
        "SAFER_SPACES_WARM": "0",
    }
    command = [
        sys.executable, "-m", "cli.main", "serve", "--port", str(port),
        "--address", "127.0.0.1", "--db", f"sqlite:///{tmp_path / 'serve.db'}",
    ]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def cleanup() -> list[int]:
    """Pids to kill after the test, whatever happened (never leave a server behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"]
)
def test_stopping_serve_stops_streamlit_and_frees_the_port(tmp_path, cleanup, stop):
    port = free_port()
    serve = start_serve(tmp_path, port)
    cleanup.append(serve.pid)
    assert wait_for(lambda: healthy(port) or serve.poll() is not None, STARTUP_S)
    assert serve.poll() is None, (tmp_path / "serve.log").read_text()
    streamlit = children(serve.pid)
    assert len(streamlit) == 1
    cleanup.extend(streamlit)
    assert alive(streamlit[0]) and not port_is_free(port)

    serve.send_signal(stop)
    code = serve.wait(timeout=30)

    if stop == signal.SIGKILL:  # serve had no say: the kernel tells the child (Linux)
        assert code == -signal.SIGKILL
        assert wait_for(lambda: not alive(streamlit[0]), 30), "Streamlit outlived a killed serve"
    else:  # serve returns only once Streamlit has stopped
        assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
        assert not alive(streamlit[0]), "Streamlit still runs after serve stopped"
    assert wait_for(lambda: port_is_free(port), 5), f"port {port} is still held"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_control_the_checks_see_a_child_left_behind(tmp_path, cleanup):
    """The old ``serve``: a parent in ``subprocess.call`` stopped by SIGTERM leaves its child."""
    port = free_port()
    server = f"[{sys.executable!r}, '-m', 'http.server', '{port}', '--bind', '127.0.0.1']"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess; subprocess.call({server})"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cleanup.append(parent.pid)
    assert wait_for(lambda: not port_is_free(port), 30)
    child = children(parent.pid)
    assert len(child) == 1
    cleanup.extend(child)

    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=30)

    assert alive(child[0])
    assert not port_is_free(port)
