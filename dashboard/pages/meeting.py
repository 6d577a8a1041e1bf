"""Meeting: the steering group's slides on a shared screen, and the pack to send after."""

from datetime import date, datetime
from typing import cast

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from dashboard import auth, impact, impact_views, loaders, sidebar
from dashboard.downloads import audited_download
from dashboard.session import current_audience, current_viewer
from reports import pack
from reports.meeting import NOT_COMPARABLE, SLIDES, Figure, MeetingFigures, figures_table
from services import reads
from services.access import ROLES, AccessDenied
from services.safe_text import csv_bytes, md_frame, md_text

PRESENT_STYLE = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stExpandSidebarButton"] {display: none !important;}
/* Type and spacing follow the screen's height: every slide fits 1366x768 and 1920x1080. */
html {font-size: clamp(12px, 2.05vh, 26px) !important;}
.block-container, [data-testid="stMainBlockContainer"] {padding: 0.6rem 2rem 0.4rem !important;
  max-width: 100% !important;}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {gap: 0.55rem;}
[data-testid="stMetricValue"] {font-size: 2.6rem !important; font-weight: 700;}
[data-testid="stMetricLabel"] p {font-size: 1.05rem !important;}
[data-testid="stMetricDelta"] {font-size: 0.95rem !important;}
[data-testid="stMetric"] {padding: 0.5rem 0.8rem !important;}
[data-testid="stTable"] td, [data-testid="stTable"] th {font-size: 0.95rem !important;
  padding: 0.22rem 0.5rem !important; line-height: 1.3 !important;}
h2 {font-size: 1.9rem !important; padding: 0.2rem 0 0.3rem !important;}
p, li {font-size: 1.05rem;}
.st-key-slide_picture img {max-height: 58vh !important; width: auto !important;
  max-width: 100% !important; object-fit: contain;}
.st-key-slide_side .st-key-slide_picture img {max-height: 76vh !important;}
</style>
"""
SCREEN_STYLE = """
<style>
.st-key-slide_picture img {max-height: 560px; width: auto !important; max-width: 100%;}
</style>
"""
KEYS_SCRIPT = """
<script>
(() => {
  // F enters or leaves presenting, Esc leaves; Present asks the browser for full screen
  // (inside the click or key press, as browsers require), and leaving full screen by the
  // browser's own Esc leaves presenting too.
  if (window.__saferMeetingKeys) return;
  window.__saferMeetingKeys = true;
  const button = (key) => document.querySelector(`.st-key-${key} button`);
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element)) return;
    if (event.target.closest(".st-key-meeting_present")) {
      const page = document.documentElement;
      if (!document.fullscreenElement && page.requestFullscreen) {
        page.requestFullscreen().catch(() => {});
      }
    } else if (event.target.closest(".st-key-meeting_leave") && document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    }
  }, true);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    const present = button("meeting_present");
    const leave = button("meeting_leave");
    if (event.key === "f" || event.key === "F") {
      const which = present || leave;
      if (which) { event.preventDefault(); which.click(); }
    } else if (event.key === "Escape" && leave) {
      event.preventDefault();
      leave.click();
    }
  });
  document.addEventListener("fullscreenchange", () => {
    const leave = button("meeting_leave");
    if (!document.fullscreenElement && leave) leave.click();
  });
})();
</script>
"""
UP_IS_BAD = {"incidents", "referrals", "flagged_places", "actions_overdue", "reviews_due"}
UP_IS_BAD |= {"new_hot_spots", "intensifying_hot_spots"}


def step(by: int) -> None:
    """Move to the slide before or after, staying within the deck."""
    here = st.session_state.get("meeting_slide", 0)
    st.session_state["meeting_slide"] = min(max(here + by, 0), len(SLIDES) - 1)


def present(on: bool) -> None:
    """Enter or leave presentation mode (full screen, no sidebar, large type)."""
    st.session_state["presenting"] = on


def show_figures(heading: str, items: list[Figure], figures: MeetingFigures) -> None:
    """Draw headline figures as large metrics in one row, with the change on the period before."""
    if heading:
        st.markdown(f"**{heading}**")
    before = pack.compared_with(items)
    row = st.columns(max(len(items), 4))
    for box, fig in zip(row, items, strict=False):
        plain = fig.change_previous == NOT_COMPARABLE
        box.metric(
            fig.label,
            fig.value,
            pack.change_words(fig, figures, compared=before) or None,
            delta_color="off" if plain else "inverse" if fig.key in UP_IS_BAD else "normal",
            delta_arrow="off" if plain else "auto",
            help=f"{fig.year_period or figures.year_ago}: {fig.year_ago}"
            if fig.year_ago != "n/a"
            else None,
            border=True,
        )


def context_section(audience, scope, first: str, last: str, version: str) -> None:
    """Show police-recorded crime (all ages) as context, apart from the exploitation figures."""
    picture, _ = loaders.context_picture(audience, scope, first, last, (), version)
    if picture.empty:
        return
    with st.container(border=True, key="meeting_context"):
        total = picture.total if isinstance(picture.total, str) else f"{picture.total:,}"
        st.markdown(f"**Context: {picture.label}**")
        st.caption(
            "Public crime of people of all ages. It says nothing about children and is not "
            "part of the exploitation figures above."
        )
        st.metric(f"{picture.label}, {first} to {last}", total)
        shown = picture.by_type.iloc[:-1]
        top = shown.assign(n=pd.to_numeric(shown["events"], errors="coerce")).nlargest(5, "n")
        heading = "Most frequent crime types (all ages)"
        st.table(
            top[["crime_type", "events"]]
            .rename(columns={"crime_type": heading, "events": "Crimes"})
            .astype(str)
            .set_index(heading)
        )


def highlight(table: pd.DataFrame) -> Styler:
    """Colour the best district green and the lowest red."""
    colours = {"Best": "background-color: #d9f0d3", "Lowest": "background-color: #f8d7da"}
    return table.style.apply(lambda row: [colours.get(row.iloc[-1], "")] * len(row), axis=1)


def show_block(kind: str, content: object, figures: MeetingFigures) -> None:
    """Draw one block of a slide (see :class:`reports.pack.Slide`)."""
    if kind == "figures":
        heading, items = cast(tuple[str, list[Figure]], content)
        show_figures(heading, items, figures)
    elif kind == "text":
        lines = [md_text(line) for line in content]  # type: ignore[attr-defined]
        st.markdown("\n".join(f"- {line}" for line in lines) if len(lines) > 1 else lines[0])
    elif kind == "table":
        shown = md_frame(content)  # type: ignore[arg-type]
        table = shown if "Lowest" not in set(shown.iloc[:, -1]) else highlight(shown)
        st.table(table, hide_index=True)
    elif kind == "image":
        with st.container(key="slide_picture"):
            st.image(content)  # type: ignore[arg-type]


def show_slide(slide: pack.Slide, figures: MeetingFigures) -> None:
    """Draw a slide's blocks, the first beside the rest for a side layout."""
    if slide.layout == "side" and len(slide.blocks) > 1:
        with st.container(key="slide_side"):
            left, right = st.columns([1, 3], vertical_alignment="top")
            with left:
                kind, content = slide.blocks[0]
                if kind == "figures":
                    heading, items = cast(tuple[str, list[Figure]], content)
                    st.markdown(f"**{heading}**")
                    for fig in items:
                        st.metric(fig.label, fig.value, border=True)
                else:
                    show_block(kind, content, figures)
            with right:
                for kind, content in slide.blocks[1:]:
                    show_block(kind, content, figures)
        return
    for kind, content in slide.blocks:
        show_block(kind, content, figures)


viewer = current_viewer()
version = loaders.data_version()
filters = sidebar.current()
latest = loaders.latest_date(version)
today = date.today()
names = loaders.district_names(version)
audience = current_audience()
try:
    scope = audience.scope(filters.districts)
except AccessDenied as refusal:
    st.error(md_text(refusal), icon=":material/block:")
    st.stop()

choice = loaders.meeting_choice(audience, scope, filters, today, version)
first, last = choice[5]
index = min(st.session_state.get("meeting_slide", 0), len(SLIDES) - 1)
key, title = SLIDES[index]
# The framework (a flagging per month) is computed only for its slide and for the pack.
figures = loaders.meeting(*choice, framework=key == "framework")
presenting = bool(st.session_state.get("presenting"))
st.html(PRESENT_STYLE if presenting else SCREEN_STYLE)
st.html(KEYS_SCRIPT, unsafe_allow_javascript=True)
if not presenting:
    st.title("Steering group summary")

bar = st.columns([1, 1, 5, 1.6], vertical_alignment="center")
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
with bar[2].container(key="meeting_counter"):
    st.markdown(f"**{index + 1} / {len(SLIDES)}** · {figures.period}")
bar[3].button(
    "Leave full screen (Esc)" if presenting else "Present full screen (F)",
    key="meeting_leave" if presenting else "meeting_present",
    icon=":material/close_fullscreen:" if presenting else ":material/slideshow:",
    on_click=present,
    args=(not presenting,),
    type="secondary" if presenting else "primary",
    width="stretch",
)

st.header(title)
if key == "impact":  # drawn by its own view (a chart beside the tables)
    impact_views.meeting_slide(
        loaders.impact_for(audience, scope, version), presenting=presenting
    )
else:
    links = (
        pack.links_table(loaders.mace_links(audience, first, last, None, version))
        if key == "links"
        else None
    )
    slide = pack.build_slide(
        key, figures, lambda: loaders.meeting_map(figures, choice, version), links=links
    )
    show_slide(slide, figures)
if key == "headline":
    context_section(audience, scope, first, last, version)
if key == "framework":
    framework = pack.framework_table(figures)
    audited_download(
        "Download the performance framework (CSV)",
        lambda: csv_bytes(framework),
        engine=loaders.engine(),
        viewer=viewer,
        entity="performance framework",
        file_name=f"performance-framework-{last}.csv",
        mime="text/csv",
        key="framework_csv",
        detail={"districts": list(scope), "period": figures.period, "format": "csv"},
        origin=auth.origin(),
        icon=":material/download:",
    )
if figures.suppressed:  # on a shared screen the short form: perturbed, by how much, "<k"
    st.caption(reads.legend(audience, short=presenting))
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
                links = pack.links_table(
                    loaders.mace_links(audience, first, last, None, version)
                )
                extra = {
                    "impact": impact.pack_blocks(
                        loaders.impact_for(audience, scope, version)
                    )
                }
                crime, _ = loaders.context_picture(
                    audience, scope, first, last, (), version
                )  # context (all ages): its own section, never in the exploitation measures
                extra[pack.CONTEXT_KEY] = pack.context_blocks(
                    crime, period=figures.period, protected=figures.suppressed, k=figures.k
                )
                deck = pack.slides(
                    figures,
                    loaders.districts_for(audience, version, scope),
                    map_png=None
                    if figures.emerging_cells.empty
                    else loaders.meeting_map(figures, choice, version),
                    links=links,
                    extra=extra,
                )
                st.session_state["meeting_pack"] = {
                    "html": pack.pack_html(figures, context, deck).encode("utf-8"),
                    "pdf": pack.pack_pdf(figures, context, deck),
                    "csv": pack.pack_csv(figures, links, extra),
                    "stem": f"meeting-pack-{first}-to-{last}",
                    "for": (scope, filters, first, last),
                }
        except Exception as error:
            st.session_state.pop("meeting_pack", None)
            st.error(
                f"The pack could not be made ({md_text(error)}). Nothing was saved; try again, "
                "or tell your data officer if it keeps failing.",
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
            audited_download(
                words,
                lambda data=made[kind]: data,  # type: ignore[misc]
                engine=loaders.engine(),
                viewer=viewer,
                entity="meeting pack",
                file_name=f"{made['stem']}.{kind}",
                mime=mime,
                key=f"pack_{kind}",
                detail={"districts": list(scope), "period": figures.period, "format": kind},
                origin=auth.origin(),
                container=box,
                icon=":material/download:",
            )
    with st.expander("Every figure of this meeting"):
        st.dataframe(figures_table(figures), hide_index=True, width="stretch")
