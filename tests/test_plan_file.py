"""Plans read from a user's file (strategies[].plan_file): the formats, new sites, equipment,
the round trip through chargesite's own sites.gpkg, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from sim.api import run
from sim.cli import app
from sim.config import load_config
from sim.config.schema import SampleSource
from sim.region import load_region
from sim.study.plans import make_plans
from sim.study.prepare import prepare
from tests.test_region_inputs import off_road_lonlat

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _scenario(tmp_path: Path, strategies: list[dict[str, object]], **extra: object) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 2
    data["simulation"]["replications"] = 2
    data["output"] = {"map": False, "report": False}
    data["strategies"] = strategies
    data.update(extra)
    p = tmp_path / "scenario.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose sites.gpkg the other tests read plans from."""
    tmp = tmp_path_factory.mktemp("plan-source")
    cfg = _scenario(tmp, [{"name": "p-median", "k": 4}, {"name": "coverage-greedy", "k": 3}])
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp / "out")])
    assert res.exit_code == 0, res.output
    return tmp / "out"


def test_a_plan_read_back_from_sites_gpkg_simulates_exactly_like_the_original(
    first_run: Path, tmp_path: Path
) -> None:
    cfg = _scenario(
        tmp_path,
        [
            {"name": "p-median", "k": 4},
            {
                "name": "from-file",
                "plan_file": str(first_run / "sites.gpkg"),
                "plan_strategy": "p-median",
            },
        ],
    )
    result = run(cfg)
    plans = result.plans
    assert plans["from-file"].model == "fixed"
    np.testing.assert_array_equal(plans["from-file"].candidate, plans["p-median"].candidate)
    np.testing.assert_array_equal(plans["from-file"].ports, plans["p-median"].ports)
    assert plans["from-file"].cost_cny == plans["p-median"].cost_cny
    # common random numbers: the same plan meets the same drivers
    s = result.summary["strategies"]
    assert s["from-file"]["metrics"] == s["p-median"]["metrics"]
    assert result.summary["provenance"]["data_sha256"]["strategies.1.plan_file"]


def test_csv_plan_with_new_sites_ports_and_classes(first_run: Path, tmp_path: Path) -> None:
    sel = gpd.read_file(first_run / "sites.gpkg", layer="selected")
    cands = gpd.read_file(first_run / "sites.gpkg", layer="candidates")
    known = sel[sel["strategy"] == "p-median"]["site_id"].iloc[0]
    # a new site 150 m east of a known candidate (about 0.0027 degrees at 60.5 N)
    base = cands.geometry.iloc[5]
    lines = [
        "site_id,lon,lat,ports,charger_class,name",
        f"{known},,,6,dc120,",
        f"depot-7,{base.x + 0.0027:.6f},{base.y:.6f},,ac7,市政 depot <b>",
        f",{base.x:.6f},{base.y + 0.002:.6f},3,,",
    ]
    (tmp_path / "plan.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = _scenario(
        tmp_path,
        [{"name": "city-list", "plan_file": "plan.csv", "ports": 2, "charger_class": "dc60"}],
    )
    scenario = load_config(cfg)
    prep = prepare(scenario)
    ids = prep.region.candidates["site_id"].astype(str).tolist()
    kinds = prep.region.candidates["kind"].tolist()
    assert kinds[ids.index("depot-7")] == "plan"
    assert prep.region.candidates["name"].iloc[ids.index("depot-7")] == "市政 depot <b>"
    assert "plan-3" in ids  # the third site has no id
    plan = make_plans(prep)["city-list"]
    equipment = zip(plan.candidate, plan.ports, plan.charger_class, strict=True)
    got = {ids[c]: (int(p), k) for c, p, k in equipment}
    assert got == {known: (6, "dc120"), "depot-7": (2, "ac7"), "plan-3": (3, "dc60")}
    ch = scenario.chargers
    want_cost = 3 * ch.site_cost_cny + sum(
        p * ch.classes[k].cost_per_port_cny for p, k in got.values()
    )
    assert plan.cost_cny == pytest.approx(want_cost)
    powers = dict(zip((ids[c] for c in plan.candidate), plan.power_kw, strict=True))
    assert powers["depot-7"] == ch.classes["ac7"].power_kw
    assert not plan.dc[list(plan.candidate).index(ids.index("depot-7"))]


def test_geojson_plan_in_another_crs(first_run: Path, tmp_path: Path) -> None:
    cands = gpd.read_file(first_run / "sites.gpkg", layer="candidates")
    pts = cands.iloc[[2, 9]][["site_id", "geometry"]].copy()
    pts["ports"] = [4, 1]
    pts.to_crs("EPSG:3067").to_file(tmp_path / "plan.geojson", driver="GeoJSON")
    cfg = _scenario(tmp_path, [{"name": "gj", "plan_file": "plan.geojson"}])
    prep = prepare(load_config(cfg))
    plan = make_plans(prep)["gj"]
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    assert sorted(ids[plan.candidate]) == sorted(pts["site_id"])
    assert len(prep.region.candidates) == len(cands)  # matched by id: nothing new


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        (["site_id,ports", "node-nonexistent,2"], "is not a candidate site of this region"),
        (["site_id,ports", "{known},0"], "ports = '0' is not a whole number in 1..500"),
        (["site_id,charger_class", "{known},dc999"], "charger_class = 'dc999' is not one of"),
        (["site_id,ports", "{known},2", "{known},3"], "row 3: site_id"),
        (["site_id,lon,lat", "far,0.0,0.0"], "1 of 1 sites with coordinates lies outside"),
        (["site_id,lon,lat", "far,{off_road}"], "from the road network"),
        (["site_id,lon,lat", "x,26.9,95"], "looks like lat/lon swapped"),
        (["site_id,lon,lat", "x,26.9,"], "lat is empty"),
        (["site_id,strategy", "{known},a", "{known2},b"], "several strategies (a, b)"),
        (["name", "only a name"], "expected site_id and/or lon,lat"),
        ([], "the file is empty"),
    ],
)
def test_bad_plan_files_give_one_message_and_exit_2(
    first_run: Path, tmp_path: Path, rows: list[str], expect: str
) -> None:
    sel = gpd.read_file(first_run / "sites.gpkg", layer="selected")
    known, known2 = sel["site_id"].iloc[0], sel["site_id"].iloc[1]
    lon, lat = off_road_lonlat(load_region(SampleSource("kotka")))
    off_road = f"{lon},{lat}"  # in the region, > candidates.max_snap_m from the roads
    text = "\n".join(r.format(known=known, known2=known2, off_road=off_road) for r in rows)
    (tmp_path / "plan.csv").write_text(text + ("\n" if rows else ""), encoding="utf-8")
    cfg = _scenario(tmp_path, [{"name": "bad", "plan_file": "plan.csv"}])
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert expect in res.output and "plan.csv" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("strategy", "expect"),
    [
        ({"plan_file": "missing.csv"}, "strategies.0.plan_file = 'missing.csv': file not found"),
        ({"plan_file": "plan.csv", "k": 3}, "the file gives the sites; remove k"),
        ({"plan_file": "plan.csv", "model": "p-median"}, "is model 'fixed', not 'p-median'"),
        ({"plan_strategy": "x"}, "plan_strategy: needs plan_file"),
    ],
)
def test_plan_file_config_errors(tmp_path: Path, strategy: dict[str, object], expect: str) -> None:
    (tmp_path / "plan.csv").write_text("site_id\nnode-1\n", encoding="utf-8")
    cfg = _scenario(tmp_path, [{"name": "bad", **strategy}])
    res = runner.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.output
    assert expect in res.output and "Traceback" not in res.output


def test_a_gpkg_with_several_layers_needs_a_selected_layer(first_run: Path, tmp_path: Path) -> None:
    cands = gpd.read_file(first_run / "sites.gpkg", layer="candidates")
    two = tmp_path / "two.gpkg"
    cands.iloc[:2].to_file(two, layer="a", driver="GPKG")
    cands.iloc[2:4].to_file(two, layer="b", driver="GPKG")
    cfg = _scenario(tmp_path, [{"name": "two", "plan_file": "two.gpkg"}])
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "holds layers a, b" in res.output


def test_summary_lists_the_file_plan(first_run: Path, tmp_path: Path) -> None:
    sel = gpd.read_file(first_run / "sites.gpkg", layer="selected")
    ids = sel[sel["strategy"] == "coverage-greedy"]["site_id"].tolist()
    (tmp_path / "plan.csv").write_text("site_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    cfg = _scenario(tmp_path, [{"name": "listed", "plan_file": "plan.csv"}])
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sorted(summary["strategies"]["listed"]["sites"]) == sorted(ids)
    resolved = yaml.safe_load((tmp_path / "out" / "config.resolved.yaml").read_text())
    assert resolved["strategies"][0]["plan_file"].endswith("plan.csv")


def test_validate_checks_the_plan_file(first_run: Path, tmp_path: Path) -> None:
    sel = gpd.read_file(first_run / "sites.gpkg", layer="selected")
    known = sel["site_id"].iloc[0]
    (tmp_path / "plan.csv").write_text(
        f"site_id,charger_class\n{known},dc60\nghost-site,\n", encoding="utf-8"
    )
    cfg = _scenario(tmp_path, [{"name": "v", "plan_file": "plan.csv"}])
    res = runner.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "plan.csv row 3: site_id 'ghost-site' is not a candidate site" in res.output
    (tmp_path / "plan.csv").write_text(f"site_id,charger_class\n{known},dc7\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2 and "row 2: charger_class = 'dc7' is not one of" in res.output
