"""The assessment form, the lead's review, a place's history and the printable page.

The form's widget values live in ``st.session_state`` under keys that start
with ``af{id}.``, so what a person typed survives a refused save (a stale
version, a validation error) and a reload of the stored version.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.downloads import audited_download
from reports.assessment_pdf import assessment_pdf_for
from services import assessments as svc
from services import evidence as evidence_store
from services.access import AccessDenied, Viewer
from services.safe_text import md_text
from services.text_checks import find_personal, highlight_html, text_warnings
from store.db import Engine
from store.vocabulary import (
    ACTION_KINDS,
    ACTION_STATUSES,
    ASSESSMENT_STATUSES,
    CHECKLIST,
    DOMAINS,
    PLACE_CATEGORIES,
    RELIABILITY,
    REVIEW_MONTHS,
    RISK_LEVELS,
    SCORES,
    ChecklistItem,
    label,
)

__all__ = ["load_into_state", "printable_html", "read_form", "render_assessment"]

NEW_ACTION_SLOTS = 3
#: The owner select box's value for an owner typed before the list (kept as it was).
TYPED = "text:"
ERRORS = "assess_errors"
NOTICE = "assess_notice"
MINE = "assess_mine"
HIGHLIGHTS = "assess_highlights"


def _key(aid: int, name: str) -> str:
    return f"af{aid}.{name}"


def load_into_state(record: svc.AssessmentRecord) -> None:
    """Put a stored assessment's values into the form's widget state (overwriting them)."""
    aid, form = record.id, record.form
    state = st.session_state
    for name in svc.HEADER_FIELDS:
        value = getattr(form, name)
        state[_key(aid, name)] = value if value is not None or "_on" in name else None
    typed = {f.item: f for f in form.findings}
    for item in CHECKLIST:
        finding = typed.get(item)
        state[_key(aid, f"f.{item}.score")] = finding.score if finding else None
        state[_key(aid, f"f.{item}.evidence")] = finding.evidence if finding else ""
        state[_key(aid, f"f.{item}.source")] = finding.source if finding else ""
        state[_key(aid, f"f.{item}.reliability")] = finding.reliability if finding else None
    slots = [a.id for a in form.actions] + [None] * NEW_ACTION_SLOTS
    state[_key(aid, "slots")] = slots
    for number, slot in enumerate(slots):
        action = next((a for a in form.actions if a.id == slot), None) if slot else None
        _load_action_row(aid, number, action)
    state[_key(aid, "version")] = record.version


def _owner_value(action: svc.ActionInput) -> str | None:
    """Return the owner select box's value: ``org:ID``, ``user:ID``, or ``text:`` a typed owner."""
    if action.owner:
        return action.owner
    return f"{TYPED}{action.owner_org}" if action.owner_org else None


def _load_action_row(aid: int, number: int, action: svc.ActionInput | None) -> None:
    state = st.session_state
    state[_key(aid, f"a{number}.description")] = action.description if action else ""
    state[_key(aid, f"a{number}.owner")] = _owner_value(action) if action else None
    state[_key(aid, f"a{number}.due_on")] = action.due_on if action else None
    state[_key(aid, f"a{number}.status")] = action.status if action else "open"
    state[_key(aid, f"a{number}.kind")] = (action.kind if action else None) or "other"
    state[_key(aid, f"a{number}.remove")] = False


def _add_action_row(aid: int) -> None:
    """Add an empty action row to the form (what was typed in the others stays)."""
    slots = list(st.session_state.get(_key(aid, "slots"), []))
    _load_action_row(aid, len(slots), None)
    st.session_state[_key(aid, "slots")] = [*slots, None]


def read_form(aid: int, *, today: date) -> svc.AssessmentForm:
    """Return the form as typed, from the widget state.

    An empty next review date takes the default for the chosen risk; an empty
    new action row is ignored; a ticked "remove" drops an action.
    """
    state = st.session_state

    def get(name: str, default: object = None) -> Any:  # what a widget holds
        return state.get(_key(aid, name), default)

    findings = []
    for item in CHECKLIST:
        score = get(f"f.{item}.score")
        if score is None:
            continue
        findings.append(
            svc.FindingInput(
                item,
                int(score),
                str(get(f"f.{item}.evidence", "")),
                str(get(f"f.{item}.source", "")),
                get(f"f.{item}.reliability"),
            )
        )
    actions = []
    for number, slot in enumerate(get("slots", [])):
        description = str(get(f"a{number}.description", "")).strip()
        owner = str(get(f"a{number}.owner") or "")
        due = get(f"a{number}.due_on")
        if get(f"a{number}.remove") or (slot is None and not (description or owner or due)):
            continue
        typed = owner[len(TYPED) :] if owner.startswith(TYPED) else ""
        actions.append(
            svc.ActionInput(
                description,
                typed,
                due,
                str(get(f"a{number}.status", "open")),
                slot,
                kind=str(get(f"a{number}.kind") or "other"),
                owner="" if typed else (owner or None),
            )
        )
    assessed_on = get("assessed_on")
    risk = get("overall_risk")
    review = get("next_review_on")
    if review is None and assessed_on is not None:
        review = svc.next_review_default(assessed_on, risk)
    return svc.AssessmentForm(
        assessed_on=assessed_on,
        assessing_org=str(get("assessing_org", "")),
        lead_assessor=str(get("lead_assessor", "")),
        partners=str(get("partners", "")),
        young_people_consulted=bool(get("young_people_consulted", False)),
        families_consulted=bool(get("families_consulted", False)),
        overall_risk=risk,
        goals=str(get("goals", "")),
        next_review_on=review,
        findings=tuple(findings),
        actions=tuple(actions),
    )


def _warnings(form: svc.AssessmentForm) -> dict[str, list[str]]:
    """Return the personal-detail warnings per field, and keep each field's highlighted text."""
    fields = svc.free_text(form)
    st.session_state[HIGHLIGHTS] = {
        name: highlight_html(text) for name, text in fields.items() if find_personal(text)
    }
    return text_warnings(fields)


def _act(engine: Engine, viewer: Viewer, aid: int, step: str, today: date) -> None:
    """Run a save or a lifecycle step from a button callback, keeping what was typed."""
    state = st.session_state
    version: Any = state.get(_key(aid, "version"))
    state[ERRORS] = {}
    state[HIGHLIGHTS] = {}
    try:
        if step in ("save", "submit"):
            form = read_form(aid, today=today)
            if step == "save":
                svc.save_draft(engine, viewer, aid, form, expected_version=version, today=today)
                message = "Draft saved."
            else:
                svc.submit(engine, viewer, aid, expected_version=version, form=form, today=today)
                message = "Submitted for a safeguarding lead's review."
            warnings = _warnings(form)
            if warnings:
                message += " Please check the text flagged below: it may be about a person."
            state[NOTICE] = ("success", message, warnings)
        elif step == "approve":
            comment = state.get(_key(aid, "review_comment"), "")
            svc.approve(engine, viewer, aid, expected_version=version, comment=comment)
            state[NOTICE] = (
                "success",
                "Approved. The place's earlier assessment is superseded.",
                {},
            )
        elif step == "return":
            comment = state.get(_key(aid, "review_comment"), "")
            svc.return_for_changes(engine, viewer, aid, expected_version=version, comment=comment)
            state[NOTICE] = ("success", "Returned to the assessors with your comment.", {})
    except svc.AssessmentInvalid as problem:
        state[ERRORS] = problem.errors
        kind = "stale" if isinstance(problem, svc.StaleAssessment) else "invalid"
        warnings = _warnings(read_form(aid, today=today)) if step in ("save", "submit") else {}
        message = "Nothing was saved. Please correct the fields marked below."
        if warnings and step == "submit":
            message = (
                "Nothing was saved and it was not submitted: personal details remain in the "
                "text highlighted below. Remove them (a draft can be saved meanwhile)."
            )
        state[NOTICE] = (kind, message, warnings)
        return
    except (svc.IllegalTransition, AccessDenied, LookupError) as refusal:
        state[NOTICE] = ("error", str(refusal), {})
        return
    load_into_state(svc.load_assessment(engine, viewer, aid))
    state.pop(MINE, None)


def _reload(engine: Engine, viewer: Viewer, aid: int, today: date) -> None:
    """Load the stored version, keeping what was typed to show beside it."""
    st.session_state[MINE] = read_form(aid, today=today)
    load_into_state(svc.load_assessment(engine, viewer, aid))
    st.session_state[ERRORS] = {}
    st.session_state[NOTICE] = ("info", "Reloaded the latest saved version.", {})


def _field_error(name: str) -> None:
    message = st.session_state.get(ERRORS, {}).get(name)
    if message:
        st.error(md_text(message), icon=":material/error:")


def _field_warnings(name: str, warnings: dict[str, list[str]]) -> None:
    for warning in warnings.get(name, []):
        st.warning(md_text(warning), icon=":material/person_off:")
    marked = st.session_state.get(HIGHLIGHTS, {}).get(name)
    if marked:
        _marked_text(marked)


def _marked_text(marked: str) -> None:
    """Show text already escaped by ``highlight_html``, its personal spans marked."""
    st.html(
        '<div class="personal-text" style="white-space:pre-wrap;border-left:3px solid #b3261e;'
        f'padding:0.25rem 0.5rem;margin-bottom:0.5rem">{marked}</div>'
    )


def _field_label(name: str) -> str:
    """Return a field name as a person reads it ("actions.0.description" -> "Action 1")."""
    parts = name.split(".")
    if parts[0] == "actions":
        return f"Action {int(parts[1]) + 1} ({parts[2].replace('_', ' ')})"
    if parts[0] == "findings":
        item = CHECKLIST[parts[1]].label if parts[1] in CHECKLIST else parts[1]
        return f"Finding: {item} ({parts[2]})"
    return name.replace("_", " ").capitalize()


def personal_review(record: svc.AssessmentRecord) -> bool:
    """Show, for a lead's review, every field holding personal details with the spans marked.

    Returns True when any was found.
    """
    found = {name: text for name, text in svc.free_text(record.form).items() if find_personal(text)}
    if not found:
        return False
    st.error(
        "This assessment holds personal details (marked below). Return it to the assessors "
        "to remove them; it cannot be approved as it is.",
        icon=":material/person_off:",
    )
    for name, text in found.items():
        st.markdown(f"**{_field_label(name)}**")
        _marked_text(highlight_html(text))
    return True


def _render_form(engine: Engine, viewer: Viewer, record: svc.AssessmentRecord, today: date) -> None:
    aid = record.id
    notice = st.session_state.get(NOTICE)
    warnings = notice[2] if notice else {}
    st.info(
        "**Free text is about the place, not about children.** Describe places, groups and "
        "patterns; never write a name, an age with a description, a date of birth, a phone "
        "number or a home address or postcode.",
        icon=":material/privacy_tip:",
    )
    with st.form(key=_key(aid, "form"), clear_on_submit=False, border=True):
        c1, c2, c3 = st.columns(3)
        c1.date_input(
            "Date of the assessment",
            key=_key(aid, "assessed_on"),
            max_value=today,
            min_value=date(2000, 1, 1),
            format="DD/MM/YYYY",
        )
        with c1:
            _field_error("assessed_on")
        c2.text_input("Assessing organisation", key=_key(aid, "assessing_org"))
        with c2:
            _field_error("assessing_org")
        c3.text_input("Lead assessor (role or name of the officer)", key=_key(aid, "lead_assessor"))
        with c3:
            _field_error("lead_assessor")
        st.text_input(
            "Partners who took part (organisations)",
            key=_key(aid, "partners"),
            placeholder="e.g. Staffordshire Police, Youth service, Licensing team",
        )
        _field_error("partners")
        _field_warnings("partners", warnings)
        c1, c2 = st.columns(2)
        c1.checkbox("Young people were consulted", key=_key(aid, "young_people_consulted"))
        c2.checkbox("Families were consulted", key=_key(aid, "families_consulted"))

        st.markdown("#### The contextual safeguarding triangle")
        st.caption(
            "Score each finding that applies: 0 no concern, 1 some, 2 significant, 3 serious "
            "concern. Leave 'Not assessed' for items that do not apply."
        )
        for domain, title in DOMAINS.items():
            with st.expander(title, expanded=True):
                _field_error(f"findings.{domain}")
                for item, entry in CHECKLIST.items():
                    if entry.domain != domain:
                        continue
                    _finding_row(aid, item, entry, warnings)

        st.markdown("#### Risk, goals and review")
        c1, c2 = st.columns(2)
        c1.selectbox(
            "Overall risk",
            [None, *RISK_LEVELS],
            format_func=lambda r: "Choose..." if r is None else RISK_LEVELS[r],
            key=_key(aid, "overall_risk"),
        )
        with c1:
            _field_error("overall_risk")
        months = ", ".join(f"{m} months if {r}" for r, m in REVIEW_MONTHS.items())
        c2.date_input(
            "Next review date",
            key=_key(aid, "next_review_on"),
            min_value=date(2000, 1, 1),
            max_value=date(2100, 1, 1),
            format="DD/MM/YYYY",
            help=f"Leave empty for the default from the risk: {months}.",
        )
        with c2:
            _field_error("next_review_on")
        st.text_area("Goals for the place", key=_key(aid, "goals"), height=90)
        _field_error("goals")
        _field_warnings("goals", warnings)

        st.markdown("#### Actions")
        st.caption(
            "Each with its owner (an organisation or a person from the list an administrator "
            "keeps on Data > Organisations) and a due date. Empty rows are ignored."
        )
        owners = _owner_labels(engine, aid)
        for number, slot in enumerate(st.session_state.get(_key(aid, "slots"), [])):
            _action_row(aid, number, slot, warnings, today, owners)
        st.form_submit_button(
            "Add another action",
            key=_key(aid, "add_action"),
            on_click=_add_action_row,
            args=(aid,),
            icon=":material/add:",
        )

        b1, b2, _ = st.columns([1, 1, 1])
        b1.form_submit_button(
            "Save draft",
            key=_key(aid, "save"),
            on_click=_act,
            args=(engine, viewer, aid, "save", today),
            icon=":material/save:",
        )
        b2.form_submit_button(
            "Submit for review",
            key=_key(aid, "submit"),
            type="primary",
            on_click=_act,
            args=(engine, viewer, aid, "submit", today),
            icon=":material/send:",
        )


def _finding_row(aid: int, item: str, entry: ChecklistItem, warnings: dict[str, list[str]]) -> None:
    c1, c2, c3, c4 = st.columns([2, 4, 2, 2])
    c1.selectbox(
        entry.label,
        [None, *SCORES],  # type: ignore[list-item]  # None: not assessed
        format_func=lambda s: "Not assessed" if s is None else SCORES[s],
        key=_key(aid, f"f.{item}.score"),
        help=entry.help,
    )
    c2.text_area(
        "Evidence",
        key=_key(aid, f"f.{item}.evidence"),
        height=68,
        placeholder="What was seen or reported about the place",
    )
    c3.text_input("Source", key=_key(aid, f"f.{item}.source"), placeholder="e.g. Site visit")
    c4.selectbox(
        "Reliability",
        [None, *RELIABILITY],
        format_func=lambda r: "Choose..." if r is None else r.capitalize(),
        key=_key(aid, f"f.{item}.reliability"),
        help="\n\n".join(RELIABILITY.values()),
    )
    for column, suffix in ((c1, "score"), (c2, "evidence"), (c3, "source"), (c4, "reliability")):
        with column:
            _field_error(f"findings.{item}.{suffix}")
    with c2:
        _field_error(f"findings.{item}")
        _field_warnings(f"findings.{item}.evidence", warnings)


def _owner_labels(engine: Engine, aid: int) -> dict[str, str]:
    """Return the owners to offer, by value: the list, plus the owners the rows hold already.

    An owner retired from the list, a switched-off person, or an owner typed before the
    list stays on its action (and is offered there) until it is changed.
    """
    from services.organisations import owner_choices, owners_of

    labels = {choice.ref: choice.label for choice in owner_choices(engine)}
    state = st.session_state
    held = [
        str(state.get(_key(aid, f"a{n}.owner")) or "")
        for n in range(len(state.get(_key(aid, "slots"), [])))
    ]
    missing = [ref for ref in held if ref and ref not in labels and not ref.startswith(TYPED)]
    for ref, choice in owners_of(engine, missing).items():
        labels[ref] = f"{choice.label} (retired)" if not choice.active else choice.label
    for ref in held:
        if ref.startswith(TYPED):
            labels[ref] = f"{ref[len(TYPED) :]} (typed before the list)"
    return labels


def _action_row(
    aid: int,
    number: int,
    slot: int | None,
    warnings: dict[str, list[str]],
    today: date,
    owners: dict[str, str],
) -> None:
    c1, c2, kind, c3, c4, c5 = st.columns([3.4, 3.6, 2.2, 2.2, 1.6, 1])
    c1.text_input(
        "Action" if slot else "New action",
        key=_key(aid, f"a{number}.description"),
    )
    c2.selectbox(
        "Owner",
        [None, *owners],
        format_func=lambda ref: "Choose..." if ref is None else owners.get(ref, ref),
        key=_key(aid, f"a{number}.owner"),
        help="Who does it: an organisation or a person. They are reminded by e-mail when it "
        "falls due.",
    )
    kind.selectbox(
        "Kind",
        list(ACTION_KINDS),
        format_func=partial(label, ACTION_KINDS),
        key=_key(aid, f"a{number}.kind"),
        help="What the action changes; the impact of actions is pooled by kind.",
    )
    c3.date_input(
        "Due",
        key=_key(aid, f"a{number}.due_on"),
        min_value=date(2000, 1, 1),
        max_value=date(2100, 1, 1),
        format="DD/MM/YYYY",
    )
    c4.selectbox(
        "Status",
        list(ACTION_STATUSES),
        format_func=partial(label, ACTION_STATUSES),
        key=_key(aid, f"a{number}.status"),
    )
    if slot:
        c5.checkbox("Remove", key=_key(aid, f"a{number}.remove"))
    errors = st.session_state.get(ERRORS, {})
    # Errors are keyed by the action's position among the actions sent, not the slot.
    position = _position(aid, number)
    for column, suffix in (
        (c1, "description"),
        (c2, "owner_org"),
        (kind, "kind"),
        (c3, "due_on"),
        (c4, "status"),
    ):
        message = errors.get(f"actions.{position}.{suffix}") if position is not None else None
        if message:
            column.error(message, icon=":material/error:")
    if position is not None:
        _field_warnings(f"actions.{position}.description", warnings)


def _position(aid: int, number: int) -> int | None:
    """Return the index of slot ``number`` among the actions ``read_form`` sends, or None."""
    state = st.session_state
    position = 0
    for index, slot in enumerate(state.get(_key(aid, "slots"), [])):
        parts = [state.get(_key(aid, f"a{index}.{n}")) for n in ("description", "owner")]
        empty = not any(str(p or "").strip() for p in parts) and not state.get(
            _key(aid, f"a{index}.due_on")
        )
        if state.get(_key(aid, f"a{index}.remove")) or (slot is None and empty):
            if index == number:
                return None
            continue
        if index == number:
            return position
        position += 1
    return None


def _summary(record: svc.AssessmentRecord) -> None:
    form = record.form
    review = f"{form.next_review_on:%d %b %Y}" if form.next_review_on else "not set"
    st.markdown(
        f"Assessed {form.assessed_on:%d %b %Y} by {md_text(form.assessing_org)} "
        f"({md_text(form.lead_assessor)}) "
        f"· overall risk **{label(RISK_LEVELS, form.overall_risk)}** · next review {review}"
    )
    st.markdown(f"**Partners:** {md_text(form.partners) or 'none recorded'}")
    st.markdown(
        f"**Young people consulted:** {'yes' if form.young_people_consulted else 'no'} · "
        f"**Families consulted:** {'yes' if form.families_consulted else 'no'}"
    )
    st.markdown(f"**Goals:** {md_text(form.goals) or 'none recorded'}")
    st.dataframe(_findings_frame(record), hide_index=True, width="stretch")
    if form.actions:
        st.dataframe(_actions_frame(record), hide_index=True, width="stretch")


def _findings_frame(record: svc.AssessmentRecord) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Domain": DOMAINS[CHECKLIST[f.item].domain],
                "Finding": CHECKLIST[f.item].label,
                "Score": f.score,
                "Evidence": f.evidence,
                "Source": f.source,
                "Reliability": f.reliability,
            }
            for f in record.form.findings
            if f.item in CHECKLIST
        ],
        columns=["Domain", "Finding", "Score", "Evidence", "Source", "Reliability"],
    )


def _actions_frame(record: svc.AssessmentRecord) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Action": a.description,
                "Kind": label(ACTION_KINDS, a.kind or "other"),
                "Owner": a.owner_org,
                "Due": a.due_on,
                "Status": label(ACTION_STATUSES, a.status),
                "Completed": a.completed_on,
            }
            for a in record.form.actions
        ],
        columns=["Action", "Kind", "Owner", "Due", "Status", "Completed"],
    )


def printable_html(record: svc.AssessmentRecord, *, district: str) -> str:
    """Return one assessment as a self-contained HTML page for printing or filing."""
    form = record.form
    e = html.escape

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, na_rep="", escape=True, border=0)

    review = form.next_review_on.strftime("%d %b %Y") if form.next_review_on else "not set"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Place assessment: {e(record.place_name)}</title>
<style>
body {{ font-family: Arial, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
.note {{ font-size: 0.85em; color: #555; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>Place assessment: {e(record.place_name)}</h1>
<p>{e(label(PLACE_CATEGORIES, record.place_category))}, {e(district)} ·
status <b>{e(label(ASSESSMENT_STATUSES, record.status))}</b> · version {record.version}</p>
<table>
<tr><th>Date</th><td>{form.assessed_on:%d %b %Y}</td>
<th>Overall risk</th><td>{e(label(RISK_LEVELS, form.overall_risk))}</td></tr>
<tr><th>Assessing organisation</th><td>{e(form.assessing_org)}</td>
<th>Lead assessor</th><td>{e(form.lead_assessor)}</td></tr>
<tr><th>Partners</th><td colspan="3">{e(form.partners)}</td></tr>
<tr><th>Young people consulted</th><td>{"Yes" if form.young_people_consulted else "No"}</td>
<th>Families consulted</th><td>{"Yes" if form.families_consulted else "No"}</td></tr>
<tr><th>Next review</th><td colspan="3">{review}</td></tr>
</table>
<h2>Goals</h2><p>{e(form.goals)}</p>
<h2>Findings</h2>{table(_findings_frame(record))}
<h2>Actions</h2>{table(_actions_frame(record))}
{f"<h2>Review comment</h2><p>{e(record.review_comment)}</p>" if record.review_comment else ""}
<p class="note">Printed from Safer Spaces. Scores: 0 no concern to 3 serious concern.
This record is about a place; it holds no information about any child.</p>
</body></html>"""


def _history(engine: Engine, viewer: Viewer, record: svc.AssessmentRecord) -> None:
    history = svc.place_history(engine, viewer, record.place_id)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Assessed": r.form.assessed_on,
                    "Status": label(ASSESSMENT_STATUSES, r.status),
                    "Risk": label(RISK_LEVELS, r.form.overall_risk),
                    "Organisation": r.form.assessing_org,
                    "Findings": len(r.form.findings),
                    "Actions": len(r.form.actions),
                    "Last change": f"{r.updated_by}, {r.updated_at:%d %b %Y %H:%M}",
                }
                for r in history
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for older, newer in itertools.pairwise(history):
        diff = svc.changes(older, newer)
        title = (
            f"What changed from {older.form.assessed_on:%d %b %Y} ({older.status}) to "
            f"{newer.form.assessed_on:%d %b %Y} ({newer.status}): {len(diff)} changes"
        )
        with st.expander(title, expanded=newer.id == record.id):
            if diff:
                st.dataframe(pd.DataFrame(diff).astype(str), hide_index=True, width="stretch")
            else:
                st.write("No differences in risk, goals or findings.")
    with st.expander("Who did what (audit log)"):
        st.dataframe(
            pd.DataFrame(list(record.events), columns=["at", "actor", "action", "detail"])
            .drop(columns="detail")
            .rename(columns={"at": "When", "actor": "Who", "action": "What"}),
            hide_index=True,
            width="stretch",
        )


def _notice() -> None:
    notice = st.session_state.get(NOTICE)
    if not notice:
        return
    kind, message, _ = notice
    if kind == "success":
        st.success(md_text(message), icon=":material/check_circle:")
    elif kind == "info":
        st.info(md_text(message))
    elif kind == "stale":
        st.error(
            md_text(st.session_state.get(ERRORS, {}).get("version", message)),
            icon=":material/sync_problem:",
        )
    else:
        st.error(md_text(message), icon=":material/error:")
    place_error = st.session_state.get(ERRORS, {}).get("place")
    if place_error:
        st.error(md_text(place_error), icon=":material/block:")


def _mine(record: svc.AssessmentRecord) -> None:
    mine = st.session_state.get(MINE)
    if mine is None:
        return
    diff = svc.changes(record, replace(record, form=mine))
    with st.expander("Your unsaved changes (kept from before the reload)", expanded=True):
        if diff:
            st.dataframe(
                pd.DataFrame(diff)
                .rename(columns={"what": "Field", "before": "Saved now", "after": "You typed"})
                .astype(str),
                hide_index=True,
                width="stretch",
            )
            st.caption("Copy what you need into the form, then save.")
        else:
            st.write("What you typed matches the saved version.")


def render_assessment(
    engine: Engine, viewer: Viewer, aid: int, *, today: date, district_names: dict[str, str]
) -> None:
    """Render one assessment: the form (if editable), the review panel (leads), history, export."""
    record = svc.load_assessment(engine, viewer, aid)
    if st.session_state.get(_key(aid, "version")) is None:
        load_into_state(record)
    district = district_names.get(record.district_code, record.district_code)
    st.subheader(md_text(record.place_name))
    st.caption(
        f"{label(PLACE_CATEGORIES, record.place_category)} · {md_text(district)} · "
        f"{label(ASSESSMENT_STATUSES, record.status)} · version {record.version} · "
        f"last changed by {md_text(record.updated_by)}"
    )
    if record.review_comment and record.status in ("returned", "approved"):
        st.warning(
            f"**Lead's comment:** {md_text(record.review_comment)}", icon=":material/comment:"
        )
    _notice()
    if st.session_state.get(NOTICE, ("",))[0] == "stale":
        st.button(
            "Reload the latest version (what you typed is kept)",
            key=_key(aid, "reload"),
            on_click=_reload,
            args=(engine, viewer, aid, today),
            icon=":material/refresh:",
        )
    _mine(record)
    editable = record.status in svc.EDITABLE and viewer.may_edit_assessments
    if editable:
        _render_form(engine, viewer, record, today)
    else:
        _summary(record)
    if record.status == "submitted" and viewer.may_approve:
        st.markdown("#### Review")
        personal_review(record)
        st.text_area(
            "Comment for the assessors (required to return it)", key=_key(aid, "review_comment")
        )
        c1, c2, _ = st.columns([1, 1, 3])
        c1.button(
            "Approve",
            key=_key(aid, "approve"),
            type="primary",
            on_click=_act,
            args=(engine, viewer, aid, "approve", today),
            icon=":material/verified:",
        )
        c2.button(
            "Return with comment",
            key=_key(aid, "return"),
            on_click=_act,
            args=(engine, viewer, aid, "return", today),
            icon=":material/undo:",
        )
        _field_error("review_comment")
    audited_download(
        "Download a printable page",
        lambda: printable_html(record, district=district),
        engine=engine,
        viewer=viewer,
        entity="assessment",
        file_name=f"assessment-{record.id}-v{record.version}.html",
        mime="text/html",
        key=_key(aid, "print"),
        detail={"assessment": record.id, "version": record.version, "format": "html"},
        icon=":material/print:",
    )
    audited_download(
        "Download the assessment as PDF",
        lambda: assessment_pdf_for(engine, viewer, aid, district_names=district_names, today=today),
        engine=engine,
        viewer=viewer,
        entity="assessment",
        file_name=f"assessment-{record.id}-v{record.version}.pdf",
        mime="application/pdf",
        key=_key(aid, "print_pdf"),
        detail={"assessment": record.id, "version": record.version, "format": "pdf"},
        icon=":material/picture_as_pdf:",
    )
    _evidence(engine, viewer, record, editable=editable)
    st.markdown("#### History of this place")
    _history(engine, viewer, record)


# --------------------------------------------------------------------------- evidence (issue 23)


def _attach(engine: Engine, viewer: Viewer, aid: int) -> None:
    """Attach the chosen file (a button callback): checked, cleaned and stored in memory."""
    from dashboard.auth import origin

    state = st.session_state
    upload = state.get(_key(aid, f"ev.file{state.get(_key(aid, 'ev.round'), 0)}"))
    if upload is None:
        state[_key(aid, "ev.notice")] = ("error", "Choose a photo or a PDF first.")
        return
    try:
        evidence_store.add_evidence(
            engine,
            viewer,
            aid,
            upload.getvalue(),
            caption=str(state.get(_key(aid, "ev.caption"), "")),
            origin=origin(),
        )
    except (evidence_store.EvidenceRefused, AccessDenied, svc.IllegalTransition) as refusal:
        state[_key(aid, "ev.notice")] = ("error", f"Nothing was attached. {refusal}")
        return
    except ValueError as problem:  # a wrong setting (evidence_max_mb)
        state[_key(aid, "ev.notice")] = ("error", str(problem))
        return
    state[_key(aid, "ev.notice")] = (
        "success",
        "Attached. Location and camera details were removed from the file.",
    )
    state[_key(aid, "ev.round")] = state.get(_key(aid, "ev.round"), 0) + 1  # empty the chooser
    state[_key(aid, "ev.caption")] = ""


def _detach(engine: Engine, viewer: Viewer, aid: int, attachment_id: int) -> None:
    from dashboard.auth import origin

    try:
        evidence_store.remove_evidence(engine, viewer, attachment_id, origin=origin())
    except (AccessDenied, svc.IllegalTransition, LookupError) as refusal:
        st.session_state[_key(aid, "ev.notice")] = ("error", str(refusal))
        return
    st.session_state[_key(aid, "ev.notice")] = ("success", "Removed.")


def _evidence(
    engine: Engine, viewer: Viewer, record: svc.AssessmentRecord, *, editable: bool
) -> None:
    """Photos and documents from the visit: thumbnails, downloads, and (while editable) upload."""
    aid = record.id
    items = evidence_store.list_evidence(engine, viewer, aid)
    st.markdown("#### Evidence from the visit")
    notice = st.session_state.pop(_key(aid, "ev.notice"), None)
    if notice:
        kind, message = notice
        (st.success if kind == "success" else st.error)(md_text(message))
    if not items:
        st.caption("No photos or documents attached.")
    for row_start in range(0, len(items), 4):
        columns = st.columns(4)
        for column, item in zip(columns, items[row_start : row_start + 4], strict=False):
            with column.container(border=True):
                if item.thumbnail:
                    st.image(item.thumbnail, width="stretch")
                else:
                    st.markdown(":material/picture_as_pdf: PDF document")
                st.caption(
                    f"{item.kind.capitalize()} {item.number} · {item.size / 1024:,.0f} KB · "
                    f"added by {md_text(item.added_by)}"
                )
                if item.caption:
                    st.text(item.caption)
                audited_download(
                    "Download",
                    partial(evidence_store.evidence_content, engine, viewer, item.id),
                    engine=engine,
                    viewer=viewer,
                    entity="evidence",
                    file_name=item.file_name,
                    mime=item.mime,
                    key=_key(aid, f"ev.get{item.id}"),
                    detail={"assessment": aid, "attachment": item.id},
                    icon=":material/download:",
                )
                if editable:
                    st.button(
                        "Remove",
                        key=_key(aid, f"ev.del{item.id}"),
                        on_click=_detach,
                        args=(engine, viewer, aid, item.id),
                        icon=":material/delete:",
                    )
    if not editable:
        return
    st.warning(evidence_store.FACES_REMINDER, icon=":material/face_retouching_off:")
    limit = evidence_store.max_bytes() / (1024 * 1024)
    kinds = ["jpg", "jpeg", "png", "pdf"] + (
        ["heic", "heif"] if evidence_store.heic_supported() else []
    )
    c1, c2 = st.columns([3, 2])
    c1.file_uploader(
        f"Photo (JPEG, PNG{', HEIC' if 'heic' in kinds else ''}) or PDF, up to {limit:g} MB",
        type=kinds,
        key=_key(aid, f"ev.file{st.session_state.get(_key(aid, 'ev.round'), 0)}"),
        help="Location, camera and other details in the file are removed when it is attached.",
        max_upload_size=max(1, math.ceil(limit)),  # the browser's limit; checked again on attach
    )
    c2.text_input(
        "Caption (about the place, optional)",
        key=_key(aid, "ev.caption"),
        max_chars=300,
        placeholder="e.g. Broken lamp by the north gate",
    )
    c2.button(
        "Attach",
        key=_key(aid, "ev.attach"),
        on_click=_attach,
        args=(engine, viewer, aid),
        icon=":material/attach_file:",
        type="primary",
    )
