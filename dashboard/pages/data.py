"""Data: boundaries, imports and the demo, for the data officer."""

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, loaders, uploads
from dashboard.downloads import audited_download
from dashboard.organisations_admin import organisations_admin
from dashboard.session import current_viewer
from geo.boundaries import BoundaryError, read_boundary_file
from services.access import ROLES, AccessDenied
from services.boundaries import BoundaryStoreError, import_boundaries
from services.imports import (
    ColumnMapping,
    ImportFileError,
    import_file,
    inspect_file,
    rollback_batch,
)
from services.imports.batch import missing_fields
from services.imports.columns import FIELDS, IGNORE, category_codes, exploitation_mapping
from services.imports.report import report_path
from services.safe_text import csv_bytes, csv_text, md_text
from services.users import UserError, audit_log, create_user, list_users, update_user
from store.vocabulary import EXPLOITATION_TYPES, context_label, label

#: The largest file the page takes; bigger ones go through ``safer-spaces import``.
UPLOAD_LIMIT = 200 * 2**20
KIND_LABELS = {
    "incidents": "Incidents",
    "referrals": "Referrals",
    "places": "Places",
    "context": "Context: public crime, all ages (police.uk)",
}


def _advance(bar: Any, share: float, text: str) -> None:
    """Move an import's progress bar (the import's progress callback returns nothing)."""
    bar.progress(share, text=text)


def _upload_path(upload) -> Path:
    """Return a private copy of the uploaded file for this run (removed in its ``finally``)."""
    return uploads.write_copy(upload)


#: What the page's category table offers for a police.uk crime type.
CONTEXT_ONLY = "context only"


def _context_categories(plan: dict) -> tuple[dict[str, str], bool]:
    """Show what each crime type becomes; return a deliberate mapping and whether it is confirmed.

    police.uk crime is of all ages: every type is stored as context. A type
    becomes an exploitation incident as well only when chosen here, and the
    import waits for the confirm box.
    """
    table = plan["category_table"]
    label = context_label(plan["source_name"])
    st.markdown(
        f"**What each crime type becomes.** Every row is stored as *{label}*: public crime "
        "of all ages, shown as context and never counted as child exploitation. Only if the "
        "partnership has decided so, map a type to an exploitation type as well."
    )
    chosen = plan["exploitation_mapping"]
    shown = table.assign(
        **{"also as exploitation": [chosen.get(v, CONTEXT_ONLY) for v in table["value"]]}
    )
    edited = st.data_editor(
        shown,
        hide_index=True,
        width="stretch",
        disabled=["value", "rows", "becomes"],
        column_config={
            "rows": st.column_config.NumberColumn(format="%d"),
            "also as exploitation": st.column_config.SelectboxColumn(
                options=[CONTEXT_ONLY, *EXPLOITATION_TYPES], required=True
            ),
        },
        key=f"import_context_{plan['source_name']}",
    )
    # "context only" is written as the type itself, so it also replaces a remembered mapping
    everything = {
        str(value): str(code) if code in EXPLOITATION_TYPES else str(value)
        for value, code in zip(edited["value"], edited["also as exploitation"], strict=True)
    }
    mapping = {k: v for k, v in everything.items() if v in EXPLOITATION_TYPES}
    if not mapping:
        return everything, True
    pairs = "; ".join(f"{k} ({int(table.set_index('value').loc[k, 'rows']):,} rows) -> "
                      f"{EXPLOITATION_TYPES[v]}" for k, v in mapping.items())  # fmt: skip
    st.warning(
        f"These crime types will ALSO be stored as exploitation incidents: {pairs}. police.uk "
        "crime is of all ages and says nothing about children.",
        icon=":material/warning:",
    )
    confirmed = st.checkbox(
        "The partnership has decided to count these types as exploitation; record this "
        "mapping on the batch",
        key=f"import_confirm_{plan['source_name']}",
    )
    return everything, confirmed


def _category_table(plan: dict) -> None:
    table = plan["category_table"]
    if len(table):
        st.markdown("**What each category becomes** (every row of the file)")
        st.dataframe(table, hide_index=True, width="stretch", key="import_category_table")


def _mapping_step(plan: dict, kind: str) -> ColumnMapping:
    """Show each column and what it maps to; return the mapping chosen."""
    source = plan["source"]
    identifying = {i["column"]: i for i in plan["identifiers"]}
    choices = [IGNORE, *FIELDS[kind]]
    rows = pd.DataFrame(
        {
            "column": list(source.columns),
            "maps to": [plan["used"].get(c, IGNORE) for c in source.columns],
            "note": [
                f"{identifying[c]['holds']} ({identifying[c]['found by']}): "
                f"{identifying[c]['handling']}"
                if c in identifying
                else ""
                for c in source.columns
            ],
        }
    )
    st.markdown(
        "**Columns.** Recognised headers are filled in; map the rest, or leave them on "
        "*ignore*. Identifiers are dropped whatever you choose."
    )
    edited = st.data_editor(
        rows,
        hide_index=True,
        width="stretch",
        disabled=["column", "note"],
        column_config={"maps to": st.column_config.SelectboxColumn(options=choices, required=True)},
        key=f"import_columns_{kind}_{plan['source_name']}",
    )
    categories: dict[str, str] = {}
    if kind == "context":
        pass  # the crime types are shown by _context_categories
    elif plan["categories"]:
        st.markdown(
            "**Categories** in the first rows that are not known yet: map them, or they "
            "will be rejected."
        )
        codes = [IGNORE, *category_codes(kind)]
        cats = st.data_editor(
            pd.DataFrame({"value": plan["categories"], "maps to": None}),
            hide_index=True,
            width="stretch",
            disabled=["value"],
            column_config={"maps to": st.column_config.SelectboxColumn(options=codes)},
            key=f"import_categories_{kind}_{plan['source_name']}",
        )
        categories = {r.value: r._2 for r in cats.itertuples() if isinstance(r._2, str) and r._2}
    columns = {r.column: r._2 for r in edited.itertuples()}
    return ColumnMapping(columns=columns, categories=categories)


def _show_report(report, viewer) -> None:
    (st.success if report.stored else st.warning)(md_text(report.summary()))
    counts = report.counts()
    shown = ["accepted", "rejected", "already stored", "outside the area", "ignored"]
    for cell, name in zip(st.columns(len(shown)), shown, strict=True):
        cell.metric(name.capitalize(), f"{counts[name]:,}")
    if report.identifiers_dropped:
        st.markdown("**Identifiers dropped** (nothing from them was stored)")
        st.dataframe(pd.DataFrame(report.identifiers_dropped), hide_index=True, width="stretch")
    if report.notes:
        st.markdown("**Notes**")
        st.dataframe(
            pd.DataFrame(list(report.notes.items()), columns=["note", "rows"]),
            hide_index=True,
            width="stretch",
        )
    written = st.session_state.get("import_report_path")
    if written:
        st.caption(f"The report of every row set aside is in {written}")
    if len(report.issues):
        st.markdown("**Rows set aside, and why**")
        st.dataframe(report.issues.head(1000), hide_index=True, key="import_issues")
        audited_download(
            "Download the rows set aside (CSV)",
            lambda: csv_bytes(report.issues),
            engine=loaders.engine(),
            viewer=viewer,
            entity="import report",
            file_name=f"{Path(report.file_name).stem}.report.csv",
            mime="text/csv",
            key="import_report_csv",
            detail={"rows": len(report.issues), "format": "csv"},
            origin=auth.origin(),
        )


def _save_report(report) -> str | None:
    """Write the rows set aside into the working folder; return the path (None if none)."""
    if not len(report.issues):
        return None
    path = report_path(Path(report.file_name), None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(csv_text(report.issues), encoding="utf-8")
    except OSError:
        return None
    return str(path.resolve())


def imports_tab(viewer, version: str) -> None:
    engine = loaders.engine()
    if not viewer.is_admin:
        st.info(
            f"Only a data officer (administrator) can import data; you are signed in as "
            f"{ROLES[viewer.role].lower()}. The imports so far are listed below.",
            icon=":material/lock:",
        )
    else:
        kind = st.radio(
            "The file holds",
            list(KIND_LABELS),
            horizontal=True,
            format_func=partial(label, KIND_LABELS),
            key="import_kind",
        )
        round_ = st.session_state.setdefault("import_round", 0)
        upload = st.file_uploader(
            "File: CSV, Excel (.xlsx), GeoJSON or GeoPackage, up to 200 MB (larger files: "
            "safer-spaces import on the command line)",
            type=["csv", "txt", "xlsx", "geojson", "json", "gpkg"],
            key=f"import_file_{round_}",
        )
        if upload is not None:
            source = st.text_input(
                "Source (its column mapping is remembered under this name)",
                key=f"import_source_{round_}",
                placeholder="for example: Staffordshire Police, LCS referrals, police.uk",
            )
            path = _upload_path(upload)
            try:
                plan = inspect_file(
                    engine, path, kind=kind, source=source.strip() or None, max_bytes=UPLOAD_LIMIT
                )
            except ImportFileError as error:
                st.error(md_text(error), icon=":material/error:")
            else:
                file = plan["source"]
                st.caption(
                    md_text(
                        f"{file.described}"
                        + (f", {file.encoding}" if file.encoding else "")
                        + (f", delimited by {file.delimiter!r}" if file.delimiter else "")
                        + f"; source: {plan['source_name']}"
                    )
                )
                stored_as = plan["kind"]
                mapping = _mapping_step(plan, stored_as)
                confirmed = True
                if stored_as == "context":
                    chosen, confirmed = _context_categories(plan)
                    mapping = ColumnMapping(columns=mapping.columns, categories=chosen)
                else:
                    _category_table(plan)
                missing = missing_fields(
                    stored_as, {c: f for c, f in mapping.columns.items() if f != IGNORE}
                )
                if missing:
                    st.warning("Still needed: a column for " + ", or ".join(missing) + ".")
                if not confirmed:
                    st.info("Confirm the mapping above to import.", icon=":material/lock:")
                if st.button(
                    "Import", type="primary", key=f"import_go_{round_}", disabled=not confirmed
                ):
                    bar = st.progress(0.0, text="Starting...")
                    try:
                        report = import_file(
                            engine,
                            file,  # as inspect_file opened it in this run: size, hash, reader
                            kind=kind,
                            viewer=viewer,
                            source=plan["source_name"],
                            mapping=mapping,
                            file_name=upload.name,
                            progress=lambda share, text: _advance(bar, share, text),
                            confirm_mapping=bool(exploitation_mapping(mapping)) and confirmed,
                        )
                    except (ImportFileError, AccessDenied) as error:
                        st.error(md_text(error), icon=":material/error:")
                    else:
                        st.session_state["import_report"] = report
                        st.session_state["import_report_path"] = _save_report(report)
                        st.session_state["import_round"] = round_ + 1
                        loaders.data_version.clear()
                        loaders.import_batches.clear()
            finally:  # the copy never outlives this run, whatever happened above
                path.unlink(missing_ok=True)
        shown_report = st.session_state.get("import_report")
        if shown_report is not None:
            _show_report(shown_report, viewer)

    st.subheader("Imports so far")
    batches = loaders.import_batches(version)
    if batches.empty:
        st.info("Nothing has been imported yet. The data here were built by the demo.")
        return
    st.dataframe(batches, hide_index=True, width="stretch", key="import_batches")
    if viewer.is_admin:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox(
            "Batch to roll back (removes every row it added)",
            batches["id"].tolist(),
            format_func=lambda i: f"{i}: " + str(batches.set_index("id").loc[i, "file_name"]),
            key="import_rollback_id",
        )
        if right.button("Roll back", key="import_rollback", type="secondary"):
            try:
                removed = rollback_batch(engine, int(chosen), viewer)
            except (ImportFileError, AccessDenied) as error:
                st.error(md_text(error), icon=":material/error:")
            else:
                loaders.data_version.clear()
                loaders.import_batches.clear()
                st.session_state.pop("import_report", None)
                st.success(
                    f"Rolled back batch {chosen}: removed {removed['incidents']:,} incidents, "
                    f"{removed['referrals']:,} referrals and {removed['places']:,} places."
                )


version = loaders.data_version()

st.title("Data")
viewer = current_viewer()
if viewer.role not in ("lead", "admin"):
    st.error("The Data page is for data officers and safeguarding leads.", icon=":material/block:")
    st.stop()
boundaries, imports, *admin_tabs = st.tabs(
    [
        "Boundaries",
        "Imports",
        *(["Users", "Organisations", "Audit log", "Settings"] if viewer.is_admin else []),
    ]
)

with boundaries:
    districts = loaders.districts(version)
    st.subheader("Districts")
    st.dataframe(
        districts.drop(columns="geometry"),
        hide_index=True,
        width="stretch",
        column_config={"code": "ONS code", "name": "Name", "source": "Source"},
    )
    if districts["source"].str.startswith("approximate").any():
        st.info(
            "Some outlines are **approximate**: built from postcode centroids in the ONS "
            "Postcode Directory. Import the official ONS boundary file to replace them."
        )
    wards = loaders.wards(version)
    st.caption(f"{len(wards)} wards stored." if len(wards) else "No ward boundaries stored yet.")

if viewer.is_admin:
    with boundaries:
        st.subheader("Import official boundaries")
        kind = st.radio(
            "These are",
            ["district", "ward"],
            horizontal=True,
            key="boundary_kind",
            format_func={"district": "Districts", "ward": "Wards"}.get,
        )
        upload = st.file_uploader(
            "Boundary file (GeoJSON, GeoPackage, or a zipped Shapefile; any coordinate system)",
            type=["geojson", "json", "gpkg", "zip"],
            key="boundary_file",
        )
        if upload is not None and st.button(
            "Import boundaries", key="boundary_import", type="primary"
        ):
            try:
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / Path(upload.name).name
                    path.write_bytes(upload.getvalue())
                    frame = read_boundary_file(path, kind=kind)  # type: ignore[arg-type]
                counts = import_boundaries(loaders.engine(), viewer, frame, kind=kind)
            except (BoundaryError, BoundaryStoreError) as error:
                st.error(md_text(error), icon=":material/error:")
            else:
                loaders.data_version.clear()
                st.success(
                    f"Imported {len(frame)} {kind} boundaries: {counts['added']} added, "
                    f"{counts['replaced']} replaced."
                )

with imports:
    imports_tab(viewer, version)

if admin_tabs:
    users_tab, organisations_tab, audit_tab, settings_tab = admin_tabs
    engine = loaders.engine()
    district_names = loaders.district_names(version)

    with users_tab:
        users = list_users(engine, viewer)
        until = users["locked_until"]
        locked = users.loc[until.notna() & (until > pd.Timestamp.now(tz="UTC"))]
        if not locked.empty:  # sign-in tells nobody that an account is locked; the admin is told
            st.warning(
                "Locked after too many wrong passwords: "
                + ", ".join(
                    f"{md_text(row.username)} (until {row.locked_until:%H:%M} UTC)"
                    for row in locked.itertuples()
                )
                + ". Tell them, and unlock them below if it was them.",
                icon=":material/lock:",
            )
        st.dataframe(users, hide_index=True, width="stretch", key="users_table")
        st.caption(
            "Leads and administrators see every district. Officers and steering group members "
            "see only the districts given here, and cannot sign in until they have some."
        )
        add, change = st.columns(2)
        with add.form("user_add", clear_on_submit=True):
            st.subheader("Add a user")
            username = st.text_input(
                "E-mail address", key="user_add_username", placeholder="name@council.gov.uk"
            )
            display_name = st.text_input("Name", key="user_add_name")
            organisation = st.text_input("Organisation", key="user_add_org")
            role = st.selectbox(
                "Role",
                list(ROLES),
                index=None,
                placeholder="Choose a role",
                format_func=partial(label, ROLES),
                key="user_add_role",
            )
            codes = st.multiselect(
                "Districts",
                list(district_names),
                format_func=partial(label, district_names),
                key="user_add_districts",
            )
            password = st.text_input(
                "Password for the local sign-in (empty for the organisation's sign-in)",
                type="password",
                key="user_add_password",
            )
            if st.form_submit_button("Add user", type="primary", key="user_add_submit"):
                try:
                    create_user(
                        engine,
                        viewer,
                        username=username,
                        display_name=display_name,
                        role=role,
                        districts=codes,
                        organisation=organisation,
                        password=password or None,
                        origin=auth.origin(),
                        from_form=True,
                    )
                except (UserError, AccessDenied) as error:
                    st.error(md_text(error), icon=":material/error:")
                else:
                    st.success(f"Added {md_text(username.strip().lower())}.")
        with change:
            st.subheader("Change a user")
            who = st.selectbox("User", users["username"], key="user_change_username")
            if who:
                row = users.set_index("username").loc[who]
                with st.form(f"user_change_{who}"):
                    new_role = st.selectbox(
                        "Role",
                        list(ROLES),
                        index=list(ROLES).index(row["role"]) if row["role"] in ROLES else None,
                        format_func=partial(label, ROLES),
                        key=f"user_change_role_{who}",
                    )
                    new_codes = st.multiselect(
                        "Districts",
                        list(district_names),
                        default=[c for c in row["districts"].split(", ") if c in district_names],
                        format_func=partial(label, district_names),
                        key=f"user_change_districts_{who}",
                    )
                    active = st.checkbox(
                        "Can sign in", value=bool(row["active"]), key=f"user_change_active_{who}"
                    )
                    unlock = st.checkbox(
                        "Unlock after wrong passwords",
                        disabled=pd.isna(row["locked_until"]),
                        key=f"user_change_unlock_{who}",
                    )
                    if st.form_submit_button("Save changes", type="primary"):
                        try:
                            update_user(
                                engine,
                                viewer,
                                who,
                                role=new_role,
                                districts=new_codes,
                                active=active,
                                unlock=unlock,
                                origin=auth.origin(),
                            )
                        except (UserError, AccessDenied) as error:
                            st.error(md_text(error), icon=":material/error:")
                        else:
                            st.success(f"Saved the changes to {md_text(who)}.")

    with organisations_tab:  # issue 23: the organisations that own actions
        organisations_admin(engine, viewer)

    with audit_tab:
        st.caption(
            "Every sign-in, sign-out, view of a place panel, export, import and change to "
            "assessments, actions and users. Entries cannot be changed or deleted."
        )
        left, right = st.columns(2)
        actor = left.text_input("By (username)", key="audit_actor").strip().lower()
        action = right.text_input("Action (e.g. sign in, export)", key="audit_action").strip()
        log = audit_log(engine, viewer, actor=actor or None, action=action or None, limit=None)
        st.dataframe(log.head(1000), hide_index=True, width="stretch", key="audit_table")
        st.caption(
            f"{len(log):,} entries." + (" The newest 1,000 are shown." if len(log) > 1000 else "")
        )
        audited_download(
            "Download the audit log as CSV",
            lambda: csv_bytes(log),
            engine=engine,
            viewer=viewer,
            entity="audit log",
            file_name="audit-log.csv",
            mime="text/csv",
            key="audit_csv",
            detail={"rows": len(log), "format": "csv"},
            origin=auth.origin(),
        )

    with settings_tab:
        from dashboard.settings_view import settings_tab as show_settings

        if show_settings(engine, viewer):
            loaders.data_version.clear()
