"""Benchmark the links between places (issue 19) and print a table.

Synthetic records at places: 100,000 referrals of 30,000 young people at 5,000
places (target: the graph, the clusters and the MACE view's figures in 2 s or
less). Places sit in 250 areas of 20; a young person is referred mostly (85 per
cent) at the places of their home area and sometimes anywhere; a referral names
one place, or two (found at, frequents) one time in four; 2,000 persons of
concern appear on a fifth of the referrals. Each step is timed over ``--repeat``
runs and the median printed:

* graph: ``link_graph`` (projection, Louvain clusters, per place and per cluster);
* figures: ranking, the sentences and the disclosure of every count, as the
  MACE view does for a lead and for an officer (links of 5 or more young people).

Run: ``nice -n 15 .venv/bin/python benchmarks/bench_links.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from geo.links import cluster_sentence, link_graph, rank_clusters  # noqa: E402
from services.links import _protect, person_key  # noqa: E402


def records(
    *, referrals: int, young_people: int, places: int, seed: int = 19
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return synthetic records at places (``geo.links.MEMBER_COLUMNS``) and place districts."""
    rng = np.random.default_rng(seed)
    areas = places // 20
    place_area = np.repeat(np.arange(areas), 20)[:places]
    person = rng.integers(0, young_people, size=referrals)
    home = rng.integers(0, areas, size=young_people)[person]
    local = rng.random(referrals) < 0.85
    at = np.where(
        local,
        home * 20 + rng.integers(0, 20, size=referrals),
        rng.integers(0, places, size=referrals),
    )
    second = rng.random(referrals) < 0.25
    other = np.where(
        local,
        home * 20 + rng.integers(0, 20, size=referrals),
        rng.integers(0, places, size=referrals),
    )
    concern = np.where(rng.random(referrals) < 0.2, rng.integers(0, 2_000, size=referrals), -1)
    month = rng.integers(0, 24, size=referrals)
    rows = np.concatenate([np.arange(referrals), np.flatnonzero(second)])
    place = np.concatenate([at, other[second]])
    keys = np.array([f"p{i:05d}" for i in range(places)], dtype=object)
    names = np.array([f"c{i:06d}" for i in range(young_people)], dtype=object)
    concerns = np.array([f"x{i:05d}" for i in range(2_000)], dtype=object)
    months = np.array([f"{2025 + m // 12}-{m % 12 + 1:02d}" for m in range(24)], dtype=object)
    frame = pd.DataFrame(
        {
            "place": keys[place],
            "young_person": names[person[rows]],
            "person_of_concern": np.where(
                concern[rows] >= 0, concerns[np.maximum(concern[rows], 0)], None
            ),
            "month": months[month[rows]],
        }
    )
    frame["young_key"] = [person_key(p) for p in frame["young_person"]]  # as services.links reads
    frame["concern_key"] = [person_key(p) for p in frame["person_of_concern"]]
    districts = {k: f"E0700019{2 + a % 8}" for k, a in zip(keys, place_area // 30, strict=True)}
    return frame, districts


def figures(graph, *, protect: int | None) -> list[str]:  # type: ignore[no-untyped-def]
    """The MACE view's figures: ranked clusters, their sentences, protected counts."""
    ranked = rank_clusters(graph.clusters, unassessed=graph.places["place"].iloc[::3].tolist())
    shown = ranked
    if protect is not None:  # perturbed by the cell key method, as services.links does
        shown = _protect(ranked, protect, protected=True)
        links = _protect(graph.links, protect, protected=True)
        assert len(links) == len(graph.links)
    return [
        cluster_sentence(
            places=int(r.places),
            districts=int(r.districts),
            young_people=r.young_people,
            persons_of_concern=r.persons_of_concern,
            first_month=r.first_month,
            unassessed=int(r.unassessed_places),
        )
        for r in shown.itertuples()
    ]


def timed(repeat: int, work):  # type: ignore[no-untyped-def]
    """Return the median wall-clock and CPU seconds of ``repeat`` runs, and the last result.

    On a machine shared with other work the wall clock waits for the CPU; the CPU time
    of this process is what the step costs.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return (statistics.median(walls), statistics.median(cpus)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--young-people", type=int, default=30_000)
    parser.add_argument("--places", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    members, districts = records(
        referrals=args.referrals, young_people=args.young_people, places=args.places
    )
    print(
        f"{args.referrals:,} referrals ({len(members):,} records at places), "
        f"{members['young_person'].nunique():,} young people, {args.places:,} places; "
        f"median of {args.repeat} runs"
    )
    rows = []
    for audience, floor in (("lead (every link)", 0), ("officer (>= 5 young people)", 5)):
        graph_s, graph = timed(
            args.repeat,
            lambda floor=floor: link_graph(
                members, districts=districts, min_young_people=floor, recent_since="2026-10"
            ),
        )
        figures_s, _sentences = timed(
            args.repeat, lambda graph=graph, floor=floor: figures(graph, protect=floor or None)
        )
        rows.append((audience, len(graph.links), len(graph.clusters), graph_s, figures_s))
    header = (
        "audience",
        "links",
        "clusters",
        "graph s (wall / CPU)",
        "figures s (wall / CPU)",
        "total s (wall / CPU; target 2)",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for audience, links, clusters, g, f in rows:
        print(
            f"{audience} | {links:,} | {clusters:,} | {g[0]:.2f} / {g[1]:.2f} | "
            f"{f[0]:.2f} / {f[1]:.2f} | {g[0] + f[0]:.2f} / {g[1] + f[1]:.2f}"
        )


if __name__ == "__main__":
    main()
