"""The charging simulation on synthetic demand: invariants a user relies on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.demand.model import Demand
from sim.des.model import CHARGED, NO_STATION, RENEGED, Stations, simulate


def _demand(n: int, rng: np.random.Generator, *, rate_per_min: float = 0.2,
            patience: float = 30.0) -> Demand:
    depart = np.cumsum(rng.exponential(1 / rate_per_min, n))
    energy = rng.uniform(5, 40, n)
    return Demand(
        vehicle_id=np.arange(n, dtype=np.int64),
        segment=np.zeros(n, np.int8),
        origin=np.zeros(n, np.int64),
        depart_min=depart,
        energy_kwh=energy,
        patience_min=rng.exponential(patience, n),
        max_ac_kw=np.full(n, 7.0),
        max_dc_kw=rng.choice([40.0, 120.0], n),
        battery_kwh=np.full(n, 60.0),
        soc_start=0.8 - energy / 60.0,
        zone=np.zeros(n, np.int32),
    )


def _stations(ports: list[int], power: float = 60.0) -> Stations:
    m = len(ports)
    return Stations(
        site_id=tuple(f"s{i}" for i in range(m)),
        ports=np.array(ports, dtype=np.int64),
        power_kw=np.full(m, power),
        dc=np.ones(m, dtype=bool),
    )


def _max_occupancy(start: np.ndarray, end: np.ndarray) -> int:
    t = np.concatenate([start, end])
    d = np.concatenate([np.ones(start.size), -np.ones(end.size)])
    order = np.lexsort((d, t))  # ends before starts at equal times
    return int(np.cumsum(d[order]).max()) if t.size else 0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    ports=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    rate=st.floats(0.01, 2.0),
)
def test_invariants(n: int, ports: list[int], seed: int, rate: float) -> None:
    rng = np.random.default_rng(seed)
    d = _demand(n, rng, rate_per_min=rate)
    stations = _stations(ports)
    choice = rng.integers(-1, len(ports), n)
    access = rng.uniform(0, 15, n)
    log = simulate(d, stations, choice=choice, access_min=access)
    # each arrival ends in exactly one outcome
    assert len(log) == n and set(np.unique(log.outcome)) <= {CHARGED, RENEGED, NO_STATION}
    assert ((log.outcome == NO_STATION) == (choice < 0)).all()
    charged = log.outcome == CHARGED
    # energy delivered equals what charged sessions asked for
    assert np.isclose(log.energy_kwh.sum(), d.energy_kwh[charged].sum())
    # occupancy never exceeds ports
    for j, c in enumerate(ports):
        k = charged & (log.station == j)
        assert _max_occupancy(log.start_min[k], log.end_min[k]) <= c
    # waits are non-negative, reneged drivers waited exactly their patience
    assert (log.wait_min[log.station >= 0] >= -1e-9).all()
    ren = log.outcome == RENEGED
    assert np.allclose(log.wait_min[ren], d.patience_min[ren])
    # the start of charging is arrival + wait
    assert np.allclose(log.start_min[charged], log.arrival_min[charged] + log.wait_min[charged])


def test_same_input_same_log() -> None:
    rng = np.random.default_rng(1)
    d = _demand(500, rng, rate_per_min=1.0)
    choice = rng.integers(0, 2, 500)
    access = rng.uniform(0, 10, 500)
    a = simulate(d, _stations([2, 1]), choice=choice, access_min=access)
    b = simulate(d, _stations([2, 1]), choice=choice, access_min=access)
    for f in ("start_min", "end_min", "wait_min", "outcome"):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)


def test_more_ports_mean_less_waiting() -> None:
    rng = np.random.default_rng(3)
    d = _demand(2000, rng, rate_per_min=0.15, patience=1e9)
    choice = np.zeros(2000, np.int64)
    access = np.zeros(2000)
    waits = [
        simulate(d, _stations([c]), choice=choice, access_min=access).wait_min.mean()
        for c in (2, 3, 6)
    ]
    assert waits[0] > waits[1] > waits[2] >= 0


def test_power_is_limited_by_vehicle() -> None:
    rng = np.random.default_rng(0)
    d = _demand(50, rng, rate_per_min=0.001)
    log = simulate(d, _stations([10], power=120.0), choice=np.zeros(50, np.int64),
                   access_min=np.zeros(50))
    ok = log.outcome == CHARGED
    assert np.allclose(log.power_kw[ok], np.minimum(120.0, d.max_dc_kw[ok]))
    dur = log.end_min[ok] - log.start_min[ok]
    assert np.allclose(dur, d.energy_kwh[ok] / log.power_kw[ok] * 60.0)
