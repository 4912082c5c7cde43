"""The p-center model: open ``p`` sites so that the worst-served demand is served best.

``p-center``
    *Objective*: minimise ``max_i s_ij(i)`` over the positive-weight demand points, where
    ``j(i)`` is point ``i``'s nearest open site and the score ``s_ij`` is the access cost
    ``cost_ij`` (default) or, with ``weighted=True``, ``weight_i * cost_ij`` (Hakimi's
    weighted p-center).

    Exact by a binary search over the sorted distinct scores (Minieka 1970; Daskin 2013,
    ch. 5): a threshold ``T`` is achievable if and only if a set-cover MILP (HiGHS) finds
    at most ``p`` sites (within ``budget``, kept sites included) such that every point has
    an open site with ``s_ij <= T``.  The least achievable ``T`` is the optimum; every
    feasibility answer is a proven MILP optimum, so the result is proven optimal.

    The plan returned is the cover found at the optimal ``T``; with ``p`` alone it is
    topped up to exactly ``p`` sites by greedy p-median additions (each added site lowers
    the weighted access cost most; it cannot lower the objective, which is optimal).
    Positive demand that reaches no candidate (every cost ``inf``) cannot be served by any
    plan: it is left out and listed in ``params["unreachable_demand"]``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

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

__all__ = ["center_objective", "p_center"]


def _scores(problem: SitingProblem, weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(n_points, n_candidates)`` of the positive-weight reachable points, and
    the indices of the positive-weight points no candidate reaches."""
    pos = problem.weight > 0
    reach = np.isfinite(problem.cost).any(axis=1)
    keep = np.flatnonzero(pos & reach)
    score = problem.cost[keep]
    if weighted:
        score = score * problem.weight[keep, None]
    return score, np.flatnonzero(pos & ~reach)


def center_objective(problem: SitingProblem, sites: np.ndarray, *, weighted: bool = False) -> float:
    """The p-center objective of a plan: the largest (weighted) cost of a positive-weight,
    reachable demand point to its nearest open site (``inf`` if one reaches none of them,
    0 with no such point, ``nan`` with no site)."""
    if sites.size == 0:
        return math.nan
    score, _ = _scores(problem, weighted)
    if score.shape[0] == 0:
        return 0.0
    return float(score[:, sites].min(axis=1).max())


def _cover_milp(
    within: np.ndarray, sel: Selection, *, time_limit: float | None
) -> np.ndarray | None:
    """Fewest sites (within ``sel``'s count and budget, forced sites open) covering every
    row of ``within``; ``None`` if no such plan exists."""
    n = within.shape[1]
    if not within.any(axis=1).all():
        return None
    rows = np.unique(np.packbits(within, axis=1), axis=0)
    matrix = sp.csr_array(np.unpackbits(rows, axis=1, count=n).astype(np.float64))
    g = matrix.shape[0]
    extra, lo_x, hi_x = count_and_budget_rows(sel, n, n_col=n, exact_p=False)
    col_lo = np.zeros(n)
    col_lo[sel.forced] = 1.0
    model = MilpModel(
        np.ones(n),
        sp.vstack([matrix, extra], format="csr"),
        np.concatenate((np.ones(g), lo_x)),
        np.concatenate((np.full(g, np.inf), hi_x)),
        col_lower=col_lo,
        col_upper=np.ones(n),
        integer=np.ones(n, dtype=bool),
    )
    sol = solve_milp(model, name="p-center cover", time_limit=time_limit, mip_gap=0.0)
    if sol.x is None:
        if sol.status in ("Infeasible", "Primal infeasible or unbounded"):
            return None
        raise _Unproven(sol.status)
    if not sol.optimal:
        raise _Unproven(sol.status)
    return np.flatnonzero(sol.x > 0.5)


class _Unproven(Exception):
    """A cover MILP stopped before it proved feasibility or infeasibility."""


def _top_up(problem: SitingProblem, sites: np.ndarray, sel: Selection) -> np.ndarray:
    """Greedy p-median additions until ``sel.p`` sites are open (no budget)."""
    if sel.p is None or sel.budget is not None or sites.size >= sel.p:
        return sites
    is_open = np.zeros(problem.n_candidates, dtype=bool)
    is_open[sites] = True
    cost = np.where(np.isfinite(problem.cost), problem.cost, 1e18)
    w = problem.weight
    best = cost[:, is_open].min(axis=1) if is_open.any() else np.full(problem.n_demand, 1e18)
    while is_open.sum() < sel.p:
        saving = w @ np.maximum(best[:, None] - cost, 0.0)
        saving[is_open] = -1.0
        j = int(np.argmax(saving))
        is_open[j] = True
        best = np.minimum(best, cost[:, j])
    return np.flatnonzero(is_open)


def _search(
    score: np.ndarray, sel: Selection, *, time_limit: float | None
) -> tuple[float, np.ndarray | None, int]:
    """Least achievable threshold, its cover and the number of cover MILPs solved."""
    levels = np.unique(score[np.isfinite(score)])
    # no plan beats every point's nearest candidate
    levels = levels[levels >= score.min(axis=1).max()]
    lo, hi = 0, levels.size - 1
    best: np.ndarray | None = None
    runs = 0
    top = _cover_milp(score <= levels[hi], sel, time_limit=time_limit) if levels.size else None
    runs += 1
    if top is None:
        return math.inf, None, runs
    best = top
    while lo < hi:
        mid = (lo + hi) // 2
        found = _cover_milp(score <= levels[mid], sel, time_limit=time_limit)
        runs += 1
        if found is None:
            lo = mid + 1
        else:
            hi, best = mid, found
    return float(levels[hi]), best, runs


@register(
    "p-center",
    needs=Needs(count="required", budget=True, keep_existing=True),
    options={"weighted": False, "time_limit": 600.0},
)
def p_center(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Minimise the largest access cost (or weight x cost) of any demand point (exact).

    Parameters
    ----------
    problem
        The instance; demand points of weight 0 are not scored.
    rng
        Unused (deterministic).
    **params
        ``p`` and/or ``budget`` (CNY); ``keep_existing``; ``weighted`` (default False:
        the score is the cost, e.g. minutes; True: weight x cost); ``time_limit`` (s per
        cover MILP, default 600).

    Returns
    -------
    SitingResult
        ``objective`` = the largest score over the positive-weight reachable points
        (minutes, or weight x minutes), ``inf`` if no plan within ``p``/``budget``
        reaches them all (then the sites are the greedy p-median top-up of the kept
        sites).  Diagnostics: ``unreachable_demand``, ``cover_milps`` (MILPs solved).
    """
    pr = Params("p-center", params)
    sel = read_selection(problem, pr)
    weighted = pr.flag("weighted", False)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    effective = pr.finish()
    score, unreachable = _scores(problem, weighted)
    effective["unreachable_demand"] = unreachable.tolist()

    def result(sites: np.ndarray, optimal: bool) -> SitingResult:
        chosen = sorted_sites(_top_up(problem, sites, sel))
        value = center_objective(problem, chosen, weighted=weighted)
        return SitingResult(chosen, value, optimal, 0.0 if optimal else math.nan, 0.0,
                            "p-center", effective)  # fmt: skip

    if score.shape[0] == 0:
        return result(sel.forced, True)
    try:
        value, cover, runs = _search(score, sel, time_limit=time_limit)
    except _Unproven as exc:
        effective["unproven"] = f"{exc}: a cover MILP hit the time limit; the kept sites"
        return result(sel.forced, False)
    effective["cover_milps"] = runs
    if cover is None:  # every plan leaves a point unserved: all are optimal at inf
        effective["note"] = "no plan within p/budget reaches every demand point"
        return result(sel.forced, True)
    effective["threshold"] = value
    return result(cover, True)
