"""What every collected test shares, the doctests of the modules included (``tests/`` has the rest).

A doctest runs in the same process as the tests after it, with no fixtures to undo what
it changes: one that deleted ``SAFER_SPACES_WARM`` switched the warm-up on for every page
test after it in CI (one process), and the warm-up's thread then read beside them.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from _pytest.doctest import DoctestItem


def environment_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Return the names of the environment variables that differ, sorted.

    ``PYTEST_CURRENT_TEST``, which pytest sets for each phase of a test, is not counted.

    Examples
    --------
    >>> environment_changes({"A": "1", "B": "2"}, {"A": "1", "B": "3", "C": "4"})
    ['B', 'C']
    """
    names = (before.keys() | after.keys()) - {"PYTEST_CURRENT_TEST"}  # pytest's own, per phase
    return sorted(name for name in names if before.get(name) != after.get(name))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a doctest that leaves the environment changed, and put the environment back."""
    if not isinstance(item, DoctestItem):
        return (yield)
    before = dict(os.environ)
    try:
        return (yield)
    finally:
        changed = environment_changes(before, dict(os.environ))
        os.environ.clear()
        os.environ.update(before)
        if changed:
            pytest.fail(
                f"this example leaves {', '.join(changed)} changed for the tests after it: "
                "change the environment with unittest.mock.patch.dict instead",
                pytrace=False,
            )
