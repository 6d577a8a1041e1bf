"""The flagged places' table beside the map: every reason readable in full at 1366 px.

The table sits in the narrow column beside the map (about 345 px at 1366x768). Its cells
are drawn on a canvas, so text that does not fit is cut without a trace in the page. The
place and the reason therefore get fixed widths that fit that column, their text wraps
in the cells (the grid wraps only rows taller than 64 px), and the rows are tall enough
for the longest reason. The period, the same for every row, is said once in the caption
instead of in every reason; the place's panel gives the reason word for word.
"""

from __future__ import annotations

import re
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

# "63 incidents within 100 m in Nov 2025-Oct 2026 (up from 40)": the period, said once
_PERIOD = re.compile(r"^(.*? within [\d.]+ m) in [^;(]+? (\([^)]*\))")


def short_reason(reason: str) -> str:
    """Return a flag's reason without the period (the same for every row of the table).

    Parameters
    ----------
    reason : str
        The reason as the flags engine wrote it (``geo.flags.render_reason``).

    Returns
    -------
    str
        The reason with ``" in <period>"`` taken out of its first clause; a reason worded
        otherwise is returned unchanged.

    Examples
    --------
    >>> short_reason("12 incidents within 200 m in Aug-Oct 2026 (up from 9); 99% hot spot")
    '12 incidents within 200 m (up from 9); 99% hot spot'
    >>> short_reason("<5 incidents within 200 m in Oct 2026 (was 7)")
    '<5 incidents within 200 m (was 7)'
    """
    return _PERIOD.sub(r"\1 \2", str(reason), count=1)


def flag_table(
    flags: pd.DataFrame, states: pd.Series, state_labels: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the table of flagged places and its column settings.

    Parameters
    ----------
    flags : pandas.DataFrame
        The period's flagged places, best first: ``name``, ``reason``, ``category``.
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
            "Why": flags["reason"].map(short_reason).to_numpy(),
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
