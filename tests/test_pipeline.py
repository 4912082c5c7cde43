"""End to end on the bundled Kotka extract: the CLI, the output folder, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.metrics.scores import METRICS

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _small_config(tmp_path: Path, **overrides: object) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 3
    data["simulation"]["replications"] = 2
    data["output"] = {"map": False, "report": False}
    data.update(overrides)
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    cfg = _small_config(tmp)
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp / "out")])
    assert res.exit_code == 0, res.output
    assert "coverage-greedy" in res.output and "difficulty" in res.output  # the table
    return tmp / "out"


def test_output_folder_has_the_contract_files(run_dir: Path) -> None:
    for name in ("summary.json", "sessions.parquet", "sites.gpkg", "config.resolved.yaml"):
        assert (run_dir / name).is_file(), name
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["scenario"] == "kotka-default" and s["replications"] == 2
    assert set(s["strategies"]) == {"existing", "random", "coverage-greedy", "p-median"}
    for strat in s["strategies"].values():
        assert set(strat["metrics"]) == set(METRICS)
        for m in strat["metrics"].values():
            assert set(m) == {"mean", "ci95"} and len(m["ci95"]) == 2
    assert s["provenance"]["data_sha256"]


def test_strategies_differ_as_a_planner_expects(run_dir: Path) -> None:
    s = json.loads((run_dir / "summary.json").read_text())["strategies"]
    # Kotka's extract maps no charging station: the existing plan serves nobody.
    assert s["existing"]["sites"] == []
    assert s["existing"]["metrics"]["unserved_share"]["mean"] == 1.0
    cg = s["coverage-greedy"]["metrics"]
    rnd = s["random"]["metrics"]
    assert len(s["coverage-greedy"]["sites"]) == 4  # k in configs/default.yaml
    assert cg["coverage_share"]["mean"] >= rnd["coverage_share"]["mean"]
    assert cg["difficulty_index"]["mean"] < s["existing"]["metrics"]["difficulty_index"]["mean"]
    assert (
        s["p-median"]["metrics"]["access_time_mean_min"]["mean"]
        <= (rnd["access_time_mean_min"]["mean"])
    )


def test_sessions_parquet_columns_and_outcomes(run_dir: Path) -> None:
    df = pd.read_parquet(run_dir / "sessions.parquet")
    cols = [
        "replication",
        "strategy",
        "vehicle_id",
        "segment",
        "station_id",
        "arrival_min",
        "start_min",
        "end_min",
        "wait_min",
        "energy_kwh",
        "power_kw",
        "outcome",
    ]
    assert list(df.columns[: len(cols)]) == cols
    assert set(df["outcome"].unique()) <= {"charged", "reneged", "balked", "stranded", "no_station"}
    # common random numbers: every strategy saw the same sessions in a replication
    sessions = df.groupby(["replication", "strategy"], observed=True)["session"].nunique()
    assert (sessions.unstack().nunique(axis=1) == 1).all()
    # and the same vehicles leaving at the same times
    first = df[df["attempt"] == 0].sort_values(["replication", "strategy", "session"])
    per = {
        k: g[["vehicle_id", "depart_min"]].to_numpy()
        for k, g in first.groupby("strategy", observed=True)
    }
    ref = next(iter(per.values()))
    assert all(np.array_equal(v, ref) for v in per.values())
    ch = df[df["outcome"] == "charged"]
    assert (ch["end_min"] > ch["start_min"]).all() and (ch["wait_min"] >= 0).all()


def test_sites_gpkg_layers_in_wgs84(run_dir: Path) -> None:
    layers = {name for name, _ in pyogrio.list_layers(run_dir / "sites.gpkg")}
    assert {"candidates", "selected", "zones", "roads"} <= layers
    cand = gpd.read_file(run_dir / "sites.gpkg", layer="candidates")
    assert cand.crs.to_epsg() == 4326
    for col in (
        "site_id",
        "kind",
        "snap_dist_m",
        "sessions_per_day_in_radius",
        "access_saved_min_per_day",
        "rank",
        "selected_by",
    ):
        assert col in cand.columns, col
    # every candidate is scored, chosen or not, and the top-ranked one serves the most
    top = cand.sort_values("rank").iloc[0]
    assert top["sessions_per_day_in_radius"] == cand["sessions_per_day_in_radius"].max()
    sel = gpd.read_file(run_dir / "sites.gpkg", layer="selected")
    assert set(sel["strategy"]) == {"random", "coverage-greedy", "p-median"}
    assert (sel["ports"] == 2).all() and (sel["power_kw"] == 60).all()  # default.yaml
    assert sel["utilization"].between(0, 1).all()
    zones = gpd.read_file(run_dir / "sites.gpkg", layer="zones")
    assert {"households", "evs_no_home", "demand_kwh_per_day", "access_min", "served_share"} <= set(
        zones.columns
    )


def test_resolved_config_records_defaults_and_seed(run_dir: Path) -> None:
    data = yaml.safe_load((run_dir / "config.resolved.yaml").read_text())
    assert data["seed"] == 20231001
    assert data["simulation"]["difficulty_weights"]["unserved"] == 0.4
    assert "region:sample" in data["provenance"]["data_sha256"]


def test_same_seed_gives_byte_identical_summary(tmp_path: Path, run_dir: Path) -> None:
    cfg = _small_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "again" / "summary.json").read_bytes() == (
        run_dir / "summary.json"
    ).read_bytes()


def test_other_seed_changes_results(tmp_path: Path, run_dir: Path) -> None:
    cfg = _small_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "s2"), "--seed", "5"])
    assert res.exit_code == 0, res.output
    a = json.loads((run_dir / "summary.json").read_text())["strategies"]
    b = json.loads((tmp_path / "s2" / "summary.json").read_text())["strategies"]
    assert (
        a["p-median"]["metrics"]["energy_served_kwh"]
        != b["p-median"]["metrics"]["energy_served_kwh"]
    )


def test_bad_config_exit_2_one_line_and_nothing_written(tmp_path: Path) -> None:
    cfg = _small_config(tmp_path, simulation={"replications": 0})
    out = tmp_path / "never"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 2
    assert "simulation.replications = 0" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_failed_run_keeps_previous_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("previous")
    cfg = _small_config(tmp_path, strategies=[{"name": "x", "model": "p-medain", "k": 2}])
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 2 and "p-median" in res.output  # did-you-mean
    assert (out / "summary.json").read_text() == "previous"


def test_validate_reports_what_it_found(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(_small_config(tmp_path))])
    assert res.exit_code == 0, res.output
    for word in ("nodes", "zones", "households", "candidates"):
        assert word in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nregion: {sample: kotka}\nsimulaton: {}\n")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "did you mean 'simulation'" in res.output


def test_python_api_returns_frames() -> None:
    from sim.api import run
    from sim.config import load_config

    sc = load_config(ROOT / "configs" / "default.yaml")
    sc = sc.model_copy(update={"demand": sc.demand.model_copy(update={"days": 2})})
    r = run(sc, replications=2)
    assert isinstance(r.selected, gpd.GeoDataFrame) and r.selected.crs.to_epsg() == 4326
    assert set(r.per_replication["strategy"]) == set(r.summary["strategies"])
    assert len(r.sessions) > 0


def test_geojson_and_geoparquet_on_request(tmp_path: Path) -> None:
    cfg = _small_config(
        tmp_path, output={"map": False, "report": False, "formats": ["geojson", "geoparquet"]}
    )
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    for name in ("candidates", "selected", "zones", "roads"):
        gj = gpd.read_file(tmp_path / "o" / "layers" / f"{name}.geojson")
        gp = gpd.read_parquet(tmp_path / "o" / "layers" / f"{name}.parquet")
        assert len(gj) == len(gp) > 0 and gp.crs.to_epsg() == 4326
    sel = gpd.read_parquet(tmp_path / "o" / "layers" / "selected.parquet")
    assert {"ports", "power_kw", "utilization", "wait_p95_min"} <= set(sel.columns)
