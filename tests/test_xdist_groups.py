"""The local loop keeps a module's shared fixture on one xdist worker (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def built_once() -> object:
    """Stands for a costly module fixture: a demo loaded, a server started."""
    return object()


def test_a_test_sharing_a_module_fixture_is_grouped_by_its_file(request, built_once) -> None:
    [mark] = list(request.node.iter_markers("xdist_group"))
    assert mark.args == ("tests/test_xdist_groups.py",)


def test_a_test_without_one_may_go_to_either_worker(request) -> None:  # the control
    assert not list(request.node.iter_markers("xdist_group"))
