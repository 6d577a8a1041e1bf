"""A seeded, reproducible demo for Staffordshire and Stoke-on-Trent.

EVERY VALUE BUILT HERE IS SYNTHETIC. No record describes a real child, a real
incident, a real referral or a real assessment. The only real inputs are the
ONS Postcode Directory (so that points fall where people live and places sit at
real postcodes) and a small hand-made table of town-centre grid references
(``data/towns.csv``). Place names are invented from generic street words and
made-up trading names; they do not name real businesses. Children appear only
as keyed pseudonyms made with :data:`DEMO_PSEUDONYM_KEY`, an openly published
demo key; there are no names, dates of birth, addresses, NHS numbers or case
numbers anywhere. Stored values are anonymised as a real import would be
(design section 5): points snapped to the centre of a 100 m British National
Grid square inside their own district, dates coarsened to the Monday of their
week, ages kept only as bands.

Patterns planted for the hotspot engine and the app to find (with the default
window of 24 months ending October 2026, i.e. November 2024 to October 2026;
the place keys are stable across seeds):

- **Persistent hot spots**, steady for all 24 months, in four town centres:
  ``P0001`` Hanley Bus Station (Stoke-on-Trent; mostly CCE and county lines),
  ``P0002`` Chicken Palace, Market Street (Stafford; mostly CSE),
  ``P0003`` Mill Street Park (Cannock; mostly serious youth violence) and
  ``P0004`` Brewhouse Walk Shopping Centre (Burton upon Trent; mixed). Broader
  town-centre clusters around every town in ``towns.csv`` add to them. Esri
  category on 250 m cells: Persistent Hot Spot.
- **New hot spot**: ``P0005`` Castle View Hotel, Tamworth (Glascote, about
  1.8 km east of the town centre): nothing before the last three months
  (August to October 2026 by default), then a sharp cluster, mostly CSE and
  missing episodes. The background scatter keeps a quiet 600 m ring around it,
  so its earlier months stay empty. Esri: Consecutive Hot Spot (hot in each of
  the last three months and never before); simple: Emerging. It has no
  assessment yet, as a newly flagged place would not.
- **Intensifying hot spot**: ``P0006`` Newcastle-under-Lyme Bus Station, rising
  steadily over the 24 months from a handful a month to one of the busiest
  places (CCE and county lines). Esri: Intensifying Hot Spot. Its assessment
  was returned for more work.
- **Diminishing hot spot**: ``P0007`` Kiln Lane Park, Leek, strong at the start
  of the window and fading to about a fifth of that by the end, still just hot.
  Esri: Diminishing Hot Spot. An early assessment (now superseded) led to
  actions that are done; the current one is approved with a low risk.
- **Seasonality**: every series peaks in the summer holidays (July and August
  about 40 per cent above an average month), and missing episodes also peak in
  December and January.
- **Exploitation types by place**: CSE around hotels, takeaways and licensed
  premises; CCE and county lines around transport hubs, car parks and derelict
  buildings; serious youth violence around parks, shopping centres and leisure
  venues; missing episodes across residential areas; online exploitation (which
  has no location) referred mostly by schools.
- **Ages and sexes**: age bands skewed to 13-17, with an 18-24 tail for
  transitional safeguarding; CSE skews female, county lines and SYV male.
- **Repeat places**: a heavy-tailed share of incidents falls at a few dozen
  places, so some places gather many incidents.
- **Background**: a scatter drawn from postcodes with equal weight each, so
  population density shapes it (points shared by five or more postcodes, which
  are PO boxes and large users at delivery offices, are left out).
- **Referrals** follow the incidents, weighted towards the hot spots; some
  children (by pseudonym) are referred several times with rising risk.
- **Assessments** cover the busiest places in every status (draft, submitted,
  approved, returned, superseded), with some reviews and actions overdue on
  the ``end`` date. Each action has a kind (lighting, CCTV, licensing review,
  Makesafe training, patrols or other).
- **Impact of actions** (``_plant_impact``): three unassessed places get an
  approved assessment with actions done 8 months before ``end``: at the busiest,
  incidents nearby fall by about half in the six months after while comparable
  places carry on ("fell ... more than comparable places"); at the next busiest
  (another category) nothing changes ("no clear change"); a quiet place has too
  few incidents to tell. Their reviews are due by ``end``.

Frames use pandas' ``str`` dtype for text columns that are never missing; text
columns that may be missing (``sex``, ``place_key`` of incidents and referrals)
are ``object`` holding None; date columns are ``object`` holding
:class:`datetime.date` (None where missing); coordinates are float64 metres in
EPSG:27700, NaN for online incidents.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from config.demo import DEMO_PSEUDONYM_KEY
from geo.anonymise import age_bands, keyed_pseudonyms, snap_to_grid
from geo.boundaries import DEFAULT_AREA
from geo.postcodes import load_postcode_directory
from store import vocabulary

__all__ = [
    "AGENCIES",
    "AGE_BAND_LABELS",
    "ASSESSMENT_STATUSES",
    "CHECKLIST",
    "DEFAULT_AREA",
    "DEFAULT_END",
    "DEMO_PSEUDONYM_KEY",
    "DISTRICT_COUNCILS",
    "INCIDENT_CATEGORIES",
    "PATTERNS",
    "PLACE_CATEGORIES",
    "DemoData",
    "DemoPattern",
    "build_demo",
    "load_towns",
]

#: The last day of the demo's default window; fixed so the demo is reproducible.
DEFAULT_END: date = date(2026, 10, 31)

#: The council responsible for places in each district.
DISTRICT_COUNCILS: Mapping[str, str] = {
    "E07000192": "Cannock Chase District Council",
    "E07000193": "East Staffordshire Borough Council",
    "E07000194": "Lichfield District Council",
    "E07000195": "Newcastle-under-Lyme Borough Council",
    "E07000196": "South Staffordshire Council",
    "E07000197": "Stafford Borough Council",
    "E07000198": "Staffordshire Moorlands District Council",
    "E07000199": "Tamworth Borough Council",
    "E06000021": "Stoke-on-Trent City Council",
}

# The vocabularies are the app's own (store.vocabulary), in its order: the mix matrices
# below are indexed by these tuples.
PLACE_CATEGORIES: tuple[str, ...] = tuple(vocabulary.PLACE_CATEGORIES)
INCIDENT_CATEGORIES: tuple[str, ...] = tuple(vocabulary.EXPLOITATION_TYPES)
AGENCIES: tuple[str, ...] = tuple(vocabulary.AGENCIES)
AGE_BAND_LABELS: tuple[str, ...] = tuple(vocabulary.AGE_BANDS)
ASSESSMENT_STATUSES: tuple[str, ...] = tuple(vocabulary.ASSESSMENT_STATUSES)

#: Place-assessment checklist: item -> contextual safeguarding triangle domain.
CHECKLIST: Mapping[str, str] = {key: item.domain for key, item in vocabulary.CHECKLIST.items()}

_TOWNS_CSV = Path(__file__).with_name("towns.csv")
_N_PLACES = 480
_PLACE_RADIUS_M = 150.0
_CELL_M = 100.0
_MAX_SHARED_POINT = 5
_QUIET_RING_M = 600.0


@dataclass(frozen=True)
class DemoData:
    """The six frames of the demo, ready for the loader (columns in the module docstring)."""

    places: pd.DataFrame
    incidents: pd.DataFrame
    referrals: pd.DataFrame
    assessments: pd.DataFrame
    findings: pd.DataFrame
    actions: pd.DataFrame
    #: issue 19: the places each referral belongs to (``source_ref``, ``place_key``,
    #: ``relation``, ``person_pseudonym`` of a person of concern or None), see ``_plant_links``.
    place_links: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class DemoPattern:
    """A place with a planted temporal pattern.

    ``offset`` is metres east and north of the town centre; the place sits at the
    nearest postcode. ``share`` is the fraction of all incidents planted there.
    """

    place_key: str
    name: str
    town: str
    category: str
    trend: str  # "persistent", "new", "intensifying" or "diminishing"
    share: float
    offset: tuple[float, float]


PATTERNS: tuple[DemoPattern, ...] = (
    DemoPattern("P0001", "Hanley Bus Station", "Hanley", "transport_hub", "persistent", 0.030,
                (150.0, -100.0)),
    DemoPattern("P0002", "Chicken Palace, Market Street", "Stafford", "fast_food", "persistent",
                0.025, (50.0, 100.0)),
    DemoPattern("P0003", "Mill Street Park", "Cannock", "park", "persistent", 0.020,
                (-300.0, 200.0)),
    DemoPattern("P0004", "Brewhouse Walk Shopping Centre", "Burton upon Trent", "shopping_centre",
                "persistent", 0.025, (-100.0, 0.0)),
    DemoPattern("P0005", "Castle View Hotel, Tamworth", "Tamworth", "hotel", "new", 0.012,
                (1800.0, -300.0)),
    DemoPattern("P0006", "Newcastle-under-Lyme Bus Station", "Newcastle-under-Lyme",
                "transport_hub", "intensifying", 0.030, (100.0, 150.0)),
    DemoPattern("P0007", "Kiln Lane Park, Leek", "Leek", "park", "diminishing", 0.028,
                (-500.0, 300.0)),
)  # fmt: skip

# Shares of incidents by how they are generated (pattern places take PATTERNS' shares).
_SHARE_TOWN = 0.22
_SHARE_REPEAT = 0.17

# Generic places by category (transport hubs also come from towns' stations).
_PLACE_MIX: Mapping[str, float] = {
    "park": 0.17,
    "fast_food": 0.16,
    "shopping_centre": 0.05,
    "transport_hub": 0.03,
    "hotel": 0.07,
    "licensed_premises": 0.16,
    "car_park": 0.10,
    "school_surroundings": 0.09,
    "derelict_building": 0.10,
    "leisure_venue": 0.07,
}

# Incident category mix (cse, cce, county_lines, missing, syv, online) by context: the ten
# place categories, then a background context and a town-centre context.
_CONTEXTS: tuple[str, ...] = (*PLACE_CATEGORIES, "background", "town_centre")
_CATEGORY_MIX = np.array(
    [
        [0.12, 0.15, 0.08, 0.15, 0.45, 0.05],  # park
        [0.35, 0.20, 0.10, 0.15, 0.15, 0.05],  # fast_food
        [0.15, 0.25, 0.08, 0.17, 0.30, 0.05],  # shopping_centre
        [0.08, 0.30, 0.35, 0.15, 0.10, 0.02],  # transport_hub
        [0.55, 0.05, 0.08, 0.22, 0.03, 0.07],  # hotel
        [0.30, 0.15, 0.10, 0.10, 0.30, 0.05],  # licensed_premises
        [0.20, 0.25, 0.25, 0.10, 0.15, 0.05],  # car_park
        [0.15, 0.25, 0.10, 0.10, 0.25, 0.15],  # school_surroundings
        [0.15, 0.30, 0.30, 0.10, 0.10, 0.05],  # derelict_building
        [0.20, 0.15, 0.05, 0.15, 0.35, 0.10],  # leisure_venue
        [0.15, 0.11, 0.06, 0.46, 0.12, 0.10],  # background (home areas)
        [0.15, 0.20, 0.12, 0.20, 0.28, 0.05],  # town_centre
    ]
)
# Share of each incident category in an online context (no location).
_ONLINE_SHARE = np.array([0.06, 0.004, 0.004, 0.002, 0.002, 0.40])
# Source agency mix (police, social_care, health, education, youth_service) by category.
_AGENCY_MIX = np.array(
    [
        [0.35, 0.35, 0.12, 0.10, 0.08],
        [0.50, 0.20, 0.05, 0.12, 0.13],
        [0.70, 0.15, 0.03, 0.05, 0.07],
        [0.55, 0.35, 0.05, 0.03, 0.02],
        [0.60, 0.08, 0.20, 0.05, 0.07],
        [0.30, 0.25, 0.05, 0.32, 0.08],
    ]
)
# Sex by category: (female, male, not recorded).
_SEX_MIX = np.array(
    [
        [0.78, 0.18, 0.04],
        [0.25, 0.71, 0.04],
        [0.15, 0.81, 0.04],
        [0.52, 0.44, 0.04],
        [0.18, 0.78, 0.04],
        [0.62, 0.34, 0.04],
    ]
)
# Age distribution by category, ages 10..24: a peak (age, spread) and an 18-24 tail weight.
_AGE_SHAPE = np.array(
    [[15.0, 1.6, 0.08], [15.5, 1.5, 0.08], [16.0, 1.4, 0.12], [14.5, 1.8, 0.05],
     [16.0, 1.8, 0.15], [13.5, 1.6, 0.04]]
)  # fmt: skip
# Calendar-month factors, January first: the summer holidays peak.
_SEASON = np.array([0.95, 0.90, 0.95, 1.0, 1.0, 1.05, 1.40, 1.45, 1.0, 1.0, 0.95, 1.05])
# Extra factor for missing episodes around Christmas.
_MISSING_SEASON = np.array([1.30, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.60])


# --------------------------------------------------------------------------- small helpers


def _sample_rows(
    rng: np.random.Generator, probs: np.ndarray, u: np.ndarray | None = None
) -> np.ndarray:
    """Draw one column index per row of a matrix of weights (rows need not sum to 1).

    ``u`` are the uniforms to use, for stratified draws; fresh ones by default.
    """
    cum = np.cumsum(probs, axis=1)
    uniforms = rng.random(len(probs)) if u is None else u
    return np.minimum((uniforms[:, None] * cum[:, -1:] >= cum).sum(axis=1), probs.shape[1] - 1)


def _stratified_uniforms(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """Uniforms spread evenly over [0, 1) within each group, in random order.

    Drawing months with them gives each generating component monthly counts
    close to its expected profile, so planted trends are not drowned by noise.
    """
    order = np.lexsort((rng.random(group.size), group))
    sizes = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(group.size) - starts[group[order]]
    u = np.empty(group.size)
    u[order] = (rank + rng.random(group.size)) / sizes[group[order]]
    return u


def _choice(
    rng: np.random.Generator, options: Sequence[str], size: int, p: np.ndarray | None = None
) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=size, p=p)]


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _to_dates(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` to an object array of :class:`datetime.date`."""
    return days.astype("datetime64[D]").astype(object)


def _split(n: int, shares: Sequence[float]) -> np.ndarray:
    """Split ``n`` into integer parts proportional to ``shares`` (largest remainders)."""
    raw = np.asarray(shares, dtype=float) / np.sum(shares) * n
    parts = np.floor(raw).astype(int)
    parts[np.argsort(raw - parts)[::-1][: n - parts.sum()]] += 1
    return parts


def load_towns(districts: Sequence[str] = DEFAULT_AREA) -> pd.DataFrame:
    """Read ``data/towns.csv``: town centres of the area, in British National Grid.

    Parameters
    ----------
    districts
        Keep only towns in these ONS district codes.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``district_code``, ``easting``, ``northing`` (EPSG:27700),
        ``weight`` (relative size) and ``has_station`` (a railway station).
    """
    towns = pd.read_csv(_TOWNS_CSV, dtype={"name": "str", "district_code": "str"})
    return towns.loc[towns["district_code"].isin(list(districts))].reset_index(drop=True)


# --------------------------------------------------------------------------- the area


@dataclass(frozen=True)
class _Area:
    postcodes: pd.DataFrame  # residential-looking postcodes whose 100 m cell stays in district
    tree: cKDTree  # every postcode in and around the area
    tree_district: np.ndarray
    cell_trees: Mapping[str, tuple[cKDTree, np.ndarray]]  # safe cell centres by district


def _prepare_area(districts: Sequence[str]) -> _Area:
    everywhere = load_postcode_directory()
    inside = load_postcode_directory(districts)
    if inside.empty:
        raise ValueError(f"no postcodes found for districts {list(districts)}")
    margin = 5_000.0
    e, n = everywhere["easting"].to_numpy(), everywhere["northing"].to_numpy()
    near = (
        (e > inside["easting"].min() - margin)
        & (e < inside["easting"].max() + margin)
        & (n > inside["northing"].min() - margin)
        & (n < inside["northing"].max() + margin)
    )
    context = everywhere.loc[near]
    tree = cKDTree(context[["easting", "northing"]].to_numpy())
    tree_district = context["district_code"].astype(str).to_numpy()
    ce, cn = snap_to_grid(inside["easting"], inside["northing"], cell_size=_CELL_M)
    _, nearest = tree.query(np.column_stack([ce, cn]))
    safe = tree_district[nearest] == inside["district_code"].to_numpy()
    # Many postcodes at one point are PO boxes and large users at a delivery office: drawing
    # from them would plant false hot spots at sorting offices.
    sharing = inside.groupby(["easting", "northing"])["postcode"].transform("size").to_numpy()
    safe &= sharing < _MAX_SHARED_POINT
    postcodes = inside.loc[safe].reset_index(drop=True)
    cells = pd.DataFrame({"e": ce[safe], "n": cn[safe], "d": postcodes["district_code"]})
    cells = cells.drop_duplicates()
    cell_trees = {
        code: (cKDTree(group[["e", "n"]].to_numpy()), group[["e", "n"]].to_numpy())
        for code, group in cells.groupby("d")
    }
    return _Area(postcodes, tree, tree_district, cell_trees)


def _district_of(area: _Area, easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    _, nearest = area.tree.query(np.column_stack([easting, northing]))
    return area.tree_district[nearest]


def _locate(
    rng: np.random.Generator,
    area: _Area,
    anchor_e: np.ndarray,
    anchor_n: np.ndarray,
    district: np.ndarray,
    sigma: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Scatter points around anchors, snap them to 100 m cells and keep them in their district.

    A point whose cell's nearest postcode lies in another district is drawn again
    with half the spread, up to four times, then moved to the nearest cell of its
    own district that holds a postcode.
    """
    e = np.empty(len(anchor_e))
    n = np.empty(len(anchor_e))
    todo = np.arange(len(anchor_e))
    spread = sigma.astype(float).copy()
    for _ in range(5):
        if todo.size == 0:
            break
        jitter = rng.normal(size=(todo.size, 2)) * spread[todo, None]
        se, sn = snap_to_grid(anchor_e[todo] + jitter[:, 0], anchor_n[todo] + jitter[:, 1])
        e[todo], n[todo] = se, sn
        ok = _district_of(area, se, sn) == district[todo]
        todo = todo[~ok]
        spread[todo] /= 2.0
    for code in np.unique(district[todo]):
        rows = todo[district[todo] == code]
        cell_tree, cells = area.cell_trees[code]
        _, nearest = cell_tree.query(np.column_stack([anchor_e[rows], anchor_n[rows]]))
        e[rows], n[rows] = cells[nearest, 0], cells[nearest, 1]
    return e, n


# --------------------------------------------------------------------------- places

_STREETS = (
    "Market Street", "High Street", "Church Street", "Mill Street", "Station Road", "Bridge Street",
    "Park Road", "Canal Street", "Castle Street", "Wharf Road", "Brook Lane", "Mill Lane",
    "Garden Street", "Chapel Street", "Crown Street", "Forge Lane", "Kiln Lane", "Potters Way",
    "Orchard Street", "Trinity Road", "Meadow Way", "Foundry Street", "Hill Street", "Well Street",
    "Water Street", "Union Street", "Bank Street", "Salter Street", "Tannery Lane", "Furnace Road",
    "Lock Road", "Moor Lane", "Brewery Street", "Cross Street", "Cheapside", "Town Road",
)  # fmt: skip
_TAKEAWAYS = (
    "Chicken Palace", "Golden Fry", "Peri Grill House", "Pizza Corner", "Kebab Express",
    "Burger Yard", "Crispy Wings", "Noodle Box", "Fish Bar Supreme", "Late Night Chicken",
    "Spice Grill", "Dough and Go",
)  # fmt: skip
_SHOPPING_WORDS = (
    "Foundry Walk", "Kiln Court", "Lock Gate", "Weavers Square", "Tannery Court", "Wharfside",
    "Cornmill", "Potters Walk", "Crown Arcade",
)  # fmt: skip
_PUB_COLOURS = ("Red", "Black", "White", "Golden", "Green", "Blue")
_PUB_ANIMALS = ("Lion", "Swan", "Horse", "Bull", "Stag", "Fox", "Hart", "Bear")
_DERELICT = (
    "pottery works", "bottle kiln yard", "brewery depot", "furniture warehouse", "garage",
    "social club", "mill", "bingo hall", "police station", "printing works",
)  # fmt: skip


_NAME_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "park": (
        "{street} Park", "{street} Recreation Ground", "{town} Memorial Park",
        "{street} Playing Fields",
    ),
    "fast_food": ("{takeaway}, {street}",),
    "shopping_centre": (
        "{word} Shopping Centre", "{town} Market Hall", "{word} Shopping Centre",
        "{street} Retail Park",
    ),
    "transport_hub": (
        "{street} bus interchange", "{street} taxi rank", "{street} bus stops", "{town} coach stop",
    ),
    "hotel": (
        "Central Stay Hotel {town}", "Riverside Lodge {town}", "Station Rest Hotel {town}",
        "The {street} Guest House",
    ),
    "licensed_premises": (
        "The {colour} {animal}, {street}", "{street} Social Club", "Vault Bar, {street}",
    ),
    "car_park": (
        "{street} Car Park", "{street} Multi-Storey Car Park", "{town} Retail Park car park",
    ),
    "school_surroundings": (
        "{street} Academy surroundings", "{street} High School gates", "{street} school bus stops",
    ),
    "derelict_building": ("Former {thing}, {street}",),
    "leisure_venue": (
        "{town} Leisure Centre", "{street} Skate Park", "{town} Bowling and Arcade",
        "{street} Trampoline Park",
    ),
}  # fmt: skip


def _place_name(rng: np.random.Generator, category: str, town: str) -> str:
    """Invent a plausible name for a place; no real business is named."""
    templates = _NAME_TEMPLATES[category]

    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    return pick(templates).format(
        street=pick(_STREETS),
        town=town,
        takeaway=pick(_TAKEAWAYS),
        word=pick(_SHOPPING_WORDS),
        colour=pick(_PUB_COLOURS),
        animal=pick(_PUB_ANIMALS),
        thing=pick(_DERELICT),
    )


def _unique_names(names: list[str], towns: list[str]) -> list[str]:
    """Add the town, then a number, to names that repeat."""
    seen: set[str] = set()
    out = []
    for name, town in zip(names, towns, strict=True):
        candidate = name if name not in seen else f"{name}, {town}"
        number = 2
        while candidate in seen:
            candidate = f"{name} ({number})"
            number += 1
        seen.add(candidate)
        out.append(candidate)
    return out


def _nearest_postcode(pool: pd.DataFrame, e: float, n: float) -> int:
    d2 = (pool["easting"].to_numpy() - e) ** 2 + (pool["northing"].to_numpy() - n) ** 2
    return int(np.argmin(d2))


def _place_row(
    key: str, name: str, category: str, town: str, at: pd.Series, active: bool
) -> dict[str, object]:
    return {
        "place_key": key,
        "name": name,
        "category": category,
        "town": town,
        "postcode": at["postcode"],
        "easting": at["easting"],
        "northing": at["northing"],
        "district_code": at["district_code"],
        "active": active,
    }


def _pattern_places(area: _Area, towns: pd.DataFrame) -> list[dict[str, object]]:
    """Place the pattern places at the postcode nearest their offset from the town centre."""
    by_town = towns.set_index("name")
    rows = []
    for pattern in PATTERNS:
        if pattern.town not in by_town.index:
            continue
        town = by_town.loc[pattern.town]
        pool = area.postcodes.loc[area.postcodes["district_code"] == town["district_code"]]
        target_e = town["easting"] + pattern.offset[0]
        target_n = town["northing"] + pattern.offset[1]
        at = pool.iloc[_nearest_postcode(pool, target_e, target_n)]
        rows.append(
            _place_row(pattern.place_key, pattern.name, pattern.category, pattern.town, at, True)
        )
    return rows


def _town_places(
    rng: np.random.Generator, area: _Area, town: pd.Series, count: int
) -> list[dict[str, object]]:
    """Make one town's generic places at postcodes near its centre, stations first."""
    pool = area.postcodes.loc[area.postcodes["district_code"] == town["district_code"]]
    radius = 400.0 + 80.0 * town["weight"]
    dist = np.hypot(pool["easting"] - town["easting"], pool["northing"] - town["northing"])
    within = dist.to_numpy() < radius
    pool = pool.loc[within]
    closeness = np.exp(-0.5 * (dist.to_numpy()[within] / (0.5 * radius)) ** 2)
    hubs = [f"{town['name']} Bus Station"] if town["weight"] >= 2 else []
    if town["has_station"]:
        hubs.append(f"{town['name']} Railway Station")
    hubs = [hub for hub in hubs if hub not in {p.name for p in PATTERNS}]
    mix = np.array(list(_PLACE_MIX.values()))
    drawn = _choice(rng, list(_PLACE_MIX), max(count - len(hubs), 0), p=mix / mix.sum())
    categories = ["transport_hub"] * len(hubs) + list(drawn)
    picks = rng.choice(
        len(pool),
        size=len(categories),
        replace=len(categories) > len(pool),
        p=closeness / closeness.sum(),
    )
    rows = []
    for i, (category, pick) in enumerate(zip(categories, picks, strict=True)):
        name = hubs[i] if i < len(hubs) else _place_name(rng, category, town["name"])
        closed = rng.random() < (0.25 if category == "derelict_building" else 0.03)
        rows.append(_place_row("", name, category, town["name"], pool.iloc[pick], not closed))
    return rows


def _build_places(rng: np.random.Generator, area: _Area, towns: pd.DataFrame) -> pd.DataFrame:
    """About 480 places: the pattern places first, then each town's share by its weight."""
    fixed = _pattern_places(area, towns)
    counts = _split(_N_PLACES - len(fixed), towns["weight"].to_numpy())
    generic = [
        row
        for (_, town), count in zip(towns.iterrows(), counts, strict=True)
        for row in _town_places(rng, area, town, count)
    ]
    for number, row in enumerate(generic, start=len(PATTERNS) + 1):
        row["place_key"] = f"P{number:04d}"
    places = pd.DataFrame(fixed + generic)
    places["name"] = _unique_names(places["name"].tolist(), places["town"].tolist())
    places["responsible_org"] = places["district_code"].map(DISTRICT_COUNCILS)
    places = places[[*_PLACE_COLUMNS, "town"]]
    places = places.astype({"easting": "float64", "northing": "float64", "active": "bool"})
    for column in ("place_key", "name", "category", "postcode", "district_code", "responsible_org"):
        places[column] = places[column].astype("str")
    return places


_PLACE_COLUMNS: tuple[str, ...] = (
    "place_key",
    "name",
    "category",
    "easting",
    "northing",
    "postcode",
    "district_code",
    "responsible_org",
    "active",
)


# --------------------------------------------------------------------------- incidents


@dataclass(frozen=True)
class _Calendar:
    months: int
    month_of_year: np.ndarray  # 1..12 for each month of the window
    mondays: np.ndarray  # datetime64[D], every Monday in the window
    first_monday: np.ndarray  # index into mondays of each month's first Monday
    monday_count: np.ndarray  # Mondays in each month


def _calendar(end: date, months: int) -> _Calendar:
    last = np.datetime64(end, "M")
    first = last - (months - 1)
    start_day = first.astype("datetime64[D]")
    days = np.arange(start_day, np.datetime64(end, "D") + 1)
    mondays = days[(days.astype("int64") + 3) % 7 == 0]
    month_index = (mondays.astype("datetime64[M]") - first).astype(int)
    count = np.bincount(month_index, minlength=months)
    window = np.arange(first, last + 1)
    month_of_year = window.astype(int) % 12 + 1
    first_monday = np.searchsorted(month_index, np.arange(months))
    return _Calendar(months, month_of_year, mondays, first_monday, count)


_TRENDS: tuple[str, ...] = ("persistent", "new", "intensifying", "diminishing")


def _trend_profile(trend: str, months: int) -> np.ndarray:
    t = np.arange(months) / max(months - 1, 1)
    if trend == "new":
        return (np.arange(months) >= months - 3).astype(float)
    if trend == "intensifying":
        return 0.1 + 1.8 * t
    if trend == "diminishing":
        return 1.9 - 1.5 * t
    return np.ones(months)


def _month_weights(cal: _Calendar, trend: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Per-row weights over the window's months: trend x season x category season."""
    profiles = np.stack([_trend_profile(k, cal.months) for k in _TRENDS])
    season = _SEASON[cal.month_of_year - 1]
    by_category = np.tile(season, (len(INCIDENT_CATEGORIES), 1))
    by_category[INCIDENT_CATEGORIES.index("missing")] *= _MISSING_SEASON[cal.month_of_year - 1]
    has_monday = (cal.monday_count > 0).astype(float)
    return profiles[trend] * by_category[category] * has_monday


def _sample_weeks(rng: np.random.Generator, cal: _Calendar, month: np.ndarray) -> np.ndarray:
    offset = np.floor(rng.random(month.size) * cal.monday_count[month]).astype(int)
    return cal.mondays[cal.first_monday[month] + offset]


def _sample_ages(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    ages = np.arange(10, 25)
    peak, spread, tail = _AGE_SHAPE[:, 0:1], _AGE_SHAPE[:, 1:2], _AGE_SHAPE[:, 2:3]
    weights = np.exp(-0.5 * ((ages - peak) / spread) ** 2)
    weights = weights / weights.sum(axis=1, keepdims=True) * (1 - tail)
    adult = ages >= 18
    weights[:, adult] += tail * np.linspace(1.5, 0.5, adult.sum()) / adult.sum()
    return ages[_sample_rows(rng, weights[category])]


@dataclass(frozen=True)
class _Plan:
    """Where and how each incident is generated, before it is located."""

    anchor_e: np.ndarray
    anchor_n: np.ndarray
    district: np.ndarray
    sigma: np.ndarray
    context: np.ndarray  # index into _CONTEXTS
    trend: np.ndarray  # index into _TRENDS
    hotspot_weight: np.ndarray  # how strongly referrals follow this incident
    group: np.ndarray  # which generating component drew it


def _part(k: int, **columns: Any) -> dict[str, np.ndarray]:
    """One generating component of the plan; scalars are repeated ``k`` times."""
    return {
        name: np.asarray(value) if np.ndim(value) else np.full(k, value)
        for name, value in columns.items()
    }


def _background_pool(area: _Area, places: pd.DataFrame) -> pd.DataFrame:
    """Postcodes for the background scatter, leaving a quiet ring around new hot spots.

    A new hot spot is a place where nothing was reported before; keeping stray
    background points out of its neighbourhood keeps its earlier months empty.
    """
    new = places.loc[places["place_key"].isin([p.place_key for p in PATTERNS if p.trend == "new"])]
    pool = area.postcodes
    quiet = np.zeros(len(pool), dtype=bool)
    for e, n in new[["easting", "northing"]].to_numpy():
        quiet |= np.hypot(pool["easting"] - e, pool["northing"] - n).to_numpy() < _QUIET_RING_M
    return pool.loc[~quiet]


def _plan_incidents(
    rng: np.random.Generator, n: int, area: _Area, places: pd.DataFrame, towns: pd.DataFrame
) -> _Plan:
    """Draw each incident's anchor, spread, context and trend from the generating components.

    The pattern places take their ``share`` of incidents, town centres
    ``_SHARE_TOWN``, a heavy-tailed set of repeat places ``_SHARE_REPEAT``, and a
    background scatter over postcodes the rest.
    """
    patterns = [p for p in PATTERNS if p.place_key in set(places["place_key"])]
    pattern_share = sum(p.share for p in patterns)
    shares = [p.share for p in patterns]
    shares += [_SHARE_TOWN, _SHARE_REPEAT, 1 - _SHARE_TOWN - _SHARE_REPEAT - pattern_share]
    sizes = _split(n, shares)
    indexed = places.set_index("place_key")
    parts = []
    for pattern, k in zip(patterns, sizes, strict=False):
        place = indexed.loc[pattern.place_key]
        parts.append(
            _part(
                k,
                anchor_e=place["easting"],
                anchor_n=place["northing"],
                district=place["district_code"],
                sigma=90.0,
                context=_CONTEXTS.index(pattern.category),
                trend=_TRENDS.index(pattern.trend),
                hotspot_weight=4.0,
            )
        )
    k_town, k_repeat, k_background = sizes[len(patterns) :]
    town = rng.choice(len(towns), size=k_town, p=towns["weight"] / towns["weight"].sum())
    parts.append(
        _part(
            k_town,
            anchor_e=towns["easting"].to_numpy(float)[town],
            anchor_n=towns["northing"].to_numpy(float)[town],
            district=towns["district_code"].to_numpy(str)[town],
            sigma=300.0 + 30.0 * towns["weight"].to_numpy(float)[town],
            context=_CONTEXTS.index("town_centre"),
            trend=0,
            hotspot_weight=1.5,
        )
    )
    generic = places.loc[~places["place_key"].isin([p.place_key for p in PATTERNS])]
    popularity = (rng.pareto(1.5, len(generic)) + 0.05) * np.where(generic["active"], 1.0, 0.3)
    place = rng.choice(len(generic), size=k_repeat, p=popularity / popularity.sum())
    context_of_place = generic["category"].map(_CONTEXTS.index).to_numpy(int)
    parts.append(
        _part(
            k_repeat,
            anchor_e=generic["easting"].to_numpy()[place],
            anchor_n=generic["northing"].to_numpy()[place],
            district=generic["district_code"].to_numpy(str)[place],
            sigma=45.0,
            context=context_of_place[place],
            trend=0,
            hotspot_weight=2.5,
        )
    )
    pool = _background_pool(area, places)
    postcode = rng.integers(len(pool), size=k_background)
    parts.append(
        _part(
            k_background,
            anchor_e=pool["easting"].to_numpy()[postcode],
            anchor_n=pool["northing"].to_numpy()[postcode],
            district=pool["district_code"].to_numpy(str)[postcode],
            sigma=60.0,
            context=_CONTEXTS.index("background"),
            trend=0,
            hotspot_weight=1.0,
        )
    )
    for number, part in enumerate(parts):
        part["group"] = np.full(len(part["anchor_e"]), number)
    return _Plan(**{name: np.concatenate([part[name] for part in parts]) for name in parts[0]})


def _pseudonyms(kind: str, seed: int, count: int) -> np.ndarray:
    refs = [f"demo-{seed}-{kind}-{i:06d}" for i in range(count)]
    out = keyed_pseudonyms(refs, key=DEMO_PSEUDONYM_KEY, length=16)
    if len(set(out)) != count:  # pragma: no cover - 64-bit collisions are vanishingly rare
        raise RuntimeError(f"pseudonym collision among {kind}s; choose another seed")
    return out


def _nearest_place(places: pd.DataFrame, easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    tree = cKDTree(places[["easting", "northing"]].to_numpy())
    located = ~np.isnan(easting)
    out = np.full(easting.size, None, dtype=object)
    dist, index = tree.query(
        np.column_stack([easting[located], northing[located]]),
        distance_upper_bound=_PLACE_RADIUS_M,
    )
    keys = places["place_key"].to_numpy(object)
    hit = np.isfinite(dist)
    found = np.full(located.sum(), None, dtype=object)
    found[hit] = keys[index[hit]]
    out[located] = found
    return out


def _context_near_places(
    rng: np.random.Generator, context: np.ndarray, place_key: np.ndarray, places: pd.DataFrame
) -> np.ndarray:
    """Let most town-centre and background incidents that fall at a place take its mix."""
    category_of = places.set_index("place_key")["category"].map(_CONTEXTS.index)
    diffuse = np.isin(context, [_CONTEXTS.index("background"), _CONTEXTS.index("town_centre")])
    take = diffuse & pd.notna(place_key) & (rng.random(context.size) < 0.7)
    out = context.copy()
    out[take] = category_of.loc[place_key[take]].to_numpy()
    return out


def _build_incidents(
    rng: np.random.Generator,
    *,
    n: int,
    seed: int,
    cal: _Calendar,
    area: _Area,
    places: pd.DataFrame,
    towns: pd.DataFrame,
) -> tuple[pd.DataFrame, np.ndarray]:
    plan = _plan_incidents(rng, n, area, places, towns)
    easting, northing = _locate(rng, area, plan.anchor_e, plan.anchor_n, plan.district, plan.sigma)
    place_key = _nearest_place(places, easting, northing)
    context = _context_near_places(rng, plan.context, place_key, places)
    category = _sample_rows(rng, _CATEGORY_MIX[context])
    month = _sample_rows(
        rng, _month_weights(cal, plan.trend, category), u=_stratified_uniforms(rng, plan.group)
    )
    occurred = _sample_weeks(rng, cal, month)
    online = rng.random(n) < _ONLINE_SHARE[category]
    easting[online] = np.nan
    northing[online] = np.nan
    place_key[online] = None
    sex = np.array(["female", "male", None], dtype=object)[_sample_rows(rng, _SEX_MIX[category])]
    frame = pd.DataFrame(
        {
            "source_ref": pd.Series(_pseudonyms("incident", seed, n), dtype="str"),
            "source_agency": pd.Series(
                np.asarray(AGENCIES)[_sample_rows(rng, _AGENCY_MIX[category])], dtype="str"
            ),
            "category": pd.Series(np.asarray(INCIDENT_CATEGORIES)[category], dtype="str"),
            "occurred_on": pd.Series(_to_dates(occurred), dtype=object),
            "age_band": pd.Series(age_bands(_sample_ages(rng, category)), dtype="str"),
            "sex": pd.Series(sex, dtype=object),
            "online": online,
            "easting": easting,
            "northing": northing,
            "district_code": pd.Series(plan.district.astype(str), dtype="str"),
            "place_key": pd.Series(place_key, dtype=object),
        }
    )
    order = np.lexsort((frame["source_ref"].to_numpy(), occurred))
    return frame.iloc[order].reset_index(drop=True), plan.hotspot_weight[order]


# --------------------------------------------------------------------------- referrals

_ROUTES = ("RFM", "MACE", "other")
_RISK = ("low", "medium", "high")
_RISK_BY_ROUTE = np.array([[0.35, 0.45, 0.20], [0.05, 0.35, 0.60], [0.50, 0.40, 0.10]])
_OUTCOMES = ("No further action", "Early help", "MACE discussion", "Child protection", "Open")
_OUTCOME_BY_RISK = np.array(
    [[0.50, 0.40, 0.00, 0.00, 0.10], [0.10, 0.40, 0.30, 0.05, 0.15], [0.00, 0.05, 0.50, 0.30, 0.15]]
)
_REFERRAL_AGENCIES = np.array([0.30, 0.30, 0.10, 0.20, 0.10])


def _build_referrals(
    rng: np.random.Generator,
    *,
    n: int,
    seed: int,
    cal: _Calendar,
    incidents: pd.DataFrame,
    hotspot_weight: np.ndarray,
) -> pd.DataFrame:
    # Children: 1 + geometric referrals each, cut to exactly n referrals.
    per_child = rng.geometric(0.6, size=n)
    child_of = np.repeat(np.arange(n), per_child)[:n]
    repeat_no = np.arange(n) - np.searchsorted(child_of, child_of)  # 0 for a first referral
    n_children = int(child_of.max()) + 1
    base = rng.choice(len(incidents), size=n_children, p=hotspot_weight / hotspot_weight.sum())
    source = incidents.iloc[base[child_of]].reset_index(drop=True)
    # Repeat referrals come 2-12 weeks after the previous one, or before the first near the end.
    gaps = np.where(repeat_no > 0, rng.integers(2, 13, size=n), 0)
    steps = np.cumsum(gaps) - np.cumsum(gaps)[np.searchsorted(child_of, child_of)]
    first = np.array(source["occurred_on"].tolist(), dtype="datetime64[D]")
    later = first + 7 * steps
    occurred = np.where(later <= cal.mondays[-1], later, first - 7 * steps)
    occurred = np.clip(occurred, cal.mondays[0], cal.mondays[-1])
    route = _sample_rows(rng, np.tile([0.55, 0.30, 0.15], (n, 1)))
    risk = _sample_rows(rng, _RISK_BY_ROUTE[route])
    risk = np.minimum(risk + ((repeat_no > 0) & (rng.random(n) < 0.4)), 2)
    outcome = _sample_rows(rng, _OUTCOME_BY_RISK[risk])
    recent = occurred > cal.mondays[-1] - 42
    outcome = np.where(recent & (rng.random(n) < 0.6), _OUTCOMES.index("Open"), outcome)
    children = _pseudonyms("child", seed, n_children)
    frame = pd.DataFrame(
        {
            "child_pseudonym": pd.Series(children[child_of], dtype="str"),
            "route": pd.Series(np.asarray(_ROUTES)[route], dtype="str"),
            "risk_level": pd.Series(np.asarray(_RISK)[risk], dtype="str"),
            "outcome": pd.Series(np.asarray(_OUTCOMES)[outcome], dtype="str"),
            "source_ref": pd.Series(_pseudonyms("referral", seed, n), dtype="str"),
            "source_agency": pd.Series(
                _choice(rng, AGENCIES, n, p=_REFERRAL_AGENCIES), dtype="str"
            ),
            "category": source["category"],
            "occurred_on": pd.Series(_to_dates(occurred), dtype=object),
            "age_band": source["age_band"],
            "sex": source["sex"],
            "online": source["online"],
            "easting": source["easting"],
            "northing": source["northing"],
            "district_code": source["district_code"],
            "place_key": source["place_key"],
        }
    )
    order = np.lexsort((frame["source_ref"].to_numpy(), occurred))
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- planted links
# issue 19: so that the MACE view shows something, two groups of young people are planted
# among the referrals (their referrals are rewritten; the number of referrals stays):
# a county line along the railway (stations from Stoke to Tamworth, three persons of
# concern, growing in the last months), and a peer group around a school, a park and a
# takeaway in Cannock.

_RAIL_TOWNS = ("Stoke", "Stone", "Stafford", "Penkridge", "Rugeley", "Lichfield", "Tamworth")
_RAIL_YOUNG_PEOPLE = 26
_PEER_YOUNG_PEOPLE = 9


def _plant_links(
    *, seed: int, cal: _Calendar, places: pd.DataFrame, referrals: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed + 19)  # its own stream: the other frames do not change
    referrals = referrals.copy()
    by_key = places.set_index("place_key")
    stations = [
        key
        for town in _RAIL_TOWNS
        for key in places.loc[
            (places["town"] == town) & places["name"].str.endswith("Railway Station"), "place_key"
        ]
    ]
    cannock = places.loc[places["town"] == "Cannock"]
    peer = [
        cannock.loc[cannock["category"] == category, "place_key"].iloc[0]
        for category in ("school_surroundings", "park", "fast_food")
        if (cannock["category"] == category).any()
    ]
    groups: list[tuple[str, list[list[str]], list[str]]] = []
    if len(stations) >= 3:
        routes = []
        for _ in range(_RAIL_YOUNG_PEOPLE):
            span = int(rng.integers(2, 4))
            start = int(rng.integers(0, len(stations) - span + 1))
            routes.append(stations[start : start + span])
        groups.append(("rail", routes, ["county_lines", "cce"]))
    if len(peer) >= 2:
        routes = [peer if rng.random() < 0.5 else peer[:2] for _ in range(_PEER_YOUNG_PEOPLE)]
        groups.append(("peer", routes, ["serious_youth_violence", "cse"]))
    rows: list[dict[str, object]] = []
    free = rng.permutation(len(referrals))
    used = 0
    persons = _pseudonyms("person-of-concern", seed, 3)
    last_month = len(cal.first_monday) - 1
    for name, routes, categories in groups:
        children = _pseudonyms(f"child-{name}", seed, len(routes))
        for child, route in zip(children, routes, strict=True):
            at = free[used]
            used += 1
            # more of them in the last months: the cluster grows
            month = last_month - min(int(rng.geometric(0.3)) - 1, 7)
            week = cal.first_monday[month] + int(rng.integers(0, cal.monday_count[month]))
            first = by_key.loc[route[0]]
            column = referrals.columns.get_loc
            referrals.iloc[at, column("child_pseudonym")] = child
            referrals.iloc[at, column("occurred_on")] = _to_dates(cal.mondays[[week]])[0]
            referrals.iloc[at, column("category")] = categories[int(rng.integers(0, 2))]
            referrals.iloc[at, column("online")] = False
            e, n = snap_to_grid([first["easting"]], [first["northing"]], cell_size=_CELL_M)
            referrals.iloc[at, column("easting")] = float(e[0])
            referrals.iloc[at, column("northing")] = float(n[0])
            referrals.iloc[at, column("district_code")] = first["district_code"]
            referrals.iloc[at, column("place_key")] = route[0]
            person = persons[int(rng.integers(0, 3))] if name == "rail" else None
            if person is not None and rng.random() < 0.4:
                person = None
            ref = referrals.iloc[at]["source_ref"]
            for number, key in enumerate(route):
                relation = "found_at" if number == 0 else "frequents"
                rows.append(
                    {
                        "source_ref": ref,
                        "place_key": key,
                        "relation": relation,
                        "person_pseudonym": person,
                    }
                )
    planted = {r["source_ref"] for r in rows}
    near = referrals.loc[referrals["place_key"].notna() & ~referrals["source_ref"].isin(planted)]
    rows += [
        {"source_ref": ref, "place_key": key, "relation": "near", "person_pseudonym": None}
        for ref, key in zip(near["source_ref"], near["place_key"], strict=True)
    ]
    links = pd.DataFrame(rows, columns=["source_ref", "place_key", "relation", "person_pseudonym"])
    return referrals, links


# --------------------------------------------------------------------------- assessments

_ASSESSORS = (
    "Community Safety Officer", "Contextual Safeguarding Practitioner", "Exploitation Lead",
    "Neighbourhood Policing Sergeant", "Youth Work Manager", "Licensing Officer",
    "Anti-Social Behaviour Coordinator", "Safeguarding Partnership Officer",
)  # fmt: skip
_PARTNERS = (
    "Staffordshire Police", "British Transport Police", "Staffordshire Fire and Rescue Service",
    "Staffordshire County Council Children's Services", "Stoke-on-Trent Children's Services",
    "NHS Staffordshire and Stoke-on-Trent ICB", "Youth service", "Local businesses' association",
    "Staffordshire Commissioner's Office", "Community safety partnership",
    "Schools' safeguarding network",
)  # fmt: skip
_GOALS = {
    "park": "Make {name} feel safe for young people after dark: working lighting on the main "
    "paths, cut-back shrubs near the play area and a regular detached youth work session.",
    "fast_food": "Build {name} into a guardian: staff trained to spot and report exploitation, "
    "a closing-time plan agreed with the police and better lighting at the rear entrance.",
    "shopping_centre": "Reduce harm around {name}: security staff trained in exploitation, "
    "shared radio with the police and a youth space on Saturday afternoons.",
    "transport_hub": "Disrupt county lines activity at {name}: joint patrols at peak times, "
    "CCTV covering the stands and trained staff who know how to report concerns.",
    "hotel": "Make {name} a hostile place for exploitation: check-in checks, staff training and "
    "a named police contact, reviewed with the licensing team.",
    "licensed_premises": "Tighten guardianship at {name}: licensing conditions on under-18s, "
    "door staff trained in exploitation and a reporting route to the police.",
    "car_park": "Close the hiding places at {name}: lighting on every level, locked stairwells "
    "overnight and CCTV monitored on Friday and Saturday evenings.",
    "school_surroundings": "Keep the walk to and from {name} safe: staff on the bus stops at "
    "home time, a youth worker presence and reporting through the safeguarding lead.",
    "derelict_building": "Secure {name}: boarding and fencing, regular checks by the owner and "
    "a plan for the site agreed with the council.",
    "leisure_venue": "Use {name} as a protective space: free sessions on weekend evenings, staff "
    "trained to recognise exploitation and a link to the youth service.",
}
_EVIDENCE = {
    "lighting": ("Several lamp columns along the main path were not working at dusk.",
                 "Lighting on the main routes was working and even at the evening visit."),
    "sightlines": ("Overgrown shrubs and a blind corner by the rear wall hide a gathering spot.",
                   "Clear views across the site from the road and the entrance."),
    "cctv": ("The only camera does not cover the rear yard where groups gather.",
             "Cameras cover the entrances and are monitored in the evenings."),
    "maintenance": ("Graffiti, broken fencing and drug litter found in the corner by the bins.",
                    "Site clean and well kept; litter cleared daily."),
    "access_routes": ("An unlit cut-through gives a quick way in and out unseen.",
                      "Two open, overlooked routes in and out."),
    "transport": ("Late buses and a taxi rank bring older adults to the site at night.",
                  "Bus stops overlooked by staffed premises."),
    "licensing": ("Premises open late with no conditions about under-18s on site.",
                  "Licensing conditions in place and recently checked."),
    "youth_provision": ("No youth sessions nearby on Friday or Saturday evenings.",
                        "A youth club and a free sports session run nearby each week."),
    "staff_presence": ("No staff or wardens on site after 6pm.",
                       "Staff present at all opening hours and know how to report a concern."),
    "exploitation_indicators": ("Reports of older males offering lifts and gifts to groups of "
                                "young people at the site.",
                                "No current intelligence of exploitation at the site."),
    "peer_groups": ("Groups of young people from several areas meet here late in the evening.",
                    "Young people use the site in small groups in the daytime."),
    "community_views": ("Residents and traders say they feel unsafe and do not report concerns.",
                        "Residents report feeling safe and know who to call."),
}  # fmt: skip
_SOURCES = {
    "lighting": ("Site visit",), "sightlines": ("Site visit",),
    "cctv": ("Site visit", "CCTV control room"), "maintenance": ("Site visit", "Council records"),
    "access_routes": ("Site visit",), "transport": ("Site visit", "Bus operator"),
    "licensing": ("Licensing team",), "youth_provision": ("Youth service mapping", "Youth worker"),
    "staff_presence": ("Site visit", "Manager interview"),
    "exploitation_indicators": ("Police intelligence", "Youth worker", "MACE panel"),
    "peer_groups": ("Youth worker", "Detached youth work", "Police intelligence"),
    "community_views": ("Residents' meeting", "Business survey", "Young people's focus group"),
}  # fmt: skip
_ACTIONS = {
    "lighting": ("Repair and upgrade the lighting on the main path", "county"),
    "sightlines": ("Cut back the shrubs and open up the blind corner", "council"),
    "cctv": ("Add a camera covering the rear yard", "council"),
    "maintenance": ("Clear the graffiti and repair the fencing", "council"),
    "access_routes": ("Gate and light the cut-through", "council"),
    "transport": ("Agree late-evening checks with the bus operator and taxi licensing", "police"),
    "licensing": ("Review the premises licence conditions", "council"),
    "youth_provision": ("Start a Friday evening detached youth work session", "youth"),
    "staff_presence": ("Train staff to recognise and report exploitation", "police"),
    "exploitation_indicators": ("Plan disruption patrols with the neighbourhood team", "police"),
    "peer_groups": ("Youth workers to engage the groups that gather here", "youth"),
    "community_views": ("Hold a residents' and traders' meeting on reporting", "council"),
}
#: The kind of each checklist item's action (store.vocabulary.ACTION_KINDS); others are "other".
_ACTION_KINDS = {
    "lighting": "lighting",
    "cctv": "cctv",
    "licensing": "licensing_review",
    "staff_presence": "makesafe_training",
    "exploitation_indicators": "patrols",
    "transport": "patrols",
}
_RISK_MEAN = {"low": 0.7, "medium": 1.4, "high": 2.1}
_REVIEW_MONTHS = {"low": 12, "medium": 6, "high": 3}


def _owner(kind: str, district: str) -> str:
    if kind == "council":
        return DISTRICT_COUNCILS[district]
    if kind == "county":
        return (
            "Stoke-on-Trent City Council"
            if district == "E06000021"
            else "Staffordshire County Council"
        )
    if kind == "youth":
        return (
            "Stoke-on-Trent City Council youth service"
            if district == "E06000021"
            else "Staffordshire County Council youth service"
        )
    return "Staffordshire Police"


# (place key, status, months before end, overall risk) for the pattern places, oldest first.
_PATTERN_ASSESSMENTS: tuple[tuple[str, str, int, str], ...] = (
    ("P0001", "superseded", 20, "high"),
    ("P0001", "approved", 11, "high"),
    ("P0002", "approved", 5, "medium"),
    ("P0003", "submitted", 1, "high"),
    ("P0004", "approved", 8, "high"),
    ("P0006", "returned", 2, "high"),
    ("P0007", "superseded", 21, "high"),
    ("P0007", "approved", 4, "low"),
)


def _assessment_plan(
    rng: np.random.Generator, places: pd.DataFrame, incidents: pd.DataFrame
) -> list[tuple[str, str, int, str]]:
    """(place key, status, months before end, risk) for every assessment, oldest first per place."""
    present = set(places["place_key"])
    plan = [row for row in _PATTERN_ASSESSMENTS if row[0] in present]
    pattern_keys = {p.place_key for p in PATTERNS}
    counts = incidents["place_key"].dropna().value_counts()
    busy = [k for k in counts.index if k not in pattern_keys][:30]
    statuses = ["approved"] * 13 + ["submitted"] * 6 + ["draft"] * 7 + ["returned"] * 4
    statuses = list(rng.permutation(statuses))[: len(busy)]
    for rank, (key, status) in enumerate(zip(busy, statuses, strict=False)):
        risk = "high" if rank < 8 else "medium" if rank < 20 else "low"
        if rng.random() < 0.2:
            risk = str(rng.choice(_RISK))
        months_ago = {
            "approved": int(rng.integers(2, 19)),
            "submitted": int(rng.integers(0, 3)),
            "draft": int(rng.integers(0, 2)),
            "returned": int(rng.integers(1, 4)),
        }[status]
        if status == "approved" and rank % 4 == 0:
            plan.append((key, "superseded", months_ago + int(rng.integers(6, 13)), risk))
        plan.append((key, status, months_ago, risk))
    return plan


def _build_assessments(
    rng: np.random.Generator, *, end: date, places: pd.DataFrame, incidents: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    indexed = places.set_index("place_key")
    items = list(CHECKLIST)
    assessments, findings, actions = [], [], []
    for number, (key, status, months_ago, risk) in enumerate(
        _assessment_plan(rng, places, incidents), start=1
    ):
        place = indexed.loc[key]
        akey = f"A{number:04d}"
        assessed = _add_months(end, -months_ago) - timedelta(days=int(rng.integers(0, 25)))
        partners = rng.choice(len(_PARTNERS), size=int(rng.integers(2, 5)), replace=False)
        assessments.append(
            {
                "assessment_key": akey,
                "place_key": key,
                "assessing_org": place["responsible_org"]
                if rng.random() < 0.8
                else "Staffordshire Police",
                "lead_assessor": _ASSESSORS[rng.integers(len(_ASSESSORS))],
                "assessed_on": assessed,
                "status": status,
                "overall_risk": risk,
                "goals": _GOALS[place["category"]].format(name=place["name"]),
                "young_people_consulted": bool(rng.random() < (0.35 if status == "draft" else 0.7)),
                "families_consulted": bool(rng.random() < 0.45),
                "partners": ", ".join(sorted(_PARTNERS[i] for i in partners)),
                "next_review_on": _add_months(assessed, _REVIEW_MONTHS[risk]),
                "version": 1,
            }
        )
        chosen = items if status != "draft" else list(rng.permutation(items)[: rng.integers(4, 9)])
        scores = np.clip(np.rint(_RISK_MEAN[risk] + rng.normal(0, 0.8, len(chosen))), 0, 3)
        for item, score in zip(chosen, scores.astype(int), strict=True):
            sources = _SOURCES[item]
            findings.append(
                {
                    "assessment_key": akey,
                    "domain": CHECKLIST[item],
                    "item": item,
                    "score": int(score),
                    "evidence": _EVIDENCE[item][0 if score >= 2 else 1],
                    "source": sources[rng.integers(len(sources))],
                    "reliability": str(rng.choice(_RISK[::-1], p=[0.4, 0.45, 0.15])),
                }
            )
        worst = [chosen[i] for i in np.argsort(-scores, kind="stable")]
        n_actions = int(rng.integers(0, 2)) if status == "draft" else int(rng.integers(2, 5))
        for item in worst[:n_actions]:
            actions.append(_action(rng, akey, item, place["district_code"], assessed, status, end))
    assessment_frame = pd.DataFrame(assessments)
    action_frame = pd.DataFrame(actions)
    action_frame = _ensure_overdue_action(action_frame, end)
    return _typed(assessment_frame), _typed(pd.DataFrame(findings)), _typed(action_frame)


def _action(
    rng: np.random.Generator,
    akey: str,
    item: str,
    district: str,
    assessed: date,
    status: str,
    end: date,
) -> dict[str, object]:
    description, owner_kind = _ACTIONS[item]
    due = _add_months(assessed, int(rng.integers(1, 6)))
    u = rng.random()
    if status == "superseded":
        state = "done" if u < 0.8 else "dropped"
    elif status == "draft":
        state = "open"
    elif due < end:
        state = "done" if u < 0.55 else "open" if u < 0.9 else "dropped"
    else:
        state = "open" if u < 0.85 else "done"
    completed = None
    if state == "done":
        latest = max((min(due, end) - assessed).days, 15)
        completed = min(assessed + timedelta(days=int(rng.integers(14, latest + 1))), end)
    return {
        "assessment_key": akey,
        "description": description,
        "owner_org": _owner(owner_kind, district),
        "due_on": due,
        "status": state,
        "completed_on": completed,
        "kind": _ACTION_KINDS.get(item, "other"),
    }


def _ensure_overdue_action(actions: pd.DataFrame, end: date) -> pd.DataFrame:
    """Return the actions with at least one open and overdue on ``end`` (the queue shows them)."""
    if actions.empty:
        return actions
    overdue = (actions["status"] == "open") & (actions["due_on"] < end)
    candidates = actions.index[actions["due_on"] < end]
    if overdue.any() or not len(candidates):
        return actions
    out = actions.copy()
    out.loc[candidates[0], ["status", "completed_on"]] = ["open", None]
    return out


# --------------------------------------------------------------------------- impact of actions

#: The three places planted for the impact of actions: (role, action items done), in order.
_IMPACT_PLANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("works", ("lighting", "cctv")),
    ("no_change", ("exploitation_indicators",)),
    ("too_few", ("staff_presence",)),
)
_IMPACT_WINDOW = 6
_IMPACT_RADIUS_M = 200.0
_IMPACT_FALL = 0.55  # share of the "works" place's incidents after the action moved away


def _plant_impact(
    rng: np.random.Generator,
    *,
    end: date,
    places: pd.DataFrame,
    incidents: pd.DataFrame,
    assessments: pd.DataFrame,
    findings: pd.DataFrame,
    actions: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Plant three places whose actions (done 8 months before ``end``) work, do not, or are quiet.

    * **works**: the busiest unassessed place (incidents within 200 m in the six months
      before the action month); after its lighting and CCTV actions, 55% of the incidents
      near it in the six months after are re-dated to before the before window, so they
      fall by about half while comparable places do not: "fell by about ... (likely)".
    * **no change**: the busiest place of another category with at least 20 incidents
      before whose count after moved by at most 10% of its own accord, with disruption
      patrols done; its incidents are left as they were: "no clear change".
    * **too few**: a quiet place (3 to 12 incidents in the twelve months around), with
      Operation Makesafe training done: "too few incidents to tell".

    Each gets an approved assessment a month before the action, with a review now due.
    The number of incidents is unchanged (only dates move). Returns the incidents,
    assessments, findings and actions.
    """
    action_month = pd.Period(end, freq="M") - 8
    before = pd.period_range(action_month - _IMPACT_WINDOW, action_month - 1, freq="M")
    after = pd.period_range(action_month + 1, action_month + _IMPACT_WINDOW, freq="M")
    months = pd.to_datetime(incidents["occurred_on"]).dt.to_period("M")
    if months.min() > before[0] - 1:
        return incidents, assessments, findings, actions
    taken = set(assessments["place_key"]) | {p.place_key for p in PATTERNS}
    located = incidents["easting"].notna().to_numpy()
    tree = cKDTree(incidents.loc[located, ["easting", "northing"]].to_numpy())
    rows_of = np.flatnonzero(located)
    candidates = places.loc[places["active"] & ~places["place_key"].isin(taken)]
    near = tree.query_ball_point(
        candidates[["easting", "northing"]].to_numpy(), r=_IMPACT_RADIUS_M
    )
    in_before = months.isin(before).to_numpy()
    in_after = months.isin(after).to_numpy()
    busy = np.array([in_before[rows_of[i]].sum() for i in near])
    around = np.array([(in_before | in_after)[rows_of[i]].sum() for i in near])
    xy = candidates[["easting", "northing"]].to_numpy()
    chosen: list[int] = []

    patterns = places.loc[places["place_key"].isin([p.place_key for p in PATTERNS])]
    pattern_xy = patterns[["easting", "northing"]].to_numpy()

    def apart(i: int) -> bool:  # no planted place shares incidents with another or a pattern
        clear = all(np.hypot(*(xy[i] - xy[j])) > 4 * _IMPACT_RADIUS_M for j in chosen)
        far = np.hypot(*(pattern_xy - xy[i]).T) > 4 * _IMPACT_RADIUS_M
        return clear and bool(far.all())

    order = np.argsort(-busy, kind="stable")
    category = candidates["category"].to_numpy()
    works = next((int(i) for i in order if busy[i] >= 20 and apart(int(i))), None)
    if works is None:  # a small demo (few incidents or districts): nothing to plant
        return incidents, assessments, findings, actions
    chosen.append(works)
    later = np.array([in_after[rows_of[i]].sum() for i in near])
    level = (busy >= 20) & (np.abs(later - busy) <= 0.1 * busy)  # no change of its own

    def steady_ok(i: int, strict: bool) -> bool:
        return category[i] != category[works] and apart(i) and (bool(level[i]) or not strict)

    steady = next((int(i) for i in order if steady_ok(int(i), True)), None)
    if steady is None:
        steady = next((int(i) for i in order if steady_ok(int(i), False)), None)
    quiet = [int(i) for i in np.flatnonzero((around >= 3) & (around <= 12)) if apart(int(i))]
    if steady is None or not quiet:
        return incidents, assessments, findings, actions
    chosen.append(steady)
    chosen.append(quiet[int(rng.integers(len(quiet)))])

    out = incidents.copy()
    hits = rows_of[np.asarray(near[works], dtype=np.int64)]
    moved = hits[in_after[hits] & (rng.random(hits.size) < _IMPACT_FALL)]
    earlier = pd.period_range(months.min(), before[0] - 1, freq="M")
    new_month = earlier[rng.integers(len(earlier), size=moved.size)]
    out.loc[moved, "occurred_on"] = [
        (m.start_time + pd.Timedelta(days=(7 - m.start_time.weekday()) % 7)).date()
        for m in new_month
    ]
    order_rows = np.lexsort((out["source_ref"].to_numpy(), pd.to_datetime(out["occurred_on"])))
    out = out.iloc[order_rows].reset_index(drop=True)

    new_assessments, new_findings, new_actions = [], [], []
    number = len(assessments)
    assessed = (action_month - 1).start_time.date() + timedelta(days=6)
    done_on = action_month.start_time.date() + timedelta(days=9)
    for (role, items), index in zip(_IMPACT_PLANTS, chosen, strict=True):
        place = candidates.iloc[index]
        number += 1
        akey = f"A{number:04d}"
        new_assessments.append(
            {
                "assessment_key": akey,
                "place_key": place["place_key"],
                "assessing_org": place["responsible_org"],
                "lead_assessor": _ASSESSORS[number % len(_ASSESSORS)],
                "assessed_on": assessed,
                "status": "approved",
                "overall_risk": "medium",
                "goals": _GOALS[place["category"]].format(name=place["name"]),
                "young_people_consulted": True,
                "families_consulted": role != "too_few",
                "partners": ", ".join(sorted(_PARTNERS[:3])),
                "next_review_on": _add_months(assessed, _REVIEW_MONTHS["medium"]),
                "version": 1,
            }
        )
        for item in CHECKLIST:
            score = 2 if item in items else 1
            new_findings.append(
                {
                    "assessment_key": akey,
                    "domain": CHECKLIST[item],
                    "item": item,
                    "score": score,
                    "evidence": _EVIDENCE[item][0 if score >= 2 else 1],
                    "source": _SOURCES[item][0],
                    "reliability": "high",
                }
            )
        for item in items:
            description, owner_kind = _ACTIONS[item]
            new_actions.append(
                {
                    "assessment_key": akey,
                    "description": description,
                    "owner_org": _owner(owner_kind, place["district_code"]),
                    "due_on": _add_months(assessed, 1),
                    "status": "done",
                    "completed_on": done_on,
                    "kind": _ACTION_KINDS.get(item, "other"),
                }
            )
    return (
        out,
        _typed(pd.concat([assessments, pd.DataFrame(new_assessments)], ignore_index=True)),
        _typed(pd.concat([findings, pd.DataFrame(new_findings)], ignore_index=True)),
        _typed(pd.concat([actions, pd.DataFrame(new_actions)], ignore_index=True)),
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as ``str`` (object when a value may be missing); dates stay date objects."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column.endswith("_on"):
            out[column] = values.astype(object).where(values.notna(), None)
        elif values.map(lambda v: isinstance(v, str)).all():
            out[column] = values.astype("str")
    return out


# --------------------------------------------------------------------------- public entry


def build_demo(
    *,
    seed: int = 20261122,
    end: date = DEFAULT_END,
    months: int = 24,
    n_incidents: int = 20_000,
    n_referrals: int = 3_000,
    districts: Sequence[str] = DEFAULT_AREA,
) -> DemoData:
    """Build the synthetic demo: places, incidents, referrals and place assessments.

    All coordinates are British National Grid (EPSG:27700) metres. The same
    arguments always give identical frames.

    Parameters
    ----------
    seed
        Seed of the random generator and of the demo pseudonyms.
    end
        Last day of the window; the window is the ``months`` calendar months
        ending with ``end``'s month, and only weeks whose Monday falls on or
        before ``end`` are used. Review and action dates are judged against it.
    months
        Length of the window in calendar months (at least 6).
    n_incidents, n_referrals
        Number of incidents and referrals.
    districts
        ONS district codes to build for; towns and pattern places outside them
        are left out.

    Returns
    -------
    DemoData
        The six frames, with the columns described in the module docstring.

    Raises
    ------
    ValueError
        For fewer than 6 months, non-positive counts or districts with no towns.
    """
    if months < 6:
        raise ValueError(f"months must be at least 6, got {months}")
    if n_incidents < 100 or n_referrals < 10:
        raise ValueError("n_incidents must be at least 100 and n_referrals at least 10")
    districts = tuple(districts)
    towns = load_towns(districts)
    if towns.empty:
        raise ValueError(f"no towns in data/towns.csv for districts {list(districts)}")
    rng = np.random.default_rng(seed)
    area = _prepare_area(districts)
    cal = _calendar(end, months)
    places = _build_places(rng, area, towns)
    incidents, weight = _build_incidents(
        rng, n=n_incidents, seed=seed, cal=cal, area=area, places=places, towns=towns
    )
    referrals = _build_referrals(
        rng, n=n_referrals, seed=seed, cal=cal, incidents=incidents, hotspot_weight=weight
    )
    assessments, findings, actions = _build_assessments(
        rng, end=end, places=places, incidents=incidents
    )
    referrals, place_links = _plant_links(seed=seed, cal=cal, places=places, referrals=referrals)
    incidents, assessments, findings, actions = _plant_impact(
        rng,
        end=end,
        places=places,
        incidents=incidents,
        assessments=assessments,
        findings=findings,
        actions=actions,
    )
    return DemoData(
        places=places.drop(columns="town"),
        incidents=incidents,
        referrals=referrals,
        assessments=assessments,
        findings=findings,
        actions=actions,
        place_links=place_links,
    )
