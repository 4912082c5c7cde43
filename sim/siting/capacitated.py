"""Capacitated maximal covering: cover the most demand that open sites can actually serve.

``capacitated-coverage``
    Exact MILP in HiGHS with assignment fractions ``x_ij`` (share of point ``i`` served
    by site ``j``), defined only for pairs within ``radius``::

        max  sum_ij w_i x_ij
        s.t. sum_j x_ij <= 1                     each point served at most once
             sum_i w_i x_ij <= capacity_j y_j    each open site serves at most its capacity
             x_ij <= y_j                         (valid inequality: tightens the LP)
             sum_j y_j = p (<= p with a budget), sum_j cost_j y_j <= budget
             y binary, x >= 0

    Demand may be split between sites.  Capacity is in the unit of ``weight`` (e.g.
    sessions per day a site's ports can deliver); ``inf`` capacity means uncapacitated.
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
    read_radius,
    read_selection,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["capacitated_coverage"]


def _model(
    problem: SitingProblem, sel: Selection, radius: float
) -> tuple[MilpModel, np.ndarray, np.ndarray]:
    """The MILP (columns ``y`` per site, then ``x`` per (point, site) pair within
    ``radius``) and the pairs' point and site indices."""
    assert problem.capacity is not None
    cap = problem.capacity
    n = problem.n_candidates
    exact_p = sel.p is not None and sel.budget is None
    w = problem.weight
    pi, pj = np.nonzero((problem.cost <= radius) & (w[:, None] > 0))
    k = pi.size
    n_col = n + k
    xs = n + np.arange(k)
    blocks: list[sp.csr_array] = []
    lo_parts: list[np.ndarray] = []
    hi_parts: list[np.ndarray] = []
    # sum_j x_ij <= 1 per demand point with a pair.
    pts, row_of = np.unique(pi, return_inverse=True)
    blocks.append(sp.csr_array((np.ones(k), (row_of, xs)), shape=(pts.size, n_col)))
    lo_parts.append(np.full(pts.size, -np.inf))
    hi_parts.append(np.ones(pts.size))
    # sum_i w_i x_ij - cap_j y_j <= 0 for finite capacities.
    finite = np.flatnonzero(np.isfinite(cap))
    cap_row = np.full(n, -1)
    cap_row[finite] = np.arange(finite.size)
    has = cap_row[pj] >= 0
    rows = np.concatenate((cap_row[pj[has]], np.arange(finite.size)))
    cols = np.concatenate((xs[has], finite))
    vals = np.concatenate((w[pi[has]], -cap[finite]))
    blocks.append(sp.csr_array((vals, (rows, cols)), shape=(finite.size, n_col)))
    lo_parts.append(np.full(finite.size, -np.inf))
    hi_parts.append(np.zeros(finite.size))
    # x_ij - y_j <= 0.
    blocks.append(
        sp.csr_array(
            (
                np.concatenate((np.ones(k), -np.ones(k))),
                (np.concatenate((np.arange(k), np.arange(k))), np.concatenate((xs, pj))),
            ),
            shape=(k, n_col),
        )
    )
    lo_parts.append(np.full(k, -np.inf))
    hi_parts.append(np.zeros(k))
    extra, lo_x, hi_x = count_and_budget_rows(sel, n, n_col=n_col, exact_p=exact_p)
    blocks.append(extra)
    lo_parts.append(lo_x)
    hi_parts.append(hi_x)
    a = sp.vstack(blocks, format="csr")
    c = np.concatenate((np.zeros(n), w[pi]))
    col_lo = np.zeros(n_col)
    col_lo[sel.forced] = 1.0
    integer = np.zeros(n_col, dtype=bool)
    integer[:n] = True
    model = MilpModel(
        c,
        a,
        np.concatenate(lo_parts),
        np.concatenate(hi_parts),
        col_lower=col_lo,
        col_upper=np.ones(n_col),
        integer=integer,
        maximize=True,
    )
    return model, pi, pj


@register(
    "capacitated-coverage",
    needs=Needs(count="required", budget=True, radius=True, capacity=True, keep_existing=True),
    options={"time_limit": 600.0, "mip_gap": 1e-6},
)
def capacitated_coverage(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Maximise covered demand subject to site capacities (exact, HiGHS).

    Parameters
    ----------
    problem
        The instance; ``capacity`` is required.
    rng
        Unused (deterministic).
    **params
        ``radius`` (unit of cost, > 0); ``p`` and/or ``budget`` (CNY); ``keep_existing``;
        ``time_limit`` (s, default 600); ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = demand weight served within ``radius`` and capacity;
        ``params["served_by_site"]`` = weight served by each site in ``sites`` (same order).

    Raises
    ------
    SolverInputError
        If ``problem.capacity`` is None, or a parameter is malformed.
    """
    pr = Params("capacitated-coverage", params)
    sel = read_selection(problem, pr)
    radius = read_radius(problem, pr)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    if problem.capacity is None:
        raise SolverInputError(
            "capacitated-coverage: SitingProblem.capacity is None; expected an array of "
            f"{problem.n_candidates} site capacities (unit of weight)"
        )
    model, pi, pj = _model(problem, sel, radius)
    n = problem.n_candidates
    w = problem.weight
    sol = solve_milp(
        model, name="capacitated-coverage", time_limit=time_limit, mip_gap=float(mip_gap or 0.0)
    )
    if sol.x is None:
        kept = sel.forced
        effective["served_by_site"] = [0.0] * kept.size
        effective["unproven"] = f"{sol.status}: HiGHS found no plan; the kept sites only"
        return SitingResult(
            sorted_sites(kept),
            0.0,
            False,
            math.nan,
            0.0,
            "capacitated-coverage",
            effective,
        )
    if not sol.optimal:
        effective["unproven"] = f"{sol.status}: HiGHS's best plan, not proven"
    x = sol.x
    sites = sorted_sites(np.flatnonzero(x[:n] > 0.5))
    served = np.bincount(pj, weights=w[pi] * x[n:], minlength=n)
    effective["served_by_site"] = [float(v) for v in served[sites]]
    return SitingResult(
        sites=sites,
        objective=float(served[sites].sum()),
        optimal=sol.optimal,
        gap=sol.gap,
        time_s=0.0,
        model="capacitated-coverage",
        params=effective,
    )
