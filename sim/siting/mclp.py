"""Maximal covering location (Church & ReVelle 1974): cover the most demand within a radius.

``mclp``
    Exact MILP in HiGHS::

        max  sum_g W_g u_g
        s.t. u_g <= sum_{j covers g} y_j,   sum_j y_j = p (<= p with a budget),
             sum_j cost_j y_j <= budget,    y binary, 0 <= u <= 1

    where demand points with the same covering set are merged into one group ``g`` of
    weight ``W_g`` (fewer rows, same optimum).  The greedy solution is the first incumbent.

``mclp-greedy`` (alias ``coverage-greedy``)
    Add the site covering the most uncovered weight (per yuan under a budget) until
    ``p`` sites are open or the budget is spent.  At least ``1 - 1/e`` of the optimum
    for a plain ``p`` (Nemhauser, Wolsey & Fisher 1978).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from sim.siting.problem import (
    Params,
    SitingProblem,
    SitingResult,
    count_and_budget_rows,
    coverage,
    covered_weight,
    greedy_coverage,
    read_radius,
    read_selection,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import register

__all__ = ["mclp_exact", "mclp_greedy"]


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


@register("mclp")
def mclp_exact(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Maximal covering, solved exactly with HiGHS.

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
        ``objective`` = weight of the demand within ``radius`` of an open site.
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
    n = problem.n_candidates
    start = greedy_coverage(cov.matrix, cov.weight, sel, fill_to_p=exact_p)
    g = cov.weight.size
    if g == 0:
        return _result(
            problem,
            start,
            radius,
            optimal=True,
            gap=0.0,
            model="mclp",
            params=effective,
            uncoverable=cov.uncoverable,
        )
    # Rows: u_g - sum_j a_gj y_j <= 0; then count / budget.
    link = sp.hstack([-cov.matrix, sp.identity(g, format="csr")], format="csr")
    extra, lo_x, hi_x = count_and_budget_rows(sel, n, n_col=n + g, exact_p=exact_p)
    a = sp.vstack([link, extra], format="csr")
    lo = np.concatenate((np.full(g, -np.inf), lo_x))
    hi = np.concatenate((np.zeros(g), hi_x))
    c = np.concatenate((np.zeros(n), cov.weight))
    col_lo = np.zeros(n + g)
    col_lo[sel.forced] = 1.0
    integer = np.zeros(n + g, dtype=bool)
    integer[:n] = True
    x0 = np.zeros(n + g)
    x0[start] = 1.0
    x0[n:] = np.minimum(1.0, cov.matrix @ x0[:n])
    sol = solve_milp(
        c,
        a,
        lo,
        hi,
        col_lower=col_lo,
        col_upper=np.ones(n + g),
        integer=integer,
        maximize=True,
        start=x0,
        time_limit=time_limit,
        mip_gap=float(mip_gap or 0.0),
    )
    if sol.x is None:
        return _result(
            problem,
            start,
            radius,
            optimal=False,
            gap=math.nan,
            model="mclp",
            params=effective,
            uncoverable=cov.uncoverable,
        )
    sites = np.flatnonzero(sol.x[:n] > 0.5)
    if covered_weight(problem, sites, radius) < covered_weight(problem, start, radius):
        sites = start
    return _result(
        problem,
        sites,
        radius,
        optimal=sol.optimal,
        gap=sol.gap,
        model="mclp",
        params=effective,
        uncoverable=cov.uncoverable,
    )


@register("mclp-greedy", "coverage-greedy")
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
