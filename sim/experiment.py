"""Experiments: strategies x replications on one prepared scenario.

:func:`prepare` runs the static stages once (region, travel times, expected demand,
candidate scores); :func:`make_plans` solves every strategy; :func:`run_unit` simulates
one (strategy, replication) unit; :func:`run_experiment` runs all units and aggregates.
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
from sim.demand.model import Demand
from sim.demand.residential import HomeTable, home_table, residential_demand
from sim.des.model import OUTCOMES, SessionLog, Stations, simulate
from sim.errors import ConfigError
from sim.metrics import METRICS, score, station_stats
from sim.region import Region, RegionOptions, RegionSource, load_region, region_checksum
from sim.region.options import HousingParams
from sim.rng import stream
from sim.siting.plan import Plan, make_plan
from sim.travel import RoadNetwork, build_network, travel_time_matrix

__all__ = [
    "Prepared",
    "UnitResult",
    "aggregate",
    "make_plans",
    "prepare",
    "run_experiment",
    "run_unit",
]

Progress = Callable[[str, int, int], None]


def _no_progress(_label: str, _done: int, _total: int) -> None:
    return None


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
    checksums
        Data files read and their SHA-256.
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
    checksums: dict[str, str] = field(default_factory=dict)

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
    return RegionSource(kind="bbox", value=tuple(r.bbox))


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


def prepare(scenario: Scenario, /, *, progress: Progress = _no_progress) -> Prepared:
    """Load the region and compute everything that does not change between units.

    Parameters
    ----------
    scenario
        A validated scenario.
    progress
        Called as ``progress(label, done, total)``.
    """
    source = region_source(scenario)
    progress("loading region", 0, 3)
    region = load_region(
        source, options=region_options(scenario), cache_dir=scenario.region.cache_dir
    )
    checksums = {f"region:{source.kind}": region_checksum(source)}
    if scenario.candidates.file is not None:
        from sim.config import file_sha256

        checksums["candidates.file"] = file_sha256(scenario.candidates.file)
    progress("travel times", 1, 3)
    network = build_network(region.graph)
    homes = home_table(region)
    demand_node, home_to_demand = np.unique(homes.node, return_inverse=True)
    w_home = homes.sessions_per_day(scenario.demand.residential)
    weight = np.bincount(home_to_demand, weights=w_home, minlength=demand_node.shape[0])
    cand_nodes = region.candidates["node"].to_numpy(dtype=np.int64)
    cutoff_s = scenario.simulation.max_access_min * 60.0
    if cand_nodes.size and demand_node.size:
        cost_min = travel_time_matrix(network, demand_node, cand_nodes, cutoff_s=cutoff_s) / 60.0
    else:
        cost_min = np.full((demand_node.shape[0], cand_nodes.shape[0]), np.inf)
    existing = np.flatnonzero(
        (region.candidates["kind"] == "charging_station").to_numpy()
    ).astype(np.int64)
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
        checksums=checksums,
    )


def make_plans(prep: Prepared, /) -> dict[str, Plan]:
    """Solve every strategy of the scenario (in config order)."""
    cands = prep.region.candidates
    ex_ports = cands["existing_ports"].to_numpy(dtype=np.int64) if len(cands) else np.zeros(0)
    if prep.weight.sum() <= 0 and len(cands):
        raise ConfigError(
            "demand: the scenario has no residential demand (no households with EVs "
            "without home charging); check demand.residential and the region's zones"
        )
    plans: dict[str, Plan] = {}
    site_ids = cands["site_id"].astype(str).tolist()
    for i, s in enumerate(prep.scenario.strategies):
        plans[s.name] = make_plan(
            s,
            scenario=prep.scenario,
            cost_min=prep.cost_min,
            weight=prep.weight,
            existing=prep.existing,
            existing_ports=ex_ports,
            site_ids=site_ids,
            index=i,
        )
    return plans


def stations_of(prep: Prepared, plan: Plan, /) -> Stations:
    """The simulation's view of a plan."""
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    return Stations(
        site_id=tuple(ids[plan.candidate].tolist()),
        ports=plan.ports,
        power_kw=plan.power_kw,
        dc=plan.dc,
    )


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
    return residential_demand(
        prep.homes,
        cfg=sc.demand.residential,
        fleet=sc.vehicles.fleet,
        days=sc.demand.days,
        start_weekday=sc.demand.start_weekday,
        rng=stream(sc.seed, replication, "demand"),
    )


@dataclass(frozen=True)
class UnitResult:
    """Result of one (strategy, replication) unit."""

    strategy: str
    replication: int
    metrics: dict[str, float | None]
    log: SessionLog
    demand: Demand
    site_stats: dict[str, np.ndarray]


def run_unit(prep: Prepared, plan: Plan, replication: int, /, *, demand: Demand | None = None)\
        -> UnitResult:
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
    """
    sc = prep.scenario
    d = demand if demand is not None else demand_for(prep, replication)
    st = stations_of(prep, plan)
    if len(plan) and len(d):
        origin_row = np.searchsorted(prep.demand_node, d.origin)
        times = prep.cost_min[:, plan.candidate]
        nearest = np.argmin(times, axis=1)
        nearest_t = times[np.arange(times.shape[0]), nearest]
        ok = np.isfinite(nearest_t) & (nearest_t <= sc.simulation.max_access_min)
        choice = np.where(ok[origin_row], nearest[origin_row], -1).astype(np.int64)
        access = np.where(ok[origin_row], nearest_t[origin_row], np.nan)
    else:
        choice = np.full(len(d), -1, dtype=np.int64)
        access = np.full(len(d), np.nan)
    log = simulate(d, st, choice=choice, access_min=access)
    metrics = score(
        log,
        d,
        stations=st,
        horizon_min=prep.horizon_min,
        coverage_share=coverage_share(prep, plan),
        weights=sc.simulation.difficulty_weights,
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


def run_experiment(
    prep: Prepared,
    plans: dict[str, Plan],
    /,
    *,
    replications: int,
    progress: Progress = _no_progress,
) -> list[UnitResult]:
    """Run every (strategy, replication) unit in-process, replication-major.

    Returns
    -------
    list of UnitResult
        In (replication, strategy-in-config-order) order.
    """
    total = replications * len(plans)
    done = 0
    results: list[UnitResult] = []
    for r in range(replications):
        d = demand_for(prep, r)
        for plan in plans.values():
            results.append(run_unit(prep, plan, r, demand=d))
            done += 1
            progress(f"simulating {plan.strategy} (replication {r + 1})", done, total)
    return results


def sessions_frame(prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /)\
        -> pd.DataFrame:
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
