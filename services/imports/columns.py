"""Which column holds what: header recognition, mapping files and the mapping kept per source.

A header that says what it holds (``latitude``, ``incident_date``, ``dob``...) is
recognised without help; a mapping (a TOML file, or the page's mapping step)
covers the rest and is remembered for the source in the ``settings`` table
under ``mapping:<kind>:<source>``.

A mapping file::

    [columns]
    "Offence date" = "date"
    "Type of concern" = "category"
    "Notes" = "ignore"

    [categories]
    "Exploitation - criminal" = "cce"
    "Burglary" = "ignore"

    [options]
    date_format = "%d/%m/%Y"
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from geo.points import COORDINATE_NAMES
from services.imports.report import ImportFileError
from store.models import Setting
from store.vocabulary import CONTEXT_TYPES, EXPLOITATION_TYPES, PLACE_CATEGORIES

__all__ = [
    "FIELDS",
    "IGNORE",
    "KINDS",
    "POLICE_UK_COLUMNS",
    "ColumnMapping",
    "category_codes",
    "exploitation_mapping",
    "is_police_uk",
    "load_mapping_file",
    "mapping_key",
    "normalise_header",
    "normalise_value",
    "recognise_columns",
    "saved_mapping",
    "store_mapping",
]

KINDS: tuple[str, ...] = ("incidents", "referrals", "places", "context")

#: The word that maps a column or a category to nothing.
IGNORE = "ignore"

_LOCATION_FIELDS: dict[str, str] = {
    "longitude": "Longitude (WGS84 degrees)",
    "latitude": "Latitude (WGS84 degrees)",
    "easting": "Easting (British National Grid metres)",
    "northing": "Northing (British National Grid metres)",
    "postcode": "Postcode of the place (not of a home)",
}
_EVENT_FIELDS: dict[str, str] = {
    "source_ref": "Reference in the source system (stored only as a keyed pseudonym)",
    "date": "Date it happened",
    "category": "Type of exploitation or harm",
    "age": "Age in years at the time (stored as a band)",
    "date_of_birth": "Date of birth (turned into an age band, then dropped)",
    "sex": "Sex",
    **_LOCATION_FIELDS,
    "district": "District code or name (for records without a location)",
    "online": "Online context: yes or no",
    "agency": "Source agency",
    # issue 19: links between places
    "person_of_concern": "A person of concern's identifier (stored only as a keyed pseudonym)",
    "place": "Place it happened at: place key or name from the register (several with ;)",
    "found_at": "Place the young person was found at: key or name (several with ;)",
    "frequents": "Places the young person frequents: key or name (several with ;)",
}

#: The fields each kind of import stores, with what they mean.
FIELDS: dict[str, dict[str, str]] = {
    "incidents": _EVENT_FIELDS,
    "referrals": {
        **_EVENT_FIELDS,
        "date": "Date of the referral",
        "child_id": "The child's identifier (stored only as a keyed pseudonym)",
        "route": "Referral route: RFM, MACE or other",
        "risk_level": "Risk level: low, medium or high",
        "outcome": "Outcome (from a fixed list; other text is dropped)",
    },
    "places": {
        "source_ref": "Reference of the place in the source (an OSM id...)",
        "name": "Name of the place",
        "category": "Kind of place",
        **_LOCATION_FIELDS,
        "postcode": "Postcode of the place",
        "responsible_org": "Organisation responsible for the place",
        "active": "Still open or in use: yes or no",
    },
    "context": {
        "source_ref": "Reference in the source (stored only as a keyed pseudonym)",
        "date": "Month it happened",
        "category": "Crime type (police.uk's own types)",
        **_LOCATION_FIELDS,
        "district": "District code or name (for records without a location)",
    },
}

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "source_ref": (
        "source_ref",
        "crime_id",
        "incident_id",
        "incident_ref",
        "incident_reference",
        "incident_number",
        "occurrence_id",
        "occurrence_number",
        "occurrence_ref",
        "crime_reference",
        "crime_ref",
        "crime_number",
        "referral_id",
        "referral_ref",
        "referral_reference",
        "referral_number",
        "record_id",
        "reference",
        "ref",
        "id",
        "osm_id",
        "place_id",
        "place_ref",
    ),
    "date": (
        "date",
        "incident_date",
        "referral_date",
        "date_of_incident",
        "date_of_referral",
        "occurred_on",
        "occurred",
        "event_date",
        "offence_date",
        "date_occurred",
        "reported_date",
        "date_reported",
        "month",
        "period",
    ),
    "category": (
        "category",
        "exploitation_type",
        "type",
        "incident_type",
        "crime_type",
        "concern",
        "concern_type",
        "harm_type",
        "exploitation",
    ),
    "age": ("age", "age_years", "age_at_incident", "age_at_referral", "age_at_event"),
    "date_of_birth": ("dob", "date_of_birth", "birth_date", "birthdate", "d_o_b", "born"),
    "sex": ("sex", "gender"),
    **COORDINATE_NAMES,
    "postcode": (
        "postcode",
        "post_code",
        "location_postcode",
        "incident_postcode",
        "place_postcode",
        "pcd",
        "addr_postcode",
        "postcode_of_incident",
    ),
    "district": ("district", "district_code", "lad_code", "local_authority", "lad23cd", "ladcd"),
    "online": ("online", "online_context", "is_online"),
    "agency": ("agency", "source_agency"),
    "child_id": (
        "child_id",
        "child_ref",
        "child_reference",
        "child_number",
        "person_id",
        "client_id",
        "young_person_id",
        "subject_id",
        "lcs_id",
        "mosaic_id",
        "eclipse_id",
    ),
    "route": ("route", "referral_route", "referral_type", "pathway"),
    "person_of_concern": (
        "person_of_concern",
        "person_of_concern_id",
        "poc_id",
        "poc",
        "nominal_id",
        "suspect_id",
        "perpetrator_id",
        "person_causing_harm_id",
    ),
    "place": ("place_key", "linked_place", "place_of_concern", "location_of_concern"),
    "found_at": ("found_at", "place_found", "location_found", "found_location"),
    "frequents": ("frequents", "places_frequented", "frequented_places", "frequent_places"),
    "risk_level": ("risk_level", "risk", "rfm_risk", "risk_rating", "level_of_risk"),
    "outcome": ("outcome", "referral_outcome", "decision"),
    "name": ("name", "place_name", "site_name", "premises_name", "venue"),
    "responsible_org": (
        "responsible_org",
        "responsible_organisation",
        "organisation",
        "owner",
        "manager",
    ),
    "active": ("active", "in_use", "open"),
}

_PLACE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "category": (
        "category",
        "place_type",
        "place_category",
        "osm_tag",
        "type",
        "place",
        "kind",
    ),
}

#: The header of police.uk's street-level crime CSV, recognised without a mapping.
POLICE_UK_COLUMNS: tuple[str, ...] = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)

_CATEGORY_SYNONYMS: dict[str, dict[str, str]] = {
    "events": {
        "child_sexual_exploitation": "cse",
        "sexual_exploitation": "cse",
        "child_criminal_exploitation": "cce",
        "criminal_exploitation": "cce",
        "countylines": "county_lines",
        "missing_episode": "missing",
        "missing_from_home": "missing",
        "missing_from_care": "missing",
        "missing_person": "missing",
        "missing_child": "missing",
        "syv": "serious_youth_violence",
        "youth_violence": "serious_youth_violence",
        "online": "online_exploitation",
        "online_grooming": "online_exploitation",
    },
    "places": {
        # police.uk anonymous map point types
        "park_open_space": "park",
        "sports_recreation_area": "leisure_venue",
        "parking_area": "car_park",
        "shopping_area": "shopping_centre",
        "supermarket": "shopping_centre",
        "nightclub": "licensed_premises",
        "bus_coach_station": "transport_hub",
        "theatre_concert_hall": "leisure_venue",
        "pedestrian_subway": "transport_hub",
        # OpenStreetMap key=value
        "amenity_fast_food": "fast_food",
        "amenity_pub": "licensed_premises",
        "amenity_bar": "licensed_premises",
        "amenity_nightclub": "licensed_premises",
        "amenity_parking": "car_park",
        "amenity_bus_station": "transport_hub",
        "amenity_taxi": "transport_hub",
        "railway_station": "transport_hub",
        "public_transport_station": "transport_hub",
        "tourism_hotel": "hotel",
        "tourism_guest_house": "hotel",
        "tourism_motel": "hotel",
        "tourism_hostel": "hotel",
        "shop_mall": "shopping_centre",
        "shop_supermarket": "shopping_centre",
        "leisure_park": "park",
        "leisure_playground": "park",
        "leisure_garden": "park",
        "leisure_recreation_ground": "park",
        "leisure_sports_centre": "leisure_venue",
        "amenity_cinema": "leisure_venue",
        "leisure_amusement_arcade": "leisure_venue",
        "amenity_school": "school_surroundings",
        "building_ruins": "derelict_building",
        "takeaway": "fast_food",
        "pub": "licensed_premises",
        "bar": "licensed_premises",
        "train_station": "transport_hub",
        "bus_station": "transport_hub",
        "hotel_or_b_b": "hotel",
        "b_b": "hotel",
    },
}


def normalise_header(name: object) -> str:
    """Return a header as lower-case words joined by underscores.

    Examples
    --------
    >>> normalise_header(" Crime ID ")
    'crime_id'
    >>> normalise_header("Date-of-Birth")
    'date_of_birth'
    """
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def normalise_value(value: object) -> str:
    """Return a category value reduced to lower-case words joined by underscores.

    Examples
    --------
    >>> normalise_value("Child Criminal Exploitation ")
    'child_criminal_exploitation'
    >>> normalise_value("Park/Open Space")
    'park_open_space'
    """
    text = str(value).strip().lower().replace("&", " and ")
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def is_police_uk(columns: Iterable[object]) -> bool:
    """Return True when the header is police.uk's street-level crime CSV.

    Examples
    --------
    >>> is_police_uk(POLICE_UK_COLUMNS)
    True
    >>> is_police_uk(["Month", "Longitude", "Latitude"])
    False
    """
    return [normalise_header(c) for c in columns] == [
        normalise_header(c) for c in POLICE_UK_COLUMNS
    ]


def recognise_columns(columns: Iterable[object], kind: str) -> dict[str, str]:
    """Return the columns whose header says what they hold, as ``{column: field}``.

    Each field is given to the first column that names it; the more specific
    names (``incident_date``) win over general ones (``month``) by their order
    in the synonym list.

    Examples
    --------
    >>> recognise_columns(["Crime ID", "Month", "Longitude", "Latitude", "Crime type"], "incidents")
    {'Crime ID': 'source_ref', 'Month': 'date', 'Longitude': 'longitude', 'Latitude': 'latitude', 'Crime type': 'category'}
    >>> recognise_columns(["lat", "lng", "DOB", "Notes"], "referrals")
    {'lat': 'latitude', 'lng': 'longitude', 'DOB': 'date_of_birth'}
    """  # noqa: E501
    if kind not in FIELDS:
        raise ImportFileError(f"'{kind}' is not something that can be imported: use {KINDS}.")
    wanted = FIELDS[kind]
    synonyms_of = {**_SYNONYMS, **(_PLACE_SYNONYMS if kind == "places" else {})}
    normalised = {str(c): normalise_header(c) for c in columns}
    found: dict[str, str] = {}
    taken: set[str] = set()
    for name, synonyms in synonyms_of.items():
        if name not in wanted:
            continue
        for synonym in synonyms:
            column = next(
                (c for c, n in normalised.items() if n == synonym and c not in found), None
            )
            if column is not None:
                found[column] = name
                taken.add(name)
                break
    order = list(normalised)
    return dict(sorted(found.items(), key=lambda item: order.index(item[0])))


@dataclass(frozen=True)
class ColumnMapping:
    """What a source's columns and category values mean, beyond what is recognised.

    Attributes
    ----------
    columns
        ``{header in the file: field}``; the field ``"ignore"`` drops a column.
    categories
        ``{value in the file: code}``; the code ``"ignore"`` leaves such rows
        out (counted as ignored, not rejected).
    date_format
        A ``strftime`` format for the date columns when they are ambiguous.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    date_format: str | None = None

    def merged(self, newer: ColumnMapping) -> ColumnMapping:
        """Return this mapping updated by a newer one (the newer wins)."""
        return ColumnMapping(
            columns={**self.columns, **newer.columns},
            categories={**self.categories, **newer.categories},
            date_format=newer.date_format or self.date_format,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the mapping as plain data (for the settings table and hashing)."""
        return {
            "columns": dict(sorted(self.columns.items())),
            "categories": dict(sorted(self.categories.items())),
            "options": {"date_format": self.date_format} if self.date_format else {},
        }

    def fingerprint(self) -> str:
        """Return a short hash of the mapping, part of what makes an import the same import."""
        text = repr(sorted(self.to_dict().items()))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], *, kind: str, where: str) -> ColumnMapping:
        """Check and build a mapping from plain data.

        Raises
        ------
        ImportFileError
            Naming ``where`` and the wrong entry, when a field or a category is unknown.
        """
        columns = {str(k): str(v).strip() for k, v in dict(value.get("columns", {})).items()}
        categories = {str(k): str(v).strip() for k, v in dict(value.get("categories", {})).items()}
        options = dict(value.get("options", {}))
        fields = set(FIELDS[kind]) | {IGNORE}
        bad = {k: v for k, v in columns.items() if v not in fields}
        if bad:
            column, target = next(iter(bad.items()))
            raise ImportFileError(
                f"In {where}, column '{column}' is mapped to '{target}', which is not a field "
                f"of {kind}. Use one of: {', '.join(sorted(fields))}."
            )
        codes = set(category_codes(kind)) | {IGNORE}
        if kind == "context":  # a partnership may map a crime type to exploitation deliberately
            codes |= set(EXPLOITATION_TYPES)
        bad = {k: v for k, v in categories.items() if v not in codes}
        if bad:
            value_, target = next(iter(bad.items()))
            raise ImportFileError(
                f"In {where}, the category '{value_}' is mapped to '{target}', which is not a "
                f"category of {kind}. Use one of: {', '.join(sorted(codes))}."
            )
        date_format = options.get("date_format") or None
        return cls(columns=columns, categories=categories, date_format=date_format)


def category_codes(kind: str) -> dict[str, str]:
    """Return the category codes of a kind of import, with their labels.

    Context events keep the source's own crime types (police.uk's 14), as they are.
    """
    if kind == "context":
        return {t: t for t in CONTEXT_TYPES}
    return PLACE_CATEGORIES if kind == "places" else EXPLOITATION_TYPES


def category_lookup(kind: str, mapping: ColumnMapping, *, header: str | None) -> dict[str, str]:
    """Return ``{normalised value: code or "ignore"}`` for a kind's category column.

    Codes, their labels and common synonyms are known; the mapping's categories
    come last and win. police.uk crime types are *not* exploitation types: they
    are known only to context imports (as themselves), and become an
    exploitation code only when a partnership maps one deliberately.

    Examples
    --------
    >>> lookup = category_lookup("incidents", ColumnMapping(), header="type")
    >>> lookup["child_criminal_exploitation"], lookup["cce"]
    ('cce', 'cce')
    >>> "drugs" in category_lookup("incidents", ColumnMapping(), header="Crime type")
    False
    >>> category_lookup("context", ColumnMapping(), header="Crime type")["drugs"]
    'Drugs'
    """
    codes = category_codes(kind)
    lookup: dict[str, str] = {}
    for code, text in codes.items():
        lookup[normalise_value(code)] = code
        lookup[normalise_value(text)] = code
    if kind == "context":
        return lookup
    lookup.update(_CATEGORY_SYNONYMS["places" if kind == "places" else "events"])
    lookup.update({normalise_value(k): v for k, v in mapping.categories.items()})
    return lookup


def exploitation_mapping(mapping: ColumnMapping) -> dict[str, str]:
    """Return the crime types a partnership has mapped deliberately to an exploitation code.

    Only these rows of a police.uk file are also stored as incidents; the
    mapping is shown, must be confirmed, and is recorded on the batch.

    Examples
    --------
    >>> exploitation_mapping(ColumnMapping(categories={"Drugs": "cce", "Burglary": "ignore"}))
    {'Drugs': 'cce'}
    """
    known = {normalise_value(t): t for t in CONTEXT_TYPES}
    out = {}
    for value, code in mapping.categories.items():
        crime_type = known.get(normalise_value(value))
        if crime_type is not None and code in EXPLOITATION_TYPES:
            out[crime_type] = code
    return dict(sorted(out.items()))


def load_mapping_file(path: Path, *, kind: str) -> ColumnMapping:
    """Read a mapping file (TOML).

    Raises
    ------
    ImportFileError
        When the file is missing, is not TOML, or names unknown fields or categories.
    """
    try:
        value = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ImportFileError(f"The mapping file {path} does not exist.") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ImportFileError(f"The mapping file {path} is not valid TOML: {error}.") from error
    return ColumnMapping.from_dict(value, kind=kind, where=f"the mapping file {Path(path).name}")


def mapping_key(kind: str, source: str) -> str:
    """Return the settings key of a source's mapping (at most 60 characters).

    Examples
    --------
    >>> mapping_key("incidents", "police.uk")
    'mapping:incidents:police.uk'
    >>> len(mapping_key("referrals", "x" * 200))
    60
    """
    key = f"mapping:{kind}:{source}"
    if len(key) <= 60:
        return key
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
    return f"mapping:{kind}:{source[: 60 - len(kind) - 22]}~{digest}"


def saved_mapping(connection: Connection, kind: str, source: str) -> ColumnMapping:
    """Return the mapping remembered for a source (empty when there is none)."""
    value = connection.scalar(select(Setting.value).where(Setting.key == mapping_key(kind, source)))
    if not value:
        return ColumnMapping()
    return ColumnMapping.from_dict(value, kind=kind, where=f"the saved mapping of {source}")


def store_mapping(
    connection: Connection, kind: str, source: str, mapping: ColumnMapping, *, actor: str
) -> None:
    """Remember a source's mapping (in the caller's transaction)."""
    key = mapping_key(kind, source)
    table = cast(Table, Setting.__table__)
    exists = connection.scalar(select(Setting.key).where(Setting.key == key))
    value = mapping.to_dict()
    if exists:
        connection.execute(
            table.update().where(table.c.key == key).values(value=value, updated_by=actor)
        )
    else:
        connection.execute(
            table.insert().values(key=key, value=value, created_by=actor, updated_by=actor)
        )
