"""Running units of work in-process, on a local process pool or on a Dask cluster.

A unit is one (scenario, strategy, replication).  Its result depends only on its inputs
(the scenario, including its seed, the strategy's name and the replication number), so
units may run in any order, on any number of workers, and the assembled results are
identical.  Each worker prepares a scenario once (region, travel times, plans, access
tables; kept in :data:`sim.study.cache.MEMORY`) and reuses it for the units that follow.
Finished units go to a :class:`~sim.study.cache.UnitStore` when one is given; a rerun
loads them instead of simulating again.

Every strategy of a replication sees the same demand (common random numbers), but each
unit comes back (from a worker, or from its own draw) with its own copy: the units of a
replication that hold equal demands are given one shared copy
(:class:`_SharedDemand`), so the parent keeps one demand per replication, not one per
unit (a fifth of it with five strategies; the same values, so the same outputs).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from sim.config import Scenario
from sim.demand.model import Demand
from sim.des import Access, HighwayAccess
from sim.errors import UserInputError
from sim.siting.frlm import FlowProblem
from sim.siting.plan import Plan, strategy_model
from sim.study.cache import MEMORY, UnitStore, scenario_key
from sim.study.plans import (
    flow_problem,
    make_plans,
    plan_access,
    plan_highway_access,
    strategy_plan,
)
from sim.study.prepare import Prepared, prepare
from sim.study.progress import Progress
from sim.study.units import UnitResult, run_unit

__all__ = ["Context", "UnitKey", "context", "plan_and_run", "remember", "run_units"]


@dataclass(frozen=True, order=True)
class UnitKey:
    """Identifies one unit: scenario (index into the scenario list), strategy,
    replication."""

    point: int
    strategy: str
    replication: int


@dataclass(frozen=True)
class Context:
    """What a worker keeps of a scenario: prepared inputs, plans, access per plan."""

    prepared: Prepared
    plans: dict[str, Plan]
    access: dict[str, tuple[Access, HighwayAccess | None]]

    @classmethod
    def of(cls, prep: Prepared, plans: dict[str, Plan], /) -> Context:
        """The context of prepared inputs and their plans (access computed here)."""
        access = {n: (plan_access(prep, p), plan_highway_access(prep, p)) for n, p in plans.items()}
        return cls(prepared=prep, plans=plans, access=access)

    def run(self, strategy: str, replication: int, /) -> UnitResult:
        """Simulate and score one unit."""
        acc, hw = self.access[strategy]
        return run_unit(self.prepared, self.plans[strategy], replication, access=acc, highway=hw)


def _build(scenario: Scenario) -> Context:
    prep = prepare(scenario)
    return Context.of(prep, make_plans(prep))


def context(scenario: Scenario, /) -> Context:
    """The scenario's context, built once per process."""
    return MEMORY.get("context", scenario_key(scenario), lambda: _build(scenario))


def remember(scenario: Scenario, prep: Prepared, plans: dict[str, Plan], /) -> None:
    """Keep an already prepared scenario in this process's cache (forked workers
    inherit it)."""
    MEMORY.put("context", scenario_key(scenario), Context.of(prep, plans))


def unit_task(scenario_json: str, strategy: str, replication: int) -> UnitResult:
    """Run one unit (the function executed by workers)."""
    scenario = Scenario.model_validate_json(scenario_json)
    return context(scenario).run(strategy, replication)


def _same_demand(a: Demand, b: Demand, /) -> bool:
    """Whether two demands hold the same sessions (every column equal)."""
    for f in fields(Demand):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if (x is None) != (y is None):
            return False
        if x is not None and not (x.dtype == y.dtype and np.array_equal(x, y)):
            return False
    return True


class _SharedDemand:
    """One demand per (scenario, replication) among the units that arrive."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], Demand] = {}

    def __call__(self, point: int, result: UnitResult, /) -> UnitResult:
        """``result``, holding the demand of an earlier unit of its replication when
        the two are equal (else its own, which later units may share)."""
        key = (point, result.replication)
        first = self._seen.setdefault(key, result.demand)
        if first is result.demand or not _same_demand(first, result.demand):
            return result
        return replace(result, demand=first)


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


class _Book:
    """The units of a run: those found in the store, those to do, and what to do with
    each finished one (store it, share its demand, count it)."""

    def __init__(
        self,
        scenarios: list[Scenario],
        keys: list[UnitKey],
        store: UnitStore | None,
        note: Progress,
    ) -> None:
        self.scenarios, self.store, self.note = scenarios, store, note
        self.results: dict[UnitKey, UnitResult] = {}
        self.todo: list[UnitKey] = []
        for k in keys:
            cached = store.get(scenarios[k.point], k.strategy, k.replication) if store else None
            if cached is not None:
                self.results[k] = cached
            else:
                self.todo.append(k)
        self.shared = _SharedDemand()
        self.results = {k: self.shared(k.point, r) for k, r in self.results.items()}
        self.total, self.done = len(keys), len(self.results)
        if self.done:
            note(f"{self.done} unit(s) already done (resumed)", self.done, self.total)

    def finished(self, k: UnitKey, r: UnitResult, /) -> None:
        """Keep a finished unit."""
        if self.store is not None:
            self.store.put(self.scenarios[k.point], r)
        self.results[k] = self.shared(k.point, r)
        self.done += 1
        self.note(f"simulated {k.strategy}, replication {k.replication + 1}", self.done, self.total)


def run_units(
    scenarios: list[Scenario],
    /,
    *,
    replications: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | None = None,
    progress: Progress | None = None,
) -> dict[UnitKey, UnitResult]:
    """Run every (scenario, strategy, replication) unit.

    Parameters
    ----------
    scenarios
        Validated scenarios (a run has one, a sweep one per point).  Scenarios already
        prepared in this process (:func:`remember`) are not prepared again.
    replications
        Replications per (scenario, strategy); default each scenario's
        ``simulation.replications``.
    workers
        Local worker processes (1 = in this process).  Ignored with ``scheduler``.
    scheduler
        Address of a Dask scheduler (``tcp://HOST:PORT``); its workers run the units.
    store
        Where finished units are kept and looked up (resume); ``None`` keeps nothing.
    progress
        Called as ``progress(label, done, total)``.

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
        for r in range(sc.simulation.replications if replications is None else replications)
        for s in sc.strategies
    ]
    book = _Book(scenarios, keys, store, note)
    todo, results, finished = book.todo, book.results, book.finished
    if not todo:
        return results
    if scheduler is not None:
        _run_dask(scenarios, todo, scheduler, finished)
    elif workers > 1:
        _run_pool(scenarios, todo, workers, finished)
    else:
        for k in todo:
            finished(k, context(scenarios[k.point]).run(k.strategy, k.replication))
    return results


def _run_pool(
    scenarios: list[Scenario],
    todo: Iterable[UnitKey],
    workers: int,
    finished: Callable[[UnitKey, UnitResult], None],
) -> None:
    jsons = [sc.model_dump_json() for sc in scenarios]
    # fork: workers inherit this process's prepared scenarios instead of rebuilding them.
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


# What forked planning workers inherit: the prepared scenario, its through-traffic flows,
# and per strategy the access tables a worker computed for its plan.
_PLANNING: dict[str, Any] = {}


def _plan_task(index: int) -> Plan:
    """Solve strategy ``index`` of the inherited prepared scenario (a worker's task):
    the plan :func:`~sim.study.plans.make_plans` makes for it."""
    prep: Prepared = _PLANNING["prep"]
    flows: FlowProblem | None = _PLANNING["flows"]
    return strategy_plan(prep, prep.scenario.strategies[index], index=index, flows=flows)


def _planned_unit_task(plan: Plan, replication: int) -> UnitResult:
    """Simulate one unit of ``plan`` on the inherited prepared scenario (a worker's
    task); the plan's access tables are computed once per worker."""
    prep: Prepared = _PLANNING["prep"]
    access: dict[str, tuple[Access, HighwayAccess | None]] = _PLANNING["access"]
    if plan.strategy not in access:
        access[plan.strategy] = (plan_access(prep, plan), plan_highway_access(prep, plan))
    acc, hw = access[plan.strategy]
    return run_unit(prep, plan, replication, access=acc, highway=hw)


def _checked_flows(prep: Prepared, /) -> FlowProblem | None:
    """:func:`~sim.study.plans.make_plans`' checks before it solves anything (charging
    demand, every strategy's model), and the through-traffic flows when a model needs
    them."""
    make_plans(replace(prep, scenario=prep.scenario.model_copy(update={"strategies": []})))
    specs = [strategy_model(s, index=i) for i, s in enumerate(prep.scenario.strategies)]
    return flow_problem(prep) if any(spec.needs.flows for spec in specs) else None


def plan_and_run(
    prep: Prepared,
    /,
    *,
    workers: int,
    store: UnitStore | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, Plan], dict[UnitKey, UnitResult]]:
    """Make every strategy's plan and run every unit of the scenario on ``workers``
    forked processes, a strategy's units starting as soon as its plan is made.

    Parameters
    ----------
    prep
        The prepared scenario (its strategies are solved in config order of index).
    workers
        Local worker processes (at least 2; siting and simulation share them).
    store, progress
        As for :func:`run_units`.

    Returns
    -------
    tuple
        The plans in the order of ``prep.scenario.strategies`` (each equal to
        :func:`~sim.study.plans.make_plans`'), and the unit results by
        :class:`UnitKey` (point 0), as :func:`run_units` gives them.

    Raises
    ------
    ConfigError
        What :func:`~sim.study.plans.make_plans` raises, before any worker starts or
        from the strategy that raised it.
    """
    scenario = prep.scenario
    note = progress or (lambda _label, _done, _total: None)
    _PLANNING.update(prep=prep, flows=_checked_flows(prep), access={})
    keys = [
        UnitKey(0, s.name, r)
        for r in range(scenario.simulation.replications)
        for s in scenario.strategies
    ]
    book = _Book([scenario], keys, store, note)
    todo = {s.name: [k for k in book.todo if k.strategy == s.name] for s in scenario.strategies}
    plans: dict[str, Plan] = {}
    ctx = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            pending: dict[Future[Any], UnitKey | int] = {
                pool.submit(_plan_task, i): i for i in range(len(scenario.strategies))
            }
            while pending:
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(ready, key=lambda f: _order(pending[f])):
                    what = pending.pop(f)
                    if isinstance(what, UnitKey):
                        book.finished(what, f.result())
                        continue
                    plan: Plan = f.result()
                    plans[plan.strategy] = plan
                    note(f"sited {plan.strategy}", len(plans), len(scenario.strategies))
                    for k in todo[plan.strategy]:
                        pending[pool.submit(_planned_unit_task, plan, k.replication)] = k
    finally:
        _PLANNING.clear()
    return {s.name: plans[s.name] for s in scenario.strategies}, book.results


def _order(what: UnitKey | int, /) -> tuple[int, Any]:
    """Plans (by index) before units (by key), for a deterministic order of handling."""
    return (0, what) if isinstance(what, int) else (1, what)
