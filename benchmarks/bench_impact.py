"""Benchmark the impact of actions on one database: reading, the sums, and disclosure.

Prints, for the database given (the demo by default), the time to read the counts per
spot, the register, the actions and the grid (``services.impact.read_impact_inputs``), to
compute every place's estimate (``services.impact.impact_figures``: the counts near each
place, one flagging per before window for the comparison places, one Poisson fit per
place), and to disclose it for a steering group (``services.impact.disclose``: the pooled
fits by kind and district). The page caches the result per data version and the warm-up
computes it (``dashboard/warm.py``), so this is what the first reader after an import
would otherwise wait for.

Run: ``.venv/bin/python benchmarks/bench_impact.py [DATABASE_URL] [--window-months 6]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=f"sqlite:///{ROOT / 'var' / 'safer_spaces.db'}")
    parser.add_argument("--window-months", type=int, default=6)
    args = parser.parse_args()

    import statsmodels.api  # noqa: F401  (its first import, 2 to 3 s, is not the sums' time)

    from services.impact import disclose, impact_figures, read_impact_inputs
    from store.db import connect

    engine = connect(args.url)
    rows = []
    started = time.perf_counter()
    inputs = read_impact_inputs(engine)
    rows.append(("read counts per spot, places, actions, grid", time.perf_counter() - started))
    started = time.perf_counter()
    figures = impact_figures(inputs, window=args.window_months)
    rows.append(("estimate every place (impact_figures)", time.perf_counter() - started))
    started = time.perf_counter()
    seen = disclose(
        figures,
        districts=tuple(figures.places["district_code"].unique()),
        suppressed=True,
        k=5,
    )
    rows.append(("disclose for a steering group (pooled fits)", time.perf_counter() - started))
    incidents = int(inputs.sites["n"].sum()) if len(inputs.sites) else 0
    print(
        f"{incidents:,} incidents, {len(inputs.places):,} places, "
        f"{len(figures.places):,} places with completed actions, "
        f"{len(seen.by_kind) + len(seen.by_district)} pooled groups"
    )
    print(f"{'step':<50} {'seconds':>8}")
    for step, seconds in rows:
        print(f"{step:<50} {seconds:>8.2f}")
    print(f"{'total':<50} {sum(s for _, s in rows):>8.2f}")


if __name__ == "__main__":
    main()
