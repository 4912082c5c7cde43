"""One call from Python: run a scenario and get its results (for notebooks).

>>> from sim.api import run
>>> result = run("configs/default.yaml", replications=2)   # doctest: +SKIP
>>> result.summary["strategies"]["coverage-greedy"]["metrics"]["difficulty_index"]
>>> result.selected.explore()                               # a GeoDataFrame

The command line's ``chargesite run`` is this function plus writing the output folder
(:func:`sim.export.writing.write_outputs`).
"""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from sim.config import Scenario, StrategyConfig, load_config
from sim.study.executors import UnitKey, UnitStore, run_units
from sim.study.prepare import (
    Prepared,
    Progress,
    UnitResult,
    _no_progress,
    aggregate,
    make_plans,
    paired_differences,
    per_replication_frame,
    prepare,
    sessions_frame,
)
from sim.export.layers import (
    candidates_layer,
    queue_frame,
    roads_layer,
    selected_layer,
    site_load_frame,
    zones_layer,
)
from sim.study.refine import PlanEvaluator, candidate_columns, improve_plan, marginal_site_scores
from sim.siting.plan import Plan

__all__ = ["RunResult", "run"]

_VERSIONED = ("chargesite", "numpy", "scipy", "pandas", "simpy", "osmnx", "pyrosm", "highspy",
              "geopandas", "shapely")  # fmt: skip


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced.

    Attributes
    ----------
    scenario
        The validated scenario (every default filled in).
    summary
        The content of ``summary.json``.
    per_replication
        One row per (strategy, replication), a column per metric.
    sessions
        One row per charging attempt (``sessions.parquet``).
    candidates, selected, zones, roads
        The layers of ``sites.gpkg`` (EPSG:4326).
    site_load
        15-minute load profile per (strategy, site) (``site_load.parquet``).
    queues
        Queue length per (strategy, site, hour) (``queue_by_hour.csv``).
    plans
        The plan of each strategy.
    prepared
        Static inputs (region, travel times, expected demand).
    units
        Raw per-unit results (logs, per-site statistics).
    candidate_scores
        Simulated marginal effect of adding each candidate to each plan
        (``simulation.score_candidates``; ``candidate_scores.csv``), or ``None``.
    """

    scenario: Scenario
    summary: dict[str, Any]
    per_replication: pd.DataFrame
    sessions: pd.DataFrame
    candidates: gpd.GeoDataFrame
    selected: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    site_load: pd.DataFrame
    queues: pd.DataFrame
    plans: dict[str, Plan]
    prepared: Prepared
    units: list[UnitResult]
    candidate_scores: pd.DataFrame | None = None


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def provenance(prep: Prepared, /) -> dict[str, Any]:
    """Versions, data checksums and region facts (no wall-clock time, so that the
    same inputs give a byte-identical summary)."""
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "versions": versions,
        "data_sha256": dict(sorted(prep.checksums.items())),
        "region": prep.region.name,
        "region_notes": list(prep.region.notes),
        "crs": prep.region.crs,
    }


def build_summary(
    prep: Prepared, plans: dict[str, Plan], per_rep: pd.DataFrame, replications: int, /
) -> dict[str, Any]:
    """The ``summary.json`` document."""
    agg = aggregate(per_rep)
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    strategies: dict[str, Any] = {}
    for name, plan in plans.items():
        strategies[name] = {
            "model": plan.model,
            "sites": ids[plan.candidate].tolist(),
            "ports": plan.ports.tolist(),
            "cost_cny": plan.cost_cny,
            "solver": {"objective": plan.objective, "optimal": plan.optimal, "gap": plan.gap},
            "metrics": agg[name],
        }
    sc = prep.scenario
    return _clean(
        {
            "scenario": sc.name,
            "seed": sc.seed,
            "replications": replications,
            "days": sc.demand.days,
            "strategies": strategies,
            "comparisons": paired_differences(per_rep),
            "provenance": provenance(prep),
        }
    )


def run(
    config: Scenario | str | Path,
    /,
    *,
    seed: int | None = None,
    replications: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | Path | None = None,
    progress: Progress = _no_progress,
) -> RunResult:
    """Run a scenario: region, demand, siting, simulation, scores.

    Parameters
    ----------
    config
        A scenario YAML path or a validated :class:`~sim.config.Scenario`.
    seed
        Overrides ``seed``.
    replications
        Overrides ``simulation.replications``.
    workers
        Local worker processes for the (strategy, replication) units.
    scheduler
        Dask scheduler address (``tcp://HOST:PORT``) whose workers run the units.
    store
        Folder (or :class:`~sim.study.executors.UnitStore`) where finished units are kept; a
        rerun with the same inputs resumes from it.
    progress
        Called as ``progress(label, done, total)`` while it works.

    Returns
    -------
    RunResult
        The same whatever ``workers`` and ``scheduler`` are.
    """
    scenario = config if isinstance(config, Scenario) else load_config(config)
    scenario = with_overrides(scenario, seed=seed, replications=replications)
    reps = scenario.simulation.replications
    prep = prepare(scenario, progress=progress)
    progress("siting", 0, 1)
    plans = make_plans(prep)
    evaluator = None
    refined: dict[str, dict[str, Any]] = {}
    if any(s.refine is not None for s in scenario.strategies):
        evaluator = PlanEvaluator(prep)
        prep, plans, refined = _refine(prep, plans, evaluator, progress)
    unit_store = UnitStore(store) if isinstance(store, Path) else store
    done = run_units(
        [prep.scenario],
        replications=reps,
        workers=workers,
        scheduler=scheduler,
        store=unit_store,
        progress=progress,
        prepared=(prep, plans),
    )
    units = [done[k] for k in sorted(done, key=lambda k: (k.replication, _order(plans, k)))]
    scores = None
    sc_cfg = scenario.simulation.score_candidates
    if sc_cfg is not None and len(prep.region.candidates):
        progress("scoring candidates by simulation", 0, 1)
        scores = marginal_site_scores(
            prep,
            plans,
            replications=sc_cfg.replications,
            max_candidates=sc_cfg.max_candidates,
            evaluator=evaluator or PlanEvaluator(prep),
        )
    result = assemble(prep, plans, units, replications=reps, candidate_scores=scores)
    for name, record in refined.items():
        result.summary["strategies"][name]["refine"] = record
    # config.resolved.yaml records the scenario as given (refined plans are derived)
    return dataclasses.replace(result, scenario=scenario)


def _refine(
    prep: Prepared, plans: dict[str, Plan], evaluator: PlanEvaluator, progress: Progress
) -> tuple[Prepared, dict[str, Plan], dict[str, dict[str, Any]]]:
    """Improve the plans of strategies with ``refine`` by simulation; each improved plan
    becomes an extra strategy ``<name>+simopt`` (a fixed plan) right after its origin."""
    sc = prep.scenario
    ids = prep.region.candidates["site_id"].astype(str).tolist()
    strategies: list[StrategyConfig] = []
    records: dict[str, dict[str, Any]] = {}
    for s in sc.strategies:
        strategies.append(s)
        r = s.refine
        if r is None:
            continue
        progress(f"improving {s.name} by simulation", 0, 1)
        res = improve_plan(
            prep,
            plans[s.name],
            replications=r.replications,
            max_iterations=r.iterations,
            moves=r.moves,
            pool=r.pool,
            max_sites=r.max_sites,
            budget_cny=s.budget_cny,
            require_significant=r.require_significant,
            screen_replications=r.screen_replications,
            holdout_replications=r.holdout_replications,
            max_simulations=r.max_simulations,
            strategy=s,
            name=f"{s.name}+simopt",
            evaluator=evaluator,
        )
        strategies.append(res.strategy.model_copy(update={"refine": None}))
        records[res.strategy.name] = res.summary(ids)
    new = sc.model_copy(update={"strategies": strategies})
    prep = dataclasses.replace(prep, scenario=new)
    return prep, make_plans(prep), records


def _order(plans: dict[str, Plan], key: UnitKey) -> int:
    return list(plans).index(key.strategy)


def with_overrides(
    scenario: Scenario, /, *, seed: int | None = None, replications: int | None = None
) -> Scenario:
    """The scenario with the command line's ``--seed`` / ``--replications`` applied."""
    if seed is None and replications is None:
        return scenario
    sim_cfg = scenario.simulation
    if replications is not None:
        sim_cfg = sim_cfg.model_copy(update={"replications": replications})
    return scenario.model_copy(
        update={"seed": scenario.seed if seed is None else seed, "simulation": sim_cfg}
    )


def assemble(
    prep: Prepared,
    plans: dict[str, Plan],
    units: list[UnitResult],
    /,
    *,
    replications: int,
    candidate_scores: pd.DataFrame | None = None,
) -> RunResult:
    """Summary, tables and layers from the units of one scenario."""
    per_rep = per_replication_frame(units)
    summary = build_summary(prep, plans, per_rep, replications)
    cands = candidates_layer(prep, plans)
    if candidate_scores is not None:
        sc_cfg = prep.scenario.simulation.score_candidates
        against = (sc_cfg.against if sc_cfg is not None else None) or next(iter(plans))
        cols = candidate_columns(candidate_scores, against=against, n_candidates=len(cands))
        for c in cols.columns:
            cands[c] = cols[c].to_numpy()
    return RunResult(
        scenario=prep.scenario,
        summary=summary,
        per_replication=per_rep,
        sessions=sessions_frame(prep, plans, units),
        candidates=cands,
        candidate_scores=candidate_scores,
        selected=selected_layer(prep, plans, units),
        zones=zones_layer(prep, plans, units),
        roads=roads_layer(prep),
        site_load=site_load_frame(prep, plans, units),
        queues=queue_frame(prep, plans, units),
        plans=plans,
        prepared=prep,
        units=units,
    )
