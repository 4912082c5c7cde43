"""Maximal backup coverage (Hogan & ReVelle 1986): demand within reach of two sites.

``backup-coverage``
    *Objective*: maximise ``theta * W1 + (1 - theta) * W2``, where ``W1`` is the demand
    weight within ``radius`` of at least one open site, ``W2`` the weight within
    ``radius`` of at least two, and ``theta`` the option ``first_weight`` (default 0.5:
    a point counts fully when covered twice and half when covered once; 0 is pure
    backup coverage).  With ``require_cover=True`` every coverable point must be covered
    at least once (Hogan & ReVelle's BACOP1; with ``p`` the LSCP minimum this is PySAL
    spopt's LSCP-B).  Exact MILP in HiGHS over demand groups ``g`` (points with the same
    covering set merged)::

        max  sum_g w_g (theta z_g + (1 - theta) u_g)
        s.t. sum_{j covers g} y_j - z_g - u_g >= 0    u_g <= z_g
             sum_j y_j = p (<= p with a budget),  sum_j cost_j y_j <= budget
             y, u binary, 0 <= z <= 1 (z_g = 1 with require_cover)

    ``u_g = 1`` needs two open covering sites, ``z_g`` one.  Positive demand that no
    candidate covers is listed in ``params["uncoverable_demand"]``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from sim.errors import SolverInputError
from sim.siting.problem import (
    Coverage,
    MilpModel,
    Params,
    Selection,
    SitingProblem,
    SitingResult,
    count_and_budget_rows,
    coverage,
    read_radius,
    read_selection,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["backup_coverage", "backup_weights"]


def backup_weights(problem: SitingProblem, sites: np.ndarray, radius: float) -> tuple[float, float]:
    """``(W1, W2)``: demand weight within ``radius`` of at least one / two open sites."""
    if sites.size == 0:
        return 0.0, 0.0
    k = (problem.cost[:, sites] <= radius).sum(axis=1)
    return float(problem.weight[k >= 1].sum()), float(problem.weight[k >= 2].sum())


def _model(cov: Coverage, sel: Selection, n: int, theta: float, require: bool) -> MilpModel:
    """Columns ``y`` (n sites), ``z`` then ``u`` (one per group)."""
    g = cov.weight.size
    n_col = n + 2 * g
    a = sp.csr_array(cov.matrix)
    eye = sp.eye_array(g, format="csr")
    cover = sp.hstack([a, -eye, -eye], format="csr")
    link = sp.hstack([sp.csr_array((g, n)), -eye, eye], format="csr")
    extra, lo_x, hi_x = count_and_budget_rows(
        sel, n, n_col=n_col, exact_p=sel.p is not None and sel.budget is None
    )
    col_lo = np.zeros(n_col)
    col_lo[sel.forced] = 1.0
    if require:
        col_lo[n : n + g] = 1.0
    integer = np.zeros(n_col, dtype=bool)
    integer[:n] = True
    integer[n + g :] = True
    return MilpModel(
        np.concatenate((np.zeros(n), theta * cov.weight, (1.0 - theta) * cov.weight)),
        sp.vstack([cover, link, extra], format="csr"),
        np.concatenate((np.zeros(g), np.full(g, -np.inf), lo_x)),
        np.concatenate((np.full(g, np.inf), np.zeros(g), hi_x)),
        col_lower=col_lo,
        col_upper=np.ones(n_col),
        integer=integer,
        maximize=True,
    )


@register(
    "backup-coverage",
    needs=Needs(count="required", budget=True, radius=True, keep_existing=True),
    options={"first_weight": 0.5, "require_cover": False, "time_limit": 600.0, "mip_gap": 1e-6},
)
def backup_coverage(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Maximise demand covered twice (weighted with demand covered once); exact, HiGHS.

    Parameters
    ----------
    problem
        The instance.
    rng
        Unused (deterministic).
    **params
        ``radius`` (unit of cost, > 0); ``p`` and/or ``budget`` (CNY); ``keep_existing``;
        ``first_weight`` (``theta`` in [0, 1], default 0.5); ``require_cover`` (default
        False); ``time_limit`` (s, default 600); ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = ``theta * W1 + (1 - theta) * W2`` (unit of weight).  Diagnostics:
        ``covered_once_weight`` (W1), ``covered_twice_weight`` (W2),
        ``uncoverable_demand``.

    Raises
    ------
    SolverInputError
        A malformed parameter, or ``require_cover=True`` with too few sites (or too
        little budget) to cover every coverable point.
    """
    pr = Params("backup-coverage", params)
    sel = read_selection(problem, pr)
    radius = read_radius(problem, pr)
    theta = pr.number("first_weight", 0.5, low=0.0, high=1.0, expected="a weight in [0, 1]")
    require = pr.flag("require_cover", False)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    assert theta is not None
    n = problem.n_candidates
    cov = coverage(problem, radius)
    effective["uncoverable_demand"] = cov.uncoverable.tolist()

    def result(sites: np.ndarray, optimal: bool, gap: float) -> SitingResult:
        chosen = sorted_sites(sites)
        w1, w2 = backup_weights(problem, chosen, radius)
        effective["covered_once_weight"] = w1
        effective["covered_twice_weight"] = w2
        value = theta * w1 + (1.0 - theta) * w2
        return SitingResult(chosen, value, optimal, gap, 0.0, "backup-coverage", effective)

    if cov.weight.size == 0:
        return result(sel.forced, True, 0.0)
    model = _model(cov, sel, n, float(theta), require)
    sol = solve_milp(
        model, name="backup-coverage", time_limit=time_limit, mip_gap=float(mip_gap or 0.0)
    )
    if sol.x is None and sol.status == "Infeasible":
        raise SolverInputError(
            f"backup-coverage: require_cover=True but no plan within p={sel.p}, "
            f"budget={sel.budget} covers every coverable demand point within radius "
            f"{radius:g}; raise p or the budget, or set require_cover false"
        )
    if sol.x is None:
        effective["unproven"] = f"{sol.status}: HiGHS found no plan; the kept sites only"
        return result(sel.forced, False, math.nan)
    if not sol.optimal:
        effective["unproven"] = f"{sol.status}: HiGHS's best plan, not proven"
    return result(np.flatnonzero(sol.x[:n] > 0.5), sol.optimal, sol.gap)
