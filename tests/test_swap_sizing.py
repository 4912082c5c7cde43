"""Swap-station sizing: the pack-wait law against the simulation, and sized stations
meeting their target when simulated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sim.des.swap import swap_time_factors
from sim.errors import SolverInputError
from sim.siting.swap_sizing import bay_wait_exceeds, pack_wait, size_swap_station
from tests.test_swap_station import assert_close_to_theory, run_station, sites


def exponential_recharge(n: int, mean_min: float, rng: np.random.Generator) -> np.ndarray:
    """States of charge of returned packs whose recharge on a 60 kW charger takes an
    exponential time of mean ``mean_min`` (a huge pack takes E minutes for E kWh)."""
    return 1.0 - rng.exponential(mean_min, n) / 1e9


@pytest.mark.parametrize(("packs", "chargers", "rho"), [(6, 2, 0.7), (4, 3, 0.8)])
def test_fewer_chargers_than_packs_is_an_mmm_queue_shifted_by_the_spare_packs(
    packs: int, chargers: int, rho: float
) -> None:
    rng = np.random.default_rng(5)
    n, recharge = 50_000, 30.0
    lam = rho * chargers / recharge  # per min
    out = run_station(
        sites(bays=1000, packs=packs, chargers=chargers, pack_kwh=1e9, swap_min=0.0),
        arrivals=np.cumsum(rng.exponential(1 / lam, n)),
        socs=exponential_recharge(n, recharge, rng),
        factors=np.ones(n),
    )
    waits = np.array([o.pack_wait_min for o in out])
    p_wait, mean_h = pack_wait(lam * 60.0, recharge / 60.0, packs=packs, chargers=chargers)
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.02)
    assert_close_to_theory(waits, mean_h * 60.0)


def test_more_chargers_than_packs_act_as_one_per_pack() -> None:
    assert pack_wait(10.0, 0.5, packs=3, chargers=8) == pack_wait(10.0, 0.5, packs=3, chargers=3)


def test_pack_wait_falls_with_every_spare_pack_and_overload_is_infinite() -> None:
    waits = [pack_wait(3.0, 0.5, packs=n, chargers=2)[1] for n in range(2, 8)]
    assert all(a > b for a, b in itertools.pairwise(waits))
    assert pack_wait(5.0, 0.5, packs=10, chargers=2) == (1.0, float("inf"))


def test_a_sized_station_meets_its_target_in_the_simulation() -> None:
    lam_h, swap_min, recharge_min, t_min, p = 14.0, 4.67, 40.0, 10.0, 0.05
    size = size_swap_station(
        lam_h,
        swap_min=swap_min,
        recharge_min=recharge_min,
        target=(t_min, p),
        unit_cost_cny=(200_000.0, 60_000.0, 20_000.0),
        limits=(4, 60, 60),
        swap_cv=0.2,
        recharge_cv=1.0,
    )
    assert size.feasible
    assert size.chargers >= np.ceil(lam_h * recharge_min / 60.0)  # keeps up with returns
    rng = np.random.default_rng(9)
    n = 40_000
    out = run_station(
        sites(
            bays=size.bays, packs=size.packs, chargers=size.chargers,
            pack_kwh=1e9, swap_min=swap_min,
        ),
        arrivals=np.cumsum(rng.exponential(60.0 / lam_h, n)),
        socs=exponential_recharge(n, recharge_min, rng),
        factors=swap_time_factors(rng.random(n), distribution="lognormal", cv=0.2),
    )  # fmt: skip
    waits = np.array([o.wait_min for o in out])
    assert (waits > t_min).mean() <= p
    # one pack or one charger less breaks the analytic target: the size is the least
    for fewer in ((size.packs - 1, size.chargers), (size.packs, size.chargers - 1)):
        if min(fewer) < 1:
            continue
        p_pack, w_pack = pack_wait(
            lam_h, recharge_min / 60.0, packs=fewer[0], chargers=fewer[1], t_h=t_min / 120.0
        )
        p_bay = bay_wait_exceeds(
            lam_h, swap_min / 60.0 + w_pack, bays=size.bays, t_h=t_min / 120.0, cv=0.2
        )
        cheaper_ok = p_pack <= p / 2 and p_bay <= p / 2
        assert not cheaper_ok


def test_unreachable_targets_say_so_and_bad_input_is_refused() -> None:
    size = size_swap_station(
        100.0, swap_min=5.0, recharge_min=60.0, target=(5.0, 0.05),
        unit_cost_cny=(1.0, 1.0, 1.0), limits=(2, 10, 10),
    )  # fmt: skip
    assert not size.feasible
    with pytest.raises(SolverInputError, match="limits"):
        size_swap_station(
            1.0, swap_min=5.0, recharge_min=60.0, target=(5.0, 0.05),
            unit_cost_cny=(1.0, 1.0, 1.0), limits=(0, 10, 10),
        )  # fmt: skip
    with pytest.raises(SolverInputError, match="recharge_min"):
        size_swap_station(
            1.0, swap_min=5.0, recharge_min=0.0, target=(5.0, 0.05),
            unit_cost_cny=(1.0, 1.0, 1.0), limits=(1, 10, 10),
        )  # fmt: skip
