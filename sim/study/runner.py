"""The one runner: a scenario (or a grid of scenarios) from prepared inputs to scores.

:func:`run_study` runs one scenario: prepare -> plans -> optional refinement by
simulation -> units (in-process, process pool or Dask; resumable) -> scores ->
optional candidate scores.  :func:`run_sweep_study` is the same steps over a grid of
scenarios, with every point's units run together.  ``chargesite run``, ``chargesite
sweep``, :func:`sim.api.run` and the benchmarks all come through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.config import Scenario
from sim.siting.plan import Plan
from sim.study.prepare import Prepared
from sim.study.units import UnitResult

__all__ = ["StudyResult", "SweepStudy"]


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
    """

    scenario: Scenario
    prepared: Prepared
    plans: dict[str, Plan]
    units: list[UnitResult]
    replications: int
    candidate_scores: pd.DataFrame | None = None
    refined: dict[str, dict[str, Any]] = field(default_factory=dict)


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
