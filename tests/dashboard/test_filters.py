from datetime import date

import pytest

from dashboard.filters import Filters, filters_from_params, filters_to_params

DISTRICTS = {"E07000197": "Stafford", "E07000192": "Cannock Chase"}


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(period="year", types=("cce", "cse"), districts=("E07000197",)),
        Filters(period="custom", start=date(2026, 1, 1), end=date(2026, 3, 31), ages=("13-15",)),
        Filters(period="month", agencies=("police",), cell_size=500),
    ],
    ids=["defaults", "year-types-district", "custom-range", "month-agency-cell"],
)
def test_a_link_reproduces_the_filters(filters):
    parsed, notices = filters_from_params(filters_to_params(filters), districts=DISTRICTS)
    assert parsed == filters
    assert notices == []


@pytest.mark.parametrize(
    ("params", "expected_notice"),
    [
        ({"period": "fortnight"}, "period 'fortnight'"),
        ({"types": "cce,robbery"}, "unknown exploitation types (robbery)"),
        ({"districts": "E09999999"}, "unknown districts (E09999999)"),
        ({"period": "custom", "start": "2026-13-01", "end": "2026-02-01"}, "not a date"),
        ({"period": "custom", "start": "2026-03-01", "end": "2026-02-01"}, "after its end"),
        ({"cell": "7"}, "cell size '7'"),
    ],
)
def test_a_hand_edited_link_falls_back_to_defaults_with_a_notice(params, expected_notice):
    parsed, notices = filters_from_params(params, districts=DISTRICTS)
    assert any(expected_notice in n for n in notices), notices
    for key in ("period", "types", "districts", "cell_size"):
        if key in params or (key == "cell_size" and "cell" in params):
            assert getattr(parsed, key) == getattr(Filters(), key)


def test_preset_periods_end_with_the_newest_month_of_data():
    latest = date(2026, 10, 17)
    assert Filters(period="month").window(latest) == (date(2026, 10, 1), date(2026, 10, 31))
    assert Filters(period="quarter").window(latest) == (date(2026, 8, 1), date(2026, 10, 31))
    assert Filters(period="year").window(latest) == (date(2025, 11, 1), date(2026, 10, 31))
    assert Filters(period="all").window(latest) == (None, None)
