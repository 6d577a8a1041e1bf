"""People who sign in: passwords, roles, districts, sign-in with lockout, and their audit.

Passwords are hashed with scrypt (``hashlib``) and a salt of their own, and
compared in constant time. Repeated wrong passwords lock the account for a
while; every sign-in, failure and lock-out is written to the audit log.

Roles and districts (see ``services.access``): leads and administrators see
every district of the deployment; officers and steering group viewers see
the districts an administrator gave them, and cannot sign in until they
have some. Only an administrator may add users or change them.

Settings (environment first, then ``.streamlit/secrets.toml``):

``SAFER_SPACES_DEMO_ACCOUNTS`` (secrets: ``demo_accounts``)
    ``0`` or ``false`` switches the demo accounts off: they are refused at
    sign-in even where their rows exist. On by default.
``SAFER_SPACES_MAX_FAILED_SIGN_INS`` (secrets: ``max_failed_sign_ins``)
    Wrong passwords in a row that lock an account; 5 by default.
``SAFER_SPACES_LOCK_MINUTES`` (secrets: ``lock_minutes``)
    How long a locked account stays locked; 15 by default.
``SAFER_SPACES_IDLE_MINUTES`` (secrets: ``idle_minutes``)
    Minutes without activity after which a session ends; 30 by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, selectinload

from config import settings
from services.access import ROLES, AccessDenied, Viewer
from store.audit import log_event, record
from store.db import session_scope
from store.models import AuditEvent, District, User

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "SignInError",
    "SignInPolicy",
    "UserError",
    "audiences",
    "audit_log",
    "authenticate",
    "create_user",
    "demo_accounts_enabled",
    "end_sessions",
    "ensure_demo_users",
    "hash_password",
    "list_users",
    "session_epoch",
    "sign_in_policy",
    "update_user",
    "verify_password",
    "viewer_for",
    "viewer_for_identity",
]

DEMO_PASSWORD = "safer-spaces-demo"  # published on the demo sign-in page
DEMO_ACTOR = "demo accounts"
DEMO_ACCOUNTS: dict[str, dict[str, Any]] = {
    "lead": {
        "display_name": "Demo safeguarding lead",
        "role": "lead",
        "organisation": "Staffordshire County Council",
        "districts": None,
    },
    "officer": {
        "display_name": "Demo district officer",
        "role": "officer",
        "organisation": "Stafford Borough Council",
        "districts": ("E07000192", "E07000197", "E07000199"),
    },
    "viewer": {
        "display_name": "Demo steering group member",
        "role": "viewer",
        "organisation": "Staffordshire Safeguarding Children Partnership",
        "districts": None,
    },
    "admin": {
        "display_name": "Demo data officer",
        "role": "admin",
        "organisation": "Staffordshire County Council",
        "districts": None,
    },
}
"""The demo's accounts, all with the password ``safer-spaces-demo``; ``None`` districts: all."""

MIN_PASSWORD_LENGTH = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
WRONG = (
    "The username or password is not right, or the account is locked for a while. Check "
    "them and try again; if it keeps failing, ask your administrator."
)
"""The one message for every failed sign-in: it does not say whether the username exists."""


class SignInError(RuntimeError):
    """Signing in did not work; the message is for the sign-in page."""


class UserError(ValueError):
    """A user could not be added or changed; the message says what to fix."""


def demo_accounts_enabled() -> bool:
    """Return False when the deployment switched the demo accounts off (see the module notes)."""
    return settings.switched_on("demo_accounts")


@dataclass(frozen=True)
class SignInPolicy:
    """How sign-in treats wrong passwords and idle sessions."""

    max_failures: int = 5
    lock_minutes: float = 15
    failure_delay: float = 1.0
    idle_minutes: float = 30


def sign_in_policy() -> SignInPolicy:
    """Return the policy from the environment or secrets, defaults where unset or unreadable."""
    return SignInPolicy(
        max_failures=int(settings.value("max_failed_sign_ins") or SignInPolicy.max_failures),
        lock_minutes=float(settings.value("lock_minutes") or SignInPolicy.lock_minutes),
        idle_minutes=float(settings.value("idle_minutes") or SignInPolicy.idle_minutes),
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of a password, with its parameters, for storage.

    Examples
    --------
    >>> stored = hash_password("correct horse battery")
    >>> stored.startswith("scrypt$16384$8$1$"), verify_password("correct horse battery", stored)
    (True, True)
    >>> hash_password("correct horse battery") == stored
    False
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=2**26, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Return True when the password matches the stored hash (compared in constant time).

    Examples
    --------
    >>> verify_password("guess", hash_password("something else entirely"))
    False
    >>> verify_password("guess", None)
    False
    """
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _normalise(username: str) -> str:
    return (username or "").strip().lower()


def _aware(moment: datetime | None) -> datetime | None:
    """Return a stored time as UTC-aware (SQLite gives back naive UTC times)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _all_districts(session: Session) -> tuple[str, ...]:
    return tuple(session.scalars(select(District.code).order_by(District.code)))


def _viewer(session: Session, user: User) -> Viewer:
    """Return the Viewer for a stored user, or refuse one without a role or districts."""
    if not user.active:
        raise AccessDenied(
            f"The account '{user.username}' is switched off. Ask your administrator."
        )
    if user.role not in ROLES:
        raise AccessDenied(
            f"Your account '{user.username}' has no role yet, so there is nothing to show. "
            "Ask your administrator to give you a role and the districts you cover."
        )
    if user.role in ("lead", "admin"):
        districts = _all_districts(session)
    else:
        districts = tuple(sorted(d.code for d in user.districts))
        if not districts:
            raise AccessDenied(
                f"Your account '{user.username}' does not cover any district yet, so there is "
                "nothing to show. Ask your administrator to add the districts you cover."
            )
    return Viewer(
        username=user.username,
        role=user.role,
        districts=districts,
        organisation=user.organisation,
        display_name=user.display_name,
    )


def _find(session: Session, username: str) -> User | None:
    return session.scalar(
        select(User)
        .options(selectinload(User.districts))
        .where(func.lower(User.username) == _normalise(username))
    )


def viewer_for(engine: Engine, username: str) -> Viewer:
    """Return the signed-in person's Viewer: their role and the districts they cover.

    Raises
    ------
    AccessDenied
        When there is no such user, or the account is switched off, has no
        role, or (for officers and viewers) no districts: the message asks
        them to see their administrator.
    """
    with session_scope(engine) as session:
        user = _find(session, username)
        if user is None:
            raise AccessDenied(
                f"There is no account '{username}' in Safer Spaces. Ask your administrator "
                "to add you."
            )
        if user.created_by == DEMO_ACTOR and not demo_accounts_enabled():
            raise AccessDenied("Demo accounts are switched off on this deployment.")
        return _viewer(session, user)


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    origin: str | None = None,
    *,
    policy: SignInPolicy | None = None,
    now: datetime | None = None,
) -> Viewer:
    """Check a username and password and return the person's Viewer.

    Parameters
    ----------
    engine
        The database.
    username, password
        As typed on the sign-in page (the username is not case-sensitive).
    origin
        Where the attempt came from (an IP address), for the audit log.
    policy
        Lockout and delay settings; :func:`sign_in_policy` when None.
    now
        The time of the attempt (for tests); the clock when None.

    Raises
    ------
    SignInError
        On a wrong username or password (after a delay, the same message for
        both), a locked account, or a demo account on a deployment that
        switched them off. Every outcome is audited.
    AccessDenied
        When the password is right but the account has no role or districts.
    """
    policy = policy or sign_in_policy()
    now = now or datetime.now(UTC)
    name = _normalise(username)
    outcome: Exception | None = None
    with session_scope(engine) as session:
        user = _find(session, name)
        # One password check on every path, so that no answer comes faster for a username
        # that does not exist or an account that is locked.
        right = verify_password(password, _DUMMY_HASH if user is None else user.password_hash)

        def audit(action: str, **detail: Any) -> None:
            record(
                session,
                actor=name[:200] or "(blank)",
                action=action,
                entity="user",
                entity_id=None if user is None else user.id,
                detail=detail,
                origin=origin,
            )

        if user is None:
            audit("sign in failed", reason="unknown username")
            outcome = SignInError(WRONG)
        elif user.created_by == DEMO_ACTOR and not demo_accounts_enabled():
            audit("sign in refused", reason="demo accounts are switched off")
            outcome = SignInError(
                "Demo accounts are switched off on this deployment. Sign in with your own account."
            )
        elif (locked := _aware(user.locked_until)) is not None and locked > now:
            # Said to the administrator (audit log, Users list), never to whoever typed it.
            audit("sign in refused", reason="account locked", until=locked.isoformat())
            outcome = SignInError(WRONG)
        elif not right:
            user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
            if user.failed_sign_ins >= policy.max_failures:
                user.locked_until = now + timedelta(minutes=policy.lock_minutes)
                user.failed_sign_ins = 0
                audit(
                    "account locked",
                    failures=policy.max_failures,
                    until=user.locked_until.isoformat(),
                )
            else:
                audit("sign in failed", reason="wrong password", failures=user.failed_sign_ins)
            outcome = SignInError(WRONG)
        else:
            user.failed_sign_ins = 0
            user.locked_until = None
            try:
                viewer = _viewer(session, user)
            except AccessDenied as refusal:
                audit("sign in refused", reason=str(refusal))
                outcome = refusal
            else:
                audit("sign in", role=viewer.role, method="password")
                return viewer
    if isinstance(outcome, SignInError):
        time.sleep(policy.failure_delay)
    assert outcome is not None
    raise outcome


def session_epoch(engine: Engine, username: str) -> int | None:
    """Return the person's session epoch (their sign-outs so far), or None with no account.

    A browser session keeps the epoch it signed in at; once this number has moved on
    (:func:`end_sessions`), that session has ended.
    """
    with engine.connect() as connection:
        return connection.scalar(
            select(User.session_epoch).where(func.lower(User.username) == _normalise(username))
        )


def end_sessions(engine: Engine, username: str) -> None:
    """End every session of this person, in every browser and app process (at sign-out)."""
    with session_scope(engine) as session:
        session.execute(
            update(User)
            .where(func.lower(User.username) == _normalise(username))
            .values(session_epoch=User.session_epoch + 1)
        )


def _claim(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def viewer_for_identity(
    engine: Engine, claims: Mapping[str, Any], origin: str | None = None
) -> Viewer:
    """Return the Viewer for someone signed in by the organisation (OpenID Connect).

    The account is found by e-mail address: the ``email`` claim, or for
    Microsoft Entra ID ``preferred_username`` or ``upn``. The address must be
    an administrator-made user's username. Every outcome is audited.

    Raises
    ------
    AccessDenied
        When the identity has no address, or no user has it, or the user has
        no role or districts.
    """
    address = _claim(claims, "email", "preferred_username", "upn")
    if address is None:
        log_event(
            engine, actor="(unknown)", action="sign in refused", detail={"reason": "no e-mail"}
        )
        raise AccessDenied(
            "Your organisation's sign-in did not give an e-mail address, so Safer Spaces "
            "cannot tell who you are. Ask your administrator."
        )
    try:
        viewer = viewer_for(engine, address)
    except AccessDenied as refusal:
        log_event(
            engine,
            actor=address.lower(),
            action="sign in refused",
            detail={"reason": str(refusal), "method": "oidc"},
            origin=origin,
        )
        raise
    log_event(
        engine,
        actor=viewer.username,
        action="sign in",
        detail={"role": viewer.role, "method": "oidc"},
        origin=origin,
    )
    return viewer


def _check_districts(session: Session, codes: Iterable[str]) -> list[District]:
    codes = list(dict.fromkeys(codes))
    found = {d.code: d for d in session.scalars(select(District).where(District.code.in_(codes)))}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise UserError(f"There is no district {', '.join(unknown)} in this database.")
    return [found[c] for c in codes]


#: An e-mail address as a person signs in with it: one @, a dotted domain, no spaces.
EMAIL_ADDRESS = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")


def _check_role(role: str | None) -> str | None:
    if role is not None and role not in ROLES:
        raise UserError(f"The role '{role}' is not one of {', '.join(ROLES)}.")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return hash_password(password)


def create_user(
    engine: Engine,
    viewer: Viewer,
    *,
    username: str,
    display_name: str,
    role: str | None,
    districts: Iterable[str] = (),
    organisation: str | None = None,
    password: str | None = None,
    origin: str | None = None,
    from_form: bool = False,
) -> None:
    """Add a user; only an administrator may.

    ``from_form`` (the Data page's "Add a user"): the username must be an
    e-mail address and a role must be chosen; there is no default role.

    ``username`` is the person's e-mail address where they sign in through
    their organisation; ``password`` is for the local sign-in only (12
    characters or more). A user without a role or districts is kept but
    cannot see anything until given them.

    Raises
    ------
    AccessDenied
        When the viewer is not an administrator.
    UserError
        When the username is taken or blank, the role or a district unknown,
        or the password too short.
    """
    viewer.require(viewer.is_admin, "add users")
    name = _normalise(username)
    if not name:
        raise UserError("A user needs a username (their e-mail address, or a short name).")
    if from_form:
        problems = []
        if not EMAIL_ADDRESS.fullmatch(name):
            problems.append(
                f"'{name}' is not an e-mail address (like name@council.gov.uk): enter the "
                "address the person signs in with"
            )
        if role is None:
            problems.append("choose the person's role (there is no default)")
        if problems:
            text = "; ".join(problems)
            raise UserError(text[0].upper() + text[1:] + ".")
    with session_scope(engine) as session:
        if _find(session, name) is not None:
            raise UserError(f"There is already a user '{name}'.")
        user = User(
            username=name,
            display_name=display_name.strip() or name,
            organisation=organisation or None,
            role=_check_role(role),
            password_hash=_check_password(password) if password else None,
            districts=_check_districts(session, districts),
            created_by=viewer.username,
            updated_by=viewer.username,
        )
        session.add(user)
        session.flush()
        record(
            session,
            actor=viewer.username,
            action="add user",
            entity="user",
            entity_id=user.id,
            detail={
                "username": name,
                "role": role,
                "districts": sorted(d.code for d in user.districts),
            },
            origin=origin,
        )


_UNCHANGED: Any = object()


def update_user(
    engine: Engine,
    viewer: Viewer,
    username: str,
    *,
    role: str | None = _UNCHANGED,
    districts: Iterable[str] = _UNCHANGED,
    active: bool = _UNCHANGED,
    password: str = _UNCHANGED,
    unlock: bool = False,
    origin: str | None = None,
) -> None:
    """Change a user's role, districts, active flag or password, or unlock them (admins only).

    Arguments left out are not changed. Each change is audited with what it
    was before (never the password).

    Raises
    ------
    AccessDenied
        When the viewer is not an administrator, or would take away their
        own administrator role or switch themselves off.
    UserError
        When there is no such user, or a role or district is unknown.
    """
    viewer.require(viewer.is_admin, "change users")
    with session_scope(engine) as session:
        user = _find(session, username)
        if user is None:
            raise UserError(f"There is no user '{username}'.")
        if user.username == viewer.username and (
            (role is not _UNCHANGED and role != "admin") or active is False
        ):
            raise AccessDenied(
                "You cannot take away your own administrator role or switch yourself off; "
                "ask another administrator."
            )
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if role is not _UNCHANGED:
            before["role"], after["role"] = user.role, _check_role(role)
            user.role = role
        if districts is not _UNCHANGED:
            chosen = _check_districts(session, districts)
            before["districts"] = sorted(d.code for d in user.districts)
            after["districts"] = sorted(d.code for d in chosen)
            user.districts = chosen
        if active is not _UNCHANGED:
            before["active"], after["active"] = user.active, bool(active)
            user.active = bool(active)
        if password is not _UNCHANGED:
            user.password_hash = _check_password(password)
            after["password"] = "changed"
        if unlock:
            before["locked_until"] = str(user.locked_until) if user.locked_until else None
            user.locked_until = None
            user.failed_sign_ins = 0
            after["locked_until"] = None
        if not after:
            return
        user.updated_by = viewer.username
        record(
            session,
            actor=viewer.username,
            action="change user",
            entity="user",
            entity_id=user.id,
            detail={"username": user.username, "before": before, "after": after},
            origin=origin,
        )


def audiences(engine: Engine) -> list[Viewer]:
    """Return the distinct ways the active accounts see the data (``Viewer.for_cache``).

    Accounts that see the same districts with the same disclosure share one entry; accounts
    without a role or districts, which see nothing, are left out. This is what the app warms
    its shared caches for.
    """
    seen: set[Viewer] = set()
    with session_scope(engine) as session:
        users = session.scalars(
            select(User).options(selectinload(User.districts)).where(User.active.is_(True))
        ).all()
        for user in users:
            try:
                seen.add(_viewer(session, user).for_cache())
            except AccessDenied:
                continue
    return sorted(seen, key=lambda v: (v.role, v.districts))


def list_users(engine: Engine, viewer: Viewer) -> pd.DataFrame:
    """Return every user with role, districts and lock state, for the admin's Users tab."""
    viewer.require(viewer.is_admin, "see the list of users")
    with session_scope(engine) as session:
        users = session.scalars(
            select(User).options(selectinload(User.districts)).order_by(User.username)
        ).all()
        rows = [
            {
                "username": u.username,
                "display_name": u.display_name,
                "organisation": u.organisation,
                "role": u.role,
                "districts": ", ".join(sorted(d.code for d in u.districts)),
                "active": u.active,
                "local_password": u.password_hash is not None,
                "locked_until": _aware(u.locked_until),
                "demo_account": u.created_by == DEMO_ACTOR,
            }
            for u in users
        ]
    columns = [
        "username",
        "display_name",
        "organisation",
        "role",
        "districts",
        "active",
        "local_password",
        "locked_until",
        "demo_account",
    ]
    return pd.DataFrame(rows, columns=columns)


def audit_log(
    engine: Engine,
    viewer: Viewer,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int | None = 5000,
) -> pd.DataFrame:
    """Return audit events, newest first, for administrators only.

    Parameters
    ----------
    engine
        The database.
    viewer
        Who asks; anyone but an administrator is refused.
    actor, action
        Keep only events by this person or of this kind (exact match).
    since
        Keep only events at or after this time.
    limit
        At most this many events (None for all, for the CSV export).
    """
    viewer.require(viewer.is_admin, "read the audit log")
    query = select(
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.detail,
        AuditEvent.origin,
    ).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["detail"] = frame["detail"].map(
        lambda d: ", ".join(f"{k}: {v}" for k, v in d.items()) if isinstance(d, dict) else d
    )
    return frame


def ensure_demo_users(engine: Engine) -> list[str]:
    """Add the demo accounts that are missing (see ``DEMO_ACCOUNTS``); return those added.

    Officers get the districts named for them that exist here; the viewer
    gets every district. Nothing else is changed, so an administrator's
    changes to a demo account stay.
    """
    added: list[str] = []
    with session_scope(engine) as session:
        every = _all_districts(session)
        for username, account in DEMO_ACCOUNTS.items():
            if _find(session, username) is not None:
                continue
            wanted = account["districts"] if account["districts"] is not None else every
            codes = [c for c in wanted if c in every]
            session.add(
                User(
                    username=username,
                    display_name=account["display_name"],
                    organisation=account["organisation"],
                    role=account["role"],
                    password_hash=hash_password(DEMO_PASSWORD),
                    districts=_check_districts(session, codes),
                    created_by=DEMO_ACTOR,
                    updated_by=DEMO_ACTOR,
                )
            )
            added.append(username)
        if added:
            session.flush()
            record(session, actor=DEMO_ACTOR, action="add demo accounts", detail={"users": added})
    return added
