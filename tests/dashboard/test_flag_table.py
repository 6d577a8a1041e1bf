"""The flagged table beside the map: the period said once, every other word of a reason kept."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.flag_table import flag_table
from geo.flags import FlagFigures, period_label, render_reason

PERIODS = [
    (pd.Period("2026-10", "M"), pd.Period("2026-10", "M")),
    (pd.Period("2026-08", "M"), pd.Period("2026-10", "M")),
    (pd.Period("2025-11", "M"), pd.Period("2026-10", "M")),
]


@pytest.mark.parametrize(("first", "last"), PERIODS, ids=lambda p: str(p))
@pytest.mark.parametrize("shown", [None, ("<5", "7")], ids=["exact", "disclosed"])
def test_the_reason_without_its_period_keeps_every_other_word(first, last, shown) -> None:
    label = period_label(first, last)
    figures = FlagFigures(
        194, 3, 200.0, label, hot_bin=3, in_hot_spot=True,
        trend="Consecutive Hot Spot", trend_since="Aug",
    )  # fmt: skip
    now, before = shown or (None, None)
    reason = render_reason(figures, count_now=now, count_before=before)
    short = render_reason(figures, count_now=now, count_before=before, period=False)
    assert label in reason and label not in short
    assert short == reason.replace(f" in {label}", "", 1)
    assert short.endswith("99% hot spot; consecutive hot spot since Aug")


def test_the_table_lists_places_best_first_with_their_short_reasons() -> None:
    flags = pd.DataFrame(
        {
            "name": ["Bus station", "Park"],
            "reason": [
                "12 incidents within 200 m in Aug-Oct 2026 (up from 9); 99% hot spot",
                "7 incidents within 200 m in Aug-Oct 2026 (no change); 95% hot spot",
            ],
            "reason_short": [
                "12 incidents within 200 m (up from 9); 99% hot spot",
                "7 incidents within 200 m (no change); 95% hot spot",
            ],
            "category": ["transport_hub", "park"],
        }
    )
    table, config = flag_table(flags, pd.Series(["none", "overdue"]), {"none": "None yet"})
    assert list(table.columns) == ["Place", "Why"]  # two columns fit beside the map
    assert table["Why"].tolist() == flags["reason_short"].tolist()  # the period is not in a row
    # the kind and the assessment are read in the place's cell, from the same data
    assert table["Place"].tolist() == [
        "Bus station (transport hub; none yet)",
        "Park (park or open space; overdue)",
    ]
    assert set(config) == {"Place", "Why"}


def test_the_short_assessment_words_cover_every_state() -> None:
    from dashboard.flag_table import SHORT_STATES
    from dashboard.layers import STATE_LABELS

    assert set(SHORT_STATES) == set(STATE_LABELS)
