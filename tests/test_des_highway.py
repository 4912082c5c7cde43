"""The simulation with through-traffic on a hand-made expressway, and the log's
invariants with residents and through vehicles sharing the stations."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.demand.model import Demand, merge_demand
from sim.des import (
    CHARGED,
    NO_STATION,
    STRANDED,
    Access,
    DriverRules,
    HighwayAccess,
    SessionLog,
    Stations,
    simulate,
)
from sim.des.highway import FULL_SOC
from tests.test_des import make_access, make_demand, max_occupancy

MIN_PER_KM = 0.6  # 100 km/h


def corridor(
    pos_km: list[float],
    detour_min: list[float],
    *,
    route_km: float = 200.0,
    detour_max_min: float = 10.0,
    target_soc: float = 0.8,
) -> HighwayAccess:
    """One entry, one exit ``route_km`` further on, stations at ``pos_km`` beside the
    road, each costing ``detour_min`` (half on the way in, half on the way out)."""
    pos = np.asarray(pos_km, float)
    det = np.asarray(detour_min, float)
    m = pos.size
    order = np.argsort(pos, kind="stable")
    to_exit_km = (route_km - pos)[:, None]
    nxt = np.full((m, 1, m), -1, np.int64)
    n_km = np.full((m, 1, m), np.inf)
    n_min = np.full((m, 1, m), np.inf)
    n_det = np.full((m, 1, m), np.inf)
    for j in range(m):
        ahead = [s for s in order if pos[s] > pos[j]]
        for k, s in enumerate(ahead):
            nxt[j, 0, k] = s
            n_km[j, 0, k] = pos[s] - pos[j]
            n_min[j, 0, k] = n_km[j, 0, k] * MIN_PER_KM + (det[j] + det[s]) / 2
            n_det[j, 0, k] = det[s]
    return HighwayAccess(
        od_station=order[None, :].astype(np.int64),
        od_drive_min=(pos * MIN_PER_KM + det / 2)[order][None, :],
        od_drive_km=pos[order][None, :],
        od_detour_min=det[order][None, :],
        od_route_min=np.array([route_km * MIN_PER_KM]),
        od_route_km=np.array([route_km]),
        od_exit=np.zeros(1, np.int64),
        to_exit_min=to_exit_km * MIN_PER_KM + det[:, None] / 2,
        to_exit_km=to_exit_km,
        next_station=nxt,
        next_drive_min=n_min,
        next_drive_km=n_km,
        next_detour_min=n_det,
        detour_max_min=detour_max_min,
        target_soc=target_soc,
        reserve_soc=0.1,
    )


def through_traffic(
    depart: np.ndarray,
    *,
    soc: np.ndarray,
    patience: np.ndarray,
    battery: float = 60.0,
    per_km: float = 0.15,
    first_id: int = 1_000_000,
) -> Demand:
    n = depart.size
    return Demand(
        vehicle_id=first_id + np.arange(n, dtype=np.int64),
        segment=np.ones(n, np.int8),
        origin=np.zeros(n, np.int64),
        depart_min=depart,
        energy_kwh=np.full(n, 30.0),
        patience_min=patience,
        max_ac_kw=np.full(n, 11.0),
        max_dc_kw=np.full(n, 120.0),
        battery_kwh=np.full(n, battery),
        soc_start=soc,
        zone=np.full(n, -1, np.int32),
        od=np.zeros(n, np.int32),
        kwh_per_km=np.full(n, per_km),
        exit_need_kwh=np.full(n, 6.0),
    )


def dc_stations(ports: list[int], power_kw: list[float]) -> Stations:
    return Stations(
        site_id=tuple(f"sa{j}" for j in range(len(ports))),
        ports=np.array(ports, np.int64),
        power_kw=np.array(power_kw, float),
        dc=np.ones(len(ports), bool),
    )


def no_resident_access(n: int, m: int) -> Access:
    return Access(
        origin_row=np.zeros(n, np.int64),
        first_station=np.full((1, 1), -1, np.int64),
        first_min=np.full((1, 1), np.inf),
        next_station=np.full((m, 1), -1, np.int64),
        next_min=np.full((m, 1), np.inf),
    )


def test_through_driver_queues_where_its_own_charge_is_quicker() -> None:
    """Two service areas with one car charging at each: at the nearer one (50 kW ports)
    this driver's charge to 80% would take 41 min, at the next (150 kW; its car takes
    120 kW) 18 min.  It drives on to the fast one: the same queue clears sooner there
    (with a fixed session length both queues would look alike, and the nearer win)."""
    stations = dc_stations([1, 1], [50.0, 150.0])
    hw = corridor([50.0, 60.0], [2.0, 4.0])
    # the two blockers: residents at each station from t = 0, charging for hours
    blockers = make_demand(
        2, np.random.default_rng(0), depart=np.zeros(2), energy=np.full(2, 200.0), patience=np.inf
    )
    blockers = Demand(
        **{**blockers.__dict__, "battery_kwh": np.full(2, 1e4), "max_dc_kw": np.full(2, 120.0)}
    )
    driver = through_traffic(np.array([1.0]), soc=np.array([0.35]), patience=np.array([240.0]))
    d = merge_demand(blockers, driver)
    acc = Access(
        origin_row=np.array([0, 1, 0]),  # blocker 0 reaches station 0 only, blocker 1 station 1
        first_station=np.array([[0], [1]]),
        first_min=np.zeros((2, 1)),
        next_station=np.full((2, 1), -1),
        next_min=np.full((2, 1), np.inf),
    )
    log = simulate(d, stations, access=acc, highway=hw, rules=DriverRules(balk_queue_per_port=None))
    through = log.session == 2
    assert log.station[through][0] == 1
    assert log.outcome[through][-1] == CHARGED


def test_through_driver_charges_to_the_target_and_leaves() -> None:
    stations = dc_stations([2, 2], [120.0, 120.0])
    hw = corridor([60.0, 120.0], [2.0, 2.0], target_soc=0.8)
    # 0.35 x 60 = 21 kWh on board; the route needs 30 kWh + 6 kWh beyond the exit
    d = through_traffic(np.array([0.0]), soc=np.array([0.35]), patience=np.array([60.0]))
    log = simulate(d, stations, access=no_resident_access(1, 2), highway=hw)
    assert log.outcome.tolist() == [CHARGED]
    # the station at 120 km would leave it 3 kWh, below its 6-kWh reserve: it stops at
    # 60 km (12 kWh left) and charges to 80% (48 kWh), enough for the rest
    assert log.station.tolist() == [0]
    assert log.energy_kwh[0] == pytest.approx(48.0 - 12.0)
    assert log.detour_min[0] == pytest.approx(2.0)


def test_through_driver_runs_flat_when_nothing_is_in_reach() -> None:
    stations = dc_stations([1], [120.0])
    hw = corridor([100.0], [2.0])
    # 0.1 x 60 = 6 kWh: 40 km of range, the station is 100 km on
    d = through_traffic(np.array([30.0]), soc=np.array([0.1]), patience=np.array([60.0]))
    log = simulate(d, stations, access=no_resident_access(1, 1), highway=hw)
    assert log.outcome.tolist() == [STRANDED]
    assert log.station.tolist() == [-1]  # never reached a station
    assert log.arrival_min.tolist() == [30.0]  # where it entered


def test_simulate_restores_the_garbage_collector() -> None:
    d = make_demand(20, np.random.default_rng(0))
    stations = dc_stations([1], [60.0])
    assert gc.isenabled()
    simulate(d, stations, access=make_access(20, [1.0]))
    assert gc.isenabled()
    gc.disable()
    try:
        simulate(d, stations, access=make_access(20, [1.0]))
        assert not gc.isenabled()
    finally:
        gc.enable()


def assert_same(a: SessionLog, b: SessionLog) -> None:
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f


@settings(max_examples=40, deadline=None)
@given(
    n_res=st.integers(0, 120),
    n_hw=st.integers(0, 120),
    ports=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    balk=st.one_of(st.none(), st.floats(0.0, 3.0)),
    attempts=st.integers(1, 4),
    choice=st.sampled_from(["nearest", "time_plus_wait"]),
)
def test_mixed_traffic_invariants(
    n_res: int,
    n_hw: int,
    ports: list[int],
    seed: int,
    balk: float | None,
    attempts: int,
    choice: str,
) -> None:
    rng = np.random.default_rng(seed)
    m = len(ports)
    stations = dc_stations(ports, rng.choice([50.0, 120.0, 150.0], m).tolist())
    hw = corridor(rng.uniform(10, 190, m).tolist(), rng.uniform(0, 15, m).tolist())
    res = make_demand(n_res, rng, rate_per_min=0.3)
    through = through_traffic(
        np.sort(rng.uniform(0, 300, n_hw)),
        soc=rng.uniform(0.05, 0.55, n_hw),  # all need to charge: 36 kWh to leave
        patience=rng.exponential(60.0, n_hw),
    )
    d = merge_demand(res, through)
    n = len(d)
    if n == 0:
        return
    acc = make_access(n, rng.uniform(0, 15, m).tolist())
    rules = DriverRules(choice=choice, balk_queue_per_port=balk, max_attempts=attempts)
    log = simulate(d, stations, access=acc, highway=hw, rules=rules)

    # every session has its attempts numbered 0, 1, ... and one final outcome
    counts = np.bincount(log.session, minlength=n)
    assert (counts >= 1).all()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    assert np.array_equal(log.attempt, np.arange(len(log)) - np.repeat(starts, counts))
    last = log.last_attempt()
    assert last.sum() == n
    # stranded and no_station end a session; no_station is its only row
    assert not np.isin(log.outcome[~last], [STRANDED, NO_STATION]).any()
    assert (counts[log.session[log.outcome == NO_STATION]] == 1).all()
    # occupancy never exceeds the ports
    charged = log.outcome == CHARGED
    for j, c in enumerate(ports):
        k = charged & (log.station == j)
        assert max_occupancy(log.start_min[k], log.end_min[k]) <= c
    # residents charge exactly what they need, once; through vehicles at most to 95%
    is_res = d.segment[log.session] == 0
    assert np.allclose(
        log.energy_kwh[charged & is_res], d.energy_kwh[log.session[charged & is_res]]
    )
    assert not (charged & is_res & ~last).any()
    assert (log.energy_kwh[charged & ~is_res] <= FULL_SOC * 60.0 + 1e-9).all()
    # the same input gives the same log
    assert_same(log, simulate(d, stations, access=acc, highway=hw, rules=rules))
