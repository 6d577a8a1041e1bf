"""Organisations and people who own actions: the list an administrator keeps (issue 23).

An action's owner is a user (a person who signs in) or an organisation from this list.
An administrator adds, renames and retires organisations (Data > Organisations), each
change audited; a retired organisation keeps the actions it owns but takes no new ones.
An organisation's contact address receives the reminders of its actions
(``services.notifications``).

Owners are named in forms by a reference: ``user:ID`` or ``org:ID`` (:class:`Owner`).
Actions recorded before the list existed kept their typed owner: migration
``0010_owners_notifications`` made each distinct one an organisation, and
:func:`adopt_typed_owners` does the same for the demo's actions.

Settings: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from services.access import Viewer
from services.text_checks import personal_problems
from store import audit
from store.db import session_scope
from store.models import Action, Assessment, Organisation, Place, User

__all__ = [
    "OrganisationError",
    "Owner",
    "OwnerChoice",
    "actions_owned_by",
    "add_organisation",
    "adopt_typed_owners",
    "is_email_address",
    "list_organisations",
    "owner_choices",
    "owners_of",
    "parse_owner",
    "update_organisation",
    "user_owner_label",
]

#: The roles of people who may own actions: those who may update them.
OWNER_ROLES: tuple[str, ...] = ("officer", "lead", "admin")

#: A stand-in for "not given" in :func:`update_organisation`.
_UNCHANGED: Any = object()


class OrganisationError(ValueError):
    """An organisation could not be added or changed; the message says what to fix."""


def is_email_address(text: str | None) -> bool:
    """Return True when the text is one e-mail address (``name@council.gov.uk``).

    Examples
    --------
    >>> is_email_address("licensing@stafford.gov.uk"), is_email_address("Stafford BC")
    (True, False)
    """
    from services.users import EMAIL_ADDRESS

    return bool(text) and EMAIL_ADDRESS.fullmatch(str(text).strip().lower()) is not None


@dataclass(frozen=True)
class Owner:
    """A reference to an owner: ``kind`` is ``"user"`` or ``"org"``, ``id`` its row.

    Examples
    --------
    >>> Owner("org", 3).ref
    'org:3'
    >>> parse_owner("user:12")
    Owner(kind='user', id=12)
    """

    kind: str
    id: int

    @property
    def ref(self) -> str:
        """Return the reference as a form holds it (``user:12``, ``org:3``)."""
        return f"{self.kind}:{self.id}"


def parse_owner(ref: str | None) -> Owner | None:
    """Return the owner a reference names, or None for an empty or malformed one."""
    if not ref or ":" not in str(ref):
        return None
    kind, _, number = str(ref).partition(":")
    if kind not in ("user", "org") or not number.isdigit():
        return None
    return Owner(kind, int(number))


@dataclass(frozen=True)
class OwnerChoice:
    """One entry of the owners' list in a form: the reference, the label and if active."""

    ref: str
    label: str
    active: bool


def user_owner_label(user: User) -> str:
    """Return how a person is named as an action's owner: name, and organisation if any."""
    name = user.display_name or user.username
    return f"{name} ({user.organisation})" if user.organisation else name


def _clean_name(name: str | None) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise OrganisationError("Enter the organisation's name.")
    if len(text) > 200:
        raise OrganisationError(
            f"The organisation's name has {len(text)} characters; 200 is the most."
        )
    problems = personal_problems({"name": text})
    if problems:
        raise OrganisationError(f"The organisation's name '{text}': {problems['name']}")
    return text


def _clean_email(email: str | None) -> str | None:
    text = str(email or "").strip().lower()
    if not text:
        return None
    if not is_email_address(text):
        raise OrganisationError(
            f"'{text}' is not an e-mail address (like licensing@council.gov.uk): enter the "
            "address that receives the reminders of the organisation's actions, or leave it "
            "empty."
        )
    return text


def _clash(session: Session, name: str, except_id: int | None = None) -> None:
    query = select(Organisation.name).where(func.lower(Organisation.name) == name.lower())
    if except_id is not None:
        query = query.where(Organisation.id != except_id)
    found = session.scalar(query)
    if found is not None:
        raise OrganisationError(f"There is already an organisation '{found}' in the list.")


def list_organisations(engine: Engine) -> pd.DataFrame:
    """Return every organisation of the list, active first, then by name.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name``, ``contact_email``, ``active``, ``actions`` (how many actions it
        owns), ``updated_by``, ``updated_at``.
    """
    owned = (
        select(Action.owner_org_id, func.count().label("actions"))
        .where(Action.owner_org_id.is_not(None))
        .group_by(Action.owner_org_id)
        .subquery()
    )
    query = (
        select(
            Organisation.id,
            Organisation.name,
            Organisation.contact_email,
            Organisation.active,
            func.coalesce(owned.c.actions, 0).label("actions"),
            Organisation.updated_by,
            Organisation.updated_at,
        )
        .outerjoin(owned, owned.c.owner_org_id == Organisation.id)
        .order_by(Organisation.active.desc(), Organisation.name)
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    frame["active"] = frame["active"].astype(bool)
    frame["actions"] = frame["actions"].astype(int)
    return frame


def add_organisation(
    engine: Engine,
    viewer: Viewer,
    name: str,
    *,
    contact_email: str | None = None,
    origin: str | None = None,
) -> int:
    """Add an organisation to the list (administrators only); return its id.

    Raises
    ------
    AccessDenied
        For anyone but an administrator.
    OrganisationError
        For an empty or overlong name, a name that holds personal details, a name
        already listed (in any case), or a contact that is not an e-mail address.
    """
    viewer.require(viewer.is_admin, "add organisations")
    text = _clean_name(name)
    email = _clean_email(contact_email)
    with session_scope(engine) as session:
        _clash(session, text)
        organisation = Organisation(
            name=text,
            contact_email=email,
            active=True,
            created_by=viewer.username,
            updated_by=viewer.username,
        )
        session.add(organisation)
        session.flush()
        audit.record(
            session,
            actor=viewer.username,
            action="organisation.added",
            entity="organisation",
            entity_id=organisation.id,
            detail={"name": text, "contact": email},
            origin=origin,
        )
        return organisation.id


def update_organisation(
    engine: Engine,
    viewer: Viewer,
    organisation_id: int,
    *,
    name: str = _UNCHANGED,
    contact_email: str | None = _UNCHANGED,
    active: bool = _UNCHANGED,
    origin: str | None = None,
) -> None:
    """Rename an organisation, change its contact address, or retire or restore it (admins).

    Arguments left out are not changed. A rename is carried to the owner's name shown on
    each of its actions, in the same transaction. Each change is audited with what it was.

    Raises
    ------
    AccessDenied
        For anyone but an administrator.
    OrganisationError
        For no such organisation, or a bad name or address (see :func:`add_organisation`).
    """
    viewer.require(viewer.is_admin, "change organisations")
    with session_scope(engine) as session:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None:
            raise OrganisationError(f"There is no organisation number {organisation_id}.")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if name is not _UNCHANGED:
            text = _clean_name(name)
            if text != organisation.name:
                _clash(session, text, except_id=organisation.id)
                before["name"], after["name"] = organisation.name, text
                organisation.name = text
                session.execute(
                    update(Action)
                    .where(Action.owner_org_id == organisation.id)
                    .values(owner_org=text, updated_by=viewer.username)
                )
        if contact_email is not _UNCHANGED:
            email = _clean_email(contact_email)
            if email != organisation.contact_email:
                before["contact"], after["contact"] = organisation.contact_email, email
                organisation.contact_email = email
        if active is not _UNCHANGED and bool(active) != organisation.active:
            before["active"], after["active"] = organisation.active, bool(active)
            organisation.active = bool(active)
        if not after:
            return
        organisation.updated_by = viewer.username
        audit.record(
            session,
            actor=viewer.username,
            action="organisation.changed",
            entity="organisation",
            entity_id=organisation.id,
            detail={"before": before, "after": after},
            origin=origin,
        )


def owner_choices(engine: Engine) -> list[OwnerChoice]:
    """Return who may own a new action: active organisations, then active people with a role.

    Retired organisations and switched-off people are left out (an action they already
    own keeps them: see :func:`owners_of`).
    """
    with session_scope(engine) as session:
        organisations = session.scalars(
            select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.name)
        ).all()
        users = session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(OWNER_ROLES))
            .order_by(User.display_name, User.username)
        ).all()
        return [
            *(OwnerChoice(f"org:{o.id}", o.name, True) for o in organisations),
            *(OwnerChoice(f"user:{u.id}", user_owner_label(u), True) for u in users),
        ]


def owners_of(engine: Engine, refs: list[str]) -> dict[str, OwnerChoice]:
    """Return the owners named by these references, retired or not, by reference."""
    wanted = [o for o in (parse_owner(r) for r in refs) if o is not None]
    org_ids = [o.id for o in wanted if o.kind == "org"]
    user_ids = [o.id for o in wanted if o.kind == "user"]
    out: dict[str, OwnerChoice] = {}
    with session_scope(engine) as session:
        if org_ids:
            for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids))):
                out[f"org:{o.id}"] = OwnerChoice(f"org:{o.id}", o.name, bool(o.active))
        if user_ids:
            for u in session.scalars(select(User).where(User.id.in_(user_ids))):
                out[f"user:{u.id}"] = OwnerChoice(f"user:{u.id}", user_owner_label(u), u.active)
    return out


def adopt_typed_owners(session: Session, *, actor: str) -> int:
    """Make each typed owner of actions without a listed owner an organisation of the list.

    Used for data written before the list (the demo's actions): an organisation of the
    same name (in any case) is reused, else added. Returns how many were added.
    """
    unowned = (Action.owner_org_id.is_(None), Action.owner_user_id.is_(None))
    typed = session.scalars(select(Action.owner_org).where(*unowned).distinct()).all()
    known = {
        name.lower(): id_
        for id_, name in session.execute(select(Organisation.id, Organisation.name))
    }
    added = 0
    for owner in sorted(t for t in typed if t):
        text = " ".join(owner.split())[:200]
        if not text:
            continue
        if text.lower() not in known:
            organisation = Organisation(name=text, active=True, created_by=actor, updated_by=actor)
            session.add(organisation)
            session.flush()
            known[text.lower()] = organisation.id
            added += 1
        session.execute(
            update(Action)
            .where(Action.owner_org == owner, *unowned)
            .values(owner_org_id=known[text.lower()])
        )
    return added


def actions_owned_by(engine: Engine, viewer: Viewer, *, due_by: date) -> pd.DataFrame:
    """Return the open actions the viewer owns, in person or through their organisation.

    Actions of current assessments (not superseded) in the viewer's districts, due on or
    before ``due_by`` (overdue ones included), soonest first. The viewer's organisation is
    the organisation of the list named as on their account (any case); an action typed
    before the list with that name counts too.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``assessment_id``, ``place_name``, ``district_code``, ``description``,
        ``kind``, ``owner_org``, ``due_on`` (datetime64), ``owned`` ("you" or "your
        organisation").
    """
    columns = [
        "id", "assessment_id", "place_name", "district_code", "description", "kind",
        "owner_org", "due_on", "owned",
    ]  # fmt: skip
    with session_scope(engine) as session:
        user_id = session.scalar(
            select(User.id).where(func.lower(User.username) == viewer.username.lower())
        )
        organisation = (viewer.organisation or "").strip().lower()
        org_id = (
            session.scalar(
                select(Organisation.id).where(func.lower(Organisation.name) == organisation)
            )
            if organisation
            else None
        )
        mine = []
        if user_id is not None:
            mine.append(Action.owner_user_id == user_id)
        if org_id is not None:
            mine.append(Action.owner_org_id == org_id)
        if organisation:
            mine.append(
                (func.lower(Action.owner_org) == organisation)
                & Action.owner_org_id.is_(None)
                & Action.owner_user_id.is_(None)
            )
        if not mine or not viewer.districts:
            return pd.DataFrame(columns=columns)
        rows = session.execute(
            select(
                Action.id,
                Action.assessment_id,
                Place.name,
                Place.district_code,
                Action.description,
                Action.kind,
                Action.owner_org,
                Action.due_on,
                Action.owner_user_id,
            )
            .join(Assessment, Assessment.id == Action.assessment_id)
            .join(Place, Place.id == Assessment.place_id)
            .where(
                Action.status == "open",
                Assessment.status != "superseded",
                Place.district_code.in_(viewer.districts),
                Action.due_on <= due_by,
                or_(*mine),
            )
            .order_by(Action.due_on, Action.id)
        ).all()
    frame = pd.DataFrame(
        [
            (*row[:8], "you" if user_id is not None and row[8] == user_id else "your organisation")
            for row in rows
        ],
        columns=columns,
    )
    frame["due_on"] = pd.to_datetime(frame["due_on"])
    return frame
