"""Folium maps that work without internet access.

folium and its plugins link Leaflet, jQuery, the marker plugins and their CSS from CDNs,
and streamlit-folium loads exactly those links inside its component iframe (a script that
fails to load stops the map from being drawn at all). This module builds maps whose links
point at the copies vendored in ``dashboard/static/vendor`` by
``scripts/vendor_map_assets.sh``, which Streamlit serves at ``/app/static/vendor`` when
``server.enableStaticServing`` is on. No base map tiles are used unless asked for.

Nothing here calls Streamlit: a map is checked by rendering its HTML, e.g. with
:func:`external_urls`.
"""

from __future__ import annotations

import functools
import html
import math
import re
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import branca.element
import folium
import numpy as np
import shapely
from branca.colormap import ColorMap
from folium.elements import JSCSSMixin
from folium.plugins import FastMarkerCluster, Fullscreen, MarkerCluster
from folium.template import Template

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "DEFAULT_ATTRIBUTION",
    "LOCAL_ASSETS",
    "OSM_ATTRIBUTION",
    "STATIC_URL_PREFIX",
    "TILE_CHOICES",
    "VENDOR_DIR",
    "BaseTiles",
    "add_area_labels",
    "add_district_outlines",
    "add_legend",
    "add_offline_base",
    "add_ward_outlines",
    "base_tiles",
    "emphasise_small_cells",
    "external_urls",
    "fast_marker_cluster",
    "fullscreen",
    "geojson",
    "legend_key",
    "local_url",
    "localise",
    "offline_areas",
    "offline_map",
    "view_for_bounds",
    "view_target",
]


class _PlainText:
    """A branca template whose text holds no jinja syntax: it renders as its text.

    As jinja renders such a text (its ``keep_trailing_newline`` is off: one final
    newline is dropped), with no macros (what ``MacroElement`` looks up in ``module``).
    """

    module = types.SimpleNamespace()

    def __init__(self, source: str) -> None:
        self._text = source.removesuffix("\n")

    def render(self, *args: object, **kwargs: object) -> str:
        return self._text


_JINJA = re.compile(r"\{[{%#]|\r")
"""Jinja's delimiters (and a carriage return, which jinja would turn into a newline)."""


def _compiled_template(source: str) -> branca.element.Template | _PlainText:
    """Return branca's template for ``source``: its text when it holds no jinja syntax."""
    return _compiled(source) if _JINJA.search(source) else _PlainText(source)


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> branca.element.Template:
    return _BrancaTemplate(source)


def _reuse_compiled_templates() -> None:
    """Compile each of branca's per-element templates once per process, not once per draw.

    Elements made while a map renders (links to scripts and styles, and the like) each
    compiled their jinja template anew: hundreds of compilations, about a fifth of the
    server's time for a click on the map. A compiled template holds no state of its own,
    so one compiled copy per template text is shared. Most texts are already HTML or
    script with each element's own id in it (all England's base map: 907 different ones,
    none with jinja syntax, compiled 3,653 times in a warm-up, 6.5 s): they are not
    compiled at all.
    """
    branca.element.Template = _compiled_template  # type: ignore[assignment,misc]


_BrancaTemplate = branca.element.Template
_reuse_compiled_templates()

STATIC_URL_PREFIX = "/app/static/vendor"
"""URL under which Streamlit serves ``dashboard/static/vendor`` (static serving on)."""

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
"""Folder holding the vendored assets, written by ``scripts/vendor_map_assets.sh``."""

DEFAULT_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right; ONS Postcode Directory, OGL v3.0"
)
"""Attribution shown on every map: the boundaries and postcodes come from OS and ONS data."""

BACKGROUND_COLOUR = "#f3f3ef"
"""Plain light background drawn where base map tiles would be."""

LOCAL_ASSETS: dict[str, tuple[tuple[str, str], ...]] = {
    # folium.Map
    "leaflet": (("leaflet", "leaflet/leaflet.js"),),
    "jquery": (("jquery", "jquery/jquery.min.js"),),
    "awesome_markers": (
        ("awesome_markers", "leaflet.awesome-markers/leaflet.awesome-markers.min.js"),
    ),
    "leaflet_css": (("leaflet_css", "leaflet/leaflet.css"),),
    "awesome_markers_font_css": (
        ("awesome_markers_font_css", "fontawesome-free/css/fontawesome.min.css"),
        ("awesome_markers_font_solid_css", "fontawesome-free/css/solid.min.css"),
    ),
    "awesome_markers_css": (
        ("awesome_markers_css", "leaflet.awesome-markers/leaflet.awesome-markers.css"),
    ),
    # Not needed by anything we draw: Bootstrap (JS and CSS), the Bootstrap 3 glyphicons
    # (folium.Icon's default prefix; use prefix="fa") and folium's icon-rotation CSS.
    "bootstrap": (),
    "bootstrap_css": (),
    "glyphicons_css": (),
    "awesome_rotate_css": (),
    # folium.plugins.MarkerCluster
    "markerclusterjs": (("markerclusterjs", "leaflet.markercluster/leaflet.markercluster.js"),),
    "markerclustercss": (("markerclustercss", "leaflet.markercluster/MarkerCluster.css"),),
    "markerclusterdefaultcss": (
        ("markerclusterdefaultcss", "leaflet.markercluster/MarkerCluster.Default.css"),
    ),
    # folium.plugins.Fullscreen
    "Control.Fullscreen.js": (
        ("Control.Fullscreen.js", "leaflet.fullscreen/Control.FullScreen.js"),
    ),
    "Control.FullScreen.css": (
        ("Control.FullScreen.css", "leaflet.fullscreen/Control.FullScreen.css"),
    ),
    # folium.plugins.HeatMap
    "leaflet-heat.js": (("leaflet-heat.js", "leaflet.heat/leaflet-heat.min.js"),),
}
"""folium's link names mapped to the vendored files (paths under ``VENDOR_DIR``).

An empty tuple drops the link. A name missing here makes :func:`localise` fail, so a new
plugin cannot silently bring a CDN link back: vendor it first.
"""

_E = TypeVar("_E", bound=JSCSSMixin)

_ABSOLUTE_URL = re.compile(r"""https?://[^\s"'<>()\\]+""", re.IGNORECASE)
# "//host/..." as an attribute value or in CSS url(...): fetched with the page's scheme.
_PROTOCOL_RELATIVE_URL = re.compile(r"""(?<=["'(=])//[^\s"'<>()\\/][^\s"'<>()\\]*""")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Identifiers that look like URLs but are never fetched.
_NOT_FETCHED = ("http://www.w3.org/",)


def local_url(relative_path: str) -> str:
    """Return the URL at which the app serves a vendored file.

    Parameters
    ----------
    relative_path : str
        Path under ``VENDOR_DIR``, e.g. ``"leaflet/leaflet.js"``.

    Returns
    -------
    str
        An absolute path on the app's own origin, e.g. ``/app/static/vendor/leaflet/leaflet.js``.
    """
    return f"{STATIC_URL_PREFIX}/{relative_path}"


def _localised_links(links: list[tuple[str, str]], owner: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, url in links:
        if url.startswith(STATIC_URL_PREFIX + "/"):
            out.append((name, url))
            continue
        if name not in LOCAL_ASSETS:
            raise ValueError(
                f"{owner} links {name!r} from {url}, which has no vendored copy: add the "
                "package to scripts/vendor_map_assets.sh and the name to "
                "dashboard.maps.LOCAL_ASSETS."
            )
        out.extend((local_name, local_url(path)) for local_name, path in LOCAL_ASSETS[name])
    return out


def localise(element: _E) -> _E:
    """Point an element's JavaScript and CSS links at the vendored copies.

    The links are replaced on the instance only; folium's class-level lists are not touched.

    Parameters
    ----------
    element : folium.elements.JSCSSMixin
        A folium map or plugin that links external assets.

    Returns
    -------
    folium.elements.JSCSSMixin
        The same element, for chaining.

    Raises
    ------
    ValueError
        If the element links an asset that is not vendored.

    Examples
    --------
    >>> from folium.plugins import Fullscreen
    >>> [url for _, url in localise(Fullscreen()).default_js]
    ['/app/static/vendor/leaflet.fullscreen/Control.FullScreen.js']
    """
    owner = type(element).__name__
    element.default_js = _localised_links(list(element.default_js), owner)
    element.default_css = _localised_links(list(element.default_css), owner)
    return element


class _MapChrome(folium.MacroElement):
    """Background colour, attribution, marker images and click focus for a map without tiles.

    Leaflet guesses where its marker images are from its style sheet, which streamlit-folium
    may not have loaded yet when markers are made; its fallback guess drops a slash. So the
    path is set, in the map's script (streamlit-folium does not run scripts in the header).
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>.leaflet-container { background: {{ this.background }}; }
            .place-cluster { background: none; border: 0; }
            .place-cluster div { width: 34px; height: 34px; border-radius: 50%;
                background: #2c3e50; color: #fff; font: 700 12px/28px sans-serif;
                text-align: center; border: 3px solid #fff; box-sizing: border-box;
                box-shadow: 0 0 0 3px var(--ring, #d63e2a), 0 1px 4px rgba(0,0,0,0.4); }
            </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.icon_path|tojson }};
            // Leaflet and the browser focus the map or a marker on mouse down; in an iframe
            // partly out of view the page then scrolls between mouse down and up, and the
            // click lands elsewhere (a marker "does not react"). Focus without scrolling.
            if ({{ this._parent.get_name() }}.keyboard) {
                {{ this._parent.get_name() }}.keyboard.disable();
            }
            L.Map.Keyboard.prototype._onMouseDown = function () {
                if (!this._focused) { this._map._container.focus({preventScroll: true}); }
            };
            if ({{ this._parent.get_name() }}.keyboard) {
                {{ this._parent.get_name() }}.keyboard.enable();
            }
            {{ this._parent.get_name() }}.getContainer().addEventListener(
                "mousedown",
                function (e) {
                    var target = e.target.closest && e.target.closest("[tabindex]");
                    if (target) { e.preventDefault(); target.focus({preventScroll: true}); }
                },
                true
            );
            {%- if this.attribution %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution(
                {{ this.attribution|tojson }}
            );
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, *, background: str, attribution: str) -> None:
        super().__init__()
        self._name = "MapChrome"
        self.background = background
        self.attribution = attribution
        self.icon_path = local_url("leaflet/images/")


def offline_map(
    *,
    bounds: tuple[float, float, float, float],
    tiles: str | None = None,
    base: BaseTiles | None = None,
    attribution: str = DEFAULT_ATTRIBUTION,
    background: str = BACKGROUND_COLOUR,
    min_zoom: int = 6,
    max_zoom: int = 18,
    fit: bool = True,
) -> folium.Map:
    """Create a map that loads nothing from the internet, fitted to some bounds.

    Coordinates are WGS84 (EPSG:4326) longitude and latitude.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in WGS84 degrees, as ``GeoDataFrame.total_bounds``
        after ``to_crs(4326)``.
    tiles : str, optional
        A base map: a folium/xyzservices provider name or a ``{z}/{x}/{y}`` URL template.
        None (the default) draws a plain light background and needs no network.
    base : BaseTiles, optional
        A base map from :func:`base_tiles` (the partnership's setting). Its tiles sit
        above the offline base layer (:func:`add_offline_base`), whose names are hidden
        once a tile has loaded; if tiles fail to load before any has, the tile layer is
        removed and the offline layer shows.
    attribution : str, default DEFAULT_ATTRIBUTION
        Attribution for the data drawn on the map; also used for a tile URL template.
    background : str, default BACKGROUND_COLOUR
        CSS colour shown where tiles would be.
    min_zoom, max_zoom : int, default 6, 18
        Zoom limits of the map itself. Leaflet takes them from the tile layer when there is
        one; without tiles they must be set on the map, or MarkerCluster refuses to start
        ("Map has no maxZoom specified") and nothing is drawn.
    fit : bool, default True
        Fit the bounds in the browser. False when a :func:`view_target` layer sets the
        view: the map then starts centred on the bounds at a zoom for a 600x640 map.

    Returns
    -------
    folium.Map
        The map, with every script and style sheet pointing at ``STATIC_URL_PREFIX``.

    Raises
    ------
    ValueError
        If the bounds are not ordered or not valid longitudes and latitudes.

    See Also
    --------
    add_district_outlines, external_urls

    Examples
    --------
    >>> m = offline_map(bounds=(-2.5, 52.4, -1.6, 53.2))
    >>> external_urls(m.get_root().render())
    []
    """
    minx, miny, maxx, maxy = bounds
    problems = []
    if not (-180 <= minx < maxx <= 180):
        problems.append(f"longitudes must satisfy -180 <= minx < maxx <= 180, got {minx}, {maxx}")
    if not (-90 <= miny < maxy <= 90):
        problems.append(f"latitudes must satisfy -90 <= miny < maxy <= 90, got {miny}, {maxy}")
    if problems:
        raise ValueError(
            "bounds must be WGS84 (minx, miny, maxx, maxy); reproject with to_crs(4326): "
            + "; ".join(problems)
        )
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        control_scale=True,
        zoom_start=9,
    )
    m.options.update(min_zoom=min_zoom, max_zoom=max_zoom, zoom_snap=0.25)
    # Layers added later without rebuilding the map (streamlit-folium's feature groups)
    # bring no scripts of their own: load the marker cluster plugin with every map, or a
    # layer of clustered markers switched on in a live map draws nothing.
    m.default_js = [*m.default_js, *MarkerCluster.default_js]
    m.default_css = [*m.default_css, *MarkerCluster.default_css]
    localise(m)
    _MapChrome(background=background, attribution=attribution).add_to(m)
    if base is not None:
        _BaseTileLayer(base, min_zoom=min_zoom).add_to(m)
    elif tiles is not None:
        folium.TileLayer(
            tiles,
            attr=attribution if "{" in tiles else None,
            min_zoom=min_zoom,
            max_zoom=max_zoom,
        ).add_to(m)
    if fit:
        m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(12, 12))
    else:  # the view is set by a layer (view_target): start near it, without a later jump
        (lat, lon), zoom = view_for_bounds(bounds, width=600, height=640)
        m.location, m.options["zoom"] = [lat, lon], zoom
    return m


def fullscreen(**kwargs: Any) -> Fullscreen:
    """Return a ``folium.plugins.Fullscreen`` control that uses the vendored plugin.

    Parameters
    ----------
    **kwargs
        Passed to ``Fullscreen``, e.g. ``position="topleft"``.

    Returns
    -------
    folium.plugins.Fullscreen
        The control, to be added to the map.
    """
    return localise(Fullscreen(**kwargs))


def add_district_outlines(
    m: folium.Map,
    districts_gdf_wgs84: gpd.GeoDataFrame,
    *,
    name_field: str = "name",
    code_field: str = "code",
    approximate: bool,
) -> folium.GeoJson:
    """Draw district outlines with their names in a tooltip.

    The frame must be in WGS84 (EPSG:4326); reproject with ``to_crs(4326)`` first.

    Parameters
    ----------
    m : folium.Map
        The map to draw on.
    districts_gdf_wgs84 : geopandas.GeoDataFrame
        One row per district, polygons in EPSG:4326.
    name_field, code_field : str, default "name", "code"
        Columns holding the district name and its ONS code.
    approximate : bool
        True when the outlines are approximations (e.g. built from postcode centroids):
        they are then dashed, and the tooltip and layer name say "approximate boundaries".

    Returns
    -------
    folium.GeoJson
        The layer, named "Districts" (or "Districts (approximate boundaries)").

    Raises
    ------
    ValueError
        If the frame has no CRS or is not in EPSG:4326, or a field is missing.
    """
    gdf = districts_gdf_wgs84
    if gdf.crs is None:
        raise ValueError("districts have no CRS; set it (set_crs) and reproject to EPSG:4326")
    if gdf.crs.to_epsg() != 4326:
        raise ValueError(
            f"districts must be in EPSG:4326 for display, got {gdf.crs.to_string()}; "
            "reproject with to_crs(4326)"
        )
    missing = [field for field in (name_field, code_field) if field not in gdf.columns]
    if missing:
        raise ValueError(f"districts have no column(s) {missing}; columns: {list(gdf.columns)}")

    data = gdf[[name_field, code_field, gdf.geometry.name]].copy()
    data[name_field] = data[name_field].astype(str).map(html.escape)
    data[code_field] = data[code_field].astype(str).map(html.escape)
    fields, aliases = [name_field, code_field], ["District", "Code"]
    if approximate:
        data["boundaries"] = "approximate boundaries"
        fields.append("boundaries")
        aliases.append("Note")

    style = {"color": "#34495e", "weight": 2, "fillColor": "#34495e", "fillOpacity": 0.02}
    if approximate:
        style["dashArray"] = "6 4"
    layer = folium.GeoJson(
        geojson(data, [c for c in data.columns if c != data.geometry.name]),
        name="Districts (approximate boundaries)" if approximate else "Districts",
        style_function=lambda _feature: style,
        highlight_function=lambda _feature: {"weight": 4, "fillOpacity": 0.08},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
    )
    layer.add_to(m)
    return layer


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def geojson(
    frame: gpd.GeoDataFrame, properties: Iterable[str], *, precision: int = 5
) -> dict[str, Any]:
    """Return a frame as a GeoJSON dict with rounded coordinates and chosen properties.

    Parameters
    ----------
    frame
        Geometries in EPSG:4326.
    properties
        The columns to keep as feature properties.
    precision
        Decimal places kept (5 is about a metre).

    Returns
    -------
    dict
        A FeatureCollection.

    Examples
    --------
    >>> import geopandas as gpd
    >>> frame = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(-2.1234567, 52.7654321)],
    ...                          crs=4326)
    >>> geojson(frame, ["n"])["features"][0]["geometry"]["coordinates"]
    [-2.12346, 52.76543]
    """
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError("the layer must be in EPSG:4326 for display; reproject with to_crs(4326)")
    columns = list(properties)
    geoms = shapely.transform(
        np.asarray(frame.geometry.array, dtype=object), lambda xy: np.round(xy, precision)
    )
    rows = frame[columns].to_dict("records") if columns else [{} for _ in range(len(frame))]
    features = [
        {
            "type": "Feature",
            "properties": {k: _plain(v) for k, v in row.items()},
            "geometry": shapely.geometry.mapping(geom),
        }
        for row, geom in zip(rows, geoms, strict=True)
        if geom is not None and not geom.is_empty
    ]
    return {"type": "FeatureCollection", "features": _lists(features)}


def _lists(value: Any) -> Any:
    """Turn the tuples of ``shapely.geometry.mapping`` into lists (plain JSON)."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def external_urls(html_text: str) -> list[str]:
    """List the URLs in rendered map HTML that are not on the app's own origin.

    Relative and root-relative URLs (``/app/static/...``) and loopback hosts count as
    local; XML namespace identifiers (``http://www.w3.org/...``), which are never fetched,
    are ignored. Any other ``http://``, ``https://`` or protocol-relative ``//`` URL is
    reported, whether in a link, a script or a style sheet.

    Parameters
    ----------
    html_text : str
        HTML, e.g. ``m.get_root().render()``.

    Returns
    -------
    list of str
        The external URLs in order of first appearance, without duplicates.

    Examples
    --------
    >>> external_urls('<script src="/app/static/vendor/leaflet/leaflet.js"></script>')
    []
    >>> external_urls('<link href="https://cdn.example.org/a.css"/><a href="//x.org/">')
    ['https://cdn.example.org/a.css', '//x.org/']
    """
    matches = [*_ABSOLUTE_URL.finditer(html_text), *_PROTOCOL_RELATIVE_URL.finditer(html_text)]
    found: dict[str, None] = {}
    for match in sorted(matches, key=lambda match: match.start()):
        url = match.group(0)
        if url.startswith(_NOT_FETCHED):
            continue
        host = url.split("//", 1)[1].split("/", 1)[0].split("?", 1)[0]
        if host.rsplit(":", 1)[0] in _LOCAL_HOSTS or host in _LOCAL_HOSTS:
            continue
        found.setdefault(url, None)
    return list(found)


def fast_marker_cluster(
    data: list[list[float | str]], *, callback: str | None = None, **kwargs: Any
) -> FastMarkerCluster:
    """Return a ``folium.plugins.FastMarkerCluster`` that uses the vendored plugin.

    The points travel as one array (about 20 bytes each) and the markers are made in the
    browser, instead of one script statement per marker.

    Parameters
    ----------
    data : list of list of float
        ``[lat, lon, ...]`` rows in WGS84.
    callback : str, optional
        A JavaScript ``function (row) { return marker; }``.
    **kwargs
        Passed to ``FastMarkerCluster`` (``name``, ``show``, cluster options).

    Returns
    -------
    folium.plugins.FastMarkerCluster
        The cluster layer, to be added to a map or feature group.
    """
    return localise(FastMarkerCluster(data, callback=callback, **kwargs))


class _Legend(folium.MacroElement):
    """A Leaflet control holding plain HTML (no branca colormap, so nothing from a CDN).

    It folds away behind its title, starts folded on a narrow map, and shows only the
    parts whose ``data-layer`` names a layer on the map (a layer names itself with the
    ``legend`` option, set by :func:`legend_key`); parts without
    ``data-layer`` always show.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>
            .map-legend { background: rgba(255,255,255,0.94); padding: 4px 8px;
                font: 11px/1.3 sans-serif; color: #1b1f24; border-radius: 4px;
                box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 230px;
                max-height: 46vh; overflow-y: auto; }
            .map-legend-toggle { font: 600 11px sans-serif; border: 0; background: none;
                padding: 2px 0; cursor: pointer; color: #1b1f24; width: 100%;
                text-align: left; }
            .map-legend-toggle::after { content: " \\25BE"; }
            .map-legend.folded .map-legend-toggle::after { content: " \\25B8"; }
            .map-legend.folded .map-legend-body { display: none; }
            .map-legend b { display: block; margin-top: 4px; }
            .map-legend i { display: inline-block; width: 12px; height: 12px;
                margin-right: 5px; vertical-align: -2px; border: 1px solid #7777; }
            .leaflet-container .leaflet-control-attribution { font-size: 10px; line-height: 1.3;
                max-width: 62%; }
            </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function (map) {
                var div = L.DomUtil.create("div", "map-legend");
                var button = L.DomUtil.create("button", "map-legend-toggle", div);
                button.type = "button";
                button.textContent = {{ this.title|tojson }};
                button.title = "Show or hide the legend";
                var body = L.DomUtil.create("div", "map-legend-body", div);
                body.innerHTML = {{ this.html|tojson }};
                function fold(folded) {
                    div.classList.toggle("folded", folded);
                    button.setAttribute("aria-expanded", String(!folded));
                }
                button.addEventListener("click", function () {
                    fold(!div.classList.contains("folded"));
                });
                fold(map.getSize().x < {{ this.fold_below }});
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                var pending = false;
                function refresh() {
                    pending = false;
                    var shown = {};
                    map.eachLayer(function (layer) {
                        if (layer.options && layer.options.legend) {
                            shown[layer.options.legend] = true;
                        }
                    });
                    var parts = body.querySelectorAll("[data-layer]");
                    var any = parts.length === 0;
                    parts.forEach(function (part) {
                        var on = !!shown[part.getAttribute("data-layer")];
                        part.style.display = on ? "" : "none";
                        any = any || on;
                    });
                    div.style.display = any ? "" : "none";
                }
                map.on("layeradd layerremove", function () {
                    if (!pending) { pending = true; setTimeout(refresh, 0); }
                });
                refresh();
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str, title: str, fold_below: int) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text
        self.position = position
        self.title = title
        self.fold_below = fold_below


def add_legend(
    m: folium.Map,
    legend: str | Mapping[str, str],
    *,
    position: str = "bottomleft",
    title: str = "Legend",
    fold_below: int = 760,
) -> folium.Map:
    """Draw a folding legend of plain HTML on the map (it shows in full screen too).

    Parameters
    ----------
    m : folium.Map
        The map.
    legend : str or mapping of str to str
        The legend's HTML, built from escaped text only; or its parts by layer key, each
        shown only while a layer with that ``legend`` option is on the map.
    position : str, default "bottomleft"
        A Leaflet control position.
    title : str, default "Legend"
        The button that folds and unfolds it.
    fold_below : int, default 760
        Map width in pixels under which the legend starts folded.

    Returns
    -------
    folium.Map
        The same map.

    Examples
    --------
    >>> m = offline_map(bounds=(-2.5, 52.4, -1.6, 53.2))
    >>> _ = add_legend(m, {"hot": "<b>Hot spots</b>"})
    >>> "data-layer" in m.get_root().render()
    True
    """
    if isinstance(legend, str):
        html_text = legend
    else:
        html_text = "".join(
            f'<div data-layer="{html.escape(key)}">{part}</div>' for key, part in legend.items()
        )
    _Legend(html_text, position=position, title=title, fold_below=fold_below).add_to(m)
    return m


def add_area_labels(
    m: folium.Map,
    areas_wgs84: gpd.GeoDataFrame,
    *,
    name_field: str = "name",
    layer_name: str = "District names",
) -> folium.FeatureGroup:
    """Write each area's name at a point inside it, as text that does not catch clicks.

    The frame must be in WGS84 (EPSG:4326). At each zoom, a name that would overlap a
    larger area's is hidden until the map is zoomed in far enough for both.

    Parameters
    ----------
    m : folium.Map
        The map.
    areas_wgs84 : geopandas.GeoDataFrame
        Polygons in EPSG:4326 with a name column.
    name_field : str, default "name"
        The column holding the names.
    layer_name : str, default "District names"
        The layer's name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        The labels' layer, added to the map.
    """
    if areas_wgs84.crs is None or areas_wgs84.crs.to_epsg() != 4326:
        raise ValueError("areas must be in EPSG:4326 for display; reproject with to_crs(4326)")
    layer = folium.FeatureGroup(name=layer_name)
    # the largest areas first: where names would overlap, theirs are the ones kept
    largest_first = np.argsort(-shapely.area(areas_wgs84.geometry.to_numpy()), kind="stable")
    areas = areas_wgs84.iloc[largest_first]
    for name, point in zip(areas[name_field], areas.geometry.representative_point(), strict=True):
        folium.Marker(
            (round(point.y, 5), round(point.x, 5)),
            icon=folium.DivIcon(
                html=f'<div class="area-label">{html.escape(str(name))}</div>',
                icon_size=(0, 0),
                icon_anchor=(0, 0),
                class_name="area-label-icon",
            ),
            interactive=False,
        ).add_to(layer)
    layer.add_to(m)
    if not any(isinstance(child, _NamesApart) for child in m._children.values()):
        _NamesApart().add_to(m)  # one for all the map's names
    return layer


class _NamesApart(folium.MacroElement):
    """Styles the map's area names, and hides one where it would overlap a larger area's.

    All England's 296 district names written at once were a grey smear; each zoom shows
    the names that fit, the largest areas' first (the order they were added), and hidden
    names come back as the map zooms in.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>
            .area-label { display: inline-block; transform: translate(-50%, -50%);
                font: 600 10px sans-serif; color: #34495e; white-space: nowrap;
                text-transform: uppercase; letter-spacing: 0.08em; opacity: 0.85;
                text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; pointer-events: none; }
            </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            function apart() {
                var kept = [];
                map.getContainer().querySelectorAll(".area-label").forEach(function (label) {
                    label.style.visibility = "";
                    var r = label.getBoundingClientRect();
                    if (!r.width) { return; }  // its layer is switched off
                    var clash = kept.some(function (k) {
                        return r.left < k.right + 6 && k.left < r.right + 6 &&
                            r.top < k.bottom + 2 && k.top < r.bottom + 2;
                    });
                    if (clash) { label.style.visibility = "hidden"; } else { kept.push(r); }
                });
            }
            map.on("zoomend overlayadd", apart);
            map.whenReady(function () { window.requestAnimationFrame(apart); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "NamesApart"


def add_ward_outlines(
    m: folium.Map, wards_wgs84: gpd.GeoDataFrame, *, approximate: bool
) -> folium.GeoJson | None:
    """Draw ward outlines, thinner than the districts, with the ward's name in a tooltip.

    The frame must be in WGS84 (EPSG:4326) with ``name`` and ``code`` columns.

    Parameters
    ----------
    m : folium.Map
        The map.
    wards_wgs84 : geopandas.GeoDataFrame
        One row per ward.
    approximate : bool
        True when the outlines are approximations (dashed, and said so in the tooltip).

    Returns
    -------
    folium.GeoJson or None
        The layer "Wards", or None when there are no wards.
    """
    if wards_wgs84.empty:
        return None
    if wards_wgs84.crs is None or wards_wgs84.crs.to_epsg() != 4326:
        raise ValueError("wards must be in EPSG:4326 for display; reproject with to_crs(4326)")
    data = wards_wgs84[["name", "code", wards_wgs84.geometry.name]].copy()
    data["name"] = data["name"].astype(str).map(html.escape)
    data["code"] = data["code"].astype(str).map(html.escape)
    style = {"color": "#7f8c8d", "weight": 1, "fillOpacity": 0, "fill": False}
    if approximate:
        style["dashArray"] = "3 3"
    layer = folium.GeoJson(
        geojson(data, ["name", "code"]),
        name="Wards (approximate)" if approximate else "Wards",
        style_function=lambda _feature: style,
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["Ward", "Code"]),
    )
    layer.add_to(m)
    return layer


def view_for_bounds(
    bounds: tuple[float, float, float, float], *, width: int = 900, height: int = 620
) -> tuple[tuple[float, float], float]:
    """Return the centre and zoom at which a web map of a given size shows some bounds.

    Coordinates are WGS84 (EPSG:4326); the zoom is Leaflet's (Web Mercator, 256-pixel
    tiles), rounded down to a quarter.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees.
    width, height : int, default 900, 620
        The map's size in pixels.

    Returns
    -------
    tuple
        ``((lat, lon), zoom)``.

    Examples
    --------
    >>> view_for_bounds((-2.5, 52.4, -1.6, 53.2))
    ((52.8, -2.05), 9.25)
    """
    minx, miny, maxx, maxy = bounds

    def mercator(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    span_x = max(maxx - minx, 1e-6) / 360.0
    span_y = max(mercator(maxy) - mercator(miny), 1e-6) / (2 * math.pi)
    zoom = math.log2(min(width / span_x, height / span_y) / 256.0)
    zoom = max(0.0, min(18.0, math.floor(zoom * 4) / 4))
    return (round((miny + maxy) / 2, 5), round((minx + maxx) / 2, 5)), zoom


def bounds_for_view(
    center: tuple[float, float], zoom: float, *, width: int = 900, height: int = 620
) -> tuple[float, float, float, float]:
    """Return the bounds a web map of a given size shows at a centre and zoom.

    The inverse of :func:`view_for_bounds`, without its rounding: Leaflet's Web Mercator
    with 256-pixel tiles. Coordinates are WGS84 (EPSG:4326).

    Parameters
    ----------
    center : tuple of float
        ``(lat, lon)`` in degrees.
    zoom : float
        Leaflet's zoom.
    width, height : int, default 900, 620
        The map's size in pixels.

    Returns
    -------
    tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees.

    Examples
    --------
    >>> [round(v, 3) for v in bounds_for_view((52.8, -2.05), 9.25, width=900, height=620)]
    [-3.089, 52.365, -1.011, 53.231]
    """
    lat, lon = center
    world = 256.0 * 2.0 ** float(zoom)  # the world's width in pixels at this zoom
    half_x = width / 2 / world * 360.0
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    half_y = height / 2 / world * 2 * math.pi

    def latitude(mercator_y: float) -> float:
        return math.degrees(2 * math.atan(math.exp(mercator_y)) - math.pi / 2)

    return lon - half_x, latitude(y - half_y), lon + half_x, latitude(y + half_y)


def pixel_size(bounds: tuple[float, float, float, float], zoom: float) -> tuple[int, int]:
    """Return a web map's size in pixels from the bounds it shows at a zoom.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in WGS84 degrees, as reported by the map.
    zoom : float
        Leaflet's zoom.

    Returns
    -------
    tuple of int
        ``(width, height)``.

    Examples
    --------
    >>> pixel_size(bounds_for_view((52.8, -2.05), 9.25, width=900, height=620), 9.25)
    (900, 620)
    """
    minx, miny, maxx, maxy = bounds

    def mercator(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    world = 256.0 * 2.0 ** float(zoom)
    width = (maxx - minx) / 360.0 * world
    height = (mercator(maxy) - mercator(miny)) / (2 * math.pi) * world
    return round(width), round(height)


# Base maps: tiles the partnership chooses, and an offline layer under them ---------------

OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
"""The attribution OpenStreetMap asks for on its standard tiles."""

TILE_CHOICES = ("osm", "os", "none")
"""Named base maps: OpenStreetMap's standard tiles, Ordnance Survey's Maps API, none.

Any ``https://...{z}/{x}/{y}...`` URL template is accepted as well."""

_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_OS_URL = "https://api.os.uk/maps/raster/v1/zxy/Light_3857/{z}/{x}/{y}.png?key={key}"
_OS_ATTRIBUTION = "Contains OS data &copy; Crown copyright and database rights"


@dataclass(frozen=True)
class BaseTiles:
    """A raster tile service drawn under the map's layers."""

    url: str
    attribution: str
    max_zoom: int = 19
    name: str = "Base map"


def base_tiles(
    choice: str | None, *, os_key: str | None = None, attribution: str | None = None
) -> BaseTiles | None:
    """Return the base map a setting names, or None for the offline base layer only.

    Parameters
    ----------
    choice : str or None
        ``"osm"`` (OpenStreetMap's standard tiles, the default when None or empty),
        ``"os"`` (Ordnance Survey Maps API, Light style; needs ``os_key``), ``"none"``
        (no tiles: the offline base layer only), or a ``https://`` URL template with
        ``{z}``, ``{x}`` and ``{y}``.
    os_key : str, optional
        The Ordnance Survey Maps API key (it is sent to the browser with each tile
        request, as the OS API expects: restrict it to the app's address in the OS portal).
    attribution : str, optional
        Attribution for a URL template (required then).

    Returns
    -------
    BaseTiles or None

    Raises
    ------
    ValueError
        For an unknown choice, ``"os"`` without a key, or a template without
        attribution or without ``{z}``, ``{x}`` and ``{y}``.

    Examples
    --------
    >>> base_tiles(None).url
    'https://tile.openstreetmap.org/{z}/{x}/{y}.png'
    >>> base_tiles("none") is None
    True
    """
    value = (choice or "osm").strip()
    lowered = value.lower()
    if lowered in ("none", "off", "offline", "0", "false", "no"):
        return None
    if lowered == "osm":
        return BaseTiles(_OSM_URL, OSM_ATTRIBUTION, max_zoom=19, name="OpenStreetMap")
    if lowered == "os":
        if not os_key or not os_key.strip():
            raise ValueError(
                "the map tiles setting is 'os' (Ordnance Survey) but no OS Maps API key is "
                "set: set SAFER_SPACES_OS_MAPS_KEY (or os_maps_key in secrets.toml), or "
                "choose 'osm' or 'none'"
            )
        url = _OS_URL.replace("{key}", os_key.strip())
        return BaseTiles(url, _OS_ATTRIBUTION, max_zoom=20, name="Ordnance Survey")
    if lowered.startswith("https://"):
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(
                f"the map tiles URL {value!r} lacks {', '.join(missing)}; a tile URL "
                "template looks like https://tiles.example.org/{z}/{x}/{y}.png"
            )
        if not attribution:
            raise ValueError(
                "a map tiles URL needs its attribution: set SAFER_SPACES_MAP_TILES_ATTRIBUTION "
                "(or map_tiles_attribution in secrets.toml) as the tile provider asks"
            )
        return BaseTiles(value, attribution, name="Base map")
    raise ValueError(
        f"unknown map tiles setting {value!r}: use one of {', '.join(TILE_CHOICES)} or an "
        "https:// URL template with {z}, {x} and {y}"
    )


class _BaseTileLayer(folium.MacroElement):
    """Tiles above the offline base layer; on failure before any tile loads, removed."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>
            .base-tiles-loaded .leaflet-offlineBase-pane,
            .base-tiles-loaded .leaflet-offlineLabels-pane { display: none; }
            </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            var tiles = L.tileLayer({{ this.base.url|tojson }}, {
                attribution: {{ this.base.attribution|tojson }},
                maxZoom: {{ this.base.max_zoom }},
                minZoom: {{ this.min_zoom }}
            });
            var loaded = false, errors = 0;
            tiles.on("tileload", function () {
                if (!loaded) {
                    loaded = true;
                    map.getContainer().classList.add("base-tiles-loaded");
                }
            });
            tiles.on("tileerror", function () {
                errors += 1;
                if (!loaded && errors >= 2 && map.hasLayer(tiles)) {
                    map.removeLayer(tiles);
                    map.getContainer().classList.add("base-tiles-failed");
                    map.attributionControl.addAttribution(
                        "Base map tiles unavailable: offline base layer"
                    );
                }
            });
            tiles.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, base: BaseTiles, *, min_zoom: int) -> None:
        super().__init__()
        self._name = "BaseTiles"
        self.base = base
        self.min_zoom = min_zoom


class _OfflineBase(folium.MacroElement):
    """Built-up areas under everything and town names above the data layers.

    Both live in their own panes, so tiles (when they load) cover the areas and hide the
    names; labels of smaller places show only when zoomed in.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>
            .leaflet-offlineBase-pane { z-index: 150; }
            .leaflet-offlineLabels-pane { z-index: 450; pointer-events: none; }
            .town-label { background: none; border: 0; }
            .town-label span { display: inline-block; transform: translate(-50%, -50%);
                font: 600 12px/1.1 sans-serif; color: #3b3a36; white-space: nowrap;
                text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
            .town-label.rank-1 span { font-size: 14px; letter-spacing: 0.02em; }
            .town-label.rank-3 span { font-weight: 500; font-size: 11px; color: #55534d; }
            .zoom-county .town-label.rank-3, .zoom-far .town-label.rank-2,
            .zoom-far .town-label.rank-3 { display: none; }
            </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            map.createPane("offlineBase");
            map.createPane("offlineLabels");
            L.geoJSON({{ this.areas|tojson }}, {
                pane: "offlineBase", interactive: false,
                style: {stroke: false, fillColor: "#dcd6c8", fillOpacity: 0.85}
            }).addTo(map);
            function esc(s) {
                return String(s).replace(/[&<>"]/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
                });
            }
            {{ this.labels|tojson }}.forEach(function (t) {
                L.marker([t[0], t[1]], {
                    pane: "offlineLabels", interactive: false, keyboard: false,
                    icon: L.divIcon({className: "town-label rank-" + t[3], iconSize: null,
                        html: "<span>" + esc(t[2]) + "</span>"})
                }).addTo(map);
            });
            function zoomClass() {
                var z = map.getZoom(), c = map.getContainer().classList;
                c.toggle("zoom-far", z < 9.5);
                c.toggle("zoom-county", z < 11);
            }
            map.on("zoomend", zoomClass);
            map.whenReady(zoomClass);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, areas: dict[str, Any], labels: list[list[object]]) -> None:
        super().__init__()
        self._name = "OfflineBase"
        self.areas = areas
        self.labels = labels


def offline_areas(built_up: gpd.GeoDataFrame | None) -> dict[str, Any]:
    """Return built-up areas as the GeoJSON the offline base layer draws (4 decimals).

    Parameters
    ----------
    built_up : geopandas.GeoDataFrame or None
        Built-up area polygons in EPSG:4326.

    Returns
    -------
    dict
        A FeatureCollection, empty when there are no areas.
    """
    if built_up is None or built_up.empty:
        return {"type": "FeatureCollection", "features": []}
    return geojson(built_up, [], precision=4)


def add_offline_base(
    m: folium.Map,
    *,
    built_up: gpd.GeoDataFrame | None,
    towns: gpd.GeoDataFrame | None,
    areas: dict[str, Any] | None = None,
) -> folium.Map:
    """Draw the base layer that needs no network: built-up areas and town names.

    Both frames must be in WGS84 (EPSG:4326). The areas are drawn in a pane under any
    tiles; the names in a pane above the data layers (cells, outlines) and under the
    markers. Names of rank 2 show from zoom 9.5 and of rank 3 from zoom 11.

    Parameters
    ----------
    m : folium.Map
        The map.
    built_up : geopandas.GeoDataFrame or None
        Built-up area polygons (e.g. :func:`geo.builtup.built_up_areas`, reprojected).
    towns : geopandas.GeoDataFrame or None
        Points with ``name`` and ``rank`` (1 main towns, 2 towns, 3 smaller places).
    areas : dict, optional
        The built-up areas already as GeoJSON (:func:`offline_areas`), used instead of
        ``built_up``: turning thousands of polygons into GeoJSON on every run is the slow
        part of drawing the map, and the areas do not change.

    Returns
    -------
    folium.Map
        The same map.

    Raises
    ------
    ValueError
        If a frame is not in EPSG:4326 or the towns lack ``name`` or ``rank``.
    """
    if areas is None:
        areas = offline_areas(built_up)
    labels: list[list[object]] = []
    if towns is not None and not towns.empty:
        if towns.crs is None or towns.crs.to_epsg() != 4326:
            raise ValueError("towns must be in EPSG:4326 for display; reproject with to_crs(4326)")
        missing = [c for c in ("name", "rank") if c not in towns.columns]
        if missing:
            raise ValueError(f"towns have no column(s) {missing}; columns: {list(towns.columns)}")
        labels = [
            [round(point.y, 5), round(point.x, 5), str(name), int(rank)]
            for name, rank, point in zip(towns["name"], towns["rank"], towns.geometry, strict=True)
            if point is not None and not point.is_empty
        ]
    _OfflineBase(areas, labels).add_to(m)
    return m


# Views and layer styles that follow the zoom ------------------------------------------------


class _ViewTarget(folium.MacroElement):
    """Moves the map once per key, when its (otherwise empty) layer is added.

    The move is not reported back to the server: the server asked for it and knows it, and
    streamlit-folium would otherwise send the new view as a new value, which reruns the
    whole map a second time for every row clicked or place found. Its last-sent value is
    set to the view the move gives, so only the person's own moves are sent.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on("add", function (e) {
            var map = e.target._map;
            // kept on the map itself: a map drawn again starts from its own view
            if (!map || map._saferSpacesView === {{ this.key|tojson }}) { return; }
            map._saferSpacesView = {{ this.key|tojson }};
            {%- if this.bounds %}
            map.fitBounds({{ this.bounds|tojson }}, {padding: [10, 10], animate: false});
            {%- else %}
            map.setView({{ this.center|tojson }}, {{ this.zoom }}, {animate: false});
            {%- endif %}
            // streamlit-folium sends its value only when it differs from the last sent:
            // make the view just set count as sent (same keys, same order as its own)
            var g = window.__GLOBAL_DATA__;
            if (!g) { return; }
            var all = {
                last_clicked: g.lat_lng_clicked,
                last_object_clicked: g.last_object_clicked,
                last_object_clicked_count: g.last_object_clicked_count,
                last_object_clicked_tooltip: g.last_object_clicked_tooltip,
                last_object_clicked_popup: g.last_object_clicked_popup,
                all_drawings: g.all_drawings,
                last_active_drawing: g.last_active_drawing,
                last_geocoder_result: g.last_geocoder_result,
                bounds: map.getBounds(),
                zoom: map.getZoom(),
                last_circle_radius: g.last_circle_radius,
                last_circle_polygon: g.last_circle_polygon,
                center: map.getCenter(),
                selected_layers: Object.values(g.selected_layers || {}),
                selected_tags: g.selected_tags
            };
            var data = {};
            Object.keys(all).forEach(function (name) {
                if (!g.returned_objects || g.returned_objects.indexOf(name) >= 0) {
                    data[name] = all[name];
                }
            });
            g.previous_data = JSON.parse(JSON.stringify(data));
        });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        key: str,
        bounds: list[list[float]] | None,
        center: list[float] | None,
        zoom: float | None,
    ) -> None:
        super().__init__()
        self._name = "ViewTarget"
        self.key = key
        self.bounds = bounds
        self.center = center
        self.zoom = zoom


def view_target(
    key: str,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    center: tuple[float, float] | None = None,
    zoom: float | None = None,
) -> folium.FeatureGroup:
    """Return an empty layer that moves the map the first time it is added with a key.

    Coordinates are WGS84 (EPSG:4326). Hand it to ``st_folium`` with the data layers: the
    map is then fitted (to the chosen districts, a place found, a row clicked, a view
    from a link) in the browser, at the map's real size, and not moved again while the
    key stays the same, whatever else changes.

    Parameters
    ----------
    key : str
        Identifies the wish; a new key moves the map again.
    bounds : tuple of float, optional
        ``(minx, miny, maxx, maxy)`` to fit.
    center : tuple of float, optional
        ``(lat, lon)`` to centre on, with ``zoom``.
    zoom : float, optional
        The zoom with ``center``.

    Returns
    -------
    folium.FeatureGroup
        A layer with no control and no features.

    Raises
    ------
    ValueError
        Unless exactly one of ``bounds`` and ``center`` (with ``zoom``) is given.
    """
    if (bounds is None) == (center is None) or (center is not None and zoom is None):
        raise ValueError("give either bounds, or a center with a zoom")
    group = folium.FeatureGroup(name="View", control=False)
    fit = None
    if bounds is not None:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        fit = [[round(miny, 5), round(minx, 5)], [round(maxy, 5), round(maxx, 5)]]
    _ViewTarget(
        key,
        fit,
        None if center is None else [round(center[0], 5), round(center[1], 5)],
        None if zoom is None else float(zoom),
    ).add_to(group)
    return group


class _SmallCells(folium.MacroElement):
    """Thicker outlines for a group's polygons when zoomed out, so small cells show."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (group) {
            var weight = 0.5;
            function widths(map) {
                var z = map.getZoom();
                weight = z < {{ this.far }} ? 4 : (z < {{ this.near }} ? 2 : 0.5);
                group.eachLayer(function (layer) {
                    if (layer.options && typeof layer.options.style === "function"
                            && !layer._saferWrapped) {
                        var style = layer.options.style;
                        layer.options.style = function (f) {
                            var s = Object.assign({}, style(f));
                            s.weight = weight;
                            return s;
                        };
                        layer._saferWrapped = true;
                    }
                    if (layer.setStyle) { layer.setStyle(layer.options.style); }
                });
            }
            function onZoom() { if (group._map) { widths(group._map); } }
            group.on("add", function (e) {
                widths(e.target._map);
                e.target._map.on("zoomend", onZoom);
            });
            group.on("remove", function (e) {
                if (e.target._map) { e.target._map.off("zoomend", onZoom); }
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, far: float, near: float) -> None:
        super().__init__()
        self._name = "SmallCells"
        self.far = far
        self.near = near


def emphasise_small_cells(
    group: folium.FeatureGroup, *, far: float = 11.0, near: float = 13.0
) -> folium.FeatureGroup:
    """Outline a layer's polygons thickly when zoomed out, so 250 m cells stay visible.

    At county zoom a 250 m square is one or two pixels wide; an outline of its own colour
    4 pixels wide (2 at district zoom) makes it a visible spot without changing its colour.

    Parameters
    ----------
    group : folium.FeatureGroup
        A layer holding ``folium.GeoJson`` polygons with a ``style_function``.
    far, near : float, default 11, 13
        Below ``far`` the outline is 4 pixels wide, below ``near`` 2, then 0.5.

    Returns
    -------
    folium.FeatureGroup
        The same layer.
    """
    _SmallCells(far, near).add_to(group)
    return group


class _LegendKey(folium.MacroElement):
    """Names the legend part a layer shows (``L.featureGroup`` takes no options)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.options.legend = {{ this.key|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, key: str) -> None:
        super().__init__()
        self._name = "LegendKey"
        self.key = key


def legend_key(group: folium.FeatureGroup, key: str) -> folium.FeatureGroup:
    """Show the legend's part ``key`` (see :func:`add_legend`) while this layer is on the map.

    Parameters
    ----------
    group : folium.FeatureGroup
        A data layer.
    key : str
        The legend part's key.

    Returns
    -------
    folium.FeatureGroup
        The same layer.
    """
    _LegendKey(key).add_to(group)
    return group


# The base map drawn once, its data layers every run -----------------------------------------


@dataclass
class PreparedMap:
    """A base map already turned into what streamlit-folium sends, to reuse run after run.

    ``st_folium`` renders the whole folium map on every run (the offline base layer,
    outlines, legend: about 160 KB of script), only for its frontend to ignore that script
    while the map exists. :func:`prepare_map` does it once; :func:`draw_prepared` then
    renders only the data layers and hands both to streamlit-folium's component, with the
    same arguments ``st_folium`` would send.

    Attributes
    ----------
    map : folium.Map
        The base map; the data layers are added to it and taken off again per draw.
    script, header, html, map_id : str
        The map's script, header and HTML, as streamlit-folium makes them.
    css_links, js_links : list of str
        The style sheets and scripts the map needs (local URLs).
    bounds : list
        ``[[south, west], [north, east]]`` of the base map's content.
    zoom : Any
        The base map's zoom option.
    lock : threading.Lock
        Held while a draw adds its data layers to ``map`` and takes them off again, so
        one prepared map can serve every session that sees the same base.
    """

    map: folium.Map
    script: str
    header: str
    html: str
    map_id: str
    css_links: list[str]
    js_links: list[str]
    bounds: list[list[float | None]]
    zoom: Any
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def _walk_links(element: Any) -> Iterable[Any]:
    if isinstance(element, (JSCSSMixin, ColorMap)):
        yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk_links(child)


def _links(elements: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Return the style sheets and scripts of some elements, as ``st_folium`` lists them."""
    css: list[str] = []
    js: list[str] = []
    for top in elements:
        for element in _walk_links(top):
            if isinstance(element, ColorMap):  # st_folium adds d3 for a colour map
                js.insert(0, "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js")
                js.insert(0, "https://d3js.org/d3.v4.min.js")
            css.extend(href for _, href in getattr(element, "default_css", []))
            js.extend(src for _, src in getattr(element, "default_js", []))
    return list(dict.fromkeys(css)), list(dict.fromkeys(js))


def prepare_map(base: folium.Map) -> PreparedMap:
    """Render a base map once the way ``st_folium`` does (see :class:`PreparedMap`).

    Parameters
    ----------
    base : folium.Map
        A finished base map (no data layers; those go to :func:`draw_prepared`).

    Returns
    -------
    PreparedMap
        Its strings, links and bounds, and the map itself (its element ids renamed the
        way streamlit-folium renames them).
    """
    import streamlit_folium as sf

    base.get_root().render()
    base.render()
    html_text = sf._get_html(base)
    header = sf._get_header(base)
    script = sf._get_map_string(base)
    map_id = sf.get_full_id(base)
    try:
        bounds = base.get_bounds()
    except AttributeError:
        bounds = [[None, None], [None, None]]
    css, js = _links([base])
    return PreparedMap(
        map=base,
        script=script,
        header=header,
        html=html_text,
        map_id=map_id,
        css_links=css,
        js_links=js,
        bounds=bounds,
        zoom=base.options.get("zoom"),
    )


def draw_prepared(
    prepared: PreparedMap,
    *,
    key: str,
    height: int,
    returned_objects: list[str],
    feature_group_to_add: list[folium.FeatureGroup],
    layer_control: folium.LayerControl | None = None,
) -> Any:
    """Draw a prepared base map with this run's data layers; what ``st_folium`` returns.

    The same component, key and arguments as ``st_folium(prepared.map, key=key,
    height=height, use_container_width=True, returned_objects=..., feature_group_to_add=...,
    layer_control=...)`` would send, without rendering the base map again. The data layers
    are taken off the base map afterwards, so the next run starts from the same base.

    Parameters
    ----------
    prepared : PreparedMap
        From :func:`prepare_map`.
    key : str
        The component's key (as ``st_folium``'s).
    height : int
        Height in pixels; the width follows the container.
    returned_objects : list of str
        What the map reports back.
    feature_group_to_add : list of folium.FeatureGroup
        The data layers; their order is their order on the map.
    layer_control : folium.LayerControl, optional
        The control listing the layers.

    Returns
    -------
    Any
        The component's value: the map's reported state (a dict), or its defaults.
    """
    import streamlit as st
    import streamlit_folium as sf

    base = prepared.map
    added: list[str] = []
    with prepared.lock:  # other sessions may be drawing on the same base
        try:
            groups = ""
            for index, group in enumerate(feature_group_to_add):
                groups += sf._get_feature_group_string(group, map=base, idx=index)
                added.append(group.get_name())
            control = None
            if layer_control is not None:
                control = sf._get_layer_control_string(layer_control, base)
                added.append(layer_control.get_name())
            # the data layers' own scripts too, as st_folium walks the map with them on it
            css, js = _links([base])
        finally:
            for name in added:
                base._children.pop(name, None)
    southwest, northeast = prepared.bounds
    defaults = {
        "last_clicked": None,
        "last_object_clicked": None,
        "last_object_clicked_count": None,
        "last_object_clicked_tooltip": None,
        "last_object_clicked_popup": None,
        "all_drawings": None,
        "last_active_drawing": None,
        "bounds": {
            "_southWest": {"lat": southwest[0], "lng": southwest[1]},
            "_northEast": {"lat": northeast[0], "lng": northeast[1]},
        },
        "zoom": prepared.zoom,
        "last_circle_radius": None,
        "last_circle_polygon": None,
        "selected_layers": None,
        "selected_tags": None,
        "last_geocoder_result": None,
    }
    hash_key = sf.generate_js_hash(prepared.script, key, False)

    def on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})

    return sf._component_func(
        script=prepared.script,
        header=prepared.header,
        html=prepared.html,
        id=prepared.map_id,
        key=hash_key,
        height=height,
        width=None,
        returned_objects=returned_objects,
        default={k: v for k, v in defaults.items() if k in returned_objects},
        zoom=None,
        center=None,
        feature_group=groups,
        return_on_hover=False,
        layer_control=control,
        pixelated=False,
        css_links=css,
        js_links=js,
        on_change=on_change,
        wrap_longitude=False,
    )
