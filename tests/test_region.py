"""Region stage on real OpenStreetMap data: the bundled Kotka sample and ../shared/osm."""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from sim.config import CandidatesConfig, HousingConfig, file_sha256, parse_config
from sim.config.schema import FileSource, SampleSource
from sim.errors import ConfigError, DataError
from sim.region import Region, describe_region, load_region
from sim.region.model import BUILDING_COLUMNS, CANDIDATE_COLUMNS, ZONE_COLUMNS

SHARED_OSM = Path(__file__).resolve().parents[1].parent / "shared" / "osm"


@pytest.fixture(scope="module")
def kotka() -> Region:
    return load_region(SampleSource("kotka"))


def _node_xy(region: Region, nodes: np.ndarray) -> np.ndarray:
    return np.array([(region.graph.nodes[n]["x"], region.graph.nodes[n]["y"]) for n in nodes])


def assert_contract(region: Region) -> None:
    """What every later stage relies on."""
    assert tuple(region.zones.columns) == ZONE_COLUMNS
    assert tuple(region.buildings.columns) == BUILDING_COLUMNS
    assert tuple(region.candidates.columns) == CANDIDATE_COLUMNS
    for frame in (region.zones, region.buildings, region.candidates):
        assert frame.crs == region.crs
        assert set(frame["node"]) <= set(region.graph.nodes)
        # homes and sites sit where every place can reach every other
        assert set(frame["node"]) <= set(region.core_nodes.tolist())
    assert region.zones["zone_id"].is_unique
    assert region.candidates["site_id"].is_unique
    assert set(region.buildings["zone_id"]) <= set(region.zones["zone_id"])
    assert nx.is_weakly_connected(region.graph)
    assert nx.is_strongly_connected(region.graph.subgraph(region.core_nodes.tolist()))
    for _, _, d in region.graph.edges(data=True):
        assert d["travel_time"] > 0 and d["length"] >= 0 and isinstance(d["highway"], str)
    z = region.zones
    assert np.allclose(z["households"], z["households_apartment"] + z["households_house"])


# ------------------------------------------------------------------ Kotka sample


def test_kotka_graph(kotka: Region) -> None:
    assert_contract(kotka)
    g = kotka.graph
    assert kotka.crs == "EPSG:32635"  # UTM 35N, metres
    assert g.number_of_nodes() == 230  # largest weakly connected part of the drive graph
    assert kotka.core_nodes.size == 225
    highways = {d["highway"] for _, _, d in g.edges(data=True)}
    assert "motorway" in highways
    info = describe_region(kotka)
    assert info["motorway_km"] > 1.0
    assert any("largest strongly connected" in n for n in kotka.notes)
    # the motorway carriageways leaving the extract stay for through-traffic
    assert info["motorway_km"] > 4.0


def test_kotka_zones_and_households(kotka: Region) -> None:
    zones = kotka.zones
    by_source = zones["source"].value_counts().to_dict()
    assert by_source == {"landuse": 24, "buildings": 24}  # 25 areas, one of zero area
    assert (zones["households"] > 0).all()
    total = zones["households"].sum()
    assert 5_000 < total < 9_000  # measured 6,852
    # every household in a building-backed zone sits in a building of that zone
    per_zone = kotka.buildings.groupby("zone_id")["households"].sum()
    with_buildings = zones.set_index("zone_id").loc[per_zone.index, "households"]
    assert np.allclose(with_buildings, per_zone)
    assert set(kotka.buildings["housing"]) == {"apartment", "house"}
    assert len(kotka.buildings) == 1433
    assert (kotka.buildings["footprint_m2"] >= 20).all()


def test_kotka_candidates(kotka: Region) -> None:
    kinds = kotka.candidates["kind"].value_counts().to_dict()
    assert kinds == {"parking": 12, "fuel": 2}  # all of the sample's sites survive snapping
    c = kotka.candidates
    assert c["site_id"].str.match(r"^(parking|fuel)-[nwr]\d+$").all()
    assert (c["existing_ports"] == 0).all()
    # snap distance is the straight line between the site and its node
    xy = np.column_stack([c.geometry.x, c.geometry.y])
    dist = np.hypot(*(xy - _node_xy(kotka, c["node"].to_numpy())).T)
    assert np.allclose(c["snap_dist_m"], dist)
    assert (c["snap_dist_m"] <= 1000.0).all()


def test_kotka_zone_snapping(kotka: Region) -> None:
    z = kotka.zones
    xy = np.column_stack([z.geometry.centroid.x, z.geometry.centroid.y])
    dist = np.hypot(*(xy - _node_xy(kotka, z["node"].to_numpy())).T)
    assert np.allclose(z["snap_dist_m"], dist)


def test_kotka_loads_fast_and_is_deterministic(kotka: Region) -> None:
    started = time.perf_counter()
    again = load_region(SampleSource("kotka"))
    assert time.perf_counter() - started < 5.0  # ~0.8 s here
    assert list(again.zones["zone_id"]) == list(kotka.zones["zone_id"])
    assert np.allclose(again.zones["households"], kotka.zones["households"])
    assert list(again.candidates["site_id"]) == list(kotka.candidates["site_id"])


def test_kotka_provenance_and_checksum(kotka: Region) -> None:
    sha = file_sha256(Path(kotka.provenance["path"]))
    assert len(sha) == 64
    assert kotka.provenance["sha256"] == sha
    assert kotka.provenance["kind"] == "sample"


def test_housing_parameters_change_households(kotka: Region) -> None:
    housing = HousingConfig(floor_area_per_household_m2=45.0)
    denser = load_region(SampleSource("kotka"), housing=housing)
    assert denser.zones["households_apartment"].sum() > kotka.zones["households_apartment"].sum()


def test_describe_region_is_plain_data(kotka: Region) -> None:
    import json

    info = describe_region(kotka)
    json.dumps(info)
    assert (
        info["nodes"] == 230
        and info["core_nodes"] == 225
        and info["edges"] == kotka.graph.number_of_edges()
    )
    assert info["candidates"] == {"fuel": 2, "parking": 12}
    assert info["zones"] == {"buildings": 24, "landuse": 24}
    assert info["buildings"] == 1433
    assert info["notes"] == list(kotka.notes)


def test_candidate_kinds_filter() -> None:
    region = load_region(SampleSource("kotka"), candidates=CandidatesConfig(kinds=("fuel",)))
    assert set(region.candidates["kind"]) == {"fuel"}


# ------------------------------------------------------------------ sources and options


def test_unknown_sample_lists_valid_names() -> None:
    with pytest.raises(DataError, match="kotka"):
        load_region(SampleSource("helsinki"))


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ((25.0, 60.0, 24.0, 61.0), r"region: bbox \[25.0, 60.0, 24.0, 61.0\] must be \[west"),
        ((25.0, 61.0, 26.0, 60.0), "south < north"),
        ((0, 0, 1), r"region\.bbox\.3: required key is missing"),
        (("a", 0, 1, 1), r"region\.bbox\.0 = 'a'"),
        ("1,2,3,4", r"region\.bbox = '1,2,3,4'"),
    ],
)
def test_bad_bbox(bbox: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config({"name": "x", "region": {"bbox": bbox}})


@pytest.mark.parametrize(
    ("region", "candidates", "match"),
    [
        ({}, {"kinds": ["parking", "hospital"]}, r"candidates\.kinds\.1 = 'hospital'"),
        ({}, {"max_snap_m": -1.0}, r"candidates\.max_snap_m = -1\.0"),
        ({}, {"network_nodes": -3}, r"candidates\.network_nodes = -3"),
        (
            {"housing": {"floor_area_per_household_m2": 0.0}},
            {},
            r"region\.housing\.floor_area_per_household_m2 = 0\.0",
        ),
        (
            {"housing": {"default_levels": {"apartments": -1.0}}},
            {},
            r"region\.housing\.default_levels\.apartments = -1\.0",
        ),
    ],
)
def test_bad_region_options_name_the_key(region: dict, candidates: dict, match: str) -> None:
    data = {"name": "x", "region": {"sample": "kotka", **region}, "candidates": candidates}
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_the_region_source_is_the_key_given() -> None:
    from sim.config import RegionConfig
    from sim.config.schema import BboxSource, PlaceSource

    assert RegionConfig(sample="kotka").source == SampleSource("kotka")
    assert RegionConfig(file=Path("x.osm")).source == FileSource(Path("x.osm"))
    assert RegionConfig(place="Kotka").source == PlaceSource("Kotka")
    bbox = RegionConfig(bbox=(24.0, 60.0, 25.0, 61.0)).source
    assert bbox == BboxSource(24.0, 60.0, 25.0, 61.0)
    assert bbox.bounds == (24.0, 60.0, 25.0, 61.0)
    synthetic = RegionConfig(synthetic={"nodes": 100}).source
    assert synthetic.kind == "synthetic" and synthetic.nodes == 100
    corridor = RegionConfig(corridor={"length_km": 50}).source
    assert corridor.kind == "corridor" and corridor.length_km == 50


# ------------------------------------------------------------------ shared extracts


def _shared(name: str) -> Path:
    path = SHARED_OSM / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # measured: nodes, zones by source, candidates by kind
        (
            "porto.osm.pbf",
            (
                (1115, 990),
                {"buildings": 49, "landuse": 199},
                {"charging_station": 7, "fuel": 5, "parking": 362},
            ),
        ),
        (
            "shenzhen-longgang.osm",
            ((306, 264), {"buildings": 7, "landuse": 4}, {"fuel": 2, "parking": 6, "services": 2}),
        ),
        (
            "beijing-haidian-qinghe.osm",
            ((73, 43), {"buildings": 3, "landuse": 11}, {"fuel": 1, "parking": 19}),
        ),
    ],
)
def test_shared_extracts(name: str, expected: tuple[tuple[int, int], dict, dict]) -> None:
    path = _shared(name)
    region = load_region(FileSource(path))
    assert_contract(region)
    info = describe_region(region)
    nodes, zones, candidates = expected
    assert (info["nodes"], info["core_nodes"]) == nodes
    assert info["zones"] == zones
    assert info["candidates"] == candidates
    assert info["households"] > 1000
    assert region.provenance["sha256"] == file_sha256(path)


def test_porto_charging_stations_get_default_ports() -> None:
    region = load_region(
        FileSource(_shared("porto.osm.pbf")),
        candidates=CandidatesConfig(kinds=("charging_station",), existing_ports_default=3),
    )
    assert (region.candidates["existing_ports"] == 3).all()
    assert any("capacity tag" in n and "3 ports" in n for n in region.notes)


@pytest.mark.parametrize("name", ["shenzhen-longgang.osm", "beijing-haidian-qinghe.osm"])
def test_chinese_extracts_record_their_fallbacks(name: str) -> None:
    region = load_region(FileSource(_shared(name)))
    notes = " ".join(region.notes)
    assert "relation member" in notes  # bounding-box export
    assert "outside every landuse=residential area" in notes  # buildings-cluster zones
    assert "without mapped homes" in notes  # density fallback
    assert "motorway" in notes  # what the strongly connected part left out
    assert (region.zones["source"] == "buildings").any()
