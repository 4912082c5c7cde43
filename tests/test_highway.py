"""Highway through-traffic: gates, flows, holidays, detours, stranding, corridor mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.api import run
from sim.cli import app
from sim.config import load_config, parse_config
from sim.config.schema import SampleSource
from sim.demand.highway import highway_demand
from sim.region import load_region
from sim.region.corridor import corridor_region
from sim.region.gates import find_gates
from sim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _corridor(**highway: object) -> dict:
    hw = {
        "enabled": True,
        "vehicles_per_hour": 120,
        "ev_share": 0.15,
        "soc_entry": [0.3, 0.9],
        "onward_km_mean": 100,
        "patience_min_mean": 240,
        **highway,
    }
    return {
        "name": "corridor-test",
        "seed": 3,
        "region": {
            "corridor": {
                "length_km": 300,
                "service_areas": [
                    {"name": f"SA{i}", "km": km, "ports": 4}
                    for i, km in enumerate([40, 90, 150, 210, 260])
                ],
            }
        },
        "demand": {"days": 2, "residential": {"enabled": False}, "highway": hw},
        "chargers": {"default_class": "dc120"},
        "strategies": [{"name": "existing"}],
        "simulation": {"replications": 2, "balk_queue_per_port": None},
        "output": {"map": False, "report": False},
    }


def test_gates_are_the_loose_ends_of_motorways() -> None:
    kotka = load_region(SampleSource("kotka"))
    g = find_gates(kotka.graph, highways=("motorway", "trunk"))
    assert int(g.entry.sum()) == 2 and int(g.exit.sum()) == 2
    for node, is_entry in zip(g.node, g.entry, strict=True):
        if is_entry:
            assert kotka.graph.in_degree(node) == 0
        else:
            assert kotka.graph.out_degree(node) == 0
    c = corridor_region(
        length_km=100, speed_kph=100, node_spacing_km=2, service_areas=[("a", 50.0, 4)]
    )
    gc = find_gates(c.graph, highways=("motorway",))
    assert sorted(gc.name) == ["in-NE-1", "in-SW-1", "out-NE-1", "out-SW-1"]


def test_corridor_service_areas_are_existing_stations_on_both_sides() -> None:
    prep = prepare(parse_config(_corridor()))
    cands = prep.region.candidates
    assert (cands["kind"] == "services").sum() == 10  # 5 areas x 2 carriageways
    assert prep.existing.size == 10 and (cands["existing_ports"] == 4).all()
    # two through routes of 300 km, one per direction, about 3 h at 100 km/h
    assert np.allclose(prep.highway.ods.route_km, 300.0)
    assert np.allclose(prep.highway.ods.route_min, 180.0)


def test_holiday_multiplies_arrivals() -> None:
    sc = parse_config(_corridor(holiday={"days": [2], "multiplier": 2.59}))
    prep = prepare(sc)
    rng = np.random.default_rng(0)
    _, _ = highway_demand(
        prep.highway.ods,
        cfg=sc.demand.highway,
        fleet=sc.vehicles.fleet,
        days=2,
        rng=rng,
        first_vehicle_id=0,
    )
    counts = []
    for seed in range(20):
        d, _ = highway_demand(
            prep.highway.ods,
            cfg=sc.demand.highway,
            fleet=sc.vehicles.fleet,
            days=2,
            rng=np.random.default_rng(seed),
            first_vehicle_id=0,
        )
        day = (d.depart_min // 1440).astype(int)
        counts.append(np.bincount(day, minlength=2))
    c = np.sum(counts, axis=0)
    assert c[1] / c[0] == pytest.approx(2.59, rel=0.05)


def test_holiday_waits_are_hours_and_ordinary_days_minutes() -> None:
    sc = load_config(ROOT / "configs" / "corridor-holiday.yaml")
    sc = sc.model_copy(update={"strategies": sc.strategies[:1]})
    r = run(sc, replications=2)
    s = r.sessions
    q = s[s["outcome"].isin(["charged", "reneged"])].copy()
    q["day"] = (q["arrival_min"] // 1440).astype(int) + 1
    ordinary = q[q["day"] == 1]
    holiday = q[q["day"].isin([2, 3])]
    assert ordinary["wait_min"].mean() < 15.0
    busiest = holiday.groupby("station_id", observed=True)["wait_min"].mean().idxmax()
    at = holiday[holiday["station_id"] == busiest]["wait_min"]
    assert at.mean() > 60.0 and at.quantile(0.95) > 120.0  # hours, as reported
    # queue length by hour shows the surge at the busiest service area
    qh = r.queues[(r.queues["site_id"] == busiest)]
    assert qh[qh["hour"] >= 24]["queue_peak"].max() > 3 * max(
        qh[qh["hour"] < 24]["queue_peak"].max(), 1.0
    )


def test_no_charger_within_reach_strands_vehicles_where_they_stopped() -> None:
    # one service area 150 km from either end: drivers entering low cannot reach it
    data = _corridor(soc_entry=[0.05, 0.15])
    data["region"]["corridor"]["service_areas"] = [{"name": "mid", "km": 150, "ports": 4}]
    r = run(parse_config(data))
    m = r.summary["strategies"]["existing"]["metrics"]
    assert m["stranded_share"]["mean"] > 0.9
    s = r.sessions
    stranded = s[s["outcome"] == "stranded"]
    assert (stranded["segment"] == "highway").all()
    # where they ran flat is recorded (no station reached: empty station id, entry time)
    assert stranded["arrival_min"].notna().all()


def test_detour_is_the_extra_driving_to_the_service_area() -> None:
    r = run(parse_config(_corridor()))
    m = r.summary["strategies"]["existing"]["metrics"]
    # the link road in and out of a service area: 0.4 km at 50 km/h ~ 0.5 min, plus the
    # slower stretch it replaces; a few minutes at most, never negative
    assert 0.0 < m["detour_mean_min"]["mean"] < 5.0
    assert m["access_time_mean_min"]["mean"] is None  # no residents in a corridor


def test_flow_refuelling_strategy_adds_sites_on_routes(tmp_path: Path) -> None:
    data = _corridor(holiday={"days": [2], "multiplier": 2.59})
    data["region"]["corridor"]["candidate_spacing_km"] = 30
    data["strategies"] = [
        {"name": "existing"},
        {"name": "frlm", "k": 4, "keep_existing": True},
        {"name": "frlm-greedy", "k": 4, "keep_existing": True},
    ]
    r = run(parse_config(data))
    s = r.summary["strategies"]
    assert len(s["frlm"]["sites"]) == len(s["existing"]["sites"]) + 4
    assert s["frlm"]["solver"]["objective"] >= s["frlm-greedy"]["solver"]["objective"] - 1e-9
    assert (
        s["frlm"]["metrics"]["wait_mean_min"]["mean"]
        < s["existing"]["metrics"]["wait_mean_min"]["mean"]
    )


def test_bad_flows_file_is_a_clear_error(tmp_path: Path) -> None:
    data = _corridor(
        flows_file="flows.csv",
        gates=[{"name": "A", "lon": 113.0, "lat": 28.0}, {"name": "B", "lon": 114.5, "lat": 29.3}],
    )
    (tmp_path / "flows.csv").write_text("origin,destination,hour,vehicles\nA,B,25,10\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "flows.csv row 2" in res.output and "hour = 25" in res.output
    assert not (tmp_path / "out").exists()


def test_flows_file_and_named_gates(tmp_path: Path) -> None:
    data = _corridor(
        flows_file="flows.csv",
        gates=[
            {"name": "south", "lon": 113.0, "lat": 28.0},
            {"name": "north", "lon": 115.2, "lat": 29.9},
        ],
    )
    rows = ["origin,destination,hour,vehicles"]
    rows += [f"south,north,{h},{300 if 8 <= h < 20 else 20}" for h in range(24)]
    (tmp_path / "flows.csv").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    s = pd.read_parquet(tmp_path / "out" / "sessions.parquet")
    hours = (s.loc[s["attempt"] == 0, "depart_min"] % 1440) // 60
    assert (hours.between(8, 19)).mean() > 0.8  # the daytime counts dominate
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["strategies"]["existing"]["metrics"]["detour_mean_min"]["mean"] > 0
