"""Data > Settings: the database settings read, changed by an admin, refused otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.access import AccessDenied, Viewer
from services.disclosure import disclosure_k
from services.imports.pipeline import load_settings
from services.settings_admin import SettingsError, current, defaults, save
from store.db import session_scope
from store.models import AuditEvent

ADMIN = Viewer("ada", "admin", ("E07000197",))
LEAD = Viewer("lee", "lead", ("E07000197",))


def test_defaults_until_changed(engine):
    assert current(engine) == defaults()


def test_an_admin_changes_k_and_the_import_options_and_both_are_audited(engine):
    changed = save(engine, ADMIN, {"k": 7, "link_radius": 80.0, "date_precision": "month"})
    assert sorted(changed) == ["date_precision", "k", "link_radius"]
    assert disclosure_k(engine) == 7
    with engine.connect() as connection:
        imports = load_settings(connection)
    assert (imports.link_radius, imports.date_precision) == (80.0, "month")
    assert imports.cell_size == 100.0
    with session_scope(engine) as session:
        actions = session.scalars(
            select(AuditEvent.entity_id).where(AuditEvent.action == "change setting")
        ).all()
    assert sorted(actions) == ["disclosure_k", "import"]
    assert save(engine, ADMIN, {"k": 7}) == []  # the same value: nothing to change


def test_a_lead_may_not_change_settings(engine):
    with pytest.raises(AccessDenied):
        save(engine, LEAD, {"k": 7})
    assert current(engine) == defaults()


@pytest.mark.parametrize(
    "values",
    [{"k": 1}, {"k": 7, "cell_size": -5}, {"k": 7, "date_precision": "fortnight"}, {"x": 1}],
    ids=["k-too-small", "negative-metres", "unknown-precision", "unknown-setting"],
)
def test_a_bad_value_stores_nothing(engine, values):
    with pytest.raises(SettingsError):
        save(engine, ADMIN, values)
    assert current(engine) == defaults()  # k = 7 in the same call was not stored either
