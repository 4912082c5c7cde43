"""Preparing a scenario: the static inputs every unit shares, computed once.

:func:`prepare` loads the region, builds the travel-time network, draws the planning
estimate of demand, computes the demand-to-candidate travel times and the through-traffic
route statics, and reads the plan files.  Nothing here depends on a strategy or a
replication.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from sim.access.network import RoadNetwork, network_of, travel_time_matrix, travel_times_to
from sim.config import Scenario, file_sha256
from sim.demand.fleets import FleetArea, all_fleets_demand
from sim.demand.highway import HighwayODs, highway_demand, highway_ods
from sim.demand.model import Demand, pack_types
from sim.demand.residential import HomeTable, home_table, planning_draw
from sim.errors import ConfigError, DataError
from sim.region import Region
from sim.region.build import build_region
from sim.region.gates import find_gates, user_gates
from sim.region.plan_file import (
    PlanTable,
    add_plan_sites,
    check_charger_classes,
    read_plan_file,
)
from sim.rng import stream
from sim.study.cache import MEMORY, cached_on_disk, content_key
from sim.study.levers import LeverSites, check_levers, has_levers, lever_candidates
from sim.study.progress import Progress, no_progress

__all__ = [
    "HighwayStatic",
    "Prepared",
    "candidate_compounds",
    "prepare",
    "private_cars",
]


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
    cand_to_cand_min, cand_to_cand_km
        ``(n_candidates, n_candidates)`` fastest drive (min) from candidate ``i`` to
        candidate ``j``, and its length (km, the shortest route's: searched on
        ``length_network``), 0 on the diagonal; searched once, forward from every
        candidate, with no cutoff (a plan's onward table reads its stations' rows and
        columns).
    exits
        int64 gate indices of the exits (columns of ``cand_to_exit_*``).
    od_exit
        int64 index of each pair's exit among ``exits``.
    od_cost_min
        ``(n_od, n_candidates)`` detour (min) against the direct route, ``inf`` beyond
        ``demand.highway.detour_max_min``.
    od_weight
        Expected EVs per day of each pair that must charge in the region (planning draw).
    od_swap_weight
        By pack type (:func:`~sim.demand.model.pack_types`), the part of ``od_weight``
        whose vehicles can swap that pack (the same planning draw's ``swap_pack``);
        empty when no vehicle class can swap.
    through_evs_per_day
        Expected EVs per day passing through (charging or not).
    """

    ods: HighwayODs
    length_network: RoadNetwork
    entry_to_cand_min: np.ndarray
    entry_to_cand_km: np.ndarray
    cand_to_exit_min: np.ndarray
    cand_to_exit_km: np.ndarray
    cand_to_cand_min: np.ndarray
    cand_to_cand_km: np.ndarray
    exits: np.ndarray
    od_exit: np.ndarray
    od_cost_min: np.ndarray
    od_weight: np.ndarray
    through_evs_per_day: float
    od_swap_weight: Mapping[str, np.ndarray] = field(default_factory=dict)


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
        float64 expected public sessions per day at each demand node: residents without
        home charging, plus fleet sessions starting there when ``demand.fleets`` is set
        (a planning draw of every fleet over ``max(demand.days, 7)`` days, each fleet on
        its own stream ``stream(seed, "planning-fleet", k)``).
    swap_weight
        By pack type (:func:`~sim.demand.model.pack_types`), ``(n_siting_rows,)`` the
        part of :attr:`siting_weight` whose vehicles can swap that pack: residential rows
        get their residents' sessions times the residential planning draw's share of
        sessions by vehicles of that pack, plus the fleet draw's sessions of that pack;
        highway rows :attr:`HighwayStatic.od_swap_weight`.  Empty when no vehicle class
        can swap.
    cost_min
        ``(n_demand_nodes, n_candidates)`` travel time (min); ``inf`` beyond
        ``simulation.max_access_min``.
    cand_to_cand_min
        ``(n_candidates, n_candidates)`` travel time (min) from candidate ``i`` to
        candidate ``j`` (0 on the diagonal), ``inf`` beyond ``simulation.max_access_min``;
        searched once, forward from every candidate; a plan's retry table
        (:func:`~sim.study.plans.plan_access`) reads its stations' rows and columns.
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
    cand_zone
        int64 ``(n_candidates,)`` with a ``grid`` section: the compound (index into
        ``region.zones``) whose polygon contains each candidate's point, -1 outside
        every zone (the first zone where polygons overlap); ``None`` without ``grid``.
        A public site there draws on that compound's transformer.  Candidates added
        for compound levers count in their compound.
    levers
        Where each strategy's compound chargers and shared chargers go
        (:class:`~sim.study.levers.LeverSites`; empty without them).
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
    cand_to_cand_min: np.ndarray
    checksums: dict[str, str] = field(default_factory=dict)
    highway: HighwayStatic | None = None
    plan_tables: dict[str, PlanTable] = field(default_factory=dict)
    swap_weight: Mapping[str, np.ndarray] = field(default_factory=dict)
    cand_zone: np.ndarray | None = None
    levers: LeverSites = field(
        default_factory=lambda: LeverSites({}, {}, np.zeros(0, dtype=np.int64))
    )

    @property
    def siting_cost(self) -> np.ndarray:
        """Rows of the siting problem: residential demand nodes (access minutes), then
        highway origin-destination pairs (detour minutes); candidates added for
        compound levers are no public siting option (``inf``)."""
        cost = self.cost_min
        if self.highway is not None:
            cost = np.vstack([cost, self.highway.od_cost_min])
        if self.levers.added.size:
            cost = cost.copy()
            cost[:, self.levers.added] = np.inf
        return cost

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


def _region(scenario: Scenario, /) -> tuple[Region, dict[str, str]]:
    """The scenario's region, built once per process for what determines it: the region
    and candidates sections and the content of the files they name (a sweep over demand
    or siting keys builds it once; a changed file is read again), and kept on disk under
    ``region.cache_dir`` so that the next run of the same region skips parsing."""
    region_cfg = scenario.region
    cars = scenario.demand.residential.cars_per_household
    seed = scenario.seed if region_cfg.synthetic is not None else None  # only a drawn city
    files = [region_cfg.file, region_cfg.zones_file, scenario.candidates.file]
    content = [file_sha256(p) if p is not None and p.is_file() else None for p in files]
    key = content_key("region", region_cfg, scenario.candidates, cars, seed, content)

    def build() -> tuple[Region, dict[str, str]]:
        return build_region(
            region_cfg, candidates=scenario.candidates, cars_per_household=cars, seed=seed or 0
        )

    # parsed once per machine (region.cache_dir), then once per process
    return MEMORY.get(
        "region",
        key,
        lambda: cached_on_disk("region", key, build, directory=region_cfg.cache_dir),
    )


def _check_recorded(scenario: Scenario, checksums: dict[str, str], /) -> None:
    """Refuse inputs that changed since a ``config.resolved.yaml`` recorded them."""
    if scenario.provenance is None:
        return
    changed = [
        (key, was, checksums[key])
        for key, was in sorted(scenario.provenance.data_sha256.items())
        if key in checksums and checksums[key] != was
    ]
    if changed:
        lines = [f"{key}: {was[:16]}... then, {now[:16]}... now" for key, was, now in changed]
        raise DataError(
            "provenance.data_sha256: the data changed since these results were made, so this "
            "run would not reproduce them (" + "; ".join(lines) + "); remove the provenance "
            "section to run on the new data"
        )


def prepare(scenario: Scenario, /, *, progress: Progress = no_progress) -> Prepared:
    """Load the region and compute everything that does not change between units.

    Parameters
    ----------
    scenario
        A validated scenario.
    progress
        Called as ``progress(label, done, total)``.
    """
    progress("loading region", 0, 3)
    region, checksums = _region(scenario)
    checksums = dict(checksums)
    plan_tables: dict[str, PlanTable] = {}
    for i, strat in enumerate(scenario.strategies):
        if strat.plan_file is not None:
            table = read_plan_file(strat.plan_file, strategy=strat.plan_strategy)
            check_charger_classes(
                table, scenario.chargers.classes, swap_classes=scenario.chargers.swap_classes
            )
            plan_tables[strat.name] = table
            checksums[f"strategies.{i}.plan_file"] = file_sha256(strat.plan_file)
    if plan_tables:
        region, tables = add_plan_sites(
            region, list(plan_tables.values()), max_snap_m=scenario.candidates.max_snap_m
        )
        plan_tables = dict(zip(plan_tables, tables, strict=True))
    _check_recorded(scenario, checksums)
    progress("travel times", 1, 3)
    network = network_of(region.roads)
    homes = home_table(region)
    cand_zone = None if scenario.grid is None else candidate_compounds(region)
    levers = LeverSites({}, {}, np.zeros(0, np.int64))
    if any(has_levers(s) for s in scenario.strategies):
        check_levers(scenario, region.zones)  # a grid section, known zones
        assert cand_zone is not None
        region, cand_zone, levers = _with_lever_candidates(scenario, region, homes, cand_zone)
    demand_node, home_to_demand = np.unique(homes.node, return_inverse=True)
    demand_node = demand_node.astype(np.int64)
    spd, kwh, res_share = _residential_planning(scenario)
    w_home = homes.sessions_per_day(scenario.demand.residential, sessions_per_ev_day=spd)
    weight = np.bincount(home_to_demand, weights=w_home, minlength=demand_node.shape[0])
    res_swap = {pack: weight * share for pack, share in res_share.items()}
    if scenario.demand.fleets:
        fleet_w, fleet_swap = _fleet_planning(scenario, homes, demand_node)
        weight = weight + fleet_w
        res_swap = {pack: w + fleet_swap[pack] for pack, w in res_swap.items()}
    cand_nodes = region.candidates["node"].to_numpy(dtype=np.int64)
    cutoff_s = scenario.simulation.max_access_min * 60.0
    cost_min, between_min = _access_times(network, demand_node, cand_nodes, cutoff_s=cutoff_s)
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
        demand_node=demand_node,
        home_to_demand=home_to_demand.astype(np.int64),
        weight=weight,
        cost_min=cost_min,
        cand_to_cand_min=between_min,
        existing=existing,
        sessions_per_ev_day=spd,
        mean_session_kwh=kwh,
        checksums=checksums,
        highway=hw_static,
        plan_tables=plan_tables,
        swap_weight=_siting_swap_weight(res_swap, hw_static),
        cand_zone=cand_zone,
        levers=levers,
    )


def _with_lever_candidates(
    scenario: Scenario, region: Region, homes: HomeTable, cand_zone: np.ndarray, /
) -> tuple[Region, np.ndarray, LeverSites]:
    """The region with a candidate in every compound a strategy's compound chargers or
    shared chargers go to (:func:`~sim.study.levers.lever_candidates`)."""
    roads = region.roads  # a generated city's graph is not built for this
    nodes = region.zones["node"].to_numpy(dtype=np.int64)
    at = np.searchsorted(roads.node_ids, nodes)
    coords = zip(roads.x[at].tolist(), roads.y[at].tolist(), strict=True)
    xy = dict(zip(nodes.tolist(), coords, strict=True))
    cands, cz, levers = lever_candidates(
        scenario, region.candidates, region.zones, homes, cand_zone, node_xy=xy
    )
    if levers.added.size:
        note = f"{levers.added.size} compound site(s) added as candidates (compound levers)."
        region = replace(region, candidates=cands, notes=(*region.notes, note))
    return region, cz, levers


def candidate_compounds(region: Region, /) -> np.ndarray:
    """int64 per candidate: the zone (index into ``region.zones``) whose polygon
    contains its point (within or on the boundary), -1 when none; where zones overlap,
    the first."""
    import geopandas as gpd

    cands, zones = region.candidates, region.zones
    out = np.full(len(cands), -1, dtype=np.int64)
    if len(cands) == 0 or len(zones) == 0:
        return out
    left = gpd.GeoDataFrame(
        {"c": np.arange(len(cands))}, geometry=cands.geometry.values, crs=cands.crs
    )
    right = gpd.GeoDataFrame(
        {"z": np.arange(len(zones))}, geometry=zones.geometry.values, crs=zones.crs
    )
    hit = gpd.sjoin(left, right, how="inner", predicate="intersects")
    first = hit.groupby("c")["z"].min()
    out[first.index.to_numpy(dtype=np.int64)] = first.to_numpy(dtype=np.int64)
    return out


def _residential_planning(scenario: Scenario, /) -> tuple[float, float, dict[str, float]]:
    """The residential planning draw: public sessions per EV without home charging and
    day, mean energy per session (kWh), and by pack type the share of its sessions made
    by vehicles that can swap that pack (empty when no class can swap).

    :func:`sim.demand.residential.planning_draw` (4000 EVs over ``max(demand.days, 28)``
    days on the stream ``"planning"``), the draw of
    :func:`~sim.demand.residential.sessions_per_ev_day`, kept to read its vehicles'
    packs; the first two figures are that function's exactly.
    """
    days = max(scenario.demand.days, 28)
    n_ev = 4000
    d = planning_draw(
        cfg=scenario.demand.residential,
        fleet=scenario.vehicles.fleet,
        days=days,
        start_weekday=scenario.demand.start_weekday,
        rng=stream(scenario.seed, "planning"),
        n_ev=n_ev,
    )
    packs = pack_types(scenario.vehicles.fleet)
    if len(d) == 0:
        return 0.0, 0.0, dict.fromkeys(packs, 0.0)
    share = {p: float(np.count_nonzero(_pack_code(d) == i)) / len(d) for i, p in enumerate(packs)}
    return len(d) / (n_ev * days), float(d.energy_kwh.mean()), share


def _pack_code(demand: Demand, /) -> np.ndarray:
    """int16 swap pack code per session (-1: cannot swap)."""
    if demand.swap_pack is None:
        return np.full(len(demand), -1, np.int16)
    return demand.swap_pack


def private_cars(scenario: Scenario, homes: HomeTable, /) -> float:
    """The region's private cars, for ``demand.fleets[].share_of_cars``: its households
    (every home point's) x ``demand.residential.cars_per_household``."""
    households = float((homes.households_apartment + homes.households_house).sum())
    return households * scenario.demand.residential.cars_per_household


def _fleet_planning(
    scenario: Scenario, homes: HomeTable, demand_node: np.ndarray, /
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The fleets' planning draw: expected sessions per day starting at each demand node
    (fleet origins are home nodes), and by pack type the part of them that can swap it.

    Every fleet is drawn over ``max(demand.days, 7)`` days (a whole week of shifts) on
    its own stream ``stream(seed, "planning-fleet", k)``, apart from the replications.
    """
    fleets = scenario.demand.fleets
    days = max(scenario.demand.days, 7)
    draw, _ = all_fleets_demand(
        fleets,
        area=FleetArea.from_homes(homes),
        vehicle_classes=scenario.vehicles.fleet,
        private_cars=private_cars(scenario, homes),
        days=days,
        rngs=[stream(scenario.seed, "planning-fleet", k) for k in range(len(fleets))],
        first_vehicle_id=0,
    )
    n = demand_node.shape[0]
    row = np.searchsorted(demand_node, draw.origin)
    if len(draw) and not np.array_equal(demand_node[np.minimum(row, n - 1)], draw.origin):
        raise AssertionError("a fleet session starts away from every home node")
    code = _pack_code(draw)
    swap = {
        p: np.bincount(row[code == i], minlength=n) / days
        for i, p in enumerate(pack_types(scenario.vehicles.fleet))
    }
    return np.bincount(row, minlength=n) / days, swap


def _siting_swap_weight(
    residential: Mapping[str, np.ndarray], highway: HighwayStatic | None, /
) -> dict[str, np.ndarray]:
    """:attr:`Prepared.swap_weight`: residential rows, then highway rows."""
    if highway is None:
        return dict(residential)
    return {p: np.concatenate([w, highway.od_swap_weight[p]]) for p, w in residential.items()}


def _access_times(
    network: RoadNetwork, demand_node: np.ndarray, cand_nodes: np.ndarray, *, cutoff_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Demand-to-candidate and candidate-to-candidate travel times (min) within the
    cutoff.

    Both come from one backward search per candidate (:func:`travel_times_to`), read at
    the demand nodes and at the candidates: the station-to-station times of every plan
    are rows and columns of the second matrix, with no second Dijkstra.  With fewer
    demand nodes than candidates the first matrix is searched forward from the demand
    nodes instead (fewer searches), as :func:`travel_time_matrix` chooses.
    """
    n_d, n_c = demand_node.shape[0], cand_nodes.shape[0]
    if n_c == 0:
        return np.full((n_d, 0), np.inf), np.zeros((0, 0))
    if np.unique(demand_node).size > np.unique(cand_nodes).size:
        cost, between = travel_times_to(network, cand_nodes, [demand_node, cand_nodes],
                                        cutoff_s=cutoff_s)  # fmt: skip
        return cost / 60.0, between / 60.0
    if n_d:
        cost = travel_time_matrix(network, demand_node, cand_nodes, cutoff_s=cutoff_s) / 60.0
    else:
        cost = np.full((0, n_c), np.inf)
    (between,) = travel_times_to(network, cand_nodes, [cand_nodes], cutoff_s=cutoff_s)
    return cost, between / 60.0


def _highway_static(
    scenario: Scenario, region: Region, network: RoadNetwork, cand_nodes: np.ndarray
) -> HighwayStatic:
    cfg = scenario.demand.highway
    length_net = network_of(region.roads, weight="length")
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
        c_min = travel_time_matrix(network, cand_nodes, cand_nodes) / 60.0
        c_km = travel_time_matrix(length_net, cand_nodes, cand_nodes) / 1000.0
        detour = e_min + x_min[:, od_exit].T - ods.route_min[:, None]
        detour = np.maximum(detour, 0.0)
    else:
        e_min = e_km = np.zeros((len(ods), 0))
        x_min = x_km = np.zeros((0, exits.shape[0]))
        c_min = c_km = np.zeros((0, 0))
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
    code = _pack_code(draw)
    od_swap = {
        p: np.bincount(draw.od[code == i], minlength=len(ods)) / days
        for i, p in enumerate(pack_types(scenario.vehicles.fleet))
    }
    return HighwayStatic(
        ods=ods,
        length_network=length_net,
        entry_to_cand_min=e_min,
        entry_to_cand_km=e_km,
        cand_to_exit_min=x_min,
        cand_to_exit_km=x_km,
        cand_to_cand_min=c_min,
        cand_to_cand_km=c_km,
        exits=exits.astype(np.int64),
        od_exit=od_exit.astype(np.int64),
        od_cost_min=cost,
        od_weight=od_weight.astype(float),
        through_evs_per_day=n_through / days,
        od_swap_weight=od_swap,
    )
