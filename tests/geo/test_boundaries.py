"""Tests for geo.boundaries: approximate boundaries, their cache, and official imports."""

from __future__ import annotations

import itertools
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo import boundaries
from geo.boundaries import (
    BNG,
    DEFAULT_AREA,
    BoundaryError,
    approximate_district_boundaries,
    default_cache_dir,
    district_boundaries,
    district_name,
    read_boundary_file,
)
from geo.postcodes import load_postcode_directory

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
realdata = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"the open data folder {SHARED_DATA} is absent (it sits beside the repository in CI)",
)

TAMWORTH, LICHFIELD = "E07000199", "E07000194"
OUTPUT_COLUMNS = ["code", "name", "source", "geometry"]


# ------------------------------------------------------------------------- fixtures


def _squares() -> gpd.GeoDataFrame:
    """Two 1 km squares side by side near Stafford, in British National Grid."""
    return gpd.GeoDataFrame(
        {"LAD23CD": ["E07000197", "E07000192"], "LAD23NM": ["Stafford", "Cannock Chase"]},
        geometry=[box(390_000, 320_000, 391_000, 321_000), box(391_000, 320_000, 392_000, 321_000)],
        crs=BNG,
    )


def _assert_official(gdf: gpd.GeoDataFrame, *, source: str) -> None:
    assert gdf.crs is not None and gdf.crs.equals(BNG)
    assert list(gdf.columns[:3]) == ["code", "name", "source"]
    assert (gdf["source"] == source).all()
    assert (gdf.geom_type == "MultiPolygon").all()
    assert gdf.is_valid.all()


def _assert_same_squares(gdf: gpd.GeoDataFrame) -> None:
    expected = _squares()
    assert list(gdf["code"]) == list(expected["LAD23CD"])
    assert list(gdf["name"]) == list(expected["LAD23NM"])
    distances = shapely.hausdorff_distance(gdf.geometry.to_numpy(), expected.geometry.to_numpy())
    np.testing.assert_array_less(distances, 0.01)


@pytest.fixture(scope="module")
def pair() -> gpd.GeoDataFrame:
    """Approximate boundaries of two neighbouring districts: Tamworth and Lichfield."""
    return approximate_district_boundaries([TAMWORTH, LICHFIELD])


# ------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("E07000197", "Stafford"),
        ("E06000021", "Stoke-on-Trent"),
        (" e07000199 ", "Tamworth"),
        ("W06000015", "Cardiff"),
        ("S12000036", "City of Edinburgh"),
        ("N09000003", "Belfast"),
        ("E08000038", "Barnsley"),
        ("X12345678", "X12345678"),
    ],
    ids=["stafford", "stoke", "spaces-case", "wales", "scotland", "ni", "recoded", "unknown"],
)
def test_district_name(code: str, name: str) -> None:
    assert district_name(code) == name


def test_names_cover_every_district_in_the_postcode_directory() -> None:
    codes = set(load_postcode_directory()["district_code"].astype(str).unique())
    unnamed = sorted(c for c in codes if district_name(c) == c)
    assert unnamed == []


# ----------------------------------------------------------------- unknown codes


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["E0700019"], r"'E0700019' is not an ONS local authority district code.*E07000199"),
        (["E07999999"], r"'E07999999' is not an ONS local authority district code we know"),
        (["E08000016"], r"Barnsley now has the code E08000038"),
        ([], r"No district codes were given"),
        (["E07000197", "nonsense"], r"'NONSENSE' is not"),
    ],
    ids=["malformed", "unknown", "recoded", "none", "one-bad-of-two"],
)
def test_unknown_code_is_explained(codes: list[str], expected: str) -> None:
    with pytest.raises(BoundaryError, match=expected):
        approximate_district_boundaries(codes)


def test_every_bad_code_is_named_at_once() -> None:
    with pytest.raises(BoundaryError) as info:
        district_boundaries(["E0700019", "E07999999"])
    assert "E0700019" in str(info.value) and "E07999999" in str(info.value)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------- approximate boundaries


def test_approximate_shape_of_result(pair: gpd.GeoDataFrame) -> None:
    assert pair.crs is not None and pair.crs.equals(BNG)
    assert list(pair.columns) == OUTPUT_COLUMNS
    assert list(pair["code"]) == [TAMWORTH, LICHFIELD]
    assert list(pair["name"]) == ["Tamworth", "Lichfield"]
    assert (pair["source"] == "approximate").all()
    assert (pair.geom_type == "MultiPolygon").all()
    assert pair.is_valid.all()
    assert not pair.is_empty.any()
    # Tamworth is about 31 km², Lichfield about 331 km².
    np.testing.assert_allclose(pair.area / 1e6, [31, 331], rtol=0.15)


def test_approximate_covers_own_postcodes(pair: gpd.GeoDataFrame) -> None:
    for code, geometry in zip(pair["code"], pair.geometry, strict=True):
        postcodes = load_postcode_directory([code])
        inside = shapely.contains_xy(
            geometry, postcodes["easting"].to_numpy(), postcodes["northing"].to_numpy()
        )
        assert inside.mean() >= 0.99, f"{code}: only {inside.mean():.2%} of its postcodes inside"


def test_approximate_neighbours_share_an_edge_without_overlap(pair: gpd.GeoDataFrame) -> None:
    tamworth, lichfield = pair.geometry
    assert tamworth.intersection(lichfield).area < 1.0
    assert tamworth.intersection(lichfield).length > 5_000  # a real shared boundary
    assert shapely.coverage_is_valid(pair.geometry.to_numpy())


def test_approximate_normalises_and_deduplicates_codes() -> None:
    gdf = approximate_district_boundaries([" e07000199", "E07000199"], simplify_m=0)
    assert list(gdf["code"]) == [TAMWORTH]


def test_approximate_coastal_district_is_bounded() -> None:
    # The Isles of Scilly: a few islands, about 16 km² of land in a wide sea.
    gdf = approximate_district_boundaries(["E06000053"], envelope_m=1_000)
    assert gdf.is_valid.all()
    assert 10 < gdf.area.iloc[0] / 1e6 < 120


def test_approximate_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="envelope_m"):
        approximate_district_boundaries([TAMWORTH], envelope_m=0)


# ------------------------------------------------------------------------- cache


def _cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.gpkg"))


def test_cache_is_written_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = district_boundaries([TAMWORTH], cache_dir=tmp_path)
    files = _cache_files(tmp_path)
    assert len(files) == 1 and f"v{boundaries.METHOD_VERSION}" in files[0].name

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt although a good cache exists")

    monkeypatch.setattr(boundaries, "approximate_district_boundaries", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = district_boundaries([TAMWORTH], cache_dir=tmp_path)
    assert list(second.columns) == OUTPUT_COLUMNS
    assert second.crs.equals(BNG)
    assert (second.geom_type == "MultiPolygon").all()
    assert shapely.equals_exact(first.geometry.iloc[0], second.geometry.iloc[0], tolerance=1e-6)


def test_cache_key_ignores_order_and_keeps_requested_order(tmp_path: Path) -> None:
    district_boundaries([TAMWORTH, LICHFIELD], cache_dir=tmp_path)
    again = district_boundaries([LICHFIELD, TAMWORTH], cache_dir=tmp_path)
    assert len(_cache_files(tmp_path)) == 1
    assert list(again["code"]) == [LICHFIELD, TAMWORTH]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda p: p.write_bytes(b"\x00not a geopackage" * 50), id="garbage"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty-file"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:2048]), id="truncated"),
        pytest.param(
            lambda p: (
                p.unlink()
                or gpd.GeoDataFrame(
                    {"code": ["E07000197"], "name": ["x"], "source": ["approximate"]},
                    geometry=[box(0, 0, 1, 1)],
                    crs=BNG,
                ).to_file(p, driver="GPKG", layer="districts")
            ),
            id="other-districts",
        ),
    ],
)
def test_corrupt_cache_is_reported_and_rebuilt(tmp_path: Path, spoil: object) -> None:
    good = district_boundaries([TAMWORTH], cache_dir=tmp_path)
    (path,) = _cache_files(tmp_path)
    spoil(path)  # type: ignore[operator]
    with pytest.warns(UserWarning, match="cached district boundaries .* unusable.*rebuilt"):
        rebuilt = district_boundaries([TAMWORTH], cache_dir=tmp_path)
    assert shapely.equals_exact(good.geometry.iloc[0], rebuilt.geometry.iloc[0], tolerance=1e-6)
    assert _cache_files(tmp_path) == [path]  # no temporary files left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        district_boundaries([TAMWORTH], cache_dir=tmp_path)  # the cache is good again


def test_unwritable_cache_warns_but_returns(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not be saved to the cache"):
        gdf = district_boundaries([TAMWORTH], cache_dir=blocker)
    assert list(gdf["code"]) == [TAMWORTH]


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SAFER_SPACES_HOME", raising=False)
    assert default_cache_dir() == Path("var") / "cache"
    monkeypatch.setenv("SAFER_SPACES_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "cache"


# --------------------------------------------------------------- official imports


def test_read_geojson_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "lad.geojson"
    _squares().to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    gdf = read_boundary_file(path)
    _assert_official(gdf, source="official: lad.geojson")
    assert list(gdf.columns) == OUTPUT_COLUMNS
    _assert_same_squares(gdf)


def test_read_geojson_bng(tmp_path: Path) -> None:
    path = tmp_path / "lad_bng.geojson"
    _squares().to_file(path, driver="GeoJSON")
    gdf = read_boundary_file(path)
    _assert_official(gdf, source="official: lad_bng.geojson")
    _assert_same_squares(gdf)


def test_read_geopackage_with_generic_columns(tmp_path: Path) -> None:
    path = tmp_path / "districts.gpkg"
    frame = _squares().rename(columns={"LAD23CD": "Code", "LAD23NM": "Name"})
    frame.to_crs("EPSG:3857").to_file(path, driver="GPKG")
    gdf = read_boundary_file(path)
    _assert_official(gdf, source="official: districts.gpkg")
    _assert_same_squares(gdf)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "shp"])
def test_read_shapefile(tmp_path: Path, zipped: bool) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    _squares().rename(columns={"LAD23CD": "LAD21CD", "LAD23NM": "LAD21NM"}).to_file(
        folder / "lad.shp"
    )
    path = folder / "lad.shp"
    if zipped:
        path = tmp_path / "lad.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.iterdir():
                archive.write(part, part.name)
    gdf = read_boundary_file(path)
    _assert_official(gdf, source=f"official: {path.name}")
    _assert_same_squares(gdf)


def test_read_prefers_latest_ons_year_and_falls_back_to_known_names(tmp_path: Path) -> None:
    frame = _squares().drop(columns="LAD23NM")
    frame["LAD19CD"] = ["E99999999", "E99999998"]
    path = tmp_path / "years.geojson"
    frame.to_file(path, driver="GeoJSON")
    gdf = read_boundary_file(path)
    assert list(gdf["code"]) == ["E07000197", "E07000192"]
    assert list(gdf["name"]) == ["Stafford", "Cannock Chase"]


def test_read_wards(tmp_path: Path) -> None:
    wards = gpd.GeoDataFrame(
        {
            "WD23CD": ["E05000001", "E05000002"],
            "WD23NM": ["Ward A", None],
            "LAD23CD": ["E07000197", "E07000197"],
            "LAD23NM": ["Stafford", "Stafford"],
        },
        geometry=_squares().geometry,
        crs=BNG,
    )
    path = tmp_path / "wards.gpkg"
    wards.to_file(path, driver="GPKG")
    gdf = read_boundary_file(path, kind="ward")
    _assert_official(gdf, source="official: wards.gpkg")
    assert list(gdf.columns) == ["code", "name", "source", "district_code", "geometry"]
    assert list(gdf["name"]) == ["Ward A", "E05000002"]
    assert list(gdf["district_code"]) == ["E07000197", "E07000197"]
    with pytest.raises(BoundaryError, match=r"duplicate codes.*kind='ward'"):
        read_boundary_file(path, kind="district")


def test_read_repairs_a_self_intersecting_polygon(tmp_path: Path) -> None:
    bow_tie = Polygon(
        [(390_000, 320_000), (391_000, 321_000), (391_000, 320_000), (390_000, 321_000)]
    )
    frame = gpd.GeoDataFrame({"code": ["E07000197"]}, geometry=[bow_tie], crs=BNG)
    path = tmp_path / "bowtie.geojson"
    frame.to_file(path, driver="GeoJSON")
    gdf = read_boundary_file(path)
    _assert_official(gdf, source="official: bowtie.geojson")
    assert gdf.area.iloc[0] == pytest.approx(500_000)


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writing a frame with no CRS warns
        frame.to_file(path)
    return path


BAD_INPUTS = {
    "missing-file": (lambda d: d / "nowhere.geojson", r"nowhere\.geojson was not found"),
    "garbage": (
        lambda d: (d / "x.gpkg").write_bytes(b"this is not a geopackage" * 20) and d / "x.gpkg",
        r"x\.gpkg could not be read as GeoJSON, GeoPackage or Shapefile",
    ),
    "truncated-geojson": (
        lambda d: (
            (d / "t.geojson").write_text('{"type": "FeatureCollection", "features": [')
            and d / "t.geojson"
        ),
        r"t\.geojson could not be read",
    ),
    "empty": (
        lambda d: (
            (d / "e.geojson").write_text('{"type": "FeatureCollection", "features": []}')
            and d / "e.geojson"
        ),
        r"e\.geojson is empty",
    ),
    "no-crs": (
        lambda d: _write(_squares().set_crs(None, allow_override=True), d / "nocrs.shp"),
        r"nocrs\.shp has no coordinate reference system; ",
    ),
    "no-polygons": (
        lambda d: _write(
            gpd.GeoDataFrame({"code": ["A"]}, geometry=[Point(390_000, 320_000)], crs=BNG),
            d / "points.geojson",
        ),
        r"points\.geojson has no polygons \(it holds Point\)",
    ),
    "some-not-polygons": (
        lambda d: _write(
            gpd.GeoDataFrame(
                {"code": ["A", "B"]},
                geometry=[box(0, 0, 1, 1), Point(390_000, 320_000)],
                crs=BNG,
            ),
            d / "mixed.gpkg",
        ),
        r"mixed\.gpkg has areas with no polygon geometry, for codes: B",
    ),
    "no-code-column": (
        lambda d: _write(
            _squares().rename(columns={"LAD23CD": "area", "LAD23NM": "label"}), d / "nc.geojson"
        ),
        r"nc\.geojson has no district code column .* Columns found: area, label",
    ),
    "empty-code": (
        lambda d: _write(_squares().assign(LAD23CD=["E07000197", None]), d / "nullcode.geojson"),
        r"nullcode\.geojson has areas with no code in column LAD23CD \(rows 2\)",
    ),
    "duplicate-codes": (
        lambda d: _write(_squares().assign(LAD23CD=["E07000197"] * 2), d / "dup.geojson"),
        r"dup\.geojson has duplicate codes in column LAD23CD: E07000197",
    ),
    "unrepairable": (
        lambda d: _write(
            gpd.GeoDataFrame(
                {"code": ["E07000197"]},
                geometry=[Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])],
                crs=BNG,
            ),
            d / "flat.gpkg",
        ),
        r"flat\.gpkg has invalid geometries that could not be repaired .* E07000197",
    ),
    "metres-labelled-lonlat": (
        lambda d: _write(_squares().set_crs("EPSG:4326", allow_override=True), d / "ll.gpkg"),
        r"ll\.gpkg says its coordinates are longitude and latitude .* but they are not",
    ),
}


@pytest.mark.parametrize(("make", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_boundary_files_are_explained(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(BoundaryError, match=message):
        read_boundary_file(path)


def test_ward_file_without_district_column(tmp_path: Path) -> None:
    frame = _squares().rename(columns={"LAD23CD": "WD23CD", "LAD23NM": "WD23NM"})
    path = _write(frame, tmp_path / "w.geojson")
    with pytest.raises(BoundaryError, match=r"no district code column for its wards.*WD23CD"):
        read_boundary_file(path, kind="ward")


def test_bad_kind() -> None:
    with pytest.raises(BoundaryError, match="kind must be"):
        read_boundary_file("x.geojson", kind="county")  # type: ignore[arg-type]


def test_several_polygon_layers_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    _squares().to_file(path, layer="a", driver="GPKG")
    _squares().to_file(path, layer="b", driver="GPKG")
    with pytest.raises(BoundaryError, match=r"several layers with polygons \(a, b\)"):
        read_boundary_file(path)
    assert len(read_boundary_file(path, layer="b")) == 2


# ------------------------------------------------------------------------ real data


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return float(shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b)))


@pytest.mark.realdata
@realdata
def test_realdata_approximate_matches_ons_districts() -> None:
    ons = read_boundary_file(SHARED_DATA / "ons_lad_may2023_buc_staffordshire.geojson")
    ons = ons.set_index("code")
    approx = approximate_district_boundaries(DEFAULT_AREA)
    assert shapely.coverage_is_valid(approx.geometry.to_numpy())
    table = pd.DataFrame(
        {
            "code": approx["code"],
            "name": approx["name"],
            "iou": [
                _iou(geom, ons.geometry[code])
                for code, geom in zip(approx["code"], approx.geometry, strict=True)
            ],
        }
    )
    print("\nApproximate vs ONS LAD May 2023 BUC\n" + table.to_string(index=False))
    assert set(ons.index) == set(DEFAULT_AREA)
    assert (table["name"].to_numpy() == ons.loc[list(table["code"]), "name"].to_numpy()).all()
    low = table[table["iou"] < 0.80]
    assert low.empty, f"IoU below 0.80:\n{low}"


@pytest.mark.realdata
@realdata
def test_realdata_wards_import() -> None:
    wards = read_boundary_file(
        SHARED_DATA / "ons_wards_dec2023_bsc_staffordshire.geojson", kind="ward"
    )
    _assert_official(wards, source="official: ons_wards_dec2023_bsc_staffordshire.geojson")
    assert len(wards) == 188
    assert wards["code"].str.match(r"^E05\d{6}$").all()
    assert set(wards["district_code"]) == set(DEFAULT_AREA)
    assert wards["name"].notna().all()
    assert wards.total_bounds[0] > 300_000  # in metres, British National Grid


@pytest.mark.realdata
@realdata
def test_realdata_england_districts_import() -> None:
    england = read_boundary_file(SHARED_DATA / "ons_lad_may2023_buc_england.geojson")
    _assert_official(england, source="official: ons_lad_may2023_buc_england.geojson")
    assert len(england) == 296
    pairs = itertools.islice(zip(england["code"], england["name"], strict=True), 5)
    assert all(district_name(code) == name for code, name in pairs)
