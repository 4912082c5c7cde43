"""The one runner: a scenario (or a grid of scenarios) from prepared inputs to scores.

:func:`run_study` runs one scenario: prepare -> plans -> optional refinement by
simulation -> units (in-process, process pool or Dask; resumable) -> scores ->
optional candidate scores.  :func:`run_sweep_study` is the same steps over a grid of
scenarios, with every point's units run together.  A scenario with ``phases`` is the
same runner over its phases' scenarios (:mod:`sim.study.phases` plans them; their units
run together, and the study of the last phase carries every phase's study).
``chargesite run``, ``chargesite sweep``, :func:`sim.api.run` and the benchmarks all
come through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.config.overrides import sweep_grid, with_overrides
from sim.siting.plan import Plan
from sim.study.cache import UnitStore
from sim.study.executors import plan_and_run, remember, run_units
from sim.study.phases import plan_phases
from sim.study.plans import make_plans
from sim.study.prepare import Prepared, prepare
from sim.study.progress import Progress, no_progress
from sim.study.refine import PlanEvaluator, marginal_site_scores, refine_plans
from sim.study.units import UnitResult

__all__ = [
    "PhaseStudy",
    "StudyResult",
    "SweepStudy",
    "check_study",
    "plan_study",
    "run_study",
    "run_sweep_study",
]


@dataclass(frozen=True)
class StudyResult:
    """Everything one scenario's study produced (before export).

    Attributes
    ----------
    scenario
        The scenario as given (every default filled in; what ``config.resolved.yaml``
        records).
    prepared
        The static inputs; after refinement its scenario also lists the derived
        ``<name>+simopt`` strategies.
    plans
        Each strategy's plan, in the order of ``prepared.scenario.strategies``.
    units
        One per (strategy, replication), sorted by replication then strategy order.
    replications
        Replications per strategy.
    candidate_scores
        Simulated marginal effect of adding each candidate to each plan
        (``simulation.score_candidates``), or ``None``.
    refined
        Per derived ``<name>+simopt`` strategy, the record of its refinement (search
        trajectory, hold-out gain), as ``summary.json`` shows it.
    phases
        With ``phases``: every phase's study, in year order (this study is the last
        phase's, with the scenario as given); empty otherwise.
    """

    scenario: Scenario
    prepared: Prepared
    plans: dict[str, Plan]
    units: list[UnitResult]
    replications: int
    candidate_scores: pd.DataFrame | None = None
    refined: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: tuple[PhaseStudy, ...] = ()


@dataclass(frozen=True)
class PhaseStudy:
    """One phase of a phased study.

    Attributes
    ----------
    year
        The phase's year.
    weight
        Its weight in the look-ahead objective (``phases[].weight``).
    study
        The phase's study: its scenario (that year's fleet), plans (every site open in
        the phase) and units.
    built
        Per strategy, the year each site of its plan was built (0: an existing station).
    spent_cny
        Per strategy, the money of the phase's new sites and ports (CNY).
    access_cost
        Per strategy, the phase's demand-weighted access cost of its plan (sessions/day
        x min; :func:`sim.siting.multiperiod.phase_pmedian_cost`).
    model_objective
        Per strategy, the phase's term of its model's multi-period objective (p-median:
        the access cost; mclp: demand within the radius, sessions/day; ``None``: another
        model).
    """

    year: int
    weight: float
    study: StudyResult
    built: dict[str, np.ndarray]
    spent_cny: dict[str, float]
    access_cost: dict[str, float]
    model_objective: dict[str, float | None]


@dataclass(frozen=True)
class SweepStudy:
    """A sweep's studies: one :class:`StudyResult` per point of the grid.

    Attributes
    ----------
    keys
        The swept dotted keys, in the order given.
    points
        Per point, ``{key: value}``.
    studies
        Per point, the study of that point's scenario (the same figures ``run`` gives
        on that scenario).
    """

    keys: list[str]
    points: list[dict[str, Any]]
    studies: list[StudyResult]


@dataclass(frozen=True)
class PlannedStudy:
    """A scenario prepared and planned, before its units run.

    Attributes
    ----------
    scenario
        The scenario as given.
    prepared, plans, refined
        As in :class:`StudyResult`.
    evaluator
        The simulation-optimisation's cache of simulated plans (kept for candidate
        scoring), or ``None`` when nothing was refined.
    """

    scenario: Scenario
    prepared: Prepared
    plans: dict[str, Plan]
    refined: dict[str, dict[str, Any]]
    evaluator: PlanEvaluator | None


def check_study(
    scenario: Scenario, /, *, progress: Progress = no_progress
) -> tuple[Prepared, dict[str, Plan]]:
    """The first steps of every study: prepare the scenario and make its plans.

    ``chargesite validate`` runs exactly this, so every check ``run`` makes before it
    simulates (the data, the region, each strategy's model, its ``k``, budget and
    options) is made by ``validate`` too.
    """
    if scenario.phases is not None:
        last = plan_phases(scenario, progress=progress)[-1]
        return last.prepared, last.plans
    prep = prepare(scenario, progress=progress)
    progress("siting", 0, 1)
    return prep, make_plans(prep)


def plan_study(scenario: Scenario, /, *, progress: Progress = no_progress) -> PlannedStudy:
    """Prepare a scenario, make its plans, and refine those with ``refine`` by simulation.

    Parameters
    ----------
    scenario
        A validated scenario.
    progress
        Called as ``progress(label, done, total)``.
    """
    prep, plans = check_study(scenario, progress=progress)
    evaluator = None
    refined: dict[str, dict[str, Any]] = {}
    if any(s.refine is not None for s in scenario.strategies):
        evaluator = PlanEvaluator(prep)
        prep, plans, refined = refine_plans(prep, plans, evaluator=evaluator, progress=progress)
    return PlannedStudy(
        scenario=scenario, prepared=prep, plans=plans, refined=refined, evaluator=evaluator
    )


def _finish(planned: PlannedStudy, units: list[UnitResult], progress: Progress) -> StudyResult:
    """Order the units and score the candidates (``simulation.score_candidates``)."""
    prep, plans = planned.prepared, planned.plans
    order = {name: i for i, name in enumerate(plans)}
    units = sorted(units, key=lambda u: (u.replication, order[u.strategy]))
    scores = None
    cfg = planned.scenario.simulation.score_candidates
    if cfg is not None and len(prep.region.candidates):
        progress("scoring candidates by simulation", 0, 1)
        scores = marginal_site_scores(
            prep,
            plans,
            replications=cfg.replications,
            max_candidates=cfg.max_candidates,
            evaluator=planned.evaluator or PlanEvaluator(prep),
        )
    return StudyResult(
        scenario=planned.scenario,
        prepared=prep,
        plans=plans,
        units=units,
        replications=planned.scenario.simulation.replications,
        candidate_scores=scores,
        refined=planned.refined,
    )


def run_study(
    scenario: Scenario,
    /,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | Path | None = None,
    progress: Progress = no_progress,
) -> StudyResult:
    """Run one scenario: prepare, plan, refine, simulate every unit, score.

    Parameters
    ----------
    scenario
        A validated scenario (``--seed`` / ``--replications`` already applied).
    workers
        Local worker processes for the (strategy, replication) units.
    scheduler
        Dask scheduler address (``tcp://HOST:PORT``) whose workers run the units.
    store
        Folder (or :class:`~sim.study.cache.UnitStore`) where finished units are kept;
        a rerun with the same inputs resumes from it.
    progress
        Called as ``progress(label, done, total)``.

    Returns
    -------
    StudyResult
        The same whatever ``workers`` and ``scheduler`` are.

    Notes
    -----
    With ``workers > 1`` on the local pool (no ``scheduler``, no ``refine``) the
    strategies are sited on the workers and each strategy's units start as soon as its
    plan is made (:func:`~sim.study.executors.plan_and_run`); the plans and units are
    the same.
    """
    if scenario.phases is not None:
        return _run_phases(
            scenario, workers=workers, scheduler=scheduler, store=store, progress=progress
        )
    unit_store = UnitStore(store) if isinstance(store, Path) else store
    if workers > 1 and scheduler is None and all(s.refine is None for s in scenario.strategies):
        # siting on the workers, each strategy's units as soon as its plan is in
        prep = prepare(scenario, progress=progress)
        progress("siting", 0, 1)
        plans, units = plan_and_run(prep, workers=workers, store=unit_store, progress=progress)
        planned = PlannedStudy(
            scenario=scenario, prepared=prep, plans=plans, refined={}, evaluator=None
        )
        return _finish(planned, list(units.values()), progress)
    planned = plan_study(scenario, progress=progress)
    run_scenario = planned.prepared.scenario  # with any +simopt strategies
    remember(run_scenario, planned.prepared, planned.plans)
    done = run_units(
        [run_scenario],
        workers=workers,
        scheduler=scheduler,
        store=unit_store,
        progress=progress,
    )
    return _finish(planned, list(done.values()), progress)


def _run_phases(
    scenario: Scenario,
    /,
    *,
    workers: int,
    scheduler: str | None,
    store: UnitStore | Path | None,
    progress: Progress,
) -> StudyResult:
    """:func:`run_study` of a phased scenario: every phase planned, then every phase's
    units run together (common random numbers within a phase: the same replication
    streams for every strategy), then each phase finished as a study of its own."""
    assert scenario.phases is not None
    phased = plan_phases(scenario, progress=progress)
    for ph in phased:
        remember(ph.unit_scenario, replace(ph.prepared, scenario=ph.unit_scenario), ph.plans)
    done = run_units(
        [ph.unit_scenario for ph in phased],
        workers=workers,
        scheduler=scheduler,
        store=UnitStore(store) if isinstance(store, Path) else store,
        progress=progress,
    )
    studies = []
    for ph in phased:
        planned = PlannedStudy(
            scenario=ph.scenario, prepared=ph.prepared, plans=ph.plans, refined={}, evaluator=None
        )
        units = [u for k, u in done.items() if k.point == ph.index]
        if ph.index < len(phased) - 1:  # candidate scores: of the last phase only
            planned = replace(planned, scenario=_unscored(ph.scenario))
        studies.append(_finish(planned, units, progress))
    phases = tuple(
        PhaseStudy(
            year=ph.year,
            weight=scenario.phases[ph.index].weight,
            study=st,
            built=ph.built,
            spent_cny=ph.spent_cny,
            access_cost=ph.access_cost,
            model_objective=ph.model_objective,
        )
        for ph, st in zip(phased, studies, strict=True)
    )
    return replace(studies[-1], scenario=scenario, phases=phases)


def _unscored(scenario: Scenario, /) -> Scenario:
    """``scenario`` without ``simulation.score_candidates``."""
    sim_cfg = scenario.simulation.model_copy(update={"score_candidates": None})
    return scenario.model_copy(update={"simulation": sim_cfg})


def run_sweep_study(
    config: Path,
    sets: list[tuple[str, list[Any]]],
    /,
    *,
    replications: int | str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | Path | None = None,
    progress: Progress = no_progress,
) -> SweepStudy:
    """Run the study of every point of a grid over a scenario.

    Each point is :func:`run_study` on that point's scenario (so refinement and
    candidate scores apply at every point, with the figures ``run`` gives on it); the
    points run one after another, each point's units spread over the workers, all kept
    in one unit store (an interrupted sweep resumes).

    Parameters
    ----------
    config
        The base scenario YAML.
    sets
        ``[(key, values), ...]`` from :func:`sim.config.overrides.parse_set`; several
        keys give a grid.
    replications
        Overrides ``simulation.replications`` at every point (a number, or the text
        given on the command line).
    workers, scheduler, store, progress
        As for :func:`run_study`.
    """
    points, scenarios = sweep_grid(config, sets)
    studies = []
    for i, sc in enumerate(scenarios):
        label = ", ".join(f"{k}={v}" for k, v in points[i].items())

        def note(text: str, done: int, total: int, label: str = label) -> None:
            progress(f"[{label}] {text}", done, total)

        studies.append(
            run_study(
                with_overrides(sc, replications=replications),
                workers=workers,
                scheduler=scheduler,
                store=store,
                progress=note,
            )
        )
    return SweepStudy(keys=[k for k, _ in sets], points=points, studies=studies)
