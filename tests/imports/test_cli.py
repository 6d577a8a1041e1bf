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

from cli.main import main
from data.demo import DEFAULT_AREA
from geo.postcodes import load_postcode_directory
from services.boundaries import save_boundaries
from store.db import connect, upgrade
from store.vocabulary import CONTEXT_TYPES
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
def test_the_police_uk_sample_is_context_not_exploitation(shared_data, home, tmp_path, capsys):
    """police.uk crime is all ages: stored as context with its own 14 types, no incident."""
    sample = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    url = f"sqlite:///{tmp_path / 'new.db'}"
    report_csv = tmp_path / "report.csv"
    status = main(["import", "incidents", str(sample), "--db", url, "--report", str(report_csv)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "police.uk street-level crime CSV" in out.out
    flat = " ".join(out.out.split())
    assert "What each category becomes" in flat and "context: Drugs" in flat
    assert "Police-recorded crime, all ages (police.uk)" in flat
    assert str(report_csv.resolve()) in out.out.replace("\n", "")

    raw = pd.read_csv(sample, dtype=str, keep_default_na=False)
    engine = connect(url)
    with engine.connect() as connection:
        batch = connection.execute(text("SELECT * FROM import_batches")).one()
        types = set(connection.scalars(text("SELECT DISTINCT crime_type FROM context_events")))
        keys = connection.execute(
            text("SELECT min(record_key), max(record_key) FROM context_events")
        ).one()
    assert count(engine, "districts") == len(DEFAULT_AREA), "the default area was set up"
    assert count(engine, "incidents") == 0, "no police.uk row became an exploitation incident"
    assert types == set(CONTEXT_TYPES) == set(raw["Crime type"]), "the 14 police.uk types"
    assert keys[0] >= 0 and keys[1] <= 255 and keys[1] > keys[0]
    assert batch.kind == "context"
    assert batch.rows_total == len(raw)
    assert batch.rows_accepted == count(engine, "context_events")
    assert batch.rows_rejected == int((raw["Longitude"] == "").sum())
    assert batch.rows_outside_area > 0, "the sample has rows from Birmingham LSOAs"
    stored = json.loads(batch.report)
    assert stored["exploitation_mapping"] == {} and stored["mapped_incidents"] == 0
    listed = pd.read_csv(report_csv)
    # every row accounted for: each row is stored or listed once with its reason
    assert listed["row"].is_unique
    assert batch.rows_accepted + len(listed) == len(raw)
    assert set(listed["status"]) == {"rejected", "outside the area"}

    again = main(["import", "incidents", str(sample), "--db", url, "--report", str(report_csv)])
    assert again == 1 and "already imported" in capsys.readouterr().out
    assert count(engine, "context_events") == batch.rows_accepted


@pytest.mark.realdata
def test_a_deliberate_exploitation_mapping_must_be_confirmed(shared_data, home, tmp_path, capsys):
    sample = shared_data / "policeuk_2021-08_staffordshire_street.csv"
    url = f"sqlite:///{tmp_path / 'mapped.db'}"
    mapping = tmp_path / "partnership.toml"
    mapping.write_text('[categories]\n"Drugs" = "cce"\n', encoding="utf-8")
    args = ["import", "context", str(sample), "--db", url, "--mapping", str(mapping)]
    assert main(args) == 2
    refused = " ".join(capsys.readouterr().err.split())
    assert "'Drugs' -> cce" in refused and "--confirm-mapping" in refused
    engine = connect(url)
    assert count(engine, "context_events") == 0 and count(engine, "incidents") == 0

    assert main([*args, "--confirm-mapping"]) == 0, capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    assert "ALSO exploitation incident: cce" in out
    raw = pd.read_csv(sample, dtype=str, keep_default_na=False)
    with engine.connect() as connection:
        categories = set(connection.scalars(text("SELECT DISTINCT category FROM incidents")))
        drugs = connection.scalar(
            text("SELECT count(*) FROM context_events WHERE crime_type = 'Drugs'")
        )
        report = json.loads(connection.scalar(text("SELECT report FROM import_batches")))
    assert categories == {"cce"}
    assert count(engine, "incidents") == drugs <= int((raw["Crime type"] == "Drugs").sum())
    assert report["exploitation_mapping"] == {"Drugs": "cce"}
    assert report["mapped_incidents"] == drugs


def _police_uk_rows(rows: list[tuple[str, str, str, str]]) -> str:
    header = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context\n"
    )
    body = "".join(
        f"{ref},2021-08,Staffordshire Police,Staffordshire Police,{lon},{lat},On or near X,"
        f"E01029700,Stafford 001A,{kind},Under investigation,\n"
        for ref, lon, lat, kind in rows
    )
    return header + body


def test_repeated_crime_ids_are_listed_row_by_row(home, tmp_path, capsys):
    """A Crime ID repeated inside one file (at another place) is listed with the row it repeats."""
    rows = [
        ("aaa1", "-2.117", "52.806", "Burglary"),
        ("bbb2", "-2.120", "52.809", "Drugs"),
        ("aaa1", "-2.125", "52.801", "Burglary"),  # row 4 repeats row 2, elsewhere
        ("", "-2.117", "52.806", "Anti-social behaviour"),
        ("bbb2", "-2.130", "52.811", "Drugs"),  # row 6 repeats row 3
    ]
    folder = tmp_path / "share"
    folder.mkdir()
    path = folder / "2021-08-staffordshire-street.csv"
    path.write_text(_police_uk_rows(rows), encoding="utf-8")
    folder.chmod(0o555)  # the input is on a read-only share
    try:
        url = f"sqlite:///{tmp_path / 'rep.db'}"
        assert main(["import", "context", str(path), "--db", url]) == 0
    finally:
        folder.chmod(0o755)
    out = capsys.readouterr().out
    assert list(folder.iterdir()) == [path], "nothing written beside the input"
    written = list((home / "reports").glob("2021-08-staffordshire-street.*.report.csv"))
    assert len(written) == 1 and str(written[0].resolve()) in out.replace("\n", "")
    listed = pd.read_csv(written[0])
    repeated = listed.loc[listed["status"] == "repeated in the file"].sort_values("row")
    assert repeated["row"].tolist() == [4, 6]
    assert repeated["reason"].tolist() == [
        "repeats the Crime ID of row 2 in this file; only row 2 is kept",
        "repeats the Crime ID of row 3 in this file; only row 3 is kept",
    ]
    assert count(connect(url), "context_events") == 3


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
    assert len(list((home / "reports").glob("lcs.*.report.csv"))) == 1
    assert not (tmp_path / "lcs.report.csv").exists(), "never beside the input"
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
    command = [sys.executable, "-m", "cli.main", "import", "incidents", str(path), "--db", url]
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
