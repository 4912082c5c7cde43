"""One unit of work: one strategy's plan simulated in one replication, and scored.

Each replication's demand comes from ``stream(seed, replication, "demand")`` so every
strategy sees the same sessions (common random numbers), and a unit's result depends
only on its inputs, not on the order units run in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.demand.highway import highway_demand
from sim.demand.model import Demand, merge_demand
from sim.demand.residential import (
    residential_demand,
)
from sim.des import (
    Access,
    HighwayAccess,
    SessionLog,
    simulate,
)
from sim.metrics.scores import METRICS, score_and_stats
from sim.rng import stream
from sim.siting.plan import Plan
from sim.study.plans import (
    coverage_share,
    driver_rules,
    plan_access,
    plan_highway_access,
    stations_of,
    taper_curves,
)
from sim.study.prepare import Prepared

__all__ = [
    "HIGHWAY_VEHICLE_IDS",
    "UnitResult",
    "demand_for",
    "per_replication_frame",
    "run_unit",
    "simulate_plan",
]


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
    log = simulate_plan(prep, plan, d, access=access, highway=highway)
    metrics, site_stats = score_and_stats(
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
        site_stats=site_stats,
    )


def simulate_plan(
    prep: Prepared,
    plan: Plan,
    demand: Demand,
    /,
    *,
    access: Access | None = None,
    highway: HighwayAccess | None = None,
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
    """
    sc = prep.scenario
    acc = access if access is not None else plan_access(prep, plan)
    hw = highway if highway is not None else plan_highway_access(prep, plan)
    rows = np.searchsorted(prep.demand_node, demand.origin)
    acc = Access(
        origin_row=np.where(demand.segment == 0, rows, 0).astype(np.int64),
        first_station=acc.first_station,
        first_min=acc.first_min,
        next_station=acc.next_station,
        next_min=acc.next_min,
    )
    return simulate(
        demand,
        stations_of(prep, plan),
        access=acc,
        highway=hw,
        rules=driver_rules(sc),
        taper=taper_curves(sc),
    )


def per_replication_frame(units: list[UnitResult], /) -> pd.DataFrame:
    """One row per (strategy, replication), a column per metric."""
    per_rep = pd.DataFrame(
        [{"strategy": u.strategy, "replication": u.replication, **u.metrics} for u in units],
        columns=["strategy", "replication", *METRICS],
    )
    per_rep[list(METRICS)] = per_rep[list(METRICS)].astype(float)
    return per_rep
