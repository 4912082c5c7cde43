"""User site files (CSV, GeoJSON) and node candidates spread over the network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import pytest

from sim.config import CandidatesConfig
from sim.config.schema import FileSource, SampleSource
from sim.errors import DataError, InputFileNotFoundError
from sim.region import Region, load_region
from sim.region.network import node_coords, spread_nodes, spread_points
from sim.region.sites_file import read_sites_file
from tests.test_region_inputs import off_road_lonlat


@pytest.fixture(scope="module")
def kotka() -> Region:
    return load_region(SampleSource("kotka"))


def _lonlat_of_nodes(region: Region, count: int) -> list[tuple[float, float]]:
    """Lon/lat of a few graph nodes, nudged ~30 m east so that they need snapping."""
    to_wgs = pyproj.Transformer.from_crs(region.crs, "EPSG:4326", always_xy=True)
    nodes = sorted(region.graph.nodes)[:count]
    return [
        to_wgs.transform(region.graph.nodes[n]["x"] + 30.0, region.graph.nodes[n]["y"])
        for n in nodes
    ]


def test_csv_sites_become_user_candidates(tmp_path: Path, kotka: Region) -> None:
    (a, b) = _lonlat_of_nodes(kotka, 2)
    far = off_road_lonlat(kotka)
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,name,lon,lat,ports\n"
        f"A1,Kauppatori <b>,{a[0]},{a[1]},4\n"
        f"A2,,{b[0]},{b[1]},\n"
        f"far,In the sea,{far[0]},{far[1]},\n",
        encoding="utf-8",
    )
    region = load_region(SampleSource("kotka"), candidates=CandidatesConfig(file=path))
    user = region.candidates[region.candidates["kind"] == "user"].set_index("site_id")
    assert list(user.index) == ["user-A1", "user-A2"]
    assert user.loc["user-A1", "name"] == "Kauppatori <b>"  # verbatim
    assert user.loc["user-A1", "existing_ports"] == 4
    assert user.loc["user-A2", "existing_ports"] == 0
    assert user.loc["user-A1", "osm_id"] == ""
    assert (user["snap_dist_m"].between(1.0, 100.0)).all()
    # the OSM candidates are still there
    assert (region.candidates["kind"] == "parking").sum() == 12
    # the site in the region but off the roads is dropped and named in the notes
    assert any("'far'" in n and "dropped" in n for n in region.notes)


def test_geojson_sites(tmp_path: Path, kotka: Region) -> None:
    (a,) = _lonlat_of_nodes(kotka, 1)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(a)},
                "properties": {"id": 7, "name": "Depot", "ports": 2},
            },
            {
                "type": "Feature",
                "id": "B",
                "geometry": {"type": "Point", "coordinates": list(a)},
                "properties": None,
            },
        ],
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    sites = read_sites_file(path)
    assert list(sites["site_id"]) == ["user-7", "user-B"]
    assert list(sites["existing_ports"]) == [2, 0]
    assert sites.crs == "EPSG:4326"


CSV_HEADER = "id,name,lon,lat,ports\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "a,x,26.9,60.5,\nb,y,26.9,60.5,\nc,z,26.9,95.0,\n",
            "row 4: lat = 95.0 is outside [-90, 90]; looks like lat/lon swapped: "
            "columns lon,lat hold (26.9, 95)",
        ),
        (
            "a,x,26.9,60.5,\nb,y,260.5,60.5,\nc,z,26.9,-95.0,\n",
            ": 2 of 3 sites are not degrees of longitude and latitude: row 3 "
            "(lon = 260.5 is outside [-180, 180]) and row 4 (lat = -95.0 is outside [-90, 90])",
        ),
        ("a,x,east,60.5,\n", "row 2: lon = 'east' is not a number"),
        ("a,x,26.9,60.5,two\n", "row 2: ports = 'two' is not a number"),
        ("a,x,26.9,60.5,-1\n", "row 2: ports = '-1' is not a whole number >= 0"),
        ("a,x,26.9,60.5,\na,y,26.8,60.4,\n", "row 3: id = 'a' is already used by row 2"),
        (",x,26.9,60.5,\n", "row 2: id = '' is missing or empty"),
        ("a,x,26.9\n", "row 2: has 3 values for 5 columns (lat is missing)"),
        ("a,x,200,60.5,\n", "row 2: lon = 200.0 is outside [-180, 180]"),
        ("a,x,nan,60.5,\n", "row 2: lon = 'nan' is not a finite number"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(CSV_HEADER + rows, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_sites_file(path)
    # one bad row: "<file> row N: ..."; several: "<file>: ..."
    sep = "" if message.startswith(":") else " "
    assert str(info.value) == f"{path}{sep}{message}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("name,x,y\nA,1,2\n", "missing columns id, lon, lat"),
        ("id,lon,lat\n", "holds no sites"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_sites_file(path)
    assert str(path) in str(info.value)


def test_non_utf8_csv(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes("id,name,lon,lat\n1,Pärnu,24.5,58.4\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_sites_file(path)


def _feature(geometry: object, **props: object) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "line 1 column 2: not valid JSON"),
        ('{"type": "Polygon"}', "type = 'Polygon'; expected a GeoJSON FeatureCollection"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    _feature({"type": "Point", "coordinates": [26.9, 60.5]}, id="a"),
                    _feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, id="b"),
                ],
            },
            "feature 2: geometry type = 'LineString'; expected 'Point'",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    _feature({"type": "Point", "coordinates": [26.9, -91]}, id="a"),
                ],
            },
            "feature 1: lat = -91.0 is outside [-90, 90]",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    _feature({"type": "Point", "coordinates": [26.9, 60.5]}, name="no id"),
                ],
            },
            "feature 1: id = None is missing or empty",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    _feature({"type": "Point", "coordinates": [26.9, 60.5]}, id="a", ports=1.5),
                ],
            },
            "feature 1: ports = 1.5 is not a whole number",
        ),
        (
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
                "features": [],
            },
            "expected lon/lat in EPSG:4326",
        ),
    ],
)
def test_bad_geojson_is_named(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "sites.geojson"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_sites_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_sites_file_missing_or_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nope\.csv"):
        read_sites_file(tmp_path / "nope.csv")
    other = tmp_path / "sites.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(DataError, match="unsupported file type"):
        read_sites_file(other)


def test_bad_sites_file_fails_before_reading_the_map(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("id,lon,lat\n1,26.9,600\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2: lat"):
        load_region(
            FileSource(tmp_path / "missing.osm.pbf"), candidates=CandidatesConfig(file=path)
        )


# ------------------------------------------------------------------ node candidates


def test_network_candidates_spread_and_deterministic(kotka: Region) -> None:
    first = spread_nodes(kotka.graph, 6)
    assert first == spread_nodes(kotka.graph, 6)
    assert len(set(first)) == 6
    xy = np.array([(kotka.graph.nodes[n]["x"], kotka.graph.nodes[n]["y"]) for n in first])
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 500.0  # spread out, not clustered (sample spans several km)
    # the first pick is the node nearest the centre of all nodes
    all_xy = np.array([(d["x"], d["y"]) for _, d in kotka.graph.nodes(data=True)])
    centre = all_xy.mean(axis=0)
    assert np.hypot(*(xy[0] - centre)) == pytest.approx(np.hypot(*(all_xy - centre).T).min())


def test_network_candidates_in_region() -> None:
    region = load_region(SampleSource("kotka"), candidates=CandidatesConfig(network_nodes=5))
    nodes = region.candidates[region.candidates["kind"] == "node"]
    assert len(nodes) == 5
    assert (nodes["snap_dist_m"] == 0).all()
    assert list(nodes["site_id"]) == [f"node-{n}" for n in nodes["node"]]


def _every_point_every_time(xy: np.ndarray, count: int) -> list[int]:
    """Farthest-point sampling that updates every point's distance at every pick."""
    current = int(np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T)))
    chosen, dist = [current], np.hypot(*(xy - xy[current]).T)
    for _ in range(min(count, len(xy)) - 1):
        current = int(np.argmax(dist))
        chosen.append(current)
        dist = np.minimum(dist, np.hypot(*(xy - xy[current]).T))
    return chosen


@pytest.mark.parametrize("seed", range(6))
def test_spread_points_picks_what_updating_every_point_picks(seed: int) -> None:
    # the k-d tree only skips points that cannot come nearer: the same picks, ties
    # (a grid of points, repeated points) going the same way
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    if seed % 3 == 0:
        xy = rng.integers(0, 40, size=(n, 2)).astype(float) * 150.0  # ties, repeats
    elif seed % 3 == 1:
        xy = rng.normal(0.0, 5000.0, size=(n, 2)) + 6.5e6  # far from the origin
    else:
        xy = np.r_[rng.uniform(0, 1e4, size=(n, 2)), np.zeros((5, 2))]
    for count in (1, 2, 17, len(xy) // 2, len(xy) + 3):
        got = spread_points(xy, count)
        assert got.dtype == np.int64
        assert got.tolist() == _every_point_every_time(xy, count)


def test_spread_nodes_is_spread_points_in_node_id_order(kotka: Region) -> None:
    ids = np.array(sorted(kotka.graph.nodes), dtype=np.int64)
    xy = node_coords(kotka.graph, ids)
    assert spread_nodes(kotka.graph, 40) == ids[spread_points(xy, 40)].tolist()
    assert spread_nodes(kotka.graph, 40) == [ids[i] for i in _every_point_every_time(xy, 40)]
