"""Where the database is, and where the app keeps its working files.

Settings come, in order, from the environment, from ``.streamlit/secrets.toml``
in the working folder, and from the defaults below.

``SAFER_SPACES_DATABASE_URL`` (secrets: ``database_url``)
    A SQLAlchemy URL. ``postgresql+psycopg://user:password@host/db`` for a
    deployment; by default an SQLite file in the home folder.
``SAFER_SPACES_HOME``
    The folder for the embedded database and caches; ``var`` in the working
    folder by default.
``SAFER_SPACES_PSEUDONYM_KEY`` (secrets: ``pseudonym_key``)
    The secret for keyed pseudonyms of source references and children.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

__all__ = ["database_url", "home_dir", "secret", "secrets_file", "setting", "switched_on"]


def home_dir() -> Path:
    """Return the folder for the embedded database and caches."""
    return Path(os.environ.get("SAFER_SPACES_HOME") or "var")


def secrets_file() -> Path:
    """Return the path of the Streamlit secrets file the app would read."""
    return Path(".streamlit") / "secrets.toml"


def secret(name: str) -> str | None:
    """Return a top-level value from ``.streamlit/secrets.toml``, if any.

    A secrets file that cannot be parsed raises ``ValueError`` naming the file,
    since silently ignoring it would connect to the wrong database.
    """
    path = secrets_file()
    if not path.is_file():
        return None
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"The settings file {path} could not be read: {error}.") from error
    value = values.get(name)
    return str(value) if value is not None else None


def setting(env: str, name: str | None = None) -> str | None:
    """Return a setting from the environment variable ``env``, else ``name`` in the secrets file."""
    return os.environ.get(env) or (secret(name) if name else None)


def switched_on(env: str, name: str | None = None) -> bool:
    """Return False when a setting that is on by default is switched off.

    The value comes from the environment variable ``env``, else from ``name`` in the
    secrets file; ``0``, ``false``, ``no`` and ``off`` (any case) switch it off.

    Examples
    --------
    >>> os.environ["SAFER_SPACES_EXAMPLE"] = "Off"
    >>> switched_on("SAFER_SPACES_EXAMPLE"), switched_on("SAFER_SPACES_UNSET_EXAMPLE")
    (False, True)
    >>> del os.environ["SAFER_SPACES_EXAMPLE"]
    """
    value = setting(env, name)
    return value is None or value.strip().lower() not in ("0", "false", "no", "off")


def database_url() -> str:
    """Return the database URL the app and the command line use."""
    url = setting("SAFER_SPACES_DATABASE_URL", "database_url")
    if url:
        return url
    return f"sqlite:///{home_dir() / 'safer_spaces.db'}"
