"""Disclosure control: who needs it, and the threshold k (the cell key method: test_cellkey)."""

from __future__ import annotations

import doctest

import pytest
from sqlalchemy import select

import services.disclosure
from services.access import AccessDenied, Viewer
from services.disclosure import (
    K_DEFAULT,
    disclosure_k,
    needs_suppression,
    perturbation_note,
    set_disclosure_k,
)
from store.models import AuditEvent

DISTRICTS = ("E07000192", "E07000197", "E06000021")
OFFICER = Viewer("officer", "officer", DISTRICTS[:2])
STEERING = Viewer("viewer", "viewer", DISTRICTS)
LEAD = Viewer("lead", "lead", DISTRICTS)
ADMIN = Viewer("admin", "admin", DISTRICTS)


def test_the_docstring_examples_hold():
    failures, tried = doctest.testmod(services.disclosure)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("viewer", "expected"), [(OFFICER, True), (STEERING, True), (LEAD, False), (ADMIN, False)]
)
def test_only_roles_without_point_access_need_suppression(viewer, expected):
    assert needs_suppression(viewer) is expected


@pytest.mark.parametrize("k", [0, 1, -3, 2.5, "5", True])
def test_a_nonsense_threshold_is_refused(k):
    with pytest.raises(ValueError, match="whole number of 2 or more"):
        perturbation_note(k)


def test_k_is_a_setting_of_the_deployment(engine):
    assert disclosure_k(engine) == K_DEFAULT
    set_disclosure_k(engine, 10, viewer=ADMIN)
    assert disclosure_k(engine) == 10
    set_disclosure_k(engine, 7, viewer=ADMIN)
    assert disclosure_k(engine) == 7
    with engine.connect() as connection:
        actions = connection.execute(select(AuditEvent.action, AuditEvent.actor)).all()
    assert actions == [("change setting", "admin")] * 2


@pytest.mark.parametrize("viewer", [LEAD, OFFICER, STEERING])
def test_only_an_administrator_may_change_k(engine, viewer):
    with pytest.raises(AccessDenied, match="may not change the disclosure threshold"):
        set_disclosure_k(engine, 3, viewer=viewer)
    assert disclosure_k(engine) == K_DEFAULT
