"""The signed session cookie (issue 23): expiry, forgery, the secret, the script."""

from __future__ import annotations

import json
import stat
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard import session_cookie as sc


def aged(key: str, payload: object, age_s: int) -> str:
    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(key, salt=sc._SALT, signer=Aged).dumps(payload)


def test_a_cookie_older_than_the_idle_limit_is_refused():
    young = aged("k", {"u": "officer", "e": 2}, 29 * 60)
    old = aged("k", {"u": "officer", "e": 2}, 31 * 60)
    assert sc.read(young, key="k", max_age=30 * 60) == sc.Claim("officer", 2)  # control
    assert sc.read(old, key="k", max_age=30 * 60) is None


def test_forged_altered_and_malformed_cookies_are_refused():
    good = sc.issue("lead", 0, key="k")
    assert sc.read(good, key="k", max_age=60) == sc.Claim("lead", 0)  # control
    payload, signature = good.rsplit(".", 1)
    assert sc.read(f"{payload}.{signature[::-1]}", key="k", max_age=60) is None
    assert sc.read(sc.issue("lead", 0, key="guess"), key="k", max_age=60) is None
    assert sc.read(aged("k", {"u": "lead"}, 1), key="k", max_age=60) is None  # no epoch
    assert sc.read(aged("k", ["lead", 0], 1), key="k", max_age=60) is None
    assert sc.read("", key="k", max_age=60) is None and sc.read(None, key="k", max_age=60) is None


def test_the_secret_comes_from_the_setting_else_a_private_file_kept_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    monkeypatch.delenv("SAFER_SPACES_SESSION_SECRET", raising=False)
    made = sc.secret()
    assert len(made) == 64 and sc.secret() == made
    mode = stat.S_IMODE((tmp_path / "session.key").stat().st_mode)
    assert mode == 0o600
    monkeypatch.setenv("SAFER_SPACES_SESSION_SECRET", "from the setting")
    assert sc.secret() == "from the setting"


def test_the_script_writes_the_value_as_a_json_string():
    hostile = "x';alert(1);//</script>"
    script = sc.set_cookie_script(hostile, 1800)
    assert json.dumps(hostile).replace("<", "\\u003c") in script
    assert script.count("</script>") == 1 and script.endswith("</script>")
    assert "Max-Age=1800; SameSite=Strict" in script
    assert "Max-Age=0" in sc.set_cookie_script(None, 0)


def test_an_organisation_identity_issued_before_a_sign_out_has_ended(engine):
    from dashboard.auth import _signed_out_since
    from store.audit import log_event

    issued = int(time.time()) - 60
    claims = {"email": "Olu.Officer@Stafford.example.gov.uk", "iat": issued}
    assert not _signed_out_since(engine, claims)  # control: no sign-out yet
    log_event(
        engine,
        actor="olu.officer@stafford.example.gov.uk",
        action="sign out",
        detail={"reason": "timed out"},
    )
    assert not _signed_out_since(engine, claims)  # a time-out elsewhere ends only that tab
    log_event(
        engine,
        actor="olu.officer@stafford.example.gov.uk",
        action="sign out",
        detail={"reason": "signed out"},
    )
    assert _signed_out_since(engine, claims)
    assert not _signed_out_since(engine, {**claims, "iat": int(time.time()) + 5})  # signed in again
    assert not _signed_out_since(engine, {"email": "someone@else.example", "iat": issued})
