"""The charging simulation on synthetic demand: invariants and behaviours a user relies on."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.demand.model import Demand
from sim.des import (
    BALKED,
    CHARGED,
    NO_STATION,
    RENEGED,
    Access,
    DriverRules,
    Stations,
    TaperCurves,
    charge_minutes,
    simulate,
)


def make_demand(
    n: int,
    rng: np.random.Generator,
    *,
    rate_per_min: float = 0.2,
    patience: float = 30.0,
    energy: np.ndarray | None = None,
    depart: np.ndarray | None = None,
) -> Demand:
    dep = np.cumsum(rng.exponential(1 / rate_per_min, n)) if depart is None else depart
    e = rng.uniform(5, 40, n) if energy is None else energy
    return Demand(
        vehicle_id=np.arange(n, dtype=np.int64),
        segment=np.zeros(n, np.int8),
        origin=np.zeros(n, np.int64),
        depart_min=dep,
        energy_kwh=e,
        patience_min=rng.exponential(patience, n) if np.isfinite(patience) else np.full(n, np.inf),
        max_ac_kw=np.full(n, 7.0),
        max_dc_kw=rng.choice([40.0, 120.0], n),
        battery_kwh=np.full(n, 60.0),
        soc_start=np.clip(0.8 - e / 60.0, 0.0, 1.0),
        zone=np.zeros(n, np.int32),
        od=np.full(n, -1, np.int32),
        kwh_per_km=np.full(n, 0.15),
        exit_need_kwh=np.zeros(n),
    )


def make_stations(ports: list[int], power: float = 60.0, cap: float | None = None) -> Stations:
    m = len(ports)
    return Stations(
        site_id=tuple(f"s{i}" for i in range(m)),
        ports=np.array(ports, dtype=np.int64),
        power_kw=np.full(m, power),
        dc=np.ones(m, dtype=bool),
        grid_cap_kw=None if cap is None else np.full(m, cap),
    )


def make_access(
    n: int, home_min: list[float], between_min: float = 3.0, origin_row: np.ndarray | None = None
) -> Access:
    """Every session starts at one origin; stations ``between_min`` apart."""
    m = len(home_min)
    first = np.argsort(home_min, kind="stable")[None, :]
    between = np.full((m, m), between_min)
    np.fill_diagonal(between, np.inf)
    nxt = np.argsort(between, axis=1, kind="stable")
    nxt_t = np.take_along_axis(between, nxt, axis=1)
    return Access(
        origin_row=np.zeros(n, np.int64) if origin_row is None else origin_row,
        first_station=first.astype(np.int64),
        first_min=np.asarray(home_min, float)[first],
        next_station=np.where(np.isfinite(nxt_t), nxt, -1).astype(np.int64),
        next_min=nxt_t,
    )


def max_occupancy(start: np.ndarray, end: np.ndarray) -> int:
    t = np.concatenate([start, end])
    d = np.concatenate([np.ones(start.size), -np.ones(end.size)])
    order = np.lexsort((d, t))  # ends before starts at equal times
    return int(np.cumsum(d[order]).max()) if t.size else 0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 250),
    ports=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    rate=st.floats(0.01, 2.0),
    balk=st.one_of(st.none(), st.floats(0.0, 3.0)),
    attempts=st.integers(1, 4),
    choice=st.sampled_from(["nearest", "time_plus_wait"]),
    capped=st.booleans(),
)
def test_invariants(
    n: int,
    ports: list[int],
    seed: int,
    rate: float,
    balk: float | None,
    attempts: int,
    choice: str,
    capped: bool,
) -> None:
    rng = np.random.default_rng(seed)
    d = make_demand(n, rng, rate_per_min=rate)
    stations = make_stations(ports, cap=50.0 if capped else None)
    m = len(ports)
    # two origins: one reaches every station, one reaches none
    home = rng.uniform(0, 15, m)
    acc = make_access(n, list(home))
    acc = Access(
        origin_row=rng.integers(0, 2, n),
        first_station=np.vstack([acc.first_station, np.full((1, m), -1)]),
        first_min=np.vstack([acc.first_min, np.full((1, m), np.inf)]),
        next_station=acc.next_station,
        next_min=acc.next_min,
    )
    rules = DriverRules(choice=choice, balk_queue_per_port=balk, max_attempts=attempts)
    log = simulate(d, stations, access=acc, rules=rules)
    # every session appears, attempts numbered 0.. without gaps, at most max_attempts
    assert np.array_equal(np.unique(log.session), np.arange(n))
    assert (log.attempt < attempts).all()
    final = log.outcome[log.last_attempt()]
    assert final.shape == (n,)
    # no reachable station <=> no_station, and only then
    assert ((final == NO_STATION) == (acc.origin_row == 1)).all()
    # only the final attempt may be charged; earlier ones failed
    assert not (log.outcome[~log.last_attempt()] == CHARGED).any()
    charged = log.outcome == CHARGED
    # energy delivered equals what charged sessions asked for
    assert np.isclose(log.energy_kwh.sum(), d.energy_kwh[log.session[charged]].sum())
    # occupancy never exceeds ports
    for j, c in enumerate(ports):
        k = charged & (log.station == j)
        assert max_occupancy(log.start_min[k], log.end_min[k]) <= c
    ren = log.outcome == RENEGED
    assert np.allclose(log.wait_min[ren], d.patience_min[log.session[ren]])
    assert np.allclose(log.start_min[charged], log.arrival_min[charged] + log.wait_min[charged])
    assert (log.wait_min[log.outcome == BALKED] == 0).all()
    if capped:  # a site never draws more than its cap
        assert (log.power_kw[charged] <= 50.0 + 1e-6).all()


def test_same_input_same_log() -> None:
    rng = np.random.default_rng(1)
    d = make_demand(500, rng, rate_per_min=1.0)
    acc = make_access(500, [2.0, 4.0])
    a = simulate(d, make_stations([2, 1]), access=acc)
    b = simulate(d, make_stations([2, 1]), access=acc)
    for f in ("station", "start_min", "end_min", "wait_min", "outcome"):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)


def test_more_ports_mean_less_waiting() -> None:
    rng = np.random.default_rng(3)
    d = make_demand(2000, rng, rate_per_min=0.15, patience=np.inf)
    acc = make_access(2000, [0.0])
    rules = DriverRules(balk_queue_per_port=None, max_attempts=1)
    waits = [
        simulate(d, make_stations([c]), access=acc, rules=rules).wait_min.mean() for c in (2, 3, 6)
    ]
    assert waits[0] > waits[1] > waits[2] >= 0


def test_balking_driver_tries_the_next_station() -> None:
    rng = np.random.default_rng(0)
    n = 6
    # six drivers arrive at once at a 1-port station; they will not queue (threshold 0)
    d = make_demand(n, rng, depart=np.zeros(n), energy=np.full(n, 30.0), patience=np.inf)
    acc = make_access(n, [1.0, 5.0], between_min=4.0)
    rules = DriverRules(choice="nearest", balk_queue_per_port=0.0, max_attempts=2)
    log = simulate(d, make_stations([1, 1]), access=acc, rules=rules)
    final = log.outcome[log.last_attempt()]
    assert (final == CHARGED).sum() == 2  # one per station
    balked = log.outcome == BALKED
    assert balked.sum() == n - 1 + (n - 2)  # the rest balk at 0, then again at 1
    second = log.attempt == 1
    assert (log.station[second] == 1).all() and np.allclose(log.access_min[second], 4.0)


def test_choice_by_expected_wait_avoids_a_queue() -> None:
    rng = np.random.default_rng(0)
    n = 5
    d = make_demand(n, rng, depart=np.arange(n) * 2.0, energy=np.full(n, 40.0), patience=np.inf)
    acc = make_access(n, [1.0, 6.0])
    near = simulate(
        d,
        make_stations([1, 1]),
        access=acc,
        rules=DriverRules(choice="nearest", balk_queue_per_port=None),
    )
    smart = simulate(
        d,
        make_stations([1, 1]),
        access=acc,
        rules=DriverRules(choice="time_plus_wait", balk_queue_per_port=None),
    )
    assert (near.station == 0).all()
    assert set(smart.station.tolist()) == {0, 1}
    assert smart.wait_min.mean() < near.wait_min.mean()


def test_power_is_limited_by_vehicle_and_taper() -> None:
    e = np.array([30.0, 30.0])
    flat = charge_minutes(
        soc_start=np.array([0.2, 0.2]),
        energy_kwh=e,
        battery_kwh=np.array([60.0, 60.0]),
        vehicle_max_kw=np.array([40.0, 200.0]),
        port_kw=120.0,
        taper=TaperCurves.flat().dc,
    )
    assert np.allclose(flat, [30 / 40 * 60, 30 / 120 * 60])
    curves = TaperCurves.from_points(
        dc=[[0, 1], [0.5, 1], [0.8, 0.45], [1, 0.1]], ac=[[0, 1], [1, 1]]
    )
    tapered = charge_minutes(
        soc_start=np.array([0.2, 0.2]),
        energy_kwh=e,
        battery_kwh=np.array([60.0, 60.0]),
        vehicle_max_kw=np.array([40.0, 150.0]),
        port_kw=120.0,
        taper=curves.dc,
    )
    assert (tapered > flat).all()
    # exact value for the 150 kW car: 0.2->0.5 at 120 kW, then min(120, 150 x taper)
    s = np.linspace(0.5, 0.7, 200_001)
    p = np.minimum(120.0, 150.0 * np.interp(s, [0.5, 0.8], [1.0, 0.45]))
    exact = 60.0 * (0.3 * 60 / 120 + np.trapezoid(60.0 / p, s))
    assert tapered[1] == pytest.approx(exact, rel=1e-3)


def test_grid_cap_is_shared_between_ports() -> None:
    rng = np.random.default_rng(0)
    n = 4
    d = make_demand(n, rng, depart=np.zeros(n), energy=np.full(n, 20.0), patience=np.inf)
    d = Demand(**{**d.__dict__, "max_dc_kw": np.full(n, 120.0)})
    acc = make_access(n, [0.0])
    free = simulate(d, make_stations([4], power=60.0), access=acc)
    capped = simulate(d, make_stations([4], power=60.0, cap=120.0), access=acc)
    assert np.allclose(free.end_min, 20.0)  # 20 kWh at 60 kW
    assert np.allclose(capped.end_min, 40.0)  # 4 cars share 120 kW: 30 kW each
    assert np.allclose(capped.power_kw, 30.0)


def test_cap_frees_power_when_a_car_leaves() -> None:
    rng = np.random.default_rng(0)
    d = make_demand(2, rng, depart=np.zeros(2), energy=np.array([10.0, 30.0]), patience=np.inf)
    d = Demand(**{**d.__dict__, "max_dc_kw": np.full(2, 120.0)})
    log = simulate(d, make_stations([2], power=60.0, cap=60.0), access=make_access(2, [0.0]))
    # both at 30 kW until the first has 10 kWh (20 min); then the second gets 60 kW:
    # it had 20 kWh left -> 20 more minutes
    assert np.allclose(np.sort(log.end_min), [20.0, 40.0])


def test_a_capped_site_follows_the_charging_curve() -> None:
    """Alone at a capped site a car still tapers: 36 kWh from 20% on a 120-kW car take
    22 min on a free 150-kW port (18 min without the taper).  The shared power is
    re-balanced every 5 min, so the capped time is close, not exact."""
    curves = TaperCurves.from_points(
        dc=[[0, 1], [0.5, 1], [0.8, 0.45], [1, 0.1]], ac=[[0, 1], [1, 1]]
    )
    d = make_demand(1, np.random.default_rng(0), depart=np.zeros(1), energy=np.array([36.0]))
    d = Demand(
        **{
            **d.__dict__,
            "max_dc_kw": np.full(1, 120.0),
            "soc_start": np.full(1, 0.2),
            "patience_min": np.full(1, np.inf),
        }
    )
    acc = make_access(1, [0.0])
    free = simulate(d, make_stations([2], power=150.0), access=acc, taper=curves)
    capped = simulate(d, make_stations([2], power=150.0, cap=200.0), access=acc, taper=curves)
    assert free.end_min[0] == pytest.approx(22.07, abs=0.01)
    assert capped.end_min[0] == pytest.approx(free.end_min[0], rel=0.1)
    assert capped.end_min[0] > 19.0


def test_load_profile_conserves_energy_and_respects_ports() -> None:
    from sim.metrics.scores import load_profile

    rng = np.random.default_rng(5)
    d = make_demand(400, rng, rate_per_min=0.1)
    stations = make_stations([2, 3], power=60.0)
    log = simulate(d, stations, access=make_access(400, [1.0, 2.0]))
    horizon = float(np.ceil((np.nanmax(log.end_min) + 1.0) / 15.0) * 15.0)
    load = load_profile(log, 2, horizon_min=horizon)
    # energy in the profile (kW x 0.25 h) equals the energy delivered
    assert load.sum() * 0.25 == pytest.approx(log.energy_kwh.sum(), rel=1e-9)
    # a 15-minute mean never exceeds the ports' total rating
    assert (load[0] <= 2 * 60 + 1e-6).all() and (load[1] <= 3 * 60 + 1e-6).all()


def test_queue_profile_counts_waiting_vehicles() -> None:
    from sim.metrics.scores import queue_profile

    rng = np.random.default_rng(2)
    n = 5
    # five cars at t=0 on one port, each charging 60 min: queue 4,3,2,1 over the hours
    d = make_demand(n, rng, depart=np.zeros(n), energy=np.full(n, 60.0), patience=np.inf)
    d = Demand(
        **{
            **d.__dict__,
            "max_dc_kw": np.full(n, 60.0),
            "soc_start": np.zeros(n),
            "battery_kwh": np.full(n, 1000.0),
        }
    )
    log = simulate(
        d,
        make_stations([1], power=60.0),
        access=make_access(n, [0.0]),
        rules=DriverRules(balk_queue_per_port=None),
    )
    peak, mean = queue_profile(log, 1, horizon_min=360.0)
    assert peak[0, :5].tolist() == [4, 3, 2, 1, 0]
    assert np.allclose(mean[0, :5], [4, 3, 2, 1, 0])


@settings(max_examples=200, deadline=None)
@given(
    soc=st.floats(0.0, 0.95),
    kwh=st.floats(0.1, 80.0),
    battery=st.floats(20.0, 120.0),
    vmax=st.floats(3.0, 300.0),
    port=st.floats(3.0, 480.0),
)
def test_exact_charge_time_matches_the_integral(
    soc: float, kwh: float, battery: float, vmax: float, port: float
) -> None:
    from sim.des import charge_minutes_one

    curve = [[0, 1], [0.5, 1], [0.8, 0.45], [1, 0.1]]
    socs, shares = [p[0] for p in curve], [p[1] for p in curve]
    kwh = min(kwh, (1.0 - soc) * battery * 0.999)
    exact = charge_minutes_one(soc, kwh, battery, vmax, port, socs, shares)
    s = np.linspace(soc, soc + kwh / battery, 20_001)
    p = np.minimum(port, vmax * np.interp(s, socs, shares))
    numeric = 60.0 * np.trapezoid(battery / p, s)
    assert exact == pytest.approx(numeric, rel=1e-4)


def _pool_trace(
    make: str, capacity: int, customers: list[tuple[int, int, int, int]]
) -> list[tuple[float, int, str]]:
    """What each customer does, and when, at one station of ``capacity`` ports run by
    ``simpy.Resource`` (``make="simpy"``) or :class:`~sim.des.stations.PortPool`.

    A customer ``(arrive, patience, hold, again)`` arrives at ``arrive``, waits for a
    port up to ``patience`` (``request | timeout``, as the model does), holds it for
    ``hold``, and after reneging comes back ``again`` later, once.  Integer times, so
    that many things happen at the same time (where the order of events shows).
    """
    import simpy

    from sim.des.stations import PortPool, first_of

    env = simpy.Environment()
    # either kind of pool, used through what both have (a simpy Request cancels itself)
    pool: Any = simpy.Resource(env, capacity) if make == "simpy" else PortPool(env, capacity)
    trace: list[tuple[float, int, str]] = []

    def cancel(req: Any) -> None:
        if isinstance(pool, PortPool):
            pool.cancel(req)
        else:
            req.cancel()

    def customer(
        c: int, arrive: int, patience: int, hold: int, again: int
    ) -> Generator[simpy.Event, object, None]:
        yield env.timeout(arrive)
        for _ in range(2):
            req = pool.request()
            if not req.triggered:
                yield first_of(env, req, env.timeout(patience))
            if req.triggered:
                trace.append((env.now, c, "start"))
                yield env.timeout(hold)
                pool.release(req)
                trace.append((env.now, c, "end"))
                return
            cancel(req)
            trace.append((env.now, c, "renege"))
            yield env.timeout(again)

    for c, args in enumerate(customers):
        env.process(customer(c, *args))
    env.run()
    return trace


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 3),
    customers=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)),
        min_size=1,
        max_size=25,
    ),
)
def test_port_pool_is_simpy_resource_event_for_event(
    capacity: int, customers: list[tuple[int, int, int, int]]
) -> None:
    # the model's ports must serve, queue and renege exactly as simpy.Resource would,
    # including the order of everything happening at the same time
    assert _pool_trace("pool", capacity, customers) == _pool_trace("simpy", capacity, customers)
