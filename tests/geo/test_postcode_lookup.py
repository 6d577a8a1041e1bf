"""Tests for geo.postcodes.lookup_postcodes: every postcode found at its own row, in any form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.postcodes import (
    FOUND,
    NO_POSTCODE,
    NOT_A_POSTCODE,
    NOT_IN_DIRECTORY,
    load_postcode_directory,
    lookup_postcodes,
)


@pytest.fixture(scope="module")
def sample():
    directory = load_postcode_directory()
    return directory.iloc[:: max(len(directory) // 3_000, 1)].reset_index(drop=True)


@pytest.mark.parametrize(
    "written",
    [str, str.lower, lambda p: p.replace(" ", ""), lambda p: f"  {p.lower()} "],
    ids=["as listed", "lower case", "no space", "spaces around"],
)
def test_every_postcode_is_found_at_its_own_place_however_written(sample, written):
    found = lookup_postcodes([written(p) for p in sample["postcode"]])
    assert (found["status"] == FOUND).all()
    assert found["postcode"].tolist() == sample["postcode"].tolist()
    assert np.array_equal(found["easting"], sample["easting"].to_numpy(dtype=float))
    assert np.array_equal(found["northing"], sample["northing"].to_numpy(dtype=float))
    assert found["district_code"].tolist() == sample["district_code"].astype(str).tolist()


def test_a_postcode_one_letter_away_is_not_taken_for_another(sample):
    # control for the test above: a search that matched near keys would place these
    listed = set(load_postcode_directory()["postcode"].str.replace(" ", ""))
    changed = [p[:-1] + ("Z" if p[-1] != "Z" else "Y") for p in sample["postcode"]]
    absent = [p for p in changed if p.replace(" ", "") not in listed]
    found = lookup_postcodes(absent)
    assert len(absent) > 100
    assert found["status"].isin([NOT_IN_DIRECTORY, NOT_A_POSTCODE]).all()  # "NPT 5EZ": old form
    assert (found["status"] == NOT_IN_DIRECTORY).mean() > 0.99
    assert found["easting"].isna().all()


def test_values_that_are_no_postcode_say_why():
    found = lookup_postcodes(["", None, 12, "nonsense", "ST16 2LJX", "ÄB1 2CD", "S" * 40])
    assert (
        found["status"].tolist() == [NO_POSTCODE, NO_POSTCODE, NO_POSTCODE] + [NOT_A_POSTCODE] * 4
    )
    assert found["postcode"].isna().all()


def test_repeated_values_give_each_row_its_own_answer_in_order(sample):
    first = sample["postcode"].iloc[:50].tolist()
    values = [*first, "", *reversed(first), "nonsense", *first]
    found = lookup_postcodes(values)
    one_by_one = pd.concat([lookup_postcodes([v]) for v in values], ignore_index=True)
    pd.testing.assert_frame_equal(found, one_by_one)
    assert found["status"].iloc[50] == NO_POSTCODE and found["status"].iloc[101] == NOT_A_POSTCODE
