"""Location set covering (Toregas et al. 1971): fewest (or cheapest) sites covering all.

``lscp``
    Exact MILP in HiGHS::

        min  sum_j y_j          (sum_j cost_j y_j when the problem has site costs)
        s.t. sum_{j covers g} y_j >= 1   for every coverable demand group g,
             y binary

    Demand points with the same covering set are merged into one row.  Positive-weight
    demand that no candidate covers within ``radius`` cannot be covered by any plan: it is
    left out of the constraints and listed in ``params["uncoverable_demand"]`` (the
    problem is not declared infeasible).  Zero-weight points need no cover.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from sim.siting.problem import (
    MilpModel,
    Params,
    SitingProblem,
    SitingResult,
    coverage,
    read_radius,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["lscp"]


def _greedy_cover(matrix: sp.csr_array, price: np.ndarray, forced: np.ndarray) -> np.ndarray:
    """Chvátal's greedy set cover: cheapest price per newly covered group."""
    csc = sp.csc_array(matrix)
    n = matrix.shape[1]
    is_open = np.zeros(n, dtype=bool)
    is_open[forced] = True
    covered = np.zeros(matrix.shape[0], dtype=bool)
    if forced.size:
        covered = np.asarray(csc[:, forced].sum(axis=1)).ravel() > 0
    while not covered.all():
        gain = csc.T @ (~covered).astype(np.float64)
        score = np.where(gain > 0, price / np.maximum(gain, 1e-300), np.inf)
        j = int(np.argmin(score))
        is_open[j] = True
        covered |= csc[:, [j]].toarray().ravel() > 0
    return np.flatnonzero(is_open)


@register(
    "lscp",
    needs=Needs(radius=True, keep_existing=True),
    options={"time_limit": 600.0, "mip_gap": 1e-6},
)
def lscp(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Set covering: the fewest (cheapest) sites that cover all coverable demand.

    Parameters
    ----------
    problem
        The instance; with ``site_cost`` the objective is money (CNY), else site count.
    rng
        Unused (deterministic).
    **params
        ``radius`` (unit of cost, > 0); ``keep_existing`` (default False; kept sites cost
        0 and count as opened); ``time_limit`` (s, default 600); ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = number of sites (or their total charged cost, CNY).
        ``params["uncoverable_demand"]`` lists demand points no candidate covers.
    """
    pr = Params("lscp", params)
    radius = read_radius(problem, pr)
    keep = pr.flag("keep_existing", False)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    n = problem.n_candidates
    cov = coverage(problem, radius)
    forced = problem.existing_sites() if keep else np.empty(0, dtype=np.int64)
    by_cost = problem.site_cost is not None
    price = problem.charged_site_cost() if by_cost else np.ones(n)
    if keep:
        price[forced] = 0.0
    effective["uncoverable_demand"] = cov.uncoverable.tolist()
    effective["objective_unit"] = "CNY" if by_cost else "sites"

    def result(sites: np.ndarray, optimal: bool, gap: float) -> SitingResult:
        chosen = sorted_sites(sites)
        value = float(price[chosen].sum()) if by_cost else float(chosen.size)
        return SitingResult(chosen, value, optimal, gap, 0.0, "lscp", effective)

    if cov.weight.size == 0:
        return result(forced, True, 0.0)
    start = _greedy_cover(cov.matrix, np.maximum(price, 1e-9), forced)
    col_lo = np.zeros(n)
    col_lo[forced] = 1.0
    g = cov.weight.size
    # Tie-break towards fewer sites when minimising money (free sites would otherwise be
    # opened for nothing).
    c = price + (1e-6 * max(1.0, float(price.max())) / n if by_cost else 0.0)
    model = MilpModel(
        c,
        cov.matrix,
        np.ones(g),
        np.full(g, np.inf),
        col_lower=col_lo,
        col_upper=np.ones(n),
        integer=np.ones(n, dtype=bool),
    )
    sol = solve_milp(
        model,
        name="lscp",
        start=np.isin(np.arange(n), start).astype(float),
        time_limit=time_limit,
        mip_gap=float(mip_gap or 0.0),
    )
    if sol.x is None:
        effective["unproven"] = f"{sol.status}: HiGHS found no plan; the greedy cover"
        return result(start, False, math.nan)
    if not sol.optimal:
        effective["unproven"] = f"{sol.status}: HiGHS's best plan, not proven"
    sites = np.flatnonzero(sol.x > 0.5)
    return result(sites, sol.optimal, sol.gap)
