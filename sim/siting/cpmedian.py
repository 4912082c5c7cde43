"""The capacitated p-median: shortest access when each site serves at most its capacity.

``capacitated-p-median``
    Exact MILP in HiGHS with assignment shares ``x_ij`` (share of point ``i``'s demand
    served by site ``j``, only for pairs with a finite cost) and unserved shares ``s_i``::

        min  sum_ij w_i c_ij x_ij + M sum_i w_i s_i
        s.t. sum_j x_ij + s_i = 1                 every reachable positive-weight point
             sum_i w_i x_ij <= capacity_j y_j     each open site serves at most its capacity
             x_ij <= y_j                          (valid inequality: tightens the LP)
             sum_j y_j = p (<= p with a budget), sum_j cost_j y_j <= budget
             y binary, x >= 0 (binary with single_assignment), s >= 0

    ``M`` is the option ``unserved_cost`` (unit of cost per unit of weight, e.g. minutes
    per session); by default ``1 + m * max finite cost`` (``m`` points), which exceeds
    what serving more demand from the same sites can add to the access cost
    (:func:`_penalty`), so each plan serves as much as its capacities allow; between
    plans it is a price of ``M`` per unit of unserved weight.  With
    ``allow_unserved=False`` ``s`` is fixed at 0 and a plan that cannot serve everyone is
    refused.  With ``fill_existing=True`` (and ``keep_existing``) each kept site's
    capacity row is an equality: it serves exactly its capacity (PySAL spopt's
    ``fulfill_predefined_fac``).  Demand is split between sites by default (sessions of
    one demand point may use several sites); ``single_assignment=True`` serves every
    point from one site.
    Capacity is in the unit of ``weight`` (e.g. sessions per day a site's ports can
    deliver; ``inf`` = unlimited, the plain p-median).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from sim.errors import SolverInputError
from sim.siting.problem import (
    MilpModel,
    Params,
    Selection,
    SitingProblem,
    SitingResult,
    count_and_budget_rows,
    read_selection,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["capacitated_p_median"]


def _pairs(problem: SitingProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point and site of every finite-cost pair of a positive-weight point, and the
    positive-weight points no candidate reaches."""
    pos = problem.weight > 0
    pi, pj = np.nonzero(np.isfinite(problem.cost) & pos[:, None])
    reach = np.isfinite(problem.cost).any(axis=1)
    return pi, pj, np.flatnonzero(pos & ~reach)


def _penalty(w: np.ndarray, max_cost: float, *, single: bool) -> float:
    """Cost ``M`` of a unit of unserved weight, so that serving more comes first.

    Split: serving ``d`` more weight moves flow along one augmenting path through at most
    ``m`` points, at most ``m * max_cost * d`` of access cost.  Single assignment: the
    served weight changes by at least ``min(w)``, the access cost by at most
    ``sum(w) * max_cost``.
    """
    if w.size == 0:
        return 1.0
    if single:
        return 1.0 + float(w.sum()) * max_cost / float(w.min())
    return 1.0 + w.size * max_cost


def _model(
    problem: SitingProblem, sel: Selection, pi: np.ndarray, pj: np.ndarray, *, single: bool,
    allow_unserved: bool, fill_kept: bool, unserved_cost: float | None,
) -> tuple[MilpModel, np.ndarray, float]:  # fmt: skip
    """Columns ``y`` (n), ``x`` (one per pair), ``s`` (one per served point)."""
    assert problem.capacity is not None
    n, w, cap = problem.n_candidates, problem.weight, problem.capacity
    pts, row_of = np.unique(pi, return_inverse=True)
    k, m = pi.size, pts.size
    xs, ss = n + np.arange(k), n + k + np.arange(m)
    n_col = n + k + m
    cost = problem.cost[pi, pj]
    big = unserved_cost
    if big is None:
        big = _penalty(w[pts], float(cost.max()) if k else 0.0, single=single)
    blocks = [
        sp.csr_array(
            (np.ones(k + m), (np.concatenate((row_of, np.arange(m))), np.concatenate((xs, ss)))),
            shape=(m, n_col),
        )
    ]
    lo, hi = [np.ones(m)], [np.ones(m)]
    finite = np.flatnonzero(np.isfinite(cap))
    cap_row = np.full(n, -1)
    cap_row[finite] = np.arange(finite.size)
    has = cap_row[pj] >= 0
    blocks.append(
        sp.csr_array(
            (
                np.concatenate((w[pi[has]], -cap[finite])),
                (np.concatenate((cap_row[pj[has]], np.arange(finite.size))),
                 np.concatenate((xs[has], finite))),
            ),
            shape=(finite.size, n_col),
        )
    )  # fmt: skip
    cap_lo = np.full(finite.size, -np.inf)
    if fill_kept:  # a kept site serves exactly its capacity
        cap_lo[cap_row[sel.forced][cap_row[sel.forced] >= 0]] = 0.0
    lo.append(cap_lo)
    hi.append(np.zeros(finite.size))
    ar = np.arange(k)
    blocks.append(
        sp.csr_array(
            (np.concatenate((np.ones(k), -np.ones(k))),
             (np.concatenate((ar, ar)), np.concatenate((xs, pj)))),
            shape=(k, n_col),
        )
    )  # fmt: skip
    lo.append(np.full(k, -np.inf))
    hi.append(np.zeros(k))
    extra, lo_x, hi_x = count_and_budget_rows(
        sel, n, n_col=n_col, exact_p=sel.p is not None and sel.budget is None
    )
    blocks.append(extra)
    lo.append(lo_x)
    hi.append(hi_x)
    col_lo = np.zeros(n_col)
    col_lo[sel.forced] = 1.0
    col_hi = np.ones(n_col)
    if not allow_unserved:
        col_hi[ss] = 0.0
    integer = np.zeros(n_col, dtype=bool)
    integer[:n] = True
    integer[xs] = single
    c = np.concatenate((np.zeros(n), w[pi] * cost, big * w[pts]))
    model = MilpModel(
        c, sp.vstack(blocks, format="csr"), np.concatenate(lo), np.concatenate(hi),
        col_lower=col_lo, col_upper=col_hi, integer=integer,
    )  # fmt: skip
    return model, pts, big


@register(
    "capacitated-p-median",
    needs=Needs(count="required", budget=True, capacity=True, keep_existing=True),
    options={
        "single_assignment": False,
        "allow_unserved": True,
        "fill_existing": False,
        "unserved_cost": None,
        "time_limit": 600.0,
        "mip_gap": 1e-6,
    },
)
def capacitated_p_median(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Minimise weighted access cost with site capacities (exact, HiGHS).

    Parameters
    ----------
    problem
        The instance; ``capacity`` is required.
    rng
        Unused (deterministic).
    **params
        ``p`` and/or ``budget`` (CNY); ``keep_existing``; ``single_assignment`` (default
        False: split); ``allow_unserved`` (default True); ``fill_existing`` (default
        False; True: each kept existing site serves exactly its capacity, as spopt's
        ``fulfill_predefined_fac``); ``unserved_cost`` (``M``, default above);
        ``time_limit`` (s, default
        600); ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = weighted access cost of the served demand (unit of weight x
        cost).  Diagnostics: ``served_by_site`` (weight served per site of ``sites``),
        ``unserved_weight`` (reachable demand beyond the capacities),
        ``unreachable_demand`` (points no candidate reaches), ``mean_cost`` (objective
        over the served weight), ``unserved_cost`` (``M``), ``penalised_objective``
        (objective + ``M`` x unserved weight, what the MILP minimises).

    Raises
    ------
    SolverInputError
        A malformed parameter, or ``allow_unserved=False`` and no plan within
        ``p``/``budget`` has the capacity for all reachable demand.
    """
    pr = Params("capacitated-p-median", params)
    sel = read_selection(problem, pr)
    single = pr.flag("single_assignment", False)
    allow_unserved = pr.flag("allow_unserved", True)
    fill_kept = pr.flag("fill_existing", False)
    unserved_cost = pr.number(
        "unserved_cost", low=0.0, expected="a cost per unit of unserved weight >= 0"
    )
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    if problem.capacity is None:
        raise SolverInputError(
            "capacitated-p-median: SitingProblem.capacity is None; expected an array of "
            f"{problem.n_candidates} site capacities (unit of weight)"
        )
    n, w = problem.n_candidates, problem.weight
    pi, pj, unreachable = _pairs(problem)
    effective["unreachable_demand"] = unreachable.tolist()
    model, pts, big = _model(
        problem, sel, pi, pj, single=single, allow_unserved=allow_unserved, fill_kept=fill_kept,
        unserved_cost=unserved_cost,
    )  # fmt: skip
    sol = solve_milp(
        model, name="capacitated-p-median", time_limit=time_limit, mip_gap=float(mip_gap or 0.0)
    )
    if sol.x is None and sol.status == "Infeasible":
        raise SolverInputError(
            f"capacitated-p-median: no plan within p={sel.p}, budget={sel.budget} has the "
            f"capacity for all {float(w[pts].sum()):g} of reachable demand (allow_unserved="
            "False); raise p, the budget or the site capacities"
        )
    if sol.x is None:
        effective["unproven"] = f"{sol.status}: HiGHS found no plan; the kept sites only"
        effective.update(served_by_site=[], unserved_weight=math.nan, mean_cost=math.nan)
        return SitingResult(sorted_sites(sel.forced), math.nan, False, math.nan, 0.0,
                            "capacitated-p-median", effective)  # fmt: skip
    if not sol.optimal:
        effective["unproven"] = f"{sol.status}: HiGHS's best plan, not proven"
    x = sol.x
    k = pi.size
    sites = sorted_sites(np.flatnonzero(x[:n] > 0.5))
    share = x[n : n + k]
    served = np.bincount(pj, weights=w[pi] * share, minlength=n)
    value = float(np.dot(w[pi] * share, problem.cost[pi, pj]))
    total = float(served.sum())
    effective["served_by_site"] = [float(v) for v in served[sites]]
    unserved = float(np.dot(w[pts], x[n + k :]))
    effective["unserved_weight"] = unserved
    effective["unserved_cost"] = big
    effective["penalised_objective"] = value + big * unserved
    effective["mean_cost"] = value / total if total > 0 else math.nan
    return SitingResult(sites, value, sol.optimal, sol.gap, 0.0, "capacitated-p-median",
                        effective)  # fmt: skip
