"""Several app instances against one PostgreSQL: starting together, they upgrade it once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from store.db import connect
from tests.faults.conftest import REPO
from tests.schema import at_head

# Each instance connects, then waits for the same moment to upgrade.
UPGRADE = (
    "import sys, time; from store.db import connect, upgrade; engine = connect(sys.argv[1]); "
    "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); upgrade(engine)"
)


@pytest.mark.postgres
def test_instances_starting_together_upgrade_a_new_database_once(private_postgres):
    # Without the upgrade lock they would trip over one another's tables: give up after
    # 20 s of waiting for a lock rather than hang.
    url = f"{private_postgres.url}?options=-c%20lock_timeout%3D20000"
    at = str(time.time() + 8)
    instances = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, url, at],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for instance in instances:
        _, err = instance.communicate(timeout=120)
        assert instance.returncode == 0, err[-2000:]
    engine = connect(url)
    try:
        assert at_head(engine)
    finally:
        engine.dispose()
