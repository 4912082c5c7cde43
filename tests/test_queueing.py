"""The simulation against queueing theory: M/M/c mean wait equals Erlang C."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.demand.model import Demand
from sim.des import CHARGED, DriverRules, Stations, simulate
from tests.test_des import make_access


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Textbook M/M/c mean wait in queue (direct sum form)."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / (math.factorial(c) * (1 - rho))
    p_wait = tail / (head + tail)
    return p_wait / (c * mu - lam)


def _mmc_demand(n: int, lam: float, mean_service_min: float, seed: int) -> Demand:
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    # At 60 kW a session of E kWh takes E minutes: exponential energy = exponential time.
    energy = rng.exponential(mean_service_min, n)
    return Demand(
        vehicle_id=np.arange(n, dtype=np.int64),
        segment=np.zeros(n, np.int8),
        origin=np.zeros(n, np.int64),
        depart_min=arrivals,
        energy_kwh=energy,
        patience_min=np.full(n, np.inf),
        max_ac_kw=np.full(n, 60.0),
        max_dc_kw=np.full(n, 60.0),
        battery_kwh=np.full(n, 1e9),
        soc_start=np.zeros(n),
        zone=np.zeros(n, np.int32),
        od=np.full(n, -1, np.int32),
        kwh_per_km=np.full(n, 0.15),
        exit_need_kwh=np.zeros(n),
    )


@pytest.mark.parametrize(
    ("c", "rho", "n"),
    # Heavy traffic relaxes slowly: the standard error of the mean wait at rho = 0.9 is
    # about 5.6% per 180,000 sessions (measured), so that load gets 1.5 million.
    [
        (1, 0.5, 150_000),
        (2, 0.7, 250_000),
        pytest.param(4, 0.8, 400_000, marks=pytest.mark.slow),  # about 30 s
        pytest.param(4, 0.9, 1_500_000, marks=pytest.mark.slow),  # about 60 s
    ],
)
def test_mmc_mean_wait_matches_erlang_c(c: int, rho: float, n: int) -> None:
    mean_service = 30.0  # min
    mu = 1 / mean_service
    lam = rho * c * mu
    expected = erlang_c_wait(lam, mu, c)
    waits = []
    for seed in range(5):  # independent replications, pooled
        d = _mmc_demand(n // 5, lam, mean_service, seed=seed)
        stations = Stations(
            site_id=("s",), ports=np.array([c]), power_kw=np.array([60.0]), dc=np.array([True])
        )
        log = simulate(
            d,
            stations,
            access=make_access(len(d), [0.0]),
            rules=DriverRules(balk_queue_per_port=None, max_attempts=1),
        )
        assert (log.outcome == CHARGED).all()
        w = log.wait_min[len(d) // 10 :]  # drop the warm-up from an empty system
        waits.append(w.mean())
    got = float(np.mean(waits))
    assert got == pytest.approx(expected, rel=0.05), (got, expected)
