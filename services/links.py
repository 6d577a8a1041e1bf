"""Links between places, read for one audience: pseudonyms stay here, counts leave protected.

The one read service of issue 19. It reads the records at places
(``place_links`` with their referral's young person and person of concern),
builds the graph (``geo.links``) and returns frames fit for the viewer:

* leads and admins see every link, with exact counts;
* officers and viewers see only links between places in their districts that
  at least k distinct young people share (k the deployment's disclosure
  threshold, never less than 2, so a lone link is never among them); clusters
  are found on those links alone, and every count of people is perturbed by
  the cell key method (``services.disclosure.disclose_counts``) as other counts
  are, so that no difference between two periods, two clusters or a cluster
  and its links gives a true small count.

A count of distinct people needs a key per *person*, not per record (a young
person's many referrals are one person): each pseudonym's key is a number from
0 to 255 drawn from a hash of the pseudonym (:func:`person_key`). Pseudonyms are
keyed hashes with the deployment's secret, so the keys are as unpredictable as
record keys, and the same person always brings the same key to every count.

Pseudonyms are read into this module's frames and never returned; nor are the
key sums.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine, String, and_, cast, null, or_, select, union_all

from geo.links import CLUSTER_COLUMNS, LINK_COLUMNS, LinkGraph, link_graph, rank_clusters
from services.access import Viewer
from services.disclosure import K_DEFAULT, KEY_RANGE, disclose_counts, needs_suppression
from store.models import Assessment, Incident, Place, PlaceLink, Referral

__all__ = [
    "PROTECTED_COUNTS",
    "LinksView",
    "links_for",
    "month_bounds",
    "person_key",
    "read_members",
]

#: Count columns that are protected for viewers without point access.
PROTECTED_COUNTS: tuple[str, ...] = (
    "young_people",
    "persons_of_concern",
    "new_young_people",
)


def month_bounds(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """Return the first day of ``since`` and the last day of ``until`` (``YYYY-MM``).

    Examples
    --------
    >>> month_bounds("2026-02", "2026-02")
    (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    >>> month_bounds(None, None)
    (None, None)
    """
    first = date.fromisoformat(f"{since}-01") if since else None
    last = None
    if until:
        year, month = (int(p) for p in until.split("-"))
        last = date(year, month, calendar.monthrange(year, month)[1])
    return first, last


def person_key(pseudonym: object) -> int:
    """Return a person's key for the cell key method: 0 to 255 from a hash of the pseudonym.

    Examples
    --------
    >>> person_key("abc") == person_key("abc") and 0 <= person_key("abc") < 256
    True
    >>> person_key(None)
    0
    """
    if not isinstance(pseudonym, str) or not pseudonym:
        return 0
    digest = hashlib.blake2b(pseudonym.encode("utf-8"), digest_size=8, person=b"cellkey")
    return int.from_bytes(digest.digest(), "big") % KEY_RANGE


def read_members(
    engine: Engine,
    *,
    since: str | None = None,
    until: str | None = None,
    districts: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return the records at places of a period (``geo.links.MEMBER_COLUMNS``) and their districts.

    For this module and the command line only: the frame holds pseudonyms.
    Records at places outside ``districts`` (when given) are left out.
    """
    first, last = month_bounds(since, until)
    parts = []
    for model, column in ((Referral, PlaceLink.referral_id), (Incident, PlaceLink.incident_id)):
        young = model.child_pseudonym if model is Referral else cast(null(), String(64))
        anyone = (
            or_(model.person_pseudonym.is_not(None), Referral.child_pseudonym.is_not(None))
            if model is Referral
            else model.person_pseudonym.is_not(None)
        )
        query = (
            select(
                PlaceLink.place_id,
                young.label("young_person"),
                model.person_pseudonym.label("person_of_concern"),
                model.occurred_on,
            )
            .join(model, model.id == column)
            .where(anyone)
        )
        if first is not None:
            query = query.where(model.occurred_on >= first)
        if last is not None:
            query = query.where(model.occurred_on <= last)
        parts.append(query)
    places = select(Place.id, Place.place_key, Place.district_code)
    if districts:
        places = places.where(Place.district_code.in_(districts))
    with engine.connect() as connection:
        register = pd.read_sql(places, connection)
        frame = pd.read_sql(union_all(*parts), connection)
    keys = pd.Series(register["place_key"].to_numpy(), index=register["id"].to_numpy())
    frame["place"] = frame["place_id"].map(keys)
    frame = frame.loc[frame["place"].notna()]
    months = pd.to_datetime(frame["occurred_on"]).dt.strftime("%Y-%m")
    members = pd.DataFrame(
        {
            "place": frame["place"].to_numpy(dtype=object),
            "young_person": frame["young_person"].to_numpy(dtype=object),
            "person_of_concern": frame["person_of_concern"].to_numpy(dtype=object),
            "month": months.to_numpy(dtype=object),
        }
    )
    members["young_key"] = [person_key(p) for p in members["young_person"]]
    members["concern_key"] = [person_key(p) for p in members["person_of_concern"]]
    district_of = dict(zip(register["place_key"], register["district_code"], strict=True))
    return members, district_of


@dataclass(frozen=True)
class LinksView:
    """The links, clusters and places one viewer may see, counts already protected.

    Attributes
    ----------
    links
        ``geo.links.LINK_COLUMNS`` plus ``name_a``, ``name_b``, ``district_a``,
        ``district_b``.
    clusters
        ``geo.links.CLUSTER_COLUMNS`` ranked (``rank``, ``unassessed_places``).
    places
        One row per linked place: ``place``, ``place_id``, ``name``, ``category``, ``district``,
        ``cluster``, ``linked_places``, ``young_people``, ``persons_of_concern``,
        ``assessed`` (has a current or in-progress assessment), ``easting``,
        ``northing``.
    min_young_people
        The fewest young people a link shown here has.
    protected
        True when the counts were passed through disclosure control.
    """

    links: pd.DataFrame
    clusters: pd.DataFrame
    places: pd.DataFrame
    min_young_people: int
    protected: bool


def _assessed_places(engine: Engine) -> set[str]:
    query = (
        select(Place.place_key)
        .join(Assessment, Assessment.place_id == Place.id)
        .where(and_(Assessment.status != "superseded"))
        .distinct()
    )
    with engine.connect() as connection:
        return set(connection.scalars(query))


def _protect(frame: pd.DataFrame, k: int, *, protected: bool) -> pd.DataFrame:
    """Return the frame with counts of people perturbed (cell key method) and key sums dropped."""
    out = frame.copy()
    if protected:
        for column in PROTECTED_COUNTS:
            if column not in out:
                continue
            counts = out[column].to_numpy(dtype="int64")
            key = f"{column}_key"
            keys = out[key].to_numpy(dtype="int64") if key in out else counts * 0
            if len(out) and key not in out:
                raise KeyError(f"The counts of {column} have no record-key sums beside them.")
            out[column] = pd.Series(
                disclose_counts(counts, keys, k=k), index=out.index, dtype=object
            )
    return out.drop(columns=[c for c in out.columns if str(c).endswith("_key")])


def links_for(
    engine: Engine,
    viewer: Viewer,
    *,
    since: str | None = None,
    until: str | None = None,
    k: int = K_DEFAULT,
    min_young_people: int = 0,
    recent_since: str | None = None,
) -> LinksView:
    """Return the links between places that a viewer may see, for a period.

    Parameters
    ----------
    engine
        The database.
    viewer
        Who asks: leads and admins see every link; anyone else only links
        between places in their districts with at least ``max(k, 2)`` young
        people, and protected counts.
    since, until
        The period, as ``YYYY-MM`` months (inclusive); open when None.
    k
        The deployment's disclosure threshold.
    min_young_people
        Ask for fewer links still (never fewer than the viewer's rule allows).
    recent_since
        ``YYYY-MM`` from which young people count as new in a cluster (growth).
    """
    protected = needs_suppression(viewer)
    floor = max(int(min_young_people), max(int(k), 2) if protected else 0)
    scope = viewer.scope() if protected else ()
    members, district_of = read_members(engine, since=since, until=until, districts=scope)
    graph: LinkGraph = link_graph(
        members, districts=district_of, min_young_people=floor, recent_since=recent_since
    )
    del members  # the pseudonyms go no further
    register = pd.read_sql(
        select(
            Place.id, Place.place_key, Place.name, Place.category, Place.easting, Place.northing
        ).where(Place.place_key.in_(graph.places["place"].tolist() or [""])),
        engine,
    ).set_index("place_key")
    assessed = _assessed_places(engine)
    clusters = rank_clusters(
        graph.clusters,
        unassessed=[p for p in graph.places["place"].tolist() if p not in assessed],
    )
    links = graph.links.assign(
        name_a=graph.links["place_a"].map(register["name"]),
        name_b=graph.links["place_b"].map(register["name"]),
        district_a=graph.links["place_a"].map(district_of),
        district_b=graph.links["place_b"].map(district_of),
    )
    places = graph.places.assign(
        place_id=graph.places["place"].map(register["id"]),
        name=graph.places["place"].map(register["name"]),
        category=graph.places["place"].map(register["category"]),
        assessed=graph.places["place"].isin(assessed),
        easting=graph.places["place"].map(register["easting"]),
        northing=graph.places["place"].map(register["northing"]),
    )
    links, clusters, places = (
        _protect(frame, k, protected=protected) for frame in (links, clusters, places)
    )
    assert list(links.columns[: len(LINK_COLUMNS)]) == list(LINK_COLUMNS)
    assert set(CLUSTER_COLUMNS) <= set(clusters.columns)
    return LinksView(
        links=links,
        clusters=clusters,
        places=places,
        min_young_people=floor,
        protected=protected,
    )
