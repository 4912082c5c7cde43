"""Running units of work in-process, on a local process pool or on a Dask cluster.

A unit is one (scenario variant, strategy, replication).  Its result depends only on
its inputs (the scenario, including its seed, the strategy's name and the replication
number), so units may run in any order, on any number of workers, and the assembled
results are identical.  Each worker prepares a scenario once (region, travel times,
plans) and keeps it for the units that follow.

Finished units can be kept in a :class:`UnitStore` (a folder of files named by a hash of
the unit's inputs); a rerun with the same inputs loads them instead of simulating again,
so an interrupted run or sweep resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.config import Scenario
from sim.des import Access, HighwayAccess
from sim.errors import UserInputError
from sim.siting.plan import Plan
from sim.study.plans import make_plans, plan_access, plan_highway_access
from sim.study.prepare import Prepared, prepare
from sim.study.units import UnitResult, run_unit

__all__ = ["UnitKey", "UnitStore", "run_units", "scenario_key"]

Progress = Callable[[str, int, int], None]


def _version() -> str:
    try:
        return metadata.version("chargesite")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def scenario_key(scenario: Scenario, /) -> str:
    """Hash of everything that determines a scenario's unit results.

    The output section and the replication count are left out (more replications
    reuse the ones already done); the chargesite version is included.
    """
    data = scenario.model_dump_json(exclude={"output": True, "simulation": {"replications"}})
    return hashlib.sha256(f"{_version()}\n{data}".encode()).hexdigest()[:24]


@dataclass(frozen=True, order=True)
class UnitKey:
    """Identifies one unit: sweep point (index into the scenario list), strategy,
    replication."""

    point: int
    strategy: str
    replication: int


# ------------------------------------------------------------------ worker side

#: Per-process cache: scenario key -> (prepared inputs, plans, plan access).
_CONTEXT: dict[str, tuple[Prepared, dict[str, Plan], dict[str, PlanAccess]]] = {}


PlanAccess = tuple[Access, HighwayAccess | None]


def _accesses(prep: Prepared, plans: dict[str, Plan]) -> dict[str, PlanAccess]:
    return {n: (plan_access(prep, p), plan_highway_access(prep, p)) for n, p in plans.items()}


def context(scenario: Scenario, /) -> tuple[Prepared, dict[str, Plan], dict[str, PlanAccess]]:
    """Prepared inputs, plans and access of a scenario, computed once per process."""
    key = scenario_key(scenario)
    ctx = _CONTEXT.get(key)
    if ctx is None:
        prep = prepare(scenario)
        plans = make_plans(prep)
        ctx = (prep, plans, _accesses(prep, plans))
        _CONTEXT.clear()  # one scenario at a time: bounded memory in long sweeps
        _CONTEXT[key] = ctx
    return ctx


def remember(scenario: Scenario, prep: Prepared, plans: dict[str, Plan], /) -> None:
    """Seed this process's cache (forked workers inherit it)."""
    _CONTEXT[scenario_key(scenario)] = (prep, plans, _accesses(prep, plans))


def unit_task(scenario_json: str, strategy: str, replication: int) -> UnitResult:
    """Run one unit (the function executed by workers)."""
    scenario = Scenario.model_validate_json(scenario_json)
    prep, plans, access = context(scenario)
    acc, hw = access[strategy]
    return run_unit(prep, plans[strategy], replication, access=acc, highway=hw)


# ------------------------------------------------------------------ result store


class UnitStore:
    """Finished units as files ``<folder>/<scenario key>-<strategy hash>-<rep>.pkl``.

    Files are written to a temporary name and renamed, so a crash never leaves a
    half-written unit behind.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, scenario: Scenario, strategy: str, replication: int) -> Path:
        """File of a unit."""
        tag = hashlib.sha256(strategy.encode()).hexdigest()[:12]
        return self.folder / f"{scenario_key(scenario)}-{tag}-{replication:05d}.pkl"

    def get(self, scenario: Scenario, strategy: str, replication: int) -> UnitResult | None:
        """The stored unit, or ``None``."""
        p = self.path(scenario, strategy, replication)
        if not p.is_file():
            return None
        try:
            with p.open("rb") as fh:
                result = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None  # unreadable: run it again
        return result if isinstance(result, UnitResult) else None

    def put(self, scenario: Scenario, result: UnitResult) -> None:
        """Store a finished unit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        p = self.path(scenario, result.strategy, result.replication)
        fd, tmp = tempfile.mkstemp(prefix=".unit-", dir=self.folder)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, p)


# ------------------------------------------------------------------ executors


def _dask_client(address: str) -> Any:
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise UserInputError(f"--scheduler needs dask.distributed ({exc})") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserInputError(
            f"--scheduler {address!r}: cannot connect to a Dask scheduler ({exc}); "
            "expected tcp://HOST:PORT of a running `dask scheduler`"
        ) from None


def run_units(
    scenarios: list[Scenario],
    /,
    *,
    replications: int,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | None = None,
    progress: Progress | None = None,
    prepared: tuple[Prepared, dict[str, Plan]] | None = None,
) -> dict[UnitKey, UnitResult]:
    """Run every (point, strategy, replication) unit.

    Parameters
    ----------
    scenarios
        One validated scenario per sweep point (a plain run has one).
    replications
        Replications per (point, strategy).
    workers
        Local worker processes (1 = in this process).  Ignored with ``scheduler``.
    scheduler
        Address of a Dask scheduler (``tcp://HOST:PORT``); its workers run the units.
    store
        Where finished units are kept and looked up (resume); ``None`` keeps nothing.
    progress
        Called as ``progress(label, done, total)``.
    prepared
        The first scenario's prepared inputs and plans, if already computed here.

    Returns
    -------
    dict
        Unit results by :class:`UnitKey`; the content does not depend on ``workers``
        or ``scheduler``.
    """
    note = progress or (lambda _label, _done, _total: None)
    keys = [
        UnitKey(i, s.name, r)
        for i, sc in enumerate(scenarios)
        for r in range(replications)
        for s in sc.strategies
    ]
    results: dict[UnitKey, UnitResult] = {}
    todo: list[UnitKey] = []
    for k in keys:
        cached = store.get(scenarios[k.point], k.strategy, k.replication) if store else None
        if cached is not None:
            results[k] = cached
        else:
            todo.append(k)
    total, done = len(keys), len(results)
    if done:
        note(f"{done} unit(s) already done (resumed)", done, total)
    if prepared is not None and scenarios:
        remember(scenarios[0], *prepared)

    def finished(k: UnitKey, r: UnitResult) -> None:
        nonlocal done
        results[k] = r
        if store is not None:
            store.put(scenarios[k.point], r)
        done += 1
        note(f"simulated {k.strategy}, replication {k.replication + 1}", done, total)

    if not todo:
        return results
    if scheduler is not None:
        _run_dask(scenarios, todo, scheduler, finished)
    elif workers > 1:
        _run_pool(scenarios, todo, workers, finished)
    else:
        for k in todo:
            sc = scenarios[k.point]
            prep, plans, access = context(sc)
            acc, hw = access[k.strategy]
            finished(k, run_unit(prep, plans[k.strategy], k.replication, access=acc, highway=hw))
    return results


def _run_pool(
    scenarios: list[Scenario],
    todo: Iterable[UnitKey],
    workers: int,
    finished: Callable[[UnitKey, UnitResult], None],
) -> None:
    jsons = [sc.model_dump_json() for sc in scenarios]
    # fork: workers inherit this process's prepared scenario instead of rebuilding it.
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: dict[Future[UnitResult], UnitKey] = {
            pool.submit(unit_task, jsons[k.point], k.strategy, k.replication): k for k in todo
        }
        while pending:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(ready, key=lambda f: pending[f]):
                finished(pending.pop(f), f.result())


def _run_dask(
    scenarios: list[Scenario],
    todo: list[UnitKey],
    address: str,
    finished: Callable[[UnitKey, UnitResult], None],
) -> None:
    from dask.distributed import as_completed

    client = _dask_client(address)
    try:
        jsons = [sc.model_dump_json() for sc in scenarios]
        futures = {
            client.submit(
                unit_task,
                jsons[k.point],
                k.strategy,
                k.replication,
                key=f"unit-{scenario_key(scenarios[k.point])}-{k.strategy}-{k.replication}",
                pure=False,
            ): k
            for k in todo
        }
        for f in as_completed(futures):
            finished(futures[f], f.result())
    finally:
        client.close()
