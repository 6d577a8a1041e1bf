"""The filters shared by every page, and their round trip through the URL.

Parsing and writing are pure functions so that a copied link reproduces the
view and a hand-edited link falls back to the defaults with a notice.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from services.audience import Audience
from services.reads import MapQuery, period_months
from store.queries import EventFilter
from store.vocabulary import AGE_BANDS, AGENCIES, EXPLOITATION_TYPES

__all__ = [
    "PERIODS",
    "Filters",
    "filters_from_params",
    "filters_to_params",
    "map_query",
    "month_end",
    "refuse_outside_scope",
]

PERIODS: dict[str, str] = {
    "month": "Last month",
    "quarter": "Last 3 months",
    "year": "Last 12 months",
    "all": "All data",
    "custom": "Custom range",
}
_MONTHS_BACK = {"month": 1, "quarter": 3, "year": 12}
CELL_SIZES = (100, 250, 500, 1000)


def month_end(day: date) -> date:
    """Return the last day of the month of ``day``."""
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _months_before(day: date, months: int) -> date:
    """Return the first day of the month ``months - 1`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    """What the user has chosen in the sidebar."""

    period: str = "quarter"
    start: date | None = None
    end: date | None = None
    types: tuple[str, ...] = ()
    ages: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    cell_size: int = 250

    def window(self, latest: date) -> tuple[date | None, date | None]:
        """Return the first and last day of the period, given the newest data date.

        Periods end with the newest month that has data, so that "last month"
        is the last complete month loaded, not an empty current month.
        """
        if self.period == "custom":
            return self.start, self.end
        if self.period == "all":
            return None, None
        last = month_end(latest)
        return _months_before(last, _MONTHS_BACK[self.period]), last

    def months(self, latest: date) -> tuple[str, str]:
        """Return the period as whole months, ``"YYYY-MM"``; "all data" is the last 12 months.

        Examples
        --------
        >>> Filters(period="quarter").months(date(2026, 10, 20))
        ('2026-08', '2026-10')
        >>> Filters(period="all").months(date(2026, 10, 20))
        ('2025-11', '2026-10')
        """
        start, end = self.window(latest)
        last = end or latest
        if start is None:
            start = _months_before(last, 12)
        return f"{start:%Y-%m}", f"{last:%Y-%m}"

    def describe(self, district_names: Mapping[str, str]) -> str:
        """Return the filters other than the period in words, for a pack or a caption.

        Examples
        --------
        >>> Filters(types=("cce",)).describe({})
        'Child criminal exploitation; all age bands; all agencies; all districts'
        """
        parts = [
            ", ".join(EXPLOITATION_TYPES.get(t, t) for t in self.types) or "all exploitation types",
            ", ".join(AGE_BANDS.get(a, a) for a in self.ages) or "all age bands",
            ", ".join(AGENCIES.get(a, a) for a in self.agencies) or "all agencies",
            ", ".join(district_names.get(d, d) for d in self.districts) or "all districts",
        ]
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    def event_filter(self, latest: date) -> EventFilter:
        """Return the storage filter for this choice."""
        start, end = self.window(latest)
        return EventFilter(
            start=start,
            end=end,
            categories=self.types,
            age_bands=self.ages,
            agencies=self.agencies,
            districts=self.districts,
        )


def _parse_list(
    raw: str | None, allowed: Mapping[str, str] | tuple[str, ...], name: str, notices: list[str]
) -> tuple[str, ...]:
    if not raw:
        return ()
    values = tuple(v for v in raw.split(",") if v)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        notices.append(f"The link named unknown {name} ({', '.join(unknown)}); showing all.")
        return ()
    return values


def _parse_date(raw: str | None, name: str, notices: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        notices.append(f"The link's {name} date '{raw}' is not a date like 2026-01-31.")
        return None


def filters_from_params(
    params: Mapping[str, str], *, districts: Mapping[str, str]
) -> tuple[Filters, list[str]]:
    """Read filters from URL query parameters.

    Parameters
    ----------
    params
        The query parameters (``st.query_params``).
    districts
        The districts the user may choose, code to name.

    Returns
    -------
    Filters, list of str
        The filters, with every value that could not be understood replaced
        by its default, and a plain-English notice for each such value.

    Examples
    --------
    >>> f, notes = filters_from_params({"period": "year", "types": "cce"}, districts={})
    >>> f.period, f.types, notes
    ('year', ('cce',), [])
    >>> filters_from_params({"period": "decade"}, districts={})[1]
    ["The link's period 'decade' is not one we know; showing the last 3 months."]
    """
    notices: list[str] = []
    defaults = Filters()
    period = params.get("period", defaults.period)
    if period not in PERIODS:
        notices.append(
            f"The link's period '{period}' is not one we know; showing the last 3 months."
        )
        period = defaults.period
    start = _parse_date(params.get("start"), "start", notices)
    end = _parse_date(params.get("end"), "end", notices)
    if period == "custom" and (start is None or end is None or start > end):
        if start is not None and end is not None:
            notices.append(
                "The link's start date is after its end date; showing the last 3 months."
            )
        elif not notices:
            notices.append("The link asked for a custom period without both dates.")
        period, start, end = defaults.period, None, None
    cell_size = defaults.cell_size
    if "cell" in params:
        try:
            cell_size = int(params["cell"])
        except ValueError:
            cell_size = -1
        if cell_size not in CELL_SIZES:
            notices.append(f"The link's cell size '{params['cell']}' is not offered; using 250 m.")
            cell_size = defaults.cell_size
    filters = Filters(
        period=period,
        start=start if period == "custom" else None,
        end=end if period == "custom" else None,
        types=_parse_list(params.get("types"), EXPLOITATION_TYPES, "exploitation types", notices),
        ages=_parse_list(params.get("ages"), AGE_BANDS, "age bands", notices),
        agencies=_parse_list(params.get("agencies"), AGENCIES, "agencies", notices),
        districts=_parse_list(params.get("districts"), districts, "districts", notices),
        cell_size=cell_size,
    )
    return filters, notices


def filters_to_params(filters: Filters) -> dict[str, str]:
    """Return the query parameters that reproduce the filters (defaults left out).

    Examples
    --------
    >>> filters_to_params(Filters(period="year", districts=("E07000197",)))
    {'period': 'year', 'districts': 'E07000197'}
    """
    defaults = Filters()
    params: dict[str, str] = {}
    if filters.period != defaults.period:
        params["period"] = filters.period
    if filters.period == "custom" and filters.start and filters.end:
        params["start"] = filters.start.isoformat()
        params["end"] = filters.end.isoformat()
    for key, values in (
        ("types", filters.types),
        ("ages", filters.ages),
        ("agencies", filters.agencies),
        ("districts", filters.districts),
    ):
        if values:
            params[key] = ",".join(values)
    if filters.cell_size != defaults.cell_size:
        params["cell"] = str(filters.cell_size)
    return params


def refuse_outside_scope(
    params: Mapping[str, str], *, allowed: Collection[str], known: Collection[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Take out of a link's districts those that exist but are outside the viewer's scope.

    Parameters
    ----------
    params
        The query parameters (``st.query_params``).
    allowed
        The viewer's districts.
    known
        Every district of the deployment; codes that are not known are left
        for :func:`filters_from_params` to report as unknown.

    Returns
    -------
    dict, tuple of str
        The parameters without the refused districts (without ``districts``
        when none is left), and the refused codes, for the message and the
        audit log.

    Examples
    --------
    >>> params = {"period": "year", "districts": "E07000197,E06000021"}
    >>> refuse_outside_scope(params, allowed={"E07000197"}, known={"E07000197", "E06000021"})
    ({'period': 'year', 'districts': 'E07000197'}, ('E06000021',))
    >>> refuse_outside_scope({"districts": "E06000021"}, allowed=(), known={"E06000021"})
    ({}, ('E06000021',))
    """
    codes = [c for c in (params.get("districts") or "").split(",") if c]
    refused = tuple(c for c in codes if c in known and c not in allowed)
    kept = dict(params)
    if refused:
        remaining = [c for c in codes if c not in refused]
        kept.pop("districts")
        if remaining:
            kept["districts"] = ",".join(remaining)
    return kept, refused


def map_query(
    filters: Filters,
    scope: tuple[str, ...],
    latest: date,
    months: pd.Series,
    *,
    audience: Audience | None = None,
) -> MapQuery:
    """Return what the map shows for the sidebar's filters, within a viewer's scope.

    Parameters
    ----------
    filters
        The sidebar's choice.
    scope
        The districts to read (``Audience.scope``).
    latest
        The newest data date: the end of the preset periods.
    months
        The months that have data (``"YYYY-MM"``): an open-ended period starts at the first.
    audience
        Who will see it: the cell size is at least its ``min_cell_size``.

    Examples
    --------
    >>> q = map_query(Filters("quarter"), ("E07000197",), date(2026, 10, 5), pd.Series([]))
    >>> q.first, q.last, q.cell_size
    ('2026-08', '2026-10', 250)
    >>> map_query(Filters("all"), ("E07000197",), date(2026, 10, 5), pd.Series(["2024-01"])).first
    '2024-01'
    """
    first, last = period_months(*filters.window(latest))
    known = months.dropna()
    cell_size = filters.cell_size
    if audience is not None:
        cell_size = audience.cell_size(cell_size)
    return MapQuery(
        districts=scope,
        types=filters.types,
        ages=filters.ages,
        agencies=filters.agencies,
        first=first or (str(known.min()) if not known.empty else f"{latest:%Y-%m}"),
        last=last or f"{latest:%Y-%m}",
        cell_size=cell_size,
    )
