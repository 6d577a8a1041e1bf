"""Links between places: places joined by the young people and persons of concern they share.

The records that belong to places (referrals and incidents, each linked to one
or more places) form a bipartite graph of places and pseudonymous people. Its
projection onto the places joins two places when at least one young person (or
person of concern) belongs to both; the weight of the link is the number of
distinct young people and of distinct persons of concern shared. Clusters of
places come from community detection on that graph (networkx's Louvain method
with a fixed seed, so the same data always give the same clusters), and a
cluster whose places lie in more than one district stands out as a possible
county line.

Everything here is pure and works on pseudonyms it is given; nothing here reads
the database or decides who may see what (``store.links`` does).

The projection is computed with pandas (a self-join of the distinct
person-place pairs), which gives the same weights as
``networkx.algorithms.bipartite.weighted_projected_graph`` at a fraction of the
cost for a force-sized graph.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

__all__ = [
    "CLUSTER_COLUMNS",
    "LINK_COLUMNS",
    "MEMBER_COLUMNS",
    "PLACE_COLUMNS",
    "LinkGraph",
    "cluster_sentence",
    "link_graph",
    "rank_clusters",
]

#: What :func:`link_graph` reads: one row per record at a place.
MEMBER_COLUMNS: tuple[str, ...] = ("place", "young_person", "person_of_concern", "month")
#: One row per linked pair of places (the ``safer-spaces links`` CSV).
LINK_COLUMNS: tuple[str, ...] = (
    "place_a",
    "place_b",
    "young_people",
    "persons_of_concern",
    "first_month",
    "last_month",
    "cluster",
)
#: One row per cluster (the ``safer-spaces links --clusters`` CSV).
CLUSTER_COLUMNS: tuple[str, ...] = (
    "cluster",
    "places",
    "districts",
    "young_people",
    "persons_of_concern",
    "links",
    "first_month",
    "last_month",
    "new_young_people",
    "crosses_districts",
    "place_keys",
    "district_codes",
)
#: One row per linked place.
PLACE_COLUMNS: tuple[str, ...] = (
    "place",
    "district",
    "cluster",
    "linked_places",
    "young_people",
    "persons_of_concern",
)

#: The seed of the community detection (the same data give the same clusters).
SEED = 19


@dataclass(frozen=True)
class LinkGraph:
    """The links between places, their clusters and each place's share of them.

    Attributes
    ----------
    links
        :data:`LINK_COLUMNS`, one row per linked pair (``place_a < place_b``),
        sorted by the pair; ``cluster`` is 0 where the two places fell in
        different clusters.
    clusters
        :data:`CLUSTER_COLUMNS`, one row per cluster, numbered from 1 by size
        (then by their first place key).
    places
        :data:`PLACE_COLUMNS`, one row per place with at least one link.
    """

    links: pd.DataFrame
    clusters: pd.DataFrame
    places: pd.DataFrame


def _month_number(months: pd.Series) -> np.ndarray:
    """Return ``YYYY-MM`` strings as whole months since year 0 (for min and max)."""
    text = months.astype(str)
    return text.str.slice(0, 4).astype(int).to_numpy() * 12 + (
        text.str.slice(5, 7).astype(int).to_numpy() - 1
    )


def _month_text(numbers: np.ndarray) -> np.ndarray:
    numbers = np.asarray(numbers, dtype=np.int64)
    return np.array([f"{n // 12:04d}-{n % 12 + 1:02d}" for n in numbers.tolist()], dtype=object)


def _shared(codes: np.ndarray, people: np.ndarray, months: np.ndarray) -> pd.DataFrame:
    """Return one row per (person, place a, place b) with a < b, with the months of the pair.

    ``codes`` are place codes (ordered as the keys), ``people`` person codes (-1 for none).
    """
    has = people >= 0
    frame = pd.DataFrame({"person": people[has], "place": codes[has], "month": months[has]})
    if frame.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=np.int64) for c in ("person", "a", "b", "first", "last")}
        )
    each = frame.groupby(["person", "place"], sort=True)["month"].agg(["min", "max"])
    each = each.reset_index()
    pairs = each.merge(each, on="person", suffixes=("_a", "_b"))
    pairs = pairs.loc[pairs["place_a"].to_numpy() < pairs["place_b"].to_numpy()]
    return pd.DataFrame(
        {
            "person": pairs["person"].to_numpy(),
            "a": pairs["place_a"].to_numpy(),
            "b": pairs["place_b"].to_numpy(),
            "first": np.minimum(pairs["min_a"].to_numpy(), pairs["min_b"].to_numpy()),
            "last": np.maximum(pairs["max_a"].to_numpy(), pairs["max_b"].to_numpy()),
        }
    )


def _communities(links: pd.DataFrame, *, seed: int) -> dict[int, int]:
    """Return {place code: cluster number from 1}, by Louvain on the weighted projection."""
    graph = nx.Graph()
    weight = (links["young_people"] + links["persons_of_concern"]).to_numpy()
    graph.add_weighted_edges_from(
        zip(links["a"].tolist(), links["b"].tolist(), weight.tolist(), strict=True)
    )
    found = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    ordered = sorted((sorted(c) for c in found), key=lambda c: (-len(c), c[0]))
    return {node: number for number, nodes in enumerate(ordered, 1) for node in nodes}


def link_graph(
    members: pd.DataFrame,
    *,
    districts: dict[str, str] | None = None,
    min_young_people: int = 0,
    recent_since: str | None = None,
    seed: int = SEED,
) -> LinkGraph:
    """Project the records at places onto links between places, and cluster the places.

    CRS: none (works on place keys and pseudonyms, not coordinates).

    Parameters
    ----------
    members
        One row per record at a place, with :data:`MEMBER_COLUMNS`: ``place``
        (place key), ``young_person`` and ``person_of_concern`` (pseudonyms, or
        None), ``month`` (``YYYY-MM`` of the record). Only the records of the
        period wanted.
    districts
        ``{place key: district code}``, for the districts a cluster crosses.
    min_young_people
        Keep only links with at least this many distinct young people (0 keeps
        links through persons of concern alone). Clusters are found on the
        links kept, so they say nothing about the links left out.
    recent_since
        A ``YYYY-MM``: a cluster's ``new_young_people`` are those first seen at
        its places in or after this month (0 when None).
    seed
        The seed of the Louvain community detection.

    Returns
    -------
    LinkGraph
        Links (``first_month`` and ``last_month`` are the months of the first
        and last records that make the link: the shared people's records at
        either place), clusters and places.

    Examples
    --------
    >>> members = pd.DataFrame({
    ...     "place": ["p1", "p2", "p2", "p3"],
    ...     "young_person": ["c1", "c1", "c2", "c2"],
    ...     "person_of_concern": [None, None, None, None],
    ...     "month": ["2026-01", "2026-03", "2026-02", "2026-02"]})
    >>> link_graph(members).links[["place_a", "place_b", "young_people", "first_month"]]
      place_a place_b  young_people first_month
    0      p1      p2             1     2026-01
    1      p2      p3             1     2026-02
    """
    missing = [c for c in MEMBER_COLUMNS if c not in members.columns]
    if missing:
        raise KeyError(f"The records at places have no column {', '.join(missing)}.")
    districts = districts or {}
    keys, codes = np.unique(members["place"].astype(str).to_numpy(), return_inverse=True)
    months = _month_number(members["month"]) if len(members) else np.zeros(0, dtype=np.int64)
    young_codes, _ = pd.factorize(members["young_person"], use_na_sentinel=True)
    concern_codes, _ = pd.factorize(members["person_of_concern"], use_na_sentinel=True)
    young = _shared(codes, np.asarray(young_codes), months)
    concern = _shared(codes, np.asarray(concern_codes), months)

    def per_pair(shared: pd.DataFrame, name: str) -> pd.DataFrame:
        return shared.groupby(["a", "b"], sort=False).agg(
            **{name: ("person", "size"), f"first_{name}": ("first", "min")},
            **{f"last_{name}": ("last", "max")},
        )

    pairs = per_pair(young, "young_people").join(
        per_pair(concern, "persons_of_concern"), how="outer"
    )
    pairs = pairs.reset_index()
    pairs["young_people"] = pairs["young_people"].fillna(0).astype(np.int64)
    pairs["persons_of_concern"] = pairs["persons_of_concern"].fillna(0).astype(np.int64)
    pairs = pairs.loc[pairs["young_people"] >= min_young_people].reset_index(drop=True)
    first = np.fmin(pairs["first_young_people"], pairs["first_persons_of_concern"])
    last = np.fmax(pairs["last_young_people"], pairs["last_persons_of_concern"])
    pairs["first"] = first.to_numpy()
    pairs["last"] = last.to_numpy()
    pairs = pairs.sort_values(["a", "b"], kind="stable").reset_index(drop=True)

    cluster_of = _communities(pairs, seed=seed) if len(pairs) else {}
    ca = pairs["a"].map(cluster_of).to_numpy(dtype=np.int64) if len(pairs) else np.zeros(0, int)
    cb = pairs["b"].map(cluster_of).to_numpy(dtype=np.int64) if len(pairs) else np.zeros(0, int)
    pairs["cluster"] = np.where(ca == cb, ca, 0)

    links = pd.DataFrame(
        {
            "place_a": keys[pairs["a"].to_numpy(dtype=np.int64)].astype(object),
            "place_b": keys[pairs["b"].to_numpy(dtype=np.int64)].astype(object),
            "young_people": pairs["young_people"].to_numpy(dtype=np.int64),
            "persons_of_concern": pairs["persons_of_concern"].to_numpy(dtype=np.int64),
            "first_month": _month_text(pairs["first"].to_numpy()),
            "last_month": _month_text(pairs["last"].to_numpy()),
            "cluster": pairs["cluster"].to_numpy(dtype=np.int64),
        },
        columns=list(LINK_COLUMNS),
    )
    kept = pairs[["a", "b", "cluster"]]
    clusters = _clusters(kept, young, concern, keys, districts, cluster_of, recent_since)
    places = _places(kept, young, concern, keys, districts, cluster_of)
    return LinkGraph(links=links, clusters=clusters, places=places)


def _on_kept(shared: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Return the (person, a, b) rows of the links kept, with the link's cluster."""
    if shared.empty or kept.empty:
        return shared.assign(cluster=pd.Series(dtype=np.int64)).iloc[0:0]
    return shared.merge(kept, on=["a", "b"], how="inner")


def _clusters(
    kept: pd.DataFrame,
    young: pd.DataFrame,
    concern: pd.DataFrame,
    keys: np.ndarray,
    districts: dict[str, str],
    cluster_of: dict[int, int],
    recent_since: str | None,
) -> pd.DataFrame:
    if not cluster_of:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CLUSTER_COLUMNS})
    inside = kept.loc[kept["cluster"] > 0]
    young_in = _on_kept(young, inside)
    concern_in = _on_kept(concern, inside)
    members = pd.Series(cluster_of)
    rows = []
    recent = int(_month_number(pd.Series([recent_since]))[0]) if recent_since else None
    for number, nodes in members.groupby(members.to_numpy()):
        place_keys = sorted(keys[nodes.index.to_numpy(dtype=np.int64)].tolist())
        codes = sorted({districts[k] for k in place_keys if districts.get(k)})
        y = young_in.loc[young_in["cluster"] == number]
        c = concern_in.loc[concern_in["cluster"] == number]
        months = pd.concat([y[["first", "last"]], c[["first", "last"]]])
        new = 0
        if recent is not None and len(y):
            new = int((y.groupby("person")["first"].min() >= recent).sum())
        rows.append(
            {
                "cluster": int(number),
                "places": len(place_keys),
                "districts": len(codes),
                "young_people": int(y["person"].nunique()),
                "persons_of_concern": int(c["person"].nunique()),
                "links": int((inside["cluster"] == number).sum()),
                "first_month": _month_text(np.array([months["first"].min()]))[0]
                if len(months)
                else None,
                "last_month": _month_text(np.array([months["last"].max()]))[0]
                if len(months)
                else None,
                "new_young_people": new,
                "crosses_districts": len(codes) > 1,
                "place_keys": ";".join(place_keys),
                "district_codes": ";".join(codes),
            }
        )
    return pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS))


def _places(
    kept: pd.DataFrame,
    young: pd.DataFrame,
    concern: pd.DataFrame,
    keys: np.ndarray,
    districts: dict[str, str],
    cluster_of: dict[int, int],
) -> pd.DataFrame:
    if not cluster_of:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PLACE_COLUMNS})
    ends = pd.concat(
        [
            kept[["a", "b"]].rename(columns={"a": "place", "b": "other"}),
            kept[["b", "a"]].rename(columns={"b": "place", "a": "other"}),
        ]
    )
    degree = ends.groupby("place")["other"].nunique()

    def people(shared: pd.DataFrame) -> pd.Series:
        on = _on_kept(shared, kept)
        both = pd.concat(
            [
                on[["a", "person"]].rename(columns={"a": "place"}),
                on[["b", "person"]].rename(columns={"b": "place"}),
            ]
        )
        return both.groupby("place")["person"].nunique()

    young_n = people(young).reindex(degree.index, fill_value=0)
    concern_n = people(concern).reindex(degree.index, fill_value=0)
    place_keys = keys[degree.index.to_numpy(dtype=np.int64)]
    frame = pd.DataFrame(
        {
            "place": place_keys.astype(object),
            "district": [districts.get(k) for k in place_keys.tolist()],
            "cluster": [cluster_of[i] for i in degree.index.tolist()],
            "linked_places": degree.to_numpy(dtype=np.int64),
            "young_people": young_n.to_numpy(dtype=np.int64),
            "persons_of_concern": concern_n.to_numpy(dtype=np.int64),
        },
        columns=list(PLACE_COLUMNS),
    )
    return frame.sort_values("place").reset_index(drop=True)


def rank_clusters(clusters: pd.DataFrame, *, unassessed: Collection[str] = ()) -> pd.DataFrame:
    """Return the clusters ranked for a MACE panel, with ``unassessed_places`` and ``rank``.

    The order: more young people and persons of concern first, then more new
    young people (growth), more districts crossed, more places not assessed.

    Parameters
    ----------
    clusters
        :attr:`LinkGraph.clusters`.
    unassessed
        Keys of the places that are flagged or linked and lack a current assessment.

    Examples
    --------
    >>> c = pd.DataFrame({"cluster": [1, 2], "young_people": [3, 9], "persons_of_concern": [0, 0],
    ...                   "new_young_people": [0, 0], "districts": [1, 1],
    ...                   "place_keys": ["a;b", "c;d"]})
    >>> rank_clusters(c, unassessed={"a"})[["cluster", "rank", "unassessed_places"]]
       cluster  rank  unassessed_places
    0        2     1                  0
    1        1     2                  1
    """
    wanted = set(unassessed)
    out = clusters.copy()
    out["unassessed_places"] = [
        sum(1 for k in str(keys).split(";") if k in wanted) for keys in out["place_keys"]
    ]
    out["_people"] = out["young_people"] + out["persons_of_concern"]
    out = out.sort_values(
        ["_people", "new_young_people", "districts", "unassessed_places", "cluster"],
        ascending=[False, False, False, False, True],
        kind="stable",
    ).drop(columns="_people")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


def _month_words(month: str | None) -> str:
    if not month:
        return ""
    return pd.Timestamp(f"{month}-01").strftime("%B %Y")


def cluster_sentence(
    *,
    places: int,
    districts: int,
    young_people: int | str,
    persons_of_concern: int | str,
    first_month: str | None,
    unassessed: int,
) -> str:
    """Return a cluster's plain-English summary from figures already fit to be shown.

    Counts of people may be text (``"<5"``) when they have been protected.

    Examples
    --------
    >>> cluster_sentence(places=7, districts=3, young_people=12, persons_of_concern=2,
    ...                  first_month="2026-06", unassessed=4)
    '7 places in 3 districts linked through 12 young people and 2 persons of concern since June 2026; 4 not assessed.'
    >>> cluster_sentence(places=2, districts=1, young_people=5, persons_of_concern="<5",
    ...                  first_month=None, unassessed=0)
    '2 places in 1 district linked through 5 young people and <5 persons of concern; all assessed.'
    """  # noqa: E501

    def plural(n: int | str, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    since = f" since {_month_words(first_month)}" if first_month else ""
    through = plural(young_people, "young person", "young people")
    if persons_of_concern not in (0, "0"):
        through += " and " + plural(persons_of_concern, "person of concern", "persons of concern")
    assessed = f"{unassessed} not assessed" if unassessed else "all assessed"
    return (
        f"{plural(places, 'place', 'places')} in {plural(districts, 'district', 'districts')} "
        f"linked through {through}{since}; {assessed}."
    )
