"""The meeting's charts: every month on the axis, labels that never overlap, pictures that fit.

The trend chart is the same picture on the screen, in the HTML and in the PDF, so a label
that collides anywhere collides everywhere; these tests read the drawn labels' boxes.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from reports import charts, pack

MONTHS = [str(p) for p in pd.period_range("2025-11", "2026-10", freq="M")]


def _figures(marks: list[tuple[str, str]], incidents: list[int] | None = None):
    incidents = incidents or [727, 931, 770, 698, 725, 770, 757, 823, 1061, 1226, 832, 843]
    monthly = pd.DataFrame(
        {
            "month": MONTHS,
            "incidents": [f"{n:,}" for n in incidents],
            "referrals": [f"{n // 6:,}" for n in incidents],
        }
    )
    return SimpleNamespace(monthly=monthly, marks=marks)


def _boxes(figure: plt.Figure) -> list:
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    return [charts.text_box(t, renderer) for t in figure.axes[0].texts]


def _overlapping(boxes: list) -> list[tuple[int, int]]:
    return [
        (i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2) if a.overlaps(b)
    ]


CROWDED = [
    ("2026-07", "+136%"),
    ("2026-08", "Peak"),
    ("2026-08", "+139%"),
    ("2026-09", "+141%"),
    ("2026-10", "+152%"),
]


def test_the_peak_and_a_rise_in_the_same_month_are_one_label():
    marks = charts.chart_marks(_figures(CROWDED))  # type: ignore[arg-type]
    assert marks["2026-08"] == "Peak, +139%"
    assert len(marks) == 4


@pytest.mark.parametrize(
    "incidents",
    [None, [800] * 12, [100, 120, 140, 160, 180, 200, 220, 240, 260, 280, 300, 1000]],
    ids=["demo", "flat", "steep"],
)
def test_labels_on_neighbouring_months_never_overlap_and_stay_under_the_legend(incidents):
    figure = charts.trend_figure(_figures(CROWDED, incidents))  # type: ignore[arg-type]
    assert figure is not None
    boxes = _boxes(figure)
    assert len(boxes) == 4
    assert _overlapping(boxes) == []
    renderer = figure.canvas.get_renderer()
    legend = figure.axes[0].get_legend().get_window_extent(renderer)
    top = figure.axes[0].get_window_extent(renderer).y1
    assert all(not box.overlaps(legend) and box.y1 <= top for box in boxes)
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks[0] == "Nov\n2025" and ticks[-1] == "Oct\n2026" and len(ticks) == 12
    plt.close(figure)


def test_the_overlap_check_sees_labels_left_where_they_were_drawn(monkeypatch):
    """Control: without moving the labels apart, neighbouring months' labels collide."""
    monkeypatch.setattr(charts, "separate", lambda *args, **kwargs: None)
    flat = [800] * 12
    figure = charts.trend_figure(_figures(CROWDED, flat))  # type: ignore[arg-type]
    assert _overlapping(_boxes(figure)) != []
    plt.close(figure)


@pytest.mark.parametrize("pixels", [(1320, 528), (1100, 935), (600, 1200), (4000, 500)])
def test_a_picture_in_the_pdf_never_passes_the_page(pixels):
    room = (277.0, 150.0)
    width, height = pack.image_box(pixels, room)
    assert width <= room[0] + 1e-9 and height <= room[1] + 1e-9
    assert width == pytest.approx(room[0]) or height == pytest.approx(room[1])
    assert width / height == pytest.approx(pixels[0] / pixels[1])


def test_the_old_placement_lost_the_last_months_off_the_page():
    """Control: a wide chart given only a height (as before) is wider than the page."""
    width, height = 1320, 528
    assert 150 * width / height > 277
    assert pack.image_box((width, height), (277.0, 150.0))[0] <= 277


def _refused(*args, **kwargs):
    raise AssertionError("pyplot's register of figures was used")


def test_charts_are_drawn_outside_pyplots_register(monkeypatch) -> None:
    """Many sessions draw at once, and pyplot's register of figures is shared by every
    thread (two could get the same figure, and one's close broke the other's), so the
    charts never go through it. The control shows the broken register would be noticed."""
    monkeypatch.setattr(plt, "figure", _refused)
    monkeypatch.setattr(plt, "subplots", _refused)
    png = charts._png(charts.trend_figure(_figures(CROWDED)))  # type: ignore[arg-type]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(AssertionError, match="register"):
        plt.subplots()


def test_sessions_drawing_charts_at_once_each_get_their_own() -> None:
    """Four threads draw different trend charts at once: each gets a PNG of its own data."""
    import threading

    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []

    def draw(seed: int) -> None:
        try:
            for round_ in range(2):
                counts = [100 + seed * 10 + round_ + k for k in range(12)]
                figure = charts.trend_figure(_figures([], counts))  # type: ignore[arg-type]
                results.setdefault(seed, []).append(charts._png(figure))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=draw, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pictures = [png for seed in sorted(results) for png in results[seed]]
    assert len(pictures) == 8 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    assert len(set(pictures)) == 8  # every thread's own data, not another's figure
