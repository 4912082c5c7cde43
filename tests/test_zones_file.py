"""Planner's zones files: compounds with households and parking replace or augment OSM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.config import parse_config
from sim.demand.residential import home_table
from sim.errors import DataError
from sim.region.zones_file import read_zones_file
from sim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

CSV = """name,lon,lat,households,housing,parking_spaces
Compound A,26.945,60.528,800,apartment,160
Compound B,26.955,60.532,300,apartment,
Villas,26.935,60.525,50,house,
"""


def _scenario(tmp_path: Path, mode: str, text: str = CSV, name: str = "zones.csv") -> dict:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return {
        "name": "zones-test",
        "region": {"sample": "kotka", "zones_file": str(tmp_path / name), "zones_mode": mode},
        "demand": {"days": 2},
        "candidates": {"network_nodes": 10},
        "strategies": [{"name": "p-median", "k": 2}],
        "simulation": {"replications": 2},
        "output": {"map": False, "report": False},
    }


def test_replace_uses_only_the_planners_compounds(tmp_path: Path) -> None:
    sc = parse_config(_scenario(tmp_path, "replace"), base_dir=tmp_path)
    prep = prepare(sc)
    z = prep.region.zones
    assert list(z["name"]) == ["Compound A", "Compound B", "Villas"]
    assert (z["source"] == "user").all() and len(prep.region.buildings) == 0
    assert z["households"].sum() == 1150
    homes = home_table(prep.region)
    evs = homes.evs_without_home_charging(sc.demand.residential)
    res = sc.demand.residential
    cars = 800 * res.cars_per_household
    # Compound A: 160 spaces for 400 cars, 60% of spaces can take a charger
    share_a = 1 - min(160 / cars, 1) * 0.6
    assert evs[homes.zone == 0].sum() == pytest.approx(
        800 * res.cars_per_household * res.ev_share * share_a
    )
    # Compound B falls back to the apartment default, the villas to the house default
    assert evs[homes.zone == 1].sum() == pytest.approx(
        300 * res.cars_per_household * res.ev_share * res.no_home_charging_share["apartment"]
    )
    assert evs[homes.zone == 2].sum() == pytest.approx(
        50 * res.cars_per_household * res.ev_share * res.no_home_charging_share["house"]
    )


def test_augment_lets_overlapping_osm_zones_give_way(tmp_path: Path) -> None:
    osm_only = prepare(parse_config({"name": "x", "region": {"sample": "kotka"}}))
    sc = parse_config(_scenario(tmp_path, "augment"), base_dir=tmp_path)
    prep = prepare(sc)
    z = prep.region.zones
    user = z[z["source"] == "user"]
    assert len(user) == 3
    assert not (z[z["source"] != "user"].geometry.intersects(user.geometry.union_all())).any()
    assert len(z) - 3 <= len(osm_only.region.zones)
    assert any("gave way" in n for n in prep.region.notes)


def test_geojson_polygons(tmp_path: Path) -> None:
    ring = [
        [26.944, 60.527],
        [26.947, 60.527],
        [26.947, 60.529],
        [26.944, 60.529],
        [26.944, 60.527],
    ]
    gj = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "<b>Estate</b>",
                    "households": 420,
                    "no_home_charging_share": 0.9,
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    f = read_zones_file(_write(tmp_path, "z.geojson", json.dumps(gj)), crs="EPSG:32635")
    assert f.loc[0, "name"] == "<b>Estate</b>" and f.loc[0, "no_home_charging_share"] == 0.9
    assert 30_000 < f.geometry.area[0] < 50_000  # ~170 m x 220 m


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lon,lat\n26.9,60.5\n", "needs the columns lon, lat, households"),
        ("lon,lat,households\n26.9,60.5,-3\n", "row 2: households = -3.0 must be >= 0"),
        ("lon,lat,households\n26.9,95,10\n", "row 2: lat = 95.0 is outside [-90, 90]"),
        ("lon,lat,households,housing\n26.9,60.5,10,tower\n", "housing = 'tower'"),
        (
            "lon,lat,households,no_home_charging_share\n26.9,60.5,10,1.5\n",
            "no_home_charging_share = 1.5 must be [0, 1]",
        ),
    ],
)
def test_bad_zones_file_names_the_row(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_zones_file(_write(tmp_path, "z.csv", text), crs="EPSG:32635")


def test_cli_reports_a_bad_zones_file_without_writing(tmp_path: Path) -> None:
    data = _scenario(tmp_path, "replace", text="lon,lat,households\n26.9,60.5,abc\n")
    cfg = _write(tmp_path, "s.yaml", yaml.safe_dump(data))
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "zones.csv row 2: households = 'abc'" in res.output
    assert not (tmp_path / "out").exists()


def test_run_with_zones_file_reports_them(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "s.yaml", yaml.safe_dump(_scenario(tmp_path, "replace")))
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    import geopandas as gpd

    zones = gpd.read_file(tmp_path / "out" / "sites.gpkg", layer="zones")
    assert set(zones["name"]) == {"Compound A", "Compound B", "Villas"}
    big = zones[zones["name"].isin(["Compound A", "Compound B"])]
    assert np.isfinite(big["served_share"]).all()  # the villas may have had no session
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "region.zones_file" in summary["provenance"]["data_sha256"]
