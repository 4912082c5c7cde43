"""Swap stations in SimPy against queueing theory, and the pack count at every instant.

Two limits of a swap station have textbook answers (see docs/swap.md):

- ample charged packs: drivers queue only for the bays, an M/G/c queue on the bays,
  Erlang C when swap times are exponential;
- instantaneous swaps, ample bays and one charger per pack: drivers wait for a pack,
  an M/G/N queue on the N packs with the recharge time as the service, Erlang C when
  recharge times are exponential.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.des.swap import SwapOutcome, SwapSites, SwapStations, swap_time_factors
from sim.siting.sizing import erlang_c

FLAT = (np.array([0.0, 1.0]), np.array([1.0, 1.0]))


def sites(
    *,
    bays: int,
    packs: int,
    chargers: int,
    charger_kw: float = 60.0,
    pack_kwh: float = 70.0,
    swap_min: float = 5.0,
    cap_kw: float | None = None,
    taper: tuple[np.ndarray, np.ndarray] = FLAT,
) -> SwapSites:
    return SwapSites(
        site_id=("s0",),
        site=np.array([0]),
        bays=np.array([bays]),
        packs=np.array([packs]),
        pack_chargers=np.array([chargers]),
        charger_kw=np.array([charger_kw]),
        pack_kwh=np.array([pack_kwh]),
        swap_min=np.array([swap_min]),
        swap_distribution=("exponential",),
        swap_cv=np.array([0.0]),
        pack_types=(frozenset({"a"}),),
        taper=taper,
        grid_cap_kw=None if cap_kw is None else np.array([cap_kw]),
    )


def batch_se(x: np.ndarray, batches: int = 20) -> float:
    """Standard error of the mean of a correlated series, by batch means."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(means.std(ddof=1) / math.sqrt(batches))


def assert_close_to_theory(waits: np.ndarray, expected: float) -> None:
    """The mean wait within 4 batch-means standard errors of theory, and within 10%."""
    se = batch_se(waits)
    assert abs(waits.mean() - expected) < 4 * se, (waits.mean(), expected, se)
    assert waits.mean() == pytest.approx(expected, rel=0.10)


def run_station(
    station_sites: SwapSites,
    *,
    arrivals: np.ndarray,
    socs: np.ndarray,
    factors: np.ndarray,
    patience: np.ndarray | None = None,
    balk_queue_per_bay: float | None = None,
    check_every_step: bool = False,
) -> list[SwapOutcome]:
    env = simpy.Environment()
    st_ = SwapStations(env, station_sites, balk_queue_per_bay=balk_queue_per_bay)
    n = arrivals.shape[0]
    pat = np.full(n, np.inf) if patience is None else patience
    out: list[SwapOutcome] = []
    total = int(station_sites.packs[0])

    def driver(i: int) -> Generator[simpy.Event, object, None]:
        res = yield from st_.visit(
            0, soc=float(socs[i]), patience_min=float(pat[i]), swap_factor=float(factors[i])
        )
        out.append(res)

    def source() -> Generator[simpy.Event, object, None]:
        last = 0.0
        for i in range(n):
            yield env.timeout(float(arrivals[i]) - last)
            last = float(arrivals[i])
            env.process(driver(i))

    env.process(source())
    if check_every_step:
        while env.peek() < math.inf:
            env.step()
            assert st_.pack_count(0) == total
            assert 0 <= st_.charged(0) <= total
    else:
        env.run()
    return out


@pytest.mark.parametrize(("bays", "rho"), [(1, 0.6), (3, 0.7)])
def test_ample_packs_is_erlang_c_on_the_bays(bays: int, rho: float) -> None:
    rng = np.random.default_rng(7)
    n, swap = 50_000, 5.0
    lam = rho * bays / swap
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    out = run_station(
        sites(bays=bays, packs=400, chargers=400, swap_min=swap),
        arrivals=arrivals,
        socs=np.full(n, 0.2),
        factors=swap_time_factors(rng.random(n), distribution="exponential", cv=0.0),
    )
    waits = np.array([o.wait_min for o in out])
    pack_waits = np.array([o.pack_wait_min for o in out])
    assert all(o.outcome == "swapped" for o in out)
    assert np.all(pack_waits == 0.0)  # packs never run out
    p_wait = float(erlang_c(bays, lam * swap))
    assert_close_to_theory(waits, p_wait / (bays / swap - lam))
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.02)


@pytest.mark.parametrize(("packs", "rho"), [(2, 0.6), (5, 0.7)])
def test_instant_swaps_are_erlang_c_on_the_packs(packs: int, rho: float) -> None:
    rng = np.random.default_rng(11)
    n = 50_000
    # a huge pack on a 60 kW charger takes E minutes for E kWh: exponential energy,
    # exponential recharge time with mean 30 min
    pack_kwh, mean_recharge = 1e9, 30.0
    energy = rng.exponential(mean_recharge, n)
    lam = rho * packs / mean_recharge
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    out = run_station(
        sites(bays=1000, packs=packs, chargers=packs, pack_kwh=pack_kwh, swap_min=0.0),
        arrivals=arrivals,
        socs=1.0 - energy / pack_kwh,
        factors=np.ones(n),
    )
    waits = np.array([o.pack_wait_min for o in out])
    p_wait = float(erlang_c(packs, lam * mean_recharge))
    assert_close_to_theory(waits, p_wait / (packs / mean_recharge - lam))
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.02)
    # bay waits are pack waits only: no driver waits for a bay
    assert np.allclose([o.wait_min for o in out], waits)


@settings(max_examples=40, deadline=None)
@given(
    bays=st.integers(1, 3),
    packs=st.integers(1, 5),
    chargers=st.integers(1, 5),
    cap=st.one_of(st.none(), st.floats(10.0, 200.0)),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    balk=st.one_of(st.none(), st.floats(0.0, 3.0)),
)
def test_packs_are_conserved_at_every_instant(
    bays: int, packs: int, chargers: int, cap: float | None, n: int, seed: int, balk: float | None
) -> None:
    rng = np.random.default_rng(seed)
    taper = (np.array([0.0, 0.5, 1.0]), np.array([1.0, 1.0, 0.3]))
    out = run_station(
        sites(bays=bays, packs=packs, chargers=chargers, cap_kw=cap, taper=taper),
        arrivals=np.cumsum(rng.exponential(3.0, n)),
        socs=rng.uniform(0.0, 0.6, n),
        factors=rng.exponential(1.0, n),
        patience=rng.exponential(20.0, n),
        balk_queue_per_bay=balk,
        check_every_step=True,
    )
    assert len(out) == n
    for o in out:
        if o.outcome == "swapped":
            assert o.wait_min >= o.pack_wait_min >= 0.0
            assert o.end_min >= o.start_min >= o.arrival_min
        elif o.outcome == "reneged":
            assert o.wait_min >= 0.0


def test_pack_trace_adds_up_and_shows_packs_waiting_for_a_charger() -> None:
    # four drivers swap at once at a station of 4 packs and 1 charger: 3 returned packs
    # wait while the first charges; every recorded state holds all 4 packs
    env = simpy.Environment()
    s = SwapStations(env, sites(bays=4, packs=4, chargers=1, pack_kwh=60.0, swap_min=1.0))

    def driver() -> Generator[simpy.Event, object, None]:
        yield from s.visit(0, soc=0.5, patience_min=math.inf, swap_factor=1.0)

    for _ in range(4):
        env.process(driver())
    env.run()
    trace = np.array(s.pack_trace[0])
    assert (trace[:, 1:].sum(axis=1) == 4).all()
    assert trace[:, 2].max() == 1  # never more on a charger than the station has
    assert tuple(trace[-1, 1:]) == (4, 0, 0) and s.charged(0) == 4
    # sampled as pack_stock.parquet samples it: the same sums at any instant
    from sim.des.swap import SwapTrace

    packs = SwapTrace(
        site=np.array([0]),
        site_id=("s",),
        stock=(np.array(s.stock_trace[0], float),),
        charge_station=np.zeros(0, np.int64),
        charge_start_min=np.zeros(0),
        charge_end_min=np.zeros(0),
        charge_kwh=np.zeros(0),
        packs=(trace.astype(float),),
    ).packs_every(5.0, horizon_min=float(trace[-1, 0]) + 5.0)
    assert (packs.sum(axis=2) == 4).all()
    assert tuple(packs[0, 1]) == (0, 1, 3)  # at 5 min: none charged, 1 charging, 3 wait


def test_grid_cap_shares_power_between_pack_chargers() -> None:
    # two drivers swap at once; each leaves a pack needing 30 kWh; two 60 kW chargers
    # recharge them in 30 min, but a 60 kW site cap shares one charger's power: 60 min
    def restocked_at(cap: float | None) -> float:
        env = simpy.Environment()
        s = SwapStations(
            env, sites(bays=2, packs=2, chargers=2, pack_kwh=60.0, swap_min=1.0, cap_kw=cap)
        )

        def driver() -> Generator[simpy.Event, object, None]:
            yield from s.visit(0, soc=0.5, patience_min=math.inf, swap_factor=1.0)

        env.process(driver())
        env.process(driver())
        env.run()
        assert s.charged(0) == 2
        return s.stock_trace[0][-1][0]

    assert restocked_at(None) == pytest.approx(30.0)
    assert restocked_at(60.0) == pytest.approx(60.0)


def test_driver_waits_for_the_next_charged_pack_and_reneges_when_impatient() -> None:
    env = simpy.Environment()
    s = SwapStations(env, sites(bays=2, packs=1, chargers=1, pack_kwh=60.0, swap_min=2.0))
    got: dict[str, SwapOutcome] = {}

    def driver(name: str, at: float, patience: float) -> Generator[simpy.Event, object, None]:
        yield env.timeout(at)
        got[name] = yield from s.visit(0, soc=0.0, patience_min=patience, swap_factor=1.0)

    env.process(driver("first", 0.0, math.inf))  # takes the only pack; its pack: 60 min
    env.process(driver("patient", 1.0, 120.0))  # waits in the free bay for that pack
    env.process(driver("hasty", 3.0, 10.0))  # no pack within 10 min
    env.run()
    assert got["first"].pack_wait_min == 0.0
    assert got["patient"].outcome == "swapped"
    assert got["patient"].start_min == pytest.approx(60.0)  # the first pack, recharged
    assert got["patient"].pack_wait_min == pytest.approx(59.0)
    assert got["hasty"].outcome == "reneged"
    assert got["hasty"].wait_min == pytest.approx(10.0)
    assert got["first"].energy_kwh == pytest.approx(60.0)


def test_swap_time_factors_have_unit_mean_and_the_asked_spread() -> None:
    u = np.random.default_rng(3).random(200_000)
    assert np.all(swap_time_factors(u, distribution="deterministic", cv=0.0) == 1.0)
    exp = swap_time_factors(u, distribution="exponential", cv=0.0)
    assert exp.mean() == pytest.approx(1.0, abs=0.01)
    assert exp.std() == pytest.approx(1.0, abs=0.02)
    logn = swap_time_factors(u, distribution="lognormal", cv=0.4)
    assert logn.mean() == pytest.approx(1.0, abs=0.01)
    assert logn.std() / logn.mean() == pytest.approx(0.4, abs=0.01)
