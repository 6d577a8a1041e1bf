"""Data: boundaries, imports and the demo, for the data officer."""

import tempfile
from pathlib import Path

import streamlit as st

from dashboard import loaders
from geo.boundaries import BoundaryError, read_boundary_file
from store.boundaries import BoundaryStoreError, save_boundaries

version = loaders.data_version()

st.title("Data")
boundaries, imports = st.tabs(["Boundaries", "Imports"])

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
    if upload is not None and st.button("Import boundaries", key="boundary_import", type="primary"):
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / Path(upload.name).name
                path.write_bytes(upload.getvalue())
                frame = read_boundary_file(path, kind=kind)
            counts = save_boundaries(loaders.engine(), frame, kind=kind, actor="data officer")
        except (BoundaryError, BoundaryStoreError) as error:
            st.error(str(error), icon=":material/error:")
        else:
            loaders.data_version.clear()
            st.success(
                f"Imported {len(frame)} {kind} boundaries: {counts['added']} added, "
                f"{counts['replaced']} replaced."
            )

with imports:
    batches = loaders.import_batches(version)
    if batches.empty:
        st.info("Nothing has been imported yet. The data here were built by the demo.")
    else:
        st.dataframe(batches, hide_index=True, width="stretch")
