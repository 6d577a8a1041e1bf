"""Place assessments: drafting, submitting, review by a lead, actions and history.

Every function takes the engine and the ``Viewer`` and enforces the role and
the district scope itself (see ``services.access``). The lifecycle is::

    draft -> submitted -> approved -> superseded (when a newer one is approved)
                       -> returned -> submitted (again)

Each step is one transaction with an audit event (who, when, from, to). An
assessment carries a ``version`` (SQLAlchemy ``version_id_col``): a save made
against an older version than the stored one raises ``StaleAssessment`` and
changes nothing, so two people cannot overwrite each other.

Validation collects every problem at once, by field name, and raises
``AssessmentInvalid``; nothing is saved half.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from services.access import AccessDenied, Viewer
from services.audience import Audience
from services.text_checks import personal_problems
from store import audit
from store.db import session_scope
from store.models import Action, Assessment, AuditEvent, Finding, Place
from store.queries import load_assessments
from store.vocabulary import (
    ACTION_KINDS,
    ACTION_STATUSES,
    CHECKLIST,
    DOMAINS,
    PLACE_CATEGORIES,
    RELIABILITY,
    REVIEW_MONTHS,
    RISK_LEVELS,
)

_log = logging.getLogger(__name__)

__all__ = [
    "EDITABLE",
    "HEADER_FIELDS",
    "TRANSITIONS",
    "ActionInput",
    "AssessmentForm",
    "AssessmentInvalid",
    "AssessmentRecord",
    "FindingInput",
    "IllegalTransition",
    "StaleAssessment",
    "add_action",
    "add_place",
    "approval_dates",
    "approve",
    "changes",
    "create_draft",
    "free_text",
    "list_assessments",
    "load_assessment",
    "next_review_default",
    "place_history",
    "recent_flags",
    "return_for_changes",
    "save_draft",
    "submit",
    "update_action",
    "validate",
]

#: Statuses in which the assessment's content may still be changed.
EDITABLE: frozenset[str] = frozenset({"draft", "returned"})

#: step -> (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({"draft", "returned"}), "submitted"),
    "approve": (frozenset({"submitted"}), "approved"),
    "return": (frozenset({"submitted"}), "returned"),
    "supersede": (frozenset({"approved"}), "superseded"),
}

_STEP_WORDS = {
    "submit": "submitted",
    "approve": "approved",
    "return": "returned",
    "supersede": "superseded",
}


class AssessmentInvalid(ValueError):  # noqa: N818 (the agreed name)
    """The assessment cannot be saved as it is; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


class StaleAssessment(AssessmentInvalid):
    """Someone else saved the assessment since it was opened; nothing was changed.

    ``errors["version"]`` says who and when; other problems found at the same
    time are in ``errors`` too.
    """


class IllegalTransition(ValueError):  # noqa: N818
    """The step is not allowed from the assessment's current status."""


# --------------------------------------------------------------------------- data shapes


@dataclass(frozen=True)
class FindingInput:
    """One checklist finding as typed in the form.

    ``score`` runs from 0 (no concern) to 3 (serious concern).
    """

    item: str
    score: int | None
    evidence: str = ""
    source: str = ""
    reliability: str | None = None

    @property
    def domain(self) -> str | None:
        """Return the triangle domain of the item, or None for an unknown item."""
        known = CHECKLIST.get(self.item)
        return known.domain if known else None


@dataclass(frozen=True)
class ActionInput:
    """One action as typed in the form; ``id`` is None for a new action."""

    description: str
    owner_org: str
    due_on: date | None
    status: str = "open"
    id: int | None = None
    completed_on: date | None = None
    kind: str | None = None  # ACTION_KINDS; None keeps the stored kind ("other" if none)
    # issue 23: the owner from the list, "user:ID" or "org:ID" (services.organisations.Owner);
    # None: found from ``owner_org`` by name; "": no listed owner (a typed one kept as it was)
    owner: str | None = None


@dataclass(frozen=True)
class AssessmentForm:
    """Everything a person types into the assessment form."""

    assessed_on: date | None
    assessing_org: str = ""
    lead_assessor: str = ""
    partners: str = ""
    young_people_consulted: bool = False
    families_consulted: bool = False
    overall_risk: str | None = None
    goals: str = ""
    next_review_on: date | None = None
    findings: tuple[FindingInput, ...] = ()
    actions: tuple[ActionInput, ...] = ()


@dataclass(frozen=True)
class AssessmentRecord:
    """A stored assessment: its form content plus status, version and who did what."""

    id: int
    place_id: int
    place_name: str
    place_category: str
    district_code: str
    status: str
    version: int
    form: AssessmentForm
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    review_comment: str | None = None
    supersedes_id: int | None = None
    events: tuple[dict, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- helpers


def next_review_default(assessed_on: date, risk: str | None) -> date | None:
    """Return the default next review date for a risk level (see ``REVIEW_MONTHS``).

    Examples
    --------
    >>> next_review_default(date(2026, 11, 30), "high")
    datetime.date(2027, 2, 28)
    >>> next_review_default(date(2026, 1, 15), "low")
    datetime.date(2027, 1, 15)
    >>> next_review_default(date(2026, 1, 15), None) is None
    True
    """
    if risk not in REVIEW_MONTHS:
        return None
    return assessed_on + relativedelta(months=REVIEW_MONTHS[risk])


def _who(viewer: Viewer) -> str:
    return viewer.username


def _place_in_scope(viewer: Viewer, place: Place) -> str | None:
    if viewer.may_see(place.district_code):
        return None
    return (
        f"{place.name} is in district {place.district_code}, outside your districts "
        f"({', '.join(viewer.districts) or 'none'}). Ask your administrator if you need it."
    )


def _get_place(session: Session, viewer: Viewer, place_id: int) -> Place:
    place = session.get(Place, place_id)
    if place is None:
        raise LookupError(f"There is no place number {place_id}.")
    problem = _place_in_scope(viewer, place)
    if problem:
        raise AccessDenied(problem)
    return place


def _get(session: Session, viewer: Viewer, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise LookupError(f"There is no assessment number {assessment_id}.")
    problem = _place_in_scope(viewer, assessment.place)
    if problem:
        raise AccessDenied(problem)
    return assessment


def _stale(assessment: Assessment, expected_version: int) -> str | None:
    if assessment.version == expected_version:
        return None
    when = assessment.updated_at.strftime("%d %b %Y %H:%M") if assessment.updated_at else ""
    return (
        f"The assessment of {assessment.place.name} was changed by {assessment.updated_by} "
        f"at {when} UTC after you opened it (now version {assessment.version}, yours "
        f"{expected_version}). Nothing was saved: reload it to see their changes; what you "
        "typed is kept."
    )


def _check_version(assessment: Assessment, expected_version: int) -> None:
    message = _stale(assessment, expected_version)
    if message:
        raise StaleAssessment({"version": message})


def _touch(assessment: Assessment, viewer: Viewer) -> None:
    """Mark the row changed, so its version goes up even when only children changed."""
    assessment.updated_by = _who(viewer)
    assessment.updated_at = datetime.now(UTC)


def _flush(session: Session, assessment: Assessment) -> None:
    try:
        session.flush()
    except StaleDataError as error:
        raise StaleAssessment(
            {
                "version": f"The assessment of {assessment.place.name} was changed by someone "
                "else while you were saving. Nothing was saved: reload it to see their "
                "changes; what you typed is kept."
            }
        ) from error


def _transition(
    session: Session, viewer: Viewer, assessment: Assessment, step: str, **detail: object
) -> None:
    allowed, target = TRANSITIONS[step]
    if assessment.status not in allowed:
        raise IllegalTransition(
            f"The assessment of {assessment.place.name} is {assessment.status}, so it cannot "
            f"be {_STEP_WORDS[step]}; only a {' or '.join(sorted(allowed))} assessment can."
        )
    before = assessment.status
    assessment.status = target
    _touch(assessment, viewer)
    audit.record(
        session,
        actor=_who(viewer),
        action=f"assessment.{_STEP_WORDS[step]}",
        entity="assessment",
        entity_id=assessment.id,
        detail={"from": before, "to": target, "place_id": assessment.place_id, **detail},
    )


# --------------------------------------------------------------------------- validation


def validate(form: AssessmentForm, *, complete: bool, today: date) -> dict[str, str]:
    """Return every problem with the form, by field name (empty when it can be saved).

    Parameters
    ----------
    form
        What was typed.
    complete
        True to check it is ready to submit (every required field filled, each
        domain of the triangle with a finding); False for saving a draft, where
        only what was typed is checked.
    today
        Against which dates in the past and future are judged.

    Returns
    -------
    dict
        Field name (``"goals"``, ``"findings.lighting.evidence"``,
        ``"actions.0.due_on"``...) -> a message for the person filling the form.
    """
    errors: dict[str, str] = {}
    if form.assessed_on is None:
        errors["assessed_on"] = "Enter the date of the assessment."
    elif form.assessed_on > today:
        errors["assessed_on"] = "The assessment date cannot be in the future."
    if form.overall_risk is not None and form.overall_risk not in RISK_LEVELS:
        errors["overall_risk"] = f"The overall risk must be one of {', '.join(RISK_LEVELS)}."
    if (
        form.next_review_on is not None
        and form.assessed_on is not None
        and form.next_review_on <= form.assessed_on
    ):
        errors["next_review_on"] = (
            f"The next review date ({form.next_review_on:%d %b %Y}) must be after the "
            f"assessment date ({form.assessed_on:%d %b %Y})."
        )
    if complete:
        required = {
            "assessing_org": (form.assessing_org, "Enter the organisation leading the assessment."),
            "lead_assessor": (form.lead_assessor, "Enter the lead assessor (a role or name)."),
            "partners": (form.partners, "Enter the organisations that took part."),
            "overall_risk": (form.overall_risk, "Choose the overall risk: low, medium or high."),
            "goals": (form.goals, "Enter the goals for the place."),
            "next_review_on": (form.next_review_on, "Enter the next review date."),
        }
        for name, (value, message) in required.items():
            if name not in errors and (value is None or not str(value).strip()):
                errors[name] = message

    seen: set[str] = set()
    for finding in form.findings:
        key = f"findings.{finding.item}"
        if finding.item not in CHECKLIST:
            errors[key] = f"'{finding.item}' is not an item of the checklist."
            continue
        if finding.item in seen:
            errors[key] = f"{CHECKLIST[finding.item].label} is recorded twice."
        seen.add(finding.item)
        if finding.score is None or finding.score not in (0, 1, 2, 3):
            errors[f"{key}.score"] = "Give a score from 0 (no concern) to 3 (serious concern)."
        if finding.reliability is not None and finding.reliability not in RELIABILITY:
            errors[f"{key}.reliability"] = "Reliability must be high, medium or low."
        if complete:
            if not finding.evidence.strip():
                errors[f"{key}.evidence"] = "Describe the evidence for this finding."
            if not finding.source.strip():
                errors[f"{key}.source"] = "Say where the information came from."
            if finding.reliability is None:
                errors[f"{key}.reliability"] = "Say how reliable the information is."
    if complete:
        present = {CHECKLIST[f.item].domain for f in form.findings if f.item in CHECKLIST}
        for domain, title in DOMAINS.items():
            if domain not in present:
                errors[f"findings.{domain}"] = f"Record at least one finding under {title}."

    for number, action in enumerate(form.actions):
        key = f"actions.{number}"
        if not action.description.strip():
            errors[f"{key}.description"] = "Describe the action."
        if not action.owner_org.strip() and not action.owner:
            errors[f"{key}.owner_org"] = (
                "Choose who owns the action: an organisation or a person from the list."
            )
        if action.due_on is None:
            errors[f"{key}.due_on"] = "Enter the date the action is due."
        elif action.id is None and action.due_on < today:
            errors[f"{key}.due_on"] = (
                f"A new action cannot be due in the past ({action.due_on:%d %b %Y})."
            )
        if action.status not in ACTION_STATUSES:
            errors[f"{key}.status"] = f"The status must be one of {', '.join(ACTION_STATUSES)}."
        if action.kind is not None and action.kind not in ACTION_KINDS:
            errors[f"{key}.kind"] = f"The kind must be one of {', '.join(ACTION_KINDS.values())}."
    if complete:  # a draft may hold them (highlighted); submitting may not
        for name, message in personal_problems(free_text(form)).items():
            errors.setdefault(name, message)
    return errors


def free_text(form: AssessmentForm) -> dict[str, str]:
    """Return every free-text field of a form by its field name (for the personal-data checker)."""
    fields = {
        "assessing_org": form.assessing_org,
        "lead_assessor": form.lead_assessor,
        "partners": form.partners,
        "goals": form.goals,
    }
    for finding in form.findings:
        fields[f"findings.{finding.item}.evidence"] = finding.evidence
        fields[f"findings.{finding.item}.source"] = finding.source
    for number, action in enumerate(form.actions):
        fields[f"actions.{number}.description"] = action.description
        if not action.owner:  # an owner from the list is a name from the list, not typing
            fields[f"actions.{number}.owner_org"] = action.owner_org
    return fields


# --------------------------------------------------------------------------- reading


def _record(assessment: Assessment, events: tuple[dict, ...] = ()) -> AssessmentRecord:
    form = AssessmentForm(
        assessed_on=assessment.assessed_on,
        assessing_org=assessment.assessing_org or "",
        lead_assessor=assessment.lead_assessor or "",
        partners=assessment.partners or "",
        young_people_consulted=bool(assessment.young_people_consulted),
        families_consulted=bool(assessment.families_consulted),
        overall_risk=assessment.overall_risk,
        goals=assessment.goals or "",
        next_review_on=assessment.next_review_on,
        findings=tuple(
            FindingInput(f.item, f.score, f.evidence or "", f.source or "", f.reliability)
            for f in sorted(assessment.findings, key=lambda f: _item_order(f.item))
        ),
        actions=tuple(
            ActionInput(
                a.description,
                a.owner_org,
                a.due_on,
                a.status,
                a.id,
                a.completed_on,
                a.kind,
                _owner_ref(a),
            )
            for a in sorted(assessment.actions, key=lambda a: a.id)
        ),
    )
    return AssessmentRecord(
        id=assessment.id,
        place_id=assessment.place_id,
        place_name=assessment.place.name,
        place_category=assessment.place.category,
        district_code=assessment.place.district_code,
        status=assessment.status,
        version=assessment.version,
        form=form,
        created_by=assessment.created_by,
        created_at=assessment.created_at,
        updated_by=assessment.updated_by,
        updated_at=assessment.updated_at,
        review_comment=assessment.review_comment,
        supersedes_id=assessment.supersedes_id,
        events=events,
    )


def _item_order(item: str) -> int:
    order = list(CHECKLIST)
    return order.index(item) if item in order else len(order)


def _events(session: Session, assessment_id: int) -> tuple[dict, ...]:
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.entity == "assessment", AuditEvent.entity_id == str(assessment_id))
        .order_by(AuditEvent.id)
    )
    return tuple(
        {"at": at, "actor": actor, "action": action, "detail": detail}
        for at, actor, action, detail in rows
    )


def load_assessment(engine: Engine, viewer: Viewer, assessment_id: int) -> AssessmentRecord:
    """Return one assessment with its findings, actions and audit trail.

    Raises
    ------
    LookupError
        When there is no such assessment.
    AccessDenied
        When its place is outside the viewer's districts.
    """
    with session_scope(engine) as session:
        assessment = _get(session, viewer, assessment_id)
        return _record(assessment, _events(session, assessment_id))


def place_history(engine: Engine, viewer: Viewer, place_id: int) -> list[AssessmentRecord]:
    """Return every assessment of a place, oldest first.

    Raises
    ------
    AccessDenied
        When the place is outside the viewer's districts.
    """
    with session_scope(engine) as session:
        _get_place(session, viewer, place_id)
        rows = session.scalars(
            select(Assessment)
            .where(Assessment.place_id == place_id)
            .options(selectinload(Assessment.findings), selectinload(Assessment.actions))
            .order_by(Assessment.assessed_on, Assessment.id)
        )
        return [_record(a, _events(session, a.id)) for a in rows]


def list_assessments(engine: Engine, viewer: Viewer) -> pd.DataFrame:
    """Return the assessments in the viewer's districts, newest first.

    The columns are those of :func:`store.queries.load_assessments`.
    """
    frame = load_assessments(engine, viewer.districts)
    return frame if viewer.districts else frame.head(0)


def approval_dates(engine: Engine, viewer: Viewer | Audience) -> pd.Series:
    """Return when each assessment in the reader's districts was approved, from the audit log.

    Returns
    -------
    pandas.Series
        Approval date (datetime64, the day) by assessment id. Assessments
        approved before the audit log existed (the demo, imports) are absent.
    """
    query = (
        select(AuditEvent.entity_id, func.min(AuditEvent.at).label("at"))
        .where(AuditEvent.action == "assessment.approved", AuditEvent.entity == "assessment")
        .group_by(AuditEvent.entity_id)
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
        in_scope = set(
            connection.scalars(
                select(Assessment.id)
                .join(Place, Place.id == Assessment.place_id)
                .where(Place.district_code.in_(viewer.districts))
            )
        )
    ids = frame["entity_id"].astype(int)
    at = pd.to_datetime(frame["at"], utc=True).dt.tz_localize(None).dt.normalize()
    series = pd.Series(at.to_numpy(), index=ids.to_numpy(), name="approved_on")
    return series.loc[series.index.isin(in_scope)].rename_axis("assessment_id")


# --------------------------------------------------------------------------- writing


HEADER_FIELDS: tuple[str, ...] = (
    "assessed_on",
    "assessing_org",
    "lead_assessor",
    "partners",
    "young_people_consulted",
    "families_consulted",
    "overall_risk",
    "goals",
    "next_review_on",
)
"""The assessment's own fields that a form sets (besides its findings and actions)."""


def _apply(
    session: Session, assessment: Assessment, form: AssessmentForm, viewer: Viewer, today: date
) -> None:
    who = _who(viewer)
    for name in HEADER_FIELDS:
        setattr(assessment, name, getattr(form, name))

    by_item = {f.item: f for f in assessment.findings}
    wanted = {f.item: f for f in form.findings}
    for item, finding in list(by_item.items()):
        if item not in wanted:
            assessment.findings.remove(finding)
    for item, typed in wanted.items():
        found = by_item.get(item)
        finding = found if found is not None else Finding(item=item, created_by=who)
        if found is None:
            assessment.findings.append(finding)
        finding.domain = CHECKLIST[item].domain
        finding.score = int(typed.score) if typed.score is not None else 0
        finding.evidence = typed.evidence.strip() or None
        finding.source = typed.source.strip() or None
        finding.reliability = typed.reliability
        finding.updated_by = who

    stored = {a.id: a for a in assessment.actions}
    kept = {a.id for a in form.actions if a.id is not None}
    for action_id, action in stored.items():
        if action_id not in kept:
            assessment.actions.remove(action)
    for typed_action in form.actions:
        known = stored.get(typed_action.id) if typed_action.id is not None else None
        action = known if known is not None else Action(created_by=who)
        if known is None:
            assessment.actions.append(action)
        _set_action(action, typed_action, who, today)


def _owner_ref(action: Action) -> str:
    """Return the action's owner as a reference (``user:ID``, ``org:ID``), "" for a typed one."""
    if action.owner_user_id is not None:
        return f"user:{action.owner_user_id}"
    if action.owner_org_id is not None:
        return f"org:{action.owner_org_id}"
    return ""


def _resolve_owners(
    session: Session, actions: tuple[ActionInput, ...], stored: dict[int, Action]
) -> tuple[tuple[ActionInput, ...], dict[str, str]]:
    """Return the actions with their owners from the list, and the problems by field.

    An owner is a reference (``user:ID`` or ``org:ID``) to an active person with a role
    that may act, or an active organisation; or, given by name, an organisation of that
    name (any case) or a person of that username. An action keeps the owner it has
    (retired, switched off, or typed before the list) while that is not changed. A typed
    owner that is not in the list is refused once the list holds an organisation; on a
    deployment with none listed yet it is kept as typed.
    """
    from services.organisations import OWNER_ROLES, parse_owner, user_owner_label
    from store.models import Organisation, User

    listed = session.scalar(select(func.count()).select_from(Organisation)) or 0
    resolved: list[ActionInput] = []
    errors: dict[str, str] = {}
    for number, typed in enumerate(actions):
        key = f"actions.{number}.owner_org"
        before = stored.get(typed.id) if typed.id is not None else None
        kept_ref = _owner_ref(before) if before is not None else None
        ref = typed.owner
        text = " ".join(typed.owner_org.split())
        if not ref:
            if before is not None and text == before.owner_org:
                resolved.append(replace(typed, owner=kept_ref, owner_org=before.owner_org))
                continue
            if not text:
                resolved.append(typed)  # validate() says the owner is missing
                continue
            organisation = session.scalar(
                select(Organisation).where(func.lower(Organisation.name) == text.lower())
            )
            user = session.scalar(select(User).where(func.lower(User.username) == text.lower()))
            if organisation is not None:
                ref = f"org:{organisation.id}"
            elif user is not None:
                ref = f"user:{user.id}"
            elif listed == 0:
                resolved.append(replace(typed, owner="", owner_org=text))
                continue
            else:
                errors[key] = (
                    f"'{text}' is not in the list of owners. Choose an organisation or a "
                    "person from the list; an administrator adds organisations on "
                    "Data > Organisations."
                )
                resolved.append(typed)
                continue
        owner = parse_owner(ref)
        unchanged = ref == kept_ref
        if owner is None:
            errors[key] = "Choose who owns the action from the list."
            resolved.append(typed)
        elif owner.kind == "org":
            organisation = session.get(Organisation, owner.id)
            if organisation is None:
                errors[key] = "That organisation is no longer in the list; choose another."
            elif not organisation.active and not unchanged:
                errors[key] = (
                    f"{organisation.name} is retired from the list of organisations; "
                    "choose another owner."
                )
            resolved.append(
                replace(typed, owner=ref, owner_org=organisation.name if organisation else text)
            )
        else:
            user = session.get(User, owner.id)
            if user is None:
                errors[key] = "That person has no account any more; choose another owner."
            elif not unchanged and (
                not user.active or user.role not in OWNER_ROLES
            ):
                errors[key] = (
                    f"{user.display_name or user.username} cannot own actions (their account "
                    "is switched off, or their role cannot update actions); choose another."
                )
            resolved.append(
                replace(
                    typed, owner=ref, owner_org=user_owner_label(user)[:200] if user else text
                )
            )
    return tuple(resolved), errors


def _set_owner(action: Action, typed: ActionInput) -> None:
    from services.organisations import parse_owner

    if typed.owner is None:  # not resolved: leave the stored owner
        return
    owner = parse_owner(typed.owner)
    action.owner_user_id = owner.id if owner is not None and owner.kind == "user" else None
    action.owner_org_id = owner.id if owner is not None and owner.kind == "org" else None


def _set_action(action: Action, typed: ActionInput, who: str, today: date) -> None:
    action.description = typed.description.strip()
    action.owner_org = typed.owner_org.strip()
    _set_owner(action, typed)
    if typed.due_on is not None:  # required: the form's check refuses an action without one
        action.due_on = typed.due_on
    if typed.status == "done" and action.status != "done":
        action.completed_on = typed.completed_on or today
    elif typed.status != "done":
        action.completed_on = None
    action.status = typed.status
    if typed.kind is not None:
        action.kind = typed.kind
    action.updated_by = who


def create_draft(
    engine: Engine,
    viewer: Viewer,
    place_id: int,
    *,
    today: date | None = None,
) -> int:
    """Start a draft assessment of a place and return its id.

    When the place has an approved assessment, the draft starts from a copy of
    its findings, partners, risk and goals (a review), and will supersede it
    when approved.

    Raises
    ------
    AccessDenied
        When the viewer may not record assessments, or the place is outside
        their districts.
    IllegalTransition
        When the place already has an assessment in progress (draft, submitted
        or returned): open that one instead.
    """
    viewer.require(viewer.may_edit_assessments, "record assessments")
    today = today or date.today()
    with session_scope(engine) as session:
        place = _get_place(session, viewer, place_id)
        open_one = session.scalar(
            select(Assessment).where(
                Assessment.place_id == place_id,
                Assessment.status.in_(("draft", "submitted", "returned")),
            )
        )
        if open_one is not None:
            raise IllegalTransition(
                f"{place.name} already has an assessment in progress ({open_one.status}, "
                f"started by {open_one.created_by} on {open_one.assessed_on:%d %b %Y}). "
                "Open that one from your queue instead of starting another."
            )
        previous = session.scalar(
            select(Assessment)
            .where(Assessment.place_id == place_id, Assessment.status == "approved")
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        )
        who = _who(viewer)
        assessment = Assessment(
            place_id=place_id,
            assessing_org=viewer.organisation or "",
            lead_assessor=viewer.display_name or viewer.username,
            assessed_on=today,
            status="draft",
            created_by=who,
            updated_by=who,
            supersedes_id=previous.id if previous else None,
        )
        if previous is not None:
            assessment.partners = previous.partners
            assessment.overall_risk = previous.overall_risk
            assessment.goals = previous.goals
            assessment.findings = [
                Finding(
                    domain=f.domain,
                    item=f.item,
                    score=f.score,
                    evidence=f.evidence,
                    source=f.source,
                    reliability=f.reliability,
                    created_by=who,
                    updated_by=who,
                )
                for f in previous.findings
            ]
        session.add(assessment)
        session.flush()
        audit.record(
            session,
            actor=who,
            action="assessment.created",
            entity="assessment",
            entity_id=assessment.id,
            detail={"place_id": place_id, "to": "draft", "review_of": assessment.supersedes_id},
        )
        return assessment.id


def save_draft(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    form: AssessmentForm,
    *,
    expected_version: int,
    today: date | None = None,
) -> int:
    """Save what was typed into a draft or returned assessment; return the new version.

    Parameters
    ----------
    engine, viewer
        The database and who is saving.
    assessment_id
        The assessment.
    form
        What was typed.
    expected_version
        The version the person opened; a different stored version means
        someone else saved in between.
    today
        For the date checks; the real date by default.

    Raises
    ------
    AccessDenied
        For a role that may not record assessments.
    AssessmentInvalid
        With every problem by field: bad dates, a place outside the viewer's
        districts, a past due date on a new action...
    StaleAssessment
        When the stored version is not ``expected_version``.
    IllegalTransition
        When the assessment is no longer a draft or returned.
    """
    viewer.require(viewer.may_edit_assessments, "record assessments")
    today = today or date.today()
    with session_scope(engine) as session:
        assessment = _edit(session, viewer, assessment_id, form, expected_version, today, False)
        audit.record(
            session,
            actor=_who(viewer),
            action="assessment.saved",
            entity="assessment",
            entity_id=assessment_id,
            detail={"status": assessment.status, "version": assessment.version},
        )
        return assessment.version


def _edit(
    session: Session,
    viewer: Viewer,
    assessment_id: int,
    form: AssessmentForm,
    expected_version: int,
    today: date,
    complete: bool,
) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise LookupError(f"There is no assessment number {assessment_id}.")
    errors: dict[str, str] = {}
    problem = _place_in_scope(viewer, assessment.place)
    if problem:
        errors["place"] = problem
    else:
        stale = _stale(assessment, expected_version)
        if stale:
            errors["version"] = stale
        elif assessment.status not in EDITABLE:
            raise IllegalTransition(
                f"The assessment of {assessment.place.name} is {assessment.status} and can no "
                "longer be changed. Start a new assessment of the place to record changes."
            )
    errors.update(validate(form, complete=complete, today=today))
    known = {a.id for a in assessment.actions}
    for number, action in enumerate(form.actions):
        if action.id is not None and action.id not in known:
            errors[f"actions.{number}"] = "This action belongs to another assessment."
    actions, owner_errors = _resolve_owners(
        session, form.actions, {a.id: a for a in assessment.actions}
    )
    for name, message in owner_errors.items():
        errors.setdefault(name, message)
    form = replace(form, actions=actions)
    if "version" in errors:
        raise StaleAssessment(errors)
    if errors:
        raise AssessmentInvalid(errors)
    with session.no_autoflush:  # one UPDATE, so one new version
        _apply(session, assessment, form, viewer, today)
        _touch(assessment, viewer)
    _flush(session, assessment)
    return assessment


def submit(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    *,
    expected_version: int,
    form: AssessmentForm | None = None,
    today: date | None = None,
) -> int:
    """Save (when a form is given) and submit an assessment for a lead's review.

    Returns the new version. The whole assessment must be complete (see
    :func:`validate` with ``complete=True``); otherwise nothing is saved.

    Raises
    ------
    AssessmentInvalid, StaleAssessment, IllegalTransition, AccessDenied
        As for :func:`save_draft`; ``IllegalTransition`` also when the
        assessment is not a draft or returned.
    """
    viewer.require(viewer.may_edit_assessments, "submit assessments")
    today = today or date.today()
    with session_scope(engine) as session:
        if form is None:
            stored = _get(session, viewer, assessment_id)
            form = _record(stored).form
        assessment = _edit(session, viewer, assessment_id, form, expected_version, today, True)
        _transition(session, viewer, assessment, "submit")
        _flush(session, assessment)
        queued = _queue_notifications(session, viewer, assessment, "submit")
        version = assessment.version
    _send_notifications(engine, queued)
    return version


def approve(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    *,
    expected_version: int,
    comment: str | None = None,
) -> int:
    """Approve a submitted assessment (leads only); return the new version.

    The place's previously approved assessment becomes superseded, in the same
    transaction.

    Raises
    ------
    AccessDenied
        For anyone but a safeguarding lead in scope.
    IllegalTransition
        When the assessment is not submitted.
    StaleAssessment
        When it changed since the lead opened it.
    AssessmentInvalid
        When the comment, or the assessment's own text, holds personal details
        (field ``review_comment``).
    """
    viewer.require(viewer.may_approve, "approve assessments")
    _check_comment(comment)
    with session_scope(engine) as session:
        assessment = _get(session, viewer, assessment_id)
        _check_version(assessment, expected_version)
        if personal_problems(free_text(_record(assessment).form)):
            raise AssessmentInvalid(
                {
                    "review_comment": "It holds personal details (marked above), so it cannot "
                    "be approved: return it to the assessors to remove them."
                }
            )
        _transition(session, viewer, assessment, "approve", comment=comment or None)
        if comment:
            assessment.review_comment = comment.strip()
        older = session.scalars(
            select(Assessment).where(
                Assessment.place_id == assessment.place_id,
                Assessment.status == "approved",
                Assessment.id != assessment.id,
            )
        ).all()
        for previous in older:
            _transition(session, viewer, previous, "supersede", by=assessment.id)
        if assessment.supersedes_id is None and older:
            assessment.supersedes_id = max(older, key=lambda a: (a.assessed_on, a.id)).id
        _flush(session, assessment)
        queued = _queue_notifications(session, viewer, assessment, "approve")
        version = assessment.version
    _send_notifications(engine, queued)
    return version


def _queue_notifications(
    session: Session, viewer: Viewer, assessment: Assessment, step: str
) -> list[int]:
    """Queue the step's e-mails in its transaction (``services.notifications``); return their ids.

    Settings that cannot be read queue nothing: the step itself must not fail for them.
    """
    from services import notifications

    try:
        settings = notifications.smtp_settings()
    except notifications.NotificationError as problem:
        _log.warning("Notifications are off: %s", problem)
        return []
    return notifications.queue_for_step(
        session, assessment, step, actor=_who(viewer), settings=settings
    )


def _send_notifications(engine: Engine, queued: list[int]) -> None:
    """Send the step's e-mails after its commit; a failure leaves them pending, never raises."""
    if not queued:
        return
    from services import notifications

    try:
        delivery = notifications.deliver_pending(engine, ids=queued)
    except Exception:  # the change is committed; send-reminders retries what is pending
        _log.exception("Notifications %s could not be sent; they stay pending.", queued)
        return
    if delivery.failed:
        _log.warning(
            "Notifications %s could not be sent (%s); send-reminders retries them.",
            delivery.failed,
            delivery.error,
        )


def _check_comment(comment: str | None) -> None:
    """Refuse a review comment that holds personal details (field ``review_comment``)."""
    problems = personal_problems({"review_comment": comment})
    if problems:
        raise AssessmentInvalid(problems)


def return_for_changes(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    *,
    expected_version: int,
    comment: str,
) -> int:
    """Return a submitted assessment to its authors with a comment (leads only).

    Raises
    ------
    AssessmentInvalid
        When the comment is empty (field ``review_comment``).
    AccessDenied, IllegalTransition, StaleAssessment
        As for :func:`approve`.
    """
    viewer.require(viewer.may_approve, "return assessments")
    if not comment or not comment.strip():
        raise AssessmentInvalid(
            {"review_comment": "Say what needs to change before the assessment is returned."}
        )
    _check_comment(comment)
    with session_scope(engine) as session:
        assessment = _get(session, viewer, assessment_id)
        _check_version(assessment, expected_version)
        _transition(session, viewer, assessment, "return", comment=comment.strip())
        assessment.review_comment = comment.strip()
        _flush(session, assessment)
        queued = _queue_notifications(session, viewer, assessment, "return")
        version = assessment.version
    _send_notifications(engine, queued)
    return version


def add_action(
    engine: Engine,
    viewer: Viewer,
    assessment_id: int,
    action: ActionInput,
    *,
    today: date | None = None,
) -> int:
    """Add a follow-up action to an assessment that is not superseded; return its id.

    Raises
    ------
    AssessmentInvalid
        For a missing description, owner or due date, or a due date in the past.
    IllegalTransition
        For a superseded assessment.
    """
    viewer.require(viewer.may_edit_assessments, "add actions")
    today = today or date.today()
    errors = validate(
        AssessmentForm(assessed_on=today, actions=(replace(action, id=None),)),
        complete=False,
        today=today,
    )
    errors = {k.replace("actions.0.", ""): v for k, v in errors.items()}
    problems = personal_problems({"description": action.description, "owner_org": action.owner_org})
    errors.update({k: v for k, v in problems.items() if k not in errors})
    if errors:
        raise AssessmentInvalid(errors)
    with session_scope(engine) as session:
        assessment = _get(session, viewer, assessment_id)
        if assessment.status == "superseded":
            raise IllegalTransition(
                f"This assessment of {assessment.place.name} has been superseded; add the "
                "action to the current one."
            )
        (action,), owner_errors = _resolve_owners(session, (replace(action, id=None),), {})
        if owner_errors:
            raise AssessmentInvalid({"owner_org": next(iter(owner_errors.values()))})
        row = Action(assessment_id=assessment_id, created_by=_who(viewer))
        _set_action(row, action, _who(viewer), today)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=_who(viewer),
            action="action.added",
            entity="action",
            entity_id=row.id,
            detail={
                "assessment_id": assessment_id,
                "owner_org": row.owner_org,
                "owner": _owner_ref(row) or None,
            },
        )
        return row.id


def update_action(
    engine: Engine,
    viewer: Viewer,
    action_id: int,
    *,
    status: str,
    today: date | None = None,
) -> None:
    """Set an action's status (open, done, dropped); done records today as completed.

    Raises
    ------
    AssessmentInvalid
        For an unknown status (field ``status``).
    AccessDenied
        For a role that may not change actions, or a place outside scope.
    """
    viewer.require(viewer.may_edit_assessments, "update actions")
    if status not in ACTION_STATUSES:
        raise AssessmentInvalid(
            {"status": f"The status must be one of {', '.join(ACTION_STATUSES)}."}
        )
    with session_scope(engine) as session:
        action = session.get(Action, action_id)
        if action is None or action.assessment_id is None:
            raise LookupError(f"There is no assessment action number {action_id}.")
        _get(session, viewer, action.assessment_id)
        before = action.status
        today = today or date.today()
        typed = ActionInput(action.description, action.owner_org, action.due_on, status, action.id)
        # the owner is left as stored (typed.owner is None)
        _set_action(action, typed, _who(viewer), today)
        audit.record(
            session,
            actor=_who(viewer),
            action="action.status",
            entity="action",
            entity_id=action_id,
            detail={"from": before, "to": status, "assessment_id": action.assessment_id},
        )


def add_place(
    engine: Engine,
    viewer: Viewer,
    name: str,
    category: str,
    postcode: str,
) -> int:
    """Add a place to the register, located by its postcode; return its id.

    The point is the postcode's grid reference (ONS Postcode Directory, British
    National Grid) and the district the postcode's.

    Raises
    ------
    AccessDenied
        For a role that may not record assessments.
    AssessmentInvalid
        With every problem by field: ``name``, ``category``, ``postcode``
        (malformed, unknown, or outside the viewer's districts).
    """
    from geo.postcodes import lookup_postcodes

    viewer.require(viewer.may_edit_assessments, "add places")
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Enter the place's name."
    errors.update(personal_problems({"name": name}))
    if category not in PLACE_CATEGORIES:
        errors["category"] = f"Choose a category ({', '.join(PLACE_CATEGORIES.values())})."
    found = lookup_postcodes([postcode]).iloc[0]
    district = found["district_code"]
    if found["postcode"] is None:
        errors["postcode"] = f"'{postcode}' is not a UK postcode."
    elif district is None or pd.isna(found["easting"]):
        errors["postcode"] = f"{postcode.upper()} is not in the ONS Postcode Directory."
    elif not viewer.may_see(district):
        errors["postcode"] = (
            f"{postcode.upper()} is in district {district}, outside your districts "
            f"({', '.join(viewer.districts)})."
        )
    if errors:
        raise AssessmentInvalid(errors)
    who = _who(viewer)
    with session_scope(engine) as session:
        clash = session.scalar(
            select(Place.id).where(
                func.lower(Place.name) == name.lower(), Place.district_code == district
            )
        )
        if clash is not None:
            raise AssessmentInvalid({"name": f"{name} is already in the register."})
        place = Place(
            place_key=f"U-{uuid4().hex[:16]}",
            name=name,
            category=category,
            easting=float(found["easting"]),
            northing=float(found["northing"]),
            postcode=found["postcode"],
            district_code=district,
            responsible_org=viewer.organisation,
            created_by=who,
            updated_by=who,
        )
        session.add(place)
        session.flush()
        audit.record(
            session,
            actor=who,
            action="place.added",
            entity="place",
            entity_id=place.id,
            detail={"district_code": district, "category": category},
        )
        return place.id


# --------------------------------------------------------------------------- history


def changes(old: AssessmentRecord, new: AssessmentRecord) -> list[dict[str, object]]:
    """Return what changed from one assessment of a place to the next.

    Returns
    -------
    list of dict
        ``what`` (a readable field or checklist item), ``before`` and ``after``,
        for the overall risk, dates, consultation, goals, and each finding's
        score, evidence and reliability (a finding added or dropped shows
        "not recorded" on the other side).
    """
    out: list[dict[str, object]] = []

    def note(what: str, before: object, after: object) -> None:
        if before != after:
            out.append({"what": what, "before": before, "after": after})

    for name, what in (
        ("overall_risk", "Overall risk"),
        ("partners", "Partners"),
        ("young_people_consulted", "Young people consulted"),
        ("families_consulted", "Families consulted"),
        ("goals", "Goals"),
        ("next_review_on", "Next review"),
    ):
        note(what, getattr(old.form, name), getattr(new.form, name))
    before = {f.item: f for f in old.form.findings}
    after = {f.item: f for f in new.form.findings}
    for item in sorted(before.keys() | after.keys(), key=_item_order):
        title = CHECKLIST[item].label if item in CHECKLIST else item
        a, b = before.get(item), after.get(item)
        if a is None or b is None:
            note(
                f"{title}: score",
                a.score if a else "not recorded",
                b.score if b else "not recorded",
            )
            continue
        note(f"{title}: score", a.score, b.score)
        note(f"{title}: evidence", a.evidence, b.evidence)
        note(f"{title}: reliability", a.reliability, b.reliability)
    return out


# --------------------------------------------------------------------------- the queue


def recent_flags(
    engine: Engine, districts: tuple[str, ...], *, end: date, months: int = 3
) -> pd.DataFrame:
    """Return the places of some districts flagged over the last months of data, most urgent first.

    :func:`store.sites.flag_sites` with the engine's default thresholds (200 m, 10
    incidents, FDR q < 0.05, 12 months of trend) on every type of incident, over the
    ``months`` calendar months ending with ``end``'s month, on the default 250 m British
    National Grid squares over the districts: the Map's default view of those districts.

    Parameters
    ----------
    engine
        The database.
    districts
        ONS codes: an audience's districts (the queue's), read and flagged as one area;
        empty for every district.
    end, months
        The period: ``months`` calendar months to ``end``'s month.

    Returns
    -------
    pandas.DataFrame
        :data:`store.sites.FLAG_COLUMNS`, unsuppressed. Pass it through
        :func:`services.reads.queue_flags` before showing it.
    """
    from geo.grid import build_grid
    from store import queries
    from store.sites import FLAG_COLUMNS, flag_sites, read_sites

    area = queries.load_districts(engine, districts)
    if area.empty:
        return pd.DataFrame(columns=list(FLAG_COLUMNS))
    codes = tuple(area["code"])
    last = pd.Period(end, "M")
    flags = flag_sites(
        queries.load_places(engine, codes),
        read_sites(engine, codes),
        build_grid(area),
        first=str(last - (months - 1)),
        last=str(last),
    )
    return pd.DataFrame(flags.drop(columns="geometry"))
