r"""Getis-Ord Gi* hot spots on grid cell counts, with false discovery rate control.

The statistic is Gi* with binary contiguity weights that include the cell itself,
the same as esda's ``G_Local(y, w, transform="B", star=True)``. For cell *i* with
neighbourhood weights :math:`w_{ij}` (1 for the cell and its neighbours),
:math:`W_i = \sum_j w_{ij}`, :math:`n` cells, mean :math:`\bar y` and population
standard deviation :math:`s`:

.. math::

    z_i = \frac{\sum_j w_{ij} y_j - \bar y W_i}
               {s \sqrt{(n W_i - W_i^2) / (n - 1)}}

p-values are two-sided from the normal distribution (:math:`|z| > 1.96` is 95 per
cent). Across thousands of cells some would pass by chance, so the Benjamini-
Hochberg procedure turns them into q-values (false discovery rate adjusted
p-values, as :func:`scipy.stats.false_discovery_control`); a cell is significant
at 95 per cent when :math:`q < 0.05`. Each cell gets a confidence bin:
3, 2 or 1 for hot spots at 99, 95 or 90 per cent, -3, -2 or -1 for cold spots,
0 otherwise.

Permutation inference (conditional randomisation, as esda) is offered for small
areas. Its limit: with P permutations the smallest two-sided p-value is
2/(P+1) (0.002 for 999), while Benjamini-Hochberg needs the smallest p-value to
be at most alpha/n; with thousands of cells no permutation p-value can pass FDR
at all, however strong the cluster. Use it only for a few hundred cells, or read
the uncorrected view.
"""

from __future__ import annotations

import warnings
from typing import Literal

import geopandas as gpd
import numpy as np
from scipy import sparse, stats

from geo.grid import Grid, cells_frame, contiguity, count_points, locate_xy
from geo.points import WGS84, HotspotInputError, HotspotWarning, bng_xy

__all__ = [
    "Inference",
    "confidence_bins",
    "fdr_adjust",
    "gi_star",
    "hotspot_cells",
    "permutation_p",
    "two_sided_p",
]

Inference = Literal["analytic", "permutation"]
"""How p-values are found: from the normal distribution or by permutation."""

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
    lag = (w @ rows.T).T
    mean = rows.mean(axis=1, keepdims=True)
    sd = rows.std(axis=1, keepdims=True)
    denom = sd * np.sqrt((n * card - card**2) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lag - mean * card) / denom
    z[np.broadcast_to(sd == 0, z.shape)] = np.nan
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
    p = 2.0 * stats.norm.sf(np.abs(np.asarray(z, dtype="float64")))
    return np.where(np.isnan(p), 1.0, p)


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
    return np.asarray(stats.false_discovery_control(arr, axis=axis, method="bh"))


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


def _statistics(
    counts: np.ndarray,
    weights: sparse.csr_array,
    *,
    inference: Inference,
    permutations: int,
    seed: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = gi_star(counts, weights)
    if inference == "permutation":
        p = permutation_p(counts, weights, permutations=permutations, seed=seed)
        smallest = 2.0 / (permutations + 1.0)
        if smallest > 0.05 / counts.size:
            warnings.warn(
                f"With {counts.size:,} cells and {permutations} permutations no single cell "
                f"can pass the false discovery rate test at 95 per cent (smallest p = "
                f"{smallest:.4f}); read the uncorrected view or use the analytic test.",
                HotspotWarning,
                stacklevel=3,
            )
    elif inference == "analytic":
        p = two_sided_p(z)
    else:
        raise HotspotInputError(
            f"Inference must be 'analytic' or 'permutation', not {inference!r}."
        )
    z = np.nan_to_num(z, nan=0.0)
    return z, p, fdr_adjust(p)


def hotspot_cells(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: Grid,
    *,
    corrected: bool = True,
    inference: Inference = "analytic",
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
        Incident points with a CRS. Points outside the grid's area are left out
        and counted in ``result.attrs["points_outside"]``.
    grid
        The cells (:func:`geo.grid.build_grid`).
    corrected
        Bin on FDR-adjusted q-values (default); False bins on the uncorrected
        p-values, which will show some hot spots that are chance.
    inference
        ``"analytic"`` (normal p-values) or ``"permutation"`` (small areas only).
    permutations, seed
        For permutation inference.
    crs
        CRS of the output geometry.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell: ``cell_id``, ``count``, ``gi_z``, ``p`` (two-sided),
        ``q`` (FDR-adjusted p), ``bin`` (-3..3) and the whole cell polygon.
        ``attrs`` holds ``points_total``, ``points_outside``, ``corrected`` and
        ``inference``. All zero counts give z = 0, p = q = 1 and bin 0 in every
        cell, with a :class:`~geo.points.HotspotWarning`.

    Raises
    ------
    HotspotInputError
        For points without CRS or with unusable coordinates, or a grid of fewer
        than 3 cells.
    """
    if grid.n_cells < 3:
        raise HotspotInputError(
            f"The area has only {grid.n_cells} cell(s) at {grid.cell_size:g} m; hot spots need "
            "many cells. Use a smaller cell size or a larger area."
        )
    x, y = bng_xy(points)
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
    z, p, q = _statistics(
        counts, contiguity(grid), inference=inference, permutations=permutations, seed=seed
    )
    bins = confidence_bins(z, q if corrected else p)
    frame = cells_frame(grid, {"count": counts, "gi_z": z, "p": p, "q": q, "bin": bins}, crs=crs)
    frame.attrs.update(
        points_total=int(cell.size),
        points_outside=outside,
        corrected=corrected,
        inference=inference,
    )
    return frame
