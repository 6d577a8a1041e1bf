"""Batches: rollback by an administrator, formats for places, the mapping remembered."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon
from sqlalchemy import text

from services.access import AccessDenied, Viewer
from services.imports import ColumnMapping, ImportFileError, inspect_file, rollback_batch
from tests.imports.conftest import count, run, snapshot, write

HEADER = "incident_ref,incident_date,exploitation_type,longitude,latitude\n"
ROWS = "B1,2021-08-01,cce,-2.117,52.806\nB2,2021-08-02,cse,-2.03,52.69\n"


def test_an_admin_rolls_back_a_whole_batch_and_may_import_it_again(db, admin, key, tmp_path):
    path = write(tmp_path / "a.csv", HEADER + ROWS)
    before = snapshot(db)
    first = run(db, path, admin)
    assert count(db, "incidents") == 2
    removed = rollback_batch(db, first.batch_id, admin)
    assert removed == {"incidents": 2, "referrals": 0, "context": 0, "places": 0}
    after = snapshot(db)
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
    with db.connect() as connection:
        actions = connection.scalars(text("SELECT action FROM audit_events ORDER BY id")).all()
    assert actions == ["import district boundaries", "import incidents", "roll back import"]
    again = run(db, path, admin)
    assert again.stored and again.accepted == 2


def test_only_an_admin_may_roll_back(db, admin, key, tmp_path):
    report = run(db, write(tmp_path / "a.csv", HEADER + ROWS), admin)
    lead = Viewer("lead", "lead", admin.districts)
    with pytest.raises(AccessDenied, match="may not roll back"):
        rollback_batch(db, report.batch_id, lead)
    assert count(db, "incidents") == 2
    with pytest.raises(ImportFileError, match="no import batch 999"):
        rollback_batch(db, 999, admin)


def test_places_from_geojson_link_later_incidents(db, admin, key, tmp_path):
    places = gpd.GeoDataFrame(
        {
            "name": ["Victoria Park", "Station car park", "Chicken Hut"],
            "type": ["Park", "Car park", "Takeaway"],
        },
        geometry=[
            Polygon([(-2.118, 52.805), (-2.116, 52.805), (-2.116, 52.807), (-2.118, 52.807)]),
            Point(-2.03, 52.69),
            Point(-3.19, 55.95),  # Edinburgh: outside the area
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "places.geojson"
    places.to_file(path, driver="GeoJSON")
    mapping = ColumnMapping(categories={"Car park": "car_park"})
    report = run(db, path, admin, kind="places", mapping=mapping)
    assert report.accepted == 2 and report.outside_area == 1, report.issues
    incidents = run(db, write(tmp_path / "i.csv", HEADER + ROWS), admin)
    assert incidents.notes["points moved onto a register place nearby"] == 2
    with db.connect() as connection:
        linked = connection.execute(
            text(
                "SELECT p.name, i.easting = p.easting AS same FROM incidents i "
                "JOIN places p ON p.id = i.place_id ORDER BY p.name"
            )
        ).all()
    assert [(r.name, bool(r.same)) for r in linked] == [
        ("Station car park", True),
        ("Victoria Park", True),
    ]
    with pytest.raises(ImportFileError, match="assessment"):
        _assess_and_roll_back(db, admin, report.batch_id)


def _assess_and_roll_back(db, admin, batch_id):
    with db.begin() as connection:
        place = connection.scalar(text("SELECT min(id) FROM places"))
        connection.execute(
            text(
                "INSERT INTO assessments (place_id, assessing_org, lead_assessor, assessed_on, "
                "status, young_people_consulted, families_consulted, version, created_at, "
                "updated_at, created_by, updated_by) VALUES (:p, 'Council', 'A', '2024-01-01', "
                "'draft', false, false, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't', 't')"
            ),
            {"p": place},
        )
    rollback_batch(db, batch_id, admin)


def test_places_from_an_openstreetmap_export_and_a_geopackage(db, admin, key, tmp_path):
    osm = gpd.GeoDataFrame(
        {
            "osm_id": ["node/1", "node/2", "node/3"],
            "name": ["Kebab House", "The Swan", "Hair by Jo"],
            "key": ["amenity", "amenity", "shop"],
            "value": ["fast_food", "pub", "hairdresser"],
            "addr_postcode": ["ST16 2LJ", "", ""],
        },
        geometry=[Point(-2.117, 52.806), Point(-2.03, 52.69), Point(-2.0, 52.7)],
        crs="EPSG:4326",
    )
    path = tmp_path / "osm.geojson"
    osm.to_file(path, driver="GeoJSON")
    plan = inspect_file(db, path, kind="places")
    assert plan["source_name"] == "OpenStreetMap" and plan["used"]["osm_tag"] == "category"
    assert plan["categories"] == ["shop=hairdresser"]
    report = run(
        db,
        path,
        admin,
        kind="places",
        mapping=ColumnMapping(categories={"shop=hairdresser": "ignore"}),
    )
    assert report.accepted == 2 and report.ignored == 1
    with db.connect() as connection:
        stored = dict(connection.execute(text("SELECT name, category FROM places")).all())
    assert stored == {"Kebab House": "fast_food", "The Swan": "licensed_premises"}

    gpkg = tmp_path / "register.gpkg"
    osm.to_crs(27700).assign(
        value=["fast_food", "bar", "mall"], osm_id=["w/1", "w/2", "w/3"]
    ).to_file(gpkg, driver="GPKG")
    second = run(db, gpkg, admin, kind="places", source="council register")
    assert second.file_format == "GeoPackage" and second.accepted == 3


def test_an_excel_workbook_with_a_title_row(db, admin, key, tmp_path):
    frame = pd.DataFrame(
        {
            "Ref": ["X1", "X2"],
            "Date": pd.to_datetime(["2021-08-01", "2021-08-02"]),
            "Type": ["CCE", "Child sexual exploitation"],
            "Postcode": ["ST16 2LJ", "WS11 1DB"],
        }
    )
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, index=False, startrow=2, sheet_name="Incidents")
        writer.sheets["Incidents"].cell(row=1, column=1, value="Monthly incidents, August")
    report = run(db, path, admin)
    assert report.file_format == "Excel workbook" and report.accepted == 2, report.issues
    assert report.notes["rows located by their postcode"] == 2


def test_the_mapping_is_remembered_per_source(db, admin, key, tmp_path):
    text_ = "Our ref,When,What,Where\nM1,01/08/2021,Criminal,ST16 2LJ\n"
    path = write(tmp_path / "odd.csv", text_)
    mapping = ColumnMapping(
        columns={"Our ref": "source_ref", "When": "date", "What": "category", "Where": "postcode"},
        categories={"Criminal": "cce"},
    )
    assert run(db, path, admin, source="Youth service", mapping=mapping).accepted == 1
    nxt = write(tmp_path / "odd2.csv", "Our ref,When,What,Where\nM2,02/08/2021,Criminal,WS11 1DB\n")
    plan = inspect_file(db, nxt, kind="incidents", source="Youth service")
    assert plan["missing"] == [] and plan["used"]["When"] == "date"
    report = run(db, nxt, admin, source="Youth service")
    assert report.accepted == 1
    with pytest.raises(ImportFileError, match="no column for date"):
        run(db, nxt, admin, source="someone else")


def test_an_identifier_cannot_be_mapped_to_a_stored_field(db, admin, key, tmp_path):
    path = write(tmp_path / "n.csv", "Child name,Date,Postcode\nAmy Pond,2021-08-01,ST16 2LJ\n")
    with pytest.raises(ImportFileError, match=r"holds names.*cannot be imported as 'category'"):
        run(db, path, admin, mapping=ColumnMapping(columns={"Child name": "category"}))


def test_online_records_keep_their_district_but_no_point(db, admin, key, tmp_path):
    text_ = (
        "ref,date,type,online,district,postcode\n"
        "N1,2021-08-01,online grooming,yes,Stafford,\n"
        "N2,2021-08-01,cse,yes,,ST16 2LJ\n"
        "N3,2021-08-01,cse,no,Narnia,\n"
    )
    report = run(db, write(tmp_path / "online.csv", text_), admin)
    assert report.accepted == 2 and report.outside_area == 1 and report.without_location == 1
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT category, online, easting, district_code FROM incidents ORDER BY id")
        ).all()
    assert [(r.category, bool(r.online), r.easting, r.district_code) for r in rows] == [
        ("online_exploitation", True, None, "E07000197"),
        ("cse", True, None, "E07000197"),
    ]
