"""One unit of work: one strategy's plan simulated in one replication, and scored.

Each replication's demand comes from ``stream(seed, replication, "demand")`` (and
``"highway"``, and ``("fleet", k)`` for the k-th fleet) so every strategy sees the same
sessions (common random numbers), and a unit's result depends only on its inputs, not on
the order units run in.  Swap times are drawn the same way, one uniform per session from
``stream(seed, replication, "swap")``, and each swap station turns them into times by
its own distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np
import pandas as pd

from sim.demand.fleets import FleetArea, FleetRoster, all_fleets_demand, fleet_size
from sim.demand.highway import highway_demand
from sim.demand.model import Demand, merge_demand, pack_types
from sim.demand.residential import (
    residential_demand,
)
from sim.des import (
    Access,
    HighwayAccess,
    SessionLog,
    Stations,
    SwapTrace,
    simulate_traced,
)
from sim.metrics.scores import METRICS, score_and_stats
from sim.metrics.segments import fleet_lost_time, segment_scores
from sim.rng import stream
from sim.siting.plan import Plan
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
    "UnitResult",
    "demand_for",
    "fleet_rosters",
    "per_replication_frame",
    "run_unit",
    "simulate_plan",
    "simulate_traced_plan",
    "swap_uniforms",
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
    log, trace = simulate_traced_plan(
        prep, plan, d, replication=replication, access=access, highway=highway
    )
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
) -> tuple[SessionLog, SwapTrace | None]:
    """:func:`simulate_plan`, and the swap stations' trace (``None`` when the plan has
    none)."""
    sc = prep.scenario
    acc = access if access is not None else plan_access(prep, plan)
    hw = highway if highway is not None else plan_highway_access(prep, plan)
    rows = np.searchsorted(prep.demand_node, demand.origin)
    # residents and fleets set off from home nodes; through-traffic from its entry
    acc = replace(acc, origin_row=np.where(demand.segment != 1, rows, 0).astype(np.int64))
    if hw is not None and (share := queue_info_share(sc, plan.strategy)) is not None:
        # who has queue information: the same draws for every strategy (common random
        # numbers), so a larger share informs a superset of drivers
        u = stream(sc.seed, replication, "queue-info").random(len(demand))
        hw = replace(hw, informed=u < share)
    swap = swap_sites_of(prep, plan)
    return simulate_traced(
        demand,
        stations_of(prep, plan),
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
