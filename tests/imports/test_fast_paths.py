"""The importer's vectorised short cuts give what the value-by-value reading gives (issue 21)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.imports.pipeline import _parse_dates, parse_dates

VALUES = ["2021-08-14", "14/08/2021", "14 Aug 2021", "2021-08", "31/02/2021", "soon", "",
          " 01/01/2020 ", "14.08.21", "20210814"]  # fmt: skip


def test_repeated_dates_are_read_once_each_with_the_same_result():
    column = pd.Series(VALUES * 40)
    days, month, problem = parse_dates(column)
    one_by_one = _parse_dates(column.astype(str).str.strip(), None)
    assert np.array_equal(days, one_by_one[0], equal_nan=True)
    assert month.tolist() == one_by_one[1].tolist()
    assert problem.tolist() == one_by_one[2].tolist()
    assert str(days[1]) == "2021-08-14" and problem[5] == "is not a date"  # it can fail
