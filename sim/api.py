"""One call from Python: run a scenario and get its results (for notebooks).

>>> from sim.api import run
>>> result = run("configs/default.yaml", replications=2)   # doctest: +SKIP
>>> result.summary["strategies"]["coverage-greedy"]["metrics"]["difficulty_index"]
>>> result.selected.explore()                               # a GeoDataFrame

A thin layer over the one runner (:func:`sim.study.runner.run_study`) and the export
stage's tables (:func:`sim.export.result.assemble`); ``chargesite run`` is this
function plus writing the output folder (:func:`sim.export.writing.write_outputs`).
"""

from __future__ import annotations

from pathlib import Path

from sim.config import Scenario, load_config
from sim.config.overrides import with_overrides
from sim.export.result import RunResult, assemble
from sim.study.cache import UnitStore
from sim.study.progress import Progress, no_progress
from sim.study.runner import run_study

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
    progress: Progress = no_progress,
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
        Folder (or :class:`~sim.study.cache.UnitStore`) where finished units are kept; a
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
    study = run_study(
        scenario, workers=workers, scheduler=scheduler, store=store, progress=progress
    )
    return assemble(study)
