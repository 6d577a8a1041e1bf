"""The meeting pack: the meeting's slides as a self-contained HTML file, a PDF and a CSV.

Every number comes from one :class:`reports.meeting.MeetingFigures`, the object the Meeting
page draws, so the pack says what the screen said. Charts and the map are PNG images drawn
by :mod:`reports.charts`; the HTML embeds them as data URIs (no script, no link out), and
the PDF is written by fpdf2 with the DejaVu Sans font that ships with matplotlib. No
Streamlit here, and no browser.

:func:`write_pack` writes the three files for the command line: each to a temporary file
first, renamed into place only when all three are complete; on a failure every file of
this pack is removed again, so nothing half-written is left.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import matplotlib
import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace

from reports.charts import emerging_map_png, trend_png
from reports.meeting import NOT_COMPARABLE, SLIDES, WORK_KEYS, Figure, MeetingFigures, figures_table
from services import reads
from services.context import ContextPicture
from services.links import LinksView
from services.safe_text import csv_bytes

__all__ = [
    "CONTEXT_KEY",
    "SLIDE_BUILDERS",
    "PackContext",
    "PackError",
    "Slide",
    "build_slide",
    "context_blocks",
    "emerging_figures",
    "pack_context",
    "pack_csv",
    "pack_html",
    "pack_pdf",
    "slides",
    "write_pack",
]

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class PackError(RuntimeError):
    """The pack could not be made; the message says why, and nothing was written."""


@dataclass(frozen=True)
class PackContext:
    """What the pack says about itself: what it shows, for whom, and how fresh.

    Attributes
    ----------
    title
        The pack's title, e.g. ``"Child exploitation steering group"``.
    filters
        The filters in words, e.g. ``"All exploitation types; all districts"``.
    freshness
        The data's freshness, e.g. ``"Incidents to 31 Oct 2026; last import 2 Nov 2026"``.
    attribution
        Sources and licences of the data and the boundaries.
    audience
        Who the figures were disclosed for, e.g. ``"Steering group (aggregates only)"``.
    generated
        When the pack was made, in words.
    """

    title: str
    filters: str
    freshness: str
    attribution: str
    audience: str
    generated: str


def pack_context(
    *,
    filters: str,
    latest: date,
    last_import: date | None,
    demo: bool,
    approximate: bool,
    audience: str,
    now: datetime,
    title: str = "Child exploitation steering group",
) -> PackContext:
    """Return what the pack says about itself, from plain facts about the data.

    Examples
    --------
    >>> c = pack_context(filters="All", latest=date(2026, 10, 31), last_import=None, demo=True,
    ...                  approximate=True, audience="Steering group", now=datetime(2026, 11, 2))
    >>> c.freshness
    'incidents to 31 Oct 2026'
    """
    attribution = (
        "Boundaries: Office for National Statistics, contains OS data © Crown copyright and "
        "database right. Postcodes: ONS Postcode Directory (Open Government Licence v3.0)."
    )
    if approximate:
        attribution += " District outlines are approximate, built from postcode centroids."
    if demo:
        attribution = "Synthetic demonstration data: no real incident is shown. " + attribution
    freshness = f"incidents to {latest:%d %b %Y}"
    if last_import is not None:
        freshness += f"; last import {last_import:%d %b %Y}"
    return PackContext(
        title=title,
        filters=filters,
        freshness=freshness,
        attribution=attribution,
        audience=audience,
        generated=f"{now:%d %b %Y %H:%M}",
    )


@dataclass(frozen=True)
class Slide:
    """One slide as the screen and the pack draw it: a title and blocks in order.

    Each block is ``("figures", (heading, list[Figure]))``, ``("text", list[str])``,
    ``("table", DataFrame)`` (drawn without its index) or ``("image", bytes)``.
    ``layout`` is ``"stack"`` (blocks one under another) or ``"side"`` (the first block
    in a narrow column beside the others, for a map that needs the slide's height).
    """

    key: str
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)
    layout: str = "stack"


def decisions(figures: MeetingFigures) -> pd.DataFrame:
    """Return the places for decision with their headings as shown."""
    shown = figures.decisions
    return pd.DataFrame(
        {
            "Rank": shown["rank"].astype(str),
            "Place": [f"{n} ({c})" for n, c in zip(shown["name"], shown["category"], strict=True)],
            "District": shown["district"],
            "Incidents": shown["incidents"],
            "Why flagged": shown["reason"],
            "Status": shown["status"],
        }
    ).reset_index(drop=True)


def district_table(figures: MeetingFigures) -> pd.DataFrame:
    """Return the district progress table with its headings as shown."""
    table = figures.districts
    mark = {"best": "Best", "worst": "Lowest", "": ""}
    return pd.DataFrame(
        {
            "District": table["district"],
            "Flagged places": table["places"],
            "Share assessed": table["share_assessed"],
            "Current": table["current"],
            "Review overdue": table["overdue_reviews"],
            "Not assessed": table["not_assessed"],
            "Actions open": table["actions_open"],
            "Actions done": table["actions_done"],
            "Actions overdue": table["actions_overdue"],
            "Best / lowest": [mark[m] for m in table["mark"]],
        }
    )


FRAMEWORK_HEADINGS: dict[str, str] = {
    "month": "Month",
    "incidents": "Incidents",
    "referrals": "Referrals",
    "flagged_places": "Flagged places",
    "flagged_assessed": "Flagged and assessed",
    "share_assessed": "Share assessed",
    "assessments_approved": "Assessments completed",
    "actions_done": "Actions done",
    "actions_overdue": "Actions overdue",
}
"""Headings of the performance framework table."""


def framework_table(figures: MeetingFigures) -> pd.DataFrame:
    """Return the performance framework with its headings as shown."""
    table = figures.framework[list(FRAMEWORK_HEADINGS)].rename(columns=FRAMEWORK_HEADINGS)
    table["Month"] = pd.PeriodIndex(table["Month"], freq="M").strftime("%b %Y")
    return table


def monthly_table(figures: MeetingFigures) -> pd.DataFrame:
    """Return the monthly counts with months as words, for under the trend chart."""
    table = figures.monthly.rename(columns={"month": "Month", "incidents": "All incidents"})
    table = table.rename(columns={"referrals": "Referrals"})
    table["Month"] = pd.PeriodIndex(table["Month"], freq="M").strftime("%b %Y")
    return table


MapPicture = Callable[[], bytes]
"""Draws the emerging hot spot map when a slide needs it (the page's is cached)."""


def _headline(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    incidents = [f for f in figures.headline if f.key not in WORK_KEYS]
    work = [f for f in figures.headline if f.key in WORK_KEYS]
    blocks: list[tuple[str, object]] = []
    if figures.empty:
        blocks.append(("text", [_empty_words(figures)]))
    for heading, items in (
        (f"Incidents: {figures.period} (whole months of data)", incidents),
        (f"The partnership's work: {figures.work_period} (to today)", work),
    ):
        before = compared_with(items)
        blocks.append(("figures", (f"{heading}, change on {before}" if before else heading, items)))
    return blocks


def _by_type(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    return [("table", figure_table(figures.by_type, figures))]


def _trends(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    chart = trend_png(figures)
    if chart is None:
        return [("text", [f"No incidents in the 12 months to {figures.period}."])]
    return [("image", chart), ("text", figures.notes)] if figures.notes else [("image", chart)]


def _monthly(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    return [("table", monthly_table(figures))]


def _districts(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    if figures.districts.empty:
        return [("text", [_empty_words(figures)])]
    return [
        ("text", [f"Flagged places in {figures.period} and the state of their assessments."]),
        ("table", district_table(figures)),
    ]


def _emerging(figures: MeetingFigures, draw_map: MapPicture) -> list[tuple[str, object]]:
    blocks: list[tuple[str, object]] = [
        ("figures", (f"Grid cells, 12 months to {figures.last_label}", emerging_figures(figures)))
    ]
    if figures.emerging_cells.empty:
        blocks.append(("text", [f"No hot spots in the 12 months to {figures.last_label}."]))
    else:
        blocks.append(("image", draw_map()))
    return blocks


def _decisions(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    table = decisions(figures)
    if table.empty:
        return [("text", ["No flagged place is waiting for an assessment."])]
    return [
        (
            "text",
            [f"The {len(table)} highest-ranked flagged places without a current assessment."],
        ),
        ("table", table),
    ]


def _framework(figures: MeetingFigures, _map: MapPicture) -> list[tuple[str, object]]:
    return [("table", framework_table(figures))]


SLIDE_BUILDERS: dict[str, Callable[[MeetingFigures, MapPicture], list[tuple[str, object]]]] = {
    "headline": _headline,
    "by_type": _by_type,
    "trends": _trends,
    "monthly": _monthly,
    "districts": _districts,
    "emerging": _emerging,
    "decisions": _decisions,
    "framework": _framework,
}
"""What each slide of :data:`reports.meeting.SLIDES` holds, for the screen, the HTML and the
PDF alike. To add a slide: add ``(key, title)`` to ``SLIDES`` and a builder here that
returns its blocks (see :class:`Slide`) from the disclosed figures; both the Meeting page
and the pack then show it. Put it in ``SIDE_LAYOUT`` when its first block goes beside a
picture."""

SIDE_LAYOUT = frozenset({"emerging"})
FLAG_SLIDES = frozenset({"headline", "districts", "decisions", "framework"})
"""The slides that count flagged places: they say first why there are none, for a wide
scope (``MeetingFigures.flags_note``)."""


def _empty_words(figures: MeetingFigures) -> str:
    return f"No incidents in this period ({figures.period}) for these filters."


def build_slide(
    key: str,
    figures: MeetingFigures,
    draw_map: MapPicture | None = None,
    *,
    links: pd.DataFrame | None = None,
    extra: dict[str, list[tuple[str, object]]] | None = None,
) -> Slide:
    """Return one slide of :data:`reports.meeting.SLIDES` with its blocks.

    Parameters
    ----------
    key
        The slide's key.
    figures
        The meeting's figures, disclosed for the viewer.
    draw_map
        Draws the emerging hot spot map (only called by the slide that shows it).
    links
        The clusters of linked places for the reader (:func:`links_table`), for the
        Links slide (they are not part of the meeting's figures).
    extra
        The blocks of slides computed elsewhere, by slide key (the impact of actions).
    """
    titles = dict(SLIDES)
    if key == "links":
        blocks = [links_block(links)]
    elif extra is not None and key in extra:
        blocks = list(extra[key])
    elif key not in SLIDE_BUILDERS:
        blocks = [("text", ["Not part of this pack."])]
    else:
        blocks = SLIDE_BUILDERS[key](figures, draw_map or (lambda: b""))
    if figures.flags_note and key in FLAG_SLIDES:
        blocks = [("text", [figures.flags_note]), *blocks]
    return Slide(key, titles[key], blocks, "side" if key in SIDE_LAYOUT else "stack")


def slides(
    figures: MeetingFigures,
    districts: gpd.GeoDataFrame,
    *,
    map_png: bytes | None = None,
    links: pd.DataFrame | None = None,
    extra: dict[str, list[tuple[str, object]]] | None = None,
) -> list[Slide]:
    """Return the pack's slides, in the order of :data:`reports.meeting.SLIDES`.

    Parameters
    ----------
    figures
        The meeting's figures.
    districts
        District outlines for the map.
    map_png
        The emerging hot spot map, when already drawn.
    links
        The clusters of linked places for the pack's reader (:func:`links_table`).
    extra
        The blocks of slides computed elsewhere, by slide key (the impact of actions,
        ``dashboard.impact.pack_blocks``).
    """

    def draw_map() -> bytes:
        return map_png or emerging_map_png(figures, districts)

    deck = [build_slide(key, figures, draw_map, links=links, extra=extra) for key, _ in SLIDES]
    if extra and extra.get(CONTEXT_KEY):  # context: its own section, after the slides
        deck.append(Slide(CONTEXT_KEY, CONTEXT_TITLE, list(extra[CONTEXT_KEY])))
    return deck


CONTEXT_KEY = "context"
"""The key of the pack's context section in ``extra`` (see :func:`context_blocks`)."""

CONTEXT_TITLE = "Context: crime of people of all ages (not child exploitation)"


def context_blocks(
    picture: ContextPicture, *, period: str, protected: bool, k: int
) -> list[tuple[str, object]]:
    """Return the pack's context section: public crime of all ages, apart from exploitation.

    ``picture`` is already read for the pack's reader (``services.context.context_picture``):
    its counts are perturbed for a role without point access. The section names the
    source and says "all ages" in its title, its first line and its table's heading; it is
    never part of the exploitation measures. Empty when no context is stored for the period.

    Examples
    --------
    >>> picture = ContextPicture("Police-recorded crime, all ages (police.uk)", 30,
    ...     pd.DataFrame({"crime_type": ["Burglary", "All types"], "events": [30, 30]}),
    ...     pd.DataFrame(), ("police.uk",))
    >>> blocks = context_blocks(picture, period="Aug-Oct 2026", protected=False, k=5)
    >>> blocks[0][1][0]
    'Police-recorded crime, all ages (police.uk), Aug-Oct 2026: 30.'
    >>> list(blocks[1][1].columns)
    ['Crime type (all ages, police.uk)', 'Crimes']
    """
    if picture.empty:
        return []
    total = picture.total if isinstance(picture.total, str) else f"{picture.total:,}"
    sources = ", ".join(picture.sources)
    lines = [
        f"{picture.label}, {period}: {total}.",
        "Public crime of people of all ages, recorded by the police. It says nothing about "
        "children and is not counted in the exploitation figures, hot spots, flags or "
        "measures of this pack.",
    ]
    if protected:
        lines.append(
            "These counts are perturbed like the others (ONS cell key method, at most "
            f"{reads.D_MAX} either way); <{k} means fewer than {k}."
        )
    table = picture.by_type.rename(
        columns={"crime_type": f"Crime type (all ages, {sources})", "events": "Crimes"}
    )
    table["Crimes"] = [v if isinstance(v, str) else f"{v:,}" for v in table["Crimes"]]
    return [("text", lines), ("table", table.reset_index(drop=True))]


def links_table(view: LinksView, district_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Return the ranked clusters of linked places as the Links slide shows them (issue 19).

    ``view`` is already fit for the reader (``services.links.links_for``): its counts are
    protected for a steering group, and it holds no pseudonym.
    """
    from geo.links import cluster_sentence

    names = district_names or {}
    clusters = view.clusters
    return pd.DataFrame(
        {
            "Rank": clusters["rank"].astype(int),
            "Cluster": [
                cluster_sentence(
                    places=int(r.places),
                    districts=int(r.districts),
                    young_people=r.young_people,
                    persons_of_concern=r.persons_of_concern,
                    first_month=r.first_month,
                    unassessed=int(r.unassessed_places),
                )
                for r in clusters.itertuples()
            ],
            "Districts": [
                ", ".join(names.get(c, c) for c in str(codes).split(";") if c)
                for codes in clusters["district_codes"]
            ],
            "Possible county line": clusters["crosses_districts"].map({True: "yes", False: ""}),
        }
    ).head(10)


def links_block(links: pd.DataFrame | None) -> tuple[str, object]:
    """Return the Links slide's block: the clusters, or a sentence when there are none."""
    if links is None or links.empty:
        return ("text", ["No links between places in this period that this audience may see."])
    return ("table", links)


def emerging_figures(figures: MeetingFigures) -> list[Figure]:
    """Return the number of grid cells in each emerging category, as figures to show."""
    return [
        Figure(f"emerging:{name}", f"{name} hot spot cells", f"{n:,}")
        for name, n in figures.emerging.items()
    ]


def change_words(fig: Figure, figures: MeetingFigures, *, compared: str = "") -> str:
    """Return a figure's change in words, e.g. ``"+3 (+20%) on Jun-Aug 2026"``.

    ``compared`` is the period a group of figures is compared with, said once in the
    group's heading: a figure compared with that period gets its change alone.
    """
    if not fig.change_previous:
        return ""
    if fig.change_previous == NOT_COMPARABLE:
        return NOT_COMPARABLE
    before = (fig.previous_period or figures.previous).removeprefix("at ")
    if not before or before == compared:
        return fig.change_previous
    return f"{fig.change_previous} on {before}"


def compared_with(items: list[Figure]) -> str:
    """Return the period most of these figures are compared with (for a group's heading)."""
    periods = [f.previous_period for f in items if f.previous_period]
    return max(set(periods), key=periods.count) if periods else ""


def figure_table(items: list[Figure], figures: MeetingFigures) -> pd.DataFrame:
    """Return headline figures as a table: the period, the one before, a year before."""
    return pd.DataFrame(
        {
            "Measure": [f.label for f in items],
            figures.period: [f.value for f in items],
            figures.previous: [f.previous for f in items],
            "Change": [f.change_previous for f in items],
            figures.year_ago: [f.year_ago for f in items],
            "Change on a year": [f.change_year for f in items],
        }
    )


def _notes(figures: MeetingFigures, context: PackContext) -> list[str]:
    lines = [
        "Slides: " + "; ".join(f"{n}. {title}" for n, (_, title) in enumerate(SLIDES, start=1)),
        f"Period: {figures.period}, compared with {figures.previous} and {figures.year_ago}.",
        f"Filters: {context.filters}.",
        f"Data: {context.freshness}.",
        f"Prepared for: {context.audience}. Made {context.generated}.",
    ]
    if figures.suppressed:
        lines.append(reads.note(figures.k))
    lines.append(context.attribution)
    return lines


# HTML -----------------------------------------------------------------------------------

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#111;margin:0;background:#fff}
section{page-break-after:always;padding:32px 48px;border-bottom:4px solid #1f4e79}
h1{font-size:34px;margin:0 0 12px}h2{font-size:30px;margin:0 0 18px;color:#1f4e79}
.figures{display:flex;flex-wrap:wrap;gap:16px;margin-bottom:20px}
.group{font-size:18px;font-weight:bold;margin:8px 0}
.side{display:flex;gap:24px;align-items:flex-start}.side>div:first-child{flex:0 0 260px}
.figure{border:2px solid #1f4e79;border-radius:8px;padding:12px 18px;min-width:190px}
.figure .label{font-size:16px}.figure .value{font-size:40px;font-weight:bold}
.figure .change{font-size:14px;color:#333}
table{border-collapse:collapse;font-size:15px;margin:12px 0}
th,td{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e8eef5}img{max-width:100%}p{font-size:16px}.notes p{font-size:13px}
"""


def _figures_html(content: tuple[str, list[Figure]], figures: MeetingFigures) -> str:
    heading, items = content
    cards = []
    for fig in items:
        changes = [change_words(fig, figures)] if fig.change_previous else []  # said in full
        if fig.change_year and fig.change_year != NOT_COMPARABLE:
            changes.append(f"{fig.change_year} on {fig.year_period or figures.year_ago}")
        cards.append(
            '<div class="figure">'
            f'<div class="label">{html.escape(fig.label)}</div>'
            f'<div class="value">{html.escape(fig.value)}</div>'
            f'<div class="change">{html.escape("; ".join(changes))}</div></div>'
        )
    group = f'<div class="group">{html.escape(heading)}</div>' if heading else ""
    return f'{group}<div class="figures">{"".join(cards)}</div>'


def _block_html(kind: str, content: object, figures: MeetingFigures, title: str) -> list[str]:
    if kind == "figures":
        return [_figures_html(content, figures)]  # type: ignore[arg-type]
    if kind == "text":
        return [f"<p>{html.escape(line)}</p>" for line in content]  # type: ignore[attr-defined]
    if kind == "table":
        return [content.to_html(index=False, escape=True, border=0)]  # type: ignore[attr-defined]
    data = base64.b64encode(content).decode()  # type: ignore[arg-type]
    return [f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">']


def pack_html(figures: MeetingFigures, context: PackContext, deck: list[Slide]) -> str:
    """Return the pack as one self-contained HTML document (images inline, no scripts)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(context.title)}: {html.escape(figures.period)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<section><h1>{html.escape(context.title)}</h1><h2>{html.escape(figures.period)}</h2>",
        '<div class="notes">',
        *(f"<p>{html.escape(line)}</p>" for line in _notes(figures, context)),
        "</div></section>",
    ]
    for number, slide in enumerate(deck, start=1):
        parts.append(f"<section><h2>{number}. {html.escape(slide.title)}</h2>")
        blocks = [_block_html(k, c, figures, slide.title) for k, c in slide.blocks]
        if slide.layout == "side" and len(blocks) > 1:
            rest = "".join(line for block in blocks[1:] for line in block)
            first = "".join(blocks[0])
            parts.append(f'<div class="side"><div>{first}</div><div>{rest}</div></div>')
        else:
            parts.extend(line for block in blocks for line in block)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


# PDF ------------------------------------------------------------------------------------


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.footer_text = footer_text
        self.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=14)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 5, f"{self.footer_text}   Page {self.page_no()}", align="R")


_WIDTHS: dict[str, tuple[float, ...]] = {
    "Measure": (3.2, 1, 1, 1.3, 1, 1.3),
    "District": (2.2, 1, 1, 1, 1, 1, 1, 1, 1, 0.8),
    "Rank": (13, 62, 40, 20, 98, 44),
}


def _pdf_table(pdf: _Pdf, table: pd.DataFrame) -> None:
    size = 10 if len(table.columns) <= 9 else 9
    pdf.set_font("DejaVu", "", size)
    widths = _WIDTHS.get(str(table.columns[0]))
    if "Why flagged" in table.columns:
        size = 9
        pdf.set_font("DejaVu", "", size)
    with pdf.table(
        col_widths=widths,
        headings_style=FontFace(emphasis="BOLD", fill_color=(232, 238, 245)),
        line_height=size * 0.5,
        text_align="LEFT",
    ) as grid:
        grid.row([str(c) for c in table.columns])
        for values in table.astype(str).itertuples(index=False):
            grid.row(list(values))
    pdf.ln(3)


def _pdf_figures(pdf: _Pdf, content: tuple[str, list[Figure]], figures: MeetingFigures) -> None:
    heading, items = content
    if heading:
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
    across = 5
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / across
    top = pdf.get_y()
    for i, fig in enumerate(items):
        if i % across == 0:
            top = pdf.get_y() + (22 if i else 0)
        x = pdf.l_margin + (i % across) * width
        pdf.set_xy(x, top)
        pdf.set_font("DejaVu", "", 10)
        pdf.cell(width - 4, 5, fig.label)
        pdf.set_xy(x, top + 5)
        pdf.set_font("DejaVu", "B", 22)
        pdf.cell(width - 4, 10, fig.value)
        pdf.set_xy(x, top + 15)
        pdf.set_font("DejaVu", "", 7)
        pdf.cell(width - 4, 4, change_words(fig, figures))
    pdf.set_xy(pdf.l_margin, top + 24)


def image_box(pixels: tuple[int, int], room: tuple[float, float]) -> tuple[float, float]:
    """Return the width and height (mm) of a picture drawn as large as fits the room.

    The picture keeps its shape and never passes the room's width or height, so no part
    of a chart (its last months, its labels) falls off the page.

    Examples
    --------
    >>> image_box((1210, 506), (277.0, 150.0))
    (277.0, 115.8...)
    >>> image_box((990, 990), (277.0, 150.0))
    (150.0, 150.0)
    """
    width, height = pixels
    scale = min(room[0] / width, room[1] / height)
    return width * scale, height * scale


def _pdf_image(pdf: _Pdf, content: bytes) -> None:
    from PIL import Image

    pixels = Image.open(io.BytesIO(content)).size
    room = pdf.h - pdf.get_y() - 16
    if room < 60:
        pdf.add_page()
        room = pdf.h - pdf.get_y() - 16
    across = pdf.w - pdf.l_margin - pdf.r_margin
    w, h = image_box(pixels, (across, min(room, 150)))
    pdf.image(io.BytesIO(content), x=pdf.l_margin + (across - w) / 2, w=w, h=h)
    pdf.ln(2)


def pack_pdf(figures: MeetingFigures, context: PackContext, deck: list[Slide]) -> bytes:
    """Return the pack as a PDF: a cover page, then one or more pages per slide."""
    pdf = _Pdf(f"{context.title}: {figures.period}")
    pdf.set_title(f"{context.title}: {figures.period}")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 26)
    pdf.multi_cell(0, 12, context.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 20)
    pdf.multi_cell(0, 10, figures.period, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 11)
    for line in _notes(figures, context):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    for number, slide in enumerate(deck, start=1):
        pdf.add_page()
        pdf.set_font("DejaVu", "B", 20)
        pdf.cell(0, 12, f"{number}. {slide.title}", new_x="LMARGIN", new_y="NEXT")
        for kind, content in slide.blocks:
            if kind == "figures":
                _pdf_figures(pdf, content, figures)  # type: ignore[arg-type]
            elif kind == "text":
                pdf.set_font("DejaVu", "", 11)
                for line in content:  # type: ignore[attr-defined]
                    pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
            elif kind == "table":
                _pdf_table(pdf, content)  # type: ignore[arg-type]
            elif kind == "image":
                _pdf_image(pdf, content)  # type: ignore[arg-type]
    return bytes(pdf.output())


def pack_csv(
    figures: MeetingFigures,
    links: pd.DataFrame | None = None,
    extra: dict[str, list[tuple[str, object]]] | None = None,
) -> bytes:
    """Return every number of the meeting as CSV (UTF-8 with a byte order mark, for Excel).

    ``links`` (:func:`links_table`, when given) adds the Links slide's rows: how many
    clusters the reader may see, and each cluster's summary by its rank. ``extra`` are the
    blocks of slides computed elsewhere (see :func:`slides`): each cell of their tables
    becomes a row (``measure`` is the row's first cell and the column), and each line of
    their text a ``note``.
    """
    table = figures_table(figures)
    rows: list[tuple[str, str, str, str]] = []
    if links is not None:
        rows.append(("links", "clusters", figures.period, str(len(links))))
        rows.extend(
            ("links", f"cluster ranked {rank}", figures.period, str(text))
            for rank, text in zip(links["Rank"], links["Cluster"], strict=True)
        )
    for key, blocks in (extra or {}).items():
        for kind, content in blocks:
            if kind == "table":
                frame = content.astype(str)  # type: ignore[attr-defined]
                for record in frame.itertuples(index=False):
                    for column, value in zip(frame.columns[1:], record[1:], strict=True):
                        rows.append((key, f"{record[0]}: {column}", figures.period, value))
            elif kind == "text":
                rows.extend((key, "note", figures.period, line) for line in content)  # type: ignore[attr-defined]
    if rows:
        table = pd.concat([table, pd.DataFrame(rows, columns=table.columns)], ignore_index=True)
    return csv_bytes(table)


def write_pack(
    figures: MeetingFigures,
    context: PackContext,
    districts: gpd.GeoDataFrame,
    folder: Path,
    *,
    stem: str = "meeting-pack",
    links: pd.DataFrame | None = None,
    extra: dict[str, list[tuple[str, object]]] | None = None,
) -> list[Path]:
    """Write ``stem``.html, ``stem``.pdf and ``stem``.csv into a folder, all or nothing.

    Raises
    ------
    PackError
        When a file cannot be made or written; no file of the pack is left behind.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PackError(f"There is no folder {folder} to write the meeting pack into.")
    try:
        deck = slides(figures, districts, links=links, extra=extra)
        contents = {
            "html": pack_html(figures, context, deck).encode("utf-8"),
            "pdf": pack_pdf(figures, context, deck),
            "csv": pack_csv(figures, links, extra),
        }
    except Exception as error:  # a drawing or layout failure: report it, write nothing
        raise PackError(
            f"The meeting pack could not be made ({error}); nothing was written."
        ) from error
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for suffix, data in contents.items():
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".part")
            staged.append((Path(temporary), folder / f"{stem}.{suffix}"))
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
        for part, final in staged:
            os.replace(part, final)
            placed.append(final)
    except OSError as error:
        for path in [*(t for t, _ in staged), *placed]:
            path.unlink(missing_ok=True)
        raise PackError(
            f"The meeting pack could not be written to {folder} ({error.strerror or error}); "
            "nothing was written."
        ) from error
    return [final for _, final in staged]
