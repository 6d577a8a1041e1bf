"""A printable assessment: one place assessment as a PDF (issue 23).

The PDF holds the place, the triangle findings, the risk, the goals, the actions with
their owners, the photos from the visit and the history of the place's assessments. It
is written by fpdf2 with the DejaVu Sans font, as the meeting pack is
(``reports/pack.py``), and every piece of text goes in as text: a name holding
markup or a formula prints as typed, never as formatting or a link.

What a paper copy holds cannot be taken back, so the same check that stops personal
details before an assessment is submitted (``services.text_checks``) runs on every free
text printed, and what it finds is replaced by ``[withheld: <kind>]``. The record is
read through the assessment's own access rules (``services.assessments``,
``services.evidence``): whoever may open the assessment on screen may print it, nobody
else; it holds no incident counts, so nothing more is disclosed than on screen.
:func:`assessment_pdf` draws from values only (no database, no Streamlit);
:func:`assessment_pdf_for` gathers them for one viewer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import matplotlib
import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace

from services import assessments as svc
from services import evidence as evidence_store
from services.access import Viewer
from services.text_checks import find_personal
from store.db import Engine
from store.vocabulary import (
    ACTION_KINDS,
    ACTION_STATUSES,
    ASSESSMENT_STATUSES,
    CHECKLIST,
    DOMAINS,
    PLACE_CATEGORIES,
    RISK_LEVELS,
    label,
)

__all__ = ["assessment_pdf", "assessment_pdf_for", "withhold_personal"]

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_HEAD = FontFace(emphasis="BOLD", fill_color=(232, 238, 245))


def withhold_personal(text: str | None) -> str:
    """Return a text with every span of personal detail replaced by ``[withheld: kind]``.

    Examples
    --------
    >>> withhold_personal("Bins full; call 07700 900123 after 6pm")
    'Bins full; call [withheld: phone number] after 6pm'
    >>> withhold_personal("Two lamps out by the gate")
    'Two lamps out by the gate'
    """
    text = text or ""
    out, last = [], 0
    for span in find_personal(text):
        out.append(text[last : span.start])
        out.append(f"[withheld: {span.kind}]")
        last = span.end
    out.append(text[last:])
    return "".join(out)


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=16)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 7.5)
        self.cell(0, 5, f"{self.footer_text}   Page {self.page_no()}/{{nb}}", align="R")

    def heading(self, words: str, size: float = 13) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(2)
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.55, words, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def para(self, words: str, size: float = 10) -> None:
        self.set_font("DejaVu", "", size)
        self.multi_cell(0, size * 0.5, words, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def grid(self, frame: pd.DataFrame, widths: Sequence[float] | None = None) -> None:
        size = 8.5
        self.set_font("DejaVu", "", size)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            headings_style=_HEAD,
            line_height=size * 0.5,
            text_align="LEFT",
        ) as table:
            table.row([str(c) for c in frame.columns])
            for values in frame.fillna("").astype(str).itertuples(index=False):
                table.row(list(values))
        self.ln(2)


def _day(value: object) -> str:
    return f"{value:%d %b %Y}" if isinstance(value, date) else ""


def _findings(record: svc.AssessmentRecord, domain: str) -> pd.DataFrame:
    rows = [
        {
            "Finding": CHECKLIST[f.item].label,
            "Score": str(f.score),
            "Evidence": withhold_personal(f.evidence),
            "Source": withhold_personal(f.source),
            "Reliability": (f.reliability or "").capitalize(),
        }
        for f in record.form.findings
        if f.item in CHECKLIST and CHECKLIST[f.item].domain == domain
    ]
    return pd.DataFrame(rows, columns=["Finding", "Score", "Evidence", "Source", "Reliability"])


def _actions(record: svc.AssessmentRecord) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Action": withhold_personal(a.description),
                "Kind": label(ACTION_KINDS, a.kind or "other"),
                "Owner": withhold_personal(a.owner_org),
                "Due": _day(a.due_on),
                "Status": label(ACTION_STATUSES, a.status),
                "Completed": _day(a.completed_on),
            }
            for a in record.form.actions
        ],
        columns=["Action", "Kind", "Owner", "Due", "Status", "Completed"],
    )


def _history(history: Sequence[svc.AssessmentRecord], record: svc.AssessmentRecord) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Assessed": _day(r.form.assessed_on),
                "Status": label(ASSESSMENT_STATUSES, r.status)
                + (" (this one)" if r.id == record.id else ""),
                "Risk": label(RISK_LEVELS, r.form.overall_risk),
                "Organisation": withhold_personal(r.form.assessing_org),
                "Last change": f"{r.updated_by}, {r.updated_at:%d %b %Y %H:%M}",
            }
            for r in history
        ],
        columns=["Assessed", "Status", "Risk", "Organisation", "Last change"],
    )


def _events(record: svc.AssessmentRecord) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"When": f"{e['at']:%d %b %Y %H:%M}", "Who": e["actor"], "What": e["action"]}
            for e in record.events
        ],
        columns=["When", "Who", "What"],
    )


def _photo(pdf: _Pdf, item: evidence_store.EvidenceItem, content: bytes) -> None:
    width, height = item.width or 4, item.height or 3
    room_w = pdf.w - pdf.l_margin - pdf.r_margin
    room_h = pdf.h - 16 - 12 - pdf.get_y()  # below: the caption and the footer
    if room_h < 60:  # too little left on this page: a new one
        pdf.add_page()
        room_h = pdf.h - 16 - 12 - pdf.get_y()
    scale = min(room_w / width, min(110, room_h) / height)
    w, h = width * scale, height * scale
    pdf.image(io.BytesIO(content), x=pdf.l_margin + (room_w - w) / 2, w=w, h=h)
    caption = withhold_personal(item.caption) or "(no caption)"
    pdf.set_font("DejaVu", "", 8.5)
    pdf.multi_cell(
        0,
        4.5,
        f"Photo {item.number}: {caption}. Added by {item.added_by}.",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)


def assessment_pdf(
    record: svc.AssessmentRecord,
    *,
    district: str,
    history: Sequence[svc.AssessmentRecord] = (),
    evidence: Sequence[tuple[evidence_store.EvidenceItem, bytes | None]] = (),
    printed_by: str,
    printed_on: date,
) -> bytes:
    """Return one assessment as a PDF.

    Parameters
    ----------
    record
        The assessment (``services.assessments.load_assessment``).
    district
        Its district's name.
    history
        Every assessment of the place, oldest first (``place_history``).
    evidence
        Its evidence with the files of the photos (documents are listed, not printed).
    printed_by, printed_on
        Who printed it and when, for the footer.
    """
    form = record.form
    pdf = _Pdf(
        f"Safer Spaces · assessment {record.id} v{record.version} · printed {printed_on:%d %b %Y} "
        f"by {printed_by} · about a place, holds no information about any child"
    )
    pdf.set_title(f"Place assessment: {record.place_name}")
    pdf.set_creator("Safer Spaces")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(0, 9, f"Place assessment: {record.place_name}", new_x="LMARGIN", new_y="NEXT")
    pdf.para(
        f"{label(PLACE_CATEGORIES, record.place_category)}, {district} · status "
        f"{label(ASSESSMENT_STATUSES, record.status)} · version {record.version}",
        11,
    )
    header = pd.DataFrame(
        [
            ("Date of the assessment", _day(form.assessed_on)),
            ("Overall risk", label(RISK_LEVELS, form.overall_risk)),
            ("Next review", _day(form.next_review_on) or "not set"),
            ("Assessing organisation", withhold_personal(form.assessing_org)),
            ("Lead assessor", withhold_personal(form.lead_assessor)),
            ("Partners", withhold_personal(form.partners) or "none recorded"),
            ("Young people consulted", "Yes" if form.young_people_consulted else "No"),
            ("Families consulted", "Yes" if form.families_consulted else "No"),
        ],
        columns=["", "Recorded"],
    )
    pdf.grid(header, (1, 2.6))
    pdf.heading("Goals")
    pdf.para(withhold_personal(form.goals) or "none recorded")
    pdf.heading("Findings (the contextual safeguarding triangle)")
    pdf.para("Scores: 0 no concern, 1 some, 2 significant, 3 serious concern.", 8.5)
    for domain, title in DOMAINS.items():
        frame = _findings(record, domain)
        pdf.heading(title, 11)
        if frame.empty:
            pdf.para("Not assessed.", 9)
        else:
            pdf.grid(frame, (2.2, 0.8, 4, 1.6, 1.2))
    pdf.heading("Actions")
    actions = _actions(record)
    if actions.empty:
        pdf.para("No actions recorded.")
    else:
        pdf.grid(actions, (4, 1.6, 2.4, 1.4, 1.1, 1.4))
    if record.review_comment:
        pdf.heading("Lead's comment")
        pdf.para(withhold_personal(record.review_comment))
    photos = [(item, content) for item, content in evidence if item.kind == "photo" and content]
    documents = [item for item, _ in evidence if item.kind != "photo"]
    pdf.heading("Evidence from the visit")
    if not evidence:
        pdf.para("No photos or documents attached.")
    for item, content in photos:
        _photo(pdf, item, content)  # type: ignore[arg-type]
    for item in documents:
        caption = withhold_personal(item.caption)
        about = f": {caption}" if caption else ""
        pdf.para(
            f"Document {item.number} (PDF, {item.size / 1024:,.0f} KB){about}, "
            f"added by {item.added_by}: {item.file_name}",
            9,
        )
    pdf.heading("History of this place")
    if history:
        pdf.grid(_history(history, record), (1.3, 1.6, 0.9, 2.4, 2.4))
    events = _events(record)
    if not events.empty:
        pdf.heading("Who did what to this assessment", 11)
        pdf.grid(events, (1.4, 1.6, 2.4))
    return bytes(pdf.output())


def assessment_pdf_for(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    *,
    district_names: dict[str, str],
    today: date,
) -> bytes:
    """Return the PDF of one assessment as ``viewer`` may see it.

    Raises
    ------
    AccessDenied
        When the assessment's place is outside the viewer's districts.
    LookupError
        When there is no such assessment.
    """
    record = svc.load_assessment(engine, viewer, assessment_id)
    history = svc.place_history(engine, viewer, record.place_id)
    items = evidence_store.list_evidence(engine, viewer, assessment_id)
    evidence = [
        (
            item,
            evidence_store.evidence_content(engine, viewer, item.id)
            if item.kind == "photo"
            else None,
        )
        for item in items
    ]
    return assessment_pdf(
        record,
        district=district_names.get(record.district_code, record.district_code),
        history=history,
        evidence=evidence,
        printed_by=viewer.display_name or viewer.username,
        printed_on=today,
    )
