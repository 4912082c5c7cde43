"""From prepared inputs to plans, and from plans to the simulation's inputs.

:func:`make_plans` solves every strategy through :func:`plan_of`, the one place a plan is
made from prepared inputs (:func:`sim.siting.plan.make_plan` on :func:`siting_inputs`);
:func:`stations_of`, :func:`plan_access` and :func:`plan_highway_access` turn a plan into
the :mod:`sim.des` inputs (stations, reachable stations from each origin and station).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sim.access.stations import k_nearest, route_options
from sim.config import Scenario, StrategyConfig
from sim.des import (
    Access,
    DriverRules,
    HighwayAccess,
    SessionCap,
    Stations,
    TaperCurves,
)
from sim.des.swap import SwapSites
from sim.errors import ConfigError
from sim.siting.frlm import FlowProblem
from sim.siting.plan import Plan, SitingInputs, make_plan, strategy_model
from sim.study.levers import budget_left, with_levers
from sim.study.mobile import mobile_units_of, with_mobile_units
from sim.study.prepare import Prepared

__all__ = [
    "coverage_share",
    "driver_rules",
    "flow_problem",
    "make_plans",
    "plan_access",
    "plan_highway_access",
    "plan_of",
    "siting_inputs",
    "stations_of",
    "swap_sites_of",
    "taper_curves",
]


def make_plans(prep: Prepared, /) -> dict[str, Plan]:
    """Solve every strategy of the scenario (in config order).

    Through-traffic flows (:func:`flow_problem`) are built once, and only when some
    strategy's model entry needs them.

    Raises
    ------
    ConfigError
        No charging demand, an unknown model (before any strategy is solved), or a
        strategy that does not fit its model.
    """
    cands = prep.region.candidates
    if prep.siting_weight.sum() <= 0 and len(cands):
        raise ConfigError(
            "demand: the scenario has no charging demand (no households with EVs without "
            "home charging, no through-traffic that must charge); check demand.residential, "
            "demand.highway and the region's zones"
        )
    strategies = prep.scenario.strategies
    specs = [strategy_model(s, index=i) for i, s in enumerate(strategies)]
    flows = flow_problem(prep) if any(spec.needs.flows for spec in specs) else None
    return {s.name: strategy_plan(prep, s, index=i, flows=flows) for i, s in enumerate(strategies)}


def strategy_plan(
    prep: Prepared, strategy: StrategyConfig, /, *, index: int, flows: FlowProblem | None
) -> Plan:
    """One strategy's whole plan, as :func:`make_plans` and the planning workers make it:
    compound levers bought first (public sites get what is left of a budget), the
    model's sites, extra ports, the levers, then mobile units where the plan without
    them queues (a pilot simulation)."""
    s = strategy
    plan = plan_of(prep, budget_left(prep, s), index=index, flows=flows)
    plan = with_levers(prep, s, with_extra_ports(prep, s, plan))
    return with_mobile_units(prep, s, plan)


def with_extra_ports(prep: Prepared, strategy: StrategyConfig, plan: Plan, /) -> Plan:
    """``plan`` with the strategy's ``extra_ports`` added at its charging sites (at each
    site's charger class's port cost; the site exists, so no site cost).

    Raises
    ------
    ConfigError
        A site id that is not a charging site of the plan.
    """
    extra = strategy.extra_ports
    if not extra:
        return plan
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()[plan.candidate]
    row = {s: k for k, s in enumerate(ids.tolist()) if plan.kind[k] == "charge"}
    unknown = [s for s in extra if s not in row]
    if unknown:
        raise ConfigError(
            f"strategies ({strategy.name!r}).extra_ports: {unknown[:5]} are not charging "
            "sites of its plan (extra ports go to its existing or new sites)"
        )
    ports = plan.ports.copy()
    classes = prep.scenario.chargers.classes
    cost = plan.cost_cny
    for site, n in extra.items():
        k = row[site]
        ports[k] += n
        klass = classes.get(plan.charger_class[k])
        if klass is None:  # an existing station's own class: priced as the default's
            klass = classes[prep.scenario.chargers.default_class]
        cost += n * klass.cost_per_port_cny
    return replace(plan, ports=ports, cost_cny=cost)


def plan_of(
    prep: Prepared,
    strategy: StrategyConfig,
    /,
    *,
    index: int,
    flows: FlowProblem | None = None,
) -> Plan:
    """One strategy's plan on the prepared scenario.

    The one place a plan is made from prepared inputs: :func:`make_plans` and the
    simulation-optimisation's candidate plans both come through here, so a plan is
    equipped (ports sized, costed) the same way wherever it is made.

    Parameters
    ----------
    prep
        From :func:`~sim.study.prepare.prepare`.
    strategy
        The strategy (from the scenario, or a derived ``fixed`` one).
    index
        Its position in ``strategies`` (error messages, the siting RNG stream).
    flows
        Through-traffic routes (:func:`flow_problem`), for the models whose entry needs
        flows.
    """
    return make_plan(
        strategy,
        siting_inputs(prep, flows=flows),
        scenario=prep.scenario,
        index=index,
        plan_table=prep.plan_tables.get(strategy.name) if strategy.plan_file else None,
    )


def siting_inputs(prep: Prepared, /, *, flows: FlowProblem | None = None) -> SitingInputs:
    """The siting stage's view of the prepared scenario: demand rows (residents, then
    through-traffic pairs) x candidates, existing stations and their ports, site ids."""
    cands = prep.region.candidates
    n = len(cands)
    ex_ports = cands["existing_ports"].to_numpy(dtype=np.int64) if n else np.zeros(0, np.int64)
    return SitingInputs(
        cost_min=prep.siting_cost,
        weight=prep.siting_weight,
        existing=prep.existing,
        existing_ports=ex_ports,
        site_ids=tuple(cands["site_id"].astype(str).tolist()) if n else (),
        session_kwh=prep.mean_session_kwh or 28.0,
        flows=flows,
        swap_weight=prep.swap_weight,
    )


def flow_problem(prep: Prepared, /) -> FlowProblem | None:
    """Through-traffic routes over the candidate sites, for the flow-refuelling models.

    Each origin-destination pair's path is the sequence of candidates within the detour
    limit of its route, ordered by distance from the entry; its length is that distance
    (km) and its flow the expected EVs per day that must charge.  Routes with fewer than
    two such candidates are left out.
    """
    hs = prep.highway
    if hs is None:
        return None
    paths, lengths, flow = [], [], []
    for od in range(len(hs.ods)):
        on_route = np.flatnonzero(np.isfinite(hs.od_cost_min[od]))
        if on_route.size < 2:
            continue
        pos = hs.entry_to_cand_km[od, on_route]
        order = np.argsort(pos, kind="stable")
        seq, at = on_route[order], pos[order]
        keep = np.concatenate([[True], np.diff(at) > 1e-6])  # strictly increasing
        paths.append(seq[keep])
        lengths.append(at[keep] - at[keep][0])
        flow.append(max(float(hs.od_weight[od]), 1e-9))
    if not paths:
        return None
    return FlowProblem(
        paths=tuple(paths),
        path_lengths=tuple(lengths),
        flow=np.array(flow),
        n_candidates=len(prep.region.candidates),
    )


def stations_of(prep: Prepared, plan: Plan, /) -> Stations:
    """The simulation's view of a plan."""
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    cap = prep.scenario.chargers.site_grid_cap_kw
    return Stations(
        site_id=tuple(ids[plan.candidate].tolist()),
        ports=plan.ports,
        power_kw=plan.power_kw,
        dc=plan.dc,
        grid_cap_kw=None if cap is None else np.where(plan.existing, np.inf, cap),
        bays=plan.bays if plan.swap.any() else None,
        mobile=mobile_units_of(prep, plan),
    )


def swap_sites_of(prep: Prepared, plan: Plan, /) -> SwapSites | None:
    """The plan's battery-swap stations for the simulation (``None``: it has none), each
    with its class's swap time, pack type(s), pack energy, chargers and grid cap, and
    the plan's bays, packs and pack chargers; packs recharge along ``vehicles.dc_taper``."""
    where = np.flatnonzero(plan.swap)
    if where.size == 0:
        return None
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    classes = [prep.scenario.chargers.swap_classes[plan.charger_class[i]] for i in where]
    caps = [np.inf if c.grid_cap_kw is None else c.grid_cap_kw for c in classes]
    taper = np.asarray(prep.scenario.vehicles.dc_taper, dtype=float)
    full = {c.full_soc for c in classes}
    if len(full) > 1:
        raise ConfigError(
            f"strategies ({plan.strategy!r}): its swap classes charge packs to different "
            f"full_soc values {sorted(full)}; give them one"
        )
    return SwapSites(
        site_id=tuple(ids[plan.candidate[where]].tolist()),
        site=where.astype(np.int64),
        bays=plan.bays[where].astype(np.int64),
        packs=plan.packs[where].astype(np.int64),
        pack_chargers=plan.pack_chargers[where].astype(np.int64),
        charger_kw=np.array([c.charger_kw for c in classes], float),
        pack_kwh=np.array([c.pack_kwh for c in classes], float),
        swap_min=np.array([c.swap_min for c in classes], float),
        swap_distribution=tuple(c.swap_distribution for c in classes),
        swap_cv=np.array([c.swap_cv for c in classes], float),
        pack_types=tuple(frozenset(c.pack_types) for c in classes),
        taper=(taper[:, 0], taper[:, 1]),
        full_soc=full.pop(),
        grid_cap_kw=None if all(np.isinf(caps)) else np.array(caps, float),
    )


def plan_access(prep: Prepared, plan: Plan, /) -> Access:
    """Static access of a plan: nearest stations from each demand node and from each
    station (for retries), within ``simulation.max_access_min``.  ``origin_row`` is
    left empty; :func:`run_unit` fills it per replication.

    Battery-swap sites (0 ports) are never charging options: ``first_station`` and
    ``next_station`` leave them out, and the swap tables list them instead, as indices
    into :func:`swap_sites_of`'s stations (``swap_next_*`` from every plan site, a swap
    station never listing itself).  A plan without swap sites has no swap tables
    (``None``) and today's charging tables.
    """
    sim_cfg = prep.scenario.simulation
    limit = sim_cfg.max_access_min
    k = sim_cfg.choice_set
    times = prep.cost_min[:, plan.candidate]
    c = plan.candidate
    between = prep.cand_to_cand_min[np.ix_(c, c)]
    np.fill_diagonal(between, np.inf)
    swap = np.flatnonzero(plan.swap)
    if swap.size == 0:
        first_st, first_t = k_nearest(times, k, limit)
        next_st, next_t = k_nearest(between, k, limit)
        return Access(
            origin_row=np.empty(0, np.int64),
            first_station=first_st,
            first_min=first_t,
            next_station=next_st,
            next_min=next_t,
        )
    swap_first = k_nearest(times[:, swap], k, limit)
    swap_next = k_nearest(between[:, swap], k, limit)
    times[:, swap] = np.inf
    between[:, swap] = np.inf
    first_st, first_t = k_nearest(times, k, limit)
    next_st, next_t = k_nearest(between, k, limit)
    return Access(
        origin_row=np.empty(0, np.int64),
        first_station=first_st,
        first_min=first_t,
        next_station=next_st,
        next_min=next_t,
        swap_first_station=swap_first[0],
        swap_first_min=swap_first[1],
        swap_next_station=swap_next[0],
        swap_next_min=swap_next[1],
    )


def driver_rules(scenario: Scenario, /) -> DriverRules:
    """Driver behaviour from ``simulation``."""
    s = scenario.simulation
    return DriverRules(
        choice=s.choice,
        wait_weight=s.wait_weight,
        balk_queue_per_port=s.balk_queue_per_port,
        max_attempts=s.max_attempts,
    )


def taper_curves(scenario: Scenario, /) -> TaperCurves:
    """Charging curves from ``vehicles``."""
    v = scenario.vehicles
    return TaperCurves.from_points(dc=v.dc_taper, ac=v.ac_taper)


def coverage_share(prep: Prepared, plan: Plan, /) -> float:
    """Share of expected demand within ``simulation.radius_min`` of a plan site."""
    total = prep.weight.sum()
    if total <= 0 or len(plan) == 0:
        return 0.0
    best = prep.cost_min[:, plan.candidate].min(axis=1)
    return float(prep.weight[best <= prep.scenario.simulation.radius_min].sum() / total)


def plan_highway_access(prep: Prepared, plan: Plan, /) -> HighwayAccess | None:
    """Stations of a plan along every through route, and onwards from each station.

    Charging stations and battery-swap stations are listed in separate tables: a
    charging driver's options never include a swap site, so a plan without swap sites
    gets exactly the tables it got before swap stations existed; the swap tables
    (``swap_*``, indices into :func:`swap_sites_of`'s stations) are the options of
    through vehicles that can swap.
    """
    hs = prep.highway
    if hs is None or len(hs.ods) == 0:
        return None
    limit = prep.scenario.demand.highway.detour_max_min
    c = plan.candidate
    m = c.shape[0]
    n_x = hs.exits.shape[0]
    drive_min = hs.entry_to_cand_min[:, c]
    drive_km = hs.entry_to_cand_km[:, c]
    to_x_min = hs.cand_to_exit_min[c]
    to_x_km = hs.cand_to_exit_km[c]
    with np.errstate(invalid="ignore"):
        detour = drive_min + to_x_min[:, hs.od_exit].T - hs.ods.route_min[:, None]
    detour = np.where(np.isfinite(detour), np.maximum(detour, 0.0), np.inf)
    swap = np.flatnonzero(plan.swap)
    charging = np.ones(m, dtype=bool)
    charging[swap] = False
    od = _route_picks(np.where(charging, detour, np.inf), drive_min, drive_km, limit)
    if m:
        between_min = hs.cand_to_cand_min[np.ix_(c, c)]
        between_km = hs.cand_to_cand_km[np.ix_(c, c)]
        np.fill_diagonal(between_min, np.inf)
        np.fill_diagonal(between_km, np.inf)
        # nxt[j, x, s]: detour of going j -> s -> x instead of j -> x
        with np.errstate(invalid="ignore"):  # inf - inf where a station cannot reach x
            nxt = between_min[:, None, :] + to_x_min.T[None, :, :] - to_x_min[:, :, None]
        nxt = np.where(np.isfinite(nxt), np.maximum(nxt, 0.0), np.inf)
        shape = nxt.shape
        b_min = np.broadcast_to(between_min[:, None, :], shape)
        b_km = np.broadcast_to(between_km[:, None, :], shape)
        nx = _route_picks(np.where(charging, nxt, np.inf), b_min, b_km, limit, rows=(m, n_x))
    else:
        empty = np.zeros((0, n_x, 0))
        nx = _route_picks(empty, empty, empty, limit, rows=(0, n_x))
    swap_tables: dict[str, Any] = {}
    if swap.size:
        s_od = _route_picks(detour[:, swap], drive_min[:, swap], drive_km[:, swap], limit)
        s_nx = _route_picks(
            nxt[:, :, swap], b_min[:, :, swap], b_km[:, :, swap], limit, rows=(m, n_x)
        )
        for name, a, b in zip(("station", "drive_min", "drive_km", "detour_min"), s_od, s_nx,
                              strict=True):  # fmt: skip
            swap_tables[f"swap_od_{name}"], swap_tables[f"swap_next_{name}"] = a, b
    cfg = prep.scenario.demand.highway
    return HighwayAccess(
        session_cap=session_cap(prep.scenario, plan.strategy),
        od_station=od[0],
        od_drive_min=od[1],
        od_drive_km=od[2],
        od_detour_min=od[3],
        od_route_min=hs.ods.route_min,
        od_route_km=hs.ods.route_km,
        od_exit=hs.od_exit,
        to_exit_min=to_x_min,
        to_exit_km=to_x_km,
        next_station=nx[0],
        next_drive_min=nx[1],
        next_drive_km=nx[2],
        next_detour_min=nx[3],
        detour_max_min=limit,
        target_soc=cfg.target_soc,
        reserve_soc=cfg.reserve_soc,
        **swap_tables,
    )


def session_cap(scenario: Scenario, strategy: str, /) -> SessionCap | None:
    """The session cap of the strategy named ``strategy`` for the simulation (``None``:
    it has none; a refined plan ``NAME+simopt`` keeps its base's)."""
    base = strategy.removesuffix("+simopt")
    cfg = next((s.session_cap for s in scenario.strategies if s.name == base), None)
    if cfg is None:
        return None
    if cfg.days == "all":
        days = None
    elif cfg.days == "holiday":
        hol = scenario.demand.highway.holiday
        days = frozenset(hol.days) if hol is not None else frozenset()
    else:
        days = frozenset(cfg.days)
    return SessionCap(soc=cfg.soc, minutes=cfg.minutes, days=days)


def queue_info_share(scenario: Scenario, strategy: str, /) -> float | None:
    """The share of through drivers with queue information under the strategy named
    ``strategy`` (its own ``queue_info_share``, else the simulation's; ``None``: every
    driver follows the default rule)."""
    base = strategy.removesuffix("+simopt")
    own = next((s.queue_info_share for s in scenario.strategies if s.name == base), None)
    return own if own is not None else scenario.simulation.queue_info_share


def _route_picks(
    detour: np.ndarray,
    drive_min: np.ndarray,
    drive_km: np.ndarray,
    limit: float,
    /,
    *,
    rows: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The options a through driver considers from each row (:func:`route_options`),
    with their drive (min, km) and detour (min); ``inf`` padding.

    ``detour``, ``drive_min`` and ``drive_km`` are ``(*rows, n_stations)``; ``rows``
    gives a leading shape to flatten (default: the first axis).
    """
    lead = detour.shape[:-1] if rows is None else rows
    n = detour.shape[-1]
    flat = int(np.prod(lead))
    d = detour.reshape(flat, n)
    sel = route_options(d, drive_km.reshape(flat, n), limit)
    safe = np.maximum(sel, 0)
    ok = sel >= 0

    def at(a: np.ndarray) -> np.ndarray:
        if n == 0:
            return np.full(sel.shape, np.inf)
        return np.where(ok, np.take_along_axis(a.reshape(flat, n), safe, 1), np.inf)

    out = (sel.astype(np.int64), at(drive_min), at(drive_km), at(d))
    return tuple(a.reshape(*lead, sel.shape[1]) for a in out)  # type: ignore[return-value]
