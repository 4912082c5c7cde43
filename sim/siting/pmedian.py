"""p-median: open sites so that the weighted cost to the nearest open site is least.

Two models:

``p-median`` (exact)
    1. Warm start: the heuristic below.
    2. With exactly ``p`` sites and no budget: Lagrangian relaxation of the assignment
       constraints (Beasley 1985, 1993), maximised by subgradient steps (its bound is the
       LP bound), with local search from the Lagrangian solution and reduced-cost fixing
       of sites.  Most instances with a large ``p`` are proven optimal here.
    3. Then (same case) a depth-first LP branch-and-cut of our own on the Benders master
       of the radius formulation (Duran-Mateluna, Ales & Elloumi 2023): columns ``y_j``
       for the surviving sites and one cost ``theta_i`` per demand point, objective
       ``sum_i w_i theta_i``, rows ``sum_j y_j = p`` and cuts
       ``theta_i + sum_j max(0, d - c_ij) y_j >= d`` for a level ``d`` of point ``i``.
       The cuts of all levels of a point say ``theta_i >= min_{j open} c_ij`` for 0/1
       ``y``; their LP is the radius (and classic) LP.  HiGHS solves each node's LP
       (dual simplex, warm-started from the parent's basis, stopped once its objective
       passes the incumbent); the most violated cut of every point is added until none
       is.  The node bound is recomputed in numpy from HiGHS's duals (weak duality with
       the column bounds), so pruning does not rest on solver tolerances.  Per node:
       rounding of the ``p`` largest ``y`` (then local search) may improve the incumbent;
       reduced costs fix sites below the node; branching on the free site with the
       largest ``min(y, 1 - y)`` times the saving its opening would bring at the LP's
       ``theta``, open branch first.  The first cuts are at each point's Lagrangian
       radius ``lam_i / w_i`` and at its incumbent cost.
    4. Otherwise (a budget, ``p`` then being a maximum; ``lagrangian=False``; or HiGHS
       failing on a node LP) HiGHS solves the radius formulation of Elloumi (2010) and
       García, Labbé & Marín (2011) as a MILP on the surviving sites.  For demand point
       ``i`` with distinct sorted costs ``D_i1 < D_i2 < ...`` it is written with
       ``u_il`` = the share of ``i`` served at cost ``D_il`` (``u_il = z_i,l-1 - z_il``
       in the z-form)::

           min  sum_i w_i sum_l D_il u_il
           s.t. sum_l u_il = 1,   u_il <= sum_{j: c_ij = D_il} y_j
                sum_j y_j = p (<= p with a budget),   sum_j cost_j y_j <= budget
                y binary, u >= 0

       Each candidate appears once per demand point.  The levels of each point stop at
       its Lagrangian radius (or heuristic cost) plus one, or earlier at a level where it
       is surely served (a site fixed open; the ``(n - p + 1)``-th cheapest candidate).
       The last level means "this cost or more", so a cut model is a relaxation: if the
       MILP serves a point beyond its last level, the levels grow and it is solved again.
       HiGHS only looks for solutions better than the incumbent (objective cutoff).

    Steps 2-4 look only for solutions better than the incumbent by ``delta`` =
    ``mip_gap`` times its value (at least 1e-9 relative; at least 1 - 1e-6 when costs
    and weights are integral, since every value then is an integer), so "optimal" means
    that no solution better by that much exists.

``p-median-heuristic``
    Greedy addition, then vertex substitution (Teitz & Bart 1968) with the fast
    interchange bookkeeping of Whitaker (1983) / Resende & Werneck (2007): every swap
    (remove ``r``, insert ``j``) is evaluated at once from the nearest and second-nearest
    open site of each point, vectorised with numpy.  A variable-neighbourhood search then
    perturbs the best solution (random swaps drawn from ``rng``) and re-optimises.

Costs that are ``inf`` (unreachable) are replaced, inside the solvers, by a penalty
larger than any total finite cost, so that serving everyone comes first; the reported
objective uses the true costs (``inf`` if positive demand is left unreachable).  Demand
points that reach no candidate at all are left out and listed in
``params["unreachable_demand"]``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.siting.problem import (
    EPS,
    MilpModel,
    Params,
    Selection,
    SitingProblem,
    SitingResult,
    new_highs,
    pmedian_objective,
    read_selection,
    rerun_fresh,
    resolve_rng,
    solve_milp,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["pmedian_exact", "pmedian_heuristic"]


@dataclass(frozen=True)
class _Instance:
    """The p-median data the solvers work on."""

    cost: np.ndarray  # (m, n) penalised finite costs of the kept demand rows
    weight: np.ndarray  # (m,) > 0
    rows: np.ndarray  # indices of the kept rows in the problem
    unreachable: np.ndarray  # positive-weight rows with no finite cost
    big: float  # cost of an unserved point (> every entry of cost)


def _instance(problem: SitingProblem) -> _Instance:
    c = problem.cost
    finite = np.isfinite(c)
    reach = finite.any(axis=1)
    pos = problem.weight > 0
    rows = np.flatnonzero(pos & reach)
    unreachable = np.flatnonzero(pos & ~reach)
    cost = c[rows]
    w = problem.weight[rows]
    fin = finite[rows]
    max_fin = float(cost[fin].max()) if fin.any() else 0.0
    if not fin.all():
        # Serving one more unit of demand beats any change of the finite costs.
        w_min = float(w.min())
        penalty = 1.0 + max_fin * (1.0 + float(w.sum()) / w_min)
        cost = np.where(fin, cost, penalty)
        max_fin = penalty
    big = 2.0 * max_fin + 1.0
    return _Instance(np.ascontiguousarray(cost), w, rows, unreachable, big)


# --------------------------------------------------------------------------------------
# Heuristic: greedy + fast interchange + iterated local search.


def _nearest_two(
    cost: np.ndarray, sites: np.ndarray, big: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index (into ``sites``) of the nearest open site, its cost, the second cost."""
    m = cost.shape[0]
    if sites.size == 0:
        return np.zeros(m, dtype=np.int64), np.full(m, big), np.full(m, big)
    sub = cost[:, sites]
    c1 = np.argmin(sub, axis=1)
    d1 = sub[np.arange(m), c1]
    if sites.size == 1:
        return c1, d1, np.full(m, big)
    d2 = np.partition(sub, 1, axis=1)[:, 1]
    return c1, d1, d2


class _SortedRows:
    """Each demand row's candidates sorted by cost, to visit only the cheap ones.

    Local search needs the pairs cheaper than a point's second-nearest open site; the
    Lagrangian relaxation the pairs with ``w_i c_ij < lam_i``.  Each row keeps the count
    of its candidates below the last limit and steps it, since limits move little.
    """

    def __init__(self, cost: np.ndarray, weight: np.ndarray) -> None:
        self.cost = cost
        self.weight = weight
        self.m, self.n = cost.shape
        order = np.argsort(cost, axis=1, kind="stable")
        self.values = np.take_along_axis(cost, order, axis=1).ravel()
        self.order = order.ravel()
        self.base = np.arange(self.m) * self.n
        self.rows = np.arange(self.m)
        self.length = np.zeros(self.m, dtype=np.int64)

    def below(self, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs ``(row, col, cost)`` with ``cost < limit[row]`` (row-major order)."""
        n, base, vals = self.n, self.base, self.values
        length = self.length
        for _ in range(4):  # the limit moves little between calls: step the counts
            up = (length < n) & (vals[base + np.minimum(length, n - 1)] < limit)
            down = (length > 0) & (vals[base + np.maximum(length - 1, 0)] >= limit)
            if not (up.any() or down.any()):
                break
            length = length + up - down
        else:
            length = (vals.reshape(self.m, n) < limit[:, None]).sum(axis=1)
        self.length = length
        total = int(length.sum())
        starts = np.cumsum(length) - length
        flat = np.arange(total) + np.repeat(base - starts, length)
        return np.repeat(self.rows, length), self.order[flat], vals[flat]


def _greedy(inst: _Instance, sel: Selection, rows: _SortedRows, *, exact_p: bool) -> np.ndarray:
    """Greedy addition (best saving, or best saving per yuan under a budget)."""
    cost, w = inst.cost, inst.weight
    n = cost.shape[1]
    is_open = np.zeros(n, dtype=bool)
    is_open[sel.forced] = True
    d1 = cost[:, sel.forced].min(axis=1) if sel.forced.size else np.full(cost.shape[0], inst.big)
    p_max = sel.p if sel.p is not None else n
    spent = 0.0
    while is_open.sum() < p_max:
        i, j_, c = rows.below(d1)
        gain = np.bincount(j_, weights=w[i] * (d1[i] - c), minlength=n)
        ok = ~is_open
        if sel.budget is not None:
            ok &= sel.charged <= sel.budget - spent + EPS * max(1.0, sel.budget)
        if not ok.any():
            break
        tol = 1e-12 * max(1.0, float(w @ d1))
        if sel.budget is not None:
            free = ok & (sel.charged <= 0)
            if free.any() and gain[free].max() > tol:
                score = np.where(free, gain, -np.inf)
            else:
                score = np.where(ok, gain / np.maximum(sel.charged, 1e-300), -np.inf)
        else:
            score = np.where(ok, gain, -np.inf)
        j = int(np.argmax(score))
        if gain[j] <= tol and not (exact_p and sel.budget is None):
            break
        is_open[j] = True
        spent += float(sel.charged[j])
        d1 = np.minimum(d1, cost[:, j])
    return np.flatnonzero(is_open)


def _local_search(
    inst: _Instance, sel: Selection, sites: np.ndarray, rows: _SortedRows
) -> np.ndarray:
    """Best-improvement vertex substitution with fast-interchange bookkeeping.

    For the current open set, ``gain[j]`` is the saving of opening ``j``, ``loss[r]`` the
    extra cost of closing ``r`` and ``extra[r, j]`` the correction when both happen
    (points served by ``r`` that ``j`` would serve); the profit of swapping ``r`` for
    ``j`` is ``gain[j] - loss[r] + extra[r, j]``.  Only (point, candidate) pairs cheaper
    than the point's second-nearest open site contribute, so each pass scans those.
    """
    w = inst.weight
    n = inst.cost.shape[1]
    is_open = np.zeros(n, dtype=bool)
    is_open[sites] = True
    forced = np.zeros(n, dtype=bool)
    forced[sel.forced] = True
    p_max = sel.p if sel.p is not None else n
    s = np.flatnonzero(is_open)
    c1, d1, d2 = _nearest_two(inst.cost, s, inst.big)
    nearest = s[c1] if s.size else np.zeros(inst.cost.shape[0], dtype=np.int64)
    while True:
        s = np.flatnonzero(is_open)
        k = s.size
        c1 = np.searchsorted(s, nearest) if k else nearest
        total = float(w @ d1)
        tol = 1e-12 * max(1.0, total)
        slack = math.inf if sel.budget is None else sel.budget - float(sel.charged[s].sum())
        i, j_, c = rows.below(d2)
        wi = w[i]
        near = c < d1[i]
        gain = np.bincount(j_[near], weights=wi[near] * (d1[i[near]] - c[near]), minlength=n)
        closed = ~is_open
        if k < p_max:  # pure additions (p not reached, or budget only)
            add_ok = closed & (sel.charged <= slack + EPS * max(1.0, abs(slack)))
            if add_ok.any():
                j = int(np.argmax(np.where(add_ok, gain, -np.inf)))
                if gain[j] > tol:
                    is_open[j] = True
                    nearest, d1, d2 = _opened(inst.cost, j, nearest, d1, d2)
                    continue
        if k == 0:
            break
        loss = np.bincount(c1, weights=w * (d2 - d1), minlength=k)
        extra = np.bincount(
            c1[i] * n + j_, weights=wi * (d2[i] - np.maximum(c, d1[i])), minlength=k * n
        ).reshape(k, n)
        profit = gain[None, :] - loss[:, None] + extra
        profit[:, is_open] = -np.inf
        profit[forced[s], :] = -np.inf
        if sel.budget is not None:
            delta_cost = sel.charged[None, :] - sel.charged[s][:, None]
            profit[delta_cost > slack + EPS * max(1.0, abs(slack))] = -np.inf
        r, jin = (int(v) for v in np.unravel_index(int(np.argmax(profit)), profit.shape))
        if not profit[r, jin] > tol:
            break
        is_open[s[r]] = False
        nearest, d1, d2 = _closed(inst, int(s[r]), np.flatnonzero(is_open), nearest, d1, d2)
        is_open[jin] = True
        nearest, d1, d2 = _opened(inst.cost, jin, nearest, d1, d2)
    return np.flatnonzero(is_open)


def _opened(
    cost: np.ndarray, j: int, near: np.ndarray, d1: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_nearest_two`'s nearest site (as a site id), its cost and the second cost
    after opening site ``j``, updated from those before (the same values: a tie goes to
    the smaller site id, as ``argmin`` over the sorted open sites gives it)."""
    col = cost[:, j]
    better = col < d1
    tie = col == d1
    near = np.where(better | (tie & (j < near)), j, near)
    d2 = np.where(better, d1, np.minimum(d2, col))
    return near, np.minimum(d1, col), d2


def _closed(
    inst: _Instance, r: int, sites: np.ndarray, near: np.ndarray, d1: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same after closing site ``r`` (``sites``: the open sites without it): rows
    that had ``r`` as their nearest site, or a second cost it may have given, are
    computed again; for the others ``r`` was neither of the two."""
    hit = np.flatnonzero((near == r) | (inst.cost[:, r] <= d2))
    if hit.size == 0:
        return near, d1, d2
    c1, a, b = _nearest_two(inst.cost[hit], sites, inst.big)
    near, d1, d2 = near.copy(), d1.copy(), d2.copy()
    near[hit] = sites[c1] if sites.size else 0
    d1[hit], d2[hit] = a, b
    return near, d1, d2


def _total(inst: _Instance, sites: np.ndarray) -> float:
    if sites.size == 0:
        return inst.big * float(inst.weight.sum())
    return float(inst.weight @ inst.cost[:, sites].min(axis=1))


def _perturb(
    inst: _Instance, sel: Selection, sites: np.ndarray, rng: np.random.Generator, k: int
) -> np.ndarray:
    """Swap ``k`` random non-forced open sites for random closed ones (budget kept)."""
    n = inst.cost.shape[1]
    cur = set(sites.tolist())
    movable = [s for s in sites.tolist() if s not in set(sel.forced.tolist())]
    for _ in range(k):
        if not movable:
            break
        r = movable[int(rng.integers(len(movable)))]
        closed = np.setdiff1d(np.arange(n), np.fromiter(cur, dtype=np.int64))
        if sel.budget is not None:
            slack = sel.budget - float(sel.charged[list(cur)].sum()) + float(sel.charged[r])
            closed = closed[sel.charged[closed] <= slack + EPS * max(1.0, abs(slack))]
        if closed.size == 0:
            break
        j = int(closed[int(rng.integers(closed.size))])
        cur.discard(r)
        cur.add(j)
        movable.remove(r)
    return np.array(sorted(cur), dtype=np.int64)


def _heuristic(
    inst: _Instance,
    sel: Selection,
    rows: _SortedRows,
    *,
    exact_p: bool,
    rng: np.random.Generator,
    iterations: int,
    time_limit: float | None,
) -> np.ndarray:
    """Greedy, local search, then ``iterations`` rounds of perturb + local search."""
    t0 = time.perf_counter()
    best = _local_search(inst, sel, _greedy(inst, sel, rows, exact_p=exact_p), rows)
    best_val = _total(inst, best)
    movable = best.size - sel.forced.size
    if movable <= 0 or inst.cost.shape[1] <= best.size:
        return best
    k_max = min(10, movable)
    k = 1
    for _ in range(iterations):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        cand = _local_search(inst, sel, _perturb(inst, sel, best, rng, k), rows)
        val = _total(inst, cand)
        if val < best_val - 1e-12 * max(1.0, abs(best_val)):
            best, best_val, k = cand, val, 1
        else:
            if val <= best_val:
                best = cand  # plateau move
            k = k + 1 if k < k_max else 1
    return best


# --------------------------------------------------------------------------------------
# Exact: Lagrangian bound and variable fixing, then the radius formulation in HiGHS.


def _improvement(inst: _Instance, ub: float, mip_gap: float) -> float:
    """Least decrease of the objective that counts as an improvement of ``ub``.

    With integral weights and costs every objective value is an integer, so a bound
    above ``ub - 1`` proves ``ub`` optimal.
    """
    rel = max(mip_gap * abs(ub), 1e-9 * max(1.0, abs(ub)))
    integral = np.array_equal(inst.weight, np.round(inst.weight)) and np.array_equal(
        inst.cost, np.round(inst.cost)
    )
    return max(rel, 1.0 - 1e-6) if integral else rel


@dataclass
class _Node:
    """Outcome of :func:`_subgradient` at one branch-and-bound node."""

    bound: float  # best Lagrangian bound (inf: no improving solution in this node)
    lam: np.ndarray  # its multipliers
    opened: np.ndarray  # bool, fixed open (branching + reduced-cost fixing)
    closed: np.ndarray  # bool, fixed closed
    chosen: np.ndarray  # free sites of the Lagrangian solution at the best multipliers


def _lagrangian_choice(
    rho: np.ndarray, free: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The ``k`` free sites of least ``rho`` (the Lagrangian solution), the free sites
    left out, and the largest ``rho`` in and the least ``rho`` out (0, 0 when all or none
    of the free sites are chosen)."""
    if 0 < k < free.size:
        part = np.argpartition(rho[free], k - 1)
        chosen = free[part[:k]]
        outside = free[part[k:]]
        return chosen, outside, float(rho[chosen].max()), float(rho[outside].min())
    chosen = free if k else np.empty(0, dtype=np.int64)
    return chosen, np.empty(0, dtype=np.int64), 0.0, 0.0


def _subgradient(
    rel: _SortedRows,
    start: _Node,
    /,
    *,
    p: int,
    ub: float,
    delta: float,
    max_iter: int,
    step: float,
    deadline: float,
) -> _Node:
    """Maximise the Lagrangian bound by subgradient steps; fix sites as it goes.

    Starts from ``start``'s multipliers and fixings (copied).  For any ``lam``, opening a
    site outside the minimising set (or closing one inside) raises the bound by a known
    amount; a site whose bound then exceeds ``ub - delta`` cannot be in an improving
    solution and is fixed.
    """
    w = rel.weight
    m, n = rel.m, rel.n
    lam = start.lam
    opened, closed = start.opened.copy(), start.closed.copy()
    best = -math.inf
    best_lam: np.ndarray = lam
    best_chosen: np.ndarray = np.empty(0, dtype=np.int64)
    stall = 0
    for _ in range(max_iter):
        i, j, c = rel.below(lam / w)
        if closed.any():
            live = ~closed[j]
            i, j, c = i[live], j[live], c[live]
        rho = np.bincount(j, weights=w[i] * c - lam[i], minlength=n)
        free = np.flatnonzero(~closed & ~opened)
        k = p - int(opened.sum())
        if k < 0 or k > free.size:
            return _Node(math.inf, lam, opened, closed, np.empty(0, dtype=np.int64))
        chosen, outside, last_in, first_out = _lagrangian_choice(rho, free, k)
        value = float(lam.sum() + rho[opened].sum() + rho[chosen].sum())
        if value > best + 1e-9 * max(1.0, abs(best) if math.isfinite(best) else 1.0):
            best, best_lam, best_chosen, stall = value, lam, chosen, 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2.0, 0
        if best > ub - delta:
            break
        # reduced-cost fixing (every free site is chosen or left out when k is 0 or all)
        closed[outside[value + rho[outside] - last_in > ub - delta]] = True
        opened[chosen[value - rho[chosen] + first_out > ub - delta]] = True
        if k == 0:
            closed[free] = True
        elif k == free.size:
            opened[free] = True
        if step < 1e-4 or time.perf_counter() > deadline:
            break
        y = np.zeros(n, dtype=bool)
        y[chosen] = True
        y[opened] = True
        g = 1.0 - np.bincount(i[y[j]], minlength=m)
        norm = float(g @ g)
        if norm == 0.0:  # the Lagrangian solution is feasible: optimal for this node
            break
        lam = np.maximum(lam + step * (ub - value) / norm * g, 0.0)
    return _Node(best, best_lam, opened, closed, best_chosen)


@dataclass
class _Search:
    """Outcome of :func:`_lagrangian_search`."""

    proved: bool  # no solution below ub - delta exists
    sites: np.ndarray
    ub: float
    closed: np.ndarray  # fixings (valid for every improving solution)
    opened: np.ndarray
    lam: np.ndarray  # best multipliers
    info: dict[str, object]


def _lagrangian_search(
    inst: _Instance,
    rel: _SortedRows,
    p: int,
    sites: np.ndarray,
    ub: float,
    *,
    forced: np.ndarray,
    delta: float,
    deadline: float,
) -> _Search:
    """Lagrangian bound and reduced-cost fixing (Beasley 1985, 1993).

    A subgradient ascent, with local searches from the Lagrangian solution to improve
    ``ub``, fixing sites as it goes.  Returns whether ``ub`` is proven optimal (no
    solution below ``ub - delta``), the best sites, ``ub``, the fixings (valid for every
    solution below ``ub - delta``) and the multipliers.
    """
    w = inst.weight
    n = inst.cost.shape[1]
    info: dict[str, object] = {}
    opened = np.zeros(n, dtype=bool)
    opened[forced] = True
    closed = np.zeros(n, dtype=bool)
    lam = w * inst.cost[:, sites].min(axis=1)
    sel = Selection(p=p, budget=None, forced=forced, charged=np.zeros(n))
    start = _Node(-math.inf, lam, opened, closed, np.empty(0, dtype=np.int64))
    root = _subgradient(
        rel, start, p=p, ub=ub, delta=delta, max_iter=300, step=2.0, deadline=deadline
    )
    # Improve ub by local search from the Lagrangian solution, then continue the ascent;
    # again while that lowers ub or gains a third of the gap still to close.
    for _ in range(3):
        if root.bound > ub - delta:
            break
        before = (root.bound, ub)
        trial = np.flatnonzero(root.opened | np.isin(np.arange(n), root.chosen))
        cand = _local_search(inst, sel, trial, rel)
        val = _total(inst, cand)
        if val < ub - delta:
            sites, ub = cand, val
        root = _subgradient(
            rel,
            root,
            p=p,
            ub=ub,
            delta=delta,
            max_iter=300,
            step=0.5,
            deadline=deadline,
        )
        if ub == before[1] and root.bound - before[0] < (ub - delta - before[0]) / 3.0:
            break
    info["lagrangian_bound"] = root.bound
    if root.bound > ub - delta:
        info["closed_by"] = "lagrangian bound"
        return _Search(True, sites, ub, root.closed, root.opened, root.lam, info)
    info["candidates_after_fixing"] = int((~root.closed).sum())
    info["fixed_open"] = int(root.opened.sum())
    return _Search(False, sites, ub, root.closed, root.opened, root.lam, info)


def _radius_model(
    inst: _Instance,
    sel: Selection,
    allowed: np.ndarray,
    opened: np.ndarray,
    *,
    exact_p: bool,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct sorted costs over the allowed candidates per point, and a valid cap.

    ``cap[i]`` is the index of a level at which point ``i`` is surely served: its
    nearest always-open site, or (exactly ``p`` open) its ``(n' - p' + 1)``-th cheapest
    free candidate, ``n'`` free candidates and ``p'`` of them to open.
    """
    cost = inst.cost
    m = cost.shape[0]
    sub = cost[:, allowed]
    values = [np.unique(sub[i]) for i in range(m)]
    cap_value = np.full(m, np.inf)
    if opened.any():
        cap_value = cost[:, opened].min(axis=1)
    free = allowed & ~opened
    n_free = int(free.sum())
    if exact_p and sel.p is not None and n_free:
        p_free = sel.p - int(opened.sum())
        if p_free >= 1:
            kth = np.partition(cost[:, free], n_free - p_free, axis=1)[:, n_free - p_free]
            cap_value = np.minimum(cap_value, kth)
    cap = np.array(
        [
            v.size - 1 if not math.isfinite(t) else int(np.searchsorted(v, t))
            for v, t in zip(values, cap_value, strict=True)
        ]
    )
    return values, cap


def _build(
    inst: _Instance,
    sel: Selection,
    allowed_idx: np.ndarray,
    values: list[np.ndarray],
    cut: np.ndarray,
    *,
    exact_p: bool,
    lower: np.ndarray,
) -> tuple[np.ndarray, sp.csr_array, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Radius formulation, written with ``u_il = z_i,l-1 - z_il`` (served at level l).

    Columns: ``y`` of the allowed candidates, then per point ``u_i0 .. u_i,K-1`` and
    ``u_iK`` ("at level K or beyond", cost ``D_iK``).  Rows: ``u_il <= sum_{c_ij = D_il}
    y_j``; ``sum_l u_il = 1``; the count and budget rows.
    """
    cost, w = inst.cost, inst.weight
    m = cost.shape[0]
    n_y = allowed_idx.size
    u_start = n_y + np.concatenate(([0], np.cumsum(cut + 1)[:-1])).astype(np.int64)
    n_col = n_y + int((cut + 1).sum())
    obj = np.zeros(n_col)
    r_parts: list[np.ndarray] = []
    c_parts: list[np.ndarray] = []
    v_parts: list[np.ndarray] = []
    sub = cost[:, allowed_idx]
    row = 0
    n_link = int(cut.sum())
    link_row = np.concatenate(([0], np.cumsum(cut)[:-1])).astype(np.int64)
    for i in range(m):
        d, k_i = values[i], int(cut[i])
        u = u_start[i] + np.arange(k_i + 1)
        obj[u] = w[i] * d[: k_i + 1]
        if k_i:
            level = np.searchsorted(d, sub[i])
            js = np.flatnonzero(level < k_i)
            r_parts += [link_row[i] + np.arange(k_i), link_row[i] + level[js]]
            c_parts += [u[:k_i], js]
            v_parts += [np.ones(k_i), -np.ones(js.size)]
        r_parts.append(np.full(k_i + 1, n_link + i))
        c_parts.append(u)
        v_parts.append(np.ones(k_i + 1))
    row = n_link + m
    lo = np.concatenate((np.full(n_link, -np.inf), np.ones(m)))
    hi = np.concatenate((np.zeros(n_link), np.ones(m)))
    extra: list[tuple[np.ndarray, float, float]] = []
    if sel.p is not None:
        extra.append((np.ones(n_y), float(sel.p) if exact_p else -np.inf, float(sel.p)))
    if sel.budget is not None:
        extra.append((sel.charged[allowed_idx], -np.inf, sel.budget))
    for coef, rlo, rhi in extra:
        nz = np.flatnonzero(coef)
        r_parts.append(np.full(nz.size, row))
        c_parts.append(nz)
        v_parts.append(coef[nz])
        lo = np.append(lo, rlo)
        hi = np.append(hi, rhi)
        row += 1
    a = sp.csr_array(
        (np.concatenate(v_parts), (np.concatenate(r_parts), np.concatenate(c_parts))),
        shape=(row, n_col),
    )
    col_lo = np.zeros(n_col)
    col_lo[:n_y] = lower
    return obj, a, lo, hi, col_lo, np.ones(n_col)


def _start_vector(
    inst: _Instance,
    allowed_idx: np.ndarray,
    values: list[np.ndarray],
    cut: np.ndarray,
    sites: np.ndarray,
) -> np.ndarray | None:
    """The solution ``sites`` as a column vector of :func:`_build` (None if not allowed)."""
    pos = np.searchsorted(allowed_idx, sites)
    if sites.size == 0 or (pos >= allowed_idx.size).any() or (allowed_idx[pos] != sites).any():
        return None
    n_y = allowed_idx.size
    x = np.zeros(n_y + int((cut + 1).sum()))
    x[pos] = 1.0
    served = inst.cost[:, sites].min(axis=1)
    start = n_y
    for i, d in enumerate(values):
        k_i = int(cut[i])
        x[start + min(int(np.searchsorted(d, served[i])), k_i)] = 1.0
        start += k_i + 1
    return x


# --------------------------------------------------------------------------------------
# Exact, exactly p sites: branch-and-cut on the Benders master of the radius formulation.


@dataclass
class _LpNode:
    """Outcome of :meth:`_Master.solve` at one node."""

    bound: float  # safe lower bound of every solution in the node (inf: none there)
    y: np.ndarray  # LP values of the site variables (not meaningful if cut off)
    theta: np.ndarray  # LP values of the point costs
    rc: np.ndarray  # reduced costs of the site variables at the bound's duals
    basis: tuple[list[Any], list[Any]] | None = None  # HiGHS basis at the end


#: HiGHS options for the node LPs of the branch-and-cut.
_LP_OPTIONS: dict[str, object] = {"threads": 1, "presolve": "off", "random_seed": 0}

#: Most LP solves (cut rounds) per branch-and-cut node.
_CUT_ROUNDS = 100


class _Master:
    """LP of the radius formulation projected on the sites and one cost per point.

    Columns: ``y_j`` for the allowed candidates and ``theta_i``, the cost of serving
    point ``i`` (between its cheapest and dearest allowed cost); objective
    ``sum_i w_i theta_i``.  Rows: ``sum_j y_j = p`` and Benders cuts
    ``theta_i + sum_j max(0, d - c_ij) y_j >= d`` for chosen points ``i`` and levels
    ``d`` (Duran-Mateluna, Ales & Elloumi 2023).  The cuts of all levels of a point give
    ``theta_i >= min_{j open} c_ij`` for 0/1 ``y`` and are the projection of the radius
    formulation's LP, so the LP with no violated cut left is the radius LP.
    """

    def __init__(self, cost: np.ndarray, weight: np.ndarray, p: int) -> None:
        import highspy

        self.cost = cost  # (m, k): costs to the allowed candidates
        self.weight = weight
        self.m, self.k = cost.shape
        self.p = p
        self.lo = cost.min(axis=1)
        self.hi = cost.max(axis=1)
        self.point = np.empty(0, dtype=np.int64)  # point of each cut, in row order
        self.level = np.empty(0)  # level d of each cut
        self.blocks: list[sp.csr_array] = []  # y-coefficients of the cuts, row blocks
        self._a: sp.csr_array | None = None
        self.basic = highspy.HighsBasisStatus.kBasic
        self.failed: list[str] = []  # statuses of failed node LP runs (retried)
        h = new_highs()
        for key, value in _LP_OPTIONS.items():
            h.setOptionValue(key, value)
        k, m = self.k, self.m
        h.addVars(k, np.zeros(k), np.ones(k))
        h.addVars(m, self.lo, self.hi)
        h.changeColsCost(m, np.arange(k, k + m, dtype=np.int32), weight.astype(np.float64))
        h.addRow(float(p), float(p), k, np.arange(k, dtype=np.int32), np.ones(k))
        self.h = h

    def _run(self, basis: tuple[list[Any], list[Any]] | None, cutoff: float) -> Any:
        """Run the LP as it stands (warm-started from ``basis``, stopping past ``cutoff``)
        and return its model status; a failed run is retried once on a fresh copy
        (:func:`~sim.siting.problem.rerun_fresh`), which then replaces the instance."""
        import highspy

        def prepare(h: Any) -> None:
            if basis is not None:
                hb = highspy.HighsBasis()
                hb.col_status = basis[0]
                hb.row_status = basis[1] + [self.basic] * (h.getNumRow() - len(basis[1]))
                hb.valid = True
                h.setBasis(hb)
            h.setOptionValue("objective_bound", cutoff)

        self.h, failed = rerun_fresh(self.h, options=_LP_OPTIONS, prepare=prepare)
        if failed is not None:
            self.failed.append(failed)
        return self.h.getModelStatus()

    def add(self, point: np.ndarray, level: np.ndarray) -> None:
        """Add the cut of each ``point[t]`` at ``level[t]``."""
        if point.size == 0:
            return
        ay = sp.csr_array(np.maximum(level[:, None] - self.cost[point], 0.0))
        r = point.size
        nnz = int(ay.nnz) + r
        ends = ay.indptr[1:] + np.arange(r)  # each row's theta entry comes last
        index = np.empty(nnz, dtype=np.int32)
        value = np.empty(nnz)
        mask = np.ones(nnz, dtype=bool)
        mask[ends] = False
        index[mask] = ay.indices
        value[mask] = ay.data
        index[ends] = point + self.k
        value[ends] = 1.0
        starts = (ay.indptr[:-1] + np.arange(r)).astype(np.int32)
        self.h.addRows(r, level.astype(np.float64), np.full(r, np.inf), nnz, starts, index, value)
        self.point = np.concatenate((self.point, point))
        self.level = np.concatenate((self.level, level))
        self.blocks.append(ay)
        self._a = None

    def separate(self, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The most violated cut of each point at ``(y, theta)``: points and levels.

        The cut of point ``i`` at level ``d`` reads ``d - sum_j max(0, d - c_ij) y_j``, a
        concave function of ``d`` that is largest at the first cost at which the ``y``
        of the candidates costing that much or less sum to 1.
        """
        support = np.flatnonzero(y > 1e-9)
        if support.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        sub = self.cost[:, support]
        order = np.argsort(sub, axis=1, kind="stable")
        ranked = np.take_along_axis(sub, order, axis=1)
        mass = np.cumsum(y[support][order], axis=1)
        first = np.where(mass[:, -1] >= 1.0 - 1e-9, np.argmax(mass >= 1.0 - 1e-9, axis=1), -1)
        level = ranked[np.arange(self.m), first]
        value = level - np.maximum(level[:, None] - sub, 0.0) @ y[support]
        point = np.flatnonzero(value > theta + 1e-7 * np.maximum(1.0, np.abs(level)))
        return point, level[point]

    def solve(
        self,
        ylo: np.ndarray,
        yhi: np.ndarray,
        *,
        basis: tuple[list[Any], list[Any]] | None,
        cutoff: float,
    ) -> _LpNode | None:
        """LP of the node ``ylo <= y <= yhi``; ``None`` if HiGHS fails on it.

        The dual simplex stops once its objective passes ``cutoff``.  ``basis`` (from an
        ancestor, with fewer cuts) warm-starts it.
        """
        import highspy

        k = self.k
        self.h.changeColsBounds(k, np.arange(k, dtype=np.int32), ylo, yhi)
        status = self._run(basis, cutoff)
        if status == highspy.HighsModelStatus.kObjectiveBound:
            node = self._bound(ylo, yhi)
            if node.bound > cutoff:
                return node
            status = self._run(None, math.inf)  # the safe bound disagrees
        if status == highspy.HighsModelStatus.kInfeasible:
            return _LpNode(math.inf, np.zeros(k), np.zeros(self.m), np.zeros(k))
        if status != highspy.HighsModelStatus.kOptimal:
            return None
        node = self._bound(ylo, yhi)
        hb = self.h.getBasis()
        node.basis = (list(hb.col_status), list(hb.row_status))
        return node

    def _bound(self, ylo: np.ndarray, yhi: np.ndarray) -> _LpNode:
        """Lower bound from HiGHS's current duals, recomputed in numpy.

        For any duals ``pi`` (those of the cuts clipped at 0) the reduced costs
        ``r = c - A'pi`` give ``b'pi + sum_x min(r_x lo_x, r_x hi_x)`` <= every value in
        the node (weak duality with the column bounds), whatever HiGHS's tolerances.
        """
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        row_dual = np.asarray(sol.row_dual, dtype=np.float64)
        if x.size != self.k + self.m:
            x = np.zeros(self.k + self.m)
        if row_dual.size != 1 + self.point.size:  # no duals: pi = 0 is still valid
            row_dual = np.zeros(1 + self.point.size)
        mu = float(row_dual[0])
        pi = np.maximum(row_dual[1:], 0.0)
        if self._a is None:
            if self.blocks:
                self._a = sp.csr_array(sp.vstack(self.blocks, format="csr"))
            else:
                self._a = sp.csr_array((0, self.k))
            self.blocks = [self._a]
        rc_y = -mu - self._a.T @ pi
        rc_t = self.weight - np.bincount(self.point, weights=pi, minlength=self.m)
        bound = (
            mu * self.p
            + float(pi @ self.level)
            + float(np.minimum(rc_y * ylo, rc_y * yhi).sum())
            + float(np.minimum(rc_t * self.lo, rc_t * self.hi).sum())
        )
        return _LpNode(bound, x[: self.k], x[self.k :], rc_y)


def _root_cuts(
    sub: np.ndarray, radius: np.ndarray, served: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First cuts: per point, its first level at or above its Lagrangian radius and at
    or above its incumbent cost (``theta_i >= D_i1`` is a column bound already)."""
    points: list[np.ndarray] = []
    levels: list[np.ndarray] = []
    for i in range(sub.shape[0]):
        v = np.unique(sub[i])
        at = int(np.searchsorted(v, radius[i]))
        pick = v[np.clip([at, np.searchsorted(v, served[i])], 0, v.size - 1)]
        pick = np.unique(pick[pick > v[0]])
        points.append(np.full(pick.size, i, dtype=np.int64))
        levels.append(pick)
    return np.concatenate(points), np.concatenate(levels)


#: One open node: site bounds ``ylo``, ``yhi``, its parent's bound and a warm-start basis.
_Open = tuple[np.ndarray, np.ndarray, float, tuple[list[Any], list[Any]] | None]


@dataclass
class _Tree:
    """Outcome of :func:`_branch_and_cut`."""

    sites: np.ndarray
    ub: float
    lower: float  # proven lower bound (``ub`` when the search finished)
    info: dict[str, object]


@dataclass(frozen=True)
class _TreeStart:
    """Where :func:`_branch_and_cut` starts: the incumbent ``sites`` of value ``ub``,
    the sites it may use (``allowed``) and must keep open (``opened``), bool over all
    candidates, and the Lagrangian multipliers ``lam`` (they place the first cuts)."""

    sites: np.ndarray
    ub: float
    allowed: np.ndarray
    opened: np.ndarray
    lam: np.ndarray


def _node_lp(
    master: _Master, ylo: np.ndarray, yhi: np.ndarray, *, basis: Any, cutoff: float
) -> tuple[_LpNode | None, int]:
    """A node's LP, re-solved with the most violated cut of every point until none is
    violated or the bound passes ``cutoff``; ``None`` if HiGHS fails.  Also returns the
    number of LP solves."""
    node: _LpNode | None = None
    solves = 0
    for _ in range(_CUT_ROUNDS):
        node = master.solve(ylo, yhi, basis=basis, cutoff=cutoff)
        basis = None
        solves += 1
        if node is None:
            return None, solves
        if node.bound > cutoff:
            break
        point, level = master.separate(node.y, node.theta)
        if point.size == 0:
            break
        master.add(point, level)
    return node, solves


def _rounded(
    inst: _Instance,
    rows: _SortedRows,
    sel: Selection,
    top: np.ndarray,
    *,
    best: tuple[np.ndarray, float],
    delta: float,
) -> tuple[np.ndarray, float]:
    """The incumbent after trying the node's rounding ``top`` (improved by local search
    when it beats the incumbent by ``delta`` or more)."""
    val = _total(inst, top)
    if val >= best[1]:
        return best
    if val >= best[1] - delta:
        return top, val
    cand = _local_search(inst, sel, top, rows)
    cval = _total(inst, cand)
    return (cand, cval) if cval < val else (top, val)


def _fix_by_reduced_cost(
    node: _LpNode, ylo: np.ndarray, yhi: np.ndarray, *, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds below the node: free sites whose reduced cost lifts the bound past
    ``cutoff`` when flipped are fixed (copies)."""
    free = (ylo < 0.5) & (yhi > 0.5)
    rc = node.rc
    ylo, yhi = ylo.copy(), yhi.copy()
    yhi[free & (rc > 0) & (node.bound + rc > cutoff)] = 0.0
    ylo[free & (rc < 0) & (node.bound - rc > cutoff)] = 1.0
    return ylo, yhi


def _branch_site(node: _LpNode, free: np.ndarray, *, weight: np.ndarray, sub: np.ndarray) -> int:
    """The free site with the largest ``min(y, 1 - y)`` times the saving its opening
    brings at the LP costs ``theta`` (the first free site if the LP is integral)."""
    frac = np.minimum(node.y, 1.0 - node.y)
    saving = weight @ np.maximum(node.theta[:, None] - sub, 0.0)
    score = np.where(free & (frac > 1e-6), frac * saving, -1.0)
    j = int(np.argmax(score))
    if score[j] < 0.0:  # integral LP solution not dropped: branch on a free site
        j = int(np.flatnonzero(free)[0])
    return j


def _branch_and_cut(
    inst: _Instance,
    rows: _SortedRows,
    start: _TreeStart,
    /,
    *,
    p: int,
    delta: float,
    deadline: float,
) -> _Tree | None:
    """Depth-first LP branch-and-cut on :class:`_Master` over the allowed sites.

    Each node re-solves its LP, adding the most violated cut of every point, until no
    cut is violated or the bound passes ``ub - delta`` (then the node is dropped).  The
    ``p`` largest ``y`` (improved by local search) may lower ``ub``; sites whose reduced
    cost passes ``ub - delta`` are fixed below the node; the node branches on the free
    site with the largest ``min(y, 1 - y)`` times the saving its opening would bring
    at the LP costs ``theta``, the open branch first.  ``start.opened`` sites stay open.
    Returns ``None`` if HiGHS fails on a node LP.
    """
    cost, w = inst.cost, inst.weight
    n = cost.shape[1]
    idx = np.flatnonzero(start.allowed)
    sub = np.ascontiguousarray(cost[:, idx])
    master = _Master(sub, w, p)
    master.add(*_root_cuts(sub, start.lam / w, cost[:, start.sites].min(axis=1)))
    sel = Selection(p=p, budget=None, forced=np.flatnonzero(start.opened), charged=np.zeros(n))
    best, best_val = start.sites, start.ub
    stack: list[_Open] = [
        (start.opened[idx].astype(np.float64), np.ones(idx.size), -math.inf, None)
    ]
    nodes = lp_solves = 0
    root_bound = math.nan
    floor = math.inf  # least bound of the nodes left unexplored (time limit)
    while stack:
        ylo, yhi, parent, basis = stack.pop()
        if parent > best_val - delta:
            continue
        if time.perf_counter() > deadline:
            floor = min([parent] + [entry[2] for entry in stack])
            break
        nodes += 1
        if ylo.sum() > p + 0.5 or yhi.sum() < p - 0.5:
            continue
        node, solves = _node_lp(master, ylo, yhi, basis=basis, cutoff=best_val - delta)
        lp_solves += solves
        if node is None:
            return None
        if nodes == 1:
            root_bound = node.bound
        if node.bound > best_val - delta:
            continue
        top = idx[np.argsort(-node.y, kind="stable")[:p]]  # rounding
        best, best_val = _rounded(inst, rows, sel, top, best=(best, best_val), delta=delta)
        if node.bound > best_val - delta:
            continue
        ylo, yhi = _fix_by_reduced_cost(node, ylo, yhi, cutoff=best_val - delta)
        free = (ylo < 0.5) & (yhi > 0.5)
        if not free.any():  # every site fixed: one solution left
            last = idx[ylo > 0.5]
            if last.size == p and (val := _total(inst, last)) < best_val:
                best, best_val = last, val
            continue
        j = _branch_site(node, free, weight=w, sub=sub)
        up_lo = ylo.copy()
        up_lo[j] = 1.0
        down_hi = yhi.copy()
        down_hi[j] = 0.0
        stack.append((ylo, down_hi, node.bound, node.basis))
        stack.append((up_lo, yhi, node.bound, None))  # HiGHS holds this node's basis
    info: dict[str, object] = {
        "bc_candidates": int(idx.size),
        "bc_root_bound": root_bound,
        "bc_nodes": nodes,
        "bc_lp_solves": lp_solves,
        "bc_cuts": int(master.point.size),
    }
    if master.failed:
        info["bc_lp_retries"] = list(master.failed)
    return _Tree(best, best_val, min(floor, best_val), info)


#: HiGHS options for the reduced radius MILP (the incumbent is usually optimal already).
_MIP_OPTIONS: dict[str, object] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_pscost_minreliable": 0,
}


@dataclass
class _MilpStart:
    """The incumbent ``best`` (value ``ub``) and what the radius MILP may use: the
    ``allowed`` sites, the sites kept ``opened`` and each point's cost ``radius`` that
    places its first level cut."""

    best: np.ndarray
    ub: float
    allowed: np.ndarray
    opened: np.ndarray
    radius: np.ndarray


#: An exact solve's answer: sites, proven optimal, relative gap, statistics.
_Answer = tuple[np.ndarray, bool, float, dict[str, object]]


def _lagrangian_then_tree(
    inst: _Instance,
    rows: _SortedRows,
    state: _MilpStart,
    /,
    *,
    p: int,
    t0: float,
    time_limit: float,
    mip_gap: float,
    info: dict[str, object],
) -> _Answer | _MilpStart:
    """Steps 2-3: the Lagrangian search (40 % of the time limit), then the
    branch-and-cut.  Returns the answer, or (HiGHS failed on a node LP) where the radius
    MILP starts."""
    cost, w = inst.cost, inst.weight
    delta = _improvement(inst, state.ub, mip_gap)
    search = _lagrangian_search(
        inst,
        rows,
        p,
        state.best,
        state.ub,
        forced=np.flatnonzero(state.opened),
        delta=delta,
        deadline=t0 + 0.4 * time_limit,
    )
    best, ub = search.sites, search.ub
    info.update(search.info)
    t_lagrangian = time.perf_counter()
    info["lagrangian_s"] = round(t_lagrangian - t0, 3)
    if search.proved:
        return best, True, 0.0, info
    start = _TreeStart(
        sites=best,
        ub=ub,
        allowed=~search.closed,
        opened=search.opened | state.opened,
        lam=search.lam,
    )
    tree = _branch_and_cut(inst, rows, start, p=p, delta=delta, deadline=t0 + time_limit)
    info["bc_s"] = round(time.perf_counter() - t_lagrangian, 3)
    if tree is None:  # HiGHS failed on a node LP: the MILP takes over
        radius = np.maximum(cost[:, best].min(axis=1), search.lam / w)
        return _MilpStart(best, ub, start.allowed, start.opened, radius)
    info.update(tree.info)
    if tree.lower >= tree.ub:
        info["closed_by"] = "branch-and-cut"
        return tree.sites, True, 0.0, info
    if not math.isfinite(tree.lower):  # stopped before the root LP
        return tree.sites, False, math.nan, info
    gap = (tree.ub - tree.lower) / abs(tree.ub) if tree.ub != 0 else 0.0
    return tree.sites, False, max(gap, 0.0), info


def _radius_milp(
    inst: _Instance,
    sel: Selection,
    state: _MilpStart,
    /,
    *,
    exact_p: bool,
    deadline: float,
    mip_gap: float,
    info: dict[str, object],
) -> _Answer:
    """Step 4: the radius formulation over the allowed sites in HiGHS, its levels
    extended (and solved again) until no point is served beyond its last level."""
    cost = inst.cost
    m = cost.shape[0]
    best, ub, opened = state.best, state.ub, state.opened
    info["milp_candidates"] = int(state.allowed.sum())
    delta = _improvement(inst, ub, mip_gap)
    allowed_idx = np.flatnonzero(state.allowed)
    values, cap = _radius_model(inst, sel, state.allowed, opened, exact_p=exact_p)
    cut = np.array(
        [
            int(np.searchsorted(v, r, side="right"))
            for v, r in zip(values, state.radius, strict=True)
        ]
    )
    cut = np.minimum(cut + 1, cap)
    solves = 0
    while True:
        obj, a, lo, hi, clo, cup = _build(
            inst,
            sel,
            allowed_idx,
            values,
            cut,
            exact_p=exact_p,
            lower=opened[allowed_idx].astype(np.float64),
        )
        integer = np.zeros(obj.size, dtype=bool)
        integer[: allowed_idx.size] = True
        x0 = _start_vector(inst, allowed_idx, values, cut, best)
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            info["milp_solves"] = solves
            return best, False, math.nan, info
        sol = solve_milp(
            MilpModel(obj, a, lo, hi, col_lower=clo, col_upper=cup, integer=integer),
            name="p-median radius MILP",
            start=x0,
            time_limit=remaining,
            mip_gap=mip_gap,
            objective_cutoff=ub - delta,
            options={**_MIP_OPTIONS, "mip_abs_gap": float(delta)},
        )
        solves += 1
        info["milp_solves"] = solves
        info["milp_columns"], info["milp_rows"] = int(a.shape[1]), int(a.shape[0])
        if sol.x is None:
            if sol.status == "Infeasible":  # nothing beats ub - delta: ub is optimal
                return best, True, 0.0, info
            return best, False, math.nan, info
        sites = allowed_idx[sol.x[: allowed_idx.size] > 0.5]
        val = _total(inst, sites)
        if val < ub:
            best, ub = sites, val
        served = cost[:, sites].min(axis=1) if sites.size else np.full(m, inst.big)
        top = np.array([v[k] for v, k in zip(values, cut, strict=True)])
        beyond = (served > top + 1e-9 * np.maximum(1.0, np.abs(top))) & (cut < cap)
        if not beyond.any():
            if sol.optimal:
                return best, True, 0.0, info
            gap = (ub - sol.bound) / abs(ub) if ub != 0 else 0.0
            return best, False, max(gap, 0.0), info
        idx = np.flatnonzero(beyond)
        need = np.array([int(np.searchsorted(values[i], served[i])) for i in idx])
        cut[idx] = np.minimum(np.maximum(need, 2 * cut[idx]) + 1, cap[idx])


def _exact(
    inst: _Instance,
    sel: Selection,
    rows: _SortedRows,
    start: np.ndarray,
    *,
    exact_p: bool,
    time_limit: float,
    mip_gap: float,
    lagrangian: bool = True,
) -> _Answer:
    """Lagrangian search, then (if unproven) the branch-and-cut (exactly ``p``, no
    budget) or the reduced radius MILP in HiGHS.

    Returns the sites, whether they are proven optimal, the relative gap and statistics.
    """
    t0 = time.perf_counter()
    m, n = inst.cost.shape
    info: dict[str, object] = {}
    opened = np.zeros(n, dtype=bool)
    opened[sel.forced] = True
    radius = inst.cost[:, start].min(axis=1) if start.size else np.full(m, inst.big)
    state = _MilpStart(start, _total(inst, start), np.ones(n, dtype=bool), opened, radius)
    if exact_p and sel.p is not None and lagrangian:
        done = _lagrangian_then_tree(
            inst,
            rows,
            state,
            p=sel.p,
            t0=t0,
            time_limit=time_limit,
            mip_gap=mip_gap,
            info=info,
        )
        if not isinstance(done, _MilpStart):
            return done
        state = done
    return _radius_milp(
        inst, sel, state, exact_p=exact_p, deadline=t0 + time_limit, mip_gap=mip_gap, info=info
    )


# --------------------------------------------------------------------------------------
# Registered models.


def _common(problem: SitingProblem, params: Params) -> tuple[_Instance, Selection, bool]:
    sel = read_selection(problem, params)
    exact_p = sel.p is not None and sel.budget is None
    return _instance(problem), sel, exact_p


def _result(
    problem: SitingProblem,
    inst: _Instance,
    sites: np.ndarray,
    *,
    optimal: bool,
    gap: float,
    model: str,
    params: dict[str, object],
) -> SitingResult:
    chosen = sorted_sites(sites)
    params["unreachable_demand"] = inst.unreachable.tolist()
    return SitingResult(
        sites=chosen,
        objective=pmedian_objective(problem, chosen),
        optimal=optimal,
        gap=gap,
        time_s=0.0,
        model=model,
        params=params,
    )


@register(
    "p-median",
    needs=Needs(count="required", budget=True, keep_existing=True),
    options={"time_limit": 600.0, "mip_gap": 1e-6, "heuristic_iterations": 20, "lagrangian": True},
)
def pmedian_exact(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Exact p-median (Lagrangian fixing, LP branch-and-cut or HiGHS radius MILP).

    See the module docstring for the method.

    Parameters
    ----------
    problem
        The instance; ``cost`` is the per-unit-demand cost (e.g. minutes).
    rng
        Used only by the warm-start heuristic (default: a fixed seed).
    **params
        ``p`` (int) and/or ``budget`` (CNY), ``keep_existing`` (bool, default False),
        ``time_limit`` (s, default 600), ``mip_gap`` (relative, default 1e-6),
        ``heuristic_iterations`` (warm-start perturbation rounds, default 20),
        ``lagrangian`` (bool, default True; False = straight to the HiGHS MILP).

    Returns
    -------
    SitingResult
        ``objective`` = weighted cost (unit of cost x unit of weight).  ``params`` adds
        ``unreachable_demand`` and solver statistics (``lagrangian_bound``,
        ``candidates_after_fixing``, ``fixed_open``, ``closed_by``, ``lagrangian_s``;
        branch-and-cut: ``bc_candidates``, ``bc_root_bound``, ``bc_nodes``,
        ``bc_lp_solves``, ``bc_cuts``, ``bc_s``; MILP: ``milp_*``).
    """
    pr = Params("p-median", params)
    inst, sel, exact_p = _common(problem, pr)
    time_limit = pr.number(
        "time_limit", 600.0, low=0.0, low_inclusive=False, expected="seconds > 0"
    )
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    iters = pr.integer("heuristic_iterations", 20, low=0, high=10**6, expected="an integer >= 0")
    use_lagrangian = pr.flag("lagrangian", True)
    effective = pr.finish()
    gen = resolve_rng("p-median", rng, required=False)
    if inst.weight.size == 0:
        sites = _greedy(inst, sel, _SortedRows(inst.cost, inst.weight), exact_p=exact_p)
        return _result(
            problem, inst, sites, optimal=True, gap=0.0, model="p-median", params=effective
        )
    rows = _SortedRows(inst.cost, inst.weight)
    start = _heuristic(
        inst, sel, rows, exact_p=exact_p, rng=gen, iterations=int(iters or 0), time_limit=None
    )
    sites, optimal, gap, info = _exact(
        inst,
        sel,
        rows,
        start,
        exact_p=exact_p,
        time_limit=float(time_limit or 600.0),
        mip_gap=float(mip_gap or 0.0),
        lagrangian=use_lagrangian,
    )
    effective.update(info)
    if not optimal:
        effective["unproven"] = "time limit: the best plan found, not proven optimal"
    return _result(
        problem, inst, sites, optimal=optimal, gap=gap, model="p-median", params=effective
    )


@register(
    "p-median-heuristic",
    needs=Needs(count="required", budget=True, keep_existing=True),
    options={"iterations": 100, "time_limit": None},
)
def pmedian_heuristic(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Greedy + fast-interchange vertex substitution + iterated local search.

    Parameters
    ----------
    problem
        The instance.
    rng
        Draws the perturbations (default: a fixed seed, so results repeat).
    **params
        ``p`` and/or ``budget``, ``keep_existing``, ``iterations`` (perturbation rounds,
        default 100; 0 = plain greedy + local search), ``time_limit`` (s, default none).
    """
    pr = Params("p-median-heuristic", params)
    inst, sel, exact_p = _common(problem, pr)
    iters = pr.integer("iterations", 100, low=0, high=10**6, expected="an integer >= 0")
    time_limit = pr.number("time_limit", None, low=0.0, low_inclusive=False, expected="seconds > 0")
    effective = pr.finish()
    gen = resolve_rng("p-median-heuristic", rng, required=False)
    rows = _SortedRows(inst.cost, inst.weight)
    sites = _heuristic(
        inst, sel, rows, exact_p=exact_p, rng=gen, iterations=int(iters or 0), time_limit=time_limit
    )
    return _result(
        problem,
        inst,
        sites,
        optimal=False,
        gap=math.nan,
        model="p-median-heuristic",
        params=effective,
    )
