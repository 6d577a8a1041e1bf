"""Running an import as one transaction, and rolling a whole batch back.

``import_file`` is the one engine behind the Data page and the command line:
it reads the file in chunks, prepares each chunk (``services.imports.pipeline``)
and stores it, all in one transaction with the ``ImportBatch`` row that
records the file's hash, the counts and the report. A failure, or the process
being killed part-way, leaves the database as it was. Rows already stored
(same pseudonymised reference, or the same fingerprint) are counted, not added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from config import settings
from config.demo import DEMO_KEY_FROM, DEMO_PSEUDONYM_KEY
from services.access import Viewer
from services.disclosure import new_record_keys
from services.imports.bulk import defer_indexes, rebuild_indexes
from services.imports.columns import (
    FIELDS,
    IGNORE,
    ColumnMapping,
    exploitation_mapping,
    recognise_columns,
    saved_mapping,
    store_mapping,
)
from services.imports.identifiers import find_identifiers
from services.imports.links import load_place_index
from services.imports.locate import load_area
from services.imports.pipeline import (
    ROW_COLUMN,
    ImportSettings,
    Plan,
    agency_of,
    columns_for_insert,
    first_source,
    load_settings,
    prepare_chunk,
)
from services.imports.readers import ROW, SourceFile, iter_chunks, open_source
from services.imports.report import ImportFileError, ImportReport
from store.audit import record
from store.db import bulk_cache
from store.models import (
    Assessment,
    ContextEvent,
    ImportBatch,
    Incident,
    IncidentRef,
    Place,
    PlaceLink,
    Referral,
    Setting,
)
from store.vocabulary import CONTEXT_TYPES, context_label

__all__ = [
    "KEY_VARIABLE",
    "Progress",
    "import_file",
    "inspect_file",
    "mapping_table",
    "missing_fields",
    "pseudonym_key",
    "rollback_batch",
    "stored_kind",
]

#: The environment variable that holds the deployment's pseudonym key.
KEY_VARIABLE = "SAFER_SPACES_PSEUDONYM_KEY"

#: Called with the share done (0 to 1) and a line of text.
Progress = Callable[[float, str], None]

_TABLES = {
    "incidents": Incident,
    "referrals": Referral,
    "places": Place,
    "context": ContextEvent,
}
_REQUIRED = {
    "incidents": ("date", "category"),
    "context": ("date", "category"),
    "referrals": ("date", "category"),
    "places": ("category",),
}
_LOCATION = ("longitude", "latitude", "easting", "northing", "postcode", "district")
#: What a first load empties of indexes: the table, then what a trigger fills from it.
_LOADED_WITH = {
    "incidents": ("incidents", "incident_refs"),
    "referrals": ("referrals",),
    "context": ("context_events",),
}


def pseudonym_key(connection: Connection | None = None) -> tuple[bytes | None, str]:
    """Return the deployment's pseudonym key and where it came from.

    The key comes from the environment variable ``SAFER_SPACES_PSEUDONYM_KEY``,
    else ``pseudonym_key`` in ``.streamlit/secrets.toml``. A database that holds
    the synthetic demo, and has no key of its own, uses the demo's published
    key, but only for the demo's own references (:func:`demo_references_only`
    refuses any other file). Otherwise there is none, and linkable data are refused.
    """
    value = settings.raw("pseudonym_key")
    if value:
        return value.encode("utf-8"), "the deployment's key"
    if connection is not None and connection.scalar(
        select(Setting.key).where(Setting.key == "demo")
    ):
        return DEMO_PSEUDONYM_KEY, DEMO_KEY_FROM
    return None, "none"


def demo_references_only(
    connection: Connection, frame: pd.DataFrame, columns: list[str], shown_name: str
) -> None:
    """Refuse a file whose linkable references are not the demo's own, under the demo's key.

    The demo's key is published, so a pseudonym made with it can be tested against any
    guessed child id. It may only pseudonymise the demo's own synthetic references
    (``demo-<seed>-<kind>-<number>``, see ``data.demo``); any other value stops the
    import, which then stores nothing.

    Raises
    ------
    ImportFileError
        Naming the first column and row that is not a demo reference, and what to set.
    """
    demo = connection.scalar(select(Setting.value).where(Setting.key == "demo")) or {}
    own = re.compile(rf"demo-{int(demo.get('seed', -1))}-(incident|referral|child)-\d{{6}}")
    for column in columns:
        values = frame[column]
        text = values.dropna().astype(str).str.strip()
        bad = text.loc[(text != "") & ~text.map(lambda v: bool(own.fullmatch(v)))]
        if len(bad):
            raise ImportFileError(
                f"{shown_name} holds references that link records (column {column!r}, "
                f"for example row {_row_of(frame, bad.index[0])}) that are not the demo's own. "
                "This database holds the demo, whose pseudonym key is published, so it "
                f"pseudonymises only the demo's own files. Set {KEY_VARIABLE} or pseudonym_key in "
                ".streamlit/secrets.toml (a long random secret kept outside the database) "
                "before importing real extracts, or map those columns to 'ignore'. Nothing "
                "was imported."
            )


def _row_of(frame: pd.DataFrame, index: object) -> object:
    """Return the file's row number of a frame row (the reader's ``_row``), or the index."""
    return frame.at[index, ROW] if ROW in frame.columns else index


def _used_columns(source: SourceFile, kind: str, mapping: ColumnMapping) -> dict[str, str]:
    """Return ``{column: field}``: recognised headers, then the mapping (which wins)."""
    used = recognise_columns(source.columns, kind)
    if kind != "places" and "osm_tag" in source.columns:
        used.pop("osm_tag", None)
    geometry = {"geometry_easting", "geometry_northing"} & set(source.columns)
    if geometry:  # a spatial file's own geometry wins over attribute coordinates
        used = {c: f for c, f in used.items() if f not in _LOCATION[:4] or c in geometry}
    for column, target in mapping.columns.items():
        if column not in source.columns:
            continue
        if target == IGNORE:
            used.pop(column, None)
            continue
        for other in [c for c, f in used.items() if f == target and c != column]:
            used.pop(other)
        used[column] = target
    return used


def _plan_columns(
    source: SourceFile, kind: str, mapping: ColumnMapping, sample: Any
) -> tuple[dict[str, str], list[dict[str, str]], list[str]]:
    used = _used_columns(source, kind, mapping)
    identifiers = find_identifiers(sample.drop(columns=[ROW], errors="ignore"), used, kind=kind)
    dropped = {i["column"] for i in identifiers if i["handling"] == "dropped"}
    unused = [c for c in source.columns if c not in used and c not in dropped]
    return used, identifiers, unused


def missing_fields(kind: str, used: dict[str, str]) -> list[str]:
    """Return what a kind of import still needs, given ``{column: field}``.

    Examples
    --------
    >>> missing_fields("incidents", {"Date": "date", "Postcode": "postcode"})
    ['category']
    """
    fields = set(used.values())
    missing = [f for f in _REQUIRED[kind] if f not in fields]
    has_point = {"longitude", "latitude"} <= fields or {"easting", "northing"} <= fields
    if not has_point and not fields & {"postcode", "district"}:
        missing.append("a location (longitude and latitude, easting and northing, or postcode)")
    return missing


def inspect_file(
    engine: Engine,
    path: Path | str,
    *,
    kind: str,
    source: str | None = None,
    mapping: ColumnMapping | None = None,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Read a file's first rows and say how it would be imported (the page's mapping step).

    Returns
    -------
    dict
        ``source`` (the :class:`SourceFile`), ``source_name``, ``mapping`` (saved
        mapping merged with the one given), ``used`` ({column: field}),
        ``identifiers`` (list of dicts), ``unused`` (columns), ``missing``
        (fields still needed), ``categories`` (category values in the first
        rows that are not known yet), ``kind`` (what the rows are stored as:
        ``"context"`` for police.uk), ``category_table`` (each value in the
        whole file, its rows and what it becomes, see :func:`mapping_table`)
        and ``exploitation_mapping`` (crime types mapped deliberately to an
        exploitation code, which need a confirm).
    """
    from services.imports.columns import category_lookup, normalise_value

    file = open_source(path, max_bytes=max_bytes)
    kind = stored_kind(file, kind)
    name = source or _default_source(file, kind)
    with engine.connect() as connection:
        saved = saved_mapping(connection, kind, name)
    merged = saved.merged(mapping or ColumnMapping())
    sample = next(iter(iter_chunks(file, chunk_size=2_000)), None)
    if sample is None:
        raise ImportFileError(f"{file.name} has a header but no rows: there is nothing to import.")
    used, identifiers, unused = _plan_columns(file, kind, merged, sample.frame)
    category_column = next((c for c, f in used.items() if f == "category"), None)
    unknown: list[str] = []
    table = pd.DataFrame(columns=["value", "rows", "becomes"])
    if category_column is not None:
        lookup = category_lookup(kind, merged, header=category_column)
        values = sample.frame[category_column].astype(str).str.strip()
        unknown = sorted(v for v in values.unique() if v and normalise_value(v) not in lookup)[:50]
        whole = pd.concat(
            [
                c.frame[category_column]
                for c in iter_chunks(file, chunk_size=100_000, columns=[category_column])
            ],
            ignore_index=True,
        )
        table = mapping_table(whole, kind, merged)
    return {
        "kind": kind,
        "category_table": table,
        "exploitation_mapping": exploitation_mapping(merged) if kind == "context" else {},
        "source": file,
        "source_name": name,
        "mapping": merged,
        "used": used,
        "identifiers": identifiers,
        "unused": unused,
        "missing": missing_fields(kind, used),
        "categories": unknown,
    }


def stored_kind(file: SourceFile, kind: str) -> str:
    """Return what a file's rows are stored as: police.uk street crime is always context.

    Raises
    ------
    ImportFileError
        When a police.uk file is offered as referrals or places.
    """
    if file.format != "police.uk":
        return kind
    if kind in ("incidents", "context"):
        return "context"
    raise ImportFileError(
        f"{file.name} is police.uk street-level crime: public crime of all ages, not "
        f"{kind}. Import it as context (it is stored as '{context_label()}')."
    )


def mapping_table(categories: pd.Series, kind: str, mapping: ColumnMapping) -> pd.DataFrame:
    """Return what each category value becomes: value, rows, and its code or "set aside".

    Parameters
    ----------
    categories
        The category column of the whole file (strings).
    kind
        What the rows are stored as (``"context"`` for police.uk).
    mapping
        The mapping that will be used.

    Returns
    -------
    pandas.DataFrame
        ``value``, ``rows`` and ``becomes``, most rows first. For context, a
        crime type becomes itself as context, and also an exploitation code
        only when mapped deliberately.
    """
    from services.imports.columns import category_lookup, normalise_value

    values = categories.astype(str).str.strip()
    counts = values[values != ""].value_counts()
    lookup = category_lookup(kind, mapping, header=None)
    exploit = {normalise_value(k): v for k, v in exploitation_mapping(mapping).items()}
    becomes = []
    for value in counts.index:
        code = lookup.get(normalise_value(value))
        if code is None or code == IGNORE:
            becomes.append("set aside" + (" (ignored)" if code == IGNORE else " (not known)"))
        elif kind == "context":
            also = exploit.get(normalise_value(value))
            becomes.append(
                f"context: {code}" + (f"; ALSO exploitation incident: {also}" if also else "")
            )
        else:
            becomes.append(code)
    return pd.DataFrame({"value": counts.index, "rows": counts.to_numpy(), "becomes": becomes})


def _unconfirmed(exploit: dict[str, str], file_name: str) -> str:
    pairs = "; ".join(f"'{k}' -> {v}" for k, v in exploit.items())
    return (
        f"The mapping for {file_name} turns police.uk crime types into child exploitation "
        f"incidents ({pairs}). police.uk crime is of all ages and says nothing about children, "
        "so this must be a deliberate choice of the partnership: confirm it (the Data page's "
        "confirm box, or --confirm-mapping), or remove those categories from the mapping."
    )


def _mapped_plan(plan: Plan, exploit: dict[str, str], file: SourceFile) -> Plan:
    """Return the plan storing the deliberately mapped crime types as incidents too."""
    categories = {**{t: IGNORE for t in CONTEXT_TYPES}, **exploit}
    return Plan(
        kind="incidents",
        source=plan.source,
        agency=agency_of(plan.source, "incidents"),
        used=plan.used,
        mapping=ColumnMapping(
            columns=plan.mapping.columns,
            categories=categories,
            date_format=plan.mapping.date_format,
        ),
        area=plan.area,
        settings=plan.settings,
        key=plan.key,
        batch_id=plan.batch_id,
        actor=plan.actor,
        report=ImportReport(
            kind="incidents",
            source=plan.source,
            file_name=plan.report.file_name,
            file_format=file.described,
            file_sha256=file.sha256,
        ),
    )


def _default_source(file: SourceFile, kind: str) -> str:
    if file.format == "police.uk":
        return "police.uk"
    if file.format == "geojson" and "osm_tag" in file.columns:
        return "OpenStreetMap"
    return {
        "incidents": "police",
        "referrals": "social care",
        "places": "place register",
        "context": "police.uk",
    }[kind]


def _among(connection: Connection, column: Any, part: list[str]) -> Any:
    """Return the condition ``column`` is one of ``part``, as cheap to plan as possible.

    On PostgreSQL one array parameter (``= ANY(:values)``): an ``IN`` list of thousands
    of parameters is planned once per partition of ``incidents`` (0009_partitions: 161),
    which took tens of seconds per slice; the array is planned once.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY
        from sqlalchemy.types import String

        return column == any_(bindparam("values", part, type_=ARRAY(String)))
    return column.in_(part)


def _existing(connection: Connection, column: Any, values: Iterable[str]) -> set[str]:
    """Return which values are already stored in a unique column (asked in slices)."""
    values = list(values)
    found: set[str] = set()
    probe = connection.dialect.name == "postgresql" and column is IncidentRef.source_ref
    if probe:
        # The planner judges 5,000 index probes dearer than reading a table of a million
        # references (wrongly: 0.4 s a slice, 200 slices a million rows); keep to the index.
        before = connection.scalar(text("SELECT current_setting('enable_seqscan')"))
        connection.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    for start in range(0, len(values), 5_000):
        part = values[start : start + 5_000]
        found.update(connection.scalars(select(column).where(_among(connection, column, part))))
    if probe:
        connection.execute(
            text("SELECT set_config('enable_seqscan', :before, true)"), {"before": before}
        )
    return found


class _NothingStoredError(Exception):
    """Raised inside the transaction to roll it back when no row was accepted."""


def import_file(
    engine: Engine,
    path: Path | str | SourceFile,
    *,
    kind: str,
    viewer: Viewer,
    source: str | None = None,
    mapping: ColumnMapping | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    settings: ImportSettings | None = None,
    remember_mapping: bool = True,
    confirm_mapping: bool = False,
) -> ImportReport:
    """Import a file of incidents, referrals or places, anonymised, in one transaction.

    Parameters
    ----------
    engine
        The database, with its districts (the area) stored.
    path
        CSV, XLSX, GeoJSON or GeoPackage; the police.uk street CSV is recognised. Or the
        file as :func:`inspect_file` found it (its ``source``), not hashed and read again.
    kind
        ``"incidents"``, ``"referrals"`` or ``"places"``.
    viewer
        Who imports; only an administrator (data officer) may.
    source
        The source's name (the mapping is remembered under it); by default
        ``police.uk`` for police.uk files, else ``police``, ``social care`` or
        ``place register``.
    mapping
        Column and category mapping beyond what is recognised; merged over the
        mapping remembered for the source, and remembered in turn.
    file_name
        The name to record (the uploaded file's name, when ``path`` is a copy).
    progress
        Called with the share done and a line of text.
    max_bytes
        Refuse larger files (the page's upload limit).
    settings
        Anonymisation settings; those stored in the database by default.
    remember_mapping
        Save the merged mapping for the source when the batch is stored.
    confirm_mapping
        The person importing has seen and confirmed that some of police.uk's
        crime types are mapped to an exploitation type (see
        :func:`mapping_table`); without it such an import is refused.

    A police.uk street-level file is public crime of all ages: its rows are
    stored as context events with their own 14 crime types (``kind`` may be
    ``"context"`` or ``"incidents"``), never as exploitation. Only crime types
    the partnership maps deliberately to an exploitation code, confirmed, are
    stored as incidents as well; the mapping is recorded on the batch.

    Returns
    -------
    ImportReport
        ``stored`` is True when a batch was stored. When no row could be
        accepted, or the same file was imported before with the same mapping,
        nothing is stored and the report says why.

    Raises
    ------
    AccessDenied
        When the viewer is not an administrator.
    ImportFileError
        When the file cannot be read or used at all, or the import failed
        part-way; nothing was changed.
    """
    viewer.require(viewer.is_admin, "import data")
    if kind not in _TABLES:
        raise ImportFileError(
            f"'{kind}' cannot be imported: use incidents, referrals, places or context."
        )
    file = path if isinstance(path, SourceFile) else open_source(path, max_bytes=max_bytes)
    kind = stored_kind(file, kind)
    shown_name = file_name or file.name
    name = (source or _default_source(file, kind)).strip()[:120]
    actor = viewer.username
    report = ImportReport(
        kind=kind,
        source=name,
        file_name=shown_name,
        file_format=file.described,
        file_sha256=file.sha256,
        encoding=file.encoding,
        delimiter=file.delimiter,
    )
    table: Any = _TABLES[kind]
    unique = table.place_key if kind == "places" else table.source_ref

    def tell(share: float, text: str) -> None:
        if progress is not None:
            progress(min(max(share, 0.0), 1.0), text)

    tell(0.0, f"Reading {shown_name} ({file.described})")
    read_share = [0.0]
    try:
        with (
            engine.connect() as connection,
            bulk_cache(connection),  # SQLite: outside the transaction, shrunk after the commit
            connection.begin(),
            _Copier() as copier,
        ):
            merged = saved_mapping(connection, kind, name).merged(mapping or ColumnMapping())
            exploit = exploitation_mapping(merged) if kind == "context" else {}
            if exploit and not confirm_mapping:
                raise ImportFileError(_unconfirmed(exploit, shown_name))
            report.exploitation_mapping = exploit
            settings = settings or load_settings(connection)
            area = load_area(connection)
            if area.empty:
                raise ImportFileError(
                    "No districts are set up in this database, so no row could be placed in the "
                    "area. Import the district boundaries first (Data page, or "
                    "'safer-spaces boundaries')."
                )
            file_hash = hashlib.sha256(
                f"{file.sha256}|{kind}|{name}|{merged.fingerprint()}|{settings.describe()}".encode()
            ).hexdigest()
            earlier = connection.execute(
                select(ImportBatch.id, ImportBatch.created_at).where(
                    ImportBatch.kind == kind, ImportBatch.file_hash == file_hash
                )
            ).first()
            if earlier is not None:
                report.message = (
                    f"{shown_name} was already imported as batch {earlier.id} "
                    f"on {earlier.created_at:%d %B %Y} with the same mapping: nothing was added. "
                    "Roll that batch back first to import it again."
                )
                report.batch_id = earlier.id
                return report

            chunks = iter_chunks(
                file,
                chunk_size=settings.chunk_size,
                progress=lambda share: read_share.__setitem__(0, share),
            )
            plan: Plan | None = None
            mapped_plan: Plan | None = None
            deferred = None
            for chunk in chunks:
                if plan is None:
                    used, identifiers, unused = _plan_columns(file, kind, merged, chunk.frame)
                    missing = missing_fields(kind, used)
                    if missing:
                        raise ImportFileError(
                            f"{shown_name} has no column for {' or '.join(missing)}. Columns "
                            f"found: {', '.join(file.columns)}. Map them in the page's mapping "
                            "step or with a mapping file (--mapping)."
                        )
                    key, key_from = pseudonym_key(connection)
                    linkable = sorted(
                        {"source_ref", "child_id", "person_of_concern"} & set(used.values())
                    )
                    if kind != "places" and linkable and key is None:
                        raise ImportFileError(
                            f"{shown_name} holds references that link records "
                            f"({', '.join(c for c, f in used.items() if f in linkable)}), which "
                            "are stored only as keyed pseudonyms, and no pseudonym key is set. "
                            f"Set {KEY_VARIABLE} or pseudonym_key in .streamlit/secrets.toml "
                            "(a long random secret kept outside the database), or map those "
                            "columns to 'ignore'."
                        )
                    if key is not None and linkable and "demo" in key_from:
                        report.note(f"pseudonyms made with {key_from}", 1)
                    if kind in _LOADED_WITH and not exploit:
                        # before this import writes anything: another first load waiting
                        # for the lock then holds nothing this one's keys need (a deadlock)
                        deferred = defer_indexes(connection, _LOADED_WITH[kind])
                    batch_id = connection.execute(
                        insert(ImportBatch).values(
                            kind=kind,
                            source=name,
                            file_name=shown_name[:255],
                            file_hash=file_hash,
                            report={},
                            created_by=actor,
                            updated_by=actor,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]  # an insert has one
                    report.batch_id = batch_id
                    report.columns_used = {c: f for c, f in used.items() if f in FIELDS[kind]}
                    report.identifiers_dropped = identifiers
                    report.columns_not_used = unused
                    plan = Plan(
                        kind=kind,
                        source=name,
                        agency=agency_of(name, kind),
                        used=used,
                        mapping=merged,
                        area=area,
                        settings=settings,
                        key=key,
                        batch_id=batch_id,
                        actor=actor,
                        report=report,
                        place_index=None if kind == "places" else load_place_index(connection),
                    )
                    plan.first_load = deferred is not None
                    if exploit:
                        mapped_plan = _mapped_plan(plan, exploit, file)
                if len(chunk.skipped):
                    report.rows_total += len(chunk.skipped)
                    report.rejected += len(chunk.skipped)
                    report.add_issues(chunk.skipped)
                if plan.key is not None and key_from == DEMO_KEY_FROM:
                    copier.wait()
                    demo_references_only(
                        connection,
                        chunk.frame,
                        [c for c, f in plan.used.items() if f in ("source_ref", "child_id")],
                        shown_name,
                    )
                stored = prepare_chunk(chunk.frame, plan)
                _store(connection, table, unique, stored, plan, copier)
                if mapped_plan is not None:  # the deliberately mapped types, as incidents too
                    also = prepare_chunk(chunk.frame, mapped_plan)
                    _store(connection, Incident, Incident.source_ref, also, mapped_plan, copier)
                tell(
                    read_share[0] * 0.98,
                    f"{report.rows_total:,} rows read, {report.accepted:,} accepted",
                )
            copier.wait()
            if plan is None or report.rows_total == 0:
                raise ImportFileError(
                    f"{shown_name} has a header but no rows: there is nothing to import."
                )
            if report.accepted == 0:
                raise _NothingStoredError
            tell(0.98, f"Indexing {report.accepted:,} rows")
            rebuild_indexes(connection, deferred)
            if mapped_plan is not None:
                report.mapped_incidents = mapped_plan.report.accepted
            connection.execute(
                update(ImportBatch)
                .where(ImportBatch.id == plan.batch_id)
                .values(
                    rows_total=report.rows_total,
                    rows_accepted=report.accepted,
                    rows_rejected=report.rejected,
                    rows_duplicate=report.duplicate,
                    rows_outside_area=report.outside_area,
                    report=report.to_json(),
                )
            )
            if remember_mapping and (merged.columns or merged.categories or merged.date_format):
                store_mapping(connection, kind, name, merged, actor=actor)
            with Session(bind=connection) as session:
                record(
                    session,
                    actor=actor,
                    action=f"import {kind}",
                    entity="import_batches",
                    entity_id=plan.batch_id,
                    detail={"file": shown_name, "source": name, **report.counts()},
                )
                session.flush()
            report.stored = True
    except _NothingStoredError:
        report.stored = False
        report.batch_id = None
    except IntegrityError as error:
        raise ImportFileError(
            f"{shown_name} could not be stored: another import stored some of the same rows at "
            "the same time. Nothing was changed; run the import again."
        ) from error
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ImportFileError(
            f"{shown_name} could not be stored ({reason}). Nothing was changed."
        ) from error
    tell(1.0, report.summary())
    return report


def _store(
    connection: Connection, table: Any, unique: Any, stored: Any, plan: Plan, copier: _Copier
) -> None:
    """Insert a prepared chunk, leaving out rows whose reference is already stored.

    Every row left out is listed in the report, row by row, with the reason: a
    reference repeated inside this file (naming the row kept), or one stored
    by an earlier import.
    """
    report = plan.report
    if not len(stored):
        return
    refs = stored[unique.key]
    values = refs.tolist()
    as_array = np.array(values, dtype=object)
    rows = stored[ROW_COLUMN].to_numpy(dtype=np.int64)
    first = ~refs.duplicated().to_numpy()
    seen = plan.refs_seen
    # the rows kept by earlier chunks of this file: plain dictionary look-ups, as Series.map
    # would first make an index of every reference seen so far (issue 21: 8 s a million)
    kept_at = [seen.get(ref) for ref in values]
    in_file = np.array(kept_at, dtype=object)
    earlier_chunk = np.array([row is not None for row in kept_at], dtype=bool)
    # incidents: the unpartitioned incident_refs (0012_stored_refs), one probe per reference
    lookup = IncidentRef.source_ref if table is Incident else unique
    if plan.first_load:  # nothing was stored before, and this import holds the table's lock
        existing: set[str] = set()
    else:
        copier.wait()
        existing = _existing(connection, lookup, as_array[first & ~earlier_chunk].tolist())
    stored_before = refs.isin(existing).to_numpy() & ~earlier_chunk
    new = first & ~earlier_chunk & ~stored_before
    seen.update(zip(as_array[new].tolist(), rows[new].tolist(), strict=True))
    repeated = ~new & ~stored_before
    if repeated.any():
        first_row = pd.Series(rows[first], index=refs[first].to_numpy())
        kept = np.where(
            earlier_chunk[repeated],
            in_file[repeated],
            first_row.reindex(refs[repeated].to_numpy()).to_numpy(),
        )
        what = first_source(plan, "source_ref") if plan.kind != "places" else "reference"
        reasons = np.array(
            [
                f"repeats the {what} of row {int(k)} in this file; only row {int(k)} is kept"
                for k in kept
            ],
            dtype=object,
        )
        report.add_issues(
            pd.DataFrame(
                {
                    "row": rows[repeated],
                    "status": "repeated in the file",
                    "column": what,
                    "reason": reasons,
                    "value": "",
                }
            )
        )
    if stored_before.any():
        report.add_issues(
            pd.DataFrame(
                {
                    "row": rows[stored_before],
                    "status": "already stored",
                    "column": "",
                    "reason": "the same record was stored by an earlier import",
                    "value": "",
                }
            )
        )
    report.duplicate += int(len(stored) - new.sum())
    fresh = stored.loc[new]
    copied = _copy_frame(connection, table, fresh, plan, copier) if len(fresh) else None
    if copied is not None:
        if len(copied):  # the links once the rows they point at are stored
            copier.wait()
            _store_links(connection, table, fresh[unique.key], plan, ids=copied)
    elif len(fresh):
        copier.wait()
        dialect = connection.dialect.name
        columns = columns_for_insert(fresh, plan, dialect=dialect)
        if table is not Place:  # incidents and referrals: a random key each (services.disclosure)
            columns["record_key"] = new_record_keys(len(fresh)).tolist()
        names = list(columns)
        values = zip(*columns.values(), strict=True)
        if dialect == "sqlite":  # the driver's own executemany: no per-row SQLAlchemy work
            sql = (
                f"INSERT INTO {table.__tablename__} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))})"
            )
            connection.exec_driver_sql(sql, list(values))
        elif _copy_rows(connection, table.__tablename__, names, values):
            pass  # PostgreSQL through psycopg: COPY, in this same transaction (issue 21)
        else:
            connection.execute(insert(table), [dict(zip(names, r, strict=True)) for r in values])
        _store_links(connection, table, fresh[unique.key], plan)
    plan.pending_links.clear()
    report.accepted += int(new.sum())


def _arrow_columns(fresh: pd.DataFrame, table: Any, plan: Plan) -> Any:
    """Return the rows to store as a pyarrow table, column by column from numpy (no per-row work).

    The same columns and values as :func:`columns_for_insert` gives PostgreSQL: dates as
    dates, ``place_id`` -1 as NULL, NaN and None as NULL, then the batch, the times and
    who, and for incidents and referrals a random ``record_key`` each.
    """
    import pyarrow as pa

    size = len(fresh)
    arrays: dict[str, Any] = {}
    for name in fresh.columns:
        if name == ROW_COLUMN:
            continue
        values = fresh[name].to_numpy()
        if name in ("occurred_on", "month"):
            arrays[name] = pa.array(np.asarray(values, dtype="datetime64[D]"))
        elif name == "place_id":
            ids = np.asarray(values, dtype=np.int64)
            arrays[name] = pa.array(ids, mask=ids < 0)
        else:
            arrays[name] = pa.array(values, from_pandas=True)
    arrays["import_batch_id"] = pa.repeat(pa.scalar(plan.batch_id, pa.int64()), size)
    # the time as text, once: pyarrow writes a timestamp column at about 3 s a million rows
    stamped = pa.repeat(pa.scalar(plan.now.isoformat()), size)
    for name in ("created_at", "updated_at"):
        arrays[name] = stamped
    for name in ("created_by", "updated_by"):
        arrays[name] = pa.repeat(pa.scalar(plan.actor), size)
    if table is not Place:  # incidents and referrals: a random key each (services.disclosure)
        arrays["record_key"] = pa.array(np.asarray(new_record_keys(size), dtype=np.int64))
    return pa.table(arrays)


class _Copier:
    """Sends each chunk's ``COPY`` on a worker thread while the next chunk is read and prepared.

    Issue 21: PostgreSQL storing a chunk and Python preparing the next one each took about
    half of an import's time, one after the other; on two cores they can overlap. Only
    the copy's bytes are sent on the thread: everything else that uses the connection
    calls :meth:`wait` first, which also raises the copy's error, if any.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def send(self, raw: Any, sql: str, payload: Any) -> None:
        """Start copying ``payload`` (bytes of CSV) with ``sql`` on the raw psycopg connection."""
        self.wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy")
        self._pending = self._pool.submit(_copy_bytes, raw, sql, payload)

    def wait(self) -> None:
        """Wait for the copy under way, raising its error as SQLAlchemy's."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Copier:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # wait; the error already raised is the one told
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _copy_bytes(raw: Any, sql: str, payload: Any) -> None:
    import psycopg

    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(payload)
    except psycopg.errors.IntegrityError as error:
        raise IntegrityError(sql, None, error) from error
    except psycopg.Error as error:
        raise DBAPIError(sql, None, error) from error


def _copy_frame(
    connection: Connection, table: Any, fresh: pd.DataFrame, plan: Plan, copier: _Copier
) -> pd.Series | None:
    """Store a prepared chunk with one ``COPY ... FROM STDIN (FORMAT csv)`` written by pyarrow.

    PostgreSQL through psycopg only (None otherwise, and for a chunk pyarrow cannot type,
    which then goes row by row through :func:`_copy_rows`). Text is quoted and NULL is an
    empty unquoted field, so an empty string stays empty; the copy runs on the import's
    own transaction, sent by ``copier`` while the next chunk is prepared. Issue 21:
    building a row at a time was most of the import's CPU.

    Returns
    -------
    pandas.Series or None
        The rows' ids by the rows' index when the chunk has place links to store (taken
        from the table's sequence before the copy, so the links need no look-up by
        reference, which a first load without indexes would answer by reading the whole
        table); otherwise empty, as the table gives each row its id.
    """
    if connection.dialect.name != "postgresql":
        return None
    try:
        import psycopg
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:  # pragma: no cover - both are the app's dependencies
        return None
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        return None
    if "occurred_on" in fresh and "district_code" in fresh:
        # In the order of the partitions (year, then district) and of the date indexes:
        # each leaf and index page is then filled in turn instead of one row at a time
        # at random (issue 21: a chunk of 100,000 incidents copied in 6.2 s instead of 10.7).
        fresh = fresh.sort_values(["occurred_on", "district_code"], kind="stable")
    try:
        arrow = _arrow_columns(fresh, table, plan)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    ids = pd.Series([], dtype=np.int64)
    if plan.pending_links and table in (Incident, Referral):
        copier.wait()
        name = table.__tablename__
        ids = pd.Series(
            connection.scalars(
                text(
                    f"SELECT nextval(pg_get_serial_sequence('{name}', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(fresh)},
            ).all(),
            index=fresh.index,
            dtype=np.int64,
        )
        arrow = arrow.append_column("id", pa.array(ids.to_numpy(), pa.int64()))
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(arrow, sink, pa_csv.WriteOptions(include_header=False))
    sql = (
        f"COPY {table.__tablename__} ({', '.join(arrow.column_names)}) FROM STDIN WITH (FORMAT csv)"
    )
    copier.send(raw, sql, memoryview(sink.getvalue()))
    return ids


def _copy_rows(connection: Connection, table: str, names: list[str], rows: Any) -> bool:
    """Write rows with PostgreSQL's ``COPY ... FROM STDIN``; False when the driver is not psycopg.

    The copy runs on the connection's own transaction, so a later failure still rolls
    back everything the import wrote. A database error is raised as SQLAlchemy's
    (``IntegrityError`` for a broken constraint), as an ``INSERT`` would raise it.
    """
    raw = connection.connection.driver_connection
    if connection.dialect.name != "postgresql" or not hasattr(raw, "cursor"):
        return False
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is the app's PostgreSQL driver
        return False
    if not isinstance(raw, psycopg.Connection):
        return False
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.IntegrityError as error:
        raise IntegrityError(sql, None, error) from error
    except psycopg.Error as error:
        raise DBAPIError(sql, None, error) from error
    return True


def _store_links(
    connection: Connection, table: Any, refs: Any, plan: Plan, *, ids: pd.Series | None = None
) -> None:
    """Insert the place links of the records just stored (issue 19), by their reference.

    ``ids`` are the stored rows' ids by the index of ``refs`` when known (the copy
    gave them); otherwise they are looked up by reference.
    """
    if not plan.pending_links or table not in (Incident, Referral):
        return
    links = pd.concat(plan.pending_links, ignore_index=True)
    links = links.loc[links["source_ref"].isin(set(refs.tolist()))]
    if links.empty:
        return
    if ids is not None:
        _insert_links(
            connection, table, links, dict(zip(refs, ids.reindex(refs.index), strict=True)), plan
        )
        return
    found: dict[str, int] = {}
    wanted = links["source_ref"].unique().tolist()
    for start in range(0, len(wanted), 5_000):
        part = wanted[start : start + 5_000]
        query = select(table.source_ref, table.id).where(_among(connection, table.source_ref, part))
        found.update((row[0], row[1]) for row in connection.execute(query))
    _insert_links(connection, table, links, found, plan)


def _insert_links(
    connection: Connection, table: Any, links: pd.DataFrame, ids: dict[str, int], plan: Plan
) -> None:
    column = "referral_id" if table is Referral else "incident_id"
    now = plan.now
    rows = [
        {
            column: ids[ref],
            "place_id": int(place),
            "relation": relation,
            "import_batch_id": plan.batch_id,
            "created_at": now,
            "updated_at": now,
            "created_by": plan.actor,
            "updated_by": plan.actor,
        }
        for ref, place, relation in links.itertuples(index=False)
    ]
    connection.execute(insert(PlaceLink), rows)


def rollback_batch(engine: Engine, batch_id: int, viewer: Viewer) -> dict[str, int]:
    """Remove everything one import stored, and the batch itself, in one transaction.

    Parameters
    ----------
    engine
        The database.
    batch_id
        The batch to remove.
    viewer
        Who asks; only an administrator may.

    Returns
    -------
    dict
        How many ``incidents``, ``referrals`` and ``places`` were removed.

    Raises
    ------
    AccessDenied
        When the viewer is not an administrator.
    ImportFileError
        When the batch does not exist, or places it added have assessments.
    """
    viewer.require(viewer.is_admin, "roll back an import")
    with engine.begin() as connection:
        batch = connection.execute(select(ImportBatch).where(ImportBatch.id == batch_id)).first()
        if batch is None:
            raise ImportFileError(f"There is no import batch {batch_id} (was it rolled back?).")
        places = select(Place.id).where(Place.import_batch_id == batch_id)
        assessed = connection.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.place_id.in_(places))
        )
        if assessed:
            raise ImportFileError(
                f"Batch {batch_id} added places that now have {assessed} assessment(s); it "
                "cannot be rolled back without losing them. Mark those places inactive instead."
            )
        removed: dict[str, int] = {}
        connection.execute(
            delete(PlaceLink).where(
                (PlaceLink.import_batch_id == batch_id) | PlaceLink.place_id.in_(places)
            )
        )
        for linked in (Incident, Referral):
            connection.execute(
                update(linked).where(linked.place_id.in_(places)).values(place_id=None)
            )
        stored: tuple[tuple[str, Any], ...] = (
            ("incidents", Incident),
            ("referrals", Referral),
            ("context", ContextEvent),
            ("places", Place),
        )
        for name, model in stored:
            result = connection.execute(delete(model).where(model.import_batch_id == batch_id))
            removed[name] = int(result.rowcount or 0)
        connection.execute(delete(ImportBatch).where(ImportBatch.id == batch_id))
        with Session(bind=connection) as session:
            record(
                session,
                actor=viewer.username,
                action="roll back import",
                entity="import_batches",
                entity_id=batch_id,
                detail={
                    "file": batch.file_name,
                    "kind": batch.kind,
                    "source": batch.source,
                    "file_hash": batch.file_hash,
                    **removed,
                },
            )
            session.flush()
    return removed
