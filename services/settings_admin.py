"""The settings held in the database (``config.settings.DATABASE_SETTINGS``): read and changed.

Only an administrator changes them; every change is written to the audit log with the
values before and after. Bad values are refused with a message that says what to enter,
and nothing is stored.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from config.settings import DATABASE_SETTINGS
from services.access import Viewer
from services.disclosure import disclosure_k, set_disclosure_k
from services.imports.pipeline import SETTINGS_KEY, ImportSettings, load_settings
from store.audit import record
from store.db import session_scope
from store.models import Setting

__all__ = ["SettingsError", "current", "save"]

_IMPORT_FIELDS = tuple(s.name for s in DATABASE_SETTINGS if s.key == SETTINGS_KEY)
_PRECISIONS = ("day", "week", "month")


class SettingsError(ValueError):
    """A setting could not be saved; the message says what to enter."""


def current(engine: Engine) -> dict[str, Any]:
    """Return every database setting's value now (defaults where unset), by name."""
    with engine.connect() as connection:
        imports = load_settings(connection)
    values: dict[str, Any] = {"k": disclosure_k(engine)}
    values.update({name: getattr(imports, name) for name in _IMPORT_FIELDS})
    return values


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    problems = []
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "date_precision":
            if value not in _PRECISIONS:
                problems.append(f"date precision must be day, week or month, not '{value}'")
            out[name] = value
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{name.replace('_', ' ')} must be a number of metres")
            continue
        if number < 0 or (number == 0 and name != "snap_to_place") or number > 5_000:
            problems.append(
                f"{name.replace('_', ' ')} must be between "
                f"{0 if name == 'snap_to_place' else 'more than 0'} and 5,000 metres"
            )
        out[name] = number
    if problems:
        raise SettingsError("The settings were not saved: " + "; ".join(problems) + ".")
    return out


def save(engine: Engine, viewer: Viewer, values: dict[str, Any]) -> list[str]:
    """Store the database settings given (by name); return the names that changed.

    ``k`` goes through :func:`services.disclosure.set_disclosure_k`; the import settings are
    one ``settings`` row. All are checked first: a bad value stores nothing.

    Raises
    ------
    services.access.AccessDenied
        For anyone but an administrator.
    SettingsError
        For a value out of range, naming each.
    """
    viewer.require(viewer.is_admin, "change the settings")
    unknown = sorted(set(values) - {"k", *_IMPORT_FIELDS})
    if unknown:
        raise SettingsError(f"There is no database setting {', '.join(unknown)}.")
    before = current(engine)
    k = values.get("k", before["k"])
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 50:
        raise SettingsError("The settings were not saved: k must be a whole number, 2 to 50.")
    wanted = _checked({n: values[n] for n in _IMPORT_FIELDS if n in values})
    changed = [n for n, v in {"k": k, **wanted}.items() if v != before[n]]
    if "k" in changed:
        set_disclosure_k(engine, k, viewer=viewer)
    moved = {n: wanted[n] for n in changed if n != "k"}
    if moved:
        with session_scope(engine) as session:
            row = session.get(Setting, SETTINGS_KEY)
            old = dict(row.value) if row is not None and isinstance(row.value, dict) else {}
            new = {**old, **moved}
            ImportSettings(**{n: v for n, v in new.items() if n in _IMPORT_FIELDS})  # types
            if row is None:
                session.add(
                    Setting(
                        key=SETTINGS_KEY, value=new, created_by=viewer.username,
                        updated_by=viewer.username,
                    )
                )  # fmt: skip
            else:
                row.value = new
                row.updated_by = viewer.username
            record(
                session,
                actor=viewer.username,
                action="change setting",
                entity="setting",
                entity_id=SETTINGS_KEY,
                detail={"before": {n: before[n] for n in moved}, "after": moved},
            )
    return changed


def defaults() -> dict[str, Any]:
    """Return each database setting's default, by name."""
    imports = asdict(ImportSettings())
    return {"k": 5, **{n: imports[n] for n in _IMPORT_FIELDS}}
