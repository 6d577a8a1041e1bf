"""The flagged places' table beside the map: every reason readable in full at 1366 px.

The table sits in the narrow column beside the map (about 345 px at 1366x768). Its cells
are drawn on a canvas, so text that does not fit is cut without a trace in the page. The
place and the reason therefore get fixed widths that fit that column, their text wraps
in the cells (the grid wraps only rows taller than 64 px), and the rows are tall enough
for the longest reason. The period, the same for every row, is said once in the caption
instead of in every reason: the read service renders each row's reason without it
(``reason_short``, from the numbers); the place's panel gives the full reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from store.vocabulary import PLACE_CATEGORIES, label

PLACE_PX = 112
"""Width of the Place column (names wrap onto up to four lines)."""
WHY_PX = 196
"""Width of the Why column: with the selection boxes and the place, it fits the 345 px
column beside the map at 1366x768."""
ROW_PX = 96
"""Row height: five lines of the grid's 14 px text (line height 1.4) and its padding."""
HEIGHT_PX = 600
"""Height of the table (six rows), about the map's."""


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
        The words for the assessment states.

    Returns
    -------
    tuple
        The table (Place, Why, Assessment, Category) and the ``column_config`` for
        ``st.dataframe``.
    """
    table = pd.DataFrame(
        {
            "Place": flags["name"].astype(str).to_numpy(),
            "Why": flags["reason_short"].astype(str).to_numpy(),
            "Assessment": states.map(state_labels).to_numpy(),
            "Category": flags["category"].map(lambda c: label(PLACE_CATEGORIES, c)).to_numpy(),
        }
    )
    config: dict[str, Any] = {
        "Place": st.column_config.TextColumn("Place", width=PLACE_PX),
        "Why": st.column_config.TextColumn("Why", width=WHY_PX),
        "Assessment": st.column_config.TextColumn("Assessment", width="medium"),
    }
    return table, config
