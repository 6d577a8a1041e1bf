"""The meeting pack on the demo: files, all-or-nothing writing, the command line, no data."""

from __future__ import annotations

import io
import os
from datetime import date, datetime

import pandas as pd
import pytest
from pypdf import PdfReader

from cli.main import main
from data.bootstrap import open_database
from reports import pack
from reports.meeting import SLIDES, figures_for
from services.audience import Audience
from store import queries

pytestmark = pytest.mark.slow  # builds the meeting pack (PDF) from the demo, and its CLI

CONTEXT = pack.pack_context(
    filters="All",
    latest=date(2026, 10, 31),
    last_import=None,
    demo=True,
    approximate=True,
    audience="Steering group member",
    now=datetime(2026, 11, 2, 9, 30),
)


@pytest.fixture(scope="module")
def demo(demo_database):
    engine = open_database(demo_database)
    districts = queries.load_districts(engine)
    codes = tuple(districts["code"])
    latest = queries.latest_event_date(engine)
    last = f"{latest:%Y-%m}"
    first = str(pd.Period(last, freq="M") - 2)
    figures = figures_for(
        engine, codes, first=first, last=last, today=date.today(),
        audience=Audience.for_role("viewer", codes),
    )
    return figures, districts


def test_the_pdf_has_a_cover_and_every_slide_with_its_figures(demo):
    figures, districts = demo
    deck = pack.slides(figures, districts)
    reader = PdfReader(io.BytesIO(pack.pack_pdf(figures, CONTEXT, deck)))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= len(SLIDES) + 1
    assert "Child exploitation steering group" in pages[0] and figures.period in pages[0]
    assert "Synthetic demonstration data" in pages[0] and "fewer than 5" in pages[0]
    text = "\n".join(pages)
    starts = [page.splitlines()[0] for page in pages[1:]]
    for number, (_, title) in enumerate(SLIDES, start=1):
        assert f"{number}. {title}" in starts, starts
    top = figures.decisions.iloc[0]
    assert str(top["name"]).split(",")[0] in text
    assert reader.metadata.title == f"Child exploitation steering group: {figures.period}"


def test_the_html_is_self_contained(demo):
    figures, districts = demo
    page = pack.pack_html(figures, CONTEXT, pack.slides(figures, districts))
    assert page.count("data:image/png;base64,") == 2  # the trend chart and the map
    assert "<script" not in page and "http://" not in page.replace("http://www.w3", "")
    assert page.count("<section>") == len(SLIDES) + 1


def test_a_failure_while_making_the_pack_writes_nothing(demo, tmp_path, monkeypatch):
    figures, districts = demo

    def broken(*args, **kwargs):
        raise ValueError("the font is missing")

    monkeypatch.setattr(pack, "pack_pdf", broken)
    with pytest.raises(pack.PackError, match=r"the font is missing.*nothing was written"):
        pack.write_pack(figures, CONTEXT, districts, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_removes_every_file_of_the_pack(demo, tmp_path, monkeypatch):
    figures, districts = demo
    (tmp_path / "minutes.docx").write_text("kept")
    real_replace = os.replace
    calls = []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(pack.PackError, match="No space left on device"):
        pack.write_pack(figures, CONTEXT, districts, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["minutes.docx"]


def test_the_command_line_writes_the_pack(demo_database, tmp_path, capsys):
    status = main(["meeting-pack", "--out", str(tmp_path), "--db", demo_database])
    assert status == 0, capsys.readouterr().err
    names = sorted(p.suffix for p in tmp_path.iterdir())
    assert names == [".csv", ".html", ".pdf"]
    csv = pd.read_csv(next(tmp_path.glob("*.csv")), dtype=str, keep_default_na=False)
    # the trend chart draws the monthly counts: its numbers are under "monthly"
    assert set(csv["slide"]) == {key for key, _ in SLIDES} - {"trends"}


def test_the_command_line_refuses_unknown_districts_and_missing_folders(
    demo_database, tmp_path, capsys
):
    assert (
        main(
            [
                "meeting-pack",
                "--out",
                str(tmp_path),
                "--districts",
                "E99999999",
                "--db",
                demo_database,
            ]
        )
        == 2
    )
    assert "E99999999" in capsys.readouterr().err
    assert main(["meeting-pack", "--out", str(tmp_path / "no"), "--db", demo_database]) == 2
    assert "no folder" in capsys.readouterr().err


def test_a_period_with_no_incidents_makes_no_incidents_slides(demo_database):
    engine = open_database(demo_database)
    districts = queries.load_districts(engine)
    figures = figures_for(
        engine,
        tuple(districts["code"]),
        first="2001-01",
        last="2001-03",
        today=date.today(),
        audience=Audience.for_role("viewer", tuple(districts["code"])),
    )
    assert figures.empty and figures.headline[0].value == "<5"  # a viewer: 0 reads as <5
    deck = pack.slides(figures, districts)
    text = "\n".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pack.pack_pdf(figures, CONTEXT, deck))).pages
    )
    assert "No incidents in this period (Jan-Mar 2001)" in text


def test_district_names_on_the_map_never_overlap(demo):
    import itertools

    import matplotlib.pyplot as plt

    from reports.charts import emerging_map_figure, text_box

    figures, districts = demo
    figure = emerging_map_figure(figures, districts)
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    names = figure.axes[0].texts
    assert len(names) == len(districts)
    boxes = [text_box(t, renderer) for t in names]
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    plt.close(figure)


def test_pack_tables_have_no_index_and_ranks_without_gaps(demo):
    figures, districts = demo
    page = pack.pack_html(figures, CONTEXT, pack.slides(figures, districts))
    assert "<th></th>" not in page  # no index column, no column without a heading
    table = pack.decisions(figures)
    assert list(table.index) == list(range(len(table)))
    assert list(table["Rank"]) == [str(n) for n in range(1, len(table) + 1)]
