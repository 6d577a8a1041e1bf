"""Every setting of a deployment, as data: name, where it is read from, default and help.

Deployment settings come, in order, from the environment variable, from the top-level key
in ``.streamlit/secrets.toml`` (in the working folder), and from the default. Database
settings are rows of the ``settings`` table, changed by an administrator on Data > Settings
(``services.settings_admin``); they are listed here so that one place names them all.
``tests/test_settings.py`` fails when the README's configuration tables leave one out, or
when code names a ``SAFER_SPACES_`` variable that is not registered here.

Read a setting with :func:`value` (typed, default when unset) or :func:`switched_on`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATABASE_SETTINGS",
    "SETTINGS",
    "DatabaseSetting",
    "Setting",
    "database_url",
    "home_dir",
    "raw",
    "secret",
    "secrets_file",
    "switched_on",
    "value",
]

_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """A deployment setting.

    Attributes
    ----------
    name
        The name code uses (``value("idle_minutes")``).
    env
        The environment variable.
    secret
        The top-level key in ``.streamlit/secrets.toml``; None when it is read only from
        the environment (values for tests and benchmarks, or the working folder itself).
    default
        The value when unset, as text (None: no value).
    kind
        ``"text"``, ``"int"``, ``"float"`` (both positive) or ``"switch"`` (on unless
        ``0``, ``false``, ``no`` or ``off``).
    help
        What it does, for the README and the Data page.
    """

    name: str
    env: str
    secret: str | None
    default: str | None
    kind: str
    help: str


@dataclass(frozen=True)
class DatabaseSetting:
    """A setting held in the database's ``settings`` table, changed by an administrator.

    Attributes
    ----------
    name
        The field's name.
    key
        The ``settings`` row that holds it (``disclosure_k``, ``import``).
    default
        The value when unset.
    help
        What it does.
    """

    name: str
    key: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url", "SAFER_SPACES_DATABASE_URL", "database_url", None, "text",
        "A SQLAlchemy URL (postgresql+psycopg://user:password@host/db); by default an "
        "SQLite file safer_spaces.db in the working folder.",
    ),
    Setting(
        "home", "SAFER_SPACES_HOME", None, "var", "text",
        "The working folder: the embedded SQLite database, caches and import reports.",
    ),
    Setting(
        "pseudonym_key", "SAFER_SPACES_PSEUDONYM_KEY", "pseudonym_key", None, "text",
        "The secret for keyed pseudonyms of source references and children; without it "
        "linkable imports are refused (a demo database takes only the demo's references).",
    ),
    Setting(
        "demo_accounts", "SAFER_SPACES_DEMO_ACCOUNTS", "demo_accounts", "on", "switch",
        "The demo accounts may sign in (0 refuses them even where they exist).",
    ),
    Setting(
        "max_failed_sign_ins", "SAFER_SPACES_MAX_FAILED_SIGN_INS", "max_failed_sign_ins",
        "5", "int", "Wrong passwords in a row that lock an account.",
    ),
    Setting(
        "lock_minutes", "SAFER_SPACES_LOCK_MINUTES", "lock_minutes", "15", "float",
        "How long a locked account stays locked.",
    ),
    Setting(
        "idle_minutes", "SAFER_SPACES_IDLE_MINUTES", "idle_minutes", "30", "float",
        "Minutes without activity after which a session ends.",
    ),
    Setting(
        "map_tiles", "SAFER_SPACES_MAP_TILES", "map_tiles", "osm", "text",
        "Base tiles of the Map: osm, os, none or an https://…/{z}/{x}/{y}… template.",
    ),
    Setting(
        "os_maps_key", "SAFER_SPACES_OS_MAPS_KEY", "os_maps_key", None, "text",
        "The Ordnance Survey Maps API key for the os tiles (sent to browsers with each tile "
        "request: restrict it to the app's address in the OS Data Hub).",
    ),
    Setting(
        "map_tiles_attribution", "SAFER_SPACES_MAP_TILES_ATTRIBUTION", "map_tiles_attribution",
        None, "text", "The attribution of a tile URL template (required with a template).",
    ),
    Setting(
        "warm", "SAFER_SPACES_WARM", None, "on", "switch",
        "Each app process warms the opening views' caches in the background (0 switches it off).",
    ),
    Setting(
        "timings", "SAFER_SPACES_TIMINGS", None, None, "text",
        "A file to which every script run appends its server time (benchmarks/bench_load.py).",
    ),
    Setting(
        "smtp_host", "SAFER_SPACES_SMTP_HOST", "smtp_host", None, "text",
        "The SMTP server for e-mail notifications (unset: no e-mail is queued or sent).",
    ),
    Setting(
        "smtp_port", "SAFER_SPACES_SMTP_PORT", "smtp_port", None, "int",
        "The SMTP server's port (587 with starttls, 465 with ssl, 25 with none).",
    ),
    Setting(
        "smtp_tls", "SAFER_SPACES_SMTP_TLS", "smtp_tls", "starttls", "text",
        "How the SMTP connection is secured: starttls, ssl or none.",
    ),
    Setting(
        "smtp_user", "SAFER_SPACES_SMTP_USER", "smtp_user", None, "text",
        "The SMTP login, if the server needs one.",
    ),
    Setting(
        "smtp_password", "SAFER_SPACES_SMTP_PASSWORD", "smtp_password", None, "text",
        "The SMTP password (keep it in secrets.toml or the service's environment).",
    ),
    Setting(
        "smtp_from", "SAFER_SPACES_SMTP_FROM", "smtp_from", None, "text",
        "The From address of notifications.",
    ),
    Setting(
        "base_url", "SAFER_SPACES_BASE_URL", "base_url", "http://localhost:8501", "text",
        "The app's address, for the links in e-mails.",
    ),
    Setting(
        "session_secret", "SAFER_SPACES_SESSION_SECRET", "session_secret", None, "text",
        "The secret that signs the stay-signed-in cookie, the same on every app process "
        "(unset: one is made in the working folder).",
    ),
    Setting(
        "evidence_dir", "SAFER_SPACES_EVIDENCE_DIR", "evidence_dir", None, "text",
        "A folder for evidence photos and PDFs (unset: they are kept in the database).",
    ),
    Setting(
        "evidence_max_mb", "SAFER_SPACES_EVIDENCE_MAX_MB", "evidence_max_mb", "10", "float",
        "The largest evidence file, in MB.",
    ),
)
"""The deployment settings, in the order the README lists them."""

DATABASE_SETTINGS: tuple[DatabaseSetting, ...] = (
    DatabaseSetting(
        "k", "disclosure_k", 5,
        "Counts of 1 to k-1 are shown as <k to officers and viewers (2 to 50).",
    ),
    DatabaseSetting(
        "date_precision", "import", "week",
        "Dates of imported records are kept to the day, week or month.",
    ),
    DatabaseSetting(
        "cell_size", "import", 100.0,
        "Imported points are snapped to the centre of squares this many metres wide.",
    ),
    DatabaseSetting(
        "place_radius", "import", 150.0,
        "An imported record is linked to the nearest register place within this many metres.",
    ),
    DatabaseSetting(
        "snap_to_place", "import", 50.0,
        "Within this many metres of its place a point is moved onto the place (0: never).",
    ),
    DatabaseSetting(
        "link_radius", "import", 50.0,
        "A record belongs to every register place within this many metres (links between "
        "places).",
    ),
)
"""The settings held in the database."""

_BY_NAME = {s.name: s for s in SETTINGS}
_BY_ENV = {s.env: s for s in SETTINGS}


def _lookup(name: str) -> Setting:
    found = _BY_NAME.get(name) or _BY_ENV.get(name)
    if found is None:
        raise KeyError(
            f"There is no setting '{name}'; the settings are {', '.join(_BY_NAME)} "
            "(config/settings.py)."
        )
    return found


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
    found = values.get(name)
    return str(found) if found is not None else None


def raw(name: str) -> str | None:
    """Return a setting as set (environment, else secrets file), None when unset.

    ``name`` is the setting's name or its environment variable.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SAFER_SPACES_MAP_TILES": "none"}):
    ...     raw("map_tiles"), raw("SAFER_SPACES_MAP_TILES")
    ('none', 'none')
    """
    found = _lookup(name)
    return os.environ.get(found.env) or (secret(found.secret) if found.secret else None)


def value(name: str) -> str | int | float | bool | None:
    """Return a setting, typed by its kind, its default when unset or unreadable.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SAFER_SPACES_IDLE_MINUTES": "-3"}):
    ...     value("idle_minutes")
    30.0
    >>> with mock.patch.dict(os.environ, {"SAFER_SPACES_IDLE_MINUTES": "45"}):
    ...     value("idle_minutes")
    45.0
    """
    found = _lookup(name)
    text = raw(name)
    if found.kind == "switch":
        return switched_on(name)
    if found.kind in ("int", "float"):
        convert = int if found.kind == "int" else float
        default = convert(found.default) if found.default is not None else None
        if text is None:
            return default
        try:
            number = convert(text)
        except ValueError:
            return default
        return number if number > 0 else default
    return text if text is not None else found.default


def switched_on(name: str) -> bool:
    """Return False when a setting that is on by default is switched off.

    ``0``, ``false``, ``no`` and ``off`` (any case) switch it off.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"SAFER_SPACES_WARM": "Off"}):
    ...     switched_on("warm")
    False
    >>> with mock.patch.dict(os.environ):
    ...     _ = os.environ.pop("SAFER_SPACES_WARM", None)
    ...     switched_on("warm")
    True
    """
    text = raw(name)
    return text is None or text.strip().lower() not in _OFF


def home_dir() -> Path:
    """Return the folder for the embedded database, caches and reports."""
    return Path(str(value("home")))


def cache_dir() -> Path:
    """Return the folder for files made once and read again (``cache`` in :func:`home_dir`).

    Outlines, the postcode directory, built-up areas: each may be deleted at any time.
    """
    return home_dir() / "cache"


def database_url() -> str:
    """Return the database URL the app and the command line use."""
    url = value("database_url")
    if url:
        return str(url)
    return f"sqlite:///{home_dir() / 'safer_spaces.db'}"
