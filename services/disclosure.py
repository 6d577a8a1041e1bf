"""Disclosure control for roles without point access: the cell key method, and small counts.

Every count about children that leaves the server for a role without point access
(officers and steering group viewers, see ``services.access``) goes through this module, so
that the rule lives in one place. Leads and admins see exact counts.

**The cell key method** (ONS, Census 2021 flexible tables). Every stored incident and
referral has a random *record key*, a whole number from 0 to 255 drawn at import
(:func:`new_record_keys`). Every count is read together with the sum of its records' keys
(``SUM(record_key)`` beside ``COUNT(*)``, carried through every grouping); the *cell key*
is that sum mod 256. A published perturbation table, ``services/ptable.csv`` (made by
:func:`build_ptable`, see ``docs/ptable.md``), gives for each true count and cell key a
small perturbation, at most :data:`D_MAX` either way. So the same records always give the
same shown count, from any page, filter or export, and no subtraction between two
screens, two filters or a total and its parts gives a true count: every shown count,
totals included, carries its own noise. Totals are perturbed as cells of their own, so a
table's parts need not add up to its total.

**Small counts.** The table never turns a count of 1 to k-1 into a count of 1 to k-1: it
becomes 0 or k or more; a true 0 stays 0 and a count of k or more stays k or more. A
shown 0 is written ``"<k"`` (``"<5"`` by default), whether the count was 0 or small: a
reader told which counts are 0 could count the parts of a small total that are not.
k is a setting of the deployment (``settings`` key ``"disclosure_k"``, read by
:func:`disclosure_k`), 5 unless set; the published table is for k = 5 and the table for
another k is built by the same published rule.

Every count a non-lead sees goes through the cell key method: incidents and referrals,
context events (police.uk, ``services.context``), the people linking places
(``services.links``, one key per person) and the impact of actions (``services.impact``). The
older rules of primary and secondary suppression are gone: they did not stand up to
differencing across filters.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from services.access import Viewer
from store.audit import record
from store.db import session_scope
from store.models import Setting

__all__ = [
    "D_MAX",
    "KEY_RANGE",
    "K_DEFAULT",
    "PTABLE_PATH",
    "SETTING_KEY",
    "build_ptable",
    "cell_key",
    "disclose",
    "disclose_counts",
    "disclose_flags",
    "disclosure_k",
    "legend",
    "needs_suppression",
    "new_record_keys",
    "perturb",
    "perturbation_note",
    "possible_counts",
    "protect_table",
    "ptable",
    "set_disclosure_k",
    "unprotected",
]

K_DEFAULT = 5
SETTING_KEY = "disclosure_k"


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


def legend(k: int = K_DEFAULT) -> str:
    """Return the sentence that explains protected counts, for a caption under them.

    It says that counts are perturbed, by at most :data:`D_MAX`, and what ``"<k"`` means.

    Examples
    --------
    >>> "at most 5 either way" in legend(10) and "<10 means fewer than 10" in legend(10)
    True
    """
    return perturbation_note(k)


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


# The cell key method ------------------------------------------------------------------------

KEY_RANGE = 256
"""Record keys and cell keys are whole numbers from 0 to 255."""

D_MAX = 5
"""The largest perturbation of any count, either way."""

PTABLE_PATH = Path(__file__).with_name("ptable.csv")
"""The published perturbation table for k = 5 (columns ``pcv``, ``ckey``, ``pvalue``)."""

PTABLE_ROWS = 60
"""Counts 0..PTABLE_ROWS have a row each; larger counts reuse the rows from k + D_MAX up."""

PTABLE_SEED = 20261128
"""The seed of the published table's key order (the table itself is public)."""

PTABLE_SIGMA = 1.5
"""Scale of the perturbation's discrete Gaussian shape before it is centred."""

_PROTECTION = contextvars.ContextVar("safer_spaces_perturbation", default=True)


def new_record_keys(n: int) -> np.ndarray:
    """Return ``n`` fresh record keys: uniform on 0..255, from the operating system's randomness.

    Drawn with :mod:`secrets` (one random byte each), never from a seed, so that no key can
    be worked out from the code that built the data.

    Examples
    --------
    >>> keys = new_record_keys(1000)
    >>> keys.shape, int(keys.min()) >= 0, int(keys.max()) <= 255
    ((1000,), True, True)
    """
    return np.frombuffer(secrets.token_bytes(int(n)), dtype=np.uint8).astype(np.int64)


def cell_key(key_sum: int | np.ndarray) -> int | np.ndarray:
    """Return the cell key of a count: the sum of its records' keys mod 256.

    Examples
    --------
    >>> cell_key(300), cell_key(255)
    (44, 255)
    >>> cell_key(np.array([256, 513])).tolist()
    [0, 1]
    """
    if isinstance(key_sum, np.ndarray):
        return np.mod(key_sum, KEY_RANGE)
    return int(key_sum) % KEY_RANGE


def _shape(values: np.ndarray, target: float, sigma: float) -> np.ndarray:
    """Return Gaussian-shaped probabilities on ``values``, tilted to mean ``target`` if possible."""
    base = -((values - target) ** 2) / (2 * sigma**2)

    def mean(tilt: float) -> float:
        w = np.exp(base + tilt * (values - target) - np.max(base + tilt * (values - target)))
        return float((w * values).sum() / w.sum())

    low, high = -6.0, 6.0
    if mean(high) < target:
        tilt = high
    elif mean(low) > target:
        tilt = low
    else:
        for _ in range(80):
            middle = (low + high) / 2
            low, high = (middle, high) if mean(middle) < target else (low, middle)
        tilt = (low + high) / 2
    w = np.exp(base + tilt * (values - target) - np.max(base + tilt * (values - target)))
    return w / w.sum()


def _spread(probabilities: np.ndarray, total: int) -> np.ndarray:
    """Return whole numbers of keys per outcome summing to ``total``.

    One key each, then the rest by largest remainders, so that the extreme outcomes get
    as few keys as they can.
    """
    rest = total - probabilities.size
    exact = probabilities * rest
    whole = np.floor(exact).astype(np.int64)
    for i in np.argsort(-(exact - whole), kind="stable")[: rest - int(whole.sum())]:
        whole[i] += 1
    return whole + 1


def build_ptable(
    *,
    k: int = K_DEFAULT,
    d_max: int = D_MAX,
    rows: int = PTABLE_ROWS,
    sigma: float = PTABLE_SIGMA,
    seed: int = PTABLE_SEED,
) -> pd.DataFrame:
    """Build the perturbation table: for each count and cell key, the perturbation.

    The published rule (``docs/ptable.md``):

    * a count of 0 is never perturbed;
    * a count c from 1 to k-1 becomes 0 (shown ``"<k"``) or a value from k to c + d_max,
      with probabilities of Gaussian shape tilted so that the mean shown value is c where
      that is possible (a count of 1 with k = 5: 0 for 205 keys in 256, 5 for 44, 6 for 7);
    * a count c of k or more becomes a value from max(k, c - d_max) to c + d_max, of the
      same shape, centred on c (exactly, from c = k + d_max up; just above k the mean is
      as close to c as the floor at k allows);
    * the probabilities are turned into numbers of the 256 cell keys: one key for every
      outcome, the rest by largest remainders, so that the extremes (plus or minus
      d_max) have one key each; the keys are given to the outcomes in an order drawn with
      ``seed``, row by row.

    Parameters
    ----------
    k
        The small-count threshold.
    d_max
        The largest perturbation either way.
    rows
        Counts with a row of their own (0..rows); see :func:`ptable_row`.
    sigma
        Scale of the Gaussian shape.
    seed
        Seed of the order in which keys are given to outcomes.

    Returns
    -------
    pandas.DataFrame
        ``pcv`` (the count's row), ``ckey`` (0..255) and ``pvalue`` (the perturbation),
        one row per pair, ONS's layout.

    Examples
    --------
    >>> table = build_ptable()
    >>> int(table["pvalue"].abs().max())
    5
    >>> shown = table["pcv"] + table["pvalue"]
    >>> bool(((shown > 0) & (shown < 5)).any())  # never a small count
    False
    """
    k = _check_k(k)
    if rows < k + 2 * d_max:
        raise ValueError(f"The table needs at least {k + 2 * d_max} rows for k = {k}.")
    rng = np.random.default_rng(seed)
    pcv: list[int] = []
    ckey: list[int] = []
    pvalue: list[int] = []
    for c in range(rows + 1):
        if c == 0:
            outcomes = np.array([0])
            keys_each = np.array([KEY_RANGE])
        else:
            low = max(k, c - d_max)
            shown = np.arange(low, c + d_max + 1, dtype=float)
            if c < k:
                shown = np.concatenate(([0.0], shown))
            # A small count: 0 or k..c+d_max; the mean shown value kept at c.
            probabilities = _shape(shown, float(c), sigma) if c >= k else _small(shown, c, sigma)
            keys_each = _spread(probabilities, KEY_RANGE)
            outcomes = (shown - c).astype(np.int64)
        order = rng.permutation(KEY_RANGE)
        perturbation = np.repeat(outcomes, keys_each)[np.argsort(order)]
        pcv.extend([c] * KEY_RANGE)
        ckey.extend(range(KEY_RANGE))
        pvalue.extend(perturbation.tolist())
    return pd.DataFrame({"pcv": pcv, "ckey": ckey, "pvalue": pvalue})


def _small(shown: np.ndarray, c: int, sigma: float) -> np.ndarray:
    """Probabilities of 0 and of each value from k up for a small count c (mean c)."""
    upper = shown[1:]
    if upper.size == 0:  # c + d_max < k: always 0
        return np.ones(1)
    shape = np.exp(-((upper - c) ** 2) / (2 * sigma**2))
    shape = shape / shape.sum()
    mean_up = float((shape * upper).sum())
    up = min(1.0, c / mean_up)
    return np.concatenate(([1.0 - up], up * shape))


@lru_cache(maxsize=8)
def ptable(k: int = K_DEFAULT) -> np.ndarray:
    """Return the perturbation table for threshold k as an array ``[row, cell key]``.

    For k = 5 it is read from the published ``services/ptable.csv``; another k is built by
    :func:`build_ptable`, the same published rule.
    """
    k = _check_k(k)
    frame = pd.read_csv(PTABLE_PATH) if k == K_DEFAULT else build_ptable(k=k)
    rows = int(frame["pcv"].max()) + 1
    table = np.zeros((rows, KEY_RANGE), dtype=np.int64)
    table[frame["pcv"].to_numpy(), frame["ckey"].to_numpy()] = frame["pvalue"].to_numpy()
    table.setflags(write=False)
    return table


def ptable_row(count: np.ndarray, *, k: int, rows: int) -> np.ndarray:
    """Return the table row for each count: its own up to ``rows``, then a repeating band.

    Counts above ``rows`` reuse the rows from k + D_MAX to ``rows`` in turn, where the
    perturbation is centred and free of the floor at k.

    Examples
    --------
    >>> ptable_row(np.array([0, 3, 60, 61, 62]), k=5, rows=60).tolist()
    [0, 3, 60, 10, 11]
    """
    count = np.asarray(count, dtype=np.int64)
    start = k + D_MAX
    band = rows - start + 1
    return np.where(count <= rows, count, start + (count - start) % band)


@contextlib.contextmanager
def unprotected() -> Iterator[None]:
    """Switch the perturbation off in this context (for the intruder tests' control only).

    Counts are then shown exactly, small ones as ``"<k"``: the rule before the cell key
    method, which the intruder tests show can be undone by differencing.
    """
    token = _PROTECTION.set(False)
    try:
        yield
    finally:
        _PROTECTION.reset(token)


def perturb(
    count: np.ndarray | int, key_sum: np.ndarray | int, *, k: int = K_DEFAULT
) -> np.ndarray:
    """Return the perturbed counts: count + the table's perturbation for (count, cell key).

    Parameters
    ----------
    count
        True counts (whole numbers, 0 or more).
    key_sum
        The sums of the counted records' keys (any size: taken mod 256 here).
    k
        The threshold.

    Returns
    -------
    numpy.ndarray
        The perturbed counts: 0 for 0; 0 or at least k for 1..k-1; at least k for k or more.
        (:func:`disclose` writes a shown 0 as ``"<k"``.)

    Examples
    --------
    >>> perturb(0, 17).tolist()
    0
    >>> bool(perturb(np.arange(5, 200), np.arange(5, 200) * 37).min() >= 5)
    True
    """
    count = np.asarray(count, dtype=np.int64)
    if not _PROTECTION.get():
        return count.copy()
    table = ptable(k)
    row = ptable_row(count, k=k, rows=table.shape[0] - 1)
    return count + table[row, cell_key(np.asarray(key_sum, dtype=np.int64))]


def disclose(count: int, key_sum: int, *, k: int = K_DEFAULT) -> int | str:
    """Return one count as a role without point access may see it.

    ``"<k"`` for a count that the table shows as 0 (every 0, and some of 1..k-1; all of
    them when the perturbation is switched off), else the perturbed count. A true 0 is
    shown as ``"<k"`` too: were it shown as 0, a total of ``"<5"`` over four parts that
    are not 0 would give every part away as 1.

    Examples
    --------
    >>> disclose(0, 99)
    '<5'
    >>> disclose(40, 0) in range(36, 45)
    True
    >>> disclose(3, 40) in ("<5", 5, 6, 7)
    True
    """
    shown = disclose_counts(np.array([count]), np.array([key_sum]), k=k)
    return shown[0]


def disclose_counts(
    counts: np.ndarray, key_sums: np.ndarray, *, k: int = K_DEFAULT
) -> list[int | str]:
    """Return counts as a role without point access may see them (see :func:`disclose`)."""
    counts = np.asarray(counts, dtype=np.int64)
    shown = perturb(counts, key_sums, k=k)
    small = shown < k  # 0 too: a shown 0 would tell which of its neighbours are not
    return [f"<{k}" if s else int(v) for s, v in zip(small, shown, strict=True)]


def protect_table(
    frame: pd.DataFrame,
    count_columns: list[str],
    key_columns: list[str],
    *,
    k: int = K_DEFAULT,
) -> pd.DataFrame:
    """Return a table of counts as a role without point access may see it (cell key method).

    Parameters
    ----------
    frame
        The table; other columns are kept as they are, the key columns are dropped.
    count_columns
        The columns holding true counts (totals included: each is its own cell).
    key_columns
        For each count column, the column holding its records' key sums.
    k
        The threshold.

    Returns
    -------
    pandas.DataFrame
        Counts perturbed (:func:`disclose`), as object columns where any shows ``"<k"``.

    Examples
    --------
    >>> table = pd.DataFrame({"n": [0, 12], "key": [0, 700]})
    >>> protect_table(table, ["n"], ["key"])["n"].tolist()[0]
    '<5'
    """
    if len(count_columns) != len(key_columns):
        raise ValueError("Give one key column for each count column.")
    result = frame.drop(columns=list(key_columns)).copy()
    for count, key in zip(count_columns, key_columns, strict=True):
        shown = disclose_counts(frame[count].to_numpy(), frame[key].to_numpy(), k=k)
        result[count] = pd.Series(shown, index=frame.index, dtype=object)
    return result


def possible_counts(shown: int | str, *, k: int = K_DEFAULT, limit: int = 100_000) -> range:
    """Return the true counts that could be shown as ``shown``: what an intruder can infer.

    Anyone may read the published table, so this is the most a reader learns from one
    shown count, whatever its cell key.

    Examples
    --------
    >>> possible_counts("<5")
    range(0, 5)
    >>> possible_counts(5)
    range(1, 11)
    """
    table = ptable(k)
    if shown == f"<{k}":
        values = [0, *(c for c in range(1, k) if (table[c] == -c).any())]
    else:
        n = int(shown)
        if n == 0:
            return range(0, 1)
        candidates = range(max(1, n - D_MAX), n + D_MAX + 1)
        values = [
            c
            for c in candidates
            if (table[ptable_row(np.array([c]), k=k, rows=table.shape[0] - 1)[0]] == n - c).any()
        ]
    return range(min(values), max(values) + 1) if values else range(0)


def perturbation_note(k: int = K_DEFAULT) -> str:
    """Return the sentence that says on screen and in the pack how counts are protected.

    Examples
    --------
    >>> perturbation_note().startswith("Counts of incidents and referrals are perturbed")
    True
    """
    k = _check_k(k)
    return (
        f"Counts of incidents and referrals are perturbed (ONS cell key method): each is "
        f"changed by at most {D_MAX} either way, the same every time it is shown, and "
        f"<{k} means fewer than {k} (0 included). Totals are perturbed on their own, so "
        "parts may not "
        "add up to them exactly."
    )


def disclose_flags(flags: pd.DataFrame, *, k: int = K_DEFAULT) -> pd.DataFrame:
    """Return flagged places with their counts and reasons as a role without point access sees them.

    Numbers first: ``incidents`` and ``previous`` are perturbed from their record key sums
    (``incidents_key``, ``previous_key`` of ``store.sites.flag_sites``), and the reason is
    rendered again from the place's figures (``geo.flags.figures_of``) with the perturbed
    counts (``geo.flags.render_reason``). The key sums are dropped.

    Examples
    --------
    >>> flags = pd.DataFrame({"incidents": [3], "previous": [0], "incidents_key": [7],
    ...     "previous_key": [0], "radius_m": [200.0], "period_label": ["Oct 2026"],
    ...     "hot_bin": [3], "in_hot_spot": [True], "trend": [""], "trend_since": [""],
    ...     "reason": ["3 incidents within ..."]})
    >>> "3 incidents" in disclose_flags(flags)["reason"][0]  # 3 is shown as <5, or 5 to 7
    False
    """
    from geo.flags import figures_of, render_reason

    out = flags.copy()
    now = disclose_counts(flags["incidents"].to_numpy(), flags["incidents_key"].to_numpy(), k=k)
    before = disclose_counts(flags["previous"].to_numpy(), flags["previous_key"].to_numpy(), k=k)
    figures = [figures_of(row, min_trend_incidents=k) for _, row in flags.iterrows()]
    for column, period in (("reason", True), ("reason_short", False)):
        out[column] = [
            render_reason(f, count_now=str(n), count_before=str(b), period=period)
            for f, n, b in zip(figures, now, before, strict=True)
        ]
    out["incidents"] = pd.Series(now, index=flags.index, dtype=object)
    out["previous"] = pd.Series(before, index=flags.index, dtype=object)
    return out.drop(columns=["incidents_key", "previous_key"])
