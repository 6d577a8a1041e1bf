"""Where people see the impact of actions: the place panel, the Meeting slide, the review queue.

Each view takes what the loaders return (:class:`services.impact.DisclosedImpact`, already
disclosed for the reader, and the unsuppressed :class:`services.impact.ImpactFigures` only to
draw a chart through :func:`services.impact.place_chart`, which blanks small counts).
Text from the data is shown as text.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.impact import chart, places_table, pooled_table, summary_line
from services.impact import ASSOCIATION_NOTE, DisclosedImpact, ImpactFigures, place_chart
from services.safe_text import md_frame, md_text

__all__ = ["meeting_slide", "place_section", "review_evidence"]

_ICONS = {
    "fell": ":material/trending_down:",
    "rose": ":material/trending_up:",
    "no_change": ":material/trending_flat:",
}


def _verdict_box(row: pd.Series, box: object = st) -> None:
    text = f"Since the first action was done ({row['first_action']}): {row['sentence']}."
    if row["verdict"] == "fell":
        box.success(text, icon=_ICONS["fell"])  # type: ignore[attr-defined]
    elif row["verdict"] == "rose":
        box.warning(text, icon=_ICONS["rose"])  # type: ignore[attr-defined]
    else:
        box.info(text, icon=_ICONS.get(str(row["verdict"]), ":material/info:"))  # type: ignore[attr-defined]


def _counts_line(row: pd.Series, window: int) -> str:
    parts = [
        f"Incidents within 200 m: {row['before'] or 0} in the {window} months before, "
        f"{row['after'] or 0} in the {window} months after"
    ]
    if row["comparison_before"]:
        parts.append(
            f"comparable places together: {row['comparison_before']} before, "
            f"{row['comparison_after']} after"
        )
    if row["effect"]:
        parts.append(f"effect ratio {row['effect']}, p {row['p']}")
    return "; ".join(parts) + "."


def place_section(
    impact: DisclosedImpact, figures: ImpactFigures, place_id: int, *, key: str
) -> None:
    """Draw "Since the assessment" in a place's panel: verdict, chart and comparisons."""
    rows = impact.places.loc[impact.places["place_id"] == place_id]
    st.markdown("**Since the assessment: did the actions work?**")
    if rows.empty:
        st.caption("No action for this place has been done yet, so there is nothing to measure.")
        return
    row = rows.iloc[0]
    _verdict_box(row)
    line = place_chart(figures, place_id, suppressed=impact.suppressed, k=impact.k)
    if line is not None and line["place"].notna().any():
        month = str(figures.places.set_index("place_id").loc[place_id, "first_action_month"])
        st.plotly_chart(chart(line, action_month=month), width="stretch", key=f"{key}_impact")
        if impact.suppressed:
            st.caption(f"Months with fewer than {impact.k} incidents are left blank.")
    st.caption(_counts_line(row, int(figures.window)))
    if row["comparisons"]:
        st.caption(f"Compared with: {md_text(row['comparisons'])}.")
    st.caption(ASSOCIATION_NOTE)


def meeting_slide(impact: DisclosedImpact, *, presenting: bool) -> None:
    """Draw the Meeting's "Impact of actions" slide: one pooled table at a time, to fit."""
    st.markdown(summary_line(impact))
    if impact.places.empty:
        return
    by_kind, by_district = st.tabs(["By kind of action", "By district"])
    with by_kind:
        st.table(md_frame(pooled_table(impact.by_kind, "Kind of action")))
    with by_district:
        st.table(md_frame(pooled_table(impact.by_district, "District")))
    if presenting:  # the places one by one are in the pack and on the screen outside a meeting
        st.caption(ASSOCIATION_NOTE)
        return
    with st.expander("Each place"):
        st.dataframe(places_table(impact), hide_index=True, width="stretch")
    st.caption(
        f"Incidents within 200 m, {impact.window} months before and after each place's first "
        "completed action, against comparable places (a difference in differences on counts). "
        "Effect ratio: 0.60 means a fall 40% larger than at comparable places. " + ASSOCIATION_NOTE
    )


def review_evidence(impact: DisclosedImpact, place_ids: list[int]) -> None:
    """Draw, for the places whose review is due, what happened since their actions."""
    rows = impact.places.loc[impact.places["place_id"].isin(place_ids)]
    if rows.empty:
        return
    with st.expander(
        f"Evidence for the reviews: what happened since the actions ({len(rows)} place"
        f"{'s' if len(rows) != 1 else ''})",
        icon=":material/query_stats:",
    ):
        for _, row in rows.iterrows():
            st.markdown(f"**{md_text(row['place'])}** ({md_text(row['kinds'] or 'actions')})")
            _verdict_box(row)
            st.caption(_counts_line(row, impact.window))
        st.caption(ASSOCIATION_NOTE)
