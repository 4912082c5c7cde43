"""Battery-swap stations and fleets in real runs on the bundled Kotka extract: packs and
energy conserved, who swaps, what a swap station does to the chargers near it, and the
scenario YAML that asks for it.

The plans are the scenario's p-median charging sites plus one swap station on a
candidate after them (so the charging stations keep their indices), simulated with
:func:`~sim.study.plans.plan_access`'s tables; the last test asks for a swap station
through the scenario YAML (``service: both``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config import parse_config
from sim.des import SWAP, SessionLog, simulate_traced
from sim.siting.plan import Plan
from sim.study.plans import (
    driver_rules,
    make_plans,
    plan_access,
    stations_of,
    swap_sites_of,
    taper_curves,
)
from sim.study.prepare import Prepared, prepare
from sim.study.units import FLEET_VEHICLE_IDS, UnitResult, demand_for, run_unit

_TAXI = {"battery_kwh": 70.0, "consumption_kwh_per_km": 0.16, "max_ac_kw": 11.0}


def _scenario(*, swap_share: float, seed: int = 5) -> dict[str, Any]:
    """Kotka with few chargers (2 ports a site) and a taxi fleet of which
    ``swap_share`` can swap ``nio`` packs."""
    classes = {"swap-taxi": swap_share, "plain-taxi": 1.0 - swap_share}
    return {
        "name": "swap-test",
        "seed": seed,
        "region": {"sample": "kotka"},
        "demand": {
            "days": 1,
            "residential": {"cars_per_household": 0.5, "ev_share": 0.2},
            "fleets": [
                {
                    "name": "taxis",
                    "vehicles": 300,
                    "vehicle_classes": {k: v for k, v in classes.items() if v > 0},
                }
            ],
        },
        "vehicles": {
            "fleet": [
                {
                    "name": "car",
                    "share": 1.0,
                    "battery_kwh": 60.0,
                    "consumption_kwh_per_km": 0.15,
                    "max_ac_kw": 7.0,
                    "max_dc_kw": 120.0,
                },
                {"name": "swap-taxi", "share": 0.0, **_TAXI, "max_dc_kw": 90.0, "swap_pack": "nio"},
                {"name": "plain-taxi", "share": 0.0, **_TAXI, "max_dc_kw": 90.0},
            ]
        },
        "candidates": {"network_nodes": 20},
        "chargers": {
            "default_class": "dc60",
            "ports_per_site": 2,
            # few packs and chargers: drivers wait for packs
            "swap_classes": {"nio-pss3": {"bays": 3, "packs": 8, "pack_chargers": 4}},
        },
        "strategies": [{"name": "p-median", "k": 4}],
        "simulation": {"replications": 1, "radius_min": 3, "max_access_min": 20},
    }


@cache
def _prepared(swap_share: float) -> tuple[Prepared, Plan]:
    prep = prepare(parse_config(_scenario(swap_share=swap_share)))
    return prep, make_plans(prep)["p-median"]


def _with_swap_station(prep: Prepared, plan: Plan, /) -> Plan:
    """``plan`` and a ``nio-pss3`` swap station on the first candidate after its sites."""
    c = int(plan.candidate.max()) + 1
    assert c < len(prep.region.candidates)
    klass = prep.scenario.chargers.swap_classes["nio-pss3"]

    def add(a: np.ndarray, v: object) -> np.ndarray:
        return np.concatenate([a, np.array([v], dtype=a.dtype)])

    return replace(
        plan,
        candidate=add(plan.candidate, c),
        ports=add(plan.ports, 0),
        power_kw=add(plan.power_kw, klass.charger_kw),
        dc=add(plan.dc, True),
        charger_class=(*plan.charger_class, "nio-pss3"),
        existing=add(plan.existing, False),
        kind=(*plan.kind, "swap"),
        bays=add(plan.bays, klass.bays),
        packs=add(plan.packs, klass.packs),
        pack_chargers=add(plan.pack_chargers, klass.pack_chargers),
    )


@cache
def _runs(swap_share: float) -> tuple[UnitResult, UnitResult]:
    """The unit without and with the swap station."""
    prep, plan = _prepared(swap_share)
    with_swap = _with_swap_station(prep, plan)
    return (
        run_unit(prep, plan, 0),
        run_unit(prep, with_swap, 0, access=plan_access(prep, with_swap)),
    )


def _charger_rows(log: SessionLog, /) -> dict[str, np.ndarray]:
    """The log's attempts at charging stations, every column."""
    keep = log.service == 0
    return {name: getattr(log, name)[keep] for name in SessionLog.__dataclass_fields__}


def test_swaps_conserve_packs_and_energy() -> None:
    _, u = _runs(0.5)
    trace, log = u.swap, u.log
    assert trace is not None
    packs = int(_with_swap_station(*_prepared(0.5)).packs[-1])
    stock = trace.stock[0][:, 1]
    assert stock.min() >= 0 and stock.max() <= packs
    assert stock[-1] == packs  # every returned pack recharged by the end of the run
    swapped = (log.service == SWAP) & (log.outcome == 0)
    assert swapped.sum() > 10
    # each swap takes one charged pack, from the stock or, for a driver waiting in the
    # bay, straight off its charger; and puts one pack on charge
    handed = swapped & (log.pack_wait_min > 0)
    assert handed.any()
    assert int((np.diff(stock) < 0).sum()) + int(handed.sum()) == int(swapped.sum())
    assert int((np.diff(stock) > 0).sum()) + int(handed.sum()) == trace.charge_kwh.shape[0]
    assert trace.charge_kwh.shape[0] == int(swapped.sum())
    # the energy drivers drove off with is the energy the pack chargers put back
    assert log.energy_kwh[swapped].sum() == pytest.approx(trace.charge_kwh.sum(), rel=1e-12)
    horizon = float(trace.charge_end_min.max()) + 15.0
    load = trace.charger_load_kw(15.0, horizon_min=horizon)
    assert load.sum() * 0.25 == pytest.approx(trace.charge_kwh.sum(), rel=1e-9)
    assert load.max() <= 4 * 60.0 + 1e-9  # 4 chargers of 60 kW
    every = trace.stock_every(15.0, horizon_min=horizon)
    assert every.shape == (1, int(np.ceil(horizon / 15.0))) and every[0, 0] == packs
    # a swap's wait includes its wait for a pack
    got_bay = (log.service == SWAP) & np.isfinite(log.pack_wait_min)
    assert (log.pack_wait_min[got_bay] > 0).any()  # the stock ran out
    assert stock.min() == 0
    assert (log.wait_min[got_bay] >= log.pack_wait_min[got_bay] - 1e-9).all()
    assert np.isnan(log.pack_wait_min[log.service == 0]).all()
    # the swap station (0 ports) is never a charging driver's station, and swaps log it
    site = int(trace.site[0])
    assert (log.station[log.service == 0] != site).all()
    assert (log.station[log.service == SWAP] == site).all()


def test_only_vehicles_with_a_served_pack_swap() -> None:
    _, u = _runs(0.5)
    log, d = u.log, u.demand
    assert d.swap_pack is not None
    swaps = log.service == SWAP
    assert swaps.any()
    assert (d.swap_pack[log.session[swaps]] >= 0).all()
    assert (d.vehicle_id[log.session[swaps]] >= FLEET_VEHICLE_IDS).all()
    # a good part of the swap-capable taxis head for the swap station first (a quarter
    # in this run: the others are nearer a charger or find the station busy)
    capable = np.flatnonzero(d.swap_pack >= 0)
    first = log.first_attempt()
    assert np.isin(log.session[first & swaps], capable).sum() > 0.15 * capable.shape[0]


def test_swap_station_takes_load_off_chargers_only_for_compatible_vehicles() -> None:
    without, with_swap = _runs(0.5)
    # minutes spent queueing at the chargers, and attempts there (fewer balk and retry)
    waited = [float(np.nansum(u.log.wait_min[u.log.service == 0])) for u in (without, with_swap)]
    assert waited[1] < 0.85 * waited[0], waited  # 2,728 -> 1,987 min measured
    attempts = [int((u.log.service == 0).sum()) for u in (without, with_swap)]
    assert attempts[1] < 0.9 * attempts[0], attempts  # 801 -> 642 measured
    # nobody can swap: the chargers see exactly the same attempts as without the station
    without, with_swap = _runs(0.0)
    assert not (with_swap.log.service == SWAP).any()
    a, b = _charger_rows(without.log), _charger_rows(with_swap.log)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_fleet_scenario_from_yaml_runs_and_is_deterministic() -> None:
    prep, plan = _prepared(0.5)
    with_swap = _with_swap_station(prep, plan)
    acc = plan_access(prep, with_swap)
    a = run_unit(prep, with_swap, 0, access=acc)
    b = run_unit(prepare(parse_config(_scenario(swap_share=0.5))), with_swap, 0, access=acc)
    assert (a.log.service == SWAP).any()
    for name in SessionLog.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a.log, name), getattr(b.log, name))
    assert a.metrics == b.metrics
    assert a.swap is not None and b.swap is not None
    np.testing.assert_array_equal(a.swap.stock[0], b.swap.stock[0])
    assert set(a.segments) == {"residential", "fleet"}
    assert a.fleets["taxis"]["lost_min_per_vehicle_day"] > 0


def _choice(*, pack_wait_min: float, present_at_swap: int) -> Any:
    """A :class:`MixedChoice` over an AC station (30 min charge, 1 min away), a DC
    station (40 min, 10 min away) and a swap station of one bay (5 min swaps)."""
    from types import SimpleNamespace

    from sim.des import DriverRules
    from sim.des.fleet import MixedChoice

    ports = SimpleNamespace(ports=[2, 2], present=[0, 0])
    charging = SimpleNamespace(table=[[30.0, 40.0]], type_of=[0, 1])
    swaps = SimpleNamespace(
        bays=lambda s: 1,
        present=[present_at_swap],
        expected_pack_wait=lambda s: pack_wait_min,
    )
    return MixedChoice(
        DriverRules(), ports=ports, charging=charging, dc=[False, True], swaps=swaps,
        serves=[[True], [False]],
    )  # fmt: skip


def _pick(choice: Any, *, fleet: bool, pack: int, swap_drive: float) -> tuple[int, int]:
    kind, j, _ = choice.choose(
        0,
        fleet=fleet,
        pack=pack,
        charge=([0, 1], [1.0, 10.0]),
        swap=([0], [swap_drive]),
        swap_min=[5.0],
        tried=(set(), set()),
    )
    return kind, j


def test_choice_is_drive_plus_expected_wait_plus_service() -> None:
    idle = _choice(pack_wait_min=0.0, present_at_swap=0)
    # a resident-like driver: AC 1 + 30 = 31 beats DC 10 + 40 = 50 (and no swap pack)
    assert _pick(idle, fleet=False, pack=-1, swap_drive=5.0) == (0, 0)
    # a fleet vehicle considers DC only when a DC station is within reach
    assert _pick(idle, fleet=True, pack=-1, swap_drive=5.0) == (0, 1)
    # swap: 5 + 0 + 5 = 10 beats both; an unserved pack never swaps
    assert _pick(idle, fleet=True, pack=0, swap_drive=5.0) == (1, 0)
    assert _pick(idle, fleet=True, pack=1, swap_drive=5.0) == (0, 1)
    # two ahead in one bay: 5 + 2 x 5 + 5 = 20 still beats AC's 31 ...
    busy = _choice(pack_wait_min=0.0, present_at_swap=2)
    assert _pick(busy, fleet=False, pack=0, swap_drive=5.0) == (1, 0)
    # ... not with 15 more minutes waiting for a charged pack (35)
    no_pack = _choice(pack_wait_min=15.0, present_at_swap=2)
    assert _pick(no_pack, fleet=False, pack=0, swap_drive=5.0) == (0, 0)


@settings(max_examples=8, deadline=None)
@given(keep=st.floats(0.3, 1.0), seed=st.integers(0, 2**31 - 1))
def test_packs_and_energy_are_conserved_for_any_demand(keep: float, seed: int) -> None:
    prep, plan = _prepared(0.5)
    with_swap = _with_swap_station(prep, plan)
    acc = plan_access(prep, with_swap)
    full = demand_for(prep, 0)
    rng = np.random.default_rng(seed)
    d = full.take(np.flatnonzero(rng.random(len(full)) < keep))
    acc = replace(acc, origin_row=np.searchsorted(prep.demand_node, d.origin).astype(np.int64))
    log, trace = simulate_traced(
        d,
        stations_of(prep, with_swap),
        access=acc,
        rules=driver_rules(prep.scenario),
        taper=taper_curves(prep.scenario),
        swap=swap_sites_of(prep, with_swap),
        swap_factor=rng.random(len(d)),
        pack_names=("nio",),
    )
    assert trace is not None
    stock = trace.stock[0][:, 1]
    packs = int(with_swap.packs[-1])
    assert 0 <= stock.min() and stock.max() <= packs and stock[-1] == packs
    swapped = (log.service == SWAP) & (log.outcome == 0)
    assert trace.charge_kwh.shape[0] == int(swapped.sum())
    assert log.energy_kwh[swapped].sum() == pytest.approx(trace.charge_kwh.sum(), rel=1e-12)
    # every session ends once: served, or failed at up to max_attempts stations
    last = log.last_attempt()
    assert last.sum() == len(d)
    assert (log.attempt < prep.scenario.simulation.max_attempts).all()


def test_a_strategy_with_a_swap_station_runs_from_the_scenario_yaml() -> None:
    data = _scenario(swap_share=0.5)
    data["strategies"] = [{"name": "p-median", "k": 4, "service": "both", "swap_k": 1}]
    prep = prepare(parse_config(data))
    plan = make_plans(prep)["p-median"]
    assert plan.kind.count("swap") == 1
    u = run_unit(prep, plan, 0)
    swaps = u.log.service == SWAP
    assert (swaps & (u.log.outcome == 0)).any()
    assert (u.log.station[swaps] == int(np.flatnonzero(plan.swap)[0])).all()
    assert u.swap is not None and u.swap.site.tolist() == np.flatnonzero(plan.swap).tolist()
    again = run_unit(prep, plan, 0)
    for name in SessionLog.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(u.log, name), getattr(again.log, name))
