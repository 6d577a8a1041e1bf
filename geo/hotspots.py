r"""Getis-Ord Gi* hot spots on grid cell counts, with false discovery rate control.

The statistic is Gi* with binary contiguity weights that include the cell itself,
the same as esda's ``G_Local(y, w, transform="B", star=True)``. For cell *i* with
neighbourhood weights :math:`w_{ij}` (1 for the cell and its neighbours),
:math:`W_i = \sum_j w_{ij}`, :math:`n` cells, mean :math:`\bar y` and population
standard deviation :math:`s`:

.. math::

    z_i = \frac{\sum_j w_{ij} y_j - \bar y W_i}
               {s \sqrt{(n W_i - W_i^2) / (n - 1)}}

p-values come in three kinds (``p_values``):

``"exact"`` (the default)
    The exact randomisation null, computed, not simulated. Under the null the
    observed cell counts are a fixed multiset dealt out to the cells at random:
    every arrangement is equally likely. A neighbourhood of :math:`W_i` cells
    (the cell itself and its neighbours) then holds :math:`W_i` counts drawn
    *without replacement* from the :math:`n` observed counts, and its sum
    :math:`S_{W_i}` has a distribution that depends only on :math:`W_i`. That
    distribution is the coefficient of :math:`x^{W}` in
    :math:`\prod_{c} (1 + x\,t^{y_c})`, computed for every neighbourhood size at
    once through Newton's identities on the Fourier transform of the count
    histogram (a few FFTs, whatever the number of cells). The one-sided
    p-values are :math:`P(S_{W_i} \ge \sum_j w_{ij} y_j)` (hot) and
    :math:`P(S_{W_i} \le \sum_j w_{ij} y_j)` (cold), and the two-sided p-value
    is twice the smaller, capped at 1. Because the cell itself is dealt out with
    the rest (total randomisation), this is the null whose mean and variance the
    analytic Gi* z-score uses: the z-score is unchanged; only its tail is read
    from the true, skewed, discrete distribution instead of the normal curve.
    esda's conditional randomisation (``"permutation"`` below) instead holds the
    cell's own count fixed and deals out only its neighbours: it then asks
    whether the *neighbours* are high given the cell, so a single busy cell
    among empty ones is not a hot spot there, while here it is one only when its
    count is rare among all cells' counts. On sparse counts (most cells zero) the
    normal approximation over-calls badly: a neighbourhood sum of 17 can get
    p = 3e-7 from the normal curve and 6e-3 exactly. The computation is exact
    up to floating point (about 1e-13 absolute), checked against a brute-force
    enumeration and against Monte Carlo permutations in the tests.
``"normal"``
    Two-sided from the normal distribution, :math:`2 \Phi(-|z|)`, as esda's
    analytic ``p_norm`` (:math:`|z| > 1.96` is 95 per cent). Kept for
    comparison with esda and ArcGIS; it over-calls sparse counts.
``"permutation"``
    esda's conditional randomisation by Monte Carlo (small areas only, see
    below).

Across thousands of cells some would pass by chance, so the Benjamini-
Hochberg procedure turns them into q-values (false discovery rate adjusted
p-values, as :func:`scipy.stats.false_discovery_control`); a cell is significant
at 95 per cent when :math:`q < 0.05`. Each cell gets a confidence bin:
3, 2 or 1 for hot spots at 99, 95 or 90 per cent, -3, -2 or -1 for cold spots,
0 otherwise.

Edges: a cell that lies mostly outside the area (less than ``min_share``,
one half by default, of its area inside) is left out of the analysis: it is
not tested, its count is not among the counts dealt out, and it is no one's
neighbour. Counting it as a whole cell would compare a half-empty square with
full ones. Its incidents are reported in ``attrs["points_edge"]``.

Permutation inference (conditional randomisation, as esda) is offered for small
areas. Its limit: with P permutations the smallest two-sided p-value is
2/(P+1) (0.002 for 999), while Benjamini-Hochberg needs the smallest p-value to
be at most alpha/n; with thousands of cells no permutation p-value can pass FDR
at all, however strong the cluster. Use it only for a few hundred cells, or read
the uncorrected view.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal, cast

import geopandas as gpd
import numpy as np
import shapely
from scipy import fft, sparse
from scipy.special import ndtr

from geo.grid import Grid, areas_inside, cells_frame, contiguity, count_points, locate_xy
from geo.points import WGS84, HotspotInputError, HotspotWarning, bng_xy

__all__ = [
    "DEFAULT_MIN_SHARE",
    "P_VALUES",
    "CellSizeAdvice",
    "GiStarTest",
    "Inference",
    "cell_size_advice",
    "confidence_bins",
    "coverage_message",
    "coverage_share",
    "exact_p",
    "fdr_adjust",
    "gi_star",
    "gi_star_test",
    "hotspot_cells",
    "inside_share",
    "neighbourhood_sum_pmf",
    "permutation_p",
    "space_time_test",
    "two_sided_p",
]

Inference = Literal["exact", "normal", "permutation", "analytic"]
"""How p-values are found: exact randomisation (default), normal curve, or permutation.

``"analytic"`` is an older name of ``"normal"``.
"""

P_VALUES: tuple[str, ...] = ("exact", "normal", "permutation")
"""The choices offered on the command line, the default first."""

DEFAULT_MIN_SHARE = 0.5
"""Cells with less than this share of their area inside the area are left out."""

_LEVELS = ((0.01, 3), (0.05, 2), (0.10, 1))


def gi_star(counts: np.ndarray, weights: sparse.sparray | sparse.spmatrix) -> np.ndarray:
    """Return Getis-Ord Gi* z-scores of cell counts.

    Parameters
    ----------
    counts
        Counts per cell, shape ``(n,)``, or one row per period, shape ``(t, n)``;
        each row is analysed on its own.
    weights
        Binary weights that include each cell itself (``contiguity(grid)``), n by n.

    Returns
    -------
    numpy.ndarray
        z-scores, the shape of ``counts``; NaN in a row whose counts are all equal
        (no variation, so no hot or cold spot can be told apart), and NaN for a
        cell whose neighbourhood is every cell (nothing to compare it with).

    Examples
    --------
    Five cells in a row, each with its neighbours on either side and itself:

    >>> w = sparse.csr_array(np.eye(5) + np.eye(5, k=1) + np.eye(5, k=-1))
    >>> gi_star(np.array([0.0, 0, 1, 4, 6]), w).round(4).tolist()
    [-1.4969, -1.9052, -0.5443, 1.4969, 1.9052]
    """
    y = np.asarray(counts, dtype="float64")
    rows = np.atleast_2d(y)
    n = rows.shape[1]
    w = sparse.csr_array(weights)
    if w.shape != (n, n):
        raise HotspotInputError(f"The weights are {w.shape} but there are {n} cells.")
    card = np.asarray(w.sum(axis=1), dtype="float64").ravel()
    spread = np.sqrt((n * card - card**2) / (n - 1))
    z = (w @ rows.T).T  # the lags, turned into z-scores row by row, in place: all England's
    # months are a million cells each, and whole-array steps held five such arrays at once
    for t, row in enumerate(rows):
        mean, sd = row.mean(), row.std()
        with np.errstate(divide="ignore", invalid="ignore"):
            z[t] = (z[t] - mean * card) / (sd * spread) if sd != 0 else np.nan
    return z.reshape(y.shape)


def two_sided_p(z: np.ndarray) -> np.ndarray:
    r"""Return two-sided normal p-values; NaN z gives p = 1.

    Parameters
    ----------
    z
        z-scores.

    Returns
    -------
    numpy.ndarray
        :math:`2 \Phi(-|z|)`.

    Examples
    --------
    >>> two_sided_p(np.array([1.959964, 0.0])).round(3).tolist()
    [0.05, 1.0]
    """
    p = 2.0 * ndtr(-np.abs(np.asarray(z, dtype="float64")))  # scipy.stats costs 1 s to import
    return np.where(np.isnan(p), 1.0, p)


def _whole_counts(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    whole = np.rint(v)
    if v.size and (np.any(np.abs(v - whole) > 1e-9) or whole.min() < 0):
        raise HotspotInputError(
            "Exact p-values need whole, non-negative counts per cell; use p-values 'normal' "
            "for weighted or fractional counts."
        )
    return whole.astype(np.int64)


def neighbourhood_sum_pmf(
    counts: np.ndarray, sizes: np.ndarray | list[int]
) -> dict[int, np.ndarray]:
    r"""Return the exact distribution of a sum of ``m`` counts drawn without replacement.

    The counts are the observed multiset (one per cell); for each ``m`` in
    ``sizes`` the result is the probability of each sum ``0, 1, ...,
    m * max(counts)`` when ``m`` cells are chosen at random without replacement,
    that is the coefficient of :math:`x^m` in :math:`\prod_c (1 + x t^{y_c})`
    divided by :math:`\binom{n}{m}`. It is computed in the Fourier domain of
    the count histogram with Newton's identities,

    .. math::

        e_k = \frac{1}{k} \sum_{i=1}^{k} (-1)^{i-1} e_{k-i}\, p_i,
        \qquad p_i(t) = \sum_c t^{i y_c},

    where :math:`p_i` is the histogram stretched by :math:`i` (an index
    dilation of its discrete Fourier transform), so every size costs
    :math:`O(m^2 L)` for an FFT length :math:`L > m \max y`, whatever the
    number of cells.

    Parameters
    ----------
    counts
        Whole, non-negative counts, shape ``(n,)``.
    sizes
        Neighbourhood sizes wanted, each between 1 and ``n``.

    Returns
    -------
    dict
        Size to probabilities (float64, summing to 1) of the sums ``0..m*max``.

    Examples
    --------
    Two cells of 1 and two of 0; two drawn: sums 0, 1, 2 have 1, 4 and 1 ways of 6.

    >>> pmf = neighbourhood_sum_pmf(np.array([1, 1, 0, 0]), [2])
    >>> (pmf[2] * 6).round(9).tolist()
    [1.0, 4.0, 1.0]
    """
    y = _whole_counts(counts)
    n = y.size
    wanted = sorted({int(m) for m in np.asarray(sizes).ravel()})
    if not wanted:
        return {}
    if wanted[0] < 1 or wanted[-1] > n:
        raise HotspotInputError(f"Neighbourhood sizes must be between 1 and {n}, not {wanted}.")
    top = int(y.max()) if n else 0
    big = wanted[-1]
    if top == 0:
        return {m: np.ones(1) for m in wanted}
    length = fft.next_fast_len(big * top + 1, real=True)
    hist = np.bincount(y, minlength=length).astype("float64") / n
    half = fft.rfft(hist, length)  # spectrum at 0..length//2; the rest by conjugate symmetry
    k = np.arange(half.size)

    def stretched(i: int) -> np.ndarray:  # p_i / n at each frequency: index dilation
        idx = (i * k) % length
        upper = idx > length // 2
        out = half[np.where(upper, length - idx, idx)]
        return np.where(upper, np.conj(out), out)

    power = [np.ones(1)] + [stretched(i) for i in range(1, big + 1)]
    # E_k: generating function of the sum of k draws, normalised to total probability 1.
    gen: list[np.ndarray] = [np.ones(half.size, dtype=complex)]
    comb = [math.comb(n, j) for j in range(big + 1)]
    for size in range(1, big + 1):
        acc = np.zeros(half.size, dtype=complex)
        for i in range(1, size + 1):
            coef = n * comb[size - i] / (size * comb[size])  # exact integers, one rounding
            acc += (coef if i % 2 else -coef) * gen[size - i] * power[i]
        gen.append(acc)
    out = {}
    for m in wanted:
        pmf = fft.irfft(gen[m], length)[: m * top + 1]
        pmf = np.clip(pmf, 0.0, None)
        out[m] = pmf / pmf.sum()
    return out


def _exact_p_row(values: np.ndarray, lag: np.ndarray, card: np.ndarray) -> np.ndarray:
    """Two-sided exact p-values of observed sums ``lag`` of ``card`` cells drawn from ``values``."""
    p = np.ones(lag.shape, dtype="float64")
    sizes = np.unique(card)
    pmfs = neighbourhood_sum_pmf(values, sizes)
    obs = np.rint(lag).astype(np.int64)
    for m in sizes:  # memoised by neighbourhood size: a handful of distinct sizes
        pmf = pmfs[int(m)]
        upper = np.cumsum(pmf[::-1])[::-1]  # P(S >= s)
        lower = np.cumsum(pmf)  # P(S <= s)
        cells = np.flatnonzero(card == m)
        s = np.clip(obs[cells], 0, pmf.size - 1)
        tail = np.minimum(upper[s], lower[s])
        p[cells] = np.minimum(1.0, 2.0 * tail)
    return p


def exact_p(counts: np.ndarray, weights: sparse.sparray | sparse.spmatrix) -> np.ndarray:
    """Return two-sided exact randomisation p-values of Gi* (see the module notes).

    Parameters
    ----------
    counts
        Whole counts per cell, shape ``(n,)``, or one row per period ``(t, n)``;
        each row has its own null (its own counts dealt out).
    weights
        Binary weights that include each cell itself, n by n.

    Returns
    -------
    numpy.ndarray
        p-values, the shape of ``counts``; 1 in a row whose counts are all equal.

    Examples
    --------
    Nine cells in a row, one neighbourhood of three holding all the incidents:

    >>> w = sparse.csr_array(np.eye(9) + np.eye(9, k=1) + np.eye(9, k=-1))
    >>> exact_p(np.array([0, 0, 0, 2, 3, 2, 0, 0, 0]), w).round(4).tolist()[3:6]
    [0.3095, 0.0238, 0.3095]
    """
    y = np.asarray(counts, dtype="float64")
    rows = np.atleast_2d(y)
    n = rows.shape[1]
    w = sparse.csr_array(weights)
    if w.shape != (n, n):
        raise HotspotInputError(f"The weights are {w.shape} but there are {n} cells.")
    card = np.asarray(w.sum(axis=1)).ravel().astype(np.int64)
    out = np.ones(rows.shape, dtype="float64")
    for t in range(rows.shape[0]):
        if n and rows[t].max() != rows[t].min():
            # one row's sums at a time: all England's 12 months at once were 90 MB more at
            # the warm-up's peak (issue 21); whole counts sum exactly in any order
            out[t] = _exact_p_row(rows[t], w @ rows[t], card)
    return out.reshape(y.shape)


def fdr_adjust(p: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Return Benjamini-Hochberg q-values (false discovery rate adjusted p-values).

    Equal to :func:`scipy.stats.false_discovery_control` with ``method="bh"``; a
    cell with ``q <= alpha`` is one that :func:`esda.fdr` would keep at ``alpha``.

    Parameters
    ----------
    p
        p-values, all within [0, 1].
    axis
        The axis along which the tests form one family (each period on its own).

    Returns
    -------
    numpy.ndarray
        q-values, the shape of ``p``.

    Examples
    --------
    >>> fdr_adjust(np.array([0.01, 0.02, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.04, 0.04, 0.5]
    """
    arr = np.asarray(p, dtype="float64")
    if arr.size == 0:
        return arr.copy()
    # scipy.stats.false_discovery_control's steps, without importing scipy.stats (about a
    # second of the command line's start-up)
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("p-values must be within [0, 1].")
    ps = np.moveaxis(arr, axis, -1)
    m = ps.shape[-1]
    order = np.argsort(ps, axis=-1)
    ordered = np.take_along_axis(ps, order, axis=-1) * (m / np.arange(1, m + 1))
    ordered = np.minimum.accumulate(ordered[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(ordered)
    np.put_along_axis(q, order, np.clip(ordered, 0.0, 1.0), axis=-1)
    return np.moveaxis(q, -1, axis)


def confidence_bins(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Return the confidence bin of each cell: 3/2/1 hot, -3/-2/-1 cold, 0 neither.

    Parameters
    ----------
    z
        z-scores (their sign says hot or cold).
    p
        The p- or q-values to read: 99 per cent where below 0.01, 95 below 0.05,
        90 below 0.10.

    Returns
    -------
    numpy.ndarray
        int8 bins.

    Examples
    --------
    >>> confidence_bins(np.array([3.0, 2.0, -2.0, 1.0]), np.array([0.001, 0.07, 0.03, 0.5]))
    array([ 3,  1, -2,  0], dtype=int8)
    """
    z = np.asarray(z, dtype="float64")
    p = np.asarray(p, dtype="float64")
    level = np.zeros(p.shape, dtype=np.int8)
    for cut, value in reversed(_LEVELS):
        level[p < cut] = value
    sign = np.sign(np.nan_to_num(z)).astype(np.int8)
    return (level * sign).astype(np.int8)


def permutation_p(
    counts: np.ndarray,
    weights: sparse.sparray | sparse.spmatrix,
    *,
    permutations: int = 999,
    seed: int | None = None,
) -> np.ndarray:
    """Return two-sided conditional-permutation p-values for Gi*.

    For each cell its own count is held fixed and its neighbours' counts are
    replaced by random draws (without replacement) from the other cells, as in
    esda; the same random draws are shared by all cells. The two-sided p-value
    is ``2 * (min(at least as high, at least as low) + 1) / (permutations + 1)``,
    capped at 1. See the module notes for why this cannot pass FDR with many cells.

    Parameters
    ----------
    counts
        Counts per cell, shape ``(n,)``.
    weights
        Binary weights including each cell itself.
    permutations
        Number of random draws.
    seed
        Seed for reproducible draws.

    Returns
    -------
    numpy.ndarray
        p-values per cell.

    Raises
    ------
    HotspotInputError
        For fewer than 2 cells or 10,000 or more cells (use the analytic test).
    """
    y = np.asarray(counts, dtype="float64")
    n = y.size
    if n < 2:
        raise HotspotInputError("Permutation inference needs at least 2 cells.")
    if n >= 10_000:
        raise HotspotInputError(
            f"Permutation inference is for small areas; this grid has {n:,} cells. "
            "Use the analytic test (the default)."
        )
    w = sparse.csr_array(weights)
    card = np.asarray(w.sum(axis=1)).ravel().astype(np.int64)
    observed = w @ y
    rng = np.random.default_rng(seed)
    k = int(card.max()) - 1
    draws = rng.permuted(np.tile(np.arange(n - 1), (permutations, 1)), axis=1)[:, :k]
    ge = np.zeros(n)
    le = np.zeros(n)
    for kk in np.unique(card):  # at most 9 distinct neighbourhood sizes
        idx = draws[None, :, : kk - 1]  # (1, P, kk-1) indices into "all cells but me"
        same = np.flatnonzero(card == kk)
        step = max(1, 4_000_000 // (permutations * max(1, kk - 1)))  # bound the memory
        for start in range(0, same.size, step):
            cells = same[start : start + step]
            shifted = idx + (idx >= cells[:, None, None])
            sims = y[cells][:, None] + y[shifted].sum(axis=2)  # (cells, P)
            ge[cells] = (sims >= observed[cells][:, None] - 1e-9).sum(axis=1)
            le[cells] = (sims <= observed[cells][:, None] + 1e-9).sum(axis=1)
    return np.minimum(1.0, 2.0 * (np.minimum(ge, le) + 1.0) / (permutations + 1.0))


def inside_share(grid: Grid) -> np.ndarray:
    """Return the share of each cell's area that lies inside the grid's area.

    Cells wholly inside have 1; only the edge cells are intersected with the
    area. The share the grid's builder measured (``Grid.share``; every builder
    does), else measured here.

    Parameters
    ----------
    grid
        The grid (EPSG:27700).

    Returns
    -------
    numpy.ndarray
        A share in (0, 1] per cell.
    """
    if grid.share is not None:
        return grid.share
    share = np.ones(grid.n_cells)
    edge = np.flatnonzero(~np.asarray(grid.interior, dtype=bool))
    if edge.size:
        cells = grid.polygons(edge)
        share[edge] = np.clip(areas_inside(cells, grid.area) / shapely.area(cells), 0.0, 1.0)
    share.setflags(write=False)
    return share


@dataclass(frozen=True)
class GiStarTest:
    """Gi* z-scores and p-values of each cell, and which cells were analysed.

    Attributes
    ----------
    z
        z-scores, shape of the counts; 0 where untestable or left out.
    p
        Two-sided p-values; 1 where untestable or left out.
    analysed
        Per cell: True unless the cell lies mostly outside the area.
    p_values
        ``"exact"``, ``"normal"`` or ``"permutation"``.
    """

    z: np.ndarray
    p: np.ndarray
    analysed: np.ndarray
    p_values: str

    def q(self, *, family: Literal["step", "cube"] = "step") -> np.ndarray:
        """Return Benjamini-Hochberg q-values over the analysed cells (1 elsewhere).

        Parameters
        ----------
        family
            For counts with one row per period: ``"step"`` (each period is one
            family of tests) or ``"cube"`` (all periods and cells together).

        Returns
        -------
        numpy.ndarray
            The shape of ``p``.
        """
        q = np.ones(self.p.shape)
        keep = self.analysed
        if not keep.any():
            return q
        if self.p.ndim == 1:
            q[keep] = fdr_adjust(self.p[keep])
        elif family == "cube":
            q[:, keep] = fdr_adjust(self.p[:, keep].ravel()).reshape(self.p.shape[0], -1)
        else:  # a period at a time: all England's months hold a million cells each
            for t in range(self.p.shape[0]):
                q[t, keep] = fdr_adjust(self.p[t, keep])
        return q


def _p_values_name(p_values: str) -> Inference:
    name = "normal" if p_values == "analytic" else p_values
    if name not in P_VALUES:
        raise HotspotInputError(f"p-values must be one of {', '.join(P_VALUES)}, not {p_values!r}.")
    return cast(Inference, name)


def gi_star_test(
    counts: np.ndarray,
    grid: Grid,
    *,
    p_values: Inference = "exact",
    min_share: float = DEFAULT_MIN_SHARE,
    permutations: int = 999,
    seed: int | None = None,
) -> GiStarTest:
    """Return Gi* z-scores and p-values of cell counts on a grid, edges left out.

    The one entry point for the map, emerging hot spots and flags: the cells
    with less than ``min_share`` of their area inside the area are left out
    (see the module notes), the rest get :func:`gi_star` and the chosen p-values.

    Parameters
    ----------
    counts
        Counts per cell ``(n,)`` or per period and cell ``(t, n)``.
    grid
        The grid.
    p_values
        ``"exact"`` (default), ``"normal"`` or ``"permutation"`` (one row only).
    min_share
        Leave out cells with less than this share of their area inside; 0 keeps all.
    permutations, seed
        For permutation p-values.

    Returns
    -------
    GiStarTest
        z, p and the analysed mask; ``.q()`` gives the FDR q-values.
    """
    name = _p_values_name(p_values)
    y = np.asarray(counts, dtype="float64")
    rows = np.atleast_2d(y)
    keep = inside_share(grid) >= min_share if min_share > 0 else np.ones(grid.n_cells, bool)
    if keep.sum() < 3:
        return GiStarTest(np.zeros(y.shape), np.ones(y.shape), keep, name)
    w = contiguity(grid)
    whole = bool(keep.all())  # no copy of the counts then (all England: a gigabyte less)
    if not whole:
        w = sparse.csr_array(w[keep][:, keep])
    sub = rows if whole else rows[:, keep]
    zs = np.nan_to_num(gi_star(sub, w), nan=0.0, copy=False)
    if name == "exact":
        ps = exact_p(sub, w)
    elif name == "normal":
        ps = two_sided_p(zs)
    else:
        ps = np.ones(sub.shape)
        for t in range(sub.shape[0]):
            if sub[t].max() != sub[t].min():
                ps[t] = permutation_p(sub[t], w, permutations=permutations, seed=seed)
    if whole:
        return GiStarTest(zs.reshape(y.shape), ps.reshape(y.shape), keep, name)
    del sub  # one array of months by cells at a time from here
    z = np.zeros(rows.shape)
    z[:, keep] = zs
    del zs
    p = np.ones(rows.shape)
    p[:, keep] = ps
    return GiStarTest(z.reshape(y.shape), p.reshape(y.shape), keep, name)


def _gi_z_general(values: np.ndarray, lag: np.ndarray, card: np.ndarray) -> np.ndarray:
    """Gi* z of sums ``lag`` of ``card`` cells out of ``values`` (total randomisation)."""
    n = values.size
    mean, sd = values.mean(), values.std()
    if sd == 0:
        return np.zeros(lag.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lag - mean * card) / (sd * np.sqrt((n * card - card**2) / (n - 1)))
    return np.nan_to_num(z, nan=0.0)


def space_time_test(
    counts: np.ndarray,
    grid: Grid,
    *,
    p_values: Inference = "exact",
    min_share: float = DEFAULT_MIN_SHARE,
) -> GiStarTest:
    """Return Gi* with Esri's space-time neighbourhood: this period and the previous one.

    For period ``t > 0`` a cell's neighbourhood is itself and its neighbours in
    periods ``t - 1`` and ``t``; the null deals out the counts of both periods
    together (2n cells). The first period uses the space neighbourhood only.

    Parameters
    ----------
    counts
        Shape ``(n_periods, n_cells)``.
    grid
        The grid.
    p_values
        ``"exact"`` or ``"normal"``.
    min_share
        As :func:`gi_star_test`.

    Returns
    -------
    GiStarTest
        z and p per period and cell.
    """
    name = _p_values_name(p_values)
    if name == "permutation":
        raise HotspotInputError("The space-time neighbourhood takes exact or normal p-values.")
    rows = np.asarray(counts, dtype="float64")
    if rows.ndim != 2:
        raise HotspotInputError("Space-time Gi* needs counts of shape (periods, cells).")
    first = gi_star_test(rows[:1], grid, p_values=name, min_share=min_share)
    keep = first.analysed
    z, p = np.zeros(rows.shape), np.ones(rows.shape)
    z[0], p[0] = first.z[0], first.p[0]
    if keep.sum() >= 3:
        w = contiguity(grid)
        w = sparse.csr_array(w[keep][:, keep])
        card = 2 * np.asarray(w.sum(axis=1)).ravel().astype(np.int64)
        sub = rows[:, keep]
        for t in range(1, rows.shape[0]):
            values = np.concatenate((sub[t - 1], sub[t]))
            lag = w @ (sub[t - 1] + sub[t])
            if values.max() == values.min():
                continue
            z[t, keep] = _gi_z_general(values, lag, card)
            if name == "exact":
                p[t, keep] = _exact_p_row(values, lag, card)
            else:
                p[t, keep] = two_sided_p(z[t, keep])
    return GiStarTest(z, p, keep, name)


@dataclass(frozen=True)
class CellSizeAdvice:
    """Whether the cells are big enough for the number of incidents, in numbers.

    Attributes
    ----------
    cell_size
        The chosen cell size in metres.
    incidents
        Incidents in the analysed cells.
    cells
        Analysed cells.
    neighbourhood
        Mean neighbourhood size (the cell and its neighbours).
    expected
        Expected incidents per neighbourhood, ``incidents / cells * neighbourhood``.
    target
        The least expected count thought useful.
    suggested
        A cell size (metres, a multiple of 50) that would reach ``target``, or None
        when the chosen size does.
    """

    cell_size: float
    incidents: int
    cells: int
    neighbourhood: float
    expected: float
    target: float
    suggested: float | None

    @property
    def too_small(self) -> bool:
        """True when the expected count per neighbourhood is below the target."""
        return self.suggested is not None

    def message(self) -> str:
        """Return the advice in words (empty when the cell size is fine)."""
        if self.suggested is None:
            return ""
        return (
            f"At {self.cell_size:g} m a neighbourhood of {self.neighbourhood:.0f} cells expects "
            f"{self.expected:.2g} incidents ({self.incidents:,} over {self.cells:,} cells), "
            f"fewer than {self.target:g}: most cells are empty and little can be told apart. "
            f"Try cells of about {self.suggested:g} m, or a longer period."
        )


def cell_size_advice(
    incidents: int,
    grid: Grid,
    *,
    target: float = 5.0,
    min_share: float = DEFAULT_MIN_SHARE,
) -> CellSizeAdvice:
    """Say whether the grid's cells are big enough for the number of incidents.

    Gi* compares neighbourhood sums; with an expected sum under a few incidents
    nearly every neighbourhood is 0 or 1 and only extreme clusters can be told
    apart. The suggested size scales the cell side by the square root of
    ``target / expected`` (the expected count grows with the cell's area).

    Parameters
    ----------
    incidents
        Incidents in the area (in the analysed cells).
    grid
        The grid.
    target
        The least expected count per neighbourhood thought useful.
    min_share
        As :func:`gi_star_test`.

    Returns
    -------
    CellSizeAdvice
        The figures and, when too low, a suggested size.

    Examples
    --------
    >>> square = gpd.GeoSeries([shapely.box(0, 0, 10_000, 10_000)], crs="EPSG:27700")
    >>> from geo.grid import build_grid
    >>> advice = cell_size_advice(100, build_grid(square, cell_size=250))
    >>> round(advice.expected, 2), advice.suggested
    (0.54, 800.0)
    """
    keep = inside_share(grid) >= min_share if min_share > 0 else np.ones(grid.n_cells, bool)
    cells = int(keep.sum())
    card = np.asarray(contiguity(grid)[keep][:, keep].sum(axis=1)).ravel() if cells else np.ones(1)
    neighbourhood = float(card.mean())
    expected = incidents / max(cells, 1) * neighbourhood
    suggested = None
    if expected < target:
        scale = math.sqrt(target / max(expected, 1e-9))
        suggested = float(max(50.0, math.ceil(grid.cell_size * scale / 50.0) * 50.0))
    return CellSizeAdvice(
        float(grid.cell_size), int(incidents), cells, neighbourhood, expected, target, suggested
    )


def coverage_share(counts: np.ndarray, grid: Grid) -> float:
    """Return the share of the area within the outline of the cells that hold incidents.

    The outline is the convex hull of those cells' centres, buffered by one cell, so a
    single town's incidents cover the town.

    Parameters
    ----------
    counts
        Incidents per cell, ``(n,)``, or per period and cell (summed over periods).
    grid
        The grid whose area is compared.

    Returns
    -------
    float
        0 to 1; 0 when there are no incidents.
    """
    c = np.asarray(counts)
    occupied = np.flatnonzero(c.sum(axis=0) > 0 if c.ndim == 2 else c > 0)
    if occupied.size == 0:
        return 0.0
    centres = shapely.centroid(grid.polygons(occupied))
    hull = shapely.convex_hull(shapely.multipoints(centres))
    outline = shapely.buffer(hull, grid.cell_size)
    total = shapely.area(grid.area)
    return float(shapely.area(shapely.intersection(outline, grid.area)) / total) if total else 0.0


def hotspot_cells(
    points: gpd.GeoDataFrame | gpd.GeoSeries | tuple[np.ndarray, np.ndarray],
    grid: Grid,
    *,
    corrected: bool = True,
    inference: Inference = "exact",
    min_share: float = DEFAULT_MIN_SHARE,
    permutations: int = 999,
    seed: int | None = None,
    crs: str = WGS84,
) -> gpd.GeoDataFrame:
    """Find hot and cold spots of incidents on a grid.

    Works on points in any CRS (projected to EPSG:27700); returns display
    geometry in WGS84 unless ``crs`` says otherwise.

    Parameters
    ----------
    points
        Incident points with a CRS, or their eastings and northings (EPSG:27700,
        checked already, as :func:`geo.points.read_points_xy` gives them). Points
        outside the grid's area are left out and counted in
        ``result.attrs["points_outside"]``.
    grid
        The cells (:func:`geo.grid.build_grid`).
    corrected
        Bin on FDR-adjusted q-values (default); False bins on the uncorrected
        p-values, which will show some hot spots that are chance.
    inference
        p-values: ``"exact"`` (default, exact randomisation), ``"normal"``
        (esda-compatible normal curve; ``"analytic"`` is its older name) or
        ``"permutation"`` (small areas only).
    min_share
        Cells with less of their area inside the area are left out (module notes).
    permutations, seed
        For permutation inference.
    crs
        CRS of the output geometry.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell: ``cell_id``, ``count``, ``gi_z``, ``p`` (two-sided),
        ``q`` (FDR-adjusted p), ``bin`` (-3..3), ``inside_share``, ``analysed``
        and the whole cell polygon. ``attrs`` holds ``points_total``,
        ``points_outside``, ``points_edge`` (in cells left out), ``corrected``,
        ``inference``, ``coverage`` (share of the area within the incidents'
        outline) and ``advice`` (:class:`CellSizeAdvice`). All zero counts give
        z = 0, p = q = 1 and bin 0 in every cell, with a
        :class:`~geo.points.HotspotWarning`; so does a cell size too small for
        the data, and data covering under a third of the area.

    Raises
    ------
    HotspotInputError
        For points without CRS or with unusable coordinates, a grid of fewer
        than 3 cells, or an unknown ``inference``.
    """
    if grid.n_cells < 3:
        raise HotspotInputError(
            f"The area has only {grid.n_cells} cell(s) at {grid.cell_size:g} m; hot spots need "
            "many cells. Use a smaller cell size or a larger area."
        )
    name = _p_values_name(inference)
    x, y = points if isinstance(points, tuple) else bng_xy(points)
    cell = locate_xy(grid, x, y)
    counts = count_points(grid, cell)
    outside = int((cell < 0).sum())
    if counts.sum() == 0 or np.all(counts == counts[0]):
        warnings.warn(
            "No incidents fall inside the area, so there are no hot spots to find."
            if counts.sum() == 0
            else "Every cell has the same count, so there are no hot spots to find.",
            HotspotWarning,
            stacklevel=2,
        )
    test = gi_star_test(
        counts, grid, p_values=name, min_share=min_share, permutations=permutations, seed=seed
    )
    if name == "permutation":
        smallest = 2.0 / (permutations + 1.0)
        if smallest > 0.05 / counts.size:
            warnings.warn(
                f"With {counts.size:,} cells and {permutations} permutations no single cell "
                f"can pass the false discovery rate test at 95 per cent (smallest p = "
                f"{smallest:.4f}); read the uncorrected view or use exact p-values.",
                HotspotWarning,
                stacklevel=2,
            )
    q = test.q()
    bins = confidence_bins(test.z, q if corrected else test.p)
    share = inside_share(grid)
    edge = int(counts[~test.analysed].sum())
    advice = cell_size_advice(int(counts[test.analysed].sum()), grid, min_share=min_share)
    coverage = coverage_share(counts, grid)
    if counts.sum() > 0 and advice.too_small:
        warnings.warn(advice.message(), HotspotWarning, stacklevel=2)
    if counts.sum() > 0 and coverage < _LOW_COVERAGE:
        warnings.warn(coverage_message(coverage), HotspotWarning, stacklevel=2)
    frame = cells_frame(
        grid,
        {
            "count": counts,
            "gi_z": test.z,
            "p": test.p,
            "q": q,
            "bin": bins,
            "inside_share": share.round(4),
            "analysed": test.analysed,
        },
        crs=crs,
    )
    frame.attrs.update(
        points_total=int(cell.size),
        points_outside=outside,
        points_edge=edge,
        corrected=corrected,
        inference=name,
        coverage=coverage,
        advice=advice,
    )
    return frame


_LOW_COVERAGE = 1 / 3


def coverage_message(coverage: float) -> str:
    """Return the warning for incidents that cover little of the area.

    Examples
    --------
    >>> coverage_message(0.08)[:46]
    'The incidents cover about 8% of the area (the '
    """
    return (
        f"The incidents cover about {coverage:.0%} of the area (the outline of where they "
        "are); the rest counts as no crime at all, which makes the covered part look hot. "
        "Choose an area that matches the data (e.g. --area with the district it comes from)."
    )
