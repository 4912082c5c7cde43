"""Maximal covering location (Church & ReVelle 1974): cover the most demand within a radius.

``mclp``
    Exact, in four steps (the first three cheap; every instance of the "existing" family
    of ``benchmarks/bench_vs_spopt.py`` stops at step 3, every one of its "fractional"
    family needs step 4):

    1. *Reduce* (:func:`reduce_mclp`, same optimum): demand points with the same covering
       set are one group of summed weight; groups covered by kept existing sites are
       counted once and dropped with those sites; sites that cannot be afforded alone or
       cover nothing are dropped; a site whose groups are a subset of another site's
       that costs no more (costs matter only under a budget) is dropped (*dominated*);
       groups that became identical are merged again.
    2. *Incumbent*: greedy (:func:`~sim.siting.problem.greedy_coverage`) on the reduced
       model; stop if it covers every coverable group.
    3. *LP bound*: the LP relaxation (HiGHS simplex) of::

           max  sum_g W_g u_g + sum_j V_j y_j
           s.t. u_g <= sum_{j covers g} y_j,   sum_j y_j <= p,
                sum_j cost_j y_j <= budget,    0 <= y, u <= 1

       where a group covered by one site only is folded into that site's weight ``V_j``
       (no ``u`` and no row).  The sites at 1 in the LP optimum, completed greedily, are a
       second incumbent; a best-improvement swap search improves the better one.  The
       incumbent is proven optimal when it reaches the LP bound (rounded down when all
       weights are integers) within ``mip_gap``.
    4. Otherwise an LP-based branch-and-bound over the sites (:func:`_tree`): depth
       first, the open branch first; each node's LP is the same relaxation with some
       sites fixed, re-solved by HiGHS's dual simplex from its parent's basis and
       stopped as soon as its bound cannot beat the incumbent (a node is pruned on a
       bound recomputed from the duals by weak duality, so HiGHS's tolerances cannot
       prune a better plan); the node's sites taken in order of LP value are a new
       incumbent, sites whose reduced cost proves them closed (or open) are fixed for
       the subtree, and the branch is on the fractional site of best pseudocost score.
       The HiGHS MILP of the same model did this job before, 5.6x to 35x slower on the
       benchmark's 1000 x 300 instances: most of its time went into separating root
       cuts that moved the bound little, where the tree without cuts needs 3 to 300
       nodes.  It remains the fallback if HiGHS fails on a node LP twice.

    With ``p`` and no budget exactly ``p`` sites are returned: sites that add nothing are
    added after the optimum is found (most covered weight first).  ``params["closed_by"]``
    names the step that proved the plan (``"greedy covers every group"``, ``"LP bound"``,
    ``"branch-and-bound"``, ``"HiGHS MILP"``); a plan stopped by the time limit has
    ``optimal=False``, its gap, and ``params["unproven"]`` saying so instead.

``mclp-greedy`` (alias ``coverage-greedy``)
    Add the site covering the most uncovered weight (per yuan under a budget) until
    ``p`` sites are open or the budget is spent.  At least ``1 - 1/e`` of the optimum
    for a plain ``p`` (Nemhauser, Wolsey & Fisher 1978).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.errors import SolverError
from sim.siting.problem import (
    EPS,
    Coverage,
    MilpModel,
    MilpSolution,
    Params,
    Selection,
    SitingProblem,
    SitingResult,
    coverage,
    covered_weight,
    greedy_coverage,
    highs_lp,
    new_highs,
    read_radius,
    read_selection,
    rerun_fresh,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["ReducedMclp", "mclp_exact", "mclp_greedy", "reduce_mclp"]

#: Above this many (group, site, site) triples the dominance test is skipped: it costs
#: time proportional to it and memory up to ``n_candidates ** 2``.
DOMINANCE_WORK_LIMIT = 5_000_000

#: HiGHS options for the LP bound.  Primal simplex from the all-zero basis (feasible
#: here) without HiGHS presolve (the reductions above are the presolve) was 2-7x faster
#: than the defaults on 50-200-site instances, and no slower on larger ones.
LP_OPTIONS: dict[str, object] = {"presolve": "off", "simplex_strategy": 4}

#: Best-improvement swap rounds at most (each strictly improves the covered weight).
SWAP_ROUNDS = 200


def _result(
    problem: SitingProblem,
    sites: np.ndarray,
    radius: float,
    *,
    optimal: bool,
    gap: float,
    model: str,
    params: dict[str, object],
    uncoverable: np.ndarray,
) -> SitingResult:
    chosen = sorted_sites(sites)
    params["uncoverable_demand"] = uncoverable.tolist()
    return SitingResult(
        sites=chosen,
        objective=covered_weight(problem, chosen, radius),
        optimal=optimal,
        gap=gap,
        time_s=0.0,
        model=model,
        params=params,
    )


# --------------------------------------------------------------------------------------
# Reduction.


@dataclass(frozen=True)
class ReducedMclp:
    """An MCLP instance after :func:`reduce_mclp`; same optimum as the original.

    The original optimum (covered weight) is ``base`` plus the optimum of: choose at most
    ``p`` columns (if ``p`` is not None) of total ``charged`` at most ``budget`` (if not
    None) covering the most row weight.

    Attributes
    ----------
    matrix
        ``(n_rows, n_cols)`` CSC 0/1: row ``r`` (a group of demand points) is within the
        radius of column ``c``.  Every row has at least one entry; no two rows are equal.
    weight
        ``(n_rows,)`` demand weight of each row (unit of ``SitingProblem.weight``).
    columns
        ``(n_cols,)`` int64 candidate index of each column, increasing.
    charged
        ``(n_cols,)`` money each column costs against the budget (CNY).
    base
        Weight already covered by the forced (kept existing) sites.
    p
        Further sites that may open (``p`` minus the forced ones), or None.
    budget
        Money left for new sites (CNY), or None.
    forced
        Candidate indices that are open anyway (not columns).
    """

    matrix: sp.csc_array
    weight: np.ndarray
    columns: np.ndarray
    charged: np.ndarray
    base: float
    p: int | None
    budget: float | None
    forced: np.ndarray

    def value(self, open_cols: np.ndarray) -> float:
        """Row weight covered by the columns ``open_cols`` (indices into the columns)."""
        hit = np.zeros(self.matrix.shape[0], dtype=bool)
        ind, ptr = self.matrix.indices, self.matrix.indptr
        for c in open_cols:
            hit[ind[ptr[c] : ptr[c + 1]]] = True
        return float(self.weight[hit].sum())


def _dominated(a: sp.csc_array, cost: np.ndarray | None) -> np.ndarray:
    """Columns of ``a`` that another column dominates.

    ``k`` dominates ``j`` when ``k`` covers every row ``j`` covers and costs no more
    (``cost`` None: costs are ignored), ties (same rows, same cost) going to the lower
    index.  This is a strict partial order, so every dominated column is dominated by an
    undominated one and dropping all dominated columns keeps an optimum.
    """
    n = a.shape[1]
    size = np.diff(a.indptr)
    inter = (a.T @ a).tocoo()  # inter[j, k] = rows covered by both j and k
    j = inter.row.astype(np.int64)
    k = inter.col.astype(np.int64)
    subset = (j != k) & (np.rint(inter.data).astype(np.int64) == size[j])
    j, k = j[subset], k[subset]
    same_rows = size[j] == size[k]
    if cost is None:
        dom = ~same_rows | (k < j)
    else:
        dom = (cost[k] <= cost[j]) & (~same_rows | (cost[k] < cost[j]) | (k < j))
    out = np.zeros(n, dtype=bool)
    out[j[dom]] = True
    return out


def reduce_mclp(cov: Coverage, sel: Selection, *, dominance: bool = True) -> ReducedMclp:
    """Shrink an MCLP instance without changing its optimum.

    Parameters
    ----------
    cov
        Coverage groups of the instance (:func:`~sim.siting.problem.coverage`).
    sel
        Count, budget and forced sites.
    dominance
        Drop dominated sites (see :func:`_dominated`); skipped anyway when the test would
        cost more than :data:`DOMINANCE_WORK_LIMIT` operations.

    Returns
    -------
    ReducedMclp
        The reduced instance.  A solution of it maps back to the candidate sites
        ``forced`` plus ``columns[chosen]``; any extra site can be added without lowering
        the covered weight, so with an exact ``p`` the result is filled up afterwards.

    Notes
    -----
    Every reduction keeps an optimal solution: groups covered by forced sites are covered
    whatever else opens; a site that cannot be afforded alone is never open; a site
    covering no remaining group adds nothing; replacing a dominated site ``j`` by its
    dominator ``k`` (or just closing ``j`` if ``k`` is already open) keeps the count, does
    not raise the cost and covers no less.  Hence the count row is ``<= p``.
    """
    g, n = cov.matrix.shape
    csr = sp.csr_array(cov.matrix)
    within = np.zeros((g, n), dtype=bool)  # coverage() had it dense too (n_demand x n)
    within[np.repeat(np.arange(g), np.diff(csr.indptr)), csr.indices] = csr.data != 0
    covered = within[:, sel.forced].any(axis=1)
    base = float(cov.weight[covered].sum())
    p_left = None if sel.p is None else sel.p - int(sel.forced.size)
    budget_left = None
    usable = np.ones(n, dtype=bool)
    usable[sel.forced] = False
    if sel.budget is not None:
        budget_left = sel.budget - float(sel.charged[sel.forced].sum())
        usable &= sel.charged <= budget_left + EPS * max(1.0, sel.budget)
    cols = np.flatnonzero(usable)
    a = within[~covered][:, cols]
    weight = cov.weight[~covered]
    # Groups no usable site covers are lost whatever opens; sites covering nothing add
    # nothing.
    reach = a.any(axis=1)
    a, weight = a[reach], weight[reach]
    nonempty = a.any(axis=0)
    a, cols = a[:, nonempty], cols[nonempty]
    if dominance and a.shape[1] > 1:
        per_row = a.sum(axis=1, dtype=np.float64)
        if float(per_row @ per_row) <= DOMINANCE_WORK_LIMIT:
            cost = sel.charged[cols] if sel.budget is not None else None
            keep = ~_dominated(sp.csc_array(a, dtype=np.float64), cost)
            a, cols = a[:, keep], cols[keep]
            if not a.any(axis=1).all():
                raise SolverError("mclp: internal error, a dominance reduction lost a group")
    if a.shape[0] and cols.size < n:
        # Groups whose covering sets became equal (some site was dropped) are merged.
        _, first, inverse = np.unique(
            np.packbits(a, axis=1), axis=0, return_index=True, return_inverse=True
        )
        weight = np.bincount(inverse.ravel(), weights=weight, minlength=first.size)
        a = a[first]
    return ReducedMclp(
        matrix=sp.csc_array(a, dtype=np.float64),
        weight=weight,
        columns=cols.astype(np.int64),
        charged=sel.charged[cols],
        base=base,
        p=p_left,
        budget=budget_left,
        forced=sel.forced,
    )


# --------------------------------------------------------------------------------------
# Incumbents.


def _affordable(red: ReducedMclp, spent: np.ndarray | float) -> np.ndarray | bool:
    if red.budget is None:
        return True
    return np.asarray(spent) <= red.budget + EPS * max(1.0, abs(red.budget))


def _greedy(red: ReducedMclp, fixed: np.ndarray) -> np.ndarray:
    """Greedy completion of the columns ``fixed`` (indices into the reduced columns)."""
    # greedy_coverage treats forced sites as free: take their cost off the budget.
    budget = None if red.budget is None else red.budget - float(red.charged[fixed].sum())
    sel = Selection(p=red.p, budget=budget, forced=fixed, charged=red.charged)
    return greedy_coverage(red.matrix, red.weight, sel, fill_to_p=False)


def _swap_search(red: ReducedMclp, start: np.ndarray) -> np.ndarray:
    """Best-improvement local search over swaps (close one, open one) and additions.

    Parameters
    ----------
    red
        The reduced instance.
    start
        A feasible set of columns.

    Returns
    -------
    numpy.ndarray
        A feasible set of columns covering at least as much weight as ``start``.
    """
    a = red.matrix
    by_col = a.T.tocsr()  # (n_cols, n_rows)
    n = a.shape[1]
    is_open = np.zeros(n, dtype=bool)
    is_open[start] = True
    count = a @ is_open.astype(np.float64)  # open columns covering each row
    tol = 1e-9 * max(1.0, float(red.weight.sum()))
    p_max = red.p if red.p is not None else n
    for _ in range(SWAP_ROUNDS):
        opened = np.flatnonzero(is_open)
        closed = ~is_open
        spent = float(red.charged[opened].sum())
        alone = np.where(count == 1, red.weight, 0.0)
        gain = by_col @ np.where(count == 0, red.weight, 0.0)  # opening j, nothing closed
        best, move = tol, (-1, -1)
        if opened.size < p_max:
            add = np.where(closed & _affordable(red, spent + red.charged), gain, -np.inf)
            j = int(np.argmax(add))
            if add[j] > best:
                best, move = float(add[j]), (-1, j)
        if opened.size:
            loss = by_col[opened] @ alone  # weight only site i covers
            # shared[i, j]: weight only i covers that j covers too (kept after the swap).
            shared = (by_col[opened].multiply(alone[None, :]) @ a).toarray()
            delta = gain[None, :] - loss[:, None] + shared
            ok = closed[None, :] & _affordable(
                red, spent - red.charged[opened][:, None] + red.charged[None, :]
            )
            delta = np.where(ok, delta, -np.inf)
            flat = int(np.argmax(delta))
            i, k = divmod(flat, n)
            if delta[i, k] > best:
                best, move = float(delta[i, k]), (int(opened[i]), k)
        if move[1] < 0:
            break
        out, into = move
        if out >= 0:
            is_open[out] = False
            count[a.indices[a.indptr[out] : a.indptr[out + 1]]] -= 1.0
        is_open[into] = True
        count[a.indices[a.indptr[into] : a.indptr[into + 1]]] += 1.0
    return np.flatnonzero(is_open)


# --------------------------------------------------------------------------------------
# The LP / MILP over the reduced instance.


@dataclass(frozen=True)
class _Model:
    c: np.ndarray
    a: sp.csc_array
    lo: np.ndarray
    hi: np.ndarray
    n_y: int
    multi: np.ndarray  # rows of red.matrix that have a u column (two or more sites)


def _model(red: ReducedMclp) -> _Model:
    """``max V'y + W'u : u_g - sum_j a_gj y_j <= 0, count, budget, 0 <= y, u <= 1``."""
    a = red.matrix
    m = a.shape[1]
    row = a.indices.astype(np.int64)
    col = np.repeat(np.arange(m), np.diff(a.indptr))
    degree = np.bincount(row, minlength=a.shape[0])
    multi = np.flatnonzero(degree >= 2)
    # Groups covered by one site only: u_g = y_j at every optimum, so W_g moves to y_j.
    one = degree[row] == 1
    v = np.bincount(col[one], weights=red.weight[row[one]], minlength=m)
    row_of = np.full(a.shape[0], -1, dtype=np.int64)
    row_of[multi] = np.arange(multi.size)
    r_link = row_of[row[~one]]
    c_link = col[~one]
    k = multi.size
    rows = [r_link, np.arange(k)]
    cols = [c_link, m + np.arange(k)]
    vals = [-np.ones(r_link.size), np.ones(k)]
    lo = [np.full(k, -np.inf)]
    hi = [np.zeros(k)]
    n_row = k
    if red.p is not None:
        rows.append(np.full(m, n_row))
        cols.append(np.arange(m))
        vals.append(np.ones(m))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(red.p)]))
        n_row += 1
    if red.budget is not None:
        paid = np.flatnonzero(red.charged > 0)
        rows.append(np.full(paid.size, n_row))
        cols.append(paid)
        vals.append(red.charged[paid])
        lo.append(np.array([-np.inf]))
        hi.append(np.array([red.budget]))
        n_row += 1
    matrix = sp.csc_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_row, m + k),
    )
    c = np.concatenate((v, red.weight[multi]))
    return _Model(c, matrix, np.concatenate(lo), np.concatenate(hi), m, multi)


def _start_vector(red: ReducedMclp, model: _Model, open_cols: np.ndarray) -> np.ndarray:
    y = np.zeros(model.n_y)
    y[open_cols] = 1.0
    u = np.minimum(1.0, (red.matrix @ y)[model.multi])
    return np.concatenate((y, u))


def _proven(value: float, bound: float, *, integral: bool, mip_gap: float, n_col: int) -> bool:
    """True if ``value`` is optimal given the LP/MIP upper ``bound`` (reduced objective).

    With integer weights every solution has an integer value, so the bound rounds down;
    ``slack`` absorbs the LP's floating-point error before rounding (HiGHS tolerances are
    1e-7 per column).  Otherwise ``value`` must reach the bound within ``mip_gap``
    (relative) as HiGHS would require.
    """
    if not math.isfinite(bound):
        return False
    if integral:
        slack = 1e-6 * max(1.0, abs(bound)) + 1e-7 * n_col
        if value >= math.floor(bound + slack) - 0.5:
            return True
    return bound - value <= mip_gap * max(1.0, abs(value)) + 1e-12 * max(1.0, abs(bound))


def _run(model: _Model, integer: np.ndarray, *, name: str, **kw: Any) -> MilpSolution:
    """The model (LP or MILP) in HiGHS, 0 <= every column <= 1."""
    n_col = model.c.size
    milp = MilpModel(
        model.c,
        model.a,
        model.lo,
        model.hi,
        col_lower=np.zeros(n_col),
        col_upper=np.ones(n_col),
        integer=integer,
        maximize=True,
    )
    return solve_milp(milp, name=name, **kw)


#: ``proven(value, bound)``: :func:`_proven` with the instance's settings bound.
_Proof = Callable[[float, float], bool]


def _lp_incumbent(
    red: ReducedMclp,
    model: _Model,
    best: np.ndarray,
    *,
    deadline: float,
    proven: _Proof,
) -> tuple[np.ndarray, float]:
    """Step 3: the LP bound, and the LP's whole sites completed greedily as a second
    incumbent (unless ``best`` already reaches the bound).  Returns the better incumbent
    and the bound (``inf`` without an optimal LP)."""
    n_col = model.c.size
    try:
        lp = _run(
            model,
            np.zeros(n_col, dtype=bool),
            name="mclp LP bound",
            time_limit=max(deadline - time.perf_counter(), 1e-3),
            options=LP_OPTIONS,
        )
    except SolverError:
        # HiGHS's primal simplex can end with status "Unknown" (seen on a 8 x 14 LP whose
        # dual simplex is fine): no bound here; the tree solves the LP again and retries a
        # failed run with the dual simplex.
        return best, math.inf
    if lp.x is None or not lp.optimal:
        return best, math.inf
    bound = lp.objective
    if proven(red.value(best), bound):
        return best, bound
    y = lp.x[: model.n_y]
    fixed = np.flatnonzero(y >= 1.0 - 1e-6)
    count_ok = red.p is None or fixed.size <= red.p
    if count_ok and bool(_affordable(red, float(red.charged[fixed].sum()))):
        rounded = _greedy(red, fixed)
        if red.value(rounded) > red.value(best):
            best = rounded
    return best, bound


def _gap(red: ReducedMclp, z: float, bound: float) -> float:
    """Relative gap of the reduced value ``z`` to ``bound`` (``nan`` without a bound)."""
    return max(0.0, bound - z) / max(1.0, abs(z + red.base)) if math.isfinite(bound) else math.nan


def _milp(
    red: ReducedMclp,
    model: _Model,
    best: np.ndarray,
    *,
    bound: float,
    deadline: float,
    mip_gap: float,
) -> tuple[np.ndarray, bool, float]:
    """Step 4: the HiGHS MILP warm-started with ``best``; its solution is taken only if
    it is feasible by our own count and budget checks and no worse."""
    z = red.value(best)
    integer = np.zeros(model.c.size, dtype=bool)
    integer[: model.n_y] = True
    remaining = deadline - time.perf_counter()
    gap = _gap(red, z, bound)
    if remaining <= 0:
        return best, False, gap
    sol = _run(
        model,
        integer,
        name="mclp MILP",
        start=_start_vector(red, model, best),
        time_limit=remaining,
        mip_gap=mip_gap,
    )
    if sol.x is None:
        return best, False, gap
    found = np.flatnonzero(sol.x[: model.n_y] > 0.5)
    if (red.p is not None and found.size > red.p) or not bool(
        _affordable(red, float(red.charged[found].sum()))
    ):
        # Within HiGHS's feasibility tolerance but over the budget by ours: not trusted.
        return best, False, gap
    z_m = red.value(found)
    if z_m >= z:
        best, z = found, z_m
    if sol.optimal:
        return best, True, 0.0
    if math.isfinite(sol.bound):
        bound = min(bound, sol.bound)
    return best, False, _gap(red, z, bound)


# --------------------------------------------------------------------------------------
# Step 4: LP-based branch-and-bound.

#: HiGHS options of the tree's LP.  Primal simplex from the all-zero basis for the root
#: (as for the LP bound), dual simplex warm-started from the parent for every node; no
#: presolve (the reductions above are the presolve).
TREE_OPTIONS: dict[str, object] = {"presolve": "off", "threads": 1, "random_seed": 0}


def _threshold(z: float, *, integral: bool, mip_gap: float, n_col: int) -> float:
    """Upper bounds (reduced objective) below this cannot beat the value ``z`` by more
    than the proof of :func:`_proven` allows: a node whose bound is below is pruned."""
    gap_t = z + mip_gap * max(1.0, abs(z))
    if not integral:
        return gap_t
    slack = 1e-6 * max(1.0, abs(z)) + 1e-7 * n_col
    return max(gap_t, math.floor(z + 0.5) + 1.0 - slack)


@dataclass
class _Node:
    """A node's LP: the upper ``bound`` (reduced objective) from the duals, the site
    columns ``y``, their reduced costs ``rc`` (of the minimised negated objective) and
    the basis to warm-start a child from."""

    bound: float
    y: np.ndarray
    rc: np.ndarray
    basis: Any = None


class _TreeLp:
    """The LP relaxation of :func:`_model`, minimising the negated objective (HiGHS's
    dual simplex stops early on an objective bound only when minimising), kept in one
    HiGHS instance whose site bounds change from node to node."""

    def __init__(self, model: _Model) -> None:
        import highspy

        self.model = model
        n_col = model.c.size
        self.k = model.n_y
        self.col_lo = np.zeros(n_col)
        self.col_hi = np.ones(n_col)
        lp = MilpModel(
            -model.c,
            model.a,
            model.lo,
            model.hi,
            col_lower=self.col_lo,
            col_upper=self.col_hi,
            integer=np.zeros(n_col, dtype=bool),
        )
        self.h = new_highs()
        for key, value in {**TREE_OPTIONS, "simplex_strategy": 4}.items():
            self.h.setOptionValue(key, value)
        self.h.passModel(highs_lp(lp))
        self.sites = np.arange(self.k, dtype=np.int32)
        self.failed: list[str] = []
        self.runs = 0
        self.kinds = highspy.HighsModelStatus

    def solve(
        self, lo: np.ndarray, hi: np.ndarray, *, basis: Any, threshold: float
    ) -> _Node | None:
        """The LP of the node ``lo <= y <= hi``, stopped once its bound is below
        ``threshold`` (then ``bound`` is below it too); ``None`` if HiGHS fails."""
        s = self.kinds
        self.h.changeColsBounds(self.k, self.sites, lo, hi)
        status = self._run(basis, -threshold)
        if status == s.kObjectiveBound:
            node = self._node(lo, hi)
            if node.bound < threshold:
                return node
            status = self._run(None, math.inf)  # the safe bound disagrees
        if status == s.kInfeasible:
            return _Node(-math.inf, np.zeros(self.k), np.zeros(self.k))
        if status != s.kOptimal:
            return None
        node = self._node(lo, hi)
        node.basis = self.h.getBasis()
        return node

    def _run(self, basis: Any, cutoff: float) -> Any:
        """Run the LP as it stands; a failed run is retried once on a fresh copy with the
        dual simplex (:func:`~sim.siting.problem.rerun_fresh`)."""
        first = self.h

        def prepare(h: Any) -> None:
            if basis is not None:
                h.setBasis(basis)
            h.setOptionValue("objective_bound", cutoff)
            # The root starts with the primal simplex from the all-zero basis.
            h.setOptionValue("simplex_strategy", 4 if self.runs == 0 and h is first else 1)

        self.h, failed = rerun_fresh(self.h, options=TREE_OPTIONS, prepare=prepare)
        self.runs += 1
        if failed is not None:
            self.failed.append(failed)
        return self.h.getModelStatus()

    def _node(self, lo: np.ndarray, hi: np.ndarray) -> _Node:
        """Bound from HiGHS's current row duals by weak duality, whatever its tolerances.

        Every row reads ``a x <= b``: with ``mu = max(0, -row_dual) >= 0`` and reduced
        costs ``d = -c + A' mu``, ``-c'x >= -mu'b + sum_x min(d_x lo_x, d_x hi_x)`` on the
        node's box, so ``c'x`` is at most minus the right-hand side.
        """
        m = self.model
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        mu = np.maximum(-np.asarray(sol.row_dual, dtype=np.float64), 0.0)
        if x.size != m.c.size or mu.size != m.hi.size:  # no solution: mu = 0 is valid
            x, mu = np.zeros(m.c.size), np.zeros(m.hi.size)
        d = -m.c + m.a.T @ mu
        self.col_lo[: self.k], self.col_hi[: self.k] = lo, hi
        low = -float(mu @ m.hi) + float(np.minimum(d * self.col_lo, d * self.col_hi).sum())
        return _Node(-low, x[: self.k], d[: self.k])


@dataclass
class _Incumbent:
    """The best columns found and their covered weight (reduced instance)."""

    red: ReducedMclp
    cols: np.ndarray
    value: float

    def offer(self, cols: np.ndarray) -> None:
        """Keep ``cols`` if they fit the count and budget (by our checks) and cover more."""
        cols = np.sort(cols.astype(np.int64))
        red = self.red
        if (red.p is not None and cols.size > red.p) or not bool(
            _affordable(red, float(red.charged[cols].sum()))
        ):
            return
        value = red.value(cols)
        if value > self.value:
            self.cols, self.value = cols, value


def _rounded(red: ReducedMclp, node: _Node, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The node's sites in order of LP value (fixed-open first, then the largest ``y``,
    then the lowest index), each added while the count and the budget allow."""
    order = np.lexsort((np.arange(lo.size), -node.y, -lo))
    order = order[hi[order] > 0.5]
    if red.budget is None:
        return order[: red.p]
    chosen: list[int] = []
    spent = 0.0
    for j in order.tolist():
        if red.p is not None and len(chosen) >= red.p:
            break
        if bool(_affordable(red, spent + float(red.charged[j]))):
            chosen.append(j)
            spent += float(red.charged[j])
    return np.array(chosen, dtype=np.int64)


def _fix_by_reduced_cost(
    node: _Node, lo: np.ndarray, hi: np.ndarray, *, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sites whose reduced cost takes the bound below ``threshold`` if they switch:
    closed (``rc > 0``: opening one lowers the bound by ``rc``) or kept open (``rc < 0``)
    for the node's whole subtree."""
    free = (lo < 0.5) & (hi > 0.5)
    close = free & (node.rc > 0) & (node.bound - node.rc < threshold)
    keep = free & (node.rc < 0) & (node.bound + node.rc < threshold)
    if not (close.any() or keep.any()):
        return lo, hi
    lo, hi = lo.copy(), hi.copy()
    hi[close] = 0.0
    lo[keep] = 1.0
    return lo, hi


class _Pseudocosts:
    """Bound lost per unit of change when a site is opened or closed (branching).

    After a child's LP, the parent's bound minus the child's, divided by how far the
    branch moved the site (``1 - y`` when opened, ``y`` when closed), is averaged per
    site and direction.  A site's score is the product of its two expected losses
    (sites not yet branched on take the mean over those that were, or 1), so the branch
    goes where both children lose most bound.
    """

    def __init__(self, k: int) -> None:
        self.total = np.zeros((2, k))  # [closed, opened]
        self.count = np.zeros((2, k))

    def record(self, site: int, opened: bool, moved: float, loss: float) -> None:
        """One child's bound ``loss`` after moving ``site`` by ``moved`` (> 0)."""
        self.total[int(opened), site] += max(loss, 0.0) / moved
        self.count[int(opened), site] += 1.0

    def choose(self, node: _Node, lo: np.ndarray, hi: np.ndarray) -> int:
        """The free fractional site of best score (lowest index on ties); -1 if none."""
        free = (lo < 0.5) & (hi > 0.5)
        frac = np.where(free, np.minimum(node.y, 1.0 - node.y), 0.0)
        cand = frac > 1e-6
        if not cand.any():
            return -1
        seen = self.count > 0
        mean = np.where(seen, self.total / np.maximum(self.count, 1.0), 0.0)
        avg = [float(mean[d][seen[d]].mean()) if seen[d].any() else 1.0 for d in (0, 1)]
        down = np.where(seen[0], mean[0], avg[0]) * node.y
        up = np.where(seen[1], mean[1], avg[1]) * (1.0 - node.y)
        score = np.where(cand, np.maximum(down, 1e-6) * np.maximum(up, 1e-6), -1.0)
        return int(np.argmax(score))


#: One open node: site lower and upper bounds, the parent's bound, a basis (or None:
#: HiGHS holds the parent's) and the branch that made it (site, opened, distance moved).
_Open = tuple[np.ndarray, np.ndarray, float, Any, tuple[int, bool, float] | None]


def _tree(
    red: ReducedMclp,
    model: _Model,
    inc: _Incumbent,
    *,
    deadline: float,
    threshold: Callable[[float], float],
    info: dict[str, object],
) -> float | None:
    """Depth-first LP branch-and-bound over the sites (the open branch first, from the
    parent's basis; the closed one from the saved basis).  Improves ``inc`` and returns
    the least upper bound of what is left unexplored (``-inf``: the tree is exhausted,
    ``inc`` is optimal), or ``None`` if HiGHS failed on a node LP."""
    lp = _TreeLp(model)
    k = model.n_y
    costs = _Pseudocosts(k)
    stack: list[_Open] = [(np.zeros(k), np.ones(k), math.inf, None, None)]
    nodes = 0
    left = -math.inf
    while stack:
        lo, hi, parent, basis, came = stack.pop()
        if parent < threshold(inc.value):
            continue
        if time.perf_counter() > deadline:
            left = max([parent] + [entry[2] for entry in stack])
            break
        nodes += 1
        node = lp.solve(lo, hi, basis=basis, threshold=threshold(inc.value))
        if node is None:
            return None
        if came is not None:
            costs.record(came[0], came[1], came[2], parent - max(node.bound, threshold(inc.value)))
        if node.bound < threshold(inc.value):
            continue
        inc.offer(_rounded(red, node, lo, hi))
        lo, hi = _fix_by_reduced_cost(node, lo, hi, threshold=threshold(inc.value))
        j = costs.choose(node, lo, hi)
        if j < 0:  # the LP optimum is whole: nothing better below this node
            inc.offer(np.flatnonzero(node.y > 0.5))
            continue
        up_lo, down_hi = lo.copy(), hi.copy()
        up_lo[j], down_hi[j] = 1.0, 0.0
        yj = float(node.y[j])
        stack.append((lo, down_hi, node.bound, node.basis, (j, False, yj)))
        stack.append((up_lo, hi, node.bound, None, (j, True, 1.0 - yj)))  # HiGHS holds its basis
    info.update({"tree_nodes": nodes, "tree_lp_runs": lp.runs})
    if lp.failed:
        info["tree_lp_retries"] = list(lp.failed)
    return left


@dataclass
class _Outcome:
    """Columns of an optimal (or best found) solution, whether they are proven optimal,
    the relative gap and the solver's diagnostics (``closed_by`` when proven, else
    ``unproven`` saying why)."""

    cols: np.ndarray
    optimal: bool
    gap: float
    info: dict[str, object]


def _solve_reduced(red: ReducedMclp, *, time_limit: float, mip_gap: float) -> _Outcome:
    """Steps 2-4 on the reduced instance (see the module docstring)."""
    deadline = time.perf_counter() + time_limit
    total = float(red.weight.sum())
    if red.matrix.shape[0] == 0 or (red.p is not None and red.p <= 0):
        return _Outcome(np.empty(0, dtype=np.int64), True, 0.0, {"closed_by": "nothing to cover"})
    best = _greedy(red, np.empty(0, dtype=np.int64))
    if red.value(best) >= total - 1e-12 * max(1.0, total):
        return _Outcome(best, True, 0.0, {"closed_by": "greedy covers every group"})
    w = red.weight
    integral = bool(np.all(w == np.floor(w))) and total < 2.0**52
    model = _model(red)
    n_col = model.c.size

    def proven(value: float, bound: float) -> bool:
        return _proven(value, bound, integral=integral, mip_gap=mip_gap, n_col=n_col)

    best, bound = _lp_incumbent(red, model, best, deadline=deadline, proven=proven)
    z = red.value(best)
    if not proven(z, bound):
        improved = _swap_search(red, best)
        z_s = red.value(improved)
        if z_s > z:
            best, z = improved, z_s
    if proven(z, bound):
        return _Outcome(best, True, 0.0, {"closed_by": "LP bound"})
    inc = _Incumbent(red, best, z)
    info: dict[str, object] = {}
    left = _tree(
        red,
        model,
        inc,
        deadline=deadline,
        threshold=lambda v: _threshold(v, integral=integral, mip_gap=mip_gap, n_col=n_col),
        info=info,
    )
    if left is None:  # HiGHS failed on a node LP twice: its MILP takes over
        cols, optimal, gap = _milp(
            red, model, inc.cols, bound=bound, deadline=deadline, mip_gap=mip_gap
        )
        info["closed_by" if optimal else "unproven"] = (
            "HiGHS MILP" if optimal else "time limit: the best plan found, not proven"
        )
        return _Outcome(cols, optimal, gap, info)
    if left == -math.inf:
        info["closed_by"] = "branch-and-bound"
        return _Outcome(inc.cols, True, 0.0, info)
    info["unproven"] = "time limit: the best plan found by the branch-and-bound, not proven"
    return _Outcome(inc.cols, False, _gap(red, inc.value, min(bound, left)), info)


def _fill_to_p(cov: Coverage, sites: np.ndarray, p: int) -> np.ndarray:
    """Add sites (most covered weight first, then lowest index) until ``p`` are open."""
    if sites.size >= p:
        return sites
    n = cov.matrix.shape[1]
    reach = cov.matrix.T @ cov.weight if cov.weight.size else np.zeros(n)
    order = np.argsort(-reach, kind="stable")
    spare = order[~np.isin(order, sites)]
    return np.concatenate((sites, spare[: p - sites.size]))


@register(
    "mclp",
    needs=Needs(count="required", budget=True, radius=True, keep_existing=True),
    options={"time_limit": 600.0, "mip_gap": 1e-6},
)
def mclp_exact(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Maximal covering, solved exactly (reductions, LP bound, then branch-and-bound if needed).

    Parameters
    ----------
    problem
        The instance.
    rng
        Unused (deterministic).
    **params
        ``radius`` (unit of cost, > 0); ``p`` and/or ``budget`` (CNY); ``keep_existing``
        (default False); ``time_limit`` (s, default 600); ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = weight of the demand within ``radius`` of an open site.  With
        ``p`` and no budget exactly ``p`` sites.  ``optimal`` only when proven (within
        ``mip_gap``); ``gap`` from the best bound otherwise.
    """
    pr = Params("mclp", params)
    sel = read_selection(problem, pr)
    radius = read_radius(problem, pr)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    cov = coverage(problem, radius)
    exact_p = sel.p is not None and sel.budget is None
    red = reduce_mclp(cov, sel)
    out = _solve_reduced(red, time_limit=float(time_limit or 600.0), mip_gap=float(mip_gap or 0.0))
    effective.update(out.info)
    sites = np.concatenate((sel.forced, red.columns[out.cols])).astype(np.int64)
    if exact_p and sel.p is not None:
        sites = _fill_to_p(cov, sites, sel.p)
    return _result(
        problem,
        sites,
        radius,
        optimal=out.optimal,
        gap=out.gap,
        model="mclp",
        params=effective,
        uncoverable=cov.uncoverable,
    )


@register(
    "mclp-greedy",
    "coverage-greedy",
    needs=Needs(count="required", budget=True, radius=True, keep_existing=True),
)
def mclp_greedy(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Greedy maximal covering.

    Parameters
    ----------
    problem
        The instance.
    rng
        Unused (deterministic; ties go to the lowest index).
    **params
        ``radius`` (unit of cost, > 0); ``p`` and/or ``budget`` (CNY); ``keep_existing``.
    """
    pr = Params("mclp-greedy", params)
    sel = read_selection(problem, pr)
    radius = read_radius(problem, pr)
    effective = pr.finish()
    cov = coverage(problem, radius)
    exact_p = sel.p is not None and sel.budget is None
    if cov.weight.size == 0:
        sites = greedy_coverage(
            sp.csr_array((1, problem.n_candidates)), np.zeros(1), sel, fill_to_p=exact_p
        )
    else:
        sites = greedy_coverage(cov.matrix, cov.weight, sel, fill_to_p=exact_p)
    return _result(
        problem,
        sites,
        radius,
        optimal=False,
        gap=math.nan,
        model="mclp-greedy",
        params=effective,
        uncoverable=cov.uncoverable,
    )
