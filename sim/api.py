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
from pathlib import Path
from typing import Any

from sim.config import Scenario, StrategyConfig, load_config
from sim.export.result import RunResult, assemble
from sim.siting.plan import Plan
from sim.study.executors import UnitKey, UnitStore, run_units
from sim.study.plans import make_plans
from sim.study.prepare import Prepared, Progress, _no_progress, prepare
from sim.study.refine import PlanEvaluator, improve_plan, marginal_site_scores

__all__ = ["RunResult", "run"]


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
