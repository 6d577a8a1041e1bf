"""``safer-spaces import`` end to end: the police.uk sample, a social-care extract, a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from dashboard.cli import main
from data.demo import DEFAULT_AREA
from geo.postcodes import load_postcode_directory
from store.boundaries import save_boundaries
from store.db import connect, upgrade
from store.imports.columns import POLICE_UK_CATEGORIES
from tests.imports.conftest import KEY, count, snapshot
from tests.imports.fakes import social_care_extract, write_extract

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch, area):
    """A working folder whose boundary cache already holds the default area."""
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAFER_SPACES_PSEUDONYM_KEY", KEY)
    from geo.boundaries import _cache_path, _write_cache_atomically

    folder = tmp_path / "home" / "cache"
    folder.mkdir(parents=True)
    _write_cache_atomically(area, _cache_path(list(DEFAULT_AREA), folder))
    return tmp_path / "home"


def test_import_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["import", "--help"])
    assert done.value.code == 0
    assert "incidents,referrals,places" in capsys.readouterr().out


@pytest.mark.realdata
def test_the_police_uk_sample_end_to_end(shared_data, home, tmp_path, capsys):
    sample = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    url = f"sqlite:///{tmp_path / 'new.db'}"
    report_csv = tmp_path / "report.csv"
    status = main(["import", "incidents", str(sample), "--db", url, "--report", str(report_csv)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "police.uk street-level crime CSV" in out.out

    raw = pd.read_csv(sample, dtype=str, keep_default_na=False)
    relevant = raw["Crime type"].isin(list(POLICE_UK_CATEGORIES))
    no_location = int((relevant & (raw["Longitude"] == "")).sum())
    engine = connect(url)
    with engine.connect() as connection:
        batch = connection.execute(text("SELECT * FROM import_batches")).one()
        agencies = set(connection.scalars(text("SELECT DISTINCT source_agency FROM incidents")))
        categories = set(connection.scalars(text("SELECT DISTINCT category FROM incidents")))
    assert count(engine, "districts") == len(DEFAULT_AREA), "the default area was set up"
    assert batch.rows_total == len(raw)
    assert batch.rows_rejected == no_location
    assert batch.rows_outside_area > 0, "the sample has rows from Birmingham LSOAs"
    assert batch.rows_accepted == count(engine, "incidents")
    assert batch.rows_accepted + batch.rows_outside_area + no_location == int(relevant.sum())
    assert json.loads(batch.report)["counts"]["ignored"] == int((~relevant).sum())
    assert agencies == {"police"} and categories <= set(POLICE_UK_CATEGORIES.values())
    listed = pd.read_csv(report_csv)
    assert len(listed) == batch.rows_rejected + batch.rows_outside_area
    assert set(listed["status"]) == {"rejected", "outside the area"}

    again = main(["import", "incidents", str(sample), "--db", url, "--report", str(report_csv)])
    assert again == 1 and "already imported" in capsys.readouterr().out
    assert count(engine, "incidents") == batch.rows_accepted


def test_a_social_care_extract_with_a_mapping_file_end_to_end(home, tmp_path, capsys):
    extract = social_care_extract(rows=40)
    extract.frame = extract.frame.rename(columns={"Concern": "Primary reason", "RFM Risk": "Lvl"})
    path = write_extract(extract, tmp_path / "lcs.xlsx")
    mapping = tmp_path / "lcs.toml"
    mapping.write_text(
        '[columns]\n"Primary reason" = "category"\n"Lvl" = "risk_level"\n'
        '[categories]\n"Missing from home" = "missing"\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'care.db'}"
    args = ["import", "referrals", str(path), "--db", url, "--source", "LCS", "--mapping"]
    assert main([*args, str(mapping)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "Identifiers dropped" in out and "Child Name" in out
    assert (tmp_path / "lcs.report.csv").exists()
    engine = connect(url)
    assert count(engine, "referrals") == len(extract.frame)
    with engine.connect() as connection:
        risks = set(connection.scalars(text("SELECT DISTINCT risk_level FROM referrals")))
        saved = connection.scalar(
            text("SELECT value FROM settings WHERE key = :k"), {"k": "mapping:referrals:LCS"}
        )
    assert risks == {"low", "medium", "high"}
    assert "Primary reason" in str(saved), "the mapping is remembered for the source"

    # next month: same source, no mapping file; the remembered mapping is used
    later = social_care_extract(rows=40, seed=9)
    later.frame = later.frame.rename(columns={"Concern": "Primary reason", "RFM Risk": "Lvl"})
    later.frame["Referral Ref"] = later.frame["Referral Ref"] + "-B"
    second = write_extract(later, tmp_path / "lcs-next.xlsx")
    assert main(["import", "referrals", str(second), "--db", url, "--source", "LCS"]) == 0
    assert count(engine, "referrals") == 2 * len(extract.frame)


def test_exit_statuses(home, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 10)
    assert main(["import", "incidents", str(garbage), "--db", url]) == 2
    assert "binary data" in capsys.readouterr().err
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text("ref,date,type,postcode\nB1,2021-08-01,burglary,ST16 2LJ\n")
    assert main(["import", "incidents", str(all_bad), "--db", url]) == 1
    assert "Nothing was stored" in capsys.readouterr().out
    assert count(connect(url), "import_batches") == 0


def _big_csv(path: Path, rows: int) -> None:
    postcodes = load_postcode_directory(DEFAULT_AREA)["postcode"].to_numpy(dtype=object)
    rng = np.random.default_rng(1)
    pd.DataFrame(
        {
            "incident_ref": np.char.add("K", np.arange(rows).astype(str)),
            "incident_date": "2024-06-03",
            "exploitation_type": rng.choice(["cce", "cse", "missing"], rows),
            "postcode": postcodes[rng.integers(0, len(postcodes), rows)],
        }
    ).to_csv(path, index=False)


@pytest.mark.slow
def test_a_kill_part_way_leaves_the_database_as_it_was(home, tmp_path, area):
    database = tmp_path / "kill.db"
    url = f"sqlite:///{database}"
    engine = connect(url)
    upgrade(engine)
    save_boundaries(engine, area, kind="district", actor="test")
    before = snapshot(engine)
    path = tmp_path / "big.csv"
    _big_csv(path, 400_000)
    env = {**os.environ, "SAFER_SPACES_PSEUDONYM_KEY": KEY}
    command = [sys.executable, "-m", "dashboard.cli", "import", "incidents", str(path), "--db", url]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wal = Path(f"{database}-wal")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > 4 * 2**20:  # rows are being written
            break
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    engine.dispose()
    engine = connect(url)
    assert snapshot(engine) == before
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert count(engine, "incidents") == 400_000 - _outside(engine)


def _outside(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            text("SELECT rows_outside_area + rows_rejected FROM import_batches")
        )
