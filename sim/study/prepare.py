"""Experiments: strategies x replications on one prepared scenario.

:func:`prepare` runs the static stages once (region, travel times, expected demand,
candidate scores); :func:`make_plans` solves every strategy; :func:`run_unit` simulates
one (strategy, replication) unit; :mod:`sim.study.executors` runs the units (in-process, on a
process pool or on Dask) and :mod:`sim.api` aggregates them.
Each replication's demand comes from ``stream(seed, replication, "demand")`` so every
strategy sees the same sessions (common random numbers), and a unit's result depends
only on its inputs, not on the order units run in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import Scenario
from sim.demand.highway import HighwayODs, highway_demand, highway_ods
from sim.demand.model import Demand, merge_demand
from sim.demand.residential import (
    HomeTable,
    home_table,
    residential_demand,
    sessions_per_ev_day,
)
from sim.des.model import (
    OUTCOMES,
    Access,
    DriverRules,
    HighwayAccess,
    SessionLog,
    Stations,
    TaperCurves,
    simulate,
)
from sim.errors import ConfigError
from sim.metrics.scores import METRICS, score, station_stats
from sim.region import Region, RegionOptions, RegionSource, load_region
from sim.region.gates import find_gates, user_gates
from sim.region.options import HousingParams
from sim.region.plan_file import (
    PlanTable,
    add_plan_sites,
    check_charger_classes,
    read_plan_file,
)
from sim.rng import stream
from sim.siting.frlm import FlowProblem
from sim.siting.plan import FLOW_MODELS, Plan, make_plan
from sim.access.network import RoadNetwork, build_network, travel_time_matrix

__all__ = [
    "Prepared",
    "UnitResult",
    "aggregate",
    "make_plans",
    "per_replication_frame",
    "prepare",
    "run_unit",
]

Progress = Callable[[str, int, int], None]


def _no_progress(_label: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class HighwayStatic:
    """Static inputs of through-traffic.

    Attributes
    ----------
    ods
        Origin-destination pairs of the gates.
    length_network
        The road network weighted by length (m).
    entry_to_cand_min, entry_to_cand_km
        ``(n_od, n_candidates)`` drive from each pair's entry to each candidate.
    cand_to_exit_min, cand_to_exit_km
        ``(n_candidates, n_exits)`` drive from each candidate to each exit.
    exits
        int64 gate indices of the exits (columns of ``cand_to_exit_*``).
    od_exit
        int64 index of each pair's exit among ``exits``.
    od_cost_min
        ``(n_od, n_candidates)`` detour (min) against the direct route, ``inf`` beyond
        ``demand.highway.detour_max_min``.
    od_weight
        Expected EVs per day of each pair that must charge in the region (planning draw).
    through_evs_per_day
        Expected EVs per day passing through (charging or not).
    """

    ods: HighwayODs
    length_network: RoadNetwork
    entry_to_cand_min: np.ndarray
    entry_to_cand_km: np.ndarray
    cand_to_exit_min: np.ndarray
    cand_to_exit_km: np.ndarray
    exits: np.ndarray
    od_exit: np.ndarray
    od_cost_min: np.ndarray
    od_weight: np.ndarray
    through_evs_per_day: float


@dataclass(frozen=True)
class Prepared:
    """Static inputs of a scenario, computed once.

    Attributes
    ----------
    scenario, region, network, homes
        The validated scenario, the region, its CSR travel-time network, home points.
    demand_node
        int64 unique OSM nodes where residential demand starts.
    home_to_demand
        int64 index of each home point's row in ``demand_node``.
    weight
        float64 expected public sessions per day at each demand node.
    cost_min
        ``(n_demand_nodes, n_candidates)`` travel time (min); ``inf`` beyond
        ``simulation.max_access_min``.
    existing
        int64 indices of candidates that are existing charging stations.
    highway
        Through-traffic inputs, when ``demand.highway.enabled``.
    sessions_per_ev_day, mean_session_kwh
        Planning estimate of public sessions per EV without home charging per day, and
        of the energy per session (kWh), from a draw of the trip model on its own
        random stream.
    checksums
        Data files read and their SHA-256.
    plan_tables
        Plans read from files, by strategy name (their sites are candidates).
    """

    scenario: Scenario
    region: Region
    network: RoadNetwork
    homes: HomeTable
    demand_node: np.ndarray
    home_to_demand: np.ndarray
    weight: np.ndarray
    cost_min: np.ndarray
    existing: np.ndarray
    sessions_per_ev_day: float
    mean_session_kwh: float
    checksums: dict[str, str] = field(default_factory=dict)
    highway: HighwayStatic | None = None
    plan_tables: dict[str, PlanTable] = field(default_factory=dict)

    @property
    def siting_cost(self) -> np.ndarray:
        """Rows of the siting problem: residential demand nodes (access minutes), then
        highway origin-destination pairs (detour minutes)."""
        if self.highway is None:
            return self.cost_min
        return np.vstack([self.cost_min, self.highway.od_cost_min])

    @property
    def siting_weight(self) -> np.ndarray:
        """Expected sessions per day of each row of :attr:`siting_cost`."""
        if self.highway is None:
            return self.weight
        return np.concatenate([self.weight, self.highway.od_weight])

    @property
    def horizon_min(self) -> float:
        """Simulated period (min)."""
        return self.scenario.demand.days * 1440.0


def region_source(scenario: Scenario, /) -> RegionSource:
    """The :class:`RegionSource` named by ``scenario.region``."""
    r = scenario.region
    if r.sample is not None:
        return RegionSource(kind="sample", value=r.sample)
    if r.file is not None:
        return RegionSource(kind="file", value=str(r.file))
    if r.place is not None:
        return RegionSource(kind="place", value=r.place)
    assert r.bbox is not None
    w, south, e, n = r.bbox
    return RegionSource(kind="bbox", value=(w, south, e, n))


def region_options(scenario: Scenario, /) -> RegionOptions:
    """The region loader's options from ``scenario``."""
    h = scenario.region.housing
    c = scenario.candidates
    return RegionOptions(
        housing=HousingParams(
            floor_area_per_household_m2=h.floor_area_per_household_m2,
            default_levels=dict(h.default_levels),
            households_per_house=h.households_per_house,
            min_footprint_m2=h.min_footprint_m2,
            zone_density_households_per_ha=h.zone_density_households_per_ha,
            road_density_households_per_km=h.road_density_households_per_km,
        ),
        candidate_kinds=tuple(c.kinds),
        sites_file=c.file,
        network_candidates=c.network_nodes,
        max_snap_m=c.max_snap_m,
        default_station_ports=c.existing_ports_default,
    )


#: The last region loaded in this process, by the config that determines it (sweeps
#: over demand or siting keys then load the region once).
_REGION_CACHE: dict[str, Region] = {}


def _load_region_cached(source: RegionSource, scenario: Scenario, /) -> Region:
    key = scenario.region.model_dump_json() + scenario.candidates.model_dump_json()
    region = _REGION_CACHE.get(key)
    if region is None:
        region = load_region(
            source, options=region_options(scenario), cache_dir=scenario.region.cache_dir
        )
        _REGION_CACHE.clear()
        _REGION_CACHE[key] = region
    return region


def prepare(scenario: Scenario, /, *, progress: Progress = _no_progress) -> Prepared:
    """Load the region and compute everything that does not change between units.

    Parameters
    ----------
    scenario
        A validated scenario.
    progress
        Called as ``progress(label, done, total)``.
    """
    progress("loading region", 0, 3)
    syn = scenario.region.synthetic
    cor = scenario.region.corridor
    if cor is not None:
        from sim.region.corridor import corridor_region

        region = corridor_region(
            length_km=cor.length_km,
            speed_kph=cor.speed_kph,
            node_spacing_km=cor.node_spacing_km,
            service_areas=[(a.name, a.km, a.ports) for a in cor.service_areas],
            candidate_spacing_km=cor.candidate_spacing_km,
            origin_lon=cor.origin_lon,
            origin_lat=cor.origin_lat,
        )
        checksums = {"region:corridor": "generated"}
    elif syn is not None:
        from sim.region.synthetic import synthetic_region

        region = synthetic_region(
            layout=syn.layout,
            nodes=syn.nodes,
            spacing_m=syn.spacing_m,
            expressway=syn.expressway,
            households=syn.households,
            candidates=syn.candidates,
            rng=stream(scenario.seed, "synthetic-region"),
        )
        # the hash of the generated graph, zones and candidates: a changed generator shows
        checksums = {"region:synthetic": str(region.provenance.get("sha256", ""))}
    else:
        source = region_source(scenario)
        region = _load_region_cached(source, scenario)
        checksums = {f"region:{source.kind}": str(region.provenance.get("sha256", ""))}
    from sim.config import file_sha256

    if scenario.candidates.file is not None:
        checksums["candidates.file"] = file_sha256(scenario.candidates.file)
    if scenario.region.zones_file is not None:
        from sim.region.zones_file import apply_zones_file

        region = apply_zones_file(
            region,
            scenario.region.zones_file,
            mode=scenario.region.zones_mode,
            cars_per_household=scenario.demand.residential.cars_per_household,
            private_space_charger_share=scenario.region.private_space_charger_share,
        )
        checksums["region.zones_file"] = file_sha256(scenario.region.zones_file)
    plan_tables: dict[str, PlanTable] = {}
    for i, strat in enumerate(scenario.strategies):
        if strat.plan_file is not None:
            table = read_plan_file(strat.plan_file, strategy=strat.plan_strategy)
            check_charger_classes(table, scenario.chargers.classes)
            plan_tables[strat.name] = table
            checksums[f"strategies.{i}.plan_file"] = file_sha256(strat.plan_file)
    if plan_tables:
        region, tables = add_plan_sites(
            region, list(plan_tables.values()), max_snap_m=scenario.candidates.max_snap_m
        )
        plan_tables = dict(zip(plan_tables, tables, strict=True))
    progress("travel times", 1, 3)
    network = build_network(region.graph)
    homes = home_table(region)
    demand_node, home_to_demand = np.unique(homes.node, return_inverse=True)
    res = scenario.demand.residential
    spd, kwh = sessions_per_ev_day(
        cfg=res,
        fleet=scenario.vehicles.fleet,
        days=max(scenario.demand.days, 28),
        start_weekday=scenario.demand.start_weekday,
        rng=stream(scenario.seed, "planning"),
    )
    w_home = homes.sessions_per_day(res, sessions_per_ev_day=spd)
    weight = np.bincount(home_to_demand, weights=w_home, minlength=demand_node.shape[0])
    cand_nodes = region.candidates["node"].to_numpy(dtype=np.int64)
    cutoff_s = scenario.simulation.max_access_min * 60.0
    if cand_nodes.size and demand_node.size:
        cost_min = travel_time_matrix(network, demand_node, cand_nodes, cutoff_s=cutoff_s) / 60.0
    else:
        cost_min = np.full((demand_node.shape[0], cand_nodes.shape[0]), np.inf)
    kinds = region.candidates["kind"].to_numpy()
    ports = region.candidates["existing_ports"].to_numpy()
    existing = np.flatnonzero(
        (kinds == "charging_station") | ((kinds == "services") & (ports > 0))
    ).astype(np.int64)
    hw_static = None
    if scenario.demand.highway.enabled:
        progress("highway routes", 2, 3)
        hw_static = _highway_static(scenario, region, network, cand_nodes)
    progress("prepared", 3, 3)
    return Prepared(
        scenario=scenario,
        region=region,
        network=network,
        homes=homes,
        demand_node=demand_node.astype(np.int64),
        home_to_demand=home_to_demand.astype(np.int64),
        weight=weight,
        cost_min=cost_min,
        existing=existing,
        sessions_per_ev_day=spd,
        mean_session_kwh=kwh,
        checksums=checksums,
        highway=hw_static,
        plan_tables=plan_tables,
    )


def _highway_static(
    scenario: Scenario, region: Region, network: RoadNetwork, cand_nodes: np.ndarray
) -> HighwayStatic:
    cfg = scenario.demand.highway
    length_net = build_network(region.graph, weight="length")
    if cfg.gates is not None:
        gates = user_gates(
            region.graph,
            [(g.name, g.lon, g.lat, g.role) for g in cfg.gates],
            highways=cfg.gate_highways,
        )
    else:
        gates = find_gates(region.graph, highways=cfg.gate_highways)
    ods = highway_ods(gates, time_net=network, length_net=length_net, cfg=cfg)
    if len(ods) == 0:
        raise ConfigError(
            "demand.highway: no through route between an entry and an exit gate was found "
            f"(gates: {', '.join(gates.name) or 'none'}); list gates under "
            "demand.highway.gates or disable highway demand"
        )
    exits = np.unique(ods.exit)
    od_exit = np.searchsorted(exits, ods.exit)
    n_c = cand_nodes.shape[0]
    if n_c:
        e_min = travel_time_matrix(network, ods.entry_node, cand_nodes) / 60.0
        e_km = travel_time_matrix(length_net, ods.entry_node, cand_nodes) / 1000.0
        x_min = travel_time_matrix(network, cand_nodes, gates.node[exits]) / 60.0
        x_km = travel_time_matrix(length_net, cand_nodes, gates.node[exits]) / 1000.0
        detour = e_min + x_min[:, od_exit].T - ods.route_min[:, None]
        detour = np.maximum(detour, 0.0)
    else:
        e_min = e_km = np.zeros((len(ods), 0))
        x_min = x_km = np.zeros((0, exits.shape[0]))
        detour = np.zeros((len(ods), 0))
    cost = np.where(np.isfinite(detour) & (detour <= cfg.detour_max_min), detour, np.inf)
    days = scenario.demand.days
    draw, n_through = highway_demand(
        ods,
        cfg=cfg,
        fleet=scenario.vehicles.fleet,
        days=days,
        rng=stream(scenario.seed, "planning-highway"),
        first_vehicle_id=0,
    )
    od_weight = np.bincount(draw.od, minlength=len(ods)) / days
    return HighwayStatic(
        ods=ods,
        length_network=length_net,
        entry_to_cand_min=e_min,
        entry_to_cand_km=e_km,
        cand_to_exit_min=x_min,
        cand_to_exit_km=x_km,
        exits=exits.astype(np.int64),
        od_exit=od_exit.astype(np.int64),
        od_cost_min=cost,
        od_weight=od_weight.astype(float),
        through_evs_per_day=n_through / days,
    )


def make_plans(prep: Prepared, /) -> dict[str, Plan]:
    """Solve every strategy of the scenario (in config order)."""
    cands = prep.region.candidates
    ex_ports = cands["existing_ports"].to_numpy(dtype=np.int64) if len(cands) else np.zeros(0)
    if prep.siting_weight.sum() <= 0 and len(cands):
        raise ConfigError(
            "demand: the scenario has no charging demand (no households with EVs without "
            "home charging, no through-traffic that must charge); check demand.residential, "
            "demand.highway and the region's zones"
        )
    plans: dict[str, Plan] = {}
    site_ids = cands["site_id"].astype(str).tolist()
    needs_flows = any(s.model_name in FLOW_MODELS for s in prep.scenario.strategies)
    flows = flow_problem(prep) if needs_flows else None
    for i, s in enumerate(prep.scenario.strategies):
        plans[s.name] = make_plan(
            s,
            scenario=prep.scenario,
            cost_min=prep.siting_cost,
            weight=prep.siting_weight,
            existing=prep.existing,
            existing_ports=ex_ports,
            site_ids=site_ids,
            index=i,
            flows=flows,
            session_kwh=prep.mean_session_kwh or 28.0,
            plan_table=prep.plan_tables.get(s.name),
        )
    return plans


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
    )


def _k_nearest(times: np.ndarray, k: int, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` columns with the smallest finite times <= limit."""
    k = min(k, times.shape[1])
    if k == 0:
        return (np.full((times.shape[0], 0), -1, np.int64), np.full((times.shape[0], 0), np.inf))
    idx = np.argsort(times, axis=1, kind="stable")[:, :k]
    t = np.take_along_axis(times, idx, axis=1)
    ok = np.isfinite(t) & (t <= limit)
    return np.where(ok, idx, -1).astype(np.int64), np.where(ok, t, np.inf)


def plan_access(prep: Prepared, plan: Plan, /) -> Access:
    """Static access of a plan: nearest stations from each demand node and from each
    station (for retries), within ``simulation.max_access_min``.  ``origin_row`` is
    left empty; :func:`run_unit` fills it per replication."""
    sim_cfg = prep.scenario.simulation
    limit = sim_cfg.max_access_min
    k = sim_cfg.choice_set
    times = prep.cost_min[:, plan.candidate]
    first_st, first_t = _k_nearest(times, k, limit)
    if len(plan):
        nodes = prep.region.candidates["node"].to_numpy(dtype=np.int64)[plan.candidate]
        between = travel_time_matrix(prep.network, nodes, nodes, cutoff_s=limit * 60.0) / 60.0
        np.fill_diagonal(between, np.inf)
    else:
        between = np.zeros((0, 0))
    next_st, next_t = _k_nearest(between, k, limit)
    return Access(
        origin_row=np.empty(0, np.int64),
        first_station=first_st,
        first_min=first_t,
        next_station=next_st,
        next_min=next_t,
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


def demand_for(prep: Prepared, replication: int, /) -> Demand:
    """The sessions of one replication (the same for every strategy)."""
    sc = prep.scenario
    res = residential_demand(
        prep.homes,
        cfg=sc.demand.residential,
        fleet=sc.vehicles.fleet,
        days=sc.demand.days,
        start_weekday=sc.demand.start_weekday,
        rng=stream(sc.seed, replication, "demand"),
    )
    if prep.highway is None:
        return res
    hw, _ = highway_demand(
        prep.highway.ods,
        cfg=sc.demand.highway,
        fleet=sc.vehicles.fleet,
        days=sc.demand.days,
        rng=stream(sc.seed, replication, "highway"),
        first_vehicle_id=HIGHWAY_VEHICLE_IDS,
    )
    return merge_demand(res, hw)


#: Highway vehicles are numbered from here (residential ones from 0).
HIGHWAY_VEHICLE_IDS = 1_000_000_000


def plan_highway_access(prep: Prepared, plan: Plan, /) -> HighwayAccess | None:
    """Stations of a plan along every through route, and onwards from each station."""
    hs = prep.highway
    if hs is None or len(hs.ods) == 0:
        return None
    cfg = prep.scenario.demand.highway
    c = plan.candidate
    m = c.shape[0]
    n_od = len(hs.ods)
    drive_min = hs.entry_to_cand_min[:, c]
    drive_km = hs.entry_to_cand_km[:, c]
    to_x_min = hs.cand_to_exit_min[c]
    to_x_km = hs.cand_to_exit_km[c]
    with np.errstate(invalid="ignore"):
        detour = drive_min + to_x_min[:, hs.od_exit].T - hs.ods.route_min[:, None]
    detour = np.where(np.isfinite(detour), np.maximum(detour, 0.0), np.inf)
    od_sel = _route_options(detour, drive_km, cfg.detour_max_min)
    n_x = hs.exits.shape[0]
    if m:
        nodes = prep.region.candidates["node"].to_numpy(dtype=np.int64)[c]
        between_min = travel_time_matrix(prep.network, nodes, nodes) / 60.0
        between_km = travel_time_matrix(hs.length_network, nodes, nodes) / 1000.0
        np.fill_diagonal(between_min, np.inf)
        np.fill_diagonal(between_km, np.inf)
        # nxt[j, x, s]: detour of going j -> s -> x instead of j -> x
        with np.errstate(invalid="ignore"):  # inf - inf where a station cannot reach x
            nxt = between_min[:, None, :] + to_x_min.T[None, :, :] - to_x_min[:, :, None]
        nxt = np.where(np.isfinite(nxt), np.maximum(nxt, 0.0), np.inf)
        along = np.broadcast_to(between_km[:, None, :], nxt.shape)
        n_idx = _route_options(
            nxt.reshape(m * n_x, m), along.reshape(m * n_x, m), cfg.detour_max_min
        ).reshape(m, n_x, -1)
        safe = np.maximum(n_idx, 0)
        n_ok = n_idx >= 0
        j_ix = np.arange(m)[:, None, None]
        x_ix = np.arange(n_x)[None, :, None]
        n_det = np.where(n_ok, nxt[j_ix, x_ix, safe], np.inf)
        n_min = np.where(n_ok, between_min[j_ix, safe], np.inf)
        n_km = np.where(n_ok, between_km[j_ix, safe], np.inf)
    else:
        n_idx = np.zeros((0, n_x, 0), np.int64)
        n_det = n_min = n_km = np.zeros((0, n_x, 0))
    safe_od = np.maximum(od_sel, 0)
    ok = od_sel >= 0
    rows = np.arange(n_od)[:, None]
    return HighwayAccess(
        od_station=od_sel,
        od_drive_min=np.where(ok, drive_min[rows, safe_od], np.inf),
        od_drive_km=np.where(ok, drive_km[rows, safe_od], np.inf),
        od_detour_min=np.where(ok, detour[rows, safe_od], np.inf),
        od_route_min=hs.ods.route_min,
        od_route_km=hs.ods.route_km,
        od_exit=hs.od_exit,
        to_exit_min=to_x_min,
        to_exit_km=to_x_km,
        next_station=n_idx.astype(np.int64),
        next_drive_min=n_min,
        next_drive_km=n_km,
        next_detour_min=n_det,
        detour_max_min=cfg.detour_max_min,
        target_soc=cfg.target_soc,
        reserve_soc=cfg.reserve_soc,
    )


def _route_options(detour: np.ndarray, along_km: np.ndarray, limit: float) -> np.ndarray:
    """Per row, the stations a through driver considers, in route order.

    Every station within the detour limit, plus the three with the smallest detour
    beyond it (a last resort when nothing nearer can be reached), ordered by driving
    distance along the route; -1 pads the rows.
    """
    n_rows, m = detour.shape
    if m == 0 or n_rows == 0:
        return np.full((n_rows, 0), -1, dtype=np.int64)
    rank = np.argsort(np.argsort(detour, axis=1, kind="stable"), axis=1, kind="stable")
    take = np.isfinite(detour) & ((detour <= limit) | (rank < 3))
    width = max(int(take.sum(axis=1).max()), 1)
    key = np.where(take, along_km, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :width]
    chosen = np.take_along_axis(take, order, axis=1)
    return np.where(chosen, order, -1).astype(np.int64)


@dataclass(frozen=True)
class UnitResult:
    """Result of one (strategy, replication) unit."""

    strategy: str
    replication: int
    metrics: dict[str, float | None]
    log: SessionLog
    demand: Demand
    site_stats: dict[str, np.ndarray]


def run_unit(
    prep: Prepared,
    plan: Plan,
    replication: int,
    /,
    *,
    demand: Demand | None = None,
    access: Access | None = None,
    highway: HighwayAccess | None = None,
) -> UnitResult:
    """Simulate one strategy's plan in one replication.

    Parameters
    ----------
    prep
        From :func:`prepare`.
    plan
        From :func:`make_plans`.
    replication
        Replication number (selects the demand stream).
    demand
        The replication's demand if already drawn (it is the same for all strategies).
    access
        The plan's :func:`plan_access` if already computed.
    highway
        The plan's :func:`plan_highway_access` if already computed.
    """
    sc = prep.scenario
    d = demand if demand is not None else demand_for(prep, replication)
    st = stations_of(prep, plan)
    acc = access if access is not None else plan_access(prep, plan)
    hw = highway if highway is not None else plan_highway_access(prep, plan)
    rows = np.searchsorted(prep.demand_node, d.origin)
    acc = Access(
        origin_row=np.where(d.segment == 0, rows, 0).astype(np.int64),
        first_station=acc.first_station,
        first_min=acc.first_min,
        next_station=acc.next_station,
        next_min=acc.next_min,
    )
    log = simulate(d, st, access=acc, highway=hw, rules=driver_rules(sc), taper=taper_curves(sc))
    metrics = score(
        log,
        d,
        stations=st,
        horizon_min=prep.horizon_min,
        coverage_share=coverage_share(prep, plan),
        weights={str(k): v for k, v in sc.simulation.difficulty_weights.items()},
        wait_ref_min=sc.simulation.wait_ref_min,
        access_ref_min=sc.simulation.access_ref_min,
    )
    return UnitResult(
        strategy=plan.strategy,
        replication=replication,
        metrics=metrics,
        log=log,
        demand=d,
        site_stats=station_stats(log, st, horizon_min=prep.horizon_min),
    )


def ci95(values: np.ndarray, /) -> tuple[float | None, float | None]:
    """Student-t 95% confidence interval of the mean; ``(None, None)`` for n < 2."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return None, None
    m = float(v.mean())
    sem = float(v.std(ddof=1) / np.sqrt(v.size))
    if sem == 0.0:
        return m, m
    h = float(stats.t.ppf(0.975, v.size - 1)) * sem
    return m - h, m + h


#: +1 where a larger value is better, -1 where a smaller one is, 0 where neither is.
DIRECTION: dict[str, int] = {
    "wait_mean_min": -1,
    "wait_p95_min": -1,
    "unserved_share": -1,
    "stranded_share": -1,
    "access_time_mean_min": -1,
    "detour_mean_min": -1,
    "utilization_mean": 0,
    "coverage_share": 1,
    "energy_served_kwh": 1,
    "difficulty_index": -1,
}


def paired_differences(per_rep: pd.DataFrame, /) -> list[dict[str, Any]]:
    """Paired comparison of every two strategies, metric by metric.

    Strategies see the same demand in a replication (common random numbers), so the
    difference ``a - b`` is taken replication by replication and its mean gets a
    Student-t 95% interval.  A difference is significant when the interval excludes 0;
    ``better`` names the strategy the difference favours (``None`` when not significant
    or when the metric has no better direction).

    Returns
    -------
    list of dict
        ``{"a", "b", "metrics": {METRIC: {"mean_diff", "ci95", "significant",
        "better"}}}`` for every pair in config order.
    """
    names = list(dict.fromkeys(per_rep["strategy"]))
    wide = {n: per_rep[per_rep["strategy"] == n].set_index("replication") for n in names}
    out: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            metrics: dict[str, Any] = {}
            for m in METRICS:
                d = (wide[a][m] - wide[b][m]).dropna().to_numpy(dtype=float)
                if d.size == 0:
                    metrics[m] = {
                        "mean_diff": None,
                        "ci95": [None, None],
                        "significant": False,
                        "better": None,
                    }
                    continue
                lo, hi = ci95(d)
                sig = lo is not None and hi is not None and (lo > 0 or hi < 0)
                mean = float(d.mean())
                better = None
                if sig and DIRECTION[m] != 0:
                    better = a if mean * DIRECTION[m] > 0 else b
                metrics[m] = {
                    "mean_diff": mean,
                    "ci95": [lo, hi],
                    "significant": bool(sig),
                    "better": better,
                }
            out.append({"a": a, "b": b, "metrics": metrics})
    return out


def aggregate(per_rep: pd.DataFrame, /) -> dict[str, dict[str, Any]]:
    """Mean and 95% interval of every metric per strategy.

    Parameters
    ----------
    per_rep
        One row per (strategy, replication) with a column per metric.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, g in per_rep.groupby("strategy", sort=False):
        metrics: dict[str, Any] = {}
        for m in METRICS:
            col = g[m].to_numpy(dtype=float)
            if np.isnan(col).all():
                metrics[m] = {"mean": None, "ci95": [None, None]}
                continue
            col = col[~np.isnan(col)]
            lo, hi = ci95(col)
            metrics[m] = {"mean": float(col.mean()), "ci95": [lo, hi]}
        out[str(name)] = metrics
    return out


def per_replication_frame(units: list[UnitResult], /) -> pd.DataFrame:
    """One row per (strategy, replication), a column per metric."""
    per_rep = pd.DataFrame(
        [{"strategy": u.strategy, "replication": u.replication, **u.metrics} for u in units],
        columns=["strategy", "replication", *METRICS],
    )
    per_rep[list(METRICS)] = per_rep[list(METRICS)].astype(float)
    return per_rep


def sessions_frame(
    prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /
) -> pd.DataFrame:
    """All attempts of all units as the ``sessions.parquet`` table."""
    frames = []
    for u in units:
        st = stations_of(prep, plans[u.strategy])
        ids = np.array([*st.site_id, ""], dtype=object)
        log, d = u.log, u.demand
        s = log.session
        frames.append(
            pd.DataFrame(
                {
                    "replication": np.full(len(log), u.replication, dtype=np.int32),
                    "strategy": u.strategy,
                    "vehicle_id": d.vehicle_id[s],
                    "segment": np.where(d.segment[s] == 0, "residential", "highway"),
                    "station_id": ids[log.station],
                    "arrival_min": log.arrival_min,
                    "start_min": log.start_min,
                    "end_min": log.end_min,
                    "wait_min": log.wait_min,
                    "energy_kwh": log.energy_kwh,
                    "power_kw": log.power_kw,
                    "outcome": np.asarray(OUTCOMES, dtype=object)[log.outcome],
                    "session": s,
                    "attempt": log.attempt,
                    "depart_min": d.depart_min[s],
                    "access_min": log.access_min,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for c in ("strategy", "segment", "station_id", "outcome"):
        if c in df:
            df[c] = df[c].astype("category")
    return df
