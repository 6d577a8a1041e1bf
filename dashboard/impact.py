"""The impact of actions as tables, a chart and pack blocks (no Streamlit here).

Everything is drawn from a :class:`services.impact.DisclosedImpact` (numbers already disclosed
for the reader) and, for the chart, :func:`services.impact.place_chart`. The Streamlit views
are in :mod:`dashboard.impact_views`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from services.impact import ASSOCIATION_NOTE, DisclosedImpact

__all__ = [
    "VERDICT_WORDS",
    "chart",
    "pack_blocks",
    "places_table",
    "pooled_table",
    "summary_line",
]

VERDICT_WORDS: dict[str, str] = {
    "fell": "Fell more than at comparable places",
    "rose": "Rose more than at comparable places",
    "no_change": "No clear change",
    "too_few": "Too few incidents to tell",
    "too_soon": "Too soon to tell",
    "no_comparison": "No comparable places",
}

_COUNT_HEADINGS = {
    "before": "Before",
    "after": "After",
    "comparison_before": "Comparable places before",
    "comparison_after": "Comparable places after",
}


def places_table(impact: DisclosedImpact) -> pd.DataFrame:
    """Return one row per place, with headings for people (counts as disclosed)."""
    table = impact.places
    return pd.DataFrame(
        {
            "Place": table["place"],
            "District": table["district"],
            "First action done": table["first_action"],
            "Actions": table["kinds"],
            **{heading: table[column] for column, heading in _COUNT_HEADINGS.items()},
            "Effect ratio (95% interval)": table["effect"],
            "p": table["p"],
            "Verdict": table["sentence"],
        }
    )


def pooled_table(pooled: pd.DataFrame, heading: str) -> pd.DataFrame:
    """Return a pooled table (by kind or district) with headings for people."""
    return pd.DataFrame(
        {
            heading: pooled["group"],
            "Places": pooled["places"],
            **{h: pooled[column] for column, h in _COUNT_HEADINGS.items()},
            "Effect ratio (95% interval)": pooled["effect"],
            "p": pooled["p"],
            "Verdict": pooled["sentence"],
        }
    )


def summary_line(impact: DisclosedImpact) -> str:
    """Return one sentence counting the places by verdict.

    Examples
    --------
    >>> from services.impact import DisclosedImpact
    >>> places = pd.DataFrame({"verdict": ["fell", "no_change", "too_few", "no_change"]})
    >>> summary_line(DisclosedImpact(places, pd.DataFrame(), pd.DataFrame(), False, 5, 6))
    '4 places with completed actions: 1 fell more than at comparable places, 2 no clear change, 1 too few incidents to tell.'
    """  # noqa: E501
    counts = impact.places["verdict"].value_counts()
    if counts.empty:
        return "No place in these districts has a completed action yet."
    parts = [
        f"{counts[code]} {VERDICT_WORDS[code][0].lower()}{VERDICT_WORDS[code][1:]}"
        for code in VERDICT_WORDS
        if code in counts
    ]
    total = int(counts.sum())
    return (
        f"{total} place{'s' if total != 1 else ''} with completed actions: "
        + ", ".join(parts)
        + "."
    )


def _how(impact: DisclosedImpact) -> str:
    return (
        f"Incidents within 200 m, {impact.window} months before and after each place's first "
        "completed action, against comparable places (a difference in differences on counts, "
        "Poisson regression with place and month effects). Effect ratio: the place's change "
        "over the comparable places'; 0.60 means a fall 40% larger. A change is claimed only "
        "when the 95% interval excludes no change."
    )


def pack_blocks(impact: DisclosedImpact) -> list[tuple[str, object]]:
    """Return the "Impact of actions" slide's blocks for the pack (see ``reports.pack``)."""
    blocks: list[tuple[str, object]] = [("text", [summary_line(impact)])]
    if impact.places.empty:
        return blocks
    blocks.append(("table", pooled_table(impact.by_kind, "Kind of action")))
    blocks.append(("table", pooled_table(impact.by_district, "District")))
    blocks.append(("table", places_table(impact)))
    blocks.append(("text", [_how(impact), ASSOCIATION_NOTE]))
    return blocks


def chart(line: pd.DataFrame, *, action_month: str, big: bool = False) -> go.Figure:
    """Return the "since the assessment" chart: the place's incidents and the comparison line.

    Parameters
    ----------
    line
        :func:`services.impact.place_chart` (blank months are gaps).
    action_month
        ``"YYYY-MM"``, the month of the first completed action (marked).
    big
        Larger type, for a shared screen.
    """
    months = pd.PeriodIndex(line["month"], freq="M").to_timestamp()
    figure = go.Figure()
    figure.add_scatter(
        x=months,
        y=line["place"],
        name="This place",
        mode="lines+markers",
        line={"width": 3, "color": "#1f4e79"},
        connectgaps=False,
    )
    figure.add_scatter(
        x=months,
        y=line["expected"],
        name="Had it moved like comparable places",
        mode="lines",
        line={"width": 3, "color": "#c55a11", "dash": "dash"},
        connectgaps=False,
    )
    at = pd.Period(action_month, freq="M").to_timestamp()
    figure.add_vline(x=at, line_width=2, line_dash="dot", line_color="#444")
    figure.add_annotation(
        x=at, y=1, yref="paper", text="First action done", showarrow=False, yanchor="bottom"
    )
    figure.update_layout(
        height=420 if big else 280,
        font_size=18 if big else 13,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"orientation": "h", "y": -0.2, "title": ""},
        yaxis={"rangemode": "tozero", "title": "Incidents within 200 m"},
    )
    return figure
