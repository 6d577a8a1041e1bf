"""``safer-spaces send-reminders`` through the real entry point, against a loopback SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cli.main import build_parser, main
from services import assessments as svc
from store.db import connect, upgrade
from tests.smtp import SmtpSink
from tests.store.test_notifications import OFFICER, TODAY, complete_form, seed


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'reminders.db'}"
    engine = connect(url)
    upgrade(engine)
    ids = seed(engine)
    aid = svc.create_draft(engine, OFFICER, ids["stafford_park"], today=TODAY)
    actions = (
        svc.ActionInput("Lamps", "", TODAY + timedelta(days=3), owner=f"user:{ids['officer']}"),
        svc.ActionInput("Licensing", "", TODAY + timedelta(days=5), owner=f"org:{ids['council']}"),
    )
    svc.save_draft(
        engine, OFFICER, aid, complete_form(ids, actions=actions), expected_version=1, today=TODAY
    )
    engine.dispose()
    return url


def test_send_reminders_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["send-reminders", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: safer-spaces send-reminders" in out and "--dry-run" in out


def test_dry_run_then_send_then_nothing_twice(database, capsys, monkeypatch):
    sink = SmtpSink().start()
    try:
        for name, value in sink.env().items():
            monkeypatch.setenv(name, value)
        day = ["--db", database, "--today", TODAY.isoformat()]

        assert main(["send-reminders", "--dry-run", *day]) == 0
        out = capsys.readouterr().out
        assert "would queue 3 new e-mails (2 action_due, 1 digest)" in out
        assert "actions@stafford.gov.uk" in out and "Nothing was sent." in out
        assert sink.received == []

        assert main(["send-reminders", *day]) == 0
        assert "Queued 3 new e-mails (2 action_due, 1 digest); sent 3" in capsys.readouterr().out
        assert sorted(a for r in sink.received for a in r.rcpt_tos) == [
            "actions@stafford.gov.uk",
            OFFICER.username,
            OFFICER.username,
        ]

        assert main(["send-reminders", *day]) == 0  # safe to run twice
        assert "Queued 0 new e-mails (none); sent 0" in capsys.readouterr().out
        assert len(sink.received) == 3
    finally:
        sink.stop()


def test_an_unreachable_server_exits_1_and_the_next_run_sends(database, capsys, monkeypatch):
    sink = SmtpSink()
    for name, value in sink.env().items():
        monkeypatch.setenv(name, value)
    day = ["--db", database, "--today", TODAY.isoformat()]
    assert main(["send-reminders", *day]) == 1  # nothing listens on the port yet
    captured = capsys.readouterr()
    assert "failed 3 (kept to retry)" in captured.out
    assert "Connection refused" in captured.err
    sink.start()
    try:
        assert main(["send-reminders", *day]) == 0
        assert "Queued 0 new e-mails (none); sent 3" in capsys.readouterr().out
        assert len(sink.received) == 3
    finally:
        sink.stop()


def test_without_an_smtp_server_it_says_what_to_set(database, capsys, monkeypatch):
    monkeypatch.delenv("SAFER_SPACES_SMTP_HOST", raising=False)
    assert main(["send-reminders", "--db", database]) == 2
    assert "SAFER_SPACES_SMTP_HOST" in capsys.readouterr().err
