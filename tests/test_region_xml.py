"""Region stage on small OSM XML files built in code: cleaning, fallbacks, bad input, cache.

The synthetic town is a 5 x 5 grid of two-way streets (about 100 m blocks) near
60 N 25 E, with a footway, a parking aisle, a residential area, buildings, a parking
lot and a charging station; optional parts mimic bounding-box exports (ways and
relation members that point outside the file).
"""

from __future__ import annotations

import bz2
from pathlib import Path
from xml.sax.saxutils import quoteattr

import networkx as nx
import osmnx as ox
import pytest

from sim.config import HousingConfig, file_sha256
from sim.config.schema import BboxSource, FileSource, PlaceSource
from sim.errors import DataError, InputFileNotFoundError, RegionDownloadError
from sim.region import describe_region, load_region
from sim.region import download as dl
from sim.region.model import ZONE_COLUMNS
from sim.region.osm import is_drivable

LAT0, LON0 = 60.0, 25.0
DLAT, DLON = 0.0009, 0.0018  # about 100 m each way at 60 N


def _nid(i: int, j: int) -> int:
    return 1000 + 10 * i + j


class _OsmXml:
    """OSM XML elements of the synthetic town, in the order they are added."""

    def __init__(self) -> None:
        self.out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<osm version="0.6" generator="test">',
        ]

    @staticmethod
    def tags_xml(tags: dict[str, str]) -> str:
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())

    def node(self, i: int, di: float, dj: float, **tags: str) -> None:
        lat, lon = LAT0 + di * DLAT, LON0 + dj * DLON
        self.out.append(
            f'<node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}">{self.tags_xml(tags)}</node>'
        )

    def way(self, i: int, refs: list[int], tags: dict[str, str]) -> None:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        self.out.append(f'<way id="{i}">{nds}{self.tags_xml(tags)}</way>')

    def box(self, first_id: int, di: float, dj: float, size: float) -> list[int]:
        corners = [(di, dj), (di, dj + size), (di + size, dj + size), (di + size, dj)]
        for k, (a, b) in enumerate(corners):
            self.node(first_id + k, a, b)
        return [first_id, first_id + 1, first_id + 2, first_id + 3, first_id]


def _streets(x: _OsmXml) -> None:
    for i in range(5):
        for j in range(5):
            x.node(_nid(i, j), i, j)
    for i in range(5):
        x.way(10 + i, [_nid(i, j) for j in range(5)], {"highway": "residential"})
        kind = "tertiary" if i == 2 else "residential"
        x.way(20 + i, [_nid(j, i) for j in range(5)], {"highway": kind, "name": f"Katu {i}"})
    x.node(2001, 0.5, 0.5)
    x.node(2002, 1.5, 0.5)
    x.way(50, [_nid(0, 0), 2001, 2002, _nid(2, 0)], {"highway": "footway"})
    x.way(51, [_nid(0, 1), 2001], {"highway": "service", "service": "parking_aisle"})
    x.way(52, [_nid(4, 4), 2002], {"highway": "residential", "access": "private"})


def _landuse(x: _OsmXml, *, clipped: bool) -> None:
    # a way-mapped area (lower-left 2 x 2 blocks) and a multipolygon (upper right)
    ring = [_nid(0, 0), _nid(0, 2), _nid(2, 2), _nid(2, 0), _nid(0, 0)]
    x.way(60, ring, {"landuse": "residential", "name": "Testikylä"})
    x.way(61, [_nid(3, 3), _nid(3, 4), _nid(4, 4), _nid(4, 3), _nid(3, 3)], {})
    members = '<member type="way" ref="61" role="outer"/>'
    if clipped:
        members += '<member type="way" ref="888888" role="inner"/>'
    x.out.append(
        f'<relation id="90">{members}<tag k="type" v="multipolygon"/>'
        '<tag k="landuse" v="residential"/><tag k="name" v="Yläkylä"/></relation>'
    )


def _buildings(x: _OsmXml) -> None:
    x.way(70, x.box(3000, 0.6, 0.6, 0.2), {"building": "apartments", "building:levels": "5"})
    x.way(71, x.box(3010, 1.3, 1.3, 0.06), {"building": "yes"})  # shed-sized, inside area
    x.way(72, x.box(3020, 3.3, 0.3, 0.15), {"building": "house"})  # outside any area
    x.way(73, x.box(3030, 1.6, 0.2, 0.01), {"building": "house"})  # below min footprint


def _pois(x: _OsmXml) -> None:
    x.node(4001, 2.5, 2.5, amenity="parking", name='P <&> "lot"')
    x.node(4002, 3.5, 1.5, amenity="charging_station", capacity="4")
    x.way(74, x.box(3040, 0.2, 3.2, 0.3), {"amenity": "parking"})
    x.node(4003, 200.0, 200.0, amenity="fuel")  # ~20 km away: beyond max_snap_m


def _clipped(x: _OsmXml) -> None:
    """What a bounding-box export holds: ways and a relation reaching outside the file."""
    x.way(80, [_nid(4, 4), 999999, 999998], {"highway": "residential"})
    x.way(81, [999997, _nid(4, 0), _nid(4, 1)], {"highway": "unclassified"})
    x.out.append(
        '<relation id="91"><member type="way" ref="777777" role="outer"/>'
        '<tag k="type" v="multipolygon"/><tag k="building" v="yes"/></relation>'
    )


def write_town(
    path: Path,
    *,
    landuse: bool = True,
    buildings: bool = True,
    pois: bool = True,
    clipped: bool = True,
) -> Path:
    """Write the synthetic town as OSM XML (``.osm`` or ``.osm.bz2``) and return the path."""
    x = _OsmXml()
    _streets(x)
    if landuse:
        _landuse(x, clipped=clipped)
    if buildings:
        _buildings(x)
    if pois:
        _pois(x)
    if clipped:
        _clipped(x)
    x.out.append("</osm>")
    text = "\n".join(x.out) + "\n"
    if path.name.endswith(".bz2"):
        path.write_bytes(bz2.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory):
    path = write_town(tmp_path_factory.mktemp("town") / "town.osm")
    return load_region(FileSource(path))


# ------------------------------------------------------------------ cleaning


def test_raw_osmnx_fails_on_the_clipped_file_but_the_loader_does_not(tmp_path: Path) -> None:
    path = write_town(tmp_path / "clipped.osm")
    with pytest.raises(ValueError, match="missing nodes"):
        ox.graph_from_xml(path)
    region = load_region(FileSource(path))
    assert region.graph.number_of_edges() > 0
    assert any("cut to the nodes present" in n for n in region.notes)
    assert any("relation member" in n for n in region.notes)


def test_only_public_drivable_ways_become_edges(town) -> None:
    kinds = {d["highway"] for _, _, d in town.graph.edges(data=True)}
    assert kinds <= {"residential", "tertiary", "unclassified"}
    assert {"residential", "tertiary"} <= kinds
    osmids = set()
    for _, _, d in town.graph.edges(data=True):
        osmids |= set(d["osmid"]) if isinstance(d["osmid"], list) else {d["osmid"]}
    assert not osmids & {50, 51, 52, 60, 61, 70}  # footway, aisle, private, areas


def test_drive_filter_follows_osmnx_drive() -> None:
    assert is_drivable({"highway": "primary"})
    assert is_drivable({"highway": "living_street"})
    assert not is_drivable({"highway": "service"})
    assert not is_drivable({"highway": "footway"})
    assert not is_drivable({"highway": "residential", "access": "private"})
    assert not is_drivable({"highway": "residential", "area": "yes"})
    assert not is_drivable({"highway": "residential", "motor_vehicle": "no"})
    assert not is_drivable({"building": "yes"})


def test_graph_contract(town) -> None:
    g = town.graph
    assert nx.is_strongly_connected(g.subgraph(town.core_nodes.tolist()))
    assert town.crs == "EPSG:32635" and g.graph["crs"] is not None
    for _, _, d in g.edges(data=True):
        assert d["length"] > 0 and d["speed_kph"] > 0
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6), rel=1e-3)
        assert isinstance(d["highway"], str)
    assert all(isinstance(n, int) for n in g.nodes)
    xs = [d["x"] for _, d in g.nodes(data=True)]
    assert 100_000 < min(xs) < max(xs) < 900_000  # UTM easting in metres, not degrees


def test_zones_buildings_and_households(town) -> None:
    zones = town.zones.set_index("name")
    assert zones.loc["Testikylä", "source"] == "landuse"
    # the multipolygon lost only its (missing) inner ring: still a zone
    assert zones.loc["Yläkylä", "source"] == "landuse"
    b = town.buildings.set_index("building_id")
    # 5 levels x ~400 m^2 / 90 m^2 per household
    apt = b.loc["w70"]
    assert apt["housing"] == "apartment" and apt["levels"] == 5
    assert apt["households"] == pytest.approx(apt["footprint_m2"] * 5 / 90)
    assert 300 < apt["footprint_m2"] < 500
    assert "w71" not in b.index  # a shed inside the area
    assert "w73" not in b.index  # below min_footprint_m2
    house = b.loc["w72"]
    assert house["housing"] == "house" and house["households"] == 1.0
    # the house lies outside every area: a buildings-cluster zone of its own
    house_zone = town.zones.set_index("zone_id").loc[house["zone_id"]]
    assert house_zone["source"] == "buildings"
    assert house_zone["households_house"] == 1.0
    assert zones.loc["Testikylä", "households"] == pytest.approx(apt["households"])
    # the upper-right area has no homes: estimated from zone density (40 / ha)
    yla = zones.loc["Yläkylä"]
    assert yla["households"] == pytest.approx(yla["area_m2"] / 1e4 * 40)
    assert any("outside every landuse=residential" in n for n in town.notes)


def test_candidates(town) -> None:
    c = town.candidates.set_index("site_id")
    assert set(c.index) == {"parking-n4001", "parking-w74", "charging_station-n4002"}
    assert c.loc["charging_station-n4002", "existing_ports"] == 4
    assert c.loc["parking-n4001", "existing_ports"] == 0
    assert c.loc["parking-n4001", "name"] == 'P <&> "lot"'
    assert c.loc["parking-w74", "osm_id"] == "w74"
    assert c.geometry.geom_type.eq("Point").all()
    assert any("fuel" in n and "dropped" in n for n in town.notes)  # the far-away one


def test_bz2_xml_reads_the_same(tmp_path: Path, town) -> None:
    path = write_town(tmp_path / "town.osm.bz2")
    region = load_region(FileSource(path))
    assert describe_region(region)["households"] == describe_region(town)["households"]
    assert region.graph.number_of_edges() == town.graph.number_of_edges()


# ------------------------------------------------------------------ fallbacks


def test_buildings_fallback_when_no_landuse(tmp_path: Path) -> None:
    path = write_town(tmp_path / "nolanduse.osm", landuse=False, clipped=False)
    region = load_region(FileSource(path))
    assert set(region.zones["source"]) == {"buildings"}
    assert any("no landuse=residential areas" in n for n in region.notes)
    # without a residential area the small building=yes is not counted at all
    assert set(region.buildings["building_id"]) == {"w70", "w72"}
    assert region.zones["households"].sum() == pytest.approx(region.buildings["households"].sum())


def test_roads_fallback_when_no_landuse_and_no_buildings(tmp_path: Path) -> None:
    path = write_town(tmp_path / "streets.osm", landuse=False, buildings=False, clipped=False)
    housing = HousingConfig(road_density_households_per_km=100.0)
    region = load_region(FileSource(path), housing=housing)
    assert set(region.zones["source"]) == {"roads"}
    assert len(region.zones) == 1  # one connected street grid
    assert len(region.buildings) == 0
    # 5 residential rows + 4 residential columns (one is tertiary), 400 m each = 3.6 km,
    # each two-way street counted once
    hh = region.zones["households"].sum()
    assert hh == pytest.approx(3.6 * 100.0, rel=0.02)
    assert any("residential streets" in n for n in region.notes)


def test_no_residential_data_at_all(tmp_path: Path) -> None:
    path = tmp_path / "bypass.osm"
    path.write_text(
        '<osm version="0.6"><node id="1" lat="60" lon="25"/><node id="2" lat="60.001" '
        'lon="25"/><node id="3" lat="60.001" lon="25.002"/><way id="1"><nd ref="1"/>'
        '<nd ref="2"/><nd ref="3"/><tag k="highway" v="tertiary"/></way></osm>',
        encoding="utf-8",
    )
    region = load_region(FileSource(path))
    assert len(region.zones) == 0 and len(region.buildings) == 0
    assert tuple(region.zones.columns) == ZONE_COLUMNS
    assert any("no residential zones" in n for n in region.notes)
    assert describe_region(region)["households"] == 0


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("garbage.osm", b"\x00\x01not xml at all", "not valid OSM XML"),
        ("page.osm", b"<html><body>Not found</body></html>", "not an OSM XML file"),
        ("truncated.osm", b'<?xml version="1.0"?><osm><node id="1" lat="1" lon="1">', "OSM"),
        ("garbage.osm.pbf", b"this is not a pbf file", "cannot read the file as OSM PBF"),
        ("garbage.osm.bz2", b"not bzip2 data", "cannot read the file"),
        ("empty.osm.pbf", b"", "empty"),
        ("empty.osm", b"", "empty"),
        ("notes.txt", b"hello", "unsupported file type"),
    ],
)
def test_bad_files_raise_data_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, match: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=match) as info:
        load_region(FileSource(path))
    assert name in str(info.value)


def test_extract_without_drivable_roads(tmp_path: Path) -> None:
    path = tmp_path / "paths.osm"
    path.write_text(
        '<osm version="0.6"><node id="1" lat="60" lon="25"/><node id="2" lat="60.001" '
        'lon="25"/><way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/>'
        "</way></osm>",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="no drivable roads"):
        load_region(FileSource(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nowhere\.osm\.pbf"):
        load_region(FileSource(tmp_path / "nowhere.osm.pbf"))


# ------------------------------------------------------------------ place / bbox cache


@pytest.fixture
def fake_osmnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Replace osmnx's download functions by readers of the synthetic town."""
    town_file = write_town(tmp_path / "download.osm", clipped=False)
    from sim.region.osm import read_xml

    calls = {"n": 0}

    def graph(*_args: object, **kwargs: object) -> nx.MultiDiGraph:
        assert kwargs.get("network_type") == "drive"
        calls["n"] += 1
        return read_xml(town_file, label="download").graph

    def features(*_args: object, tags: dict, **_kwargs: object):
        return ox.features_from_xml(town_file, tags=tags)

    for kind in ("place", "bbox"):
        monkeypatch.setattr(ox, f"graph_from_{kind}", graph)
        monkeypatch.setattr(ox, f"features_from_{kind}", features)
    return calls


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("Failed to resolve 'nominatim.openstreetmap.org'")

    for name in (
        "graph_from_place",
        "graph_from_bbox",
        "features_from_place",
        "features_from_bbox",
    ):
        monkeypatch.setattr(ox, name, fail)


@pytest.mark.parametrize(
    "source",
    [
        PlaceSource("Testikylä, Finland"),
        BboxSource(24.99, 59.99, 25.02, 60.01),
    ],
)
def test_download_is_cached_and_reloads_offline(
    tmp_path: Path, fake_osmnx: dict[str, int], monkeypatch: pytest.MonkeyPatch, source
) -> None:
    cache = tmp_path / "cache"
    folder_before = ox.settings.cache_folder
    first = load_region(source, cache_dir=cache)
    assert fake_osmnx["n"] == 1
    assert ox.settings.cache_folder == folder_before  # osmnx settings restored
    assert len(list(cache.glob(f"{source.kind}-*.graphml"))) == 1
    assert len(list(cache.glob(f"{source.kind}-*.gpkg"))) == 1

    _offline(monkeypatch)
    second = load_region(source, cache_dir=cache)
    a, b = describe_region(first), describe_region(second)
    assert a == b
    assert a["zones"] == {"buildings": 1, "landuse": 2}
    assert a["candidates"] == {"charging_station": 1, "parking": 2}
    station = second.candidates.set_index("site_id").loc["charging_station-n4002"]
    assert station["existing_ports"] == 4
    # the checksum recorded is of the cached graph followed by the cached features
    graphml, gpkg = second.provenance["path"], second.provenance["features_path"]
    assert Path(graphml).parent == cache and Path(gpkg).parent == cache
    joined = tmp_path / "joined"
    joined.write_bytes(Path(graphml).read_bytes() + Path(gpkg).read_bytes())
    assert second.provenance["sha256"] == file_sha256(joined)
    assert second.provenance["kind"] == source.kind


@pytest.mark.parametrize(
    ("key", "value"), [("place", "Testikylä, Finland"), ("bbox", [24.99, 59.99, 25.02, 60.01])]
)
def test_a_scenario_records_the_download_it_read(
    tmp_path: Path, fake_osmnx: dict[str, int], key: str, value: object
) -> None:
    from sim.config import CandidatesConfig, RegionConfig
    from sim.region.build import build_region

    region = RegionConfig.model_validate({key: value, "cache_dir": tmp_path / "cache"})
    built, checksums = build_region(
        region, candidates=CandidatesConfig(), cars_per_household=0.5, seed=0
    )
    assert checksums == {f"region:{key}": built.provenance["sha256"]}  # summary's data_sha256
    assert built.provenance["kind"] == key
    assert len(list((tmp_path / "cache").glob(f"{key}-*.gpkg"))) == 1


def test_cache_miss_offline_raises_download_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(monkeypatch)
    source = PlaceSource("Longgang District, Shenzhen, China")
    with pytest.raises(RegionDownloadError, match="file:") as info:
        load_region(source, cache_dir=tmp_path)
    assert "Longgang" in str(info.value)
    assert not list(tmp_path.glob("place-*"))  # nothing half-written


def test_cache_key_depends_on_the_query(tmp_path: Path) -> None:
    a = dl.cache_paths(dl.place_query("Kotka, Finland"), tmp_path)[0]
    b = dl.cache_paths(dl.place_query("  Kotka,   Finland "), tmp_path)[0]
    c = dl.cache_paths(dl.place_query("Porto, Portugal"), tmp_path)[0]
    assert a == b != c


def test_cache_names_are_stable_so_old_downloads_still_load(tmp_path: Path) -> None:
    # names written by earlier versions; a change would make every cached region
    # unreadable offline
    place = dl.cache_paths(dl.place_query("Kotka, Finland"), tmp_path)[0]
    bbox = dl.cache_paths(dl.bbox_query((24.99, 59.99, 25.02, 60.01)), tmp_path)[0]
    assert place.name == "place-d12b8876ab5101f3.graphml"
    assert bbox.name == "bbox-7f244cf5eb2ee9a6.graphml"
