"""Simulation-optimisation: improve a plan, and score candidate sites, by simulating.

The static siting models (p-median, coverage) optimise a proxy: travel time or demand
within a radius.  Queues, balking and reneging are only seen by the simulation.  This
module uses the simulation itself as the objective:

- :func:`improve_plan` starts from a plan (e.g. p-median's) and runs a local search
  (swap, and optionally add/drop, moves) whose objective is the mean difficulty index
  over a fixed *search* set of replications with common random numbers; it then
  measures the gain over the start plan on a separate *hold-out* set of replications.
- :func:`marginal_site_scores` adds each candidate, one at a time, to each plan and
  reports the paired change in the difficulty index.

Common random numbers: replication ``r`` always simulates ``demand_for(prep, r)`` (drawn
from ``stream(seed, r, "demand")``), whatever the plan; :class:`PlanEvaluator` draws it
once and hands the same sessions to every plan, so two plans' difference in a
replication is due to the plans alone.  The search set starts at
:data:`SEARCH_BASE` and the hold-out set at :data:`HOLDOUT_BASE`: both are disjoint from
a run's replications ``0..R-1``, so a refined plan scored by ``chargesite run`` is not
scored on the draws it was selected on.

See ``docs/simopt.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.config import RefineConfig, StrategyConfig
from sim.demand.model import Demand
from sim.des import Access, HighwayAccess
from sim.errors import ConfigError
from sim.metrics.intervals import ci95
from sim.siting.plan import Plan
from sim.study.plans import plan_access, plan_highway_access, plan_of
from sim.study.prepare import Prepared
from sim.study.progress import Progress, no_progress
from sim.study.units import demand_for, run_unit

__all__ = [
    "HOLDOUT_BASE",
    "SEARCH_BASE",
    "ImprovedPlan",
    "PlanEvaluator",
    "SearchSettings",
    "candidate_columns",
    "fixed_strategy",
    "improve_plan",
    "marginal_site_scores",
    "plan_with_sites",
    "static_gain",
]

#: First replication number of the search set of :func:`improve_plan`.
SEARCH_BASE = 1_000_000
#: First replication number of its hold-out set.
HOLDOUT_BASE = 2_000_000

Move = Literal["swap", "add", "drop"]

_TRAJECTORY_COLUMNS = [
    "iteration",
    "move",
    "closed_site",
    "opened_site",
    "n_sites",
    "cost_cny",
    "difficulty_before",
    "difficulty_after",
    "diff_mean",
    "diff_ci95_lo",
    "diff_ci95_hi",
    "moves_tried",
    "simulations",
]


# ------------------------------------------------------------------ evaluation


PlanKey = tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]


def _key(plan: Plan) -> PlanKey:
    return (
        tuple(int(c) for c in plan.candidate),
        tuple(int(p) for p in plan.ports),
        tuple(plan.charger_class),
    )


class PlanEvaluator:
    """Simulated metrics of plans under common random numbers, cached.

    Replication ``r`` simulates ``demand_for(prep, r)`` for every plan; the demand is
    drawn once per replication and the metrics once per (plan, replication), where a
    plan is identified by its sites, ports per site and charger classes.

    Parameters
    ----------
    prep
        From :func:`sim.study.prepare.prepare`.

    Attributes
    ----------
    simulations
        Unit simulations run (cache misses).
    hits
        Requests answered from the cache.
    sim_time_s
        Wall time spent simulating (s).
    """

    def __init__(self, prep: Prepared, /) -> None:
        self.prep = prep
        self.simulations = 0
        self.hits = 0
        self.sim_time_s = 0.0
        self._demand: dict[int, Demand] = {}
        self._access: dict[tuple[int, ...], tuple[Access, HighwayAccess | None]] = {}
        self._metrics: dict[tuple[PlanKey, int], dict[str, float | None]] = {}

    def demand(self, replication: int, /) -> Demand:
        """The sessions of ``replication`` (drawn once, shared by every plan)."""
        d = self._demand.get(replication)
        if d is None:
            d = demand_for(self.prep, replication)
            self._demand[replication] = d
        return d

    def metrics(self, plan: Plan, replication: int, /) -> dict[str, float | None]:
        """Every metric of ``plan`` in ``replication`` (see :data:`sim.metrics.scores.METRICS`)."""
        key = _key(plan)
        got = self._metrics.get((key, replication))
        if got is not None:
            self.hits += 1
            return got
        acc = self._access.get(key[0])
        if acc is None:
            acc = (plan_access(self.prep, plan), plan_highway_access(self.prep, plan))
            self._access[key[0]] = acc
        t0 = time.perf_counter()
        unit = run_unit(
            self.prep,
            plan,
            replication,
            demand=self.demand(replication),
            access=acc[0],
            highway=acc[1],
        )
        self.sim_time_s += time.perf_counter() - t0
        self.simulations += 1
        self._metrics[(key, replication)] = unit.metrics
        return unit.metrics

    def difficulty(self, plan: Plan, replications: Sequence[int], /) -> np.ndarray:
        """Difficulty index (0-100) of ``plan`` in each of ``replications``."""
        out = np.empty(len(replications))
        for i, r in enumerate(replications):
            v = self.metrics(plan, r)["difficulty_index"]
            out[i] = np.nan if v is None else float(v)
        return out


def _paired(diff: np.ndarray) -> tuple[float, float | None, float | None]:
    lo, hi = ci95(diff)
    return float(diff.mean()), lo, hi


# ------------------------------------------------------------------ plans and statics


def _strategy_of(prep: Prepared, plan: Plan) -> tuple[StrategyConfig, int]:
    for i, s in enumerate(prep.scenario.strategies):
        if s.name == plan.strategy:
            return s, i
    return StrategyConfig(name=plan.strategy), 0


def fixed_strategy(
    prep: Prepared,
    sites: Sequence[int] | np.ndarray,
    /,
    *,
    strategy: StrategyConfig,
    name: str | None = None,
) -> StrategyConfig:
    """The ``fixed`` strategy of exactly ``sites`` with ``strategy``'s equipment rules.

    ``make_plan`` on it (or a scenario listing it) rebuilds the plan
    :func:`plan_with_sites` returns: the way to run a refined plan like any strategy.

    Parameters
    ----------
    prep
        From :func:`sim.study.prepare.prepare`.
    sites
        Candidate indices (rows of ``prep.region.candidates``).
    strategy
        Whose ``ports`` and ``charger_class`` new sites get.
    name
        The strategy's label; default ``strategy.name``.
    """
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    return strategy.model_copy(
        update={
            "name": name or strategy.name,
            "model": "fixed",
            "sites": ids[np.sort(np.asarray(sites, np.int64))].tolist(),
            "k": None,
            "budget_cny": None,
            "keep_existing": False,
            "plan_file": None,
            "plan_strategy": None,
        }
    )


def plan_with_sites(
    prep: Prepared,
    sites: Sequence[int] | np.ndarray,
    /,
    *,
    strategy: StrategyConfig,
    name: str | None = None,
    index: int = 0,
) -> Plan:
    """A plan of exactly ``sites``, equipped as ``strategy`` equips its sites.

    New sites get the strategy's ports and charger class (default:
    ``chargers.ports_per_site`` and ``chargers.default_class``); existing stations keep
    their own ports.  The plan is built by :func:`sim.siting.plan.make_plan` with the
    ``fixed`` model, so equipment and ``cost_cny`` follow the same rules as every
    strategy's plan; ``objective`` is the p-median cost of the sites.

    Parameters
    ----------
    prep
        From :func:`sim.study.prepare.prepare`.
    sites
        Candidate indices (rows of ``prep.region.candidates``).
    strategy
        Whose equipment rules to follow.
    name
        The plan's ``strategy`` label; default ``strategy.name``.
    index
        Position of the strategy in the scenario (error messages only).
    """
    fixed = fixed_strategy(prep, sites, strategy=strategy, name=name)
    return plan_of(prep, fixed, index=index)


def _row_caps(prep: Prepared) -> np.ndarray:
    """Per siting row, the cost counted when no open site is in reach (min)."""
    sc = prep.scenario
    caps = np.full(prep.cost_min.shape[0], sc.simulation.max_access_min)
    if prep.highway is not None:
        hw = np.full(prep.highway.od_cost_min.shape[0], sc.demand.highway.detour_max_min)
        caps = np.concatenate([caps, hw])
    return caps


def _assigned(prep: Prepared, sites: np.ndarray, caps: np.ndarray) -> np.ndarray:
    if sites.size == 0:
        return caps.copy()
    return np.minimum(prep.siting_cost[:, sites].min(axis=1), caps)


def static_gain(prep: Prepared, sites: Sequence[int] | np.ndarray, /) -> np.ndarray:
    """Static value of adding each candidate to ``sites``.

    Returns
    -------
    numpy.ndarray
        ``(n_candidates,)`` demand-weighted minutes per day saved: expected sessions per
        day of each siting row times the reduction of its time to the nearest open site
        (residents: access time; through-traffic: detour), a row out of reach counting
        as ``simulation.max_access_min`` (``demand.highway.detour_max_min``).  0 for
        candidates in ``sites``.  With the existing stations as ``sites`` this is the
        ``access_saved_min_per_day`` column of the candidates layer.
    """
    s = np.asarray(sites, dtype=np.int64)
    caps = _row_caps(prep)
    cur = _assigned(prep, s, caps)
    with np.errstate(invalid="ignore"):
        saved = np.maximum(cur[:, None] - prep.siting_cost, 0.0)
    return np.asarray(prep.siting_weight @ np.nan_to_num(saved))


def _top(score: np.ndarray, allowed: np.ndarray, n: int | None) -> np.ndarray:
    """Indices of ``allowed`` candidates, best ``score`` first (ties: lower index)."""
    idx = np.flatnonzero(allowed)
    order = np.lexsort((idx, -score[idx]))
    idx = idx[order]
    return idx if n is None else idx[:n]


# ------------------------------------------------------------------ local search


@dataclass(frozen=True)
class ImprovedPlan:
    """Result of :func:`improve_plan`.

    Attributes
    ----------
    plan
        The improved plan (equal sites to ``start`` if no move helped).
    strategy
        A ``fixed`` strategy that rebuilds ``plan`` (:func:`fixed_strategy`): add it to
        the scenario's strategies to simulate the plan like any other.
    start
        The plan the search started from.
    trajectory
        One row per accepted move, after a first row ``move == "start"``: ``iteration``,
        ``move`` (swap/add/drop), ``closed_site``, ``opened_site`` (site ids, ``""`` when
        none), ``n_sites``, ``cost_cny``, ``difficulty_before`` / ``difficulty_after``
        (mean over the search set), ``diff_mean`` (after - before) and its paired
        Student-t 95% interval ``diff_ci95_lo`` / ``diff_ci95_hi``, ``moves_tried``
        (plans simulated or looked up in that iteration) and ``simulations`` (total
        so far).
    search_replications, holdout_replications
        Replication numbers of the search and hold-out sets.
    start_difficulty, difficulty
        Mean difficulty index (0-100) of the start and the improved plan on the search
        set.
    gain, gain_ci95
        Hold-out estimate of ``start - improved`` difficulty (index points; positive =
        the improved plan is easier) and its paired 95% interval; ``None`` without a
        hold-out set (or with one replication, for the interval).
    holdout_start, holdout_improved
        Mean difficulty of each plan on the hold-out set.
    iterations
        Accepted moves.
    stopped
        ``"local optimum"``, ``"max_iterations"`` or ``"max_simulations"``.
    simulations, cache_hits
        Unit simulations run by this call, and plan evaluations answered from the cache.
    wall_time_s
        Wall time of the call (s).
    """

    plan: Plan
    strategy: StrategyConfig
    start: Plan
    trajectory: pd.DataFrame
    search_replications: tuple[int, ...]
    holdout_replications: tuple[int, ...]
    start_difficulty: float
    difficulty: float
    gain: float | None
    gain_ci95: tuple[float | None, float | None]
    holdout_start: float | None
    holdout_improved: float | None
    iterations: int
    stopped: str
    simulations: int
    cache_hits: int
    wall_time_s: float

    @property
    def significant(self) -> bool:
        """The hold-out gain's 95% interval excludes 0."""
        lo, hi = self.gain_ci95
        return lo is not None and hi is not None and (lo > 0 or hi < 0)

    def summary(self, site_ids: Sequence[str], /) -> dict[str, Any]:
        """JSON-ready record for ``summary.json`` (no wall-clock time, so that the same
        inputs give the same document).

        Parameters
        ----------
        site_ids
            Candidate ids (``prep.region.candidates["site_id"]``).
        """
        ids = [str(s) for s in site_ids]
        return {
            "from": self.start.strategy,
            "sites_before": [ids[c] for c in self.start.candidate.tolist()],
            "sites_after": [ids[c] for c in self.plan.candidate.tolist()],
            "search": {
                "replications": [self.search_replications[0], len(self.search_replications)]
                if self.search_replications
                else [],
                "difficulty_before": self.start_difficulty,
                "difficulty_after": self.difficulty,
            },
            "gain": {
                "difficulty_index": self.gain,
                "ci95": list(self.gain_ci95),
                "significant": self.significant,
                "replications": len(self.holdout_replications),
            },
            "iterations": self.iterations,
            "stopped": self.stopped,
            "simulations": self.simulations,
        }


@dataclass(frozen=True)
class _Candidate:
    static_delta: float
    move: str
    closed: int
    opened: int
    sites: tuple[int, ...]


def _neighbourhood(
    prep: Prepared,
    sites: np.ndarray,
    *,
    movable: np.ndarray,
    openable: np.ndarray,
    moves: Sequence[str],
    pool: int,
    min_sites: int,
    max_sites: int | None,
) -> list[_Candidate]:
    """Moves from ``sites``, most promising by the static objective first."""
    caps = _row_caps(prep)
    w = prep.siting_weight
    obj = float(w @ _assigned(prep, sites, caps))
    allowed = openable.copy()
    allowed[sites] = False
    out: list[_Candidate] = []
    here = set(sites.tolist())
    if "add" in moves and (max_sites is None or sites.size < max_sites):
        g = static_gain(prep, sites)
        for j in _top(g, allowed, pool).tolist():
            out.append(_Candidate(-float(g[j]), "add", -1, j, tuple(sorted(here | {j}))))
    for s in sites[movable[sites]].tolist():
        rest = sites[sites != s]
        obj_rest = float(w @ _assigned(prep, rest, caps))
        if "swap" in moves:
            g = static_gain(prep, rest)
            for j in _top(g, allowed, pool).tolist():
                new = tuple(sorted((here - {s}) | {j}))
                out.append(_Candidate(obj_rest - float(g[j]) - obj, "swap", s, j, new))
        if "drop" in moves and sites.size > min_sites:
            out.append(_Candidate(obj_rest - obj, "drop", s, -1, tuple(sorted(here - {s}))))
    out.sort(key=lambda c: (c.static_delta, c.move, c.closed, c.opened))
    return out


@dataclass(frozen=True)
class SearchSettings:
    """How :func:`improve_plan` searches (the ``refine`` section, plus what tests and
    researchers may set directly).

    Attributes
    ----------
    replications
        Replications in the search set (>= 1; >= 2 with ``require_significant``).
    max_iterations
        Most moves accepted.
    moves
        Any of ``"swap"``, ``"add"``, ``"drop"``.
    pool
        Candidates tried per closed site (swap) or per plan (add), best static gain first.
    search
        ``"first"``: accept the first improving move (in static order); ``"best"``:
        simulate the whole neighbourhood and accept the best improving move.
    min_sites, max_sites
        Bounds on the number of sites (existing ones included) for ``drop``/``add``.
    budget_cny
        Money for new sites and their ports (CNY); default the strategy's
        ``budget_cny``.  Moves whose plan costs more are skipped.
    require_significant
        Accept a move only when its paired 95% interval excludes 0.
    screen_replications
        Cost saving: simulate a move on the first this many search replications and
        reject it without simulating the rest when its paired mean there is not
        negative (None: every move gets every search replication).  Acceptance still
        needs the paired improvement on the whole search set.
    search_base, holdout_base
        First replication numbers of the search and hold-out sets (demand stream keys
        ``(seed, r, "demand")``); the two sets must not overlap.
    holdout_replications
        Replications in the hold-out set (0: no gain estimate).
    max_simulations
        Stop the search once this many unit simulations have run (None: no limit).
    """

    replications: int = 5
    max_iterations: int = 20
    moves: tuple[Move, ...] = ("swap",)
    pool: int = 10
    search: Literal["first", "best"] = "first"
    min_sites: int = 1
    max_sites: int | None = None
    budget_cny: float | None = None
    require_significant: bool = False
    screen_replications: int | None = None
    search_base: int = SEARCH_BASE
    holdout_replications: int = 10
    holdout_base: int = HOLDOUT_BASE
    max_simulations: int | None = None

    @classmethod
    def of(cls, refine: RefineConfig, /, *, budget_cny: float | None) -> SearchSettings:
        """The settings of a strategy's ``refine`` section (and its budget)."""
        return cls(
            replications=refine.replications,
            max_iterations=refine.iterations,
            moves=tuple(refine.moves),
            pool=refine.pool,
            max_sites=refine.max_sites,
            budget_cny=budget_cny,
            require_significant=refine.require_significant,
            screen_replications=refine.screen_replications,
            holdout_replications=refine.holdout_replications,
            max_simulations=refine.max_simulations,
        )

    @property
    def search_reps(self) -> tuple[int, ...]:
        """Replication numbers of the search set."""
        return tuple(range(self.search_base, self.search_base + self.replications))

    @property
    def hold_reps(self) -> tuple[int, ...]:
        """Replication numbers of the hold-out set."""
        return tuple(range(self.holdout_base, self.holdout_base + self.holdout_replications))

    def check(self) -> None:
        """Refuse settings out of range.

        Raises
        ------
        ConfigError
            Naming the setting, its value and what was expected.
        """
        bad = [m for m in self.moves if m not in ("swap", "add", "drop")]
        if bad or not self.moves:
            raise ConfigError(
                f"improve_plan: moves={self.moves!r}; expected some of swap, add, drop"
            )
        if self.search not in ("first", "best"):
            raise ConfigError(f"improve_plan: search={self.search!r}; expected 'first' or 'best'")
        need = 2 if self.require_significant else 1
        if self.replications < need:
            raise ConfigError(
                f"improve_plan: replications={self.replications}; expected an integer >= {need}"
            )
        for arg, v, low in (
            ("max_iterations", self.max_iterations, 0),
            ("pool", self.pool, 1),
            ("min_sites", self.min_sites, 1),
        ):
            if v < low:
                raise ConfigError(f"improve_plan: {arg}={v}; expected a positive integer")
        if self.screen_replications is not None and self.screen_replications < 1:
            raise ConfigError(
                f"improve_plan: screen_replications={self.screen_replications}; "
                "expected >= 1 or None"
            )
        if self.holdout_replications < 0:
            raise ConfigError(
                f"improve_plan: holdout_replications={self.holdout_replications}; expected >= 0"
            )
        if set(self.search_reps) & set(self.hold_reps):
            raise ConfigError(
                f"improve_plan: search replications {self.search_base}.."
                f"{self.search_reps[-1]} overlap the hold-out replications "
                f"{self.holdout_base}..{self.holdout_base + self.holdout_replications - 1}"
                "; expected disjoint sets"
            )


@dataclass
class _Step:
    """An accepted move: the option, its plan, its search-set difficulties, the paired
    difference against the plan it replaces, and the moves simulated to find it."""

    option: _Candidate
    plan: Plan
    difficulty: np.ndarray
    mean: float
    lo: float | None
    hi: float | None
    tried: int


class _LocalSearch:
    """The state of one :func:`improve_plan` call: the current plan and the trajectory."""

    def __init__(
        self,
        prep: Prepared,
        plan: Plan,
        settings: SearchSettings,
        *,
        strategy: tuple[StrategyConfig, int],
        label: str,
        evaluator: PlanEvaluator,
    ) -> None:
        self.prep, self.settings, self.label, self.ev = prep, settings, label, evaluator
        self.cfg, self.index = strategy
        self.budget = (
            settings.budget_cny if settings.budget_cny is not None else self.cfg.budget_cny
        )
        if "add" in settings.moves and settings.max_sites is None and self.budget is None:
            raise ConfigError(
                "improve_plan: moves include 'add' but neither max_sites nor budget_cny "
                "bounds the plan; expected one of them"
            )
        self.sims0 = evaluator.simulations
        self.movable = np.ones(len(prep.region.candidates), dtype=bool)
        self.movable[prep.existing] = False  # existing stations are never closed or opened
        self.ids = prep.region.candidates["site_id"].astype(str).to_numpy()
        self.built: dict[tuple[int, ...], Plan] = {}
        self.current = plan
        self.cur_d = evaluator.difficulty(plan, settings.search_reps)
        self.rows: list[dict[str, Any]] = []
        self.rows.append(self._row(plan, self.cur_d))
        self.out_of_budget = False

    def _row(self, plan: Plan, after: np.ndarray, step: _Step | None = None) -> dict[str, Any]:
        """A trajectory row: the start (``step`` None) or an accepted move."""
        opt = step.option if step is not None else None
        before = self.cur_d if step is not None else after
        return {
            "iteration": len(self.rows),
            "move": opt.move if opt is not None else "start",
            "closed_site": str(self.ids[opt.closed]) if opt and opt.closed >= 0 else "",
            "opened_site": str(self.ids[opt.opened]) if opt and opt.opened >= 0 else "",
            "n_sites": len(plan),
            "cost_cny": plan.cost_cny,
            "difficulty_before": float(before.mean()),
            "difficulty_after": float(after.mean()),
            "diff_mean": step.mean if step is not None else 0.0,
            "diff_ci95_lo": step.lo if step is not None else None,
            "diff_ci95_hi": step.hi if step is not None else None,
            "moves_tried": step.tried if step is not None else 0,
            "simulations": self.ev.simulations - self.sims0,
        }

    def _plan(self, option: _Candidate) -> Plan:
        cand = self.built.get(option.sites)
        if cand is None:
            cand = plan_with_sites(
                self.prep, option.sites, strategy=self.cfg, name=self.label, index=self.index
            )
            self.built[option.sites] = cand
        return cand

    def _screened_out(self, cand: Plan) -> bool:
        """The move fails the cheap screen on the first search replications."""
        st = self.settings
        n = st.screen_replications
        if n is None or n >= st.replications:
            return False
        return bool((self.ev.difficulty(cand, st.search_reps[:n]) - self.cur_d[:n]).mean() >= 0)

    def step(self) -> _Step | None:
        """Simulate the neighbourhood of the current plan; the move to accept, or None."""
        st = self.settings
        options = _neighbourhood(
            self.prep,
            self.current.candidate,
            movable=self.movable,
            openable=self.movable,
            moves=st.moves,
            pool=st.pool,
            min_sites=st.min_sites,
            max_sites=st.max_sites,
        )
        best: _Step | None = None
        tried = 0
        for opt in options:
            if st.max_simulations is not None and self.ev.simulations - self.sims0 >= (
                st.max_simulations
            ):
                self.out_of_budget = True
                break
            cand = self._plan(opt)
            if self.budget is not None and cand.cost_cny > self.budget * (1 + 1e-9):
                continue
            tried += 1
            if self._screened_out(cand):
                continue
            d = self.ev.difficulty(cand, st.search_reps)
            mean, lo, hi = _paired(d - self.cur_d)
            ok = mean < 0 and (not st.require_significant or (hi is not None and hi < 0))
            if ok and (best is None or mean < best.mean):
                best = _Step(opt, cand, d, mean, lo, hi, tried)
                if st.search == "first":
                    break
        if best is not None:
            best.tried = tried  # the moves simulated in this step, up to the accepted one
        return best

    def accept(self, step: _Step) -> None:
        """Move to the step's plan and record it."""
        self.rows.append(self._row(step.plan, step.difficulty, step))
        self.current, self.cur_d = step.plan, step.difficulty

    def run(self, progress: Progress) -> str:
        """Search until a local optimum or a limit; why it stopped."""
        total = self.settings.max_iterations
        iteration = 0
        while iteration < total:
            progress("simulation-optimisation", iteration, total)
            step = self.step()
            if step is None:
                return "max_simulations" if self.out_of_budget else "local optimum"
            iteration += 1
            self.accept(step)
            if self.out_of_budget:
                return "max_simulations"
        return "max_iterations"


def improve_plan(
    prep: Prepared,
    plan: Plan,
    /,
    settings: SearchSettings | None = None,
    *,
    strategy: StrategyConfig | None = None,
    name: str | None = None,
    evaluator: PlanEvaluator | None = None,
    progress: Progress = no_progress,
) -> ImprovedPlan:
    """Improve a plan by local search on the simulated difficulty index.

    The objective is the mean difficulty index (0-100, lower is easier) over the search
    replications (:attr:`SearchSettings.search_reps`), each simulated with the same
    demand for every plan (common random numbers).  A move is accepted only when the
    paired mean difference (new - current) is negative (and, with
    ``require_significant``, its paired 95% interval lies below 0).  The search stops at
    a local optimum (no move of the neighbourhood is accepted), after
    ``max_iterations`` accepted moves or once ``max_simulations`` unit simulations
    have run.  The gain over the start plan is then estimated on the hold-out
    replications, which took no part in choosing the moves.

    Moves
        ``swap`` closes a site of the plan and opens a candidate outside it (the site
        count stays fixed: the default).  ``add`` opens a candidate, ``drop`` closes a
        site; ``add`` needs ``max_sites`` or a budget.  Only the ``pool`` candidates with
        the largest :func:`static_gain` are tried per closed site (per plan for
        ``add``), and moves are tried in order of their static (p-median) change.
        Existing stations in the plan are never closed, and existing stations outside
        it are never opened.

    Parameters
    ----------
    prep
        From :func:`sim.study.prepare.prepare`.
    plan
        The start plan (e.g. ``make_plans(prep)["p-median"]``).
    settings
        How to search (default :class:`SearchSettings`).
    strategy
        Equipment rules of new sites (ports, charger class); default the scenario's
        strategy named ``plan.strategy`` (or the chargers' defaults).
    name
        ``strategy`` label of the improved plan; default ``"<plan.strategy>+simopt"``.
    evaluator
        A :class:`PlanEvaluator` to share its cache with other calls.
    progress
        Called as ``progress(label, iteration, max_iterations)``.

    Returns
    -------
    ImprovedPlan
        The improved plan, its trajectory and the hold-out gain.

    Raises
    ------
    ConfigError
        A setting out of range.
    """
    t_start = time.perf_counter()
    st = settings or SearchSettings()
    st.check()
    label = name or f"{plan.strategy}+simopt"
    ev = evaluator if evaluator is not None else PlanEvaluator(prep)
    hits0 = ev.hits
    owner = (strategy, 0) if strategy is not None else _strategy_of(prep, plan)
    search = _LocalSearch(prep, plan, st, strategy=owner, label=label, evaluator=ev)
    start_d = float(search.cur_d.mean())
    stopped = search.run(progress)
    progress("simulation-optimisation", st.max_iterations, st.max_iterations)
    gain: tuple[float | None, float | None, float | None] = (None, None, None)
    h_start = h_impr = None
    if st.hold_reps:
        a = ev.difficulty(plan, st.hold_reps)
        b = ev.difficulty(search.current, st.hold_reps)
        gain = _paired(a - b)
        h_start, h_impr = float(a.mean()), float(b.mean())
    current = search.current
    if current is plan:
        current = replace(plan, strategy=label)  # no move accepted: same sites, new label
    improved = replace(
        current, model=f"{plan.model}+simopt", solve_time_s=time.perf_counter() - t_start
    )
    return ImprovedPlan(
        plan=improved,
        strategy=fixed_strategy(prep, improved.candidate, strategy=search.cfg, name=label),
        start=plan,
        trajectory=pd.DataFrame(search.rows, columns=_TRAJECTORY_COLUMNS),
        search_replications=st.search_reps,
        holdout_replications=st.hold_reps,
        start_difficulty=start_d,
        difficulty=float(search.cur_d.mean()),
        gain=gain[0],
        gain_ci95=(gain[1], gain[2]),
        holdout_start=h_start,
        holdout_improved=h_impr,
        iterations=len(search.rows) - 1,
        stopped=stopped,
        simulations=ev.simulations - search.sims0,
        cache_hits=ev.hits - hits0,
        wall_time_s=time.perf_counter() - t_start,
    )


# ------------------------------------------------------------------ marginal scores

_SCORE_COLUMNS = [
    "strategy",
    "candidate",
    "site_id",
    "existing",
    "static_gain_min_per_day",
    "static_rank",
    "difficulty_base",
    "difficulty_with",
    "delta_difficulty",
    "delta_ci95_lo",
    "delta_ci95_hi",
    "significant",
    "sim_rank",
]


def marginal_site_scores(
    prep: Prepared,
    plans: Mapping[str, Plan],
    /,
    *,
    replications: int = 3,
    max_candidates: int | None = None,
    replication_base: int = 0,
    evaluator: PlanEvaluator | None = None,
    progress: Progress = no_progress,
) -> pd.DataFrame:
    """Simulated value of adding each candidate site to each plan.

    For every plan and every candidate outside it, the plan plus that candidate
    (equipped as the plan's strategy equips new sites: its ``ports`` and
    ``charger_class``, by default ``chargers.ports_per_site`` and
    ``chargers.default_class``; an existing station keeps its own ports) is simulated
    in replications ``replication_base .. replication_base + replications - 1`` with the
    same demand as the plan itself (common random numbers).

    Parameters
    ----------
    prep
        From :func:`sim.study.prepare.prepare`.
    plans
        Plans by strategy name (e.g. :func:`sim.study.prepare.make_plans`).
    replications
        Replications per (plan, candidate) (>= 2 for intervals).
    max_candidates
        Per plan, score only this many candidates: those with the largest
        :func:`static_gain` against the plan (demand-weighted minutes per day saved);
        None scores every candidate outside the plan.
    replication_base
        First replication number.  The default 0 uses a run's own replications, so
        ``difficulty_base`` equals the run's mean difficulty of the strategy when
        ``replications`` equals the run's.
    evaluator
        A :class:`PlanEvaluator` to share its cache with other calls.
    progress
        Called as ``progress(label, done, total)``.

    Returns
    -------
    pandas.DataFrame
        One row per (strategy, scored candidate): ``strategy``, ``candidate`` (row of
        ``prep.region.candidates``), ``site_id``, ``existing``,
        ``static_gain_min_per_day``, ``static_rank`` (1 = largest static gain),
        ``difficulty_base`` and ``difficulty_with`` (mean difficulty index, 0-100,
        without and with the site), ``delta_difficulty`` (with - base, index points;
        negative = the site makes charging easier), ``delta_ci95_lo`` /
        ``delta_ci95_hi`` (paired Student-t 95% interval; NaN with one replication),
        ``significant`` (the interval excludes 0) and ``sim_rank`` (1 = largest
        simulated reduction within the strategy).  ``attrs`` holds ``simulations``,
        ``replications`` and ``wall_time_s``.
    """
    t0 = time.perf_counter()
    if replications < 1:
        raise ConfigError(
            f"marginal_site_scores: replications={replications}; expected an integer >= 1"
        )
    if max_candidates is not None and max_candidates < 1:
        raise ConfigError(
            f"marginal_site_scores: max_candidates={max_candidates}; expected >= 1 or None"
        )
    ev = evaluator if evaluator is not None else PlanEvaluator(prep)
    sims0 = ev.simulations
    reps = tuple(range(replication_base, replication_base + replications))
    cands = prep.region.candidates
    ids = cands["site_id"].astype(str).to_numpy()
    is_existing = np.zeros(len(cands), dtype=bool)
    is_existing[prep.existing] = True
    work: list[tuple[str, Plan, StrategyConfig, int, np.ndarray, np.ndarray]] = []
    for sname, plan in plans.items():
        cfg, index = _strategy_of(prep, plan)
        g = static_gain(prep, plan.candidate)
        outside = np.ones(len(cands), dtype=bool)
        outside[plan.candidate] = False
        work.append((sname, plan, cfg, index, g, _top(g, outside, max_candidates)))
    total = sum(w[5].size for w in work)
    done = 0
    frames: list[pd.DataFrame] = []
    for sname, plan, cfg, index, g, todo in work:
        base = ev.difficulty(plan, reps)
        with_d = np.empty((todo.size, len(reps)))
        for i, j in enumerate(todo.tolist()):
            sites = np.union1d(plan.candidate, [j])
            p = plan_with_sites(prep, sites, strategy=cfg, name=sname, index=index)
            with_d[i] = ev.difficulty(p, reps)
            done += 1
            progress("scoring candidates by simulation", done, total)
        diff = with_d - base[None, :]
        ci = [ci95(d) for d in diff]
        lo = np.array([np.nan if c[0] is None else c[0] for c in ci], dtype=float)
        hi = np.array([np.nan if c[1] is None else c[1] for c in ci], dtype=float)
        delta = diff.mean(axis=1) if todo.size else np.zeros(0)
        sim_rank = np.empty(todo.size, dtype=np.int64)
        sim_rank[np.lexsort((todo, delta))] = np.arange(1, todo.size + 1)
        frames.append(
            pd.DataFrame(
                {
                    "strategy": sname,
                    "candidate": todo.astype(np.int64),
                    "site_id": ids[todo],
                    "existing": is_existing[todo],
                    "static_gain_min_per_day": g[todo],
                    "static_rank": np.arange(1, todo.size + 1, dtype=np.int64),
                    "difficulty_base": float(base.mean()),
                    "difficulty_with": with_d.mean(axis=1) if todo.size else np.zeros(0),
                    "delta_difficulty": delta,
                    "delta_ci95_lo": lo,
                    "delta_ci95_hi": hi,
                    "significant": (lo > 0) | (hi < 0),
                    "sim_rank": sim_rank,
                },
                columns=_SCORE_COLUMNS,
            )
        )
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: [] for c in _SCORE_COLUMNS})
    )
    out.attrs.update(
        {
            "simulations": ev.simulations - sims0,
            "replications": list(reps),
            "wall_time_s": time.perf_counter() - t0,
        }
    )
    return out


def candidate_columns(scores: pd.DataFrame, /, *, against: str, n_candidates: int) -> pd.DataFrame:
    """Columns for the candidates layer from :func:`marginal_site_scores`.

    Parameters
    ----------
    scores
        From :func:`marginal_site_scores`.
    against
        The strategy whose plan the candidates were added to.
    n_candidates
        Rows of the candidates layer.

    Returns
    -------
    pandas.DataFrame
        ``n_candidates`` rows in candidate order: ``sim_delta_difficulty``,
        ``sim_delta_ci95_lo``, ``sim_delta_ci95_hi`` (index points, NaN where not
        scored: in the plan or beyond ``max_candidates``) and ``sim_rank`` (Int64,
        missing where not scored).
    """
    mine = scores[scores["strategy"] == against]
    if mine.empty and against not in set(scores["strategy"]):
        raise ConfigError(
            f"candidate_columns: against={against!r}; expected one of "
            f"{sorted(set(scores['strategy']))}"
        )
    rows = mine["candidate"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            c: np.full(n_candidates, np.nan)
            for c in ("sim_delta_difficulty", "sim_delta_ci95_lo", "sim_delta_ci95_hi")
        }
    )
    out.loc[rows, "sim_delta_difficulty"] = mine["delta_difficulty"].to_numpy()
    out.loc[rows, "sim_delta_ci95_lo"] = mine["delta_ci95_lo"].to_numpy()
    out.loc[rows, "sim_delta_ci95_hi"] = mine["delta_ci95_hi"].to_numpy()
    rank = pd.array([pd.NA] * n_candidates, dtype="Int64")
    rank[rows] = mine["sim_rank"].to_numpy()
    out["sim_rank"] = rank
    return out


# ------------------------------------------------------------------ the study's step


def refine_plans(
    prep: Prepared,
    plans: dict[str, Plan],
    /,
    *,
    evaluator: PlanEvaluator,
    progress: Progress = no_progress,
) -> tuple[Prepared, dict[str, Plan], dict[str, dict[str, Any]]]:
    """Improve the plans of strategies with ``refine`` by simulation.

    Each improved plan becomes an extra strategy ``<name>+simopt`` (a ``fixed`` plan of
    the improved sites, equipped by its origin's rules) right after its origin.

    Returns
    -------
    tuple
        The prepared inputs whose scenario lists the extra strategies, every plan of
        that scenario, and per extra strategy the record ``summary.json`` shows under
        ``refine``.
    """
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
            SearchSettings.of(r, budget_cny=s.budget_cny),
            strategy=s,
            name=f"{s.name}+simopt",
            evaluator=evaluator,
        )
        strategies.append(res.strategy.model_copy(update={"refine": None}))
        records[res.strategy.name] = res.summary(ids)
    new = sc.model_copy(update={"strategies": strategies})
    refined = replace(prep, scenario=new)
    kept = {n: p for n, p in plans.items()}
    for i, s in enumerate(new.strategies):
        if s.name not in kept:
            kept[s.name] = plan_of(refined, s, index=i)
    return refined, {s.name: kept[s.name] for s in new.strategies}, records
