"""Links between places on small graphs built by hand: the CSV checked exactly."""

from __future__ import annotations

import io

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from networkx.algorithms import bipartite

from geo.links import CLUSTER_COLUMNS, LINK_COLUMNS, cluster_sentence, link_graph, rank_clusters


def members(*rows: tuple[str, str | None, str | None, str]) -> pd.DataFrame:
    """Records at places: (place, young person, person of concern, month)."""
    return pd.DataFrame(rows, columns=["place", "young_person", "person_of_concern", "month"])


def links_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.loc[:, list(LINK_COLUMNS)].to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


def clusters_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.loc[:, list(CLUSTER_COLUMNS)].to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


HEADER = "place_a,place_b,young_people,persons_of_concern,first_month,last_month,cluster\n"


def test_a_pair_of_places_shared_by_one_young_person() -> None:
    graph = link_graph(
        members(
            ("pB", "c1", None, "2026-03"),
            ("pA", "c1", None, "2026-01"),
            ("pC", "c2", None, "2026-02"),
        )
    )
    assert links_csv(graph.links) == HEADER + "pA,pB,1,0,2026-01,2026-03,1\n"
    # pC has no link: it is in no cluster and no place row
    assert graph.places["place"].tolist() == ["pA", "pB"]
    assert graph.places["linked_places"].tolist() == [1, 1]


def test_the_same_young_person_twice_at_a_place_counts_once() -> None:
    graph = link_graph(
        members(
            ("pA", "c1", None, "2026-01"),
            ("pA", "c1", None, "2026-04"),
            ("pB", "c1", None, "2026-02"),
            ("pB", "c2", None, "2026-02"),
            ("pA", "c2", None, "2026-02"),
        )
    )
    assert links_csv(graph.links) == HEADER + "pA,pB,2,0,2026-01,2026-04,1\n"


def test_a_star_links_the_hub_to_each_leaf_and_no_leaf_to_another() -> None:
    rows = [("hub", f"c{i}", None, "2026-05") for i in range(1, 5)]
    rows += [(f"leaf{i}", f"c{i}", None, f"2026-0{i + 5}") for i in range(1, 5)]
    graph = link_graph(members(*rows))
    assert links_csv(graph.links) == HEADER + (
        "hub,leaf1,1,0,2026-05,2026-06,1\n"
        "hub,leaf2,1,0,2026-05,2026-07,1\n"
        "hub,leaf3,1,0,2026-05,2026-08,1\n"
        "hub,leaf4,1,0,2026-05,2026-09,1\n"
    )
    places = graph.places.set_index("place")
    assert places.loc["hub", "linked_places"] == 4
    assert places.loc["hub", "young_people"] == 4
    assert places.loc["leaf1", "young_people"] == 1


def test_two_clusters_joined_by_a_weak_link() -> None:
    rows = []
    for group, (x, y, z) in enumerate((("pA", "pB", "pC"), ("pD", "pE", "pF"))):
        for i in range(3):
            child = f"g{group}c{i}"
            rows += [
                (x, child, None, "2026-01"),
                (y, child, None, "2026-02"),
                (z, child, None, "2026-03"),
            ]
    rows += [("pC", "bridge", None, "2026-04"), ("pD", "bridge", None, "2026-04")]
    graph = link_graph(members(*rows))
    assert links_csv(graph.links) == HEADER + (
        "pA,pB,3,0,2026-01,2026-02,1\n"
        "pA,pC,3,0,2026-01,2026-03,1\n"
        "pB,pC,3,0,2026-02,2026-03,1\n"
        "pC,pD,1,0,2026-04,2026-04,0\n"
        "pD,pE,3,0,2026-01,2026-02,2\n"
        "pD,pF,3,0,2026-01,2026-03,2\n"
        "pE,pF,3,0,2026-02,2026-03,2\n"
    )
    assert clusters_csv(graph.clusters) == (
        ",".join(CLUSTER_COLUMNS) + "\n"
        "1,3,0,3,0,3,2026-01,2026-03,0,False,pA;pB;pC,\n"
        "2,3,0,3,0,3,2026-01,2026-03,0,False,pD;pE;pF,\n"
    )


CHAIN_DISTRICTS = {"s1": "E06000021", "s2": "E07000197", "s3": "E07000194", "s4": "E07000199"}


def chain() -> pd.DataFrame:
    """Four stations in four districts: pairs of young people along the line, two persons
    of concern at every station (they hold the line together: one cluster)."""
    rows = [
        ("s1", "k1", None, "2026-02"),
        ("s2", "k1", None, "2026-05"),
        ("s1", "k2", None, "2026-05"),
        ("s2", "k2", None, "2026-05"),
        ("s2", "k3", None, "2026-05"),
        ("s3", "k3", None, "2026-05"),
        ("s2", "k4", None, "2026-05"),
        ("s3", "k4", None, "2026-05"),
        ("s3", "k5", None, "2026-05"),
        ("s4", "k5", None, "2026-09"),
        ("s3", "k6", None, "2026-09"),
        ("s4", "k6", None, "2026-09"),
    ]
    rows += [(s, None, p, "2026-06") for s in ("s1", "s2", "s3", "s4") for p in ("p1", "p2")]
    return members(*rows)


def test_a_cross_district_chain_is_one_cluster_that_crosses_districts() -> None:
    graph = link_graph(chain(), districts=CHAIN_DISTRICTS, recent_since="2026-08")
    assert links_csv(graph.links) == HEADER + (
        "s1,s2,2,2,2026-02,2026-06,1\n"
        "s1,s3,0,2,2026-06,2026-06,1\n"
        "s1,s4,0,2,2026-06,2026-06,1\n"
        "s2,s3,2,2,2026-05,2026-06,1\n"
        "s2,s4,0,2,2026-06,2026-06,1\n"
        "s3,s4,2,2,2026-05,2026-09,1\n"
    )
    assert clusters_csv(graph.clusters) == (
        ",".join(CLUSTER_COLUMNS) + "\n"
        "1,4,4,6,2,6,2026-02,2026-09,1,True,s1;s2;s3;s4,"
        "E06000021;E07000194;E07000197;E07000199\n"
    )


def test_the_threshold_drops_links_before_clusters_are_found() -> None:
    graph = link_graph(chain(), districts=CHAIN_DISTRICTS, min_young_people=2)
    # a path of four splits into two pairs (modularity 1/6 against 0 for one cluster)
    assert links_csv(graph.links) == HEADER + (
        "s1,s2,2,2,2026-02,2026-06,1\ns2,s3,2,2,2026-05,2026-06,0\ns3,s4,2,2,2026-05,2026-09,2\n"
    )
    assert set(graph.places["place"]) == {"s1", "s2", "s3", "s4"}
    # a threshold above every link leaves nothing, and says nothing about clusters
    none = link_graph(chain(), min_young_people=3)
    assert none.links.empty and none.clusters.empty and none.places.empty
    assert list(none.links.columns) == list(LINK_COLUMNS)


def test_clusters_are_the_same_every_time() -> None:
    rng = np.random.default_rng(3)
    rows = [
        (f"p{rng.integers(40):02d}", f"c{rng.integers(60)}", None, "2026-01") for _ in range(300)
    ]
    first = link_graph(members(*rows))
    again = link_graph(members(*reversed(rows)))
    pd.testing.assert_frame_equal(first.links, again.links)
    pd.testing.assert_frame_equal(first.clusters, again.clusters)


def test_weights_match_networkx_bipartite_projection() -> None:
    rng = np.random.default_rng(7)
    rows = [
        (f"p{rng.integers(30):02d}", f"c{rng.integers(50)}", None, "2026-01") for _ in range(200)
    ]
    graph = link_graph(members(*rows))
    bi = nx.Graph()
    places = sorted({r[0] for r in rows})
    bi.add_nodes_from(places, bipartite=0)
    bi.add_edges_from((r[0], "child:" + r[1]) for r in rows)
    projected = bipartite.weighted_projected_graph(bi, places)
    expected = sorted((min(a, b), max(a, b), d["weight"]) for a, b, d in projected.edges(data=True))
    got = sorted(
        zip(
            graph.links["place_a"], graph.links["place_b"], graph.links["young_people"], strict=True
        )
    )
    assert got == expected


def test_missing_columns_are_named() -> None:
    with pytest.raises(KeyError, match="month"):
        link_graph(pd.DataFrame({"place": [], "young_person": [], "person_of_concern": []}))


def test_ranking_and_sentence() -> None:
    graph = link_graph(chain(), districts=CHAIN_DISTRICTS, recent_since="2026-08")
    ranked = rank_clusters(graph.clusters, unassessed={"s1", "s4"})
    row = ranked.iloc[0]
    assert (row["rank"], row["unassessed_places"]) == (1, 2)
    assert cluster_sentence(
        places=row["places"],
        districts=row["districts"],
        young_people=row["young_people"],
        persons_of_concern=row["persons_of_concern"],
        first_month=row["first_month"],
        unassessed=row["unassessed_places"],
    ) == (
        "4 places in 4 districts linked through 6 young people and 2 persons of concern "
        "since February 2026; 2 not assessed."
    )


def test_clusters_are_as_good_as_networkx_louvain() -> None:
    """The clusters are a partition of the linked places whose modularity matches networkx's
    own Louvain (the reference) on a graph with planted groups."""
    rng = np.random.default_rng(11)
    rows = []
    for child in range(400):
        group = child % 8
        for _ in range(3):
            # mostly within the child's group of 10 places, sometimes anywhere
            place = group * 10 + rng.integers(10) if rng.random() < 0.85 else rng.integers(80)
            rows.append((f"p{place:02d}", f"c{child}", None, "2026-01"))
    graph = link_graph(members(*rows))
    reference = nx.Graph()
    reference.add_weighted_edges_from(
        zip(
            graph.links["place_a"], graph.links["place_b"], graph.links["young_people"], strict=True
        )
    )
    ours = [set(keys.split(";")) for keys in graph.clusters["place_keys"]]
    assert set().union(*ours) == set(reference.nodes)
    assert sum(len(c) for c in ours) == reference.number_of_nodes()
    theirs = nx.community.louvain_communities(reference, weight="weight", seed=1)
    q_ours = nx.community.modularity(reference, ours, weight="weight")
    q_theirs = nx.community.modularity(reference, theirs, weight="weight")
    assert q_ours >= q_theirs - 0.01
    assert len(ours) == 8  # the planted groups
