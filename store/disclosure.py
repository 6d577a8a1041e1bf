"""Disclosure control: small counts hidden from everyone who may not see single incidents.

Every aggregate that leaves the server for a role without point access
(officers and steering group viewers, see ``store.access``) goes through
this module, so that the rule lives in one place:

* **primary suppression**: a count from 1 to k-1 is shown as ``"<k"``
  (``"<5"`` by default); 0 and counts of k or more are shown as they are;
* **secondary suppression**: where a hidden count could be worked out by
  subtracting the visible counts of its row or column from the row or column
  total, another count of that row or column is hidden too (the smallest
  non-zero one, so that as little as possible is lost), shown as ``"*"``.
  This repeats until no row or column needs more.

k is a setting of the deployment (``settings`` key ``"disclosure_k"``, read
by :func:`disclosure_k`), 5 unless set.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from store.access import Viewer
from store.audit import record
from store.db import session_scope
from store.models import Setting

__all__ = [
    "HIDDEN",
    "K_DEFAULT",
    "SETTING_KEY",
    "disclosure_k",
    "legend",
    "needs_suppression",
    "set_disclosure_k",
    "suppress_count",
    "suppress_table",
    "suppressed_mask",
]

K_DEFAULT = 5
SETTING_KEY = "disclosure_k"
HIDDEN = "*"
"""How a count hidden by secondary suppression is shown (it may be any size)."""


def needs_suppression(viewer: Viewer) -> bool:
    """Return True when the viewer's aggregates must have small counts suppressed.

    Examples
    --------
    >>> needs_suppression(Viewer("o", "officer", ("E07000197",)))
    True
    >>> needs_suppression(Viewer("l", "lead", ("E07000197",)))
    False
    """
    return not viewer.sees_points


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(
            f"The disclosure threshold k must be a whole number of 2 or more, not {k!r}."
        )
    return int(k)


def suppress_count(n: int, *, k: int = K_DEFAULT) -> int | str:
    """Return a single count as it may be shown: ``"<k"`` for 1 to k-1, else the count.

    Use it for headline figures and tooltips. A single figure has no row or
    column to protect, so there is no secondary suppression here.

    Examples
    --------
    >>> suppress_count(3)
    '<5'
    >>> suppress_count(0), suppress_count(5), suppress_count(12)
    (0, 5, 12)
    >>> suppress_count(7, k=10)
    '<10'
    """
    k = _check_k(k)
    n = int(n)
    return f"<{k}" if 0 < n < k else n


def legend(k: int = K_DEFAULT) -> str:
    """Return the sentence that explains suppressed cells, for a caption under a table.

    Examples
    --------
    >>> legend(10).split(". ")[0]
    '<10: fewer than 10 (small numbers are hidden)'
    """
    k = _check_k(k)
    return (
        f"<{k}: fewer than {k} (small numbers are hidden). "
        f"{HIDDEN}: hidden so that a small number cannot be worked out from the totals."
    )


def _lines(shape: tuple[int, int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the (row indices, column indices) of each row and each column of the grid."""
    rows, columns = shape
    if columns > 1:
        for r in range(rows):
            yield np.full(columns, r), np.arange(columns)
    if rows > 1:
        for c in range(columns):
            yield np.arange(rows), np.full(rows, c)


def _reveals(values: np.ndarray, primary: np.ndarray, k: int) -> bool:
    """Return True when the hidden cells of one line give themselves away.

    That is so when exactly one cell is hidden (the total minus the visible
    cells is its value), or when every hidden cell is a primary one and their
    sum is as small (all 1) or as large (all k-1) as primary cells can be.
    """
    count = int(primary.size)
    if count == 0:
        return False
    if count == 1:
        return True
    if bool(primary.all()):
        total = float(values.sum())
        return total in (count, count * (k - 1))
    return False


def suppressed_mask(
    values: np.ndarray, *, k: int = K_DEFAULT, margins_fixed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return which cells of a grid of counts to hide: (primary, secondary) boolean grids.

    Parameters
    ----------
    values
        A 2-D array of non-negative counts (NaN for cells that are not counts).
    k
        The threshold: counts from 1 to k-1 are hidden.
    margins_fixed
        How many trailing rows are totals of the rows above them (0 or 1);
        they are checked for small counts but never hidden to protect others.

    Returns
    -------
    numpy.ndarray, numpy.ndarray
        The primary and secondary suppression masks, of the shape of ``values``.

    Examples
    --------
    >>> primary, secondary = suppressed_mask(np.array([[3.0], [10.0], [20.0]]))
    >>> primary.ravel().tolist(), secondary.ravel().tolist()
    ([True, False, False], [False, True, False])
    """
    k = _check_k(k)
    grid = np.asarray(values, dtype=float)
    counts = np.nan_to_num(grid, nan=0.0)
    primary = (counts > 0) & (counts < k)
    hidden = primary.copy()
    body = grid.shape[0] - margins_fixed
    if body <= 0:
        return primary, np.zeros_like(primary)
    candidates = ~np.isnan(grid)
    candidates[body:, :] = False
    changed = True
    while changed:
        changed = False
        for rows, columns in _lines((body, grid.shape[1])):
            line_hidden = hidden[rows, columns]
            if not _reveals(
                counts[rows, columns][line_hidden], primary[rows, columns][line_hidden], k
            ):
                continue
            free = candidates[rows, columns] & ~line_hidden
            if not free.any():
                continue
            line_counts = counts[rows, columns]
            # The smallest non-zero visible count; a zero only when nothing else is left.
            order = np.where(free, np.where(line_counts > 0, line_counts, np.inf), np.nan)
            if np.isinf(np.nanmin(order)):
                pick = int(np.flatnonzero(free)[0])
            else:
                pick = int(np.nanargmin(order))
            hidden[rows[pick], columns[pick]] = True
            changed = True
    return primary, hidden & ~primary


def suppress_table(
    frame: pd.DataFrame,
    count_columns: list[str],
    *,
    k: int = K_DEFAULT,
    total_row: bool = False,
) -> pd.DataFrame:
    """Return a copy of a table of counts that is safe for a role without point access.

    Parameters
    ----------
    frame
        The table; other columns (names, codes, shares) are kept as they are.
    count_columns
        The columns holding counts. Each row and each of these columns is
        treated as a line whose total a reader might know.
    k
        The threshold: counts from 1 to k-1 are shown as ``"<k"``.
    total_row
        True when the last row holds the totals of the rows above it; its
        small counts are hidden, but it is never used to hide others.

    Returns
    -------
    pandas.DataFrame
        The table with small counts shown as ``"<k"`` and counts hidden to
        protect them shown as ``"*"`` (see :func:`legend`); count columns that
        hide anything become text (object) columns.

    Examples
    --------
    >>> table = pd.DataFrame({"district": ["A", "B", "C"], "incidents": [3, 12, 40]})
    >>> suppress_table(table, ["incidents"])
      district incidents
    0        A        <5
    1        B         *
    2        C        40
    """
    k = _check_k(k)
    missing = [c for c in count_columns if c not in frame.columns]
    if missing:
        raise KeyError(f"The table has no column {', '.join(map(str, missing))} to suppress.")
    result = frame.copy()
    if frame.empty or not count_columns:
        return result
    values = frame[count_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if (values < 0).any():
        raise ValueError("Counts cannot be negative; check the table before suppressing it.")
    primary, secondary = suppressed_mask(values, k=k, margins_fixed=1 if total_row else 0)
    for j, column in enumerate(count_columns):
        if not (primary[:, j].any() or secondary[:, j].any()):
            continue
        shown = result[column].astype(object)
        shown[primary[:, j]] = f"<{k}"
        shown[secondary[:, j]] = HIDDEN
        result[column] = shown
    return result


def disclosure_k(engine: Engine) -> int:
    """Return the deployment's threshold k (the ``settings`` key ``"disclosure_k"``), else 5.

    The setting's value is ``{"k": 10}`` (or a bare number).
    """
    with session_scope(engine) as session:
        setting = session.get(Setting, SETTING_KEY)
        if setting is None:
            return K_DEFAULT
        value = setting.value
    raw = value.get("k") if isinstance(value, dict) else value
    try:
        return _check_k(int(raw))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return K_DEFAULT


def set_disclosure_k(engine: Engine, k: int, *, viewer: Viewer) -> None:
    """Store the threshold k; only an administrator may change it."""
    viewer.require(viewer.is_admin, "change the disclosure threshold")
    k = _check_k(k)
    with session_scope(engine) as session:
        setting = session.get(Setting, SETTING_KEY)
        before = None if setting is None else setting.value
        if setting is None:
            session.add(
                Setting(
                    key=SETTING_KEY,
                    value={"k": k},
                    created_by=viewer.username,
                    updated_by=viewer.username,
                )
            )
        else:
            setting.value = {"k": k}
            setting.updated_by = viewer.username
        record(
            session,
            actor=viewer.username,
            action="change setting",
            entity="setting",
            entity_id=SETTING_KEY,
            detail={"before": before, "after": {"k": k}},
        )
