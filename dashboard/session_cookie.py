"""Stay signed in: a signed, expiring session cookie for the local sign-in (issue 23).

The cookie ``safer_spaces_session`` holds the username and the person's session epoch
(``services.users.session_epoch``), signed with HMAC (itsdangerous) under a secret and
stamped with the time it was issued. A reload presents it; it is accepted only when the
signature holds, it was issued less than the idle limit ago, and the epoch is still the
person's own (signing out anywhere moves the epoch on, so every cookie of that person
stops working at once). The app issues a fresh cookie as the person keeps working, so it
lasts until the idle limit after the last activity, as the session does.

The secret is the ``session_secret`` setting (``SAFER_SPACES_SESSION_SECRET``); without
it, a random one is made once and kept in the working folder (``session.key``, readable
by the service account only). Several app processes on different machines must share
the setting. This module holds no Streamlit code: :mod:`dashboard.auth` reads and writes
the cookie.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from config.settings import home_dir, raw

__all__ = ["COOKIE", "Claim", "issue", "read", "secret", "set_cookie_script"]

COOKIE = "safer_spaces_session"
_SALT = "safer-spaces-session-v1"


@dataclass(frozen=True)
class Claim:
    """What a valid cookie says: who, and at which session epoch they signed in."""

    username: str
    epoch: int


def secret() -> str:
    """Return the secret that signs session cookies (the setting, else the kept random one)."""
    configured = raw("session_secret")
    if configured:
        return configured
    path = Path(home_dir()) / "session.key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_hex(32)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(made)
    return made


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_SALT)


def issue(username: str, epoch: int, *, key: str) -> str:
    """Return a signed, time-stamped cookie value for ``username`` at ``epoch``.

    Examples
    --------
    >>> token = issue("officer", 3, key="k")
    >>> read(token, key="k", max_age=60)
    Claim(username='officer', epoch=3)
    >>> read(token, key="other", max_age=60) is None, read(token + "x", key="k", max_age=60)
    (True, None)
    """
    return _serializer(key).dumps({"u": username, "e": int(epoch)})


def read(token: str | None, *, key: str, max_age: float) -> Claim | None:
    """Return what a cookie says, or None when it is missing, forged, altered or too old."""
    if not token:
        return None
    try:
        value = _serializer(key).loads(token, max_age=max(1, round(max_age)))
    except (SignatureExpired, BadSignature, ValueError, TypeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("u"), str):
        return None
    if not isinstance(value.get("e"), int):
        return None
    return Claim(value["u"], value["e"])


def set_cookie_script(value: str | None, max_age: int) -> str:
    """Return a script that sets (or, for None, clears) the cookie on the app's own address.

    ``SameSite=Strict``, the whole site's path, ``Secure`` over HTTPS. The value is
    written as a JSON string with ``<`` escaped, so nothing in it can break out of the script.
    """
    if value is None:
        attributes = "; Path=/; Max-Age=0; SameSite=Strict"
        body = '""'
    else:
        attributes = f"; Path=/; Max-Age={int(max_age)}; SameSite=Strict"
        body = json.dumps(value).replace("<", "\\u003c")  # no "</script>" inside
    return (
        "<script>(function(){var secure = window.location.protocol === 'https:' ? "
        f"'; Secure' : ''; document.cookie = {json.dumps(COOKIE)} + '=' + {body} + "
        f"{json.dumps(attributes)} + secure;}})();</script>"
    )
