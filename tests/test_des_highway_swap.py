"""Through-traffic swapping (issue 14): on the corridor of ``configs/corridor-swap.yaml``,
through vehicles that can swap consider the swap stations on their route beside the
chargers, and the others choose exactly as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sim.config import Scenario, load_config
from sim.des.log import CHARGED, SWAP
from sim.study.plans import make_plans, plan_highway_access, swap_sites_of
from sim.study.prepare import Prepared, prepare
from sim.study.units import demand_for, simulate_plan

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "corridor-swap.yaml"


def _scenario() -> Scenario:
    """corridor-swap.yaml on two days (the first holiday day included)."""
    sc = load_config(CONFIG)
    assert sc.demand.highway.holiday is not None
    holiday = sc.demand.highway.holiday.model_copy(update={"days": (2,)})
    highway = sc.demand.highway.model_copy(update={"holiday": holiday})
    demand = sc.demand.model_copy(update={"days": 2, "highway": highway})
    return sc.model_copy(update={"demand": demand})


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepare(_scenario())


@pytest.fixture(scope="module")
def plans(prep: Prepared) -> dict:
    return make_plans(prep)


def _swap_capable(prep: Prepared, demand) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert demand.swap_pack is not None
    return np.asarray(demand.swap_pack) >= 0


def test_only_swap_capable_through_vehicles_swap(prep: Prepared, plans: dict) -> None:
    plan = plans["add-swap"]
    demand = demand_for(prep, 0)
    log = simulate_plan(prep, plan, demand)
    swaps = log.service == SWAP
    assert swaps.sum() > 50  # the station is used
    capable = _swap_capable(prep, demand)
    assert capable[log.session[swaps]].all()
    assert (demand.segment[log.session[swaps]] == 1).all()  # through-traffic
    # every swap is at the plan's swap site, with a finite detour and energy swapped in
    sites = swap_sites_of(prep, plan)
    assert sites is not None
    assert set(log.station[swaps].tolist()) <= set(sites.site.tolist())
    done = swaps & (log.outcome == CHARGED)
    assert np.isfinite(log.detour_min[done]).all()
    assert (log.energy_kwh[done] > 0).all()
    # some capable vehicles still charge (elsewhere on the route, or before the station)
    charged = (log.service != SWAP) & (log.outcome == CHARGED)
    assert capable[log.session[charged]].any()


def test_a_vehicle_never_stops_where_it_gains_nothing(prep: Prepared, plans: dict) -> None:
    """No attempt that adds no energy in a row with a success at the same place (a
    charger beside the swap station it just left would otherwise be a free stop)."""
    for name in ("add-swap", "add-swap-2"):
        log = simulate_plan(prep, plans[name], demand_for(prep, 0))
        done = log.outcome == CHARGED
        assert (log.energy_kwh[done] > 1e-6).all(), name
        assert log.attempt.max() < 10, name


def test_vehicles_that_cannot_swap_choose_as_before(prep: Prepared, plans: dict) -> None:
    """With every vehicle unable to swap, the plan with a swap station gives exactly the
    charging log of the same plan without it."""
    plan = plans["add-swap"]
    demand = demand_for(prep, 0)
    assert demand.swap_pack is not None
    nobody = dataclasses.replace(demand, swap_pack=np.full(len(demand), -1, np.int16))
    with_station = simulate_plan(prep, plan, nobody)
    keep = np.flatnonzero(~plan.swap)
    without = _drop_sites(plan, keep)
    plain = simulate_plan(prep, without, nobody)
    assert (with_station.service != SWAP).all()
    # station indices differ (the swap row is gone): compare by site id
    ids_a = np.array(plan.candidate)[with_station.station.clip(0)]
    ids_b = np.array(without.candidate)[plain.station.clip(0)]
    for field in ("session", "attempt", "outcome", "wait_min", "energy_kwh", "end_min"):
        np.testing.assert_array_equal(getattr(with_station, field), getattr(plain, field))
    np.testing.assert_array_equal(ids_a, ids_b)


def test_highway_tables_list_swap_stations_apart(prep: Prepared, plans: dict) -> None:
    plan = plans["add-swap-2"]
    hw = plan_highway_access(prep, plan)
    assert hw is not None and hw.swap_od_station is not None
    assert hw.swap_next_station is not None
    swap_rows = np.flatnonzero(plan.swap)
    # charging tables never offer a swap site; swap tables index the 2 swap stations
    assert not np.isin(hw.od_station, swap_rows).any()
    assert not np.isin(hw.next_station, swap_rows).any()
    assert hw.swap_od_station.max() == 1 and hw.swap_od_station.min() >= -1
    # a swap station never lists itself onwards
    for s, row in enumerate(swap_rows):
        assert not (hw.swap_next_station[row] == s).any()
    # a plan without swap stations has no swap tables
    assert plan_highway_access(prep, plans["existing"]).swap_od_station is None  # type: ignore[union-attr]


def _drop_sites(plan, keep: np.ndarray):  # type: ignore[no-untyped-def]
    """``plan`` with only the sites ``keep``."""
    return dataclasses.replace(
        plan,
        candidate=plan.candidate[keep],
        ports=plan.ports[keep],
        power_kw=plan.power_kw[keep],
        dc=plan.dc[keep],
        charger_class=tuple(plan.charger_class[i] for i in keep.tolist()),
        existing=plan.existing[keep],
        kind=tuple(plan.kind[i] for i in keep.tolist()),
        bays=plan.bays[keep],
        packs=plan.packs[keep],
        pack_chargers=plan.pack_chargers[keep],
    )


def test_swap_stations_beside_the_kept_existing_sites(prep: Prepared, plans: dict) -> None:
    """``service: both`` with ``k == swap_k`` and ``keep_existing`` keeps every existing
    charging site and adds only the swap stations (and pays only for them)."""
    existing = plans["existing"]
    for name, n_swap in (("add-swap", 1), ("add-swap-2", 2)):
        plan = plans[name]
        assert int(plan.swap.sum()) == n_swap
        charging = ~plan.swap
        np.testing.assert_array_equal(plan.candidate[charging], existing.candidate)
        np.testing.assert_array_equal(plan.ports[charging], existing.ports)
        klass = prep.scenario.chargers.swap_classes["nio-pss3"]
        assert plan.cost_cny == pytest.approx(n_swap * klass.cost_cny)
