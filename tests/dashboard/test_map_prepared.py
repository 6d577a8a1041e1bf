"""The base map rendered once (``maps.prepare_map``) sends what ``st_folium`` would send.

The Map page renders its base map (offline base, outlines, legend) once per session and
then only the data layers per run (``maps.draw_prepared``). streamlit-folium keeps the map
in the browser only while the component's arguments say it is the same map, and adds the
data layers from ``feature_group``: so every argument must be the one ``st_folium`` sends.
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import pytest
import streamlit_folium
from shapely.geometry import box

from dashboard import maps
from dashboard.layers import hotspot_layer

RETURNED = ["last_object_clicked", "center", "zoom", "bounds"]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every call of streamlit-folium's component, its arguments as JSON-ready values."""
    calls: list[dict] = []

    def component(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k != "on_change"})
        return kwargs["default"]

    monkeypatch.setattr(streamlit_folium, "_component_func", component)
    return calls


def _outlines() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["E1", "E2"], "name": ["North", "South"]},
        geometry=[box(-2.2, 52.8, -2.0, 53.0), box(-2.2, 52.6, -2.0, 52.8)],
        crs=4326,
    )


def _base() -> folium.Map:
    m = maps.offline_map(bounds=(-2.2, 52.6, -2.0, 53.0), fit=False)
    maps.add_district_outlines(m, _outlines(), approximate=False)
    maps.add_area_labels(m, _outlines())
    maps.fullscreen(position="topleft").add_to(m)
    return m


def _groups(kind: str) -> list[folium.FeatureGroup]:
    groups = [maps.view_target(f"fit:{kind}", bounds=(-2.2, 52.6, -2.0, 53.0))]
    if kind == "cells":
        cells = gpd.GeoDataFrame(
            {"cell_id": ["a", "b"], "bin": [3, -3], "count": [12, 4]},
            geometry=[box(-2.1, 52.7, -2.09, 52.71), box(-2.05, 52.75, -2.04, 52.76)],
            crs=4326,
        )
        groups.append(maps.legend_key(hotspot_layer(cells, name="Hot and cold spots"), "hot"))
    else:
        group = folium.FeatureGroup(name="Flagged places")
        maps.fast_marker_cluster([[52.7, -2.1]]).add_to(group)
        groups.append(maps.legend_key(group, "flags"))
    return groups


def _st_folium(kind: str) -> None:
    streamlit_folium.st_folium(
        _base(),
        key="map",
        height=640,
        use_container_width=True,
        returned_objects=RETURNED,
        feature_group_to_add=_groups(kind),
        layer_control=folium.LayerControl(collapsed=True),
    )


def _comparable(call: dict) -> str:
    return json.dumps(call, sort_keys=True, default=str)


def test_a_prepared_map_sends_what_st_folium_sends_run_after_run(sent) -> None:
    prepared = maps.prepare_map(_base())
    own = list(prepared.map._children)
    for kind in ("cells", "flags", "cells"):  # the same base, other data layers each run
        _st_folium(kind)
        maps.draw_prepared(
            prepared,
            key="map",
            height=640,
            returned_objects=RETURNED,
            feature_group_to_add=_groups(kind),
            layer_control=folium.LayerControl(collapsed=True),
        )
        expected, got = sent[-2], sent[-1]
        assert set(got) == set(expected)
        for name in expected:
            assert _comparable(got[name]) == _comparable(expected[name]), name
    # the data layers are taken off the base again: nothing piles up run after run
    assert list(prepared.map._children) == own


def test_the_comparison_sees_a_data_layer_left_on_the_base(sent) -> None:
    """Control: a base that kept the last run's layers would send another layer control."""
    prepared = maps.prepare_map(_base())
    for group in _groups("flags"):  # as if a draw had not taken its layers off
        group.add_to(prepared.map)
    _st_folium("cells")
    maps.draw_prepared(
        prepared,
        key="map",
        height=640,
        returned_objects=RETURNED,
        feature_group_to_add=_groups("cells"),
        layer_control=folium.LayerControl(collapsed=True),
    )
    expected, got = sent[-2], sent[-1]
    assert _comparable(got["layer_control"]) != _comparable(expected["layer_control"])


def test_the_base_script_is_the_same_for_two_sessions(sent) -> None:
    """The component's key is a hash of the script: equal scripts keep the map's frame."""
    first, second = maps.prepare_map(_base()), maps.prepare_map(_base())
    assert first.script == second.script
    assert first.header == second.header and first.html == second.html


class _Probe(folium.FeatureGroup):
    """A data layer that notes whether its map's lock was held while it was rendered."""

    def __init__(self, prepared: maps.PreparedMap) -> None:
        super().__init__(name="Probe")
        self.prepared = prepared
        self.held: list[bool] = []

    def render(self, **kwargs):
        self.held.append(self.prepared.lock.locked())
        return super().render(**kwargs)


def test_sessions_add_their_layers_to_a_shared_base_in_turn(sent) -> None:
    """One prepared map serves every session that sees it, so a draw holds its lock while
    its layers are on the base; the probe rendered outside a draw is the control."""
    prepared = maps.prepare_map(_base())
    probe = _Probe(prepared)
    maps.draw_prepared(
        prepared, key="map", height=640, returned_objects=RETURNED, feature_group_to_add=[probe]
    )
    assert probe.held and all(probe.held)
    assert not prepared.lock.locked()  # given back after the draw
    probe.render()
    assert probe.held[-1] is False
