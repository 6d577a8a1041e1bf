"""The Map's Links layer (issue 19): lines between linked places, the clicked cluster strong."""

from __future__ import annotations

import folium
import pandas as pd

from dashboard.link_layer import FAINT, LINE, links_layer
from services.links import LinksView


def view() -> LinksView:
    links = pd.DataFrame(
        {
            "place_a": ["pA", "pC"],
            "place_b": ["pB", "pD"],
            "young_people": [12, "<5"],
            "persons_of_concern": [2, 0],
            "first_month": ["2026-01", "2026-02"],
            "last_month": ["2026-03", "2026-04"],
            "cluster": [1, 2],
            "name_a": ["Alpha <Park>", "Gamma"],
            "name_b": ["Beta", "Delta"],
        }
    )
    places = pd.DataFrame(
        {
            "place": ["pA", "pB", "pC", "pD"],
            "place_id": [1, 2, 3, 4],
            "name": ["Alpha <Park>", "Beta", "Gamma", "Delta"],
            "cluster": [1, 1, 2, 2],
            "linked_places": [1, 1, 1, 1],
            "easting": [392200.0, 392700.0, 398000.0, 420700.0],
            "northing": [323100.0, 323400.0, 310100.0, 304000.0],
        }
    )
    return LinksView(links, pd.DataFrame(), places, min_young_people=0, protected=False)


def lines(group: folium.FeatureGroup) -> list[folium.PolyLine]:
    return [c for c in group._children.values() if isinstance(c, folium.PolyLine)]


def test_one_line_per_link_thicker_for_more_young_people() -> None:
    drawn = lines(links_layer(view()))
    assert len(drawn) == 2
    widths = [line.options["weight"] for line in drawn]
    assert widths[0] > widths[1]
    lat, lon = drawn[0].locations[0]
    assert 52.7 < lat < 52.9 and -2.2 < lon < -2.0  # Stafford, in WGS84


def test_the_clicked_place_s_cluster_is_strong_and_the_rest_faint() -> None:
    drawn = lines(links_layer(view(), highlight_place_id=3))
    assert [line.options["color"] for line in drawn] == [FAINT, LINE]


def test_names_are_text_not_html() -> None:
    group = links_layer(view())
    m = folium.Map()
    group.add_to(m)
    html = m.get_root().render()
    assert "Alpha <Park>" not in html  # it would be markup in the tooltip
    assert "Alpha &lt;Park&gt;" in html
