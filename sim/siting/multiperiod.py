"""Multi-period (look-ahead) siting: one MILP over every phase of a phased plan.

A phased plan opens sites in phases ``t = 0..T-1`` against a demand that changes from
phase to phase; a site opened in phase ``t`` stays open in ``t+1..T-1``.  Planning each
phase on its own (myopic) can open early sites that suit the early demand and not the
later one.  The models here choose every phase's new sites at once, in HiGHS:

``multiperiod_pmedian``
    ``y_jt`` = 1 if site ``j`` is open in phase ``t``; ``x_ijt`` the share of demand row
    ``i`` served by ``j`` in phase ``t``; ``u_it`` the share served by no open site::

        min  sum_t w_t sum_i d_it ( sum_j c_ijt x_ijt + U u_it )
        s.t. sum_j x_ijt + u_it = 1,      x_ijt <= y_jt   (c_ijt finite)
             y_j,t-1 <= y_jt                               (built sites stay)
             sum_j y_jt - sum_j y_j,t-1 = k_t              (count of new sites), or
             sum_j s_j (y_jt - y_j,t-1) <= B_t             (budget of the phase)
             y_j0 = 1 for the sites open before the first phase

    ``w_t`` is the phase's weight (``phases[].weight``, default 1: every phase counts
    the same), ``d_it`` the demand of row ``i`` in phase ``t`` (sessions per day),
    ``c_ijt`` the access cost (minutes), ``s_j`` a new site's money (CNY).  ``U``, the
    cost of demand no open site reaches, defaults to twice the largest finite cost (an
    assumption, ``unreached_cost``): large enough that reaching demand pays, without the
    p-median's ``serve everyone first`` penalty dominating the reported figure.

``multiperiod_mclp``
    The same nested sites; ``z_it`` the share of row ``i`` within ``radius`` of an open
    site in phase ``t``::

        max  sum_t w_t sum_i d_it z_it,    z_it <= sum_{j: c_ijt <= radius} y_jt

Each phase's single-period figure (:func:`phase_pmedian_cost`,
:func:`phase_covered`) is what the multi-period objective sums, so a myopic plan's
nested sites, scored by the same functions, are a feasible solution of the same model:
the look-ahead optimum is never worse on this objective.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from sim.errors import SolverError, SolverInputError
from sim.siting.problem import MilpModel, solve_milp

__all__ = [
    "MultiPeriodResult",
    "PhaseLimits",
    "multiperiod_mclp",
    "multiperiod_pmedian",
    "phase_covered",
    "phase_pmedian_cost",
    "unreached_cost_of",
]


@dataclass(frozen=True)
class MultiPeriodResult:
    """A multi-period plan.

    Attributes
    ----------
    sites
        Per phase, the sorted int64 candidate indices open in that phase (each phase's
        set contains the previous one's).
    objective
        The weighted sum over phases (p-median: demand-weighted minutes; mclp: covered
        demand, sessions per day).
    phase_objective
        Each phase's unweighted single-period figure.
    optimal, gap
        HiGHS proved optimality within ``mip_gap``; its relative gap.
    time_s
        Wall time of the solve (s).
    """

    sites: tuple[np.ndarray, ...]
    objective: float
    phase_objective: tuple[float, ...]
    optimal: bool
    gap: float
    time_s: float


def unreached_cost_of(costs: Sequence[np.ndarray], /) -> float:
    """Default cost of demand no open site reaches: twice the largest finite cost
    (minutes) over every phase (1.0 when nothing is finite)."""
    finite = [float(c[np.isfinite(c)].max()) for c in costs if np.isfinite(c).any()]
    return 2.0 * max(finite) if finite else 1.0


def phase_pmedian_cost(
    cost: np.ndarray, weight: np.ndarray, sites: np.ndarray, /, *, unreached_cost: float
) -> float:
    """One phase's demand-weighted cost (weight x min), each row at its nearest open
    site, ``unreached_cost`` where none is reachable."""
    sites = np.asarray(sites, dtype=np.int64)
    if sites.size == 0:
        best = np.full(cost.shape[0], np.inf)
    else:
        best = cost[:, sites].min(axis=1)
    best = np.where(np.isfinite(best), best, unreached_cost)
    return float(np.dot(weight, best))


def phase_covered(
    cost: np.ndarray, weight: np.ndarray, sites: np.ndarray, /, *, radius: float
) -> float:
    """One phase's demand (unit of weight) within ``radius`` of an open site."""
    sites = np.asarray(sites, dtype=np.int64)
    if sites.size == 0:
        return 0.0
    return float(weight[(cost[:, sites] <= radius).any(axis=1)].sum())


@dataclass(frozen=True)
class PhaseLimits:
    """What each phase may open.

    Attributes
    ----------
    new_sites
        Per phase, the number of sites to open in it (``None``: only the budget limits).
    budgets
        Per phase, the money for its new sites (CNY; ``None``: only the count limits);
        with both, the count is a maximum.  Default: no budgets.
    site_cost
        ``(n_candidates,)`` money of a new site with its ports (CNY); default 0.
    fixed_open
        Candidates open before the first phase (kept; cost nothing against a budget).
    phase_weight
        Per phase, its weight in the objective (default 1 each).
    """

    new_sites: Sequence[int | None]
    budgets: Sequence[float | None] | None = None
    site_cost: np.ndarray | None = None
    fixed_open: np.ndarray | None = None
    phase_weight: Sequence[float] | None = None


@dataclass(frozen=True)
class _Nested:
    """The checked inputs shared by both models."""

    n_sites: int
    n_phases: int
    new_sites: tuple[int | None, ...]
    budgets: tuple[float | None, ...]
    site_cost: np.ndarray
    fixed_open: np.ndarray
    phase_weight: np.ndarray


def _nested(
    costs: Sequence[np.ndarray], weights: Sequence[np.ndarray], limits: PhaseLimits
) -> _Nested:
    t_n = len(costs)
    if t_n == 0 or len(weights) != t_n:
        raise SolverInputError(
            f"multi-period: got {t_n} cost matrices and {len(weights)} weight vectors; "
            "expected one of each per phase (at least one phase)"
        )
    n = int(costs[0].shape[1])
    for t, (c, w) in enumerate(zip(costs, weights, strict=True)):
        if c.ndim != 2 or c.shape[1] != n or w.shape != (c.shape[0],):
            raise SolverInputError(
                f"multi-period: phase {t}: cost {c.shape} and weight {w.shape}; expected "
                f"(n_rows, {n}) and (n_rows,)"
            )
    new_sites = tuple(limits.new_sites)
    bud = tuple(limits.budgets) if limits.budgets is not None else (None,) * t_n
    if len(new_sites) != t_n or len(bud) != t_n:
        raise SolverInputError("multi-period: give new_sites and budgets for every phase")
    for t, (k, b) in enumerate(zip(new_sites, bud, strict=True)):
        if k is None and b is None:
            raise SolverInputError(f"multi-period: phase {t}: give a count or a budget")
    sc = np.zeros(n) if limits.site_cost is None else np.asarray(limits.site_cost, dtype=float)
    raw: Any = [] if limits.fixed_open is None else limits.fixed_open
    fixed = np.unique(np.asarray(raw, dtype=np.int64))
    pw = np.ones(t_n) if limits.phase_weight is None else np.asarray(limits.phase_weight, float)
    if pw.shape != (t_n,) or (pw <= 0).any():
        raise SolverInputError(
            f"multi-period: phase_weight {pw.tolist()}: expected {t_n} values > 0"
        )
    return _Nested(n, t_n, new_sites, bud, sc, fixed, pw)


def _site_rows(nest: _Nested, n_col: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows of the ``y`` block (columns ``t * n + j``): nesting, counts, budgets."""
    n, t_n = nest.n_sites, nest.n_phases
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    for t in range(1, t_n):  # y_j,t-1 <= y_jt
        for j in range(n):
            add([(t * n + j, 1.0), ((t - 1) * n + j, -1.0)], 0.0, np.inf)
    for t in range(t_n):
        prev = [((t - 1) * n + j, -1.0) for j in range(n)] if t else []
        base = 0.0 if t else float(nest.fixed_open.size)
        k, b = nest.new_sites[t], nest.budgets[t]
        if k is not None:
            low = base + k if b is None else -np.inf
            add([(t * n + j, 1.0) for j in range(n)] + prev, low, base + k)
        if b is not None:
            spend = [(t * n + j, float(nest.site_cost[j])) for j in range(n)]
            back = [(c, v * float(nest.site_cost[c % n])) for c, v in prev]
            fixed_cost = 0.0 if t else float(nest.site_cost[nest.fixed_open].sum())
            add(spend + back, -np.inf, b + fixed_cost)
    a = sp.csr_array((vals, (rows, cols)), shape=(len(lo), n_col))
    return a, np.array(lo), np.array(hi)


def _site_bounds(nest: _Nested) -> tuple[np.ndarray, np.ndarray]:
    lower = np.zeros(nest.n_sites * nest.n_phases)
    for t in range(nest.n_phases):
        lower[t * nest.n_sites + nest.fixed_open] = 1.0
    return lower, np.ones_like(lower)


def _solve(
    model: MilpModel, nest: _Nested, *, name: str, time_limit: float | None, mip_gap: float
) -> tuple[tuple[np.ndarray, ...], bool, float, float]:
    """Solve and read the nested site sets; refuse an infeasible model."""
    start = time.perf_counter()
    sol = solve_milp(model, name=name, time_limit=time_limit, mip_gap=mip_gap)
    if sol.x is None:
        raise SolverError(
            f"{name}: no feasible plan ({sol.status}); the counts or budgets of the phases "
            f"cannot be met with {nest.n_sites} candidate sites"
        )
    n = nest.n_sites
    y = sol.x[: n * nest.n_phases].reshape(nest.n_phases, n)
    sites = tuple(np.flatnonzero(row > 0.5).astype(np.int64) for row in y)
    return sites, sol.optimal, float(sol.gap), time.perf_counter() - start


def multiperiod_pmedian(
    costs: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    /,
    *,
    limits: PhaseLimits,
    unreached_cost: float | None = None,
    time_limit: float | None = 600.0,
    mip_gap: float = 1e-6,
) -> MultiPeriodResult:
    """The multi-period p-median (module docstring), exact in HiGHS.

    Parameters
    ----------
    costs
        Per phase, ``(n_rows, n_candidates)`` access cost (minutes; ``inf``: out of reach).
    weights
        Per phase, ``(n_rows,)`` demand (sessions per day).
    limits
        Counts, budgets, site costs, the sites open before the first phase and the
        phases' weights (:class:`PhaseLimits`).
    unreached_cost
        Cost (minutes) of demand no open site reaches; default
        :func:`unreached_cost_of`.
    time_limit, mip_gap
        HiGHS limits (s; relative gap).

    Raises
    ------
    SolverInputError
        Shapes that do not match, a phase without a count or budget.
    SolverError
        No nested plan meets the counts and budgets.
    """
    nest = _nested(costs, weights, limits)
    big = unreached_cost_of(costs) if unreached_cost is None else float(unreached_cost)
    n, t_n = nest.n_sites, nest.n_phases
    n_y = n * t_n
    obj = [np.zeros(n_y)]
    link_r: list[np.ndarray] = []
    link_c: list[np.ndarray] = []
    assign: list[tuple[np.ndarray, np.ndarray]] = []  # per phase: (row of x, col of u)
    col = n_y
    for t in range(t_n):
        c, w = np.asarray(costs[t], float), np.asarray(weights[t], float)
        keep = np.flatnonzero(w > 0)
        ii, jj = np.nonzero(np.isfinite(c[keep]))
        obj.append(nest.phase_weight[t] * w[keep][ii] * c[keep][ii, jj])
        obj.append(nest.phase_weight[t] * w[keep] * big)
        x_cols = col + np.arange(ii.size)
        u_cols = col + ii.size + np.arange(keep.size)
        link_r.append(x_cols)
        link_c.append(t * n + jj)
        assign.append((ii, x_cols))
        assign.append((np.arange(keep.size), u_cols))
        col += ii.size + keep.size
    n_col = col
    blocks, lo, hi = [], [], []
    sites_a, s_lo, s_hi = _site_rows(nest, n_col)
    blocks.append(sites_a)
    lo.append(s_lo)
    hi.append(s_hi)
    row0 = 0
    for t in range(t_n):  # sum_j x_ijt + u_it = 1
        (ii, xc), (ui, uc) = assign[2 * t], assign[2 * t + 1]
        m = ui.size
        a = sp.csr_array(
            (np.ones(xc.size + uc.size), (np.concatenate([ii, ui]), np.concatenate([xc, uc]))),
            shape=(m, n_col),
        )
        blocks.append(a)
        lo.append(np.ones(m))
        hi.append(np.ones(m))
        row0 += m
    xs, ys = np.concatenate(link_r), np.concatenate(link_c)  # x_ijt - y_jt <= 0
    k = xs.size
    blocks.append(
        sp.csr_array(
            (
                np.concatenate([np.ones(k), -np.ones(k)]),
                (np.tile(np.arange(k), 2), np.concatenate([xs, ys])),
            ),
            shape=(k, n_col),
        )
    )
    lo.append(np.full(k, -np.inf))
    hi.append(np.zeros(k))
    y_lo, y_hi = _site_bounds(nest)
    model = MilpModel(
        c=np.concatenate(obj),
        a=sp.csr_array(sp.vstack(blocks)),
        row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi),
        col_lower=np.concatenate([y_lo, np.zeros(n_col - n_y)]),
        col_upper=np.concatenate([y_hi, np.ones(n_col - n_y)]),
        integer=np.arange(n_col) < n_y,
    )
    sites, optimal, gap, secs = _solve(
        model, nest, name="multi-period p-median", time_limit=time_limit, mip_gap=mip_gap
    )
    per = tuple(
        phase_pmedian_cost(np.asarray(costs[t], float), np.asarray(weights[t], float), sites[t],
                           unreached_cost=big)
        for t in range(t_n)
    )  # fmt: skip
    return MultiPeriodResult(
        sites=sites,
        objective=float(np.dot(nest.phase_weight, per)),
        phase_objective=per,
        optimal=optimal,
        gap=gap,
        time_s=secs,
    )


def multiperiod_mclp(
    costs: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    /,
    *,
    radius: float,
    limits: PhaseLimits,
    time_limit: float | None = 600.0,
    mip_gap: float = 1e-6,
) -> MultiPeriodResult:
    """The multi-period maximal covering model (module docstring), exact in HiGHS.

    Parameters are those of :func:`multiperiod_pmedian`, and ``radius``: the coverage
    radius (unit of cost, minutes).  The objective is covered demand (maximised).
    """
    nest = _nested(costs, weights, limits)
    n, t_n = nest.n_sites, nest.n_phases
    n_y = n * t_n
    obj = [np.zeros(n_y)]
    cover: list[tuple[int, sp.csr_array, int]] = []
    col = n_y
    for t in range(t_n):
        c, w = np.asarray(costs[t], float), np.asarray(weights[t], float)
        keep = np.flatnonzero((w > 0) & (c <= radius).any(axis=1))
        obj.append(nest.phase_weight[t] * w[keep])
        within = sp.csr_array((c[keep] <= radius).astype(float))
        cover.append((t, within, col))
        col += keep.size
    n_col = col
    blocks, lo, hi = [], [], []
    sites_a, s_lo, s_hi = _site_rows(nest, n_col)
    blocks.append(sites_a)
    lo.append(s_lo)
    hi.append(s_hi)
    for t, within, first in cover:
        m = within.shape[0]
        wc = within.tocoo()
        rows = np.concatenate([np.arange(m), wc.row])
        cols = np.concatenate([first + np.arange(m), t * n + wc.col])
        vals = np.concatenate([np.ones(m), -np.ones(wc.nnz)])
        blocks.append(sp.csr_array((vals, (rows, cols)), shape=(m, n_col)))  # z - sum y <= 0
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
    y_lo, y_hi = _site_bounds(nest)
    model = MilpModel(
        c=np.concatenate(obj),
        a=sp.csr_array(sp.vstack(blocks)),
        row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi),
        col_lower=np.concatenate([y_lo, np.zeros(n_col - n_y)]),
        col_upper=np.concatenate([y_hi, np.ones(n_col - n_y)]),
        integer=np.arange(n_col) < n_y,
        maximize=True,
    )
    sites, optimal, gap, secs = _solve(
        model, nest, name="multi-period mclp", time_limit=time_limit, mip_gap=mip_gap
    )
    per = tuple(
        phase_covered(np.asarray(costs[t], float), np.asarray(weights[t], float), sites[t],
                      radius=radius)
        for t in range(t_n)
    )  # fmt: skip
    return MultiPeriodResult(
        sites=sites,
        objective=float(np.dot(nest.phase_weight, per)),
        phase_objective=per,
        optimal=optimal,
        gap=gap,
        time_s=secs,
    )
