"""The cell key method: the published table, record keys at import and in the migration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import text

import services.disclosure
from services.disclosure import (
    D_MAX,
    K_DEFAULT,
    PTABLE_PATH,
    build_ptable,
    disclose_counts,
    perturb,
    possible_counts,
    ptable,
    unprotected,
)
from store.db import _alembic_config, connect


def test_the_published_table_is_the_published_rule():
    published = pd.read_csv(PTABLE_PATH)
    pd.testing.assert_frame_equal(published, build_ptable())


def test_the_table_never_shows_a_small_count_and_moves_at_most_d():
    table = build_ptable()
    shown = table["pcv"] + table["pvalue"]
    assert table["pvalue"].abs().max() == D_MAX
    assert not ((shown > 0) & (shown < K_DEFAULT)).any()  # 1..k-1 never shown
    assert (shown[table["pcv"] == 0] == 0).all()  # 0 stays 0
    assert (shown[table["pcv"] >= K_DEFAULT] >= K_DEFAULT).all()  # k or more stays so
    assert (table.groupby("pcv").size() == 256).all()


def test_the_noise_is_unbiased_where_the_floor_allows():
    table = build_ptable()
    means = table.groupby("pcv")["pvalue"].mean()
    assert means.abs().max() < 0.1
    variance = table.loc[table["pcv"] == 30, "pvalue"].var(ddof=0)
    assert 2.3 < variance < 2.8
    extremes = table.loc[(table["pcv"] == 30) & (table["pvalue"].abs() == D_MAX)]
    assert len(extremes) == 2  # one key in 256 for each extreme


def test_every_shown_value_could_come_from_several_counts():
    for shown in ["<5", *range(5, 80)]:
        assert len(possible_counts(shown)) >= 2, shown


def test_the_same_count_and_key_give_the_same_shown_count():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 500, size=2000)
    keys = rng.integers(0, 256 * 40, size=2000)
    first = perturb(counts, keys)
    assert (first == perturb(counts, keys)).all()
    assert (first == perturb(counts, keys % 256)).all()  # only the key mod 256 matters
    assert (np.abs(first - counts) <= D_MAX).all()
    assert (first != counts).mean() > 0.5  # most counts do move


def test_small_counts_and_zeros_read_as_fewer_than_k():
    shown = disclose_counts(np.array([0, 1, 2, 3, 4, 40]), np.arange(6) * 51)
    assert all(v == "<5" or v >= 5 for v in shown[:5])
    assert shown[0] == "<5"
    assert isinstance(shown[5], int)


def test_switched_off_the_counts_are_exact_with_small_ones_hidden():
    with unprotected():
        assert disclose_counts(np.array([0, 3, 40]), np.array([9, 9, 9])) == ["<5", "<5", 40]
    assert services.disclosure._PROTECTION.get() is True


def test_a_larger_k_gets_a_table_by_the_same_rule():
    table = ptable(10)
    rows = np.arange(table.shape[0])[:, None]
    shown = rows + table
    assert not ((shown > 0) & (shown < 10)).any()
    assert np.abs(table[10:]).max() <= D_MAX  # a small count is shown as 0 (<10) or near
    assert (shown[1:10] <= rows[1:10] + D_MAX).all()


def test_record_keys_from_the_operating_system_are_uniform():
    keys = services.disclosure.new_record_keys(256 * 200)
    counts = np.bincount(keys, minlength=256)
    assert keys.min() >= 0 and keys.max() <= 255
    assert counts.min() > 120 and counts.max() < 290  # about 200 each


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_migration_gives_existing_rows_random_keys(backend, tmp_path, request):
    if backend == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        engine = request.getfixturevalue("pg_engine")
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0002")
            connection.execute(
                text(
                    "INSERT INTO districts (code, name, source, geometry_wkb, created_at,"
                    " updated_at, created_by, updated_by) VALUES ('E1', 'D', 'test', :g,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"
                ),
                {"g": b"\x00"},
            )
            for i in range(200):
                connection.execute(
                    text(
                        "INSERT INTO incidents (source_agency, source_ref, category, occurred_on,"
                        " date_precision, online, district_code, created_at, updated_at,"
                        " created_by, updated_by) VALUES ('police', :ref, 'cce', '2026-01-01',"
                        " 'week', false, 'E1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"
                    ),
                    {"ref": f"r{i}"},
                )
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
            keys = connection.scalars(text("SELECT record_key FROM incidents")).all()
        assert len(keys) == 200 and all(0 <= k <= 255 for k in keys)
        assert len(set(keys)) > 100
    finally:
        if backend == "sqlite":
            engine.dispose()
        else:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            from store.db import upgrade

            upgrade(engine)
