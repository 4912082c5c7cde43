"""One unit of work: one strategy's plan simulated in one replication, and scored.

Each replication's demand comes from ``stream(seed, replication, "demand")`` (and
``"highway"``, and ``("fleet", k)`` for the k-th fleet) so every strategy sees the same
sessions (common random numbers), and a unit's result depends only on its inputs, not on
the order units run in.  Swap times are drawn the same way, one uniform per session from
``stream(seed, replication, "swap")``, and each swap station turns them into times by
its own distribution.

With a ``grid`` section, each replication's home charging is drawn from
``stream(seed, replication, "home-charging")`` (the same plug-ins for every strategy)
and scheduled under the strategy's control (:func:`grid_control`); the plan's public
sites inside a compound (:attr:`~sim.study.prepare.Prepared.cand_zone`) then share that
compound's headroom over time as a time-varying cap (:func:`compound_caps`), and the
unit keeps the grid result and the public load in each compound (:class:`GridUnit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np
import pandas as pd

from sim.demand.fleets import FleetArea, FleetRoster, all_fleets_demand, fleet_size
from sim.demand.highway import highway_demand
from sim.demand.model import Demand, merge_demand, pack_types
from sim.demand.price_response import respond_to_prices
from sim.demand.residential import (
    residential_demand,
)
from sim.des import (
    CHARGE,
    CHARGED,
    Access,
    HighwayAccess,
    SessionLog,
    Stations,
    SwapTrace,
    simulate_traced,
)
from sim.des.charging import step_mean_kw
from sim.des.inputs import CapProfile
from sim.errors import ConfigError
from sim.grid import STEP_MIN, GridResult, grid_load
from sim.grid.control import windows
from sim.metrics.scores import METRICS, score_and_stats
from sim.metrics.segments import fleet_lost_time, segment_scores
from sim.rng import stream
from sim.siting.plan import Plan
from sim.study.cache import MEMORY, content_key, scenario_key
from sim.study.levers import check_plan, extra_kva, shared_profile
from sim.study.plans import (
    coverage_share,
    driver_rules,
    plan_access,
    plan_highway_access,
    queue_info_share,
    stations_of,
    swap_sites_of,
    taper_curves,
)
from sim.study.prepare import Prepared, private_cars

__all__ = [
    "FLEET_VEHICLE_IDS",
    "HIGHWAY_VEHICLE_IDS",
    "GridUnit",
    "UnitResult",
    "compound_caps",
    "demand_for",
    "fleet_rosters",
    "grid_control",
    "grid_for",
    "per_replication_frame",
    "public_load",
    "run_unit",
    "simulate_plan",
    "simulate_traced_plan",
    "station_compounds",
    "swap_uniforms",
    "unit_stations",
]


def demand_for(prep: Prepared, replication: int, /) -> Demand:
    """The sessions of one replication (the same for every strategy): residents, then
    through-traffic and every fleet of ``demand.fleets`` merged in."""
    sc = prep.scenario
    res = residential_demand(
        prep.homes,
        cfg=sc.demand.residential,
        fleet=sc.vehicles.fleet,
        days=sc.demand.days,
        start_weekday=sc.demand.start_weekday,
        rng=stream(sc.seed, replication, "demand"),
    )
    if sc.grid is not None and (pr := sc.grid.price_response) is not None:
        # residents who wait for a cheaper tariff hour (their own stream: the same for
        # every strategy)
        res = respond_to_prices(
            res,
            bands=sc.grid.tariff.bands,
            share=pr.share,
            max_shift_h=pr.max_shift_h,
            uniform=stream(sc.seed, replication, "price-response").random(len(res)),
        )
    parts = [res]
    if prep.highway is not None:
        hw, _ = highway_demand(
            prep.highway.ods,
            cfg=sc.demand.highway,
            fleet=sc.vehicles.fleet,
            days=sc.demand.days,
            rng=stream(sc.seed, replication, "highway"),
            first_vehicle_id=HIGHWAY_VEHICLE_IDS,
        )
        parts.append(hw)
    fleets = sc.demand.fleets
    if fleets:
        fl, _ = all_fleets_demand(
            fleets,
            area=FleetArea.from_homes(prep.homes),
            vehicle_classes=sc.vehicles.fleet,
            private_cars=private_cars(sc, prep.homes),
            days=sc.demand.days,
            rngs=[stream(sc.seed, replication, "fleet", k) for k in range(len(fleets))],
            first_vehicle_id=FLEET_VEHICLE_IDS,
        )
        parts.append(fl)
    if len(parts) == 1:
        return res
    return merge_demand(*parts)


def fleet_rosters(prep: Prepared, /) -> tuple[FleetRoster, ...]:
    """Which vehicle ids of :func:`demand_for` belong to each fleet (the same in every
    replication: fleet sizes come from the config and the region)."""
    sc = prep.scenario
    cars = private_cars(sc, prep.homes)
    rosters, first = [], FLEET_VEHICLE_IDS
    for cfg in sc.demand.fleets:
        n = fleet_size(cfg, private_cars=cars)
        rosters.append(FleetRoster(cfg.name, first, n, cfg.hourly_earning_cny))
        first += n
    return tuple(rosters)


def swap_uniforms(prep: Prepared, replication: int, demand: Demand, /) -> np.ndarray:
    """One uniform draw in [0, 1) per session of ``demand``, from the replication's
    ``"swap"`` stream (the same for every strategy: common random numbers)."""
    return stream(prep.scenario.seed, replication, "swap").random(len(demand))


#: Highway vehicles are numbered from here (residential ones from 0).
HIGHWAY_VEHICLE_IDS = 1_000_000_000
#: Fleet vehicles are numbered from here, fleet after fleet.
FLEET_VEHICLE_IDS = 2_000_000_000


@dataclass(frozen=True)
class GridUnit:
    """The grid stage in one unit.

    Attributes
    ----------
    result
        The replication's compounds: base load, home charging under the strategy's
        control, headroom (the same home plug-ins for every strategy).
    public_kw
        float64 ``(n_compounds, n_steps)`` mean power (kW) the plan's public chargers
        inside each compound drew in each 15-minute step (the simulated sessions; time
        past the horizon wraps onto its start, as the grid stage's horizon repeats).
    station_zone
        int64 per plan station: its compound (index into ``region.zones``), -1 none.
    """

    result: GridResult
    public_kw: np.ndarray
    station_zone: np.ndarray


def grid_control(prep: Prepared, strategy: str, /) -> str:
    """The strategy's home charging control: its ``grid_control``, else
    ``grid.control``."""
    sc = prep.scenario
    assert sc.grid is not None
    own = next((s.grid_control for s in sc.strategies if s.name == strategy), None)
    return own if own is not None else sc.grid.control


def grid_for(
    prep: Prepared, replication: int, /, *, control: str, extra_kva: np.ndarray | None = None
) -> GridResult | None:
    """The grid stage of one replication under ``control`` (``None`` without ``grid``),
    with ``extra_kva`` per compound added by transformer upgrades, kept in this
    process's memory: every strategy of the replication with the same control and
    upgrades reads the same."""
    sc = prep.scenario
    if sc.grid is None:
        return None
    grid = sc.grid.model_copy(update={"control": control})
    if extra_kva is None:
        key = content_key("grid", scenario_key(sc), replication, control)
    else:
        key = content_key("grid", scenario_key(sc), replication, control, extra_kva.tolist())

    def build() -> GridResult:
        zones = prep.region.zones
        if extra_kva is not None:
            zones = zones.assign(extra_kva=extra_kva)
        return grid_load(
            zones,
            prep.homes,
            grid=grid,
            residential=sc.demand.residential,
            fleet=sc.vehicles.fleet,
            days=sc.demand.days,
            start_weekday=sc.demand.start_weekday,
            rng=stream(sc.seed, replication, "home-charging"),
        )

    return MEMORY.get("grid", key, build)


def station_compounds(prep: Prepared, plan: Plan, stations: Stations, /) -> np.ndarray:
    """int64 per plan station: the compound whose transformer it draws on (the zone
    containing its site), -1 for none; battery-swap sites and mobile units draw on
    none."""
    if prep.cand_zone is None:
        return np.full(len(stations), -1, dtype=np.int64)
    zone = prep.cand_zone[plan.candidate].astype(np.int64)
    zone[np.asarray(stations.ports) <= 0] = -1
    if stations.mobile is not None:
        zone[stations.mobile.station] = -1
    return zone


def compound_caps(stations: Stations, zone: np.ndarray, grid: GridResult, /) -> Stations:
    """``stations`` with the headroom of each compound as the time-varying cap shared by
    its public sites (:class:`~sim.des.inputs.CapProfile`, one group per compound,
    fresh traces); unchanged when no site is in a compound.

    Raises
    ------
    ConfigError
        A compound with a public site has no headroom in any step (nothing could ever
        charge there).
    """
    used = np.unique(zone[zone >= 0])
    if used.size == 0:
        return stations
    kw = grid.headroom_kw[used]
    empty = np.flatnonzero(kw.max(axis=1) <= 0)
    if empty.size:
        zid = grid.compounds.zone_id[used[empty[0]]]
        sites = [stations.site_id[j] for j in np.flatnonzero(zone == used[empty[0]])]
        raise ConfigError(
            f"grid: compound {zid} has no power left under its transformer's limit at any "
            f"time (base load and home charging use it all), so its public site(s) "
            f"{', '.join(sites)} could never charge; raise its kva (zones file), "
            "grid.transformer.kva_per_household or loading_limit, or site elsewhere"
        )
    group = np.where(zone >= 0, np.searchsorted(used, zone), -1).astype(np.int64)
    traces: list[list[tuple[float, float]]] = [[] for _ in range(used.size)]
    prof = CapProfile(group=group, kw=kw, step_min=float(STEP_MIN), traces=traces)
    return replace(stations, cap_profile=prof)


def public_load(
    stations: Stations, zone: np.ndarray, log: SessionLog, /, *, n_compounds: int, n_steps: int
) -> np.ndarray:
    """``(n_compounds, n_steps)`` mean kW the public sites in each compound drew per step.

    A compound whose cap could bind has its shared site's recorded draw (exact); at the
    others each charging session's energy is spread evenly over its charging interval
    (their power never depends on the cap; within a session the taper is ignored).
    """
    out = np.zeros((n_compounds, n_steps))
    prof = stations.cap_profile
    if prof is None or prof.traces is None:
        return out
    used = np.unique(zone[zone >= 0])
    traced = np.array([len(t) > 0 for t in prof.traces], dtype=bool)
    for g in np.flatnonzero(traced):
        out[used[g]] += step_mean_kw(prof.traces[g], n_steps=n_steps, step_min=prof.step_min)
    ok = (log.outcome == CHARGED) & (log.service == CHARGE) & (log.station >= 0)
    j = log.station[ok]
    g = prof.group[j]
    keep = (g >= 0) & ~traced[np.maximum(g, 0)] & (log.end_min[ok] > log.start_min[ok])
    start, end = log.start_min[ok][keep], log.end_min[ok][keep]
    kw = log.energy_kwh[ok][keep] / ((end - start) / 60.0)
    row, step, share = windows(start, end, n_steps=n_steps)
    np.add.at(out, (zone[j[keep]][row], step), kw[row] * share)
    return out


def unit_stations(
    prep: Prepared, plan: Plan, replication: int, /
) -> tuple[Stations, GridUnit | None]:
    """The plan's stations for one replication's simulation: with ``grid``, its public
    sites in compounds capped by their headroom (:func:`compound_caps`), and the grid
    unit to fill in (``public_kw`` zero until :func:`public_load`)."""
    st = stations_of(prep, plan)
    if prep.scenario.grid is None:
        return st, None
    check_plan(prep, plan)
    grid = grid_for(
        prep,
        replication,
        control=grid_control(prep, plan.strategy),
        extra_kva=extra_kva(prep, plan.strategy),
    )
    assert grid is not None
    zone = station_compounds(prep, plan, st)
    st = compound_caps(st, zone, grid)
    shared = shared_profile(prep, plan, grid)
    if shared is not None:
        st = replace(st, port_profile=shared)
    public = np.zeros_like(grid.base_kw)
    return st, GridUnit(result=grid, public_kw=public, station_zone=zone)


@dataclass(frozen=True)
class UnitResult:
    """Result of one (strategy, replication) unit."""

    strategy: str
    replication: int
    metrics: dict[str, float | None]
    log: SessionLog
    demand: Demand
    site_stats: dict[str, np.ndarray]
    #: Metrics per demand segment (:func:`~sim.metrics.segments.segment_scores`), when
    #: the demand has more than one segment; else empty.
    segments: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: Working time each fleet lost (:func:`~sim.metrics.segments.fleet_lost_time`);
    #: empty without fleets.
    fleets: dict[str, dict[str, float]] = field(default_factory=dict)
    #: What the plan's swap stations did (charged-pack stock, pack charges); ``None``
    #: when it has none.
    swap: SwapTrace | None = None
    #: The grid stage of the unit (compounds, public load in them); ``None`` without
    #: ``grid``.
    grid: GridUnit | None = None


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
    st, grid = unit_stations(prep, plan, replication)
    log, trace = simulate_traced_plan(
        prep, plan, d, replication=replication, access=access, highway=highway, stations=st
    )
    if grid is not None:
        n_c, n_steps = grid.result.base_kw.shape
        public = public_load(st, grid.station_zone, log, n_compounds=n_c, n_steps=n_steps)
        grid = replace(grid, public_kw=public)
    metrics, site_stats = score_and_stats(log, d, **_scoring(prep, plan, st))
    # per segment only when there is more than one (a run of residents alone: as before)
    many = np.unique(d.segment).shape[0] > 1
    segments = segment_scores(log, d, **_scoring(prep, plan, st)) if many else {}
    rosters = fleet_rosters(prep)
    fleets = fleet_lost_time(log, d, fleets=rosters, days=sc.demand.days) if rosters else {}
    return UnitResult(
        strategy=plan.strategy,
        replication=replication,
        metrics=metrics,
        log=log,
        demand=d,
        site_stats=site_stats,
        segments=segments,
        fleets=fleets,
        swap=trace,
        grid=grid,
    )


class _Scoring(TypedDict):
    """The keyword arguments of the scoring functions."""

    stations: Stations
    horizon_min: float
    coverage_share: float
    weights: dict[str, float]
    wait_ref_min: float
    access_ref_min: float


def _scoring(prep: Prepared, plan: Plan, stations: Stations, /) -> _Scoring:
    """How a unit is scored (:func:`~sim.metrics.scores.score_and_stats`, and per
    segment)."""
    sim_cfg = prep.scenario.simulation
    return _Scoring(
        stations=stations,
        horizon_min=prep.horizon_min,
        coverage_share=coverage_share(prep, plan),
        weights={str(k): v for k, v in sim_cfg.difficulty_weights.items()},
        wait_ref_min=sim_cfg.wait_ref_min,
        access_ref_min=sim_cfg.access_ref_min,
    )


def simulate_plan(
    prep: Prepared,
    plan: Plan,
    demand: Demand,
    /,
    *,
    access: Access | None = None,
    highway: HighwayAccess | None = None,
    replication: int = 0,
) -> SessionLog:
    """The simulation of :func:`run_unit` alone: ``demand`` at ``plan``'s stations.

    Parameters
    ----------
    prep
        From :func:`prepare`.
    plan
        From :func:`make_plans`.
    demand
        The sessions to simulate (:func:`demand_for`).
    access
        The plan's :func:`plan_access` if already computed.
    highway
        The plan's :func:`plan_highway_access` if already computed.
    replication
        Selects the swap-time draws (:func:`swap_uniforms`; unused without swap
        stations).
    """
    return simulate_traced_plan(
        prep, plan, demand, replication=replication, access=access, highway=highway
    )[0]


def simulate_traced_plan(
    prep: Prepared,
    plan: Plan,
    demand: Demand,
    /,
    *,
    replication: int,
    access: Access | None = None,
    highway: HighwayAccess | None = None,
    stations: Stations | None = None,
) -> tuple[SessionLog, SwapTrace | None]:
    """:func:`simulate_plan`, and the swap stations' trace (``None`` when the plan has
    none); ``stations`` is the replication's :func:`unit_stations` if already built."""
    sc = prep.scenario
    st = stations if stations is not None else unit_stations(prep, plan, replication)[0]
    acc = access if access is not None else plan_access(prep, plan)
    hw = highway if highway is not None else plan_highway_access(prep, plan)
    rows = np.searchsorted(prep.demand_node, demand.origin)
    # residents and fleets set off from home nodes; through-traffic from its entry
    acc = replace(acc, origin_row=np.where(demand.segment != 1, rows, 0).astype(np.int64))
    if hw is not None and (share := queue_info_share(sc, plan.strategy)) is not None:
        # who has queue information: the same draws for every strategy (common random
        # numbers), so a larger share informs a superset of drivers
        u = stream(sc.seed, replication, "queue-info").random(len(demand))
        blind = sc.simulation.uninformed_choice == "wait_blind"
        hw = replace(hw, informed=u < share, uninformed_blind=blind)
    swap = swap_sites_of(prep, plan)
    return simulate_traced(
        demand,
        st,
        access=acc,
        highway=hw,
        rules=driver_rules(sc),
        taper=taper_curves(sc),
        swap=swap,
        swap_factor=None if swap is None else swap_uniforms(prep, replication, demand),
        pack_names=pack_types(sc.vehicles.fleet),
    )


def per_replication_frame(units: list[UnitResult], /) -> pd.DataFrame:
    """One row per (strategy, replication), a column per metric."""
    per_rep = pd.DataFrame(
        [{"strategy": u.strategy, "replication": u.replication, **u.metrics} for u in units],
        columns=["strategy", "replication", *METRICS],
    )
    per_rep[list(METRICS)] = per_rep[list(METRICS)].astype(float)
    return per_rep
