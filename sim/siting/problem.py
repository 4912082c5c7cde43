"""The data a siting model reads and returns, and the plumbing every model shares.

:class:`SitingProblem` is one instance (costs, demand weights, optional site costs,
capacities and existing sites); :class:`SitingResult` is what every model returns.  The
helpers below (parameter parsing, objective evaluation, one HiGHS call) keep each model
file down to its formulation.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from sim.errors import SolverError, SolverFailure, SolverInputError

if TYPE_CHECKING:
    from sim.siting.frlm import FlowProblem

__all__ = ["SitingProblem", "SitingResult"]

#: Absolute tolerance when comparing objective values and money amounts.
EPS = 1e-9


def _shape(a: np.ndarray) -> str:
    return "x".join(str(s) for s in a.shape) if a.ndim else "scalar"


def _as_float_array(name: str, value: Any, *, ndim: int, expected: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SolverInputError(
            f"SitingProblem.{name}: cannot read {type(value).__name__} as numbers; "
            f"expected {expected}"
        ) from None
    if arr.ndim != ndim:
        raise SolverInputError(
            f"SitingProblem.{name}: got shape ({_shape(arr)}), expected {expected}"
        )
    if np.isnan(arr).any():
        bad = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        raise SolverInputError(f"SitingProblem.{name}: NaN at index {bad}; expected {expected}")
    if (arr < 0).any():
        bad = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise SolverInputError(
            f"SitingProblem.{name}: negative value {arr[bad]!r} at index {bad}; expected {expected}"
        )
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class SitingProblem:
    """One siting instance: who needs charging, where it could go, what it costs.

    Parameters
    ----------
    cost
        ``(n_demand, n_candidates)`` access cost from each demand point to each candidate
        site, e.g. travel time in minutes; ``>= 0``, ``numpy.inf`` where a candidate cannot
        be reached.  Radii given to the coverage models are in the same unit.
    weight
        ``(n_demand,)`` demand at each point, ``>= 0`` and finite, e.g. expected charging
        sessions per day.  Capacities are in the same unit.
    site_cost
        ``(n_candidates,)`` money to open each candidate site including its ports (CNY),
        finite and ``>= 0``; ``None`` means every site costs 0.  Budgets are in the same
        unit.  Sites listed in ``existing`` are already built and never charged.
    capacity
        ``(n_candidates,)`` demand each site can serve (unit of ``weight``), ``>= 0``
        (``inf`` = unlimited); used by capacitated models.
    existing
        Indices of candidates that already have chargers (unique, ``0..n_candidates-1``).
    flows
        Through-traffic paths over the candidates (:class:`sim.siting.frlm.FlowProblem`,
        its ``n_candidates`` equal to this problem's), read by the flow-refuelling
        models; ``None`` for the others.

    Raises
    ------
    SolverInputError
        On a wrong shape, a NaN, a negative value, an infinite weight or site cost, an
        existing index out of range or repeated, or flows over another number of
        candidates; the message names the field.

    Notes
    -----
    Arrays are copied to read-only float64 (``existing``: sorted int64) on construction.
    """

    cost: np.ndarray
    weight: np.ndarray
    site_cost: np.ndarray | None = None
    capacity: np.ndarray | None = None
    existing: np.ndarray | None = None
    flows: FlowProblem | None = None

    def __post_init__(self) -> None:
        cost = _as_float_array(
            "cost", self.cost, ndim=2, expected="a 2-D (n_demand, n_candidates) array >= 0"
        )
        if cost.shape[0] < 1 or cost.shape[1] < 1:
            raise SolverInputError(
                f"SitingProblem.cost: got shape ({_shape(cost)}), expected at least one "
                "demand point (row) and one candidate site (column)"
            )
        n_dem, n_cand = cost.shape
        object.__setattr__(self, "cost", cost)
        weight = _as_float_array(
            "weight", self.weight, ndim=1, expected=f"a 1-D array of {n_dem} finite values >= 0"
        )
        if weight.shape[0] != n_dem:
            raise SolverInputError(
                f"SitingProblem.weight: got shape ({_shape(weight)}), expected ({n_dem},) "
                "to match the rows of cost"
            )
        if not np.isfinite(weight).all():
            raise SolverInputError(
                f"SitingProblem.weight: infinite value at index "
                f"{int(np.flatnonzero(~np.isfinite(weight))[0])}; expected finite values >= 0"
            )
        object.__setattr__(self, "weight", weight)
        for name, finite in (("site_cost", True), ("capacity", False)):
            value = getattr(self, name)
            if value is None:
                continue
            expected = f"a 1-D array of {n_cand} {'finite ' if finite else ''}values >= 0"
            arr = _as_float_array(name, value, ndim=1, expected=expected)
            if arr.shape[0] != n_cand:
                raise SolverInputError(
                    f"SitingProblem.{name}: got shape ({_shape(arr)}), expected ({n_cand},) "
                    "to match the columns of cost"
                )
            if finite and not np.isfinite(arr).all():
                raise SolverInputError(
                    f"SitingProblem.{name}: infinite value at index "
                    f"{int(np.flatnonzero(~np.isfinite(arr))[0])}; expected {expected}"
                )
            object.__setattr__(self, name, arr)
        if self.existing is not None:
            ex = as_index_array("SitingProblem.existing", self.existing, n_cand)
            object.__setattr__(self, "existing", ex)
        if self.flows is not None:
            _check_flows(self.flows, n_cand)

    @property
    def n_demand(self) -> int:
        """Number of demand points (rows of :attr:`cost`)."""
        return int(self.cost.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns of :attr:`cost`)."""
        return int(self.cost.shape[1])

    def existing_sites(self) -> np.ndarray:
        """The existing sites as a sorted int64 array (empty if none)."""
        return self.existing if self.existing is not None else np.empty(0, dtype=np.int64)

    def charged_site_cost(self) -> np.ndarray:
        """Money counted against a budget per candidate (CNY): ``site_cost``, 0 if existing."""
        c = np.zeros(self.n_candidates) if self.site_cost is None else self.site_cost.copy()
        c[self.existing_sites()] = 0.0
        return c


def _check_flows(flows: object, n_cand: int) -> None:
    from sim.siting.frlm import FlowProblem

    if not isinstance(flows, FlowProblem):
        raise SolverInputError(
            f"SitingProblem.flows: got a {type(flows).__name__}; expected a "
            "sim.siting.frlm.FlowProblem or None"
        )
    if flows.n_candidates != n_cand:
        raise SolverInputError(
            f"SitingProblem.flows: paths over {flows.n_candidates} candidates, expected "
            f"{n_cand} to match the columns of cost"
        )


def as_index_array(name: str, value: Any, n: int) -> np.ndarray:
    """Validate a collection of candidate indices: integers in ``0..n-1``, no repeats."""
    raw = np.asarray(list(value) if not isinstance(value, np.ndarray) else value)
    if raw.ndim != 1:
        raise SolverInputError(
            f"{name}: got shape ({_shape(raw)}), expected a 1-D list of candidate indices"
        )
    if raw.size == 0:
        return np.empty(0, dtype=np.int64)
    if raw.dtype == bool or not (
        np.issubdtype(raw.dtype, np.integer)
        or (np.issubdtype(raw.dtype, np.floating) and np.all(np.mod(raw, 1) == 0))
    ):
        raise SolverInputError(
            f"{name}: got {raw.tolist()!r}, expected integer candidate indices in 0..{n - 1}"
        )
    idx = raw.astype(np.int64)
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise SolverInputError(
            f"{name}: index {int(bad[0])} is out of range; expected candidate indices in 0..{n - 1}"
        )
    uniq, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        raise SolverInputError(
            f"{name}: index {int(uniq[counts > 1][0])} is repeated; expected each "
            "candidate at most once"
        )
    uniq.setflags(write=False)
    return uniq


@dataclass(frozen=True)
class SitingResult:
    """What a siting model returns.

    Attributes
    ----------
    sites
        Sorted int64 indices of the opened candidate sites.
    objective
        The model's objective value at ``sites`` (see each model in ``docs/siting.md``:
        weighted cost for p-median, covered weight for coverage models, ...).
    optimal
        True when optimality is proven (within ``mip_gap`` for MILP models).
    gap
        Relative MIP gap, 0 when proven optimal, ``nan`` for heuristics without a bound.
    time_s
        Wall-clock solve time (s).
    model
        The model name the caller asked for.
    params
        The effective parameters (given and defaulted) plus model diagnostics, e.g.
        ``uncoverable_demand``.
    """

    sites: np.ndarray
    objective: float
    optimal: bool
    gap: float
    time_s: float
    model: str
    params: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Parameters shared by the models.


class Params:
    """Keyword parameters of one model call; tracks which ones were used.

    Parameters
    ----------
    model
        Model name, for messages.
    params
        The keyword arguments given to :func:`sim.siting.solve`.
    """

    def __init__(self, model: str, params: Mapping[str, object]) -> None:
        self.model = model
        self.given = dict(params)
        self.effective: dict[str, object] = {}

    def get(self, name: str, default: object = None) -> object:
        """Return a parameter (or ``default``) and record its effective value."""
        value = self.given.get(name, default)
        self.effective[name] = value
        return value

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        low: float | None = None,
        low_inclusive: bool = True,
        high: float | None = None,
        expected: str,
    ) -> float | None:
        """A finite real parameter (``None`` if absent and no default), range-checked."""
        value = self.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise SolverInputError(f"{self.model}: {name}={value!r}; expected {expected}")
        v = float(value)
        if (
            not math.isfinite(v)
            or (low is not None and (v < low or (not low_inclusive and v == low)))
            or (high is not None and v > high)
        ):
            raise SolverInputError(f"{self.model}: {name}={value!r}; expected {expected}")
        self.effective[name] = v
        return v

    def integer(
        self, name: str, default: int | None = None, *, low: int, high: int, expected: str
    ) -> int | None:
        """An integer parameter in ``low..high`` (``None`` if absent and no default)."""
        value = self.get(name, default)
        if value is None:
            return None
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not ok or not low <= int(value) <= high:  # type: ignore[call-overload]
            raise SolverInputError(f"{self.model}: {name}={value!r}; expected {expected}")
        self.effective[name] = int(value)  # type: ignore[call-overload]
        return int(value)  # type: ignore[call-overload]

    def flag(self, name: str, default: bool) -> bool:
        """A boolean parameter."""
        value = self.get(name, default)
        if not isinstance(value, bool | np.bool_):
            raise SolverInputError(f"{self.model}: {name}={value!r}; expected True or False")
        self.effective[name] = bool(value)
        return bool(value)

    def missing(self, name: str, what: str) -> SolverInputError:
        """The error for a required parameter that was not given (spots a misspelling)."""
        unknown = [k for k in self.given if k not in self.effective or self.effective[k] is None]
        hint = difflib.get_close_matches(name, [k for k in unknown if k != name], n=1)
        typo = f" (got {hint[0]!r}: did you mean {name!r}?)" if hint else ""
        return SolverInputError(f"{self.model}: missing parameter {name} ({what}){typo}")

    def finish(self) -> dict[str, object]:
        """Reject parameters the model did not read; return the effective parameters."""
        unknown = sorted(set(self.given) - set(self.effective))
        if unknown:
            name = unknown[0]
            hint = difflib.get_close_matches(name, list(self.effective), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise SolverInputError(
                f"{self.model}: unknown parameter {name!r}{suggestion}; "
                f"expected one of {sorted(self.effective)}"
            )
        return dict(self.effective)


@dataclass(frozen=True)
class Selection:
    """How many sites may open and what they may cost.

    Attributes
    ----------
    p
        Total number of open sites (kept existing sites included), or ``None``.
    budget
        Money for new sites (CNY), or ``None``.
    forced
        Sorted candidate indices that must be open (existing sites with ``keep_existing``).
    charged
        Money counted against the budget per candidate (existing sites cost 0).
    """

    p: int | None
    budget: float | None
    forced: np.ndarray
    charged: np.ndarray


def read_selection(problem: SitingProblem, params: Params, *, need: bool = True) -> Selection:
    """Read and check ``p``, ``budget`` and ``keep_existing``.

    Parameters
    ----------
    problem
        The instance.
    params
        The call's parameters.
    need
        If True, at least one of ``p`` and ``budget`` is required.

    Raises
    ------
    SolverInputError
        ``p`` not in ``1..n_candidates``; ``budget`` negative or given without
        ``site_cost``; neither given when needed; more kept sites than ``p``; kept sites
        alone over budget is impossible (they cost 0).
    """
    n = problem.n_candidates
    model = params.model
    p = params.integer("p", low=1, high=n, expected=f"an integer number of sites in 1..{n}")
    budget = params.number("budget", low=0.0, expected="a finite amount of money >= 0 (CNY)")
    keep = params.flag("keep_existing", False)
    if budget is not None and problem.site_cost is None:
        raise SolverInputError(
            f"{model}: budget={budget!r} needs SitingProblem.site_cost (money per site); it is None"
        )
    if need and p is None and budget is None:
        raise params.missing("p", f"number of sites, 1..{n}; or budget in CNY")
    forced = problem.existing_sites() if keep else np.empty(0, dtype=np.int64)
    if p is not None and forced.size > p:
        raise SolverInputError(
            f"{model}: p={p} but keep_existing=True keeps {forced.size} existing sites; "
            f"expected p >= {forced.size}"
        )
    return Selection(p=p, budget=budget, forced=forced, charged=problem.charged_site_cost())


# --------------------------------------------------------------------------------------
# Objectives.


def assignment_cost(problem: SitingProblem, sites: np.ndarray) -> np.ndarray:
    """Per-demand cost to the nearest open site (``inf`` if none reachable)."""
    if sites.size == 0:
        return np.full(problem.n_demand, np.inf)
    return np.asarray(problem.cost[:, sites].min(axis=1))


def pmedian_objective(problem: SitingProblem, sites: np.ndarray) -> float:
    """Weighted cost of serving each demand point from its nearest open site.

    Demand points with weight 0 contribute 0 even when unreachable; the value is ``inf``
    if some positive demand cannot reach any open site and ``nan`` if ``sites`` is empty.
    """
    if sites.size == 0:
        return math.nan
    d = assignment_cost(problem, sites)
    pos = problem.weight > 0
    return float(np.dot(problem.weight[pos], d[pos]))


def covered_weight(problem: SitingProblem, sites: np.ndarray, radius: float) -> float:
    """Weight of the demand within ``radius`` of at least one open site."""
    if sites.size == 0:
        return 0.0
    covered = (problem.cost[:, sites] <= radius).any(axis=1)
    return float(problem.weight[covered].sum())


def read_radius(problem: SitingProblem, params: Params) -> float:
    """Read the required ``radius`` parameter (unit of ``cost``, > 0)."""
    radius = params.number(
        "radius",
        low=0.0,
        low_inclusive=False,
        expected="a finite coverage radius > 0 (unit of cost)",
    )
    if radius is None:
        raise params.missing("radius", "coverage radius > 0, unit of cost")
    return radius


def sorted_sites(sites: Iterable[int] | np.ndarray) -> np.ndarray:
    """Sorted unique int64 array of site indices."""
    return np.unique(
        np.asarray(list(sites) if not isinstance(sites, np.ndarray) else sites)
    ).astype(np.int64)


def resolve_rng(
    model: str, rng: np.random.Generator | None, *, required: bool
) -> np.random.Generator:
    """Return ``rng``; if None, raise when required, else a fixed-seed generator."""
    if rng is None:
        if required:
            raise SolverInputError(
                f"{model}: rng=None; expected a numpy.random.Generator "
                "(e.g. numpy.random.default_rng(seed))"
            )
        return np.random.default_rng(0)
    if not isinstance(rng, np.random.Generator):
        raise SolverInputError(f"{model}: rng={rng!r}; expected a numpy.random.Generator or None")
    return rng


# --------------------------------------------------------------------------------------
# One HiGHS call.


@dataclass(frozen=True)
class MilpSolution:
    """Outcome of :func:`solve_milp`.

    Attributes
    ----------
    x
        Column values (``None`` if no feasible solution was found).
    objective
        Objective value of ``x`` (in the sense given).
    optimal
        HiGHS proved optimality within the gap tolerance.
    gap
        Relative MIP gap reported by HiGHS (0 when optimal).
    status
        HiGHS model status as text.
    bound
        Best dual bound.
    """

    x: np.ndarray | None
    objective: float
    optimal: bool
    gap: float
    status: str
    bound: float


def new_highs() -> Any:
    """A silent HiGHS instance.

    ``highspy.Highs()`` prints the HiGHS banner on stdout while it is constructed, before
    any option can be set; its base class (``highspy._core._Highs``) does not, and has every
    method used here.
    """
    import highspy

    core = getattr(highspy, "_core", None)
    cls = getattr(core, "_Highs", None) if core is not None else None
    h = cls() if cls is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True)
class MilpModel:
    """``min/max c'x : row_lower <= A x <= row_upper, col bounds, x_j integer if integer[j]``.

    Attributes
    ----------
    c, a, row_lower, row_upper, col_lower, col_upper
        The model (``inf`` for missing bounds).
    integer
        Boolean mask of integer columns.
    maximize
        Objective sense.
    """

    c: np.ndarray
    a: sp.csr_array | sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    maximize: bool = False


def highs_lp(model: MilpModel) -> Any:
    """The model as a ``highspy.HighsLp`` (column-wise matrix)."""
    import highspy

    lp = highspy.HighsLp()
    n_row, n_col = model.a.shape
    csc = sp.csc_matrix(model.a)
    csc.sort_indices()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = np.asarray(model.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(model.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(model.row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = n_row
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    if model.integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
            for f in model.integer
        ]
    return lp


#: HiGHS model statuses that answer the question asked: solved, proved infeasible or
#: unbounded, or stopped by a limit or bound set here.  Any other status ("Not Set",
#: "Solve error", "Unknown", ...) means the run failed and says nothing about the model.
ANSWERED_STATUSES = frozenset(
    {
        "kOptimal",
        "kInfeasible",
        "kUnboundedOrInfeasible",
        "kUnbounded",
        "kObjectiveBound",
        "kObjectiveTarget",
        "kTimeLimit",
        "kIterationLimit",
        "kSolutionLimit",
        "kModelEmpty",
    }
)


def highs_answered(h: Any, run_status: Any) -> bool:
    """True if the run of ``h`` (``run_status``: what ``h.run()`` returned) answered.

    A run answers when ``h.run()`` did not return ``HighsStatus.kError`` and the model
    status is one of :data:`ANSWERED_STATUSES`.
    """
    import highspy

    if run_status == highspy.HighsStatus.kError:
        return False
    return h.getModelStatus().name in ANSWERED_STATUSES


def status_text(h: Any) -> str:
    """The model status of ``h`` as HiGHS writes it (e.g. ``"Optimal"``, ``"Not Set"``)."""
    return str(h.modelStatusToString(h.getModelStatus()))


def run_highs(make: Callable[[int | None], Any], /, *, name: str, threads: int | None) -> Any:
    """Build and run a HiGHS instance; check its status, retry a failed run once.

    HiGHS starts one task scheduler per process, with the thread count of the first run;
    a later run asking for another count fails with model status "Not Set" (seen with
    ``threads=1`` after a run with the default threads).  So a run whose status is not
    in :data:`ANSWERED_STATUSES` is retried once on a fresh instance with HiGHS's
    automatic thread count, which takes the scheduler as it is.

    Parameters
    ----------
    make
        ``make(threads)`` returns a new instance with the model and every option set,
        ``threads`` HiGHS threads (``None``: leave HiGHS's automatic choice).
    name
        What is solved, for the error message (e.g. ``"mclp LP bound"``).
    threads
        Threads for the first run.

    Returns
    -------
    Any
        The run ``highspy`` instance, its status one of :data:`ANSWERED_STATUSES`.

    Raises
    ------
    SolverError
        If the retry fails too; the message names ``name`` and both statuses.
    """
    h = make(threads)
    if highs_answered(h, h.run()):
        return h
    first = status_text(h)
    h = make(None)
    if highs_answered(h, h.run()):
        return h
    raise SolverFailure(
        f"{name}: HiGHS returned model status {first!r} (threads={threads}) and "
        f"{status_text(h)!r} on a fresh instance with automatic threads; no solution"
    )


def rerun_fresh(
    h: Any, /, *, options: Mapping[str, object], prepare: Callable[[Any], None]
) -> tuple[Any, str | None]:
    """Run a kept HiGHS instance (an LP changed between runs); retry a failed run once.

    ``prepare(h)`` sets what each run needs (a basis, an objective bound) and ``h`` runs.
    If HiGHS fails (a status outside :data:`ANSWERED_STATUSES`, e.g. "Not Set" when its
    scheduler was started with another thread count), the LP as it stands (bounds and
    rows included) is copied into a fresh instance with ``options`` and HiGHS's automatic
    thread count (any ``threads`` in ``options`` is left out), prepared and run once more.

    Parameters
    ----------
    h
        The instance.
    options
        Its HiGHS options, for the fresh copy.
    prepare
        Called on the instance before each run.

    Returns
    -------
    tuple
        The instance that ran last (``h`` or its replacement, which the caller keeps)
        and the status of the failed first run (``None`` if it answered).  The caller
        reads the last run's status.
    """
    prepare(h)
    if highs_answered(h, h.run()):
        return h, None
    failed = status_text(h)
    fresh = new_highs()
    for key, value in options.items():
        if key != "threads":
            fresh.setOptionValue(key, value)
    fresh.passModel(h.getLp())
    prepare(fresh)
    fresh.run()
    return fresh, failed


def _solution(h: Any, integer: bool, *, name: str) -> MilpSolution:
    """Read the outcome of a run HiGHS instance (``integer``: a MIP was solved)."""
    import highspy

    status = h.getModelStatus()
    text = status_text(h)
    info = h.getInfo()
    has_x = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return MilpSolution(None, math.nan, False, math.inf, text, math.nan)
    if not has_x:
        if status == highspy.HighsModelStatus.kOptimal:
            raise SolverFailure(f"{name}: HiGHS reported {text!r} without a feasible solution")
        return MilpSolution(None, math.nan, False, math.inf, text, math.nan)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    optimal = status == highspy.HighsModelStatus.kOptimal
    if integer:
        gap = 0.0 if optimal else float(info.mip_gap)
        bound = float(info.mip_dual_bound)
    else:
        gap, bound = (
            (0.0, float(info.objective_function_value)) if optimal else (math.inf, math.nan)
        )
    return MilpSolution(x, float(info.objective_function_value), optimal, gap, text, bound)


def solve_milp(
    model: MilpModel,
    /,
    *,
    name: str = "HiGHS model",
    start: np.ndarray | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    objective_cutoff: float | None = None,
    threads: int | None = 1,
    options: dict[str, object] | None = None,
) -> MilpSolution:
    """Solve a :class:`MilpModel` in HiGHS.

    Parameters
    ----------
    model
        The model.
    name
        What is solved, for error messages (e.g. ``"lscp"``, ``"mclp LP bound"``).
    start
        A feasible starting solution (HiGHS uses it as its first incumbent).
    time_limit
        Seconds (``None``: no limit).
    mip_gap
        Relative gap at which HiGHS stops and declares optimality.
    objective_cutoff
        Only solutions better than this value are wanted (HiGHS ``objective_bound``); if
        none exists the status is ``"Infeasible"``.
    threads
        HiGHS threads (``None``: HiGHS default).  Default 1: HiGHS's parallel MIP gains
        nothing measurable on these models, and on a busy 2-core machine its worker
        threads cost ~0.4 s per call on a 200-site MCLP that solves in 0.01 s on one.
        If HiGHS refuses the count (another count started its scheduler in this
        process), the call is retried with automatic threads (:func:`run_highs`).
    options
        Further HiGHS options by name (e.g. ``mip_abs_gap``, the absolute gap at which
        HiGHS stops).

    Returns
    -------
    MilpSolution
        ``x`` is ``None`` when HiGHS found no feasible solution (infeasible, or stopped
        by the time limit).  ``optimal`` only when HiGHS proved it.

    Raises
    ------
    SolverError
        HiGHS failed (a status outside :data:`ANSWERED_STATUSES`) twice, or reported
        "Optimal" without a solution; the message names ``name`` and the status.
    """
    import highspy

    lp = highs_lp(model)
    settings: dict[str, object] = {"mip_rel_gap": float(mip_gap), "random_seed": 0}
    if objective_cutoff is not None:
        settings["objective_bound"] = float(objective_cutoff)
    if time_limit is not None:
        settings["time_limit"] = float(time_limit)
    settings.update(options or {})

    def make(n_threads: int | None) -> Any:
        h = new_highs()
        h.passModel(lp)
        chosen = settings if n_threads is None else {**settings, "threads": int(n_threads)}
        for key, value in chosen.items():
            if h.setOptionValue(key, value) == highspy.HighsStatus.kError:
                raise SolverError(f"{name}: HiGHS rejects the option {key}={value!r}")
        if start is not None:
            sol = highspy.HighsSolution()
            sol.col_value = np.asarray(start, dtype=np.float64)
            sol.value_valid = True
            h.setSolution(sol)
        return h

    h = run_highs(make, name=name, threads=threads)
    return _solution(h, bool(model.integer.any()), name=name)


# --------------------------------------------------------------------------------------
# Coverage data shared by the covering models.


@dataclass(frozen=True)
class Coverage:
    """Demand points within a radius of each candidate, grouped by identical sets.

    Attributes
    ----------
    matrix
        ``(n_groups, n_candidates)`` sparse 0/1: group ``g`` is covered by candidate ``j``.
    weight
        ``(n_groups,)`` total weight of each group.
    uncoverable
        Sorted indices of positive-weight demand points no candidate covers.
    """

    matrix: sp.csr_array
    weight: np.ndarray
    uncoverable: np.ndarray


def coverage(problem: SitingProblem, radius: float) -> Coverage:
    """Group the positive-weight, coverable demand points by their covering set."""
    within = problem.cost <= radius
    pos = problem.weight > 0
    any_cover = within.any(axis=1)
    uncoverable = np.flatnonzero(pos & ~any_cover)
    keep = np.flatnonzero(pos & any_cover)
    if keep.size == 0:
        empty = sp.csr_array((0, problem.n_candidates), dtype=np.float64)
        return Coverage(empty, np.empty(0), uncoverable)
    packed = np.packbits(within[keep], axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=problem.weight[keep], minlength=first.size)
    matrix = sp.csr_array(within[keep[first]].astype(np.float64))
    return Coverage(matrix, weight, uncoverable)


def count_and_budget_rows(
    sel: Selection, n_cand: int, *, n_col: int, exact_p: bool
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """The rows ``sum y (= or <=) p`` and ``sum cost y <= budget`` over columns ``0..n-1``."""
    coefs: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    if sel.p is not None:
        coefs.append(np.ones(n_cand))
        lo.append(float(sel.p) if exact_p else -np.inf)
        hi.append(float(sel.p))
    if sel.budget is not None:
        coefs.append(sel.charged)
        lo.append(-np.inf)
        hi.append(sel.budget)
    block = np.zeros((len(coefs), n_col))
    for r, coef in enumerate(coefs):
        block[r, :n_cand] = coef
    return sp.csr_array(block), np.array(lo), np.array(hi)


def greedy_coverage(
    matrix: sp.csr_array, weight: np.ndarray, sel: Selection, *, fill_to_p: bool
) -> np.ndarray:
    """Greedy maximal covering: add the site covering most uncovered weight.

    Under a budget the score is uncovered weight per yuan (free sites first).  Stops when
    ``p`` sites are open, nothing affordable remains, or (unless ``fill_to_p``) no site
    adds coverage.

    Parameters
    ----------
    matrix
        ``(n_groups, n_candidates)`` 0/1 coverage.
    weight
        ``(n_groups,)`` weights.
    sel
        Count, budget and forced sites.
    fill_to_p
        Keep adding (zero-gain) sites until exactly ``p`` are open.
    """
    n = matrix.shape[1]
    is_open = np.zeros(n, dtype=bool)
    is_open[sel.forced] = True
    csc = sp.csc_array(matrix, copy=True)
    csc.eliminate_zeros()
    by_site = csc.T  # CSR view: row j lists the groups site j covers
    covered = np.zeros(matrix.shape[0], dtype=bool)
    for j in sel.forced:
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
    p_max = sel.p if sel.p is not None else n
    spent = 0.0
    while is_open.sum() < p_max:
        gain = by_site @ np.where(covered, 0.0, weight)
        ok = ~is_open
        if sel.budget is not None:
            ok &= sel.charged <= sel.budget - spent + EPS * max(1.0, sel.budget)
        if not ok.any():
            break
        if sel.budget is not None:
            free = ok & (sel.charged <= 0)
            if free.any() and gain[free].max() > 0:
                score = np.where(free, gain, -np.inf)
            else:
                score = np.where(ok, gain / np.maximum(sel.charged, 1e-300), -np.inf)
        else:
            score = np.where(ok, gain, -np.inf)
        j = int(np.argmax(score))
        if gain[j] <= 0 and not fill_to_p:
            break
        is_open[j] = True
        spent += float(sel.charged[j])
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
    return np.flatnonzero(is_open)
