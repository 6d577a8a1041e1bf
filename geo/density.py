"""Kernel density surfaces of incidents, with a bandwidth in metres.

Works in British National Grid (EPSG:27700). Unlike Leaflet's heat layer, whose
radius is in screen pixels and so changes the picture with every zoom, the
bandwidth here is a distance on the ground: the map means the same at any zoom.

The estimate is a binned kernel density: incidents are counted on a fine raster
and the counts are convolved (by FFT) with the kernel sampled at the raster
cells and normalised to sum to one, so the surface holds exactly the number of
incidents (its integral, in incidents, equals the number of points) unless an
area mask cuts some off. Values are incidents per square kilometre.

Kernels: ``"quartic"`` (biweight, as ArcGIS and QGIS heat maps: zero beyond the
bandwidth) and ``"gaussian"`` (the bandwidth is the standard deviation;
truncated at 4 bandwidths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from scipy import signal

from geo.grid import area_geometry
from geo.points import BNG, WGS84, HotspotInputError, bng_xy

__all__ = [
    "DensitySurface",
    "Kernel",
    "density_bands",
    "kernel_density",
]

Kernel = Literal["quartic", "gaussian"]
"""The kernel shape."""

_MAX_RASTER = 25_000_000


@dataclass(frozen=True)
class DensitySurface:
    """A density raster in British National Grid.

    Attributes
    ----------
    values
        Incidents per km², shape ``(rows, cols)``; row 0 is the southern edge.
    x0, y0
        Easting and northing of the south-west corner (metres, EPSG:27700).
    cell_size
        Raster cell size in metres.
    bandwidth
        Kernel bandwidth in metres.
    kernel
        The kernel used.
    """

    values: np.ndarray
    x0: float
    y0: float
    cell_size: float
    bandwidth: float
    kernel: Kernel

    @property
    def total(self) -> float:
        """The integral of the surface: the number of incidents it holds."""
        return float(self.values.sum() * self.cell_size**2 / 1e6)

    def value_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the density (per km²) at points in EPSG:27700; 0 off the raster.

        Parameters
        ----------
        x, y
            Eastings and northings in metres.

        Returns
        -------
        numpy.ndarray
            Density of the raster cell under each point.
        """
        col = np.floor((np.asarray(x) - self.x0) / self.cell_size).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.cell_size).astype(np.int64)
        rows, cols = self.values.shape
        ok = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        out = np.zeros(col.shape)
        out[ok] = self.values[row[ok], col[ok]]
        return out


def _kernel(bandwidth: float, cell_size: float, kernel: Kernel) -> np.ndarray:
    reach = 4.0 * bandwidth if kernel == "gaussian" else bandwidth
    half = int(np.ceil(reach / cell_size))
    offsets = np.arange(-half, half + 1) * cell_size
    d2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    if kernel == "gaussian":
        weights = np.exp(-0.5 * d2 / bandwidth**2)
    elif kernel == "quartic":
        weights = np.clip(1.0 - d2 / bandwidth**2, 0.0, None) ** 2
    else:
        raise HotspotInputError(f"The kernel must be 'quartic' or 'gaussian', not {kernel!r}.")
    total = weights.sum()
    if total <= 0:  # bandwidth far below the cell size: all mass stays in its cell
        weights = np.zeros_like(weights)
        weights[half, half] = 1.0
        total = 1.0
    return weights / total


def kernel_density(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    bandwidth: float = 300.0,
    cell_size: float = 50.0,
    kernel: Kernel = "quartic",
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    weight_column: str | None = None,
) -> DensitySurface:
    """Estimate the density of incidents on a raster, with a bandwidth in metres.

    Works on points in any CRS (projected to EPSG:27700).

    Parameters
    ----------
    points
        Incident points with a CRS.
    bandwidth
        Kernel bandwidth in metres (quartic: the radius of influence; gaussian:
        the standard deviation).
    cell_size
        Raster cell size in metres; a fifth of the bandwidth or finer looks smooth.
    kernel
        ``"quartic"`` or ``"gaussian"``.
    area
        When given, the raster covers the area, and incidents and density outside
        it are dropped (so the total is the density inside the area); otherwise
        it covers the points with a margin of the kernel's reach, and holds every
        incident.
    weight_column
        A column of ``points`` with the number of incidents each point stands for;
        one each when None.

    Returns
    -------
    DensitySurface
        Incidents per km².

    Raises
    ------
    HotspotInputError
        For a bandwidth or cell size that is not positive, no points, or a
        raster of more than 25 million cells.

    Examples
    --------
    >>> pts = gpd.GeoSeries.from_xy([400000, 400100], [300000, 300000], crs="EPSG:27700")
    >>> surface = kernel_density(pts, bandwidth=200, cell_size=20)
    >>> round(surface.total, 6)
    2.0
    """
    for name, value in (("bandwidth", bandwidth), ("cell size", cell_size)):
        if not np.isfinite(value) or value <= 0:
            raise HotspotInputError(f"The {name} must be a positive number of metres.")
    x, y = bng_xy(points)
    weights = _kernel(float(bandwidth), float(cell_size), kernel)
    half = weights.shape[0] // 2
    mask_geom = None
    if area is not None:
        mask_geom = area_geometry(area)
        minx, miny, maxx, maxy = mask_geom.bounds
    else:
        if x.size == 0:
            raise HotspotInputError("There are no incidents to estimate a density from.")
        pad = (half + 1) * cell_size
        minx, miny, maxx, maxy = x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad
    x0 = np.floor(minx / cell_size) * cell_size
    y0 = np.floor(miny / cell_size) * cell_size
    cols = int(np.ceil((maxx - x0) / cell_size)) + 1
    rows = int(np.ceil((maxy - y0) / cell_size)) + 1
    if rows * cols > _MAX_RASTER:
        raise HotspotInputError(
            f"A {cell_size:g} m raster over this extent would have {rows * cols:,} cells; "
            "use a larger cell size."
        )
    col = np.floor((x - x0) / cell_size).astype(np.int64)
    row = np.floor((y - y0) / cell_size).astype(np.int64)
    keep = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    if mask_geom is not None:
        shapely.prepare(mask_geom)
        keep &= shapely.contains_xy(mask_geom, x, y)
    w = None if weight_column is None else np.asarray(points[weight_column], dtype="float64")
    counts = np.bincount(
        row[keep] * cols + col[keep], weights=None if w is None else w[keep], minlength=rows * cols
    ).reshape(rows, cols)
    smooth = signal.fftconvolve(counts.astype("float64"), weights, mode="same")
    smooth = np.clip(smooth, 0.0, None)  # FFT round-off can leave -1e-17
    smooth[smooth < 1e-12 * max(1.0, float(counts.sum()))] = 0.0
    if mask_geom is not None:
        cx = x0 + (np.arange(cols) + 0.5) * cell_size
        cy = y0 + (np.arange(rows) + 0.5) * cell_size
        inside = shapely.contains_xy(mask_geom, *np.meshgrid(cx, cy))
        smooth[~inside] = 0.0
    return DensitySurface(
        values=smooth / cell_size**2 * 1e6,
        x0=float(x0),
        y0=float(y0),
        cell_size=float(cell_size),
        bandwidth=float(bandwidth),
        kernel=kernel,
    )


def _boxes(surface: DensitySurface, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    xs = surface.x0 + cols * surface.cell_size
    ys = surface.y0 + rows * surface.cell_size
    return shapely.box(xs, ys, xs + surface.cell_size, ys + surface.cell_size)


def density_bands(
    surface: DensitySurface,
    *,
    levels: list[float] | np.ndarray | None = None,
    crs: str = WGS84,
) -> gpd.GeoDataFrame:
    """Return filled contour bands of the surface as polygons, for a map.

    Each band is the union of the raster cells whose density lies in
    ``[level_min, level_max)``; the top band has no upper limit.

    Parameters
    ----------
    surface
        From :func:`kernel_density`.
    levels
        Increasing lower limits of the bands (per km²); by default 20, 40, 60 and
        80 per cent of the peak density.
    crs
        Output CRS (WGS84 for display by default).

    Returns
    -------
    geopandas.GeoDataFrame
        ``level_min``, ``level_max`` (inf for the top band) and a (Multi)Polygon
        per non-empty band, lowest first.
    """
    peak = float(surface.values.max()) if surface.values.size else 0.0
    lv = np.asarray(
        levels if levels is not None else np.array([0.2, 0.4, 0.6, 0.8]) * peak, dtype="float64"
    )
    if lv.size == 0 or np.any(np.diff(lv) <= 0) or peak <= 0:
        if peak <= 0:
            return gpd.GeoDataFrame(
                {"level_min": [], "level_max": []}, geometry=[], crs=BNG
            ).to_crs(crs)
        raise HotspotInputError("Density levels must be increasing.")
    upper = np.append(lv[1:], np.inf)
    records: list[dict[str, float]] = []
    geoms: list[shapely.Geometry] = []
    for lo, hi in zip(lv, upper, strict=True):  # a handful of bands
        rows, cols = np.nonzero((surface.values >= lo) & (surface.values < hi) & (lo > 0))
        if rows.size == 0:
            continue
        records.append({"level_min": float(lo), "level_max": float(hi)})
        geoms.append(shapely.coverage_union_all(_boxes(surface, rows, cols)))
    frame = gpd.GeoDataFrame(records or {"level_min": [], "level_max": []}, geometry=geoms, crs=BNG)
    return frame if crs == BNG else frame.to_crs(crs)
