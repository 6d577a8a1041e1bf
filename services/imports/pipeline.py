"""Validating and anonymising a chunk of rows, vectorised: what is stored, and what is not, and why.

Every row is checked; a row set aside gets its row number, the column and the
reason. What is kept is anonymised before it leaves this module (design
section 5): no value from an unmapped column, dates coarsened to the
deployment's precision, ages as bands (a date of birth becomes the band at the
event date, then is dropped), locations snapped within their own district, and
references and child identifiers replaced by keyed pseudonyms (HMAC-SHA256).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from geo.anonymise import age_bands, coarsen_dates, keyed_pseudonyms
from services.imports.columns import IGNORE, ColumnMapping, category_lookup, normalise_value
from services.imports.identifiers import personal_kinds_of
from services.imports.links import NAMED_FIELDS, PlaceIndex, find_links
from services.imports.locate import Area, assign, link_places, locate, snap_within_districts
from services.imports.readers import ROW
from services.imports.report import ISSUE_COLUMNS, ImportFileError, ImportReport
from store.models import Setting
from store.vocabulary import AGENCIES

__all__ = [
    "ROW_COLUMN",
    "ImportSettings",
    "Plan",
    "load_settings",
    "parse_dates",
    "prepare_chunk",
]

#: The settings key of the import settings (a JSON object of :class:`ImportSettings` fields).
SETTINGS_KEY = "import"


@dataclass(frozen=True)
class ImportSettings:
    """How imports anonymise, from the ``settings`` table (key ``"import"``) or these defaults.

    Attributes
    ----------
    date_precision
        ``"day"``, ``"week"`` (the Monday) or ``"month"`` (the first day).
    cell_size
        Side in metres of the grid squares points are snapped to.
    place_radius
        An incident is linked to the nearest register place within this many
        metres, in the same district.
    snap_to_place
        Within this many metres of that place, the point is moved onto the place
        instead of the square centre (0 turns it off).
    earliest
        Dates before this are rejected as mistakes.
    chunk_size
        Rows read and stored at a time.
    link_radius
        A record belongs to every register place within this many metres of its
        exact point (and to places whose outline holds it, and places its file names).
    """

    date_precision: str = "week"
    cell_size: float = 100.0
    place_radius: float = 150.0
    snap_to_place: float = 50.0
    earliest: date = date(1990, 1, 1)
    chunk_size: int = 100_000
    link_radius: float = 50.0  # issue 19: a record belongs to places within this many metres

    def describe(self) -> str:
        """Return the settings as text, part of what makes an import the same import."""
        return (
            f"{self.date_precision}|{self.cell_size:g}|{self.place_radius:g}|"
            f"{self.snap_to_place:g}|{self.earliest.isoformat()}"
        )


def load_settings(connection: Connection) -> ImportSettings:
    """Return the deployment's import settings (defaults for those not set)."""
    value = connection.scalar(select(Setting.value).where(Setting.key == SETTINGS_KEY)) or {}
    known = {k: v for k, v in dict(value).items() if k in ImportSettings.__dataclass_fields__}
    if "earliest" in known:
        known["earliest"] = date.fromisoformat(str(known["earliest"]))
    settings = ImportSettings(**known)
    if settings.date_precision not in ("day", "week", "month"):
        raise ImportFileError(
            f"The import setting date_precision is '{settings.date_precision}'; "
            "it must be day, week or month."
        )
    return settings


def _sha_hex(values: np.ndarray, *, length: int) -> np.ndarray:
    sha = hashlib.sha256
    return np.array([sha(v.encode("utf-8")).hexdigest()[:length] for v in values], dtype=object)


# ------------------------------------------------------------------------------------ dates

_SHAPES: tuple[tuple[str, str, str | None, tuple[str, ...], bool], ...] = (
    # (shape, pattern to extract, replacement, formats, month only)
    (r"\d{4}-\d{1,2}-\d{1,2}(?:[T ].*)?", r"^(\d{4}-\d{1,2}-\d{1,2})", None, ("%Y-%m-%d",), False),
    (
        r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}(?: .*)?",
        r"^(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})",
        "/",
        ("%d/%m/%Y",),
        False,
    ),
    (r"\d{1,2}/\d{1,2}/\d{2}", r"^(.*)$", None, ("%d/%m/%y",), False),
    (
        r"\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9},?\s+\d{4}",
        r"^(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9}),?\s+(\d{4})$",
        " ",
        ("%d %B %Y", "%d %b %Y"),
        False,
    ),
    (r"\d{8}", r"^(.*)$", None, ("%Y%m%d",), False),
    (r"\d{4}-\d{1,2}", r"^(.*)$", None, ("%Y-%m",), True),
    (r"[A-Za-z]{3,9}\s+\d{4}", r"^(.*)$", None, ("%B %Y", "%b %Y"), True),
)


def parse_dates(
    values: pd.Series, *, date_format: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read dates in the formats UK systems export, day first.

    ISO (``2021-08-14``, with or without a time), ``14/08/2021`` (or with ``-``
    or ``.``), ``14/08/21``, ``14 August 2021``, ``20210814``, and months
    (``2021-08``, ``Aug 2021``), one value at a time, so a column may mix them.

    Parameters
    ----------
    values
        The column as strings.
    date_format
        A ``strftime`` format tried first (from the mapping).

    Returns
    -------
    tuple of numpy.ndarray
        ``datetime64[D]`` dates (NaT where not read), whether each value gave
        only a month, and the problem with each value that was not read
        (empty where read or where empty).

    Examples
    --------
    >>> d, month, problem = parse_dates(pd.Series(["2021-08-14", "14/08/2021", "14 Aug 2021",
    ...                                            "2021-08", "31/02/2021", "soon", ""]))
    >>> [str(x) for x in d]
    ['2021-08-14', '2021-08-14', '2021-08-14', '2021-08-01', 'NaT', 'NaT', 'NaT']
    >>> month.tolist()
    [False, False, False, True, False, False, False]
    >>> problem.tolist()[4:]
    ['is not a real date (dates are read day first, DD/MM/YYYY)', 'is not a date', '']
    """
    text = values.astype(str).str.strip()
    codes, uniques = pd.factorize(text.to_numpy(dtype=object))
    if len(uniques) * 2 < len(text):  # a column of dates repeats: read each value once
        days, month, problem = _parse_dates(pd.Series(uniques, dtype=object), date_format)
        return days[codes], month[codes], problem[codes]
    return _parse_dates(text, date_format)


def _parse_dates(
    text: pd.Series, date_format: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read stripped strings as dates (see :func:`parse_dates`), each value on its own."""
    size = len(text)
    out = np.full(size, np.datetime64("NaT"), dtype="datetime64[D]")
    month = np.zeros(size, dtype=bool)
    problem = np.full(size, "", dtype=object)
    empty = (text == "").to_numpy(bool)
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        out[:] = parsed.to_numpy("datetime64[D]")
    for fast in ("%Y-%m-%d", "%d/%m/%Y"):  # the common cases, without regular expressions
        todo = np.isnat(out) & ~empty
        if todo.any():
            part = text[todo].str.slice(0, 10)
            out[todo] = pd.to_datetime(part, format=fast, errors="coerce").to_numpy("datetime64[D]")
    shaped = np.zeros(size, dtype=bool)
    for shape, extract, joiner, formats, month_only in _SHAPES:
        todo = np.isnat(out) & ~empty
        if not todo.any():
            break
        rows = np.flatnonzero(todo)
        candidates = text.iloc[rows]
        match = candidates.str.fullmatch(shape).to_numpy(bool)
        if not match.any():
            continue
        rows, candidates = rows[match], candidates[match]
        shaped[rows] = True
        parts = candidates.str.extract(extract)
        if joiner == "/":
            cleaned = parts[0].str.replace(r"[.\-]", "/", regex=True)
        elif joiner == " ":
            cleaned = parts[0] + " " + parts[1].str.capitalize() + " " + parts[2]
        else:
            cleaned = parts[0]
        for fmt in formats:
            parsed = pd.to_datetime(cleaned, format=fmt, errors="coerce").to_numpy("datetime64[D]")
            fill = np.isnat(out[rows]) & ~np.isnat(parsed)
            out[rows[fill]] = parsed[fill]
            month[rows[fill]] = month_only
    failed = np.isnat(out) & ~empty
    problem[failed & shaped] = "is not a real date (dates are read day first, DD/MM/YYYY)"
    problem[failed & ~shaped] = "is not a date"
    return out, month, problem


def _ages(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Return whole years between dates of birth and event dates (NaN where unknown)."""
    born = pd.DatetimeIndex(dob)
    at = pd.DatetimeIndex(on)
    years = (at.year - born.year).to_numpy(dtype="float64")
    before = (at.month < born.month) | ((at.month == born.month) & (at.day < born.day))
    years = years - np.asarray(before, dtype="float64")
    years[np.isnat(dob) | np.isnat(on)] = np.nan
    return years


# ------------------------------------------------------------------------------- the plan

_SEXES = {"f": "female", "female": "female", "girl": "female", "woman": "female",
          "m": "male", "male": "male", "boy": "male", "man": "male",
          "other": "other", "non_binary": "other", "x": "other"}  # fmt: skip
_ROUTES = {"rfm": "rfm", "risk_factor_matrix": "rfm", "mace": "mace",
           "multi_agency_child_exploitation": "mace", "mace_panel": "mace"}  # fmt: skip
_RISKS = {"low": "low", "l": "low", "medium": "medium", "med": "medium", "m": "medium",
          "moderate": "medium", "high": "high", "h": "high", "significant": "high"}  # fmt: skip
_TRUE = {"yes", "y", "true", "t", "1", "online"}
_FALSE = {"no", "n", "false", "f", "0", "offline", ""}
#: Outcomes kept as they are; any other outcome text is dropped (it may be a note about a child).
OUTCOMES: dict[str, str] = {
    "no_further_action": "no further action", "nfa": "no further action",
    "early_help": "early help", "child_in_need": "child in need",
    "child_protection": "child protection", "section_47": "section 47 enquiry",
    "strategy_meeting": "strategy meeting", "mace_panel": "MACE panel",
    "referred_to_mace": "MACE panel", "police": "referred to police",
    "referred_to_police": "referred to police", "youth_service": "youth service",
    "closed": "closed", "open": "open", "ongoing": "open",
}  # fmt: skip


@dataclass
class Plan:
    """Everything one import needs to prepare its chunks, and what it has seen so far."""

    kind: str
    source: str
    agency: str
    used: dict[str, str]
    mapping: ColumnMapping
    area: Area
    settings: ImportSettings
    key: bytes | None
    batch_id: int
    actor: str
    report: ImportReport
    today: date = field(default_factory=date.today)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    fingerprints_seen: dict[str, int] = field(default_factory=dict)
    refs_seen: dict[str, int] = field(default_factory=dict)
    header_values: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    place_index: PlaceIndex | None = None  # issue 19: set for incidents and referrals
    pending_links: list[pd.DataFrame] = field(default_factory=list)
    first_load: bool = False  # the table was empty, locked for this import (imports.bulk)

    def __post_init__(self) -> None:
        """Build the category look-up and the header words a repeated header row holds."""
        header = next((c for c, f in self.used.items() if f == "category"), None)
        self.categories = category_lookup(self.kind, self.mapping, header=header)
        self.header_values = {f: c.strip().lower() for c, f in self.used.items()}


def agency_of(source: str, kind: str) -> str:
    """Return the agency code a source name stands for (police, social_care...).

    Examples
    --------
    >>> agency_of("Staffordshire Police", "incidents"), agency_of("LCS export", "referrals")
    ('police', 'social_care')
    """
    words = normalise_value(source)
    for code, text in AGENCIES.items():
        if code in words or normalise_value(text) in words:
            return code
    if "police" in words:
        return "police"
    return "social_care" if kind == "referrals" else "police"


class _Issues:
    """The first reason found for each row, with its column and value."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.reason = np.full(len(rows), "", dtype=object)
        self.column = np.full(len(rows), "", dtype=object)
        self.value = np.full(len(rows), "", dtype=object)
        self.status = np.full(len(rows), "rejected", dtype=object)

    @property
    def open(self) -> np.ndarray:
        return self.reason == ""

    def add(
        self,
        mask: np.ndarray,
        column: str,
        reason: str | np.ndarray,
        value: pd.Series | np.ndarray | None = None,
        status: str = "rejected",
    ) -> None:
        where = np.asarray(mask, dtype=bool) & self.open
        if not where.any():
            return
        self.reason[where] = reason[where] if isinstance(reason, np.ndarray) else reason
        self.column[where] = column
        self.status[where] = status
        if value is not None:
            self.value[where] = np.asarray(value, dtype=object)[where]

    def frame(self) -> pd.DataFrame:
        bad = ~self.open
        return pd.DataFrame(
            {
                "row": self.rows[bad],
                "status": self.status[bad],
                "column": self.column[bad],
                "reason": self.reason[bad],
                "value": self.value[bad],
            },
            columns=list(ISSUE_COLUMNS),
        )


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name].astype(str).str.strip()
    return pd.Series("", index=frame.index, dtype=object)


def _vocabulary(values: pd.Series, table: dict[str, str]) -> np.ndarray:
    """Map values through a vocabulary by their normalised form (None where unknown)."""
    uniques = pd.unique(values)
    lookup = {u: table.get(normalise_value(u)) for u in uniques}
    return values.map(lookup).to_numpy(dtype=object)


def first_source(plan: Plan, name: str) -> str:
    """Return the file's column read as a field (the field's name when there is none)."""
    return _first_source(plan, name)


def _first_source(plan: Plan, name: str) -> str:
    return next((c for c, f in plan.used.items() if f == name), name)


def prepare_chunk(chunk: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Validate and anonymise a chunk; return the rows to store, and note the rest in the report.

    Parameters
    ----------
    chunk
        Records as strings with the file's own headers and ``_row``.
    plan
        The import's plan; its report's counts and issues are updated.

    Returns
    -------
    pandas.DataFrame
        One row per record to store, with the table's columns (``source_ref``
        or ``place_key`` still to be checked against what is stored).
    """
    report = plan.report
    frame = chunk.loc[:, [c for c in plan.used if c in chunk.columns]].rename(columns=plan.used)
    rows = chunk[ROW].to_numpy(dtype=np.int64)
    size = len(frame)
    issues = _Issues(rows)
    report.rows_total += size

    # a header line repeated inside the data (files joined end to end)
    if plan.header_values:
        same = np.zeros(size, dtype=int)
        for name, word in plan.header_values.items():
            if name in frame:
                same += (_text(frame, name).str.lower() == word).to_numpy(int)
        issues.add(same * 2 >= max(len(plan.header_values), 2), "", "a repeated header line")
    blank = np.ones(size, dtype=bool)
    for name in frame.columns:
        blank &= (_text(frame, name) == "").to_numpy(bool)
    issues.add(blank, "", "the row is empty")

    frame[_ROW] = rows
    prepare = {"places": _places, "context": _context}.get(plan.kind, _events)
    stored = prepare(frame, plan, issues)
    bad = issues.frame()
    report.rejected += int((bad["status"] == "rejected").sum())
    report.outside_area += int((bad["status"] == "outside the area").sum())
    report.ignored += int((bad["status"] == "ignored").sum())
    report.add_issues(bad.loc[bad["status"] != "ignored"])
    return stored


#: The column that carries each stored row's row number to ``_store`` (dropped before insert).
ROW_COLUMN = _ROW = "_row"


def _category(frame: pd.DataFrame, plan: Plan, issues: _Issues) -> tuple[np.ndarray, np.ndarray]:
    raw = _text(frame, "category")
    code = _vocabulary(raw, plan.categories)
    column = _first_source(plan, "category")
    empty = (raw == "").to_numpy(bool)
    issues.add(empty, column, "no category")
    unknown = pd.isna(code) & ~empty
    labels = ", ".join(sorted({c for c in set(plan.categories.values()) if c != IGNORE}))
    reason = f"the category is not known: map it to one of {labels}, or to ignore"
    if plan.kind == "context":
        reason = f"is not one of police.uk's crime types ({labels})"
    issues.add(unknown, column, reason, raw)
    ignored = (code == IGNORE) & issues.open
    issues.add(ignored, column, "the category is set to be ignored", status="ignored")
    return code, ignored


def _dates(frame: pd.DataFrame, plan: Plan, issues: _Issues) -> tuple[np.ndarray, np.ndarray]:
    column = _first_source(plan, "date")
    raw = _text(frame, "date")
    days, month, problem = parse_dates(raw, date_format=plan.mapping.date_format)
    issues.add((raw == "").to_numpy(bool), column, "no date")
    issues.add(problem != "", column, problem, raw)
    future = days > np.datetime64(plan.today, "D")
    issues.add(future, column, "is in the future", raw)
    early = days < np.datetime64(plan.settings.earliest, "D")
    issues.add(early, column, f"is before {plan.settings.earliest:%d %B %Y}", raw)
    return days, month


def _age_band(frame: pd.DataFrame, days: np.ndarray, plan: Plan) -> np.ndarray:
    ages = np.full(len(frame), np.nan)
    report = plan.report
    if "age" in frame:
        text = _text(frame, "age")
        codes, uniques = pd.factorize(text.to_numpy(dtype=object))  # each value read once
        leading = pd.Series(uniques, dtype=object).str.extract(r"^(\d+(?:\.\d+)?)")[0]
        number = pd.to_numeric(leading, errors="coerce").to_numpy(dtype="float64")
        ages = number[codes] if len(codes) else np.full(0, np.nan)
        odd = (text != "").to_numpy(bool) & (np.isnan(ages) | (ages > 120))
        report.note("ages that could not be read (age band left empty)", int(odd.sum()))
        ages[odd] = np.nan
    if "date_of_birth" in frame:
        dob, _, problem = parse_dates(_text(frame, "date_of_birth"))
        from_dob = _ages(dob, days)
        wrong = (from_dob < 0) | (problem != "")
        report.note(
            "dates of birth that could not be read or come after the date (age band left empty)",
            int(wrong.sum()),
        )
        from_dob[from_dob < 0] = np.nan
        ages = np.where(np.isnan(ages), from_dob, ages)
    return age_bands(ages)


def _district_column(frame: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Return the index of the district the ``district`` column names (-1 for none)."""
    if "district" not in frame:
        return np.full(len(frame), -1, dtype=np.int64)
    from geo.boundaries import district_name

    lookup: dict[str, int] = {}
    for index, code in enumerate(plan.area.district_codes):
        lookup[normalise_value(code)] = index
        lookup[normalise_value(district_name(code))] = index
    values = _text(frame, "district").map(normalise_value)
    return values.map(lookup).fillna(-1).to_numpy(dtype=np.int64)


def _where(frame: pd.DataFrame, plan: Plan, issues: _Issues, *, snap: bool) -> dict[str, Any]:
    """Locate, place in a district and ward, link to a place and snap."""
    area = plan.area
    report = plan.report
    found = locate(frame)
    report.note("rows with latitude and longitude the wrong way round (swapped)", found.swapped)
    report.note(
        "rows with eastings and northings in the longitude and latitude columns",
        found.bng_in_lonlat,
    )
    report.note(
        "rows with longitudes and latitudes in the easting and northing columns",
        found.lonlat_in_bng,
    )
    report.note("rows located by their postcode", found.by_postcode)
    lon, lat = _first_source(plan, "longitude"), _first_source(plan, "latitude")
    east, north = _first_source(plan, "easting"), _first_source(plan, "northing")
    source_column = {
        "longitude/latitude": f"{lon}/{lat}",
        "easting/northing": f"{east}/{north}",
        "postcode": _first_source(plan, "postcode"),
    }
    for name in np.unique(found.problem_column[found.problem != ""]):
        mask = (found.problem != "") & (found.problem_column == name)
        value = _text(frame, "postcode") if name == "postcode" else None
        issues.add(mask, source_column.get(name, name), found.problem, value)
    e, n = found.easting, found.northing
    located = np.isfinite(e)
    district = assign(area.district_codes, area.district_geoms, e, n)
    outside = located & (district < 0)
    issues.add(
        outside,
        "location",
        "the point is outside the area (not in any of its districts)",
        status="outside the area",
    )
    named = _district_column(frame, plan)
    online = np.zeros(len(frame), dtype=bool)
    if "online" in frame:
        online = _text(frame, "online").str.lower().isin(_TRUE).to_numpy(bool)
    unlocated = ~located & issues.open
    keep_without = unlocated & (named >= 0)
    district = np.where(keep_without, named, district)
    named_outside = unlocated & ~keep_without & (_text(frame, "district") != "").to_numpy(bool)
    issues.add(
        named_outside,
        _first_source(plan, "district"),
        "names a district that is not in the area",
        status="outside the area",
    )
    issues.add(
        unlocated & ~keep_without,
        "location",
        "cannot be located: no coordinates or postcode"
        + (" (online records need a district column)" if online.any() else ""),
    )
    good = located & (district >= 0)
    ward = np.full(len(e), None, dtype=object)
    if len(area.ward_codes):
        wi = assign(area.ward_codes, area.ward_geoms, e, n)
        ward[wi >= 0] = area.ward_codes[wi[wi >= 0]]
    exact_e = np.where(good & ~online, e, np.nan)
    exact_n = np.where(good & ~online, n, np.nan)
    if snap:
        place, distance = link_places(area, e, n, district, radius=plan.settings.place_radius)
        se, sn, smaller = snap_within_districts(
            area, e, n, np.where(good, district, -1), cell_size=plan.settings.cell_size
        )
        report.note("points snapped to a smaller square to stay in their district", smaller)
        onto = good & (place >= 0) & (distance <= plan.settings.snap_to_place)
        if onto.any():
            lookup = pd.Series(np.arange(len(area.place_ids)), index=area.place_ids)
            at = lookup.loc[place[onto]].to_numpy()
            se[onto], sn[onto] = area.place_xy[at, 0], area.place_xy[at, 1]
        report.note("points moved onto a register place nearby", int(onto.sum()))
        e, n = se, sn
    else:
        place = np.full(len(e), -1, dtype=np.int64)
    # online records keep their district for totals, but no point: they are not mapped
    report.note("online records kept without a point on the map", int((good & online).sum()))
    e = np.where(good & ~online, e, np.nan)
    n = np.where(good & ~online, n, np.nan)
    codes = np.full(len(e), None, dtype=object)
    codes[district >= 0] = area.district_codes[district[district >= 0]]
    return {
        "easting": e,
        "northing": n,
        "district_code": codes,
        "ward_code": np.where(good, ward, None),  # type: ignore[call-overload]
        "place_id": place,
        "online": online,
        "without_location": keep_without,
        "exact_easting": exact_e,
        "exact_northing": exact_n,
    }


def _nullable(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[pd.isna(out)] = None
    return out


def _events(frame: pd.DataFrame, plan: Plan, issues: _Issues) -> pd.DataFrame:
    report = plan.report
    days, month_only = _dates(frame, plan, issues)
    category, _ = _category(frame, plan, issues)
    where = _where(frame, plan, issues, snap=True)
    keep = issues.open
    band = _age_band(frame, days, plan)
    precision = plan.settings.date_precision
    coarse = coarsen_dates(days, precision)  # type: ignore[arg-type]  # checked on load
    coarse = np.where(month_only, coarsen_dates(days, "month"), coarse)
    precision_of = np.where(month_only | (precision == "month"), "month", precision)
    sex = _vocabulary(_text(frame, "sex"), _SEXES) if "sex" in frame else None
    out: dict[str, Any] = {
        "source_agency": np.full(len(frame), plan.agency, dtype=object),
        "category": category,
        "occurred_on": coarse,
        "date_precision": precision_of,
        "age_band": band,
        "sex": sex if sex is not None else np.full(len(frame), None, dtype=object),
        "online": where["online"],
        "easting": where["easting"],
        "northing": where["northing"],
        "district_code": where["district_code"],
        "ward_code": where["ward_code"],
        "place_id": where["place_id"],
    }
    if plan.kind == "referrals":
        route = _vocabulary(_text(frame, "route"), _ROUTES) if "route" in frame else None
        out["route"] = np.where(pd.isna(route), "other", route) if route is not None else "other"
        if "risk_level" in frame:
            risk_text = _text(frame, "risk_level")
            risk = _vocabulary(risk_text, _RISKS)
            report.note(
                "risk levels not low, medium or high (left empty)",
                int((pd.isna(risk) & (risk_text != "").to_numpy(bool) & keep).sum()),
            )
            out["risk_level"] = risk
        else:
            out["risk_level"] = None
        if "outcome" in frame:
            outcome_text = _text(frame, "outcome")
            outcome = _vocabulary(outcome_text, OUTCOMES)
            report.note(
                "outcomes not in the fixed list, dropped in case they are notes (left empty)",
                int((pd.isna(outcome) & (outcome_text != "").to_numpy(bool) & keep).sum()),
            )
            out["outcome"] = outcome
        else:
            out["outcome"] = None
        if "child_id" in frame:
            child = _text(frame, "child_id").str.upper().str.replace(r"\s+", "", regex=True)
            pseudonyms = np.full(len(frame), None, dtype=object)
            has = (child != "").to_numpy(bool) & keep
            if has.any():
                assert plan.key is not None
                values = ("child|" + child[has]).to_numpy(dtype=object)
                pseudonyms[has] = keyed_pseudonyms(values, key=plan.key, length=16)
            out["child_pseudonym"] = pseudonyms
        else:
            out["child_pseudonym"] = None
    out["person_pseudonym"] = _person_pseudonyms(frame, plan, keep)
    report.without_location += int((where["without_location"] & keep).sum())
    out[_ROW] = frame[_ROW].to_numpy()
    stored = _kept_frame(out, keep)
    stored["source_ref"] = _event_refs(frame.loc[keep].reset_index(drop=True), stored, plan)
    _place_links(frame.loc[keep].reset_index(drop=True), stored, where, keep, plan)
    return stored


def _kept_frame(columns: dict[str, Any], keep: np.ndarray) -> pd.DataFrame:
    """Return the kept rows of the prepared columns, text kept as Python strings.

    pandas 3 would make every text column an Arrow string column, which the copy then
    turns back into Python strings: two conversions of every value for nothing
    (issue 21: 1.6 s of a million-row import's 20).
    """
    kept: dict[str, Any] = {}
    for name, values in columns.items():
        if np.ndim(values) == 0:  # the same for every row
            kept[name] = values
            continue
        values = np.asarray(values)[keep]
        kept[name] = pd.Series(values, dtype=object) if values.dtype == object else values
    return pd.DataFrame(kept, index=pd.RangeIndex(int(keep.sum())))


def _person_pseudonyms(frame: pd.DataFrame, plan: Plan, keep: np.ndarray) -> np.ndarray | None:
    """Return keyed pseudonyms of persons of concern, in their own namespace (issue 19)."""
    if "person_of_concern" not in frame:
        return None
    person = _text(frame, "person_of_concern").str.upper().str.replace(r"\s+", "", regex=True)
    pseudonyms = np.full(len(frame), None, dtype=object)
    has = (person != "").to_numpy(bool) & keep
    if has.any():
        assert plan.key is not None
        values = ("person|" + person[has]).to_numpy(dtype=object)
        pseudonyms[has] = keyed_pseudonyms(values, key=plan.key, length=16)
    return pseudonyms


def _place_links(
    kept: pd.DataFrame, stored: pd.DataFrame, where: dict[str, Any], keep: np.ndarray, plan: Plan
) -> None:
    """Note the places each kept record belongs to, by its reference (stored with it)."""
    if plan.place_index is None or not len(stored):
        return
    named = {f: _text(kept, f) for f in NAMED_FIELDS if f in kept}
    links, problems = find_links(
        plan.place_index,
        named=named,
        easting=where["exact_easting"][keep],
        northing=where["exact_northing"][keep],
        radius=plan.settings.link_radius,
    )
    for text, count in problems.items():
        plan.report.note(text, count)
    plan.report.note("links to places", len(links))
    if len(links):
        refs = stored["source_ref"].to_numpy(dtype=object)
        plan.pending_links.append(
            pd.DataFrame(
                {
                    "source_ref": refs[links["row"].to_numpy()],
                    "place_id": links["place_id"].to_numpy(),
                    "relation": links["relation"].to_numpy(),
                }
            )
        )


def _event_refs(frame: pd.DataFrame, stored: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Return each kept row's stored reference: a keyed pseudonym, or a fingerprint."""
    refs = np.full(len(stored), None, dtype=object)
    if not len(stored):
        return refs
    raw = _text(frame, "source_ref")
    has = (raw != "").to_numpy(bool)
    if has.any():
        assert plan.key is not None
        values = (f"{plan.kind}|{plan.source}|" + raw[has]).to_numpy(dtype=object)
        refs[has] = "r" + keyed_pseudonyms(values, key=plan.key, length=31).astype(object)
    if (~has).any():
        # No reference: the same anonymised record seen k times is the same k records.
        part = stored.loc[~has].drop(columns=[_ROW, "record_key"], errors="ignore")
        texts = [part[name].to_numpy(dtype=object).astype(str) for name in part.columns]
        base = pd.Series(
            [
                f"{plan.kind}|{plan.source}|" + "|".join(values)
                for values in zip(*texts, strict=True)
            ],
            dtype=object,
        )
        occurrence = base.groupby(base).cumcount().to_numpy()
        seen = plan.fingerprints_seen
        offset = np.array([seen.get(k, 0) for k in base], dtype=np.int64)
        for k, count in base.value_counts().items():
            seen[k] = seen.get(k, 0) + int(count)
        keys = np.array(
            [f"{k}#{o}" for k, o in zip(base, occurrence + offset, strict=True)], dtype=object
        )
        refs[~has] = "f" + _sha_hex(keys, length=31).astype(object)
    return refs


def _places(frame: pd.DataFrame, plan: Plan, issues: _Issues) -> pd.DataFrame:
    category, _ = _category(frame, plan, issues)
    name = _text(frame, "name")
    if "name" not in frame:
        name = _text(frame, "category")
        plan.report.note(
            "places named after their category (the file has no name column)", len(name)
        )
    kinds = personal_kinds_of(name)
    personal = (kinds != "").to_numpy(bool)
    issues.add(
        personal,
        _first_source(plan, "name"),
        ("the name holds personal details (" + kinds + ")").to_numpy(dtype=object),
    )
    issues.add((name == "").to_numpy(bool), _first_source(plan, "name"), "no name")
    where = _where(frame, plan, issues, snap=False)
    located = np.isfinite(where["easting"])
    issues.add(~located, "location", "a place needs a location (coordinates or postcode)")
    keep = issues.open
    postcode = _text(frame, "postcode").str.upper().str.replace(r"\s+", " ", regex=True)
    active = (
        ~_text(frame, "active").str.lower().isin(_FALSE - {""}).to_numpy(bool)
        if "active" in frame
        else np.ones(len(frame), dtype=bool)
    )
    org = _text(frame, "responsible_org") if "responsible_org" in frame else None
    if org is not None:
        org_kinds = personal_kinds_of(org)
        issues.add(
            (org_kinds != "").to_numpy(bool),
            _first_source(plan, "responsible_org"),
            ("the organisation holds personal details (" + org_kinds + ")").to_numpy(dtype=object),
        )
        keep = issues.open
    out = pd.DataFrame(
        {
            "name": name.str.slice(0, 200).to_numpy(dtype=object),
            "category": category,
            "easting": np.round(where["easting"], 1),
            "northing": np.round(where["northing"], 1),
            "postcode": np.where(postcode.str.len().between(5, 8), postcode, None),
            "district_code": where["district_code"],
            "responsible_org": org.str.slice(0, 200).replace("", None).to_numpy(dtype=object)
            if org is not None
            else None,
            "active": active,
            _ROW: frame[_ROW].to_numpy(),
        }
    ).loc[keep]
    ref = _text(frame, "source_ref")[keep]
    basis = np.where(
        ref != "",
        f"{plan.source}|" + ref,
        f"{plan.source}|"
        + out["name"]
        + "|"
        + out["category"]
        + "|"
        + out["easting"].round(0).astype(str)
        + "|"
        + out["northing"].round(0).astype(str),
    )
    out["place_key"] = "p" + _sha_hex(np.asarray(basis, dtype=object), length=31).astype(object)
    return out.reset_index(drop=True)


def _context(frame: pd.DataFrame, plan: Plan, issues: _Issues) -> pd.DataFrame:
    """Validate a chunk of context events (public crime, all ages): month, crime type, place.

    The crime type is kept as the source's own (police.uk's 14); the date as its
    month; the point snapped within its district as incidents are; a uniform
    random ``record_key`` (0..255) is drawn for each row for cell-key perturbation.
    """
    days, _ = _dates(frame, plan, issues)
    category, _ = _category(frame, plan, issues)
    where = _where(frame, plan, issues, snap=True)
    keep = issues.open
    out: dict[str, Any] = {
        "source": np.full(len(frame), plan.source, dtype=object),
        "crime_type": category,
        "month": coarsen_dates(days, "month"),
        "easting": where["easting"],
        "northing": where["northing"],
        "district_code": where["district_code"],
        "ward_code": where["ward_code"],
        _ROW: frame[_ROW].to_numpy(),
    }
    plan.report.without_location += int((where["without_location"] & keep).sum())
    stored = pd.DataFrame(out).loc[keep].reset_index(drop=True)
    stored["source_ref"] = _event_refs(frame.loc[keep].reset_index(drop=True), stored, plan)
    draw = secrets.randbelow
    stored["record_key"] = np.array([draw(256) for _ in range(len(stored))], dtype=np.int64)
    return stored


def columns_for_insert(frame: pd.DataFrame, plan: Plan, *, dialect: str) -> dict[str, list]:
    """Return stored rows column by column as Python values ready for the database driver.

    For SQLite, dates and times are given as the text SQLAlchemy stores and
    booleans as 0 and 1, so the rows can go straight to the driver's
    ``executemany``.
    """
    sqlite = dialect == "sqlite"
    size = len(frame)
    columns: dict[str, list] = {}
    for name in frame.columns:
        if name == _ROW:
            continue
        values = frame[name].to_numpy()
        if name in ("occurred_on", "month"):
            days = np.asarray(values, dtype="datetime64[D]")
            columns[name] = (
                days.astype(str).tolist() if sqlite else pd.DatetimeIndex(days).date.tolist()
            )
        elif name == "place_id":
            ids = values.astype(object)
            ids[values < 0] = None
            columns[name] = ids.tolist()
        elif values.dtype.kind == "f":
            out = values.astype(object)
            out[np.isnan(values)] = None
            columns[name] = out.tolist()
        elif values.dtype.kind == "b":
            columns[name] = values.astype(int).tolist() if sqlite else values.tolist()
        else:
            columns[name] = _nullable(values).tolist()
    now = plan.now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    for name, value in (
        ("import_batch_id", plan.batch_id),
        ("created_at", now if sqlite else plan.now),
        ("updated_at", now if sqlite else plan.now),
        ("created_by", plan.actor),
        ("updated_by", plan.actor),
    ):
        columns[name] = [value] * size
    return columns
