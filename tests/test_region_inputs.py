"""Users' files whose rows lie outside the region (zones, sites, plans) are errors, not
notes: one message naming the file, the rows (the first five, with the count) and, when
the coordinates look swapped, saying so.  "Outside" is beyond the bounding box of the
region's road network widened by candidates.max_snap_m (sim.region.extent); rows inside
it but far from the roads keep their reader's rule.

Real test grounds: the bundled Kotka sample and the Chinese extracts in
``../shared/osm`` (skipped where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.config import CandidatesConfig, load_config, parse_config
from sim.config.schema import FileSource, SampleSource
from sim.errors import DataError
from sim.region import Region, load_region
from sim.region.extent import Extent
from sim.region.fields import check_degrees, listing
from sim.region.network import node_coords
from sim.region.plan_file import add_plan_sites, read_plan_file
from sim.region.zones_file import apply_zones_file
from sim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
OSM = ROOT.parent / "shared" / "osm"
LONGGANG = OSM / "shenzhen-longgang.osm"
QINGHE = OSM / "beijing-haidian-qinghe.osm"
needs_osm = pytest.mark.skipif(not LONGGANG.is_file(), reason="../shared/osm is absent")
runner = CliRunner()

#: Points inside the Kotka sample (lon, lat), on its roads.
KOTKA_IN = [(26.945, 60.528), (26.955, 60.532), (26.935, 60.525)]
#: Longgang (lon, lat): Longgang centre and Henggang, inside the extract.
LONGGANG_IN = [(114.2085, 22.6905), (114.2000, 22.6850)]


@pytest.fixture(scope="module")
def kotka() -> Region:
    return load_region(SampleSource("kotka"))


@pytest.fixture(scope="module")
def longgang() -> Region:
    if not LONGGANG.is_file():
        pytest.skip("../shared/osm is absent")
    return load_region(FileSource(LONGGANG))


def off_road_lonlat(region: Region, margin_m: float = 1000.0) -> tuple[float, float]:
    """Lon/lat inside the region (its road network's bounding box widened by
    ``margin_m``) but farther than ``margin_m`` from every node: 50 m inside the
    south-west corner of the widened box, at least (margin - 50) x sqrt 2 from the box
    of the nodes."""
    west, south, _, _ = Extent.of(region.graph, margin_m=margin_m).bounds
    to_wgs = pyproj.Transformer.from_crs(region.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(west + 50.0, south + 50.0)
    return float(lon), float(lat)


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _sites_error(region_source: SampleSource | FileSource, path: Path) -> str:
    with pytest.raises(DataError) as info:
        load_region(region_source, candidates=CandidatesConfig(file=path))
    return str(info.value)


# ----------------------------------------------------------------- the extent itself


def test_extent_is_the_road_bbox_widened_by_max_snap(kotka: Region) -> None:
    xy = node_coords(kotka.graph, list(kotka.graph.nodes))
    ext = Extent.of(kotka.graph, margin_m=250.0)
    west, south, east, north = ext.bounds
    assert (west, south) == pytest.approx(tuple(xy.min(axis=0) - 250.0))
    assert (east, north) == pytest.approx(tuple(xy.max(axis=0) + 250.0))
    inside = ext.contains(xy[:, 0], xy[:, 1], crs=kotka.crs)
    assert inside.all()
    # a point 200 m beyond the easternmost node is in; 300 m beyond is out
    east_node = xy[np.argmax(xy[:, 0])]
    probe = ext.contains(
        [east_node[0] + 200.0, east_node[0] + 300.0], [east_node[1]] * 2, crs=kotka.crs
    )
    assert list(probe) == [True, False]
    # in degrees too, with the transform (and nonsense coordinates are never inside)
    assert list(ext.contains([26.945, 0.0, 26.9], [60.528, 0.0, 95.0], crs="EPSG:4326")) == [
        True,
        False,
        False,
    ]
    assert "candidates.max_snap_m = 250 m: lon 26.9" in ext.describe()


def test_listing_names_the_first_five_and_counts_the_rest() -> None:
    assert listing(["row 2"]) == "row 2"
    assert listing(["row 2", "row 3"]) == "row 2 and row 3"
    assert listing([f"row {i}" for i in range(2, 12)]) == (
        "row 2, row 3, row 4, row 5, row 6 and 5 more"
    )


def test_degrees_out_of_range_are_named_together() -> None:
    places = [f"row {i}" for i in range(2, 10)]
    lon = [22.7 + i / 1000 for i in range(8)]
    lat = [114.2 + i / 1000 for i in range(8)]
    with pytest.raises(DataError) as info:
        check_degrees("f.csv", places, lon, lat, noun="sites", pair="columns lon,lat")
    assert str(info.value) == (
        "f.csv: lat is outside [-90, 90] in 8 of 8 sites; looks like lat/lon swapped: "
        "columns lon,lat hold (22.7, 114.2) at row 2, (22.701, 114.201) at row 3, "
        "(22.702, 114.202) at row 4, (22.703, 114.203) at row 5, (22.704, 114.204) at "
        "row 6 and 3 more"
    )
    # a longitude out of range is no sign of a swap
    with pytest.raises(DataError) as info:
        check_degrees("f.csv", ["row 2"], [190.0], [60.0], noun="sites", pair="columns lon,lat")
    assert str(info.value) == "f.csv row 2: lon = 190.0 is outside [-180, 180]"
    check_degrees("f.csv", ["row 2"], [np.nan], [np.nan], noun="sites", pair="x")  # none given


# ------------------------------------------------------------------------ sites files


def test_sites_outside_the_region_are_an_error_naming_the_rows(
    tmp_path: Path, kotka: Region
) -> None:
    inside = [f"in{i},{x},{y}" for i, (x, y) in enumerate(KOTKA_IN)]
    outside = [f"out{i},{24.9 + i / 100},{60.17}" for i in range(7)]  # Helsinki
    path = _csv(tmp_path / "sites.csv", "id,lon,lat", inside + outside)
    msg = _sites_error(SampleSource("kotka"), path)
    assert msg.startswith(f"{path}: 7 of 10 sites lie outside the region: columns lon,lat hold ")
    assert "(24.9, 60.17) at row 5, (24.91, 60.17) at row 6" in msg
    assert "at row 9 and 2 more; is the file for another region?" in msg
    assert "candidates.max_snap_m = 1000 m: lon 26.913..26.988, lat 60.511..60.549" in msg
    assert "swapped" not in msg


def test_swapped_sites_are_named_as_swapped(tmp_path: Path) -> None:
    rows = [f"s{i},{y},{x}" for i, (x, y) in enumerate(KOTKA_IN)]  # lat in the lon column
    path = _csv(tmp_path / "sites.csv", "id,lon,lat", rows)
    msg = _sites_error(SampleSource("kotka"), path)
    assert msg.startswith(
        f"{path}: 3 of 3 sites lie outside the region; looks like lat/lon swapped: "
        "columns lon,lat hold (60.528, 26.945) at row 2, (60.532, 26.955) at row 3 and "
        "(60.525, 26.935) at row 4, and swapped they all lie inside (the region is"
    )


def test_one_swapped_row_among_good_ones(tmp_path: Path) -> None:
    (x, y), rest = KOTKA_IN[0], KOTKA_IN[1:]
    rows = [f"a{i},{lon},{lat}" for i, (lon, lat) in enumerate(rest)] + [f"b,{y},{x}", "c,0,0"]
    msg = _sites_error(SampleSource("kotka"), _csv(tmp_path / "s.csv", "id,lon,lat", rows))
    assert "2 of 4 sites lie outside the region: columns lon,lat hold (60.528, 26.945) at " in msg
    assert "row 4 and (0, 0) at row 5; row 4 would lie inside with lat/lon swapped" in msg


def test_geojson_sites_with_lat_lon_order(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [y, x]},
                "properties": {"id": f"g{i}"},
            }
            for i, (x, y) in enumerate(KOTKA_IN[:2])
        ],
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    msg = _sites_error(SampleSource("kotka"), path)
    assert "looks like lat/lon swapped: coordinates hold (60.528, 26.945) at feature 1" in msg


def test_sites_inside_but_off_the_roads_are_still_dropped_with_a_note(
    tmp_path: Path, kotka: Region
) -> None:
    lon, lat = off_road_lonlat(kotka)
    (x, y) = KOTKA_IN[0]
    path = _csv(tmp_path / "s.csv", "id,lon,lat", [f"ok,{x},{y}", f"sea,{lon},{lat}"])
    region = load_region(SampleSource("kotka"), candidates=CandidatesConfig(file=path))
    assert list(region.candidates.loc[region.candidates["kind"] == "user", "site_id"]) == [
        "user-ok"
    ]
    assert any("1 of 2 user sites dropped" in n and "'sea'" in n for n in region.notes)


def test_max_snap_m_widens_the_region(tmp_path: Path, kotka: Region) -> None:
    # 2.5 km east of the easternmost node: outside with 1000 m, inside (and kept) with 3000 m
    xy = node_coords(kotka.graph, list(kotka.graph.nodes))
    east = xy[np.argmax(xy[:, 0])]
    to_wgs = pyproj.Transformer.from_crs(kotka.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(east[0] + 2500.0, east[1])
    path = _csv(tmp_path / "s.csv", "id,lon,lat", [f"e,{lon},{lat}"])
    with pytest.raises(DataError, match="1 of 1 sites lies outside the region"):
        load_region(SampleSource("kotka"), candidates=CandidatesConfig(file=path))
    wide = load_region(
        SampleSource("kotka"), candidates=CandidatesConfig(file=path, max_snap_m=3000.0)
    )
    assert "user-e" in set(wide.candidates["site_id"])


def test_cli_validate_exits_2_on_sites_outside(tmp_path: Path) -> None:
    path = _csv(tmp_path / "sites.csv", "id,lon,lat", ["a,0,0"])
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["candidates"] = {**(data.get("candidates") or {}), "file": str(path)}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = runner.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.output
    assert "sites.csv: 1 of 1 sites lies outside the region" in res.output
    assert "Traceback" not in res.output


# ------------------------------------------------------------------------ zones files


def _apply(region: Region, path: Path, max_snap_m: float = 1000.0) -> Region:
    return apply_zones_file(
        region,
        path,
        mode="replace",
        cars_per_household=0.5,
        private_space_charger_share=0.6,
        max_snap_m=max_snap_m,
    )


def test_zones_outside_the_region_are_an_error(tmp_path: Path, kotka: Region) -> None:
    rows = [f"{x},{y},100" for x, y in KOTKA_IN] + ["24.94,60.17,50", "25.0,60.2,60"]
    path = _csv(tmp_path / "zones.csv", "lon,lat,households", rows)
    with pytest.raises(DataError) as info:
        _apply(kotka, path)
    assert str(info.value).startswith(
        "zones.csv: 2 of 5 zones lie outside the region: columns lon,lat hold (24.94, 60.17) "
        "at row 5 and (25, 60.2) at row 6; is the file for another region?"
    )


def test_swapped_zone_polygons(tmp_path: Path, kotka: Region) -> None:
    # a GeoJSON ring written [lat, lon]
    ring = [[60.527, 26.944], [60.527, 26.947], [60.529, 26.947], [60.529, 26.944]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"households": 420},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        ],
    }
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError) as info:
        _apply(kotka, path)
    msg = str(info.value)
    assert msg.startswith("zones.geojson: 1 of 1 zones lies outside the region; looks like ")
    assert "lat/lon swapped: coordinates hold (60.52" in msg and "at feature 1, and swapped" in msg


def test_zones_inside_but_off_the_roads_are_snapped_as_before(
    tmp_path: Path, kotka: Region
) -> None:
    lon, lat = off_road_lonlat(kotka)
    path = _csv(tmp_path / "zones.csv", "lon,lat,households", [f"{lon},{lat},10"])
    region = _apply(kotka, path)
    assert float(region.zones["snap_dist_m"].iloc[0]) > 1000.0


def test_a_run_with_zones_outside_stops_with_exit_2(tmp_path: Path) -> None:
    path = _csv(tmp_path / "zones.csv", "lon,lat,households", ["26.945,60.528,10", "0,0,5"])
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["region"] = {**data["region"], "zones_file": str(path)}
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "zones.csv: 1 of 2 zones lies outside the region" in res.output
    assert "(0, 0) at row 3" in res.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------- plan files


def test_plan_rows_outside_the_region(tmp_path: Path, kotka: Region) -> None:
    rows = ["a,26.945,60.528", "b,24.94,60.17", "c,60.532,26.955"]
    table = read_plan_file(_csv(tmp_path / "plan.csv", "site_id,lon,lat", rows))
    with pytest.raises(DataError) as info:
        add_plan_sites(kotka, [table], max_snap_m=1000.0)
    assert str(info.value).startswith(
        "plan.csv: 2 of 3 sites with coordinates lie outside the region: columns lon,lat "
        "hold (24.94, 60.17) at row 3 and (60.532, 26.955) at row 4; row 4 would lie inside "
        "with lat/lon swapped; is the file for another region?"
    )


def test_plan_rows_by_id_only_are_not_checked_for_place(tmp_path: Path, kotka: Region) -> None:
    known = str(kotka.candidates["site_id"].iloc[0])
    table = read_plan_file(_csv(tmp_path / "plan.csv", "site_id,lon,lat", [f"{known},,"]))
    _, (out,) = add_plan_sites(kotka, [table], max_snap_m=1000.0)
    assert out.site_id == (known,)


def test_swapped_plan_gpkg(tmp_path: Path, kotka: Region) -> None:
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {"site_id": ["p1", "p2"], "ports": [2, 2]},
        geometry=gpd.points_from_xy([y for _, y in KOTKA_IN[:2]], [x for x, _ in KOTKA_IN[:2]]),
        crs="EPSG:4326",
    )
    frame.to_file(tmp_path / "plan.gpkg", driver="GPKG")
    table = read_plan_file(tmp_path / "plan.gpkg")
    with pytest.raises(DataError, match=r"looks like lat/lon swapped: coordinates hold \(60\.528"):
        add_plan_sites(kotka, [table], max_snap_m=1000.0)


def test_plan_lat_beyond_90_is_named_as_swapped(tmp_path: Path) -> None:
    rows = ["a,22.69,114.2", "b,22.68,114.21"]
    with pytest.raises(DataError) as info:
        read_plan_file(_csv(tmp_path / "plan.csv", "site_id,lon,lat", rows))
    assert str(info.value) == (
        "plan.csv: lat is outside [-90, 90] in 2 of 2 sites with coordinates; looks like "
        "lat/lon swapped: columns lon,lat hold (22.69, 114.2) at row 2 and (22.68, 114.21) "
        "at row 3"
    )


def test_validate_names_a_plan_outside(tmp_path: Path) -> None:
    _csv(tmp_path / "plan.csv", "site_id,lon,lat", ["x,114.2,22.7"])
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["strategies"] = [{"name": "p-median", "k": 2}, {"name": "mine", "plan_file": "plan.csv"}]
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = runner.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.output
    assert "plan.csv: 1 of 1 sites with coordinates lies outside the region" in res.output
    assert "(114.2, 22.7) at row 2; is the file for another region?" in res.output


# ------------------------------------------------ the Chinese extracts (../shared/osm)


@needs_osm
def test_longgang_sites_in_place_are_taken(tmp_path: Path, longgang: Region) -> None:
    rows = [f"lg{i},{x},{y}" for i, (x, y) in enumerate(LONGGANG_IN)]
    path = _csv(tmp_path / "sites.csv", "id,lon,lat", rows)
    region = load_region(FileSource(LONGGANG), candidates=CandidatesConfig(file=path))
    user = region.candidates[region.candidates["kind"] == "user"]
    assert set(user["site_id"]) == {"user-lg0", "user-lg1"}


@needs_osm
def test_longgang_sites_given_lat_lon_fail_at_reading(tmp_path: Path) -> None:
    rows = [f"lg{i},{y},{x}" for i, (x, y) in enumerate(LONGGANG_IN)]
    path = _csv(tmp_path / "sites.csv", "id,lon,lat", rows)
    msg = _sites_error(FileSource(LONGGANG), path)
    assert msg == (
        f"{path}: lat is outside [-90, 90] in 2 of 2 sites; looks like lat/lon swapped: "
        "columns lon,lat hold (22.6905, 114.2085) at row 2 and (22.685, 114.2) at row 3"
    )


@needs_osm
def test_a_beijing_zones_file_for_longgang(tmp_path: Path, longgang: Region) -> None:
    # compounds of Qinghe (Beijing), given to the Longgang region
    qinghe = [(116.3500, 40.0030), (116.3530, 40.0050), (116.3470, 40.0010)]
    path = _csv(tmp_path / "zones.csv", "lon,lat,households", [f"{x},{y},300" for x, y in qinghe])
    with pytest.raises(DataError) as info:
        _apply(longgang, path)
    msg = str(info.value)
    assert msg.startswith("zones.csv: 3 of 3 zones lie outside the region: columns lon,lat hold")
    assert "lon 114.16" in msg and "swapped" not in msg


@needs_osm
def test_a_kotka_plan_for_longgang_via_prepare(tmp_path: Path) -> None:
    rows = [f"k{i},{x},{y}" for i, (x, y) in enumerate(KOTKA_IN)]
    _csv(tmp_path / "plan.csv", "site_id,lon,lat", rows)
    data = yaml.safe_load((ROOT / "configs" / "longgang-file.yaml").read_text())
    data["region"] = {**data["region"], "file": str(LONGGANG)}
    data["strategies"] = [{"name": "kotka-plan", "plan_file": str(tmp_path / "plan.csv")}]
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError, match=r"3 of 3 sites with coordinates lie outside the region"):
        prepare(load_config(cfg))


@needs_osm
def test_qinghe_zones_inside_are_accepted(tmp_path: Path) -> None:
    sc = parse_config(
        {
            "name": "qinghe-zones",
            "region": {
                "file": str(QINGHE),
                "zones_file": str(
                    _csv(
                        tmp_path / "zones.csv",
                        "name,lon,lat,households",
                        ["富润家园,116.3500,40.0030,600", "静淑苑,116.3530,40.0050,400"],
                    )
                ),
                "zones_mode": "replace",
            },
            "strategies": [{"name": "p-median", "k": 2}],
        },
        base_dir=tmp_path,
    )
    prep = prepare(sc)
    zones = prep.region.zones
    assert list(zones["name"]) == ["富润家园", "静淑苑"]
    assert (zones["snap_dist_m"] < 1000.0).all()
