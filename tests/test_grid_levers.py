"""Compound policy levers in plans (issue 15 item 4): transformer upgrades, compound
chargers and shared private chargers, their costs and budgets, bad keys."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.api import run
from sim.config import parse_config
from sim.des import CHARGED
from sim.errors import ConfigError
from sim.export.result import RunResult
from sim.study.plans import make_plans
from sim.study.prepare import prepare

#: One Kotka day, one replication: public chargers only, the same plan with three
#: compounds' transformers upgraded, and with compound chargers in two compounds.
UPGRADED = ("z0006", "z0008", "z0020")
BASE: dict[str, Any] = {
    "name": "grid-levers",
    "seed": 11,
    "region": {"sample": "kotka"},
    "candidates": {"network_nodes": 40},
    "demand": {"days": 1, "residential": {"ev_share": 0.4}},
    "chargers": {"default_class": "dc60", "ports_per_site": 2},
    "strategies": [
        {"name": "public", "model": "p-median", "k": 6},
        {
            "name": "upgrade",
            "model": "p-median",
            "k": 6,
            "transformer_upgrades": {"kva_added": {z: 300.0 for z in UPGRADED}},
        },
        {
            "name": "compound",
            "model": "p-median",
            "k": 6,
            "compound_chargers": {"count": 2, "ports": 4, "charger_class": "ac7"},
        },
    ],
    "simulation": {"replications": 1},
    "output": {"map": False, "report": False},
    "grid": {},
}


@pytest.fixture(scope="module")
def levers() -> RunResult:
    return run(parse_config(BASE))


def _table(result: RunResult, strategy: str) -> Any:
    u = next(u for u in result.units if u.strategy == strategy)
    assert u.grid is not None
    return u.grid.result.compound_table().set_index("zone_id")


def test_upgrade_raises_kva_and_lowers_loading(levers: RunResult) -> None:
    """The upgraded compounds have 300 kVA more, a lower peak loading and fewer hours
    overloaded; the others are as in the plan without upgrades."""
    pub, up = _table(levers, "public"), _table(levers, "upgrade")
    z = list(UPGRADED)
    assert np.allclose(up.loc[z, "kva"], pub.loc[z, "kva"] + 300.0)
    assert (up.loc[z, "peak_loading_pct"] < pub.loc[z, "peak_loading_pct"]).all()
    assert (up.loc[z, "hours_above_100pct"] <= pub.loc[z, "hours_above_100pct"]).all()
    assert up.loc[z, "hours_above_100pct"].sum() < pub.loc[z, "hours_above_100pct"].sum()
    rest = pub.index.difference(z)
    assert np.array_equal(up.loc[rest, "kva"], pub.loc[rest, "kva"])
    assert np.allclose(up.loc[rest, "peak_loading_pct"], pub.loc[rest, "peak_loading_pct"])


def test_upgrade_cost_is_kva_times_unit_cost(levers: RunResult) -> None:
    per_kva = 600.0  # the documented default of cost_per_kva_cny
    plans = levers.plans
    assert plans["upgrade"].cost_cny == pytest.approx(
        plans["public"].cost_cny + 3 * 300.0 * per_kva
    )
    # the same public sites
    assert np.array_equal(plans["upgrade"].candidate, plans["public"].candidate)


def test_compound_chargers_inside_their_compounds_and_used_by_residents(
    levers: RunResult,
) -> None:
    """Two compound sites of 4 AC ports, each in its compound (candidate point in the
    polygon), in its compound's cap group, and most of the charging there is by that
    compound's residents."""
    prep = levers.prepared
    assert prep.cand_zone is not None
    key = ("compound", "compound_chargers")
    cand, zone = prep.levers.candidate[key], prep.levers.zone[key]
    assert cand.size == 2
    assert np.array_equal(prep.cand_zone[cand], zone)
    zones = prep.region.zones
    for c, z in zip(cand, zone, strict=True):
        pt = prep.region.candidates.geometry.iloc[c]
        assert zones.geometry.iloc[z].intersects(pt)
    plan = levers.plans["compound"]
    rows = np.flatnonzero(np.array(plan.charger_class) == "ac7")
    assert np.array_equal(np.sort(plan.candidate[rows]), np.sort(cand))
    assert (plan.ports[rows] == 4).all()
    u = next(u for u in levers.units if u.strategy == "compound")
    assert u.grid is not None
    assert np.array_equal(np.sort(u.grid.station_zone[rows]), np.sort(zone))
    log, d = u.log, u.demand
    home_zone = prep.homes.zone[_home_index(prep, d.origin)]
    for r, z in zip(rows, u.grid.station_zone[rows], strict=True):
        at = (log.outcome == CHARGED) & (log.station == r)
        assert at.sum() >= 3
        own = home_zone[log.session[at]] == z
        assert own.mean() > 0.5


def _home_index(prep: Any, origin: np.ndarray) -> np.ndarray:
    """A home point of each origin node (the first)."""
    nodes = prep.homes.node
    order = np.argsort(nodes, kind="stable")
    pos = np.searchsorted(nodes[order], origin)
    return order[np.minimum(pos, nodes.size - 1)]


def test_compound_chargers_cost(levers: RunResult) -> None:
    """4 ports x the ac7 class's 5,000 CNY per port in each of two compounds."""
    plans = levers.plans
    assert plans["compound"].cost_cny == pytest.approx(plans["public"].cost_cny + 2 * 4 * 5000.0)


def test_budget_buys_the_levers_first() -> None:
    """With budget_cny, the levers are bought first and public sites get the rest: the
    plan's cost stays within the budget, and a budget the levers use up is refused."""
    cfg = copy.deepcopy(BASE)
    up = {"kva_added": {"z0006": 1000.0}, "cost_per_kva_cny": 600.0}
    cfg["strategies"] = [
        {"name": "public", "model": "p-median", "budget_cny": 1_000_000},
        {"name": "up", "model": "p-median", "budget_cny": 1_000_000, "transformer_upgrades": up},
    ]
    prep = prepare(parse_config(cfg))
    plans = make_plans(prep)
    assert plans["public"].cost_cny <= 1_000_000
    assert plans["up"].cost_cny <= 1_000_000
    public_part = plans["up"].cost_cny - 600_000.0
    assert public_part <= 400_000 + 1e-6
    assert len(plans["up"]) < len(plans["public"])
    cfg["strategies"][1]["budget_cny"] = 500_000
    with pytest.raises(ConfigError, match=r"'up'\)\.budget_cny"):
        make_plans(prepare(parse_config(cfg)))


@pytest.mark.parametrize(
    ("strategy", "key"),
    [
        ({"transformer_upgrades": {"kva_added": {"nope": 10}}}, "transformer_upgrades.kva_added"),
        ({"compound_chargers": {"zones": ["z0001", "nope"]}}, "compound_chargers.zones"),
        ({"shared_private": {"zones": ["nope"]}}, "shared_private.zones"),
        (
            {"compound_chargers": {"zones": ["z0001"], "charger_class": "x"}},
            "compound_chargers.charger_class",
        ),
    ],
)
def test_bad_keys_are_one_config_error(strategy: dict[str, Any], key: str) -> None:
    cfg = copy.deepcopy(BASE)
    cfg["strategies"] = [{"name": "bad", "model": "p-median", "k": 2, **strategy}]
    with pytest.raises(ConfigError, match=rf"\('bad'\)\.{key}"):
        make_plans(prepare(parse_config(cfg)))


def test_levers_with_refine_are_refused() -> None:
    cfg = copy.deepcopy(BASE)
    cfg["strategies"] = [{**BASE["strategies"][1], "refine": {}}]
    with pytest.raises(ConfigError, match="transformer_upgrades: not supported with refine"):
        make_plans(prepare(parse_config(cfg)))


def test_levers_need_a_grid_section() -> None:
    cfg = copy.deepcopy(BASE)
    del cfg["grid"]
    cfg["strategies"] = [cfg["strategies"][2]]
    with pytest.raises(ConfigError, match="compound_chargers: compound levers need a grid"):
        make_plans(prepare(parse_config(cfg)))


def test_absent_keys_are_not_dumped() -> None:
    sc = parse_config({**BASE, "strategies": [BASE["strategies"][0]]})
    dumped = sc.model_dump()["strategies"][0]
    for key in ("transformer_upgrades", "compound_chargers", "shared_private"):
        assert key not in dumped


SHARED: dict[str, Any] = {
    "name": "shared",
    "model": "p-median",
    "k": 6,
    "shared_private": {"count": 2, "share": 0.3},
}


@pytest.fixture(scope="module")
def shared() -> RunResult:
    cfg = copy.deepcopy(BASE)
    cfg["strategies"] = [BASE["strategies"][0], SHARED]
    return run(parse_config(cfg))


def _shared_stations(result: RunResult) -> tuple[Any, Any]:
    from sim.study.units import unit_stations

    plan = result.plans["shared"]
    st, _ = unit_stations(result.prepared, plan, 0)
    assert st.port_profile is not None
    return plan, st


def test_shared_chargers_never_serve_more_than_are_free(shared: RunResult) -> None:
    """At every session start and every change of the open count, the neighbours
    charging at a shared-chargers station are at most its chargers whose owners are
    away at that minute; no session starts while the station offers no charger and
    none charges longer than max_session_h; at night (owners home) it is closed."""
    from sim.study.levers import away_free

    plan, st = _shared_stations(shared)
    prof = st.port_profile
    u = next(u for u in shared.units if u.strategy == "shared")
    assert u.grid is not None
    sess = u.grid.result.sessions
    zone = shared.prepared.cand_zone
    log = u.log
    served = 0
    for row, j in enumerate(prof.station.tolist()):
        ok = (log.station == j) & (log.outcome == CHARGED)
        s0, e0 = log.start_min[ok], log.end_min[ok]
        served += int(ok.sum())
        assert (e0 - s0 <= 4 * 60 + 1e-6).all()
        evs = np.unique(sess.ev[sess.zone == zone[plan.candidate[j]]])[: plan.ports[j]]
        h = int(sess.horizon_min)
        away = away_free(sess, evs, n_steps=h, step_min=1.0, hold_min=0.0).sum(axis=0)
        n_steps = prof.ports.shape[1]
        times = np.union1d(s0, np.arange(n_steps) * prof.step_min)
        for t in times:
            at_once = int(((s0 <= t) & (e0 > t)).sum())
            assert at_once <= away[int(t) % h]
        k = (s0 // prof.step_min).astype(np.int64) % n_steps
        assert (prof.ports[row, k] > 0).all()
        hours = (np.arange(n_steps) * prof.step_min / 60.0) % 24
        assert prof.ports[row, (hours < 5)].max() == 0  # owners are home at night
        assert 0 < prof.ports[row].max() <= plan.ports[j]
    assert served >= 5  # the case tests something


def test_owners_home_charging_is_unaffected(shared: RunResult) -> None:
    """The owners' home plug-ins and the energy they get are those of the plan without
    sharing (their own use first)."""
    by = {u.strategy: u for u in shared.units}
    a, b = by["public"].grid, by["shared"].grid
    assert a is not None and b is not None
    assert np.array_equal(a.result.sessions.arrive_min, b.result.sessions.arrive_min)
    assert np.array_equal(a.result.schedule.delivered_kwh, b.result.schedule.delivered_kwh)
    assert np.array_equal(a.result.home_kw, b.result.home_kw)


def test_shared_chargers_draw_on_their_compound(shared: RunResult) -> None:
    """Each shared-chargers station is in its compound's cap group, at the home
    charger's power, and its cost is chargers x 500 CNY."""
    plan, st = _shared_stations(shared)
    prep = shared.prepared
    zone = prep.levers.zone[("shared", "shared_private")]
    rows = st.port_profile.station
    u = next(u for u in shared.units if u.strategy == "shared")
    assert u.grid is not None
    assert np.array_equal(np.sort(u.grid.station_zone[rows]), np.sort(zone))
    assert st.cap_profile is not None and (st.cap_profile.group[rows] >= 0).all()
    assert np.allclose(plan.power_kw[rows], 7.0) and not plan.dc[rows].any()
    extra = plan.cost_cny - shared.plans["public"].cost_cny
    assert extra == pytest.approx(plan.ports[rows].sum() * 500.0)


def test_terminal_table_shows_cost_and_difficulty_lowered_per_yuan(levers: RunResult) -> None:
    """The compound-power table has each plan's cost and the difficulty it lowers per
    million CNY beyond the first strategy's cost, computed from the summary."""
    from rich.console import Console

    from sim.export.grid import grid_table, per_million

    s = levers.typed_summary
    table = grid_table(s)
    assert table is not None
    console = Console(width=250, record=True)
    console.print(table)
    text = console.export_text()
    base, comp = s.strategies["public"], s.strategies["compound"]
    gain = per_million(
        base.metrics["difficulty_index"].mean,
        comp.metrics["difficulty_index"].mean,
        base.cost_cny,
        comp.cost_cny,
    )
    assert gain is not None
    assert f"{gain:+.3f}" in text
    assert comp.cost_cny is not None and f"{comp.cost_cny / 1e6:.2f}" in text
    assert per_million(2.0, 1.0, 1e6, 3e6) == pytest.approx(0.5)
    assert per_million(2.0, 1.0, 1e6, 1e6) is None


def test_a_compound_without_candidates_gets_one_at_its_centroid_node() -> None:
    """z0005 has no candidate inside: a candidate compound-z0005 is added at its
    centroid node, counted in it, no option of the public siting, and its compound
    site draws on its transformer."""
    cfg = copy.deepcopy(BASE)
    cfg["strategies"] = [
        BASE["strategies"][0],
        {"name": "c", "model": "p-median", "k": 6, "compound_chargers": {"zones": ["z0005"]}},
    ]
    prep = prepare(parse_config(cfg))
    cands = prep.region.candidates
    assert prep.levers.added.size == 1
    new = int(prep.levers.added[0])
    assert cands["site_id"].iloc[new] == "compound-z0005"
    z = int(np.flatnonzero(prep.region.zones["zone_id"].to_numpy() == "z0005")[0])
    assert prep.cand_zone is not None and prep.cand_zone[new] == z
    assert cands["node"].iloc[new] == prep.region.zones["node"].iloc[z]
    assert np.isinf(prep.siting_cost[:, new]).all()
    plans = make_plans(prep)
    assert new not in plans["public"].candidate
    assert new in plans["c"].candidate
    from sim.study.units import unit_stations

    st, g = unit_stations(prep, plans["c"], 0)
    assert st.cap_profile is not None
    assert g is not None
    row = int(np.flatnonzero(plans["c"].candidate == new)[0])
    assert g.station_zone[row] == z
    assert st.cap_profile.group[row] >= 0


def test_port_pool_capacity_changes_over_time() -> None:
    """A pool cut to fewer slots grants nobody new until its slots in use fall below
    the new count; raised, it grants its queue at once, first come first."""
    import simpy

    from sim.des.stations import PortPool

    env = simpy.Environment()
    pool = PortPool(env, 2)
    a, b = pool.request(), pool.request()
    assert a.triggered and b.triggered
    pool.set_capacity(1)
    c = pool.request()
    pool.release(a)
    env.run()
    assert not c.triggered  # 1 in use, 1 open
    pool.release(b)
    env.run()
    assert c.triggered
    pool.set_capacity(0)
    d, e = pool.request(), pool.request()
    pool.release(c)
    env.run()
    assert not d.triggered and not e.triggered
    pool.set_capacity(1)
    assert d.triggered and not e.triggered


def test_planning_workers_make_the_same_plans() -> None:
    """With --workers > 1 the strategies are sited on the workers
    (sim.study.executors._plan_task): the same plans as make_plans, levers included."""
    import dataclasses

    import sim.study.executors as executors
    from sim.study.plans import flow_problem

    prep = prepare(parse_config(BASE))
    plans = make_plans(prep)
    executors._PLANNING.update(prep=prep, flows=flow_problem(prep))
    try:
        for i, s in enumerate(prep.scenario.strategies):
            got = executors._plan_task(i)
            want = plans[s.name]
            for f in dataclasses.fields(want):
                a, b = getattr(got, f.name), getattr(want, f.name)
                if isinstance(a, np.ndarray):
                    np.testing.assert_array_equal(a, b)
                elif f.name != "solve_time_s":
                    assert a == b, (s.name, f.name)
    finally:
        executors._PLANNING.clear()


def test_phases_refuse_the_levers() -> None:
    data = {**BASE, "phases": [{"year": 2025}, {"year": 2027}]}
    data["strategies"] = [s for s in BASE["strategies"] if "transformer_upgrades" in s][:1]
    assert data["strategies"], "BASE has an upgrade strategy"
    with pytest.raises(ConfigError, match="transformer_upgrades: not supported with phases"):
        run(parse_config(data))


def test_residents_head_for_a_shared_station_only_while_it_has_a_charger_open(
    shared: RunResult,
) -> None:
    """A resident judges a shared-chargers station by the chargers open as it sets off
    (its owners away), not by all it shares: none sets off for one that is closed."""
    _, st = _shared_stations(shared)
    prof = st.port_profile
    u = next(u for u in shared.units if u.strategy == "shared")
    log = u.log
    first = log.attempt == log.attempt.min()
    heading = 0
    for row, j in enumerate(prof.station.tolist()):
        here = first & (log.station == j)
        set_off = log.arrival_min[here] - log.access_min[here]
        k = (np.floor(set_off / prof.step_min).astype(np.int64)) % prof.ports.shape[1]
        assert (prof.ports[row, k] > 0).all()
        heading += int(here.sum())
    assert heading >= 5  # the case tests something
