"""The grid stage inside a run: compounds' load, public sites capped by their headroom,
costs, the outputs, and nothing changed without ``grid``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from sim.api import run
from sim.config import parse_config
from sim.des import CHARGED
from sim.errors import ConfigError
from sim.export.grid import ZONE_GRID_COLUMNS, ZONE_LOAD_COLUMNS
from sim.export.result import RunResult
from sim.export.writing import write_outputs
from sim.grid.control import DT_H
from sim.grid.tariff import hourly_prices
from sim.study.units import unit_stations

#: A small Kotka run: one day, two replications, the same p-median plan under
#: uncontrolled and ordered home charging.
BASE: dict[str, Any] = {
    "name": "grid-run",
    "seed": 11,
    "region": {"sample": "kotka"},
    "candidates": {"network_nodes": 40},
    "demand": {"days": 1, "residential": {"ev_share": 0.4}},
    "chargers": {"default_class": "dc60", "ports_per_site": 2},
    "strategies": [
        {"name": "uncontrolled", "model": "p-median", "k": 6},
        {"name": "ordered", "model": "p-median", "k": 6, "grid_control": "ordered"},
    ],
    "simulation": {"replications": 2},
    "output": {"map": False, "report": False},
}


def _run(cfg: dict[str, Any], out: Path) -> tuple[RunResult, Path]:
    result = run(parse_config(cfg))
    write_outputs(result, out)
    return result, out


@pytest.fixture(scope="module")
def with_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    return _run({**BASE, "grid": {}}, tmp_path_factory.mktemp("grid"))


@pytest.fixture(scope="module")
def without_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    plain = [{k: v for k, v in st.items() if k != "grid_control"} for st in BASE["strategies"]]
    return _run({**BASE, "strategies": plain}, tmp_path_factory.mktemp("nogrid"))


def test_the_run_has_public_sites_inside_compounds(with_grid: tuple[RunResult, Path]) -> None:
    result, _ = with_grid
    for u in result.units:
        assert u.grid is not None
        assert (u.grid.station_zone >= 0).sum() >= 2  # the case tests something


def test_zone_load_energy_adds_up(with_grid: tuple[RunResult, Path]) -> None:
    """zone_load.parquet: home energy = what the grid stage delivered; public energy in
    the compounds = the simulated sessions' energy at the sites in them."""
    result, out = with_grid
    z = pd.read_parquet(out / "zone_load.parquet")
    assert list(z.columns) == list(ZONE_LOAD_COLUMNS)
    for u in result.units:
        assert u.grid is not None
        mine = z[(z.strategy == u.strategy) & (z.replication == u.replication)]
        assert len(mine) == len(result.prepared.region.zones) * 96
        home = mine.home_kw.sum() * DT_H
        assert home == pytest.approx(u.grid.result.schedule.delivered_kwh.sum(), rel=1e-9)
        log = u.log
        ok = (log.outcome == CHARGED) & (log.station >= 0)
        inside = ok & (u.grid.station_zone[np.maximum(log.station, 0)] >= 0)
        assert inside.any()
        assert mine.public_kw.sum() * DT_H == pytest.approx(log.energy_kwh[inside].sum(), rel=1e-9)
        zone_ids = np.asarray(u.grid.result.compounds.zone_id)
        for zi in np.unique(u.grid.station_zone[u.grid.station_zone >= 0]):
            at = inside & (u.grid.station_zone[np.maximum(log.station, 0)] == zi)
            e = mine[mine.zone_id == zone_ids[zi]].public_kw.sum() * DT_H
            assert e == pytest.approx(log.energy_kwh[at].sum(), rel=1e-9)


def test_public_sites_never_draw_more_than_the_headroom(
    with_grid: tuple[RunResult, Path],
) -> None:
    _, out = with_grid
    z = pd.read_parquet(out / "zone_load.parquet")
    assert (z.public_kw <= z.headroom_kw + 1e-6).all()
    assert (z.public_kw > 0).any()


def test_ordered_charging_lowers_the_peak_loading(with_grid: tuple[RunResult, Path]) -> None:
    """Same demand and plan: ordered home charging keeps every compound within 100% and
    lowers the peak loading against uncontrolled charging, at a lower home price."""
    _, out = with_grid
    s = json.loads((out / "summary.json").read_text())["strategies"]
    unc, ordd = s["uncontrolled"]["grid"], s["ordered"]["grid"]
    assert unc["control"] == "uncontrolled" and ordd["control"] == "ordered"
    assert ordd["peak_loading_pct"]["mean"] < unc["peak_loading_pct"]["mean"]
    assert ordd["peak_loading_pct"]["mean"] <= 100.0 + 1e-6
    assert unc["overloaded_share"]["mean"] > 0.0 == ordd["overloaded_share"]["mean"]
    home_unc = unc["mean_price_cny_per_kwh"]["home"]
    assert ordd["mean_price_cny_per_kwh"]["home"] < home_unc
    # the same plan: the same sites
    assert s["uncontrolled"]["sites"] == s["ordered"]["sites"]


def _by_hand(start: float, end: float, kwh: float, hourly: np.ndarray, fee: float) -> float:
    """Energy x the mean price over [start, end) by walking hour by hour, plus the fee."""
    t, total = start, 0.0
    while t < end - 1e-12:
        nxt = min(end, (np.floor(t / 60.0) + 1.0) * 60.0)
        total += hourly[int(t // 60.0) % 24] * (nxt - t)
        t = nxt
    return kwh * (total / (end - start) + fee)


def test_session_costs_are_energy_times_tariff(with_grid: tuple[RunResult, Path]) -> None:
    result, out = with_grid
    sessions = pd.read_parquet(out / "sessions.parquet")
    grid = result.scenario.grid
    assert grid is not None
    hourly = hourly_prices(grid.tariff)
    fee = grid.tariff.service_fee_cny_per_kwh
    charged = sessions[sessions.outcome == "charged"].head(60)
    assert len(charged) >= 20
    for r in charged.itertuples():
        want = _by_hand(r.start_min, r.end_min, r.energy_kwh, hourly, fee)
        assert r.cost_cny == pytest.approx(want, rel=1e-9)
    assert (sessions.loc[sessions.outcome != "charged", "cost_cny"] == 0).all()
    # the summary's mean price: total cost over total energy
    rs = sessions[(sessions.strategy == "uncontrolled") & (sessions.segment == "residential")]
    s = json.loads((out / "summary.json").read_text())["strategies"]["uncontrolled"]["grid"]
    mean = rs.cost_cny.sum() / rs.energy_kwh.sum()
    assert s["mean_price_cny_per_kwh"]["residential"] == pytest.approx(mean, rel=1e-9)


def test_zones_layer_has_the_transformer_loading(with_grid: tuple[RunResult, Path]) -> None:
    _, out = with_grid
    zones = gpd.read_file(out / "sites.gpkg", layer="zones")
    for col in ZONE_GRID_COLUMNS:
        assert col in zones.columns
    assert (zones.kva > 0).all()
    assert (zones.peak_loading_pct > 0).all()
    assert (zones.hours_above_100pct <= zones.hours_above_80pct).all()
    unc = zones[zones.strategy == "uncontrolled"]
    assert (unc.hours_above_100pct > 0).any()
    # the layer's public energy is the mean over replications of zone_load's
    z = pd.read_parquet(out / "zone_load.parquet")
    per = z[z.strategy == "uncontrolled"].groupby(["replication", "zone_id"], observed=True)
    mean = (per.public_kw.sum() * DT_H).groupby("zone_id", observed=True).mean()
    got = unc.set_index("zone_id").public_energy_kwh
    assert np.allclose(got.loc[mean.index].to_numpy(), mean.to_numpy())


def test_the_same_public_demand_with_and_without_grid(
    with_grid: tuple[RunResult, Path], without_grid: tuple[RunResult, Path]
) -> None:
    """Home charging has a stream of its own: the public sessions' demand is the same."""
    a, b = with_grid[0].units, without_grid[0].units
    for ua, ub in zip(a, b, strict=True):
        assert np.array_equal(ua.demand.depart_min, ub.demand.depart_min)
        assert np.array_equal(ua.demand.energy_kwh, ub.demand.energy_kwh)


def test_without_grid_nothing_is_added(without_grid: tuple[RunResult, Path]) -> None:
    result, out = without_grid
    assert not (out / "zone_load.parquet").exists()
    assert "cost_cny" not in pd.read_parquet(out / "sessions.parquet").columns
    s = json.loads((out / "summary.json").read_text())["strategies"]
    assert all("grid" not in v for v in s.values())
    zones = gpd.read_file(out / "sites.gpkg", layer="zones")
    assert not set(ZONE_GRID_COLUMNS) & set(zones.columns)
    assert all(u.grid is None for u in result.units)
    st, g = unit_stations(result.prepared, result.plans["uncontrolled"], 0)
    assert st.cap_profile is None and g is None
    assert "\ngrid:" not in (out / "config.resolved.yaml").read_text()


def test_a_saturated_compound_slows_its_public_sites() -> None:
    """With smaller transformers (0.5 instead of 0.8 kVA per household) the public sites
    inside compounds charge slower, more drivers give up, and charging gets harder."""
    cfg = {**BASE, "strategies": [BASE["strategies"][0]], "simulation": {"replications": 1}}
    big = run(parse_config({**cfg, "grid": {}}))
    small = run(parse_config({**cfg, "grid": {"transformer": {"kva_per_household": 0.5}}}))

    def power_at_compounds(result: RunResult) -> float:
        u = result.units[0]
        assert u.grid is not None
        log = u.log
        ok = (log.outcome == CHARGED) & (log.station >= 0)
        inside = ok & (u.grid.station_zone[np.maximum(log.station, 0)] >= 0)
        return float(np.nanmean(log.power_kw[inside]))

    assert power_at_compounds(small) < power_at_compounds(big)
    m_big, m_small = big.units[0].metrics, small.units[0].metrics
    assert m_small["unserved_share"] > m_big["unserved_share"]
    assert m_small["difficulty_index"] > m_big["difficulty_index"]


def test_a_compound_without_any_headroom_is_one_clear_error() -> None:
    """60 kVA for compounds of hundreds of households: the base load alone exceeds the
    limit all day, so a public site there could never charge; the run says so."""
    cfg = {**BASE, "strategies": [BASE["strategies"][0]], "simulation": {"replications": 1}}
    grid = {"transformer": {"kva_per_compound": 60}}
    with pytest.raises(ConfigError, match=r"grid: compound z\d+ has no power left.*kva"):
        run(parse_config({**cfg, "grid": grid}))
