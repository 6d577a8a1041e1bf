"""Users through the service layer: passwords, lockout, roles, districts and audit."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from sqlalchemy import insert, select

import services.users
from services.access import AccessDenied, Viewer
from services.users import (
    DEMO_PASSWORD,
    SignInError,
    SignInPolicy,
    UserError,
    audiences,
    audit_log,
    authenticate,
    create_user,
    ensure_demo_users,
    list_users,
    sign_in_policy,
    update_user,
    viewer_for,
    viewer_for_identity,
)
from store.audit import log_event
from store.models import AuditEvent, District, User

CODES = ("E07000192", "E07000197", "E06000021")
FAST = SignInPolicy(max_failures=3, lock_minutes=15, failure_delay=0)


@pytest.fixture
def db(engine):
    """A database with three districts and the demo accounts."""
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in CODES],
        )
    assert ensure_demo_users(engine) == ["lead", "officer", "viewer", "admin"]
    return engine


@pytest.fixture
def admin(db):
    return viewer_for(db, "admin")


def _actions(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.actor, AuditEvent.action).order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


def test_the_docstring_examples_hold():
    failures, tried = doctest.testmod(services.users)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("username", "role", "districts"),
    [
        ("lead", "lead", CODES),
        # the officer's districts that exist in this area (Tamworth may not)
        (
            "officer",
            "officer",
            tuple(c for c in ("E07000192", "E07000197", "E07000199") if c in CODES),
        ),
        ("viewer", "viewer", CODES),
        ("admin", "admin", CODES),
    ],
)
def test_each_demo_account_signs_in_with_its_role_and_districts(db, username, role, districts):
    viewer = authenticate(db, username, DEMO_PASSWORD, "10.0.0.1", policy=FAST)
    assert (viewer.role, set(viewer.districts)) == (role, set(districts))
    with db.connect() as connection:
        event = connection.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.origin).order_by(
                AuditEvent.id.desc()
            )
        ).first()
    assert tuple(event) == (username, "sign in", "10.0.0.1")


def test_ensuring_the_demo_accounts_twice_adds_nothing(db):
    assert ensure_demo_users(db) == []


def test_passwords_are_stored_hashed_and_salted(db):
    with db.connect() as connection:
        hashes = connection.execute(select(User.password_hash)).scalars().all()
    assert len(set(hashes)) == 4
    assert not any(DEMO_PASSWORD in h for h in hashes)


def test_usernames_are_not_case_sensitive(db):
    assert authenticate(db, "  Officer ", DEMO_PASSWORD, policy=FAST).username == "officer"


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(db):
    with pytest.raises(SignInError, match="username or password is not right") as wrong:
        authenticate(db, "officer", "not the password", policy=FAST)
    with pytest.raises(SignInError, match="username or password is not right") as unknown:
        authenticate(db, "nobody", "not the password", policy=FAST)
    assert str(wrong.value) == str(unknown.value)
    assert _actions(db)[-2:] == [("officer", "sign in failed"), ("nobody", "sign in failed")]


def test_a_wrong_password_is_slowed_down(db):
    started = datetime.now(UTC)
    with pytest.raises(SignInError):
        authenticate(db, "officer", "wrong", policy=SignInPolicy(failure_delay=0.3))
    assert datetime.now(UTC) - started >= timedelta(seconds=0.3)


def test_repeated_failures_lock_the_account_then_it_unlocks(db):
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for attempt in range(FAST.max_failures - 1):
        with pytest.raises(SignInError, match="not right"):
            authenticate(db, "officer", f"wrong {attempt}", policy=FAST, now=start)
    with pytest.raises(SignInError, match="not right"):
        authenticate(db, "officer", "wrong again", policy=FAST, now=start)
    # Even the right password is refused while locked, with the same words as a wrong one.
    with pytest.raises(SignInError, match="not right"):
        authenticate(db, "officer", DEMO_PASSWORD, policy=FAST, now=start + timedelta(minutes=5))
    later = start + timedelta(minutes=16)
    assert authenticate(db, "officer", DEMO_PASSWORD, policy=FAST, now=later).role == "officer"
    actions = [a for who, a in _actions(db) if who == "officer"]
    assert actions[-4:] == ["sign in failed", "account locked", "sign in refused", "sign in"]


def test_an_administrator_can_unlock_an_account(db, admin):
    start = datetime.now(UTC)
    for _ in range(FAST.max_failures):
        with pytest.raises(SignInError):
            authenticate(db, "viewer", "wrong", policy=FAST, now=start)
    with pytest.raises(SignInError, match="not right"):
        authenticate(db, "viewer", DEMO_PASSWORD, policy=FAST)
    assert list_users(db, admin).set_index("username").loc["viewer", "locked_until"] is not None
    update_user(db, admin, "viewer", unlock=True)
    assert authenticate(db, "viewer", DEMO_PASSWORD, policy=FAST).role == "viewer"


def test_demo_accounts_can_be_switched_off(db, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_DEMO_ACCOUNTS", "0")
    with pytest.raises(SignInError, match="Demo accounts are switched off"):
        authenticate(db, "lead", DEMO_PASSWORD, policy=FAST)
    with pytest.raises(AccessDenied, match="Demo accounts are switched off"):
        viewer_for(db, "lead")
    assert _actions(db)[-1] == ("lead", "sign in refused")


def test_the_policy_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_MAX_FAILED_SIGN_INS", "3")
    monkeypatch.setenv("SAFER_SPACES_LOCK_MINUTES", "60")
    monkeypatch.setenv("SAFER_SPACES_IDLE_MINUTES", "not a number")
    policy = sign_in_policy()
    assert (policy.max_failures, policy.lock_minutes, policy.idle_minutes) == (3, 60, 30)


@pytest.mark.parametrize(
    ("role", "districts", "message"),
    [(None, CODES[:1], "has no role"), ("officer", (), "does not cover any district")],
)
def test_a_user_without_a_role_or_districts_is_sent_to_their_administrator(
    db, admin, role, districts, message
):
    create_user(
        db,
        admin,
        username="new.starter@stafford.gov.uk",
        display_name="New Starter",
        role=role,
        districts=districts,
        password="a long enough password",
    )
    with pytest.raises(AccessDenied, match=f"{message}.*Ask your administrator"):
        authenticate(db, "new.starter@stafford.gov.uk", "a long enough password", policy=FAST)
    with pytest.raises(AccessDenied, match="Ask your administrator"):
        viewer_for(db, "new.starter@stafford.gov.uk")
    assert _actions(db)[-1] == ("new.starter@stafford.gov.uk", "sign in refused")


def test_an_administrator_adds_a_user_and_changes_their_role_and_districts(db, admin):
    create_user(
        db,
        admin,
        username="A.Officer@Cannock.gov.uk",
        display_name="A Officer",
        role="officer",
        districts=["E07000192"],
        organisation="Cannock Chase District Council",
    )
    assert viewer_for(db, "a.officer@cannock.gov.uk").districts == ("E07000192",)
    update_user(db, admin, "a.officer@cannock.gov.uk", districts=["E07000192", "E06000021"])
    update_user(db, admin, "a.officer@cannock.gov.uk", role="viewer")
    viewer = viewer_for(db, "a.officer@cannock.gov.uk")
    assert (viewer.role, viewer.districts) == ("viewer", ("E06000021", "E07000192"))
    users = list_users(db, admin).set_index("username")
    assert users.loc["a.officer@cannock.gov.uk", "role"] == "viewer"
    assert not users.loc["a.officer@cannock.gov.uk", "local_password"]
    assert users.loc["officer", "demo_account"]
    log = audit_log(db, admin, actor="admin")
    assert log["action"].tolist()[:3] == ["change user", "change user", "add user"]
    assert "E06000021" in log["detail"].iloc[1]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"role": "superuser"}, UserError, "not one of"),
        ({"districts": ["E09999999"]}, UserError, "no district E09999999"),
        ({"password": "short"}, UserError, "at least 12"),
    ],
)
def test_bad_changes_are_explained_and_change_nothing(db, admin, change, error, message):
    with pytest.raises(error, match=message):
        update_user(db, admin, "officer", **change)
    assert viewer_for(db, "officer").role == "officer"
    assert authenticate(db, "officer", DEMO_PASSWORD, policy=FAST).districts == CODES[:2]


def test_a_taken_or_blank_username_is_refused(db, admin):
    with pytest.raises(UserError, match="already a user 'officer'"):
        create_user(db, admin, username="OFFICER", display_name="x", role="viewer")
    with pytest.raises(UserError, match="needs a username"):
        create_user(db, admin, username="  ", display_name="x", role="viewer")


def test_an_administrator_cannot_lock_themselves_out(db, admin):
    with pytest.raises(AccessDenied, match="your own administrator role"):
        update_user(db, admin, "admin", role="viewer")
    with pytest.raises(AccessDenied, match="switch yourself off"):
        update_user(db, admin, "admin", active=False)


@pytest.mark.parametrize("username", ["lead", "officer", "viewer"])
def test_only_administrators_manage_users_and_read_the_audit_log(db, username):
    someone = viewer_for(db, username)
    calls = [
        lambda: create_user(db, someone, username="x", display_name="x", role="admin"),
        lambda: update_user(db, someone, "officer", role="lead"),
        lambda: list_users(db, someone),
        lambda: audit_log(db, someone),
    ]
    for call in calls:
        with pytest.raises(AccessDenied, match="may not"):
            call()
    assert viewer_for(db, "officer").role == "officer"


def test_a_switched_off_account_cannot_sign_in(db, admin):
    update_user(db, admin, "viewer", active=False)
    with pytest.raises(AccessDenied, match="switched off"):
        authenticate(db, "viewer", DEMO_PASSWORD, policy=FAST)


def test_organisation_sign_in_maps_the_e_mail_to_a_user(db, admin):
    create_user(
        db,
        admin,
        username="chair@staffordshire.gov.uk",
        display_name="Chair",
        role="viewer",
        districts=CODES,
    )
    # Microsoft Entra ID gives preferred_username when there is no email claim.
    viewer = viewer_for_identity(db, {"preferred_username": "Chair@Staffordshire.gov.uk"})
    assert (viewer.username, viewer.role) == ("chair@staffordshire.gov.uk", "viewer")
    with pytest.raises(AccessDenied, match=r"no account 'stranger@example\.com'"):
        viewer_for_identity(db, {"email": "stranger@example.com"}, "10.0.0.9")
    with pytest.raises(AccessDenied, match="did not give an e-mail address"):
        viewer_for_identity(db, {"name": "No Address"})
    assert _actions(db)[-3:] == [
        ("chair@staffordshire.gov.uk", "sign in"),
        ("stranger@example.com", "sign in refused"),
        ("(unknown)", "sign in refused"),
    ]


def test_views_and_exports_are_logged(db, admin):
    log_event(db, actor="lead", action="view place panel", entity="place", entity_id=7)
    log = audit_log(db, admin, action="view place panel")
    assert log[["actor", "entity", "entity_id"]].values.tolist() == [["lead", "place", "7"]]


def test_audiences_are_the_ways_the_active_accounts_see_the_data(db, admin):
    everyone = tuple(sorted(CODES))
    officer = viewer_for(db, "officer").districts
    expected = {Viewer("", "lead", everyone), Viewer("", "viewer", everyone)}
    expected.add(Viewer("", "viewer", officer))
    assert set(audiences(db)) == expected
    assert len(audiences(db)) == len(expected)

    other = next(code for code in CODES if (code,) != officer)
    for username, role, districts in (
        ("no.role@x.gov.uk", None, CODES[:1]),  # sees nothing: left out
        ("no.area@x.gov.uk", "officer", ()),  # sees nothing: left out
        ("second.lead@x.gov.uk", "lead", ()),  # sees what the lead sees: shared
        ("other@x.gov.uk", "officer", [other]),  # a new way of seeing
    ):
        create_user(db, admin, username=username, display_name="x", role=role, districts=districts)
    assert set(audiences(db)) == expected | {Viewer("", "viewer", (other,))}
    update_user(db, admin, "other@x.gov.uk", active=False)
    assert set(audiences(db)) == expected


def test_sign_in_says_the_same_for_every_failure_and_takes_as_long(db):
    """Unknown, wrong, locked: one message, one password hash each (issue 15)."""
    slow = SignInPolicy(max_failures=2, lock_minutes=15, failure_delay=0)
    messages = {}
    calls = {}
    real = services.users.verify_password

    def counting(password, stored):
        calls[current] = calls.get(current, 0) + 1
        return real(password, stored)

    services.users.verify_password = counting
    try:
        for current, (username, password) in {
            "unknown": ("nobody.here@example.gov.uk", "a guess"),
            "wrong": ("officer", "a guess"),
            "locking": ("officer", "another guess"),
            "locked, right password": ("officer", DEMO_PASSWORD),
        }.items():
            with pytest.raises(SignInError) as caught:
                authenticate(db, username, password, policy=slow)
            messages[current] = str(caught.value)
    finally:
        services.users.verify_password = real
    assert len(set(messages.values())) == 1, messages
    assert calls == dict.fromkeys(messages, 1)
    actions = [a for who, a in _actions(db) if who in ("officer", "nobody.here@example.gov.uk")]
    assert actions[-4:] == ["sign in failed", "sign in failed", "account locked", "sign in refused"]


def test_signing_out_moves_the_session_epoch_on(db):
    from services.users import end_sessions, session_epoch

    assert session_epoch(db, "Officer") == 0
    end_sessions(db, "officer")
    end_sessions(db, "officer")
    assert session_epoch(db, "officer") == 2
    assert session_epoch(db, "lead") == 0
    assert session_epoch(db, "nobody") is None


@pytest.mark.parametrize(
    ("username", "role", "message"),
    [
        ("jo.bloggs", "officer", "not an e-mail address"),
        ("jo@bloggs", "officer", "not an e-mail address"),
        ("jo bloggs@council.gov.uk", "officer", "not an e-mail address"),
        ("jo.bloggs@council.gov.uk", None, "Choose the person's role"),
    ],
)
def test_the_add_user_form_needs_an_email_address_and_a_chosen_role(
    db, admin, username, role, message
):
    with pytest.raises(UserError, match=message):
        create_user(db, admin, username=username, display_name="Jo", role=role, from_form=True)
    create_user(  # the control: a real address and a chosen role are added
        db, admin, username="jo.bloggs@council.gov.uk", display_name="Jo", role="viewer",
        districts=CODES[:1], from_form=True,
    )  # fmt: skip
    assert viewer_for(db, "jo.bloggs@council.gov.uk").role == "viewer"
