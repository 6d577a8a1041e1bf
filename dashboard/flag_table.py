"""The flagged places' table beside the map: every reason readable in full at 1366 px.

The table sits in the narrow column beside the map (about 345 px at 1366x768). Its cells
are drawn on a canvas, so text that does not fit is cut without a trace in the page. The
place and the reason therefore get fixed widths that fit that column, their text wraps
in the cells (the grid wraps only rows taller than 64 px), and the rows are tall enough
for the longest reason. The period, the same for every row, is said once in the caption
instead of in every reason: the read service renders each row's reason without it
(``reason_short``, from the numbers); the place's panel gives the full reason.

The place's kind and its assessment are said in the Place cell, after the name ("Castle
View Hotel, Tamworth (hotel or B&B; no assessment)"): as columns of their own they ran
past the right edge (a sideways scroll at 1366, "Category" cut at 1920).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from store.vocabulary import PLACE_CATEGORIES, label

PLACE_PX = 136
"""Width of the Place column (the name, its kind and assessment wrap onto up to six lines)."""
WHY_PX = 176
"""Width of the Why column: with the selection boxes and the place, it fits the 345 px
column beside the map at 1366x768."""
ROW_PX = 116
"""Row height: six lines of the grid's 14 px text (line height 1.4) and its padding."""
HEIGHT_PX = 600
"""Height of the table (five rows), about the map's."""
SHORT_STATES: dict[str, str] = {
    "none": "no assessment",
    "draft": "in progress",
    "current": "assessed",
    "overdue": "review overdue",
}
"""The assessment states in the words of a table cell (the legend has them in full)."""


def flag_table(
    flags: pd.DataFrame, states: pd.Series, state_labels: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the table of flagged places and its column settings.

    Parameters
    ----------
    flags : pandas.DataFrame
        The period's flagged places, best first (``services.reads.flagged_places``):
        ``name``, ``reason_short`` (the reason without its period), ``category``.
    states : pandas.Series
        Each flagged place's assessment state, aligned with ``flags``.
    state_labels : mapping
        The words for the assessment states (``SHORT_STATES`` in the page); a state
        without words is shown as it is.

    Returns
    -------
    tuple
        The table (Place: the name, then its kind and assessment in brackets; Why) and the
        ``column_config`` for ``st.dataframe``.
    """
    kinds = flags["category"].map(lambda c: _lower(label(PLACE_CATEGORIES, c)))
    assessed = states.map(lambda s: _lower(str(state_labels.get(s, s))))
    places = [
        f"{name} ({kind}; {state})"
        for name, kind, state in zip(
            flags["name"].astype(str), kinds.astype(str), assessed.astype(str), strict=True
        )
    ]
    table = pd.DataFrame({"Place": places, "Why": flags["reason_short"].astype(str).to_numpy()})
    config: dict[str, Any] = {
        "Place": st.column_config.TextColumn("Place", width=PLACE_PX),
        "Why": st.column_config.TextColumn("Why", width=WHY_PX),
    }
    return table, config


def _lower(words: str) -> str:
    """Return the label with its first letter in lower case, to read inside a sentence.

    Examples
    --------
    >>> _lower("Hotel or B&B"), _lower("No assessment"), _lower("")
    ('hotel or B&B', 'no assessment', '')
    """
    return words[:1].lower() + words[1:]
