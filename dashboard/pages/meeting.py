"""Meeting: the steering group's slides on a shared screen, and the pack to send after."""

from datetime import date, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard import impact, impact_views, loaders, pack, sidebar
from dashboard.session import current_viewer, disclosure_threshold
from store.access import ROLES, AccessDenied
from store.disclosure import legend
from store.meeting import SLIDES, Figure, MeetingFigures, figures_table

PRESENT_STYLE = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stExpandSidebarButton"] {display: none !important;}
.block-container, [data-testid="stMainBlockContainer"] {padding: 1.2rem 2.5rem !important;
  max-width: 100% !important;}
[data-testid="stMetricValue"] {font-size: 3.4rem !important; font-weight: 700;}
[data-testid="stMetricLabel"] p {font-size: 1.35rem !important;}
[data-testid="stMetricDelta"] {font-size: 1.1rem !important;}
[data-testid="stTable"] td, [data-testid="stTable"] th {font-size: 1.2rem !important;}
h1 {font-size: 2.8rem !important;} h2 {font-size: 2.2rem !important;}
p, li {font-size: 1.25rem;}
</style>
"""
UP_IS_BAD = {"incidents", "referrals", "flagged_places", "actions_overdue"}
UP_IS_BAD |= {"new_hot_spots", "intensifying_hot_spots"}


def step(by: int) -> None:
    """Move to the slide before or after, staying within the deck."""
    here = st.session_state.get("meeting_slide", 0)
    st.session_state["meeting_slide"] = min(max(here + by, 0), len(SLIDES) - 1)


def present(on: bool) -> None:
    """Enter or leave presentation mode (full screen, no sidebar, large type)."""
    st.session_state["presenting"] = on


def show_figures(items: list[Figure], figures: MeetingFigures, *, columns: int = 4) -> None:
    """Draw headline figures as large metrics, with the change on the period before."""
    for start in range(0, len(items), columns):
        row = st.columns(columns)
        for box, fig in zip(row, items[start : start + columns], strict=False):
            box.metric(
                fig.label,
                fig.value,
                f"{fig.change_previous} on {figures.previous}" if fig.change_previous else None,
                delta_color="inverse" if fig.key in UP_IS_BAD else "normal",
                help=f"{figures.year_ago}: {fig.year_ago}" if fig.year_ago != "n/a" else None,
                border=True,
            )


def trend_chart(figures: MeetingFigures, big: bool) -> go.Figure:
    """Incidents and referrals by month, with the notable months marked."""
    monthly = figures.monthly
    months = pd.PeriodIndex(monthly["month"], freq="M").to_timestamp()
    chart = go.Figure()
    for column, name, colour in (
        ("incidents", "Incidents", "#1f4e79"),
        ("referrals", "Referrals", "#c55a11"),
    ):
        values = pd.to_numeric(monthly[column].astype(str).str.replace(",", ""), errors="coerce")
        chart.add_scatter(
            x=months,
            y=values,
            name=name,
            mode="lines+markers",
            line={"width": 4, "color": colour},
            marker={"size": 10},
        )
        if column == "incidents":
            where = dict(zip(monthly["month"], zip(months, values, strict=True), strict=True))
            for month, mark in figures.marks:
                x, y = where[month]
                chart.add_annotation(x=x, y=y, text=mark, showarrow=True, arrowhead=2, ay=-40)
    chart.update_layout(
        font_size=22 if big else 16,
        height=520 if big else 420,
        legend={"orientation": "h", "y": 1.1},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"rangemode": "tozero", "title": None},
    )
    return chart


def highlight(table: pd.DataFrame) -> Styler:
    """Colour the best district green and the lowest red."""
    colours = {"Best": "background-color: #d9f0d3", "Lowest": "background-color: #f8d7da"}
    return table.style.apply(lambda row: [colours.get(row.iloc[-1], "")] * len(row), axis=1)


viewer = current_viewer()
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
today = date.today()
names = loaders.district_names(version)
k = disclosure_threshold(version)
try:
    scope = viewer.scope(filters.districts)
except AccessDenied as refusal:
    st.error(str(refusal), icon=":material/block:")
    st.stop()

first, last = filters.months(latest)
choice = loaders.meeting_choice(viewer, scope, filters, k, today, version)
index = st.session_state.get("meeting_slide", 0)
key, title = SLIDES[index]
# The framework (a flagging per month) is computed only for its slide and for the pack.
figures = loaders.meeting(*choice, framework=key == "framework")
presenting = bool(st.session_state.get("presenting"))
if presenting:
    st.html(PRESENT_STYLE)
if not presenting:
    st.title("Steering group summary")

bar = st.columns([1, 1, 5, 1.4], vertical_alignment="center")
bar[0].button(
    "Previous",
    icon=":material/arrow_back:",
    on_click=step,
    args=(-1,),
    disabled=index == 0,
    shortcut="Left",
    width="stretch",
)
bar[1].button(
    "Next",
    icon=":material/arrow_forward:",
    on_click=step,
    args=(1,),
    disabled=index == len(SLIDES) - 1,
    shortcut="Right",
    width="stretch",
)
bar[2].markdown(f"#### {figures.period} · slide {index + 1} of {len(SLIDES)}")
bar[3].button(
    "Leave full screen" if presenting else "Present full screen",
    icon=":material/close_fullscreen:" if presenting else ":material/slideshow:",
    on_click=present,
    args=(not presenting,),
    type="secondary" if presenting else "primary",
    width="stretch",
)

st.header(title)
empty_note = f"No incidents in this period ({figures.period}) for these filters."
if key == "headline":
    if figures.empty:
        st.info(empty_note, icon=":material/info:")
    show_figures(figures.headline, figures)
    st.table(pack.figure_table(figures.by_type, figures))
elif key == "trends":
    if figures.monthly[["incidents", "referrals"]].astype(str).isin(["0"]).all().all():
        st.info(f"No incidents in the 12 months to {figures.period}.", icon=":material/info:")
    else:
        st.plotly_chart(trend_chart(figures, presenting), width="stretch", key="meeting_trend")
        for note in figures.notes:
            st.markdown(f"- {note}")
    st.table(pack.monthly_table(figures))
elif key == "districts":
    st.caption("Flagged places in the period and the state of their assessments.")
    st.table(highlight(pack.district_table(figures)))
elif key == "emerging":
    show_figures(pack.emerging_figures(figures), figures)
    if figures.emerging_cells.empty:
        st.info(f"No hot spots in the 12 months to {figures.period}.", icon=":material/info:")
    else:
        picture = loaders.meeting_map(figures, choice, version)
        st.image(picture, width=720 if presenting else 560)
elif key == "decisions":
    table = pack.decisions(figures)
    if table.empty:
        st.info("No flagged place is waiting for an assessment.", icon=":material/info:")
    else:
        st.caption(f"The {len(table)} highest-ranked flagged places without a current assessment.")
        st.table(table)
elif key == "framework":
    framework = pack.framework_table(figures)
    st.table(framework)
    st.download_button(
        "Download the performance framework (CSV)",
        framework.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"performance-framework-{last}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
elif key == "impact":
    impact_views.meeting_slide(
        loaders.impact_for(viewer.for_cache(), scope, k, version), presenting=presenting
    )
if figures.suppressed:
    st.caption(legend(k))
if presenting and loaders.demo(version) is not None:
    st.caption("Synthetic demonstration data: no real incident, place or assessment is shown.")

if not presenting:
    st.divider()
    st.subheader("Export the pack")
    st.caption(
        "The same slides as a web page and a PDF to attach to the minutes, and every figure "
        "as a spreadsheet (CSV)."
    )
    if st.button("Export pack", icon=":material/file_export:"):
        batches = loaders.import_batches(version)
        context = pack.pack_context(
            filters=filters.describe(names),
            latest=latest,
            last_import=None if batches.empty else pd.Timestamp(batches["created_at"].max()),
            demo=loaders.demo(version) is not None,
            approximate=loaders.districts(version)["source"].str.contains("pprox").any(),
            audience=f"{ROLES[viewer.role]} ({viewer.username})",
            now=datetime.now(),
        )
        try:
            with st.spinner("Making the pack..."):
                figures = loaders.meeting(*choice, framework=True)
                extra = {
                    "impact": impact.pack_blocks(
                        loaders.impact_for(viewer.for_cache(), scope, k, version)
                    )
                }
                deck = pack.slides(
                    figures,
                    loaders.districts(version).loc[lambda d: d["code"].isin(scope)],
                    map_png=None
                    if figures.emerging_cells.empty
                    else loaders.meeting_map(figures, choice, version),
                    extra=extra,
                )
                st.session_state["meeting_pack"] = {
                    "html": pack.pack_html(figures, context, deck).encode("utf-8"),
                    "pdf": pack.pack_pdf(figures, context, deck),
                    "csv": pack.pack_csv(figures, extra),
                    "stem": f"meeting-pack-{first}-to-{last}",
                    "for": (scope, filters, first, last),
                }
        except Exception as error:
            st.session_state.pop("meeting_pack", None)
            st.error(
                f"The pack could not be made ({error}). Nothing was saved; try again, or tell "
                "your data officer if it keeps failing.",
                icon=":material/error:",
            )
    made = st.session_state.get("meeting_pack")
    if made and made["for"] == (scope, filters, first, last):
        files = st.columns(3)
        for box, (kind, mime, words) in zip(
            files,
            (
                ("html", "text/html", "Web page (HTML)"),
                ("pdf", "application/pdf", "PDF"),
                ("csv", "text/csv", "Figures (CSV)"),
            ),
            strict=True,
        ):
            box.download_button(
                words,
                made[kind],
                file_name=f"{made['stem']}.{kind}",
                mime=mime,
                icon=":material/download:",
                key=f"pack_{kind}",
            )
    with st.expander("Every figure of this meeting"):
        st.dataframe(figures_table(figures), hide_index=True, width="stretch")
