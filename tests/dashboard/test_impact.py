"""The impact of actions in the demo, the pack, the chart and the command line."""

from __future__ import annotations

import pandas as pd
import pytest

from cli.main import main
from dashboard import impact as views
from data.bootstrap import open_database
from data.load import demo_info
from services.impact import CSV_COLUMNS, disclose, impact_figures, read_impact_inputs


@pytest.fixture(scope="module")
def demo_impact(demo_database):
    engine = open_database(demo_database)
    end = pd.Period(demo_info(engine)["end"], freq="M")
    return impact_figures(read_impact_inputs(engine)), end


def _planted(figures, end, kinds):
    rows = figures.places
    mine = rows.loc[
        (rows["first_action_month"] == str(end - 8)) & rows["kinds"].map(lambda k: k == kinds)
    ]
    assert len(mine) == 1, rows[["place_key", "first_action_month", "kinds"]]
    return mine.iloc[0]


def test_the_demo_shows_all_three_verdicts(demo_impact):
    figures, end = demo_impact
    works = _planted(figures, end, ("cctv", "lighting"))
    assert works["verdict"] == "fell", works.to_dict()
    assert works["after"] < 0.7 * works["before"]
    flat = _planted(figures, end, ("patrols",))
    assert flat["verdict"] == "no_change", flat.to_dict()
    quiet = _planted(figures, end, ("makesafe_training",))
    assert quiet["verdict"] == "too_few"
    assert quiet["sentence"].startswith("too few incidents to tell")


def test_the_pack_slide_and_csv_carry_the_impact(demo_impact):
    figures, _ = demo_impact
    codes = tuple(figures.places["district_code"].unique())
    seen = disclose(figures, districts=codes, suppressed=True, k=5)
    blocks = views.pack_blocks(seen)
    texts = [line for kind, lines in blocks if kind == "text" for line in lines]
    assert texts[0].startswith(f"{len(seen.places)} places with completed actions")
    assert any("association, not proof" in line for line in texts)
    tables = [content for kind, content in blocks if kind == "table"]
    assert [t.columns[0] for t in tables] == ["Kind of action", "District", "Place"]
    counts = ["Before", "After", "Comparable places before", "Comparable places after"]
    shown = pd.concat([t[counts].astype(str) for t in tables])
    assert not shown.isin(["1", "2", "3", "4"]).any().any()  # never a count of incidents under k
    exact = views.pack_blocks(disclose(figures, districts=codes, suppressed=False, k=5))
    raw = pd.concat([c[counts].astype(str) for kind, c in exact if kind == "table"])
    assert raw.isin(["1", "2", "3", "4"]).any().any()  # the control: there are small counts


@pytest.mark.slow  # the whole command-line run: about a minute on a busy machine
def test_the_meeting_pack_from_the_command_line_has_the_impact_slide(demo_database, tmp_path):
    assert main(["meeting-pack", "--out", str(tmp_path), "--db", demo_database]) == 0
    page = next(tmp_path.glob("*.html")).read_text()
    assert "Impact of actions" in page and "comparable places" in page
    csv = pd.read_csv(next(tmp_path.glob("*.csv")), dtype=str, keep_default_na=False)
    impact = csv.loc[csv["slide"] == "impact"]
    assert len(impact) > 10
    assert impact["measure"].str.endswith(": Verdict").any()


@pytest.mark.slow  # the whole command-line run: about a minute on a busy machine
def test_the_impact_command_writes_one_row_per_place(demo_database, tmp_path, capsys):
    out = tmp_path / "impact.csv"
    assert main(["impact", "--db", demo_database, "--out", str(out), "--window-months", "6"]) == 0
    table = pd.read_csv(out)
    assert tuple(table.columns) == CSV_COLUMNS
    assert table["place_key"].is_unique
    assert table["verdict"].str.startswith("fell by about").any()
    assert "place(s) with completed actions" in capsys.readouterr().out
    assert main(["impact", "--db", demo_database, "--out", str(tmp_path / "no" / "x.csv")]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["impact", "--db", demo_database, "--out", str(out), "--window-months", "2"]) == 2


def test_the_chart_draws_the_place_and_the_comparison_line_with_gaps():
    line = pd.DataFrame(
        {
            "month": ["2026-01", "2026-02", "2026-03"],
            "place": [10.0, None, 6.0],
            "expected": [10.0, 11.0, None],
            "after": [False, False, True],
        }
    )
    figure = views.chart(line, action_month="2026-02")
    assert [t.name for t in figure.data] == ["This place", "Had it moved like comparable places"]
    assert pd.isna(figure.data[0].y[1]) and figure.data[0].connectgaps is False


def test_without_actions_the_impact_reads_no_incidents(demo_database, monkeypatch):
    """No action, no impact to measure: nothing is read (nationally, every district's
    incidents per spot and a grid of all England), and the impact is empty."""
    import streamlit as st

    import services.impact
    from dashboard import loaders

    read = loaders.map_sites
    reads: list[tuple] = []

    def counted(*args):
        reads.append(args)
        return read(*args)

    monkeypatch.setattr(loaders, "map_sites", counted)
    st.cache_data.clear()
    try:
        version = loaders.data_version()
        assert len(loaders.impact(version).places) and reads  # the control: the demo's actions
        kinds = services.impact.load_action_kinds
        monkeypatch.setattr(
            services.impact, "load_action_kinds", lambda engine: kinds(engine).iloc[:0]
        )
        st.cache_data.clear()
        reads.clear()
        figures = loaders.impact(version)
    finally:
        st.cache_data.clear()
    assert figures.places.empty and figures.counts.empty
    assert reads == []


def test_a_wide_database_measures_the_impact_district_by_district(demo_database, monkeypatch):
    """More districts than ``WIDE_DISTRICTS`` (lowered to 2 for the demo's 9): the impact
    is measured district by district, only where a place has an action, each place against
    places of its own district. One read of every district's incidents per spot and a grid
    over all of them would take gigabytes nationally (issue 21)."""
    import streamlit as st

    import services.impact
    from dashboard import loaders
    from services import reads

    engine = open_database(demo_database)
    read = loaders.map_sites
    areas: list[tuple[str, ...]] = []

    def counted(*args):
        areas.append(args[2])
        return read(*args)

    monkeypatch.setattr(loaders, "map_sites", counted)
    st.cache_data.clear()
    try:
        version = loaders.data_version()
        together = loaders.impact(version)
        assert len(areas[0]) > 2  # the control: a county is measured as one area
        monkeypatch.setattr(reads, "WIDE_DISTRICTS", 2)
        st.cache_data.clear()
        areas.clear()
        apart = loaders.impact(version)
    finally:
        st.cache_data.clear()
    acted = set(together.places["district_code"])
    assert sorted(areas) == sorted((code,) for code in acted)
    assert set(apart.places["place_id"]) == set(together.places["place_id"])

    def elsewhere(figures) -> int:
        """The comparisons from another district than their place's."""
        return sum(
            figures.districts[int(i)] != figures.districts[int(row.place_id)]
            for row in figures.places.itertuples()
            for i in row.comparison_ids or ()
        )

    assert elsewhere(together) > 0  # the control: as one area, comparisons cross districts
    assert elsewhere(apart) == 0
    assert apart.places["comparison_ids"].map(lambda ids: len(ids or ())).sum() > 0
    # the command line's impact is the same, read area by area from the database
    assert services.impact.measure_impact(engine, window=loaders.IMPACT_WINDOW).places[
        ["place_id", "verdict", "before", "after"]
    ].equals(apart.places[["place_id", "verdict", "before", "after"]])


def test_combined_areas_count_a_month_missing_from_one_as_none():
    from services.impact import ImpactFigures, combined

    def part(place: int, months: list[str], n: int) -> ImpactFigures:
        counts = pd.DataFrame(
            [[n] * len(months)], index=[place], columns=pd.PeriodIndex(months, freq="M")
        )
        places = pd.DataFrame({"place_id": [place], "district_code": [f"D{place}"]})
        return ImpactFigures(places, counts, {place: "x"}, {place: f"D{place}"}, 6, counts * 7)

    joined = combined([part(1, ["2025-01", "2025-02"], 3), part(2, ["2025-02", "2025-03"], 4)], 6)
    assert [str(m) for m in joined.counts.columns] == ["2025-01", "2025-02", "2025-03"]
    assert joined.counts.loc[1].tolist() == [3, 3, 0]
    assert joined.counts.loc[2].tolist() == [0, 4, 4]
    assert joined.keys.loc[2].tolist() == [0, 28, 28]
    assert joined.districts == {1: "D1", 2: "D2"} and len(joined.places) == 2
