"""The intruder's search on a demo database, over fresh draws of record keys; prints a table.

The intruder suite (``tests/privacy``) runs the search once, on a fixed draw of keys. Here
the same search (the Meeting's figures for every run of adjacent months, all-but-one type
and overlapping district sets, the Map's totals and the flag counts across periods, as the
demo officer and a steering group viewer) is repeated over fresh random keys, as imports
draw them, and with the perturbation switched off (the control). It also prints the
headline figures of the default Meeting (last quarter, all districts) as a lead and as a
steering group viewer sees them.

Run::

    nice -n 15 .venv/bin/python benchmarks/bench_intruder.py sqlite:///var/intruder.db --draws 3

An empty database is filled with the embedded demo first (``--incidents`` to change its size).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import bindparam, func, select, update  # noqa: E402


def rekey(engine, rng: np.random.Generator) -> None:
    """Give every record a fresh key from ``rng`` (the demo's own are drawn by ``secrets``)."""
    from store.models import Incident, Referral

    with engine.begin() as connection:
        for model in (Incident, Referral):
            ids = connection.scalars(select(model.id).order_by(model.id)).all()
            keys = rng.integers(0, 256, size=len(ids))
            connection.execute(
                update(model)
                .where(model.id == bindparam("row_id"))
                .values(record_key=bindparam("new_key")),
                [{"row_id": i, "new_key": int(k)} for i, k in zip(ids, keys, strict=True)],
            )


def headline(engine, codes: tuple[str, ...], today: date) -> list[tuple[str, str, str]]:
    """Return (figure, lead's value, viewer's value) for the default Meeting."""
    import pandas as pd

    from reports.meeting import figures_for
    from services.audience import Audience
    from store import queries

    last = pd.Period(queries.latest_event_date(engine), freq="M")
    rows = []
    lead, viewer = (
        figures_for(
            engine,
            codes,
            first=str(last - 2),
            last=str(last),
            today=today,
            audience=Audience.for_role(role, codes),
            framework_months=0,
        )
        for role in ("lead", "viewer")
    )
    for a, b in zip(
        lead.headline[:2] + lead.by_type, viewer.headline[:2] + viewer.by_type, strict=True
    ):
        rows.append(
            (
                a.label,
                f"{a.value} (prev {a.previous}, {a.change_previous})",
                f"{b.value} (prev {b.previous}, {b.change_previous})",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="database URL (filled with the demo when empty)")
    parser.add_argument("--draws", type=int, default=3, help="fresh draws of record keys")
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fresh-only", action="store_true", help="only fresh draws (no stored keys, no control)"
    )
    parser.add_argument(
        "--headline-only", action="store_true", help="only the default Meeting, lead and viewer"
    )
    args = parser.parse_args(argv)

    from data.load import load_demo
    from services.disclosure import unprotected
    from store import queries
    from store.db import connect, upgrade
    from store.models import Incident
    from tests.privacy.intruder import Intruder, largest_perturbation
    from tests.privacy.test_differencing import add_sums, collect, plan

    engine = connect(args.url)
    upgrade(engine)
    today = date(2026, 11, 22)
    with engine.connect() as connection:
        empty = not connection.scalar(select(func.count()).select_from(Incident))
    if empty:
        load_demo(engine, today=today, n_incidents=args.incidents, n_referrals=args.incidents // 7)
    codes = tuple(queries.load_districts(engine)["code"])
    if args.headline_only:
        print("Default Meeting (last quarter, all districts): lead | steering group viewer")
        for name, lead, viewer in headline(engine, codes, today):
            print(f"  {name:<45} {lead:<36} | {viewer}")
        return 0
    print(
        f"{'draw':<10}{'role':<9}{'small tried':>12}{'recovered':>10}"
        f"{'all tried':>10}{'recovered':>10}{'largest':>8}{'seconds':>9}"
    )
    rng = np.random.default_rng(args.seed)
    draws = list(range(1, args.draws + 1))
    for draw in draws if args.fresh_only else ["stored", *draws, "control"]:
        if isinstance(draw, int):
            rekey(engine, rng)
        for role in ("officer", "viewer"):
            viewer, sets, by_type = plan(codes)[role]
            started = time.perf_counter()
            intruder = Intruder(protected=draw != "control")
            if draw == "control":
                with unprotected():
                    collect(engine, viewer, sets, intruder=intruder, by_type=by_type)
            else:
                collect(engine, viewer, sets, intruder=intruder, by_type=by_type)
            add_sums(intruder)
            s = intruder.score()
            print(
                f"{draw!s:<10}{role:<9}{s['tried_small']:>12}{s['recovered_small']:>10}"
                f"{s['tried']:>10}{s['recovered']:>10}{largest_perturbation(intruder):>8}"
                f"{time.perf_counter() - started:>9.0f}",
                flush=True,
            )
    print()
    print("Default Meeting (last quarter, all districts): lead | steering group viewer")
    for name, lead, viewer in headline(engine, codes, today):
        print(f"  {name:<45} {lead:<36} | {viewer}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
