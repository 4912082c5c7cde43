"""Metrics per segment add up to the plan's, and a fleet's lost working time."""

from __future__ import annotations

import numpy as np
import pytest

from sim.api import RunResult
from sim.demand.fleets import FleetRoster
from sim.demand.model import Demand
from sim.des import CHARGED, RENEGED, SessionLog
from sim.des.log import new_row
from sim.metrics.scores import score
from sim.metrics.segments import fleet_lost_time, segment_log, segment_scores
from sim.study.plans import coverage_share, stations_of


def _scores(result: RunResult, unit_index: int):  # type: ignore[no-untyped-def]
    u = result.units[unit_index]
    prep = result.prepared
    plan = result.plans[u.strategy]
    sim_cfg = prep.scenario.simulation
    kw = {
        "stations": stations_of(prep, plan),
        "horizon_min": prep.horizon_min,
        "coverage_share": coverage_share(prep, plan),
        "weights": sim_cfg.difficulty_weights,
        "wait_ref_min": sim_cfg.wait_ref_min,
        "access_ref_min": sim_cfg.access_ref_min,
    }
    return u, score(u.log, u.demand, **kw), segment_scores(u.log, u.demand, **kw)


def test_segment_metrics_add_up_to_the_plans(small_run: RunResult) -> None:
    checked = 0
    for i, u in enumerate(small_run.units):
        if u.strategy == "existing":
            continue
        _, whole, seg = _scores(small_run, i)
        assert set(seg) == {"residential", "highway"}
        n = {
            k: int((u.demand.segment == c).sum()) for c, k in enumerate(("residential", "highway"))
        }
        served = sum((1 - seg[k]["unserved_share"]) * n[k] for k in seg)  # type: ignore[operator]
        assert served == pytest.approx((1 - whole["unserved_share"]) * len(u.demand))  # type: ignore[operator]
        for additive in ("energy_served_kwh", "utilization_mean"):
            total = sum(seg[k][additive] for k in seg)  # type: ignore[misc]
            assert total == pytest.approx(whole[additive], rel=1e-9, abs=1e-9), additive
        assert seg["highway"]["detour_mean_min"] == whole["detour_mean_min"]
        assert seg["residential"]["detour_mean_min"] is None
        assert seg["residential"]["access_time_mean_min"] == whole["access_time_mean_min"]
        checked += 1
    assert checked


def test_one_segment_scores_as_the_whole(small_run: RunResult) -> None:
    u = next(x for x in small_run.units if x.strategy == "p-median")
    i = small_run.units.index(u)
    _, _, seg = _scores(small_run, i)
    log, demand = segment_log(u.log, u.demand, 0)
    assert set(np.unique(demand.segment)) == {0}
    assert log.session.max() < len(demand)
    # the residential sessions' own log scores as that segment
    prep = small_run.prepared
    plan = small_run.plans[u.strategy]
    alone = score(
        log,
        demand,
        stations=stations_of(prep, plan),
        horizon_min=prep.horizon_min,
        coverage_share=coverage_share(prep, plan),
        weights=prep.scenario.simulation.difficulty_weights,
        wait_ref_min=prep.scenario.simulation.wait_ref_min,
        access_ref_min=prep.scenario.simulation.access_ref_min,
    )
    assert alone == seg["residential"]


def _demand(vehicles: list[int]) -> Demand:
    n = len(vehicles)
    f = np.zeros(n)
    return Demand(
        vehicle_id=np.array(vehicles, np.int64), segment=np.full(n, 2, np.int8),
        origin=np.zeros(n, np.int64), depart_min=f, energy_kwh=f + 10, patience_min=f + 30,
        max_ac_kw=f + 7, max_dc_kw=f + 60, battery_kwh=f + 60, soc_start=f + 0.2,
        zone=np.zeros(n, np.int32), od=np.full(n, -1, np.int32), kwh_per_km=f + 0.15,
        exit_need_kwh=f,
    )  # fmt: skip


def test_fleet_lost_time_counts_driving_and_waiting_of_every_attempt() -> None:
    # taxis 100-101 (fleet "taxi"), van 200 (fleet "van"); 2 days
    demand = _demand([100, 101, 200])
    rows = [
        # taxi 100: drove 6 min, waited 20 min, gave up; drove 4 more, waited 5, charged
        new_row(session=0, attempt=0, station=0, outcome=RENEGED, access_min=6.0, wait_min=20.0),
        new_row(session=0, attempt=1, station=1, outcome=CHARGED, access_min=4.0, wait_min=5.0,
                start_min=40.0, end_min=70.0, energy_kwh=10.0),
        # taxi 101: drove 10, no wait
        new_row(session=1, attempt=0, station=0, outcome=CHARGED, access_min=10.0, wait_min=0.0,
                start_min=10.0, end_min=30.0, energy_kwh=10.0),
        # van 200: drove 3, waited 12
        new_row(session=2, attempt=0, station=1, outcome=CHARGED, access_min=3.0, wait_min=12.0,
                start_min=20.0, end_min=50.0, energy_kwh=10.0),
    ]  # fmt: skip
    log = SessionLog.from_rows(rows)
    out = fleet_lost_time(
        log,
        demand,
        fleets=[FleetRoster("taxi", 100, 2, 40.0), FleetRoster("van", 200, 1, 60.0)],
        days=2,
    )
    taxi_min = (6 + 20 + 4 + 5 + 10) / (2 * 2)
    assert out["taxi"]["lost_min_per_vehicle_day"] == pytest.approx(taxi_min)
    assert out["taxi"]["lost_cny_per_vehicle_day"] == pytest.approx(taxi_min / 60 * 40.0)
    assert out["taxi"]["sessions_per_vehicle_day"] == pytest.approx(2 / 4)
    assert out["van"]["lost_min_per_vehicle_day"] == pytest.approx(15 / 2)
    assert out["van"]["lost_cny_per_vehicle_day"] == pytest.approx(15 / 2 / 60 * 60.0)
