"""How long each kind of failed sign-in takes: an intruder must not tell them apart.

Times ``services.users.authenticate`` for an unknown username, a known username with a
wrong password, and a locked account (wrong and right password), on a fresh SQLite
database, without the deliberate pause (``failure_delay=0``) so that only the work
shows. Prints median and 90th percentile per outcome, in milliseconds.

    .venv/bin/python benchmarks/bench_sign_in.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.access import Viewer
from services.users import SignInError, SignInPolicy, authenticate, create_user
from store.db import connect, upgrade

PASSWORD = "the right password 123"


def _time(engine, username: str, password: str, policy: SignInPolicy) -> float:
    started = time.perf_counter()
    with contextlib.suppress(SignInError):
        authenticate(engine, username, password, policy=policy)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = connect(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        admin = Viewer("admin", "admin", ())
        for name in ("known", "locked"):
            create_user(
                engine, admin, username=name, display_name=name, role="lead", password=PASSWORD
            )
        never = SignInPolicy(max_failures=10**9, failure_delay=0)
        lock = SignInPolicy(max_failures=1, lock_minutes=60, failure_delay=0)
        _time(engine, "locked", "wrong", lock)  # now locked for an hour
        cases = {
            "unknown username": ("nobody", "wrong", never),
            "known username, wrong password": ("known", "wrong", never),
            "locked account, wrong password": ("locked", "wrong", lock),
            "locked account, right password": ("locked", PASSWORD, lock),
        }
        times = {case: [] for case in cases}
        for _ in range(args.rounds):  # interleaved, so that machine load hits all alike
            for case, (user, password, policy) in cases.items():
                times[case].append(_time(engine, user, password, policy))
        engine.dispose()
    print(f"| failed sign-in ({args.rounds} each) | median ms | p90 ms |")
    print("| --- | ---: | ---: |")
    for case, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {case} | {statistics.median(values):.1f} | {p90:.1f} |")


if __name__ == "__main__":
    main()
