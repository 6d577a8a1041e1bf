"""SQLite in WAL mode with two writers at once: an import and an assessment save lose neither."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from services import assessments as svc
from services.access import Viewer
from services.boundaries import save_boundaries
from store.db import SQLITE_BUSY_MS, connect, upgrade
from store.models import Assessment, AuditEvent, Finding, ImportBatch, Incident, Place, Setting
from tests.faults.conftest import REPO, import_command, import_env, incidents_csv
from tests.store.test_assessments import complete_form

ROWS = 60_000
STAFFORD = "E07000197"
OFFICER = Viewer("officer", "officer", (STAFFORD,), "Stafford Borough Council", "Olu")


def test_an_import_and_an_assessment_save_at_the_same_time_both_keep(area, tmp_path: Path):
    database = tmp_path / "two-writers.db"
    url = f"sqlite:///{database}"
    engine = connect(url)
    upgrade(engine)
    save_boundaries(engine, area, kind="district", actor="test")
    with engine.begin() as connection:
        connection.execute(insert(Setting).values(key="import", value={"chunk_size": 10_000}))
        place_id = connection.execute(
            insert(Place).values(
                place_key="P-1",
                name="Victoria Park",
                category="park",
                easting=392_000.0,
                northing=323_000.0,
                district_code=STAFFORD,
            )
        ).inserted_primary_key[0]
    path = incidents_csv(tmp_path / "extract.csv", ROWS)
    began = time.monotonic()
    process = subprocess.Popen(
        import_command(path, url),
        cwd=REPO,
        env=import_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wal = Path(f"{database}-wal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if wal.exists() and wal.stat().st_size > 1_000_000:  # the import is writing its batch
            break
        time.sleep(0.02)
    assert process.poll() is None, "the import finished before the save could start"

    # An officer saves an assessment while the import holds the write lock: the save waits
    # for it (busy timeout), then is stored.
    started = time.monotonic()
    assessment_id = svc.create_draft(engine, OFFICER, place_id)
    version = svc.save_draft(engine, OFFICER, assessment_id, complete_form(), expected_version=1)
    waited = time.monotonic() - started
    out, err = process.communicate(timeout=120)
    importing = time.monotonic() - began
    assert process.returncode == 0, out + err

    with engine.connect() as connection:
        batch = connection.execute(select(ImportBatch.rows_total, ImportBatch.rows_accepted)).one()
        stored = connection.scalar(select(func.count()).select_from(Incident))
        saved = connection.execute(
            select(Assessment.version, Assessment.goals).where(Assessment.id == assessment_id)
        ).one()
        findings = connection.scalar(
            select(func.count()).where(Finding.assessment_id == assessment_id)
        )
        audited = connection.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert batch.rows_total == ROWS
    assert batch.rows_accepted == stored > ROWS * 0.99  # every accepted row of the import
    assert (saved.version, saved.goals) == (version, complete_form().goals)  # and the save
    assert findings == len(complete_form().findings)
    # The save really overlapped the import: it waited for the import's commit.
    assert audited.index("import incidents") < audited.index("assessment.created")
    assert "assessment.saved" in audited
    # It waited for the import's write lock only, not for a busy timeout to run out: less
    # than the import took (however loaded the machine) and than the timeout.
    assert waited < min(importing, SQLITE_BUSY_MS / 1000), (
        f"the save waited {waited:.1f} s; the import took {importing:.1f} s"
    )
    engine.dispose()
