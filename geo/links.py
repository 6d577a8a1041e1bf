"""Links between places: places joined by the young people and persons of concern they share.

The records that belong to places (referrals and incidents, each linked to one
or more places) form a bipartite graph of places and pseudonymous people. Its
projection onto the places joins two places when at least one young person (or
person of concern) belongs to both; the weight of the link is the number of
distinct young people and of distinct persons of concern shared. Clusters of
places come from community detection on that graph (the Louvain method, with
igraph's implementation in C and a fixed seed, so the same data always give the
same clusters; networkx's own is the reference in the tests), and a
cluster whose places lie in more than one district stands out as a possible
county line.

Everything here is pure and works on pseudonyms it is given; nothing here reads
the database or decides who may see what (``services.links`` does).

The projection is computed with pandas (a self-join of the distinct
person-place pairs), which gives the same weights as
``networkx.algorithms.bipartite.weighted_projected_graph`` at a fraction of the
cost for a force-sized graph.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass

import igraph as ig
import numpy as np
import pandas as pd

__all__ = [
    "CLUSTER_COLUMNS",
    "LINK_COLUMNS",
    "MEMBER_COLUMNS",
    "PLACE_COLUMNS",
    "LinkGraph",
    "cluster_sentence",
    "communities",
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
    """Return whole months since year 0 as ``YYYY-MM`` strings (each distinct month once)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if not len(numbers):
        return np.zeros(0, dtype=object)
    distinct, inverse = np.unique(numbers, return_inverse=True)
    texts = np.array([f"{n // 12:04d}-{n % 12 + 1:02d}" for n in distinct.tolist()], dtype=object)
    return texts[inverse]


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


def communities(
    a: np.ndarray, b: np.ndarray, weight: np.ndarray, *, size: int, seed: int
) -> np.ndarray:
    """Return the cluster of each node, numbered from 1 by size then first node (0: no link).

    Louvain modularity optimisation (Blondel et al. 2008) on the weighted graph of the
    edges ``a``-``b``, with igraph's ``community_multilevel`` (the same method as
    ``networkx.community.louvain_communities``, in C: 0.6 s instead of about 12 s on a
    force-sized graph of 270,000 links) and a random generator seeded with ``seed``.

    Parameters
    ----------
    a, b
        The ends of each edge, node numbers below ``size``.
    weight
        The weight of each edge.
    size
        The number of nodes.
    seed
        The seed of the random order in which Louvain visits the nodes.
    """
    out = np.zeros(size, dtype=np.int64)
    if not len(a):
        return out
    graph = ig.Graph(n=size, edges=np.column_stack([a, b]).astype(np.int64))
    previous = random.getstate()
    ig.set_random_number_generator(random.Random(seed))
    try:
        found = graph.community_multilevel(weights=np.asarray(weight, dtype=float).tolist())
    finally:
        ig.set_random_number_generator(random)
        random.setstate(previous)
    membership = np.asarray(found.membership, dtype=np.int64)
    linked = np.zeros(size, dtype=bool)
    linked[a] = True
    linked[b] = True
    nodes = np.flatnonzero(linked)
    groups = membership[nodes]
    sizes = np.bincount(groups)
    firsts = np.full(len(sizes), size, dtype=np.int64)
    np.minimum.at(firsts, groups, nodes)
    used = np.flatnonzero(sizes)
    order = used[np.lexsort((firsts[used], -sizes[used]))]
    number = np.zeros(len(sizes), dtype=np.int64)
    number[order] = np.arange(1, len(order) + 1)
    out[nodes] = number[groups]
    return out


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
        period wanted. Optional ``young_key`` and ``concern_key``: each person's
        key for the cell key method (0-255, the same on every row of that
        person); when given, every count of distinct people gets a ``<count>_key``
        column beside it, the sum of the keys of the people counted.
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
        either place), clusters and places. A cluster's ``young_people`` are the
        distinct young people shared along its own links.

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
    keyed = "young_key" in members.columns and "concern_key" in members.columns
    young["key"] = _person_keys(members, np.asarray(young_codes), "young_key")[young["person"]]
    concern["key"] = _person_keys(members, np.asarray(concern_codes), "concern_key")[
        concern["person"]
    ]

    def per_pair(shared: pd.DataFrame, name: str) -> pd.DataFrame:
        return shared.groupby(["a", "b"], sort=False).agg(
            **{name: ("person", "size"), f"first_{name}": ("first", "min")},
            **{f"last_{name}": ("last", "max"), f"{name}_key": ("key", "sum")},
        )

    pairs = per_pair(young, "young_people").join(
        per_pair(concern, "persons_of_concern"), how="outer"
    )
    pairs = pairs.reset_index()
    pairs["young_people"] = pairs["young_people"].fillna(0).astype(np.int64)
    pairs["persons_of_concern"] = pairs["persons_of_concern"].fillna(0).astype(np.int64)
    for column in ("young_people_key", "persons_of_concern_key"):
        pairs[column] = pairs[column].fillna(0).astype(np.int64)
    pairs = pairs.loc[pairs["young_people"] >= min_young_people]
    a = pairs["a"].to_numpy(dtype=np.int64)
    b = pairs["b"].to_numpy(dtype=np.int64)
    first = np.fmin(pairs["first_young_people"], pairs["first_persons_of_concern"]).to_numpy()
    last = np.fmax(pairs["last_young_people"], pairs["last_persons_of_concern"]).to_numpy()
    order = np.lexsort((b, a))
    a, b, first, last = a[order], b[order], first[order], last[order]
    young_n = pairs["young_people"].to_numpy(dtype=np.int64)[order]
    concern_n = pairs["persons_of_concern"].to_numpy(dtype=np.int64)[order]
    young_k = pairs["young_people_key"].to_numpy(dtype=np.int64)[order]
    concern_k = pairs["persons_of_concern_key"].to_numpy(dtype=np.int64)[order]

    cluster_of = communities(a, b, young_n + concern_n, size=len(keys), seed=seed)
    ca, cb = cluster_of[a], cluster_of[b]
    cluster = np.where(ca == cb, ca, 0)

    links = pd.DataFrame(
        {
            "place_a": keys[a].astype(object),
            "place_b": keys[b].astype(object),
            "young_people": young_n,
            "persons_of_concern": concern_n,
            "first_month": _month_text(first),
            "last_month": _month_text(last),
            "cluster": cluster,
        },
        columns=list(LINK_COLUMNS),
    )
    kept = pd.DataFrame({"a": a, "b": b, "cluster": cluster})
    district_of = np.array([districts.get(k) for k in keys.tolist()], dtype=object)
    clusters = _clusters(kept, young, concern, keys, district_of, cluster_of, recent_since)
    places = _places(kept, young, concern, keys, district_of, cluster_of)
    if not keyed:  # the key sums leave only when the caller gave keys
        clusters = clusters.drop(columns=[c for c in clusters if c.endswith("_key")])
        places = places.drop(columns=[c for c in places if c.endswith("_key")])
    else:
        links = links.assign(young_people_key=young_k, persons_of_concern_key=concern_k)
    return LinkGraph(links=links, clusters=clusters, places=places)


def _person_keys(members: pd.DataFrame, codes: np.ndarray, column: str) -> np.ndarray:
    """Return each person code's key (0 for all when ``column`` is absent); index -1 is 0."""
    size = int(codes.max()) + 2 if codes.size else 1
    out = np.zeros(size, dtype=np.int64)
    if column in members.columns and codes.size:
        has = codes >= 0
        out[codes[has]] = members[column].to_numpy()[has].astype(np.int64)
    return out


def _on_kept(shared: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Return the (person, a, b) rows of the links kept, with the link's cluster."""
    if shared.empty or kept.empty:
        return shared.assign(cluster=pd.Series(dtype=np.int64)).iloc[0:0]
    return shared.merge(kept, on=["a", "b"], how="inner")


def _joined(values: pd.Series) -> str:
    return ";".join(sorted(v for v in values if isinstance(v, str) and v))


def _clusters(
    kept: pd.DataFrame,
    young: pd.DataFrame,
    concern: pd.DataFrame,
    keys: np.ndarray,
    district_of: np.ndarray,
    cluster_of: np.ndarray,
    recent_since: str | None,
) -> pd.DataFrame:
    if not cluster_of.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CLUSTER_COLUMNS})
    nodes = np.flatnonzero(cluster_of)
    node = pd.DataFrame(
        {"cluster": cluster_of[nodes], "key": keys[nodes].astype(object),
         "district": district_of[nodes]}
    )  # fmt: skip
    by = node.groupby("cluster", sort=True)
    table = pd.DataFrame(
        {
            "places": by.size(),
            "districts": by["district"].nunique(),
            "place_keys": by["key"].agg(_joined),
            "district_codes": by["district"].agg(lambda v: _joined(pd.Series(pd.unique(v)))),
        }
    )
    inside = kept.loc[kept["cluster"] > 0]
    young_in = _on_kept(young, inside)
    concern_in = _on_kept(concern, inside)
    table["young_people"] = young_in.groupby("cluster")["person"].nunique()
    table["persons_of_concern"] = concern_in.groupby("cluster")["person"].nunique()
    table["young_people_key"] = _distinct_keys(young_in, "cluster")
    table["persons_of_concern_key"] = _distinct_keys(concern_in, "cluster")
    table["links"] = inside.groupby("cluster").size()
    both = pd.concat(
        [young_in[["cluster", "first", "last"]], concern_in[["cluster", "first", "last"]]]
    )
    table["first"] = both.groupby("cluster")["first"].min()
    table["last"] = both.groupby("cluster")["last"].max()
    table["new_young_people"] = 0
    table["new_young_people_key"] = 0
    if recent_since is not None and len(young_in):
        recent = int(_month_number(pd.Series([recent_since]))[0])
        seen = young_in.groupby(["cluster", "person"]).agg(
            first=("first", "min"), key=("key", "first")
        )
        new = seen["first"] >= recent
        table["new_young_people"] = new.groupby(level="cluster").sum()
        table["new_young_people_key"] = seen["key"].where(new, 0).groupby(level="cluster").sum()
    key_columns = ("young_people_key", "persons_of_concern_key", "new_young_people_key")
    for column in ("young_people", "persons_of_concern", "links", "new_young_people", *key_columns):
        table[column] = table[column].fillna(0).astype(np.int64)
    dated = table["first"].notna().to_numpy()
    for column, words in (("first", "first_month"), ("last", "last_month")):
        text = np.full(len(table), None, dtype=object)
        text[dated] = _month_text(table[column].to_numpy()[dated].astype(np.int64))
        table[words] = text
    table["crosses_districts"] = table["districts"] > 1
    table = table.rename_axis("cluster").reset_index()
    table["places"] = table["places"].astype(np.int64)
    table["districts"] = table["districts"].astype(np.int64)
    return table.loc[:, [*CLUSTER_COLUMNS, *key_columns]]


def _distinct_keys(shared: pd.DataFrame, by: str) -> pd.Series:
    """Return the sum of the keys of the distinct people in each ``by`` group."""
    return shared.drop_duplicates([by, "person"]).groupby(by)["key"].sum()


def _places(
    kept: pd.DataFrame,
    young: pd.DataFrame,
    concern: pd.DataFrame,
    keys: np.ndarray,
    district_of: np.ndarray,
    cluster_of: np.ndarray,
) -> pd.DataFrame:
    if not cluster_of.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PLACE_COLUMNS})
    ends = pd.concat(
        [kept[["a", "b"]].rename(columns={"a": "place", "b": "other"}),
         kept[["b", "a"]].rename(columns={"b": "place", "a": "other"})]
    )  # fmt: skip
    degree = ends.groupby("place")["other"].nunique()

    def people(shared: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        on = _on_kept(shared, kept)
        both = pd.concat(
            [on[["a", "person", "key"]].rename(columns={"a": "place"}),
             on[["b", "person", "key"]].rename(columns={"b": "place"})]
        )  # fmt: skip
        return both.groupby("place")["person"].nunique(), _distinct_keys(both, "place")

    (young_n, young_k), (concern_n, concern_k) = people(young), people(concern)
    young_n, young_k, concern_n, concern_k = (
        s.reindex(degree.index, fill_value=0) for s in (young_n, young_k, concern_n, concern_k)
    )
    index = degree.index.to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "place": keys[index].astype(object),
            "district": district_of[index],
            "cluster": cluster_of[index],
            "linked_places": degree.to_numpy(dtype=np.int64),
            "young_people": young_n.to_numpy(dtype=np.int64),
            "persons_of_concern": concern_n.to_numpy(dtype=np.int64),
            "young_people_key": young_k.to_numpy(dtype=np.int64),
            "persons_of_concern_key": concern_k.to_numpy(dtype=np.int64),
        },
        columns=[*PLACE_COLUMNS, "young_people_key", "persons_of_concern_key"],
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
