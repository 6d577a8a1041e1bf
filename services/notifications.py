"""E-mail notifications: who is told what, when, through the deployment's SMTP server.

What is sent, to whom (issue 23):

- ``submitted``: an assessment is submitted; to the safeguarding leads of its district.
- ``returned``, ``approved``: a lead returns or approves it; to its assessors (who started
  it, who submitted it).
- ``action_due``: an open action falls due within 7 days; to its owner (the person, or the
  organisation's contact address).
- ``action_overdue``: an open action is past its due date; the same.
- ``digest``: once a week, to each person: the actions they or their organisation own,
  their assessments in progress, and (leads) what awaits review.

Nobody is told of their own step. Each person can turn any kind off
(:func:`set_preferences`). Messages hold no child data: only the place, its status and a
link; every message passes the personal-text checker (``services.text_checks``) before it is
sent, and one that fails is held back (``blocked``), never sent.

Nothing is sent twice. Each message is a row of ``notifications`` with a unique ``key``
(kind, record, occasion, recipient). Status changes are queued in the same transaction as
the change, then sent after the commit (:func:`deliver_pending`); a failing SMTP server
leaves them ``pending`` and the change stands. ``safer-spaces send-reminders`` (once a day,
from cron or a systemd timer) queues the due, overdue and weekly ones, and sends every
pending message; two runs at once claim each message once.

Settings (environment first, then ``.streamlit/secrets.toml``; see ``config.settings``):

``SAFER_SPACES_SMTP_HOST`` (secrets: ``smtp_host``)
    The SMTP server. Unset: no notifications are queued or sent.
``SAFER_SPACES_SMTP_PORT`` (secrets: ``smtp_port``)
    Its port; 587 for ``starttls``, 465 for ``ssl``, 25 for ``none`` by default.
``SAFER_SPACES_SMTP_TLS`` (secrets: ``smtp_tls``)
    ``starttls`` (default), ``ssl`` (TLS from the start) or ``none`` (a relay on the
    same machine or network only).
``SAFER_SPACES_SMTP_USER``, ``SAFER_SPACES_SMTP_PASSWORD``
    (secrets: ``smtp_user``, ``smtp_password``): the account to sign in to the server
    with; none by default.
``SAFER_SPACES_SMTP_FROM`` (secrets: ``smtp_from``)
    The sender's address; ``safer-spaces@`` and the server's host by default.
``SAFER_SPACES_BASE_URL`` (secrets: ``base_url``)
    The app's address for links in messages; ``http://localhost:8501`` by default.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import pandas as pd
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from config.settings import raw
from services.access import AccessDenied, Viewer
from services.organisations import is_email_address
from services.text_checks import personal_kinds
from store import audit
from store.db import session_scope
from store.models import (
    Action,
    Assessment,
    AuditEvent,
    District,
    MacePanel,
    Notification,
    NotificationPreference,
    Organisation,
    Place,
    User,
)
from store.vocabulary import ACTION_KINDS, label

__all__ = [
    "DUE_DAYS",
    "KINDS",
    "Delivery",
    "NotificationError",
    "Outgoing",
    "Preferences",
    "ReminderRun",
    "SmtpSettings",
    "deliver_pending",
    "guard",
    "plan_reminders",
    "preferences",
    "queue_for_step",
    "recent_for",
    "send_reminders",
    "set_preferences",
    "smtp_settings",
]

#: Every kind of notification, as a person turning them off reads it.
KINDS: dict[str, str] = {
    "submitted": "An assessment in your districts is submitted for your review (leads)",
    "returned": "An assessment you made is returned for changes",
    "approved": "An assessment you made is approved",
    "action_due": "An action you or your organisation own falls due within 7 days",
    "action_overdue": "An action you or your organisation own is overdue",
    "digest": "A weekly digest of what is yours",
}

#: An open action is "due" this many days ahead of its date.
DUE_DAYS = 7
#: A message claimed by a sender that did not finish for this long is tried again.
STALE_CLAIM = timedelta(minutes=15)
#: At most this many lines of each list in a digest.
DIGEST_LINES = 20

_STEP_KIND = {"submit": "submitted", "return": "returned", "approve": "approved"}
_STATUS_WORDS = {
    "submitted": "submitted for review",
    "returned": "returned for changes",
    "approved": "approved",
}


class NotificationError(ValueError):
    """Notification settings or preferences are not right; the message says what to fix."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server, and the app's address for links (see the module notes)."""

    host: str | None
    port: int = 587
    tls: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "safer-spaces@localhost"
    base_url: str = "http://localhost:8501"
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        """Return True when a server is set, so notifications are queued and sent."""
        return bool(self.host)


def smtp_settings() -> SmtpSettings:
    """Return the SMTP settings from the environment or the secrets file.

    Raises
    ------
    NotificationError
        For a TLS mode other than ``starttls``, ``ssl`` or ``none``, or a port that is
        not a number.
    """
    host = raw("smtp_host")
    tls = (raw("smtp_tls") or "starttls").strip().lower()
    if tls not in ("starttls", "ssl", "none"):
        raise NotificationError(
            f"The SMTP TLS setting is '{tls}'; use starttls, ssl or none "
            "(SAFER_SPACES_SMTP_TLS or smtp_tls in .streamlit/secrets.toml)."
        )
    raw_port = raw("smtp_port")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[tls]
    try:
        port = int(raw_port) if raw_port else default_port
    except ValueError as error:
        raise NotificationError(
            f"The SMTP port is '{raw_port}'; it must be a number such as {default_port}."
        ) from error
    base = (raw("base_url") or "http://localhost:8501").rstrip("/")
    return SmtpSettings(
        host=host.strip() if host else None,
        port=port,
        tls=tls,
        user=raw("smtp_user"),
        password=raw("smtp_password"),
        sender=raw("smtp_from")
        or f"safer-spaces@{(host or 'localhost').strip()}",
        base_url=base,
    )


# --------------------------------------------------------------------------- preferences


@dataclass(frozen=True)
class Preferences:
    """A person's notification settings as the preferences section shows them.

    ``address`` is where their e-mails go: ``email`` when they gave one, else their
    username when it is an e-mail address, else None (nothing is sent to them).
    """

    email: str | None
    address: str | None
    kinds_off: tuple[str, ...]
    kinds: dict[str, str]


def _address(user: User, pref: NotificationPreference | None) -> str | None:
    if pref is not None and pref.email:
        return pref.email
    return user.username.lower() if is_email_address(user.username) else None


def _kinds_for(role: str | None) -> dict[str, str]:
    if role == "lead":
        return dict(KINDS)
    return {k: v for k, v in KINDS.items() if k != "submitted"}


def _user(session: Session, viewer: Viewer) -> User:
    user = session.scalar(select(User).where(User.username == viewer.username))
    if user is None:
        raise AccessDenied(f"There is no account '{viewer.username}' to keep preferences for.")
    return user


def preferences(engine: Engine, viewer: Viewer) -> Preferences:
    """Return the signed-in person's notification preferences."""
    with session_scope(engine) as session:
        user = _user(session, viewer)
        pref = session.get(NotificationPreference, user.id)
        return Preferences(
            email=pref.email if pref else None,
            address=_address(user, pref),
            kinds_off=tuple(pref.kinds_off or ()) if pref else (),
            kinds=_kinds_for(user.role),
        )


def set_preferences(
    engine: Engine,
    viewer: Viewer,
    *,
    email: str | None,
    kinds_off: Iterable[str],
    origin: str | None = None,
) -> None:
    """Save the signed-in person's own address for notifications and the kinds turned off.

    Raises
    ------
    NotificationError
        For an address that is not an e-mail address, or an unknown kind.
    """
    address = (email or "").strip().lower() or None
    if address is not None and not is_email_address(address):
        raise NotificationError(
            f"'{address}' is not an e-mail address (like name@council.gov.uk); leave it "
            "empty to use the address you sign in with."
        )
    off = sorted(set(kinds_off))
    unknown = [k for k in off if k not in KINDS]
    if unknown:
        raise NotificationError(f"There is no kind of notification {', '.join(unknown)}.")
    with session_scope(engine) as session:
        user = _user(session, viewer)
        pref = session.get(NotificationPreference, user.id)
        before = {"email": pref.email, "off": list(pref.kinds_off or [])} if pref else {}
        if pref is None:
            pref = NotificationPreference(
                user_id=user.id, created_by=viewer.username, updated_by=viewer.username
            )
            session.add(pref)
        pref.email = address
        pref.kinds_off = off
        pref.updated_by = viewer.username
        audit.record(
            session,
            actor=viewer.username,
            action="notification preferences changed",
            entity="user",
            entity_id=user.id,
            detail={"before": before, "after": {"email": address, "off": off}},
            origin=origin,
        )


def recent_for(engine: Engine, viewer: Viewer, *, limit: int = 10) -> pd.DataFrame:
    """Return the last messages queued for the signed-in person: when, subject, status."""
    with engine.connect() as connection:
        user_id = connection.scalar(select(User.id).where(User.username == viewer.username))
        frame = pd.read_sql(
            select(Notification.created_at, Notification.subject, Notification.status)
            .where(Notification.user_id == (user_id if user_id is not None else -1))
            .order_by(Notification.id.desc())
            .limit(limit),
            connection,
        )
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Outgoing:
    """A message to queue: its unique key, kind, recipient and text."""

    key: str
    kind: str
    recipient: str
    subject: str
    body: str
    user_id: int | None = None
    organisation_id: int | None = None


def guard(subject: str, body: str) -> list[str]:
    """Return the kinds of personal detail found in a message (empty when it may be sent).

    The last check before a message leaves: messages hold only places, statuses, dates
    and links, so anything the personal-text checker finds means a place name or other
    text carried something it should not, and the message is held back.

    Examples
    --------
    >>> guard("Assessment of Victoria Park approved", "Open it: https://app.example/a?x=1")
    []
    >>> guard("Assessment approved", "Call 07700 900123 about Jordan Smith, 14")
    ['name with an age', 'phone number']
    """
    return sorted(set(personal_kinds(subject)) | set(personal_kinds(body)))


def _footer(settings: SmtpSettings, why: str) -> str:
    return (
        f"\n\n--\nYou receive this because {why}. Choose which e-mails you receive under "
        f"Assessments > Notifications: {settings.base_url}/assessments\n"
        "Safer Spaces e-mails name places only, never children.\n"
    )


def _link(settings: SmtpSettings, assessment_id: int | None) -> str:
    if assessment_id is None:
        return f"{settings.base_url}/mace"
    return f"{settings.base_url}/assessments?assessment={assessment_id}"


def _status_message(
    settings: SmtpSettings, kind: str, place: str, district: str, assessment_id: int
) -> tuple[str, str, str]:
    words = _STATUS_WORDS[kind]
    subject = f"Safer Spaces: the assessment of {place} is {words}"
    why = {
        "submitted": f"you are a safeguarding lead for {district}",
        "returned": "you made this assessment",
        "approved": "you made this assessment",
    }[kind]
    body = (
        f"The assessment of {place} ({district}) is now {words}.\n\n"
        f"Open it: {_link(settings, assessment_id)}" + _footer(settings, why)
    )
    return subject, body, why


def _users_by_name(session: Session, usernames: Iterable[str]) -> list[User]:
    names = {u.lower() for u in usernames if u}
    if not names:
        return []
    return list(session.scalars(select(User).where(User.username.in_(names))))


def _prefs(session: Session, user_ids: Iterable[int]) -> dict[int, NotificationPreference]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id.in_(ids))
    )
    return {p.user_id: p for p in rows}


def _wants(user: User, pref: NotificationPreference | None, kind: str) -> str | None:
    """Return the person's address when they are active and take this kind, else None."""
    if not user.active or kind not in _kinds_for(user.role):
        return None
    if pref is not None and kind in (pref.kinds_off or ()):
        return None
    return _address(user, pref)


def _leads_of(session: Session, district_code: str) -> list[User]:
    """Return the active leads who cover a district (those with no district listed: all)."""
    leads = session.scalars(
        select(User)
        .options(selectinload(User.districts))
        .where(User.role == "lead", User.active.is_(True))
    ).all()
    return [u for u in leads if not u.districts or district_code in {d.code for d in u.districts}]


def _assessors(session: Session, assessment: Assessment) -> list[User]:
    """Return who made the assessment: the person who started it and who last submitted it."""
    submitter = session.scalar(
        select(AuditEvent.actor)
        .where(
            AuditEvent.entity == "assessment",
            AuditEvent.entity_id == str(assessment.id),
            AuditEvent.action == "assessment.submitted",
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return _users_by_name(session, [assessment.created_by, submitter or ""])


def queue_for_step(
    session: Session,
    assessment: Assessment,
    step: str,
    *,
    actor: str,
    settings: SmtpSettings | None = None,
) -> list[int]:
    """Queue the e-mails of an assessment's step, in the step's own transaction.

    ``submit`` tells the district's leads; ``return`` and ``approve`` tell the assessors.
    The person who took the step is not told. Called with the assessment at its new
    status and version (flushed); returns the ids of the queued notifications, to send
    once the transaction has committed (:func:`deliver_pending`). Nothing is queued when
    no SMTP server is set.
    """
    settings = settings or smtp_settings()
    kind = _STEP_KIND.get(step)
    if kind is None or not settings.enabled:
        return []
    place = assessment.place
    district = session.get(District, place.district_code)
    district_name = district.name if district else place.district_code
    people = (
        _leads_of(session, place.district_code)
        if kind == "submitted"
        else _assessors(session, assessment)
    )
    people = [u for u in people if u.username.lower() != actor.lower()]
    prefs = _prefs(session, (u.id for u in people))
    subject, body, _ = _status_message(settings, kind, place.name, district_name, assessment.id)
    outgoing = []
    for user in people:
        address = _wants(user, prefs.get(user.id), kind)
        if address is None:
            continue
        outgoing.append(
            Outgoing(
                key=f"{kind}:a{assessment.id}:v{assessment.version}:u{user.id}",
                kind=kind,
                recipient=address,
                subject=subject,
                body=body,
                user_id=user.id,
            )
        )
    return _queue(session, outgoing)


def _row(message: Outgoing) -> Notification:
    return Notification(
        key=message.key[:250],
        kind=message.kind,
        recipient=message.recipient,
        user_id=message.user_id,
        organisation_id=message.organisation_id,
        subject=message.subject[:250],
        body=message.body,
        status="pending",
        attempts=0,
    )


def _queue(session: Session, outgoing: Iterable[Outgoing]) -> list[int]:
    """Add the messages whose keys are new to the session's transaction; return their ids."""
    outgoing = list(outgoing)
    if not outgoing:
        return []
    known = set(
        session.scalars(
            select(Notification.key).where(Notification.key.in_([o.key for o in outgoing]))
        )
    )
    rows = []
    for message in outgoing:
        if message.key not in known:
            known.add(message.key)
            rows.append(_row(message))
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _queue_each(engine: Engine, outgoing: Iterable[Outgoing]) -> int:
    """Queue each message in a transaction of its own; one another sender queued is skipped."""
    added = 0
    for message in outgoing:
        try:
            with session_scope(engine) as session:
                session.add(_row(message))
        except IntegrityError:  # the same key, queued by a run at the same time
            continue
        added += 1
    return added


# --------------------------------------------------------------------------- reminders


@dataclass(frozen=True)
class _Owned:
    action_id: int
    assessment_id: int | None
    place: str
    kind: str
    due_on: date
    panel_held_on: date | None


def _open_actions(session: Session) -> list[tuple[Action, _Owned]]:
    """Return every open action of a current assessment or a MACE panel, with its place."""
    rows = session.execute(
        select(Action, Place.name, Assessment.status, MacePanel.held_on)
        .outerjoin(Assessment, Assessment.id == Action.assessment_id)
        .outerjoin(Place, Place.id == Assessment.place_id)
        .outerjoin(MacePanel, MacePanel.id == Action.panel_id)
        .where(Action.status == "open")
        .where(or_(Assessment.id.is_(None), Assessment.status != "superseded"))
        .order_by(Action.due_on, Action.id)
    ).all()
    out = []
    for action, place, _status, held_on in rows:
        where = place or (f"the MACE panel of {held_on:%d %b %Y}" if held_on else "a MACE panel")
        out.append(
            (
                action,
                _Owned(
                    action.id,
                    action.assessment_id,
                    where,
                    label(ACTION_KINDS, action.kind or "other"),
                    action.due_on,
                    held_on,
                ),
            )
        )
    return out


def _action_line(item: _Owned, today: date) -> str:
    state = "overdue" if item.due_on < today else "open"
    return f"- {item.place}: {item.kind} action, due {item.due_on:%d %b %Y} ({state})"


def _action_message(
    settings: SmtpSettings, kind: str, item: _Owned, today: date, why: str
) -> tuple[str, str]:
    when = f"{item.due_on:%d %b %Y}"
    if kind == "action_overdue":
        subject = f"Safer Spaces: an action at {item.place} is overdue (due {when})"
        status = f"was due on {when} and is still open"
    else:
        days = (item.due_on - today).days
        subject = f"Safer Spaces: an action at {item.place} is due on {when}"
        status = f"is due on {when} ({'today' if days == 0 else f'in {days} days'}) and is open"
    body = (
        f"An action at {item.place} ({item.kind}) {status}.\n\n"
        f"Open it: {_link(settings, item.assessment_id)}" + _footer(settings, why)
    )
    return subject, body


def _org_by_name(session: Session) -> dict[str, Organisation]:
    return {o.name.lower(): o for o in session.scalars(select(Organisation))}


def plan_reminders(session: Session, *, today: date, settings: SmtpSettings) -> list[Outgoing]:
    """Return the due, overdue and weekly digest messages for today (keys not yet checked).

    - ``action_due``: open actions due from today to ``DUE_DAYS`` ahead, once per action
      and due date, to the owner (a person, or the organisation's contact address);
    - ``action_overdue``: open actions past their due date, once per action and due date;
    - ``digest``: once per ISO week, to each active person with something of theirs.
    """
    actions = _open_actions(session)
    users = {u.id: u for u in session.scalars(select(User).options(selectinload(User.districts)))}
    prefs = _prefs(session, users)
    organisations = {o.id: o for o in session.scalars(select(Organisation))}
    out: list[Outgoing] = []

    for action, item in actions:
        if item.due_on < today:
            kind = "action_overdue"
        elif item.due_on <= today + timedelta(days=DUE_DAYS):
            kind = "action_due"
        else:
            continue
        if action.owner_user_id is not None and action.owner_user_id in users:
            user = users[action.owner_user_id]
            address = _wants(user, prefs.get(user.id), kind)
            if address is None:
                continue
            subject, body = _action_message(settings, kind, item, today, "you own this action")
            out.append(
                Outgoing(
                    f"{kind}:{action.id}:{item.due_on.isoformat()}:u{user.id}",
                    kind,
                    address,
                    subject,
                    body,
                    user_id=user.id,
                )
            )
        elif action.owner_org_id is not None and action.owner_org_id in organisations:
            organisation = organisations[action.owner_org_id]
            if not organisation.contact_email:
                continue
            why = f"this address is the contact of {organisation.name}, which owns this action"
            subject, body = _action_message(settings, kind, item, today, why)
            out.append(
                Outgoing(
                    f"{kind}:{action.id}:{item.due_on.isoformat()}:o{organisation.id}",
                    kind,
                    organisation.contact_email,
                    subject,
                    body,
                    organisation_id=organisation.id,
                )
            )

    out.extend(_digests(session, today=today, settings=settings, actions=actions, users=users))
    return out


def _digests(
    session: Session,
    *,
    today: date,
    settings: SmtpSettings,
    actions: list[tuple[Action, _Owned]],
    users: dict[int, User],
) -> list[Outgoing]:
    year, week, _ = today.isocalendar()
    prefs = _prefs(session, users)
    org_ids = {name: o.id for name, o in _org_by_name(session).items()}
    live = session.execute(
        select(
            Assessment.id, Assessment.status, Assessment.created_by, Place.name, Place.district_code
        )
        .join(Place, Place.id == Assessment.place_id)
        .where(Assessment.status.in_(("draft", "returned", "submitted")))
        .order_by(Place.name)
    ).all()
    out = []
    for user in users.values():
        address = _wants(user, prefs.get(user.id), "digest")
        if address is None:
            continue
        my_org = org_ids.get((user.organisation or "").lower())
        mine = [
            item
            for action, item in actions
            if action.owner_user_id == user.id
            or (my_org is not None and action.owner_org_id == my_org)
        ]
        covered = {d.code for d in user.districts}
        drafts = [
            (name, status)
            for _id, status, by, name, _code in live
            if status in ("draft", "returned") and (by or "").lower() == user.username.lower()
        ]
        waiting = [
            name
            for _id, status, _by, name, code in live
            if status == "submitted" and user.role == "lead" and (not covered or code in covered)
        ]
        if not (mine or drafts or waiting):
            continue
        lines = [f"What is yours in Safer Spaces, week {week} of {year}."]
        if mine:
            overdue = sum(1 for item in mine if item.due_on < today)
            soon = sum(
                1 for item in mine if today <= item.due_on <= today + timedelta(days=DUE_DAYS)
            )
            lines += [
                "",
                f"Open actions you or your organisation own: {len(mine)} "
                f"({overdue} overdue, {soon} due within {DUE_DAYS} days)",
                *(_action_line(item, today) for item in mine[:DIGEST_LINES]),
            ]
            if len(mine) > DIGEST_LINES:
                lines.append(f"- and {len(mine) - DIGEST_LINES} more")
        if drafts:
            words = {"draft": "draft", "returned": "returned for changes"}
            lines += [
                "",
                f"Your assessments in progress: {len(drafts)}",
                *(f"- {name}: {words[status]}" for name, status in drafts[:DIGEST_LINES]),
            ]
        if waiting:
            lines += [
                "",
                f"Submitted, awaiting a lead's review: {len(waiting)}",
                *(f"- {name}" for name in waiting[:DIGEST_LINES]),
            ]
        lines += ["", f"Open your queue: {settings.base_url}/assessments"]
        body = "\n".join(lines) + _footer(settings, "you have an account in Safer Spaces")
        out.append(
            Outgoing(
                f"digest:{year}-W{week:02d}:u{user.id}",
                "digest",
                address,
                f"Safer Spaces: your week ({len(mine)} open actions)",
                body,
                user_id=user.id,
            )
        )
    return out


# --------------------------------------------------------------------------- sending


@dataclass
class Delivery:
    """What one delivery round did: ids sent, ids that failed (kept pending), ids blocked."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)
    error: str | None = None


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    assert settings.host
    if settings.tls == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout,
            context=ssl.create_default_context(),
        )  # fmt: skip
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.tls == "starttls":
            server.starttls(context=ssl.create_default_context())
    if settings.user:
        server.login(settings.user, settings.password or "")
    return server


def _email(settings: SmtpSettings, row: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=(settings.host or "localhost"))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Safer-Spaces-Kind"] = row.kind
    message.set_content(row.body)
    return message


def _claim(engine: Engine, ids: list[int], now: datetime) -> list[int]:
    """Mark the pending messages as being sent by this sender; return those it got."""
    claimed = []
    with session_scope(engine) as session:
        session.execute(
            update(Notification)
            .where(Notification.status == "sending", Notification.claimed_at < now - STALE_CLAIM)
            .values(status="pending")
        )
    for notification_id in ids:
        with session_scope(engine) as session:
            result = session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.status == "pending")
                .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
            )
            got = getattr(result, "rowcount", 0)  # a CursorResult for an UPDATE
        if got:
            claimed.append(notification_id)
    return claimed


def _finish(engine: Engine, notification_id: int, **values: Any) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Notification).where(Notification.id == notification_id).values(**values)
        )


def deliver_pending(
    engine: Engine,
    settings: SmtpSettings | None = None,
    *,
    ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Delivery:
    """Send the pending messages (these ``ids`` only, when given), each once.

    Each message is first claimed (``pending`` -> ``sending``) so that two senders at once
    never both send it; then checked by :func:`guard` (a message with personal details is
    ``blocked`` and never sent); then sent over one SMTP connection. A message the server
    refuses, or all that remain when the server cannot be reached, go back to ``pending``
    with the error, for the next ``send-reminders``. Never raises for SMTP failures.
    """
    settings = settings or smtp_settings()
    now = now or datetime.now(UTC)
    report = Delivery()
    if not settings.enabled:
        report.error = "no SMTP server is set"
        return report
    query = select(Notification.id).where(Notification.status.in_(("pending", "sending")))
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return report
        query = query.where(Notification.id.in_(wanted))
    with engine.connect() as connection:
        candidates = list(connection.scalars(query.order_by(Notification.id)))
    claimed = _claim(engine, candidates, now)
    server: smtplib.SMTP | None = None
    try:
        for position, notification_id in enumerate(claimed):
            with session_scope(engine) as session:
                row = session.get(Notification, notification_id)
                assert row is not None
                found = guard(row.subject, row.body)
                message = None if found else _email(settings, row)
            if found:
                _finish(
                    engine, notification_id, status="blocked",
                    last_error=f"held back: personal details ({', '.join(found)})",
                )  # fmt: skip
                report.blocked.append(notification_id)
                continue
            try:
                if server is None:
                    server = _connect(settings)
                assert message is not None
                server.send_message(message)
            except (smtplib.SMTPException, OSError) as error:
                text = f"{type(error).__name__}: {error}"[:500]
                report.error = text
                unreachable = server is None or isinstance(
                    error, smtplib.SMTPServerDisconnected | OSError
                )
                rest = claimed[position:] if unreachable else [notification_id]
                for other in rest:
                    _finish(engine, other, status="pending", last_error=text)
                report.failed.extend(rest)
                if unreachable:
                    break
                continue
            _finish(engine, notification_id, status="sent", sent_at=datetime.now(UTC),
                    last_error=None)  # fmt: skip
            report.sent.append(notification_id)
    finally:
        if server is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                server.quit()
    return report


@dataclass
class ReminderRun:
    """What ``send-reminders`` did: the new messages (or those it would queue), and delivery."""

    queued: list[Outgoing]
    delivery: Delivery | None
    pending_before: int


def send_reminders(
    engine: Engine,
    *,
    today: date | None = None,
    dry_run: bool = False,
    settings: SmtpSettings | None = None,
) -> ReminderRun:
    """Queue today's due, overdue and digest messages, then send every pending message.

    Safe to run twice (or twice at once): a message whose key was queued before is not
    queued again, and each pending message is claimed by one sender. With ``dry_run``
    nothing is written or sent: the run says what it would queue.

    Raises
    ------
    NotificationError
        When no SMTP server is set (except with ``dry_run``).
    """
    settings = settings or smtp_settings()
    if not settings.enabled and not dry_run:
        raise NotificationError(
            "No SMTP server is set, so nothing can be sent. Set SAFER_SPACES_SMTP_HOST (or "
            "smtp_host in .streamlit/secrets.toml), or use --dry-run to see what would be sent."
        )
    today = today or date.today()
    with session_scope(engine) as session:
        planned = plan_reminders(session, today=today, settings=settings)
        keys = [o.key for o in planned]
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            known |= set(
                session.scalars(
                    select(Notification.key).where(Notification.key.in_(keys[start : start + 500]))
                )
            )
        fresh = [o for o in planned if o.key not in known]
        pending_before = len(
            session.scalars(
                select(Notification.id).where(Notification.status.in_(("pending", "sending")))
            ).all()
        )
    if dry_run:
        return ReminderRun(queued=fresh, delivery=None, pending_before=pending_before)
    _queue_each(engine, fresh)
    return ReminderRun(
        queued=fresh,
        delivery=deliver_pending(engine, settings),
        pending_before=pending_before,
    )
