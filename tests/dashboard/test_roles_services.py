"""Who may do what in the service layer: the role x action matrix of test_roles.py.

Storage tests: SQLite, then PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import insert

from services.access import AccessDenied
from services.disclosure import set_disclosure_k
from services.users import (
    audit_log,
    create_user,
    ensure_demo_users,
    list_users,
    update_user,
    viewer_for,
)
from store.models import District
from tests.dashboard.test_roles import ROLES

# The service layer, on both databases -------------------------------------------------------

CODES = ("E07000192", "E07000197", "E06000021")


@pytest.fixture
def accounts(engine):
    square = shapely.to_wkb(shapely.box(0, 0, 1, 1))
    with engine.begin() as connection:
        connection.execute(
            insert(District),
            [{"code": c, "name": c, "source": "test", "geometry_wkb": square} for c in CODES],
        )
    ensure_demo_users(engine)
    return {role: viewer_for(engine, role) for role in ROLES}


ACTIONS = {
    "add a user": lambda e, v: create_user(e, v, username="x", display_name="x", role="viewer"),
    "change a role": lambda e, v: update_user(e, v, "viewer", role="officer"),
    "list users": lambda e, v: list_users(e, v),
    "read the audit log": lambda e, v: audit_log(e, v),
    "change k": lambda e, v: set_disclosure_k(e, 7, viewer=v),
    "read Stoke-on-Trent": lambda e, v: v.scope(["E06000021"]),
    "read Stafford": lambda e, v: v.scope(["E07000197"]),
}
ALLOWED = {
    "lead": {"read Stoke-on-Trent", "read Stafford"},
    "officer": {"read Stafford"},
    "viewer": {"read Stoke-on-Trent", "read Stafford"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_the_service_layer_enforces_the_role_matrix(engine, accounts, role, action):
    call = ACTIONS[action]
    if action in ALLOWED[role]:
        call(engine, accounts[role])
    else:
        with pytest.raises(AccessDenied):
            call(engine, accounts[role])
