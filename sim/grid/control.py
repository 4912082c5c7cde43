"""Home charging control per compound: uncontrolled, or ordered (有序充电) by linear programs.

*Uncontrolled*: each EV draws its full power from the minute it plugs in until its energy
is delivered or it leaves.  The transformer is no constraint: loading above 100% is
measured, not prevented.

*Ordered*: per compound, the charging power ``x[s, k] >= 0`` (kW, mean over step ``k``)
of each plug-in ``s`` within its stay is chosen, lexicographically,

1. to deliver the most energy: ``sum_k x[s, k] dt <= energy[s]``, ``x[s, k] <= power[s]
   x (share of step k the EV is plugged in)``, and in every step ``sum_s x[s, k] <=
   headroom[k] = max(limit_kw - base_kw[k], 0)``;
2. among those, at the least tariff cost ``sum price[k] x[s, k] dt`` (the valley first);
3. among those, with the flattest load: the sum over tariff periods (maximal runs of
   steps with one price, e.g. each night's valley) of the period's peak of base plus
   home load (valley filling).

Steps 1 and 2 are one LP: maximise ``sum (M - price[k]) x dt`` with ``M`` above every
price.  Every unit of energy is worth more than any price, and a schedule delivering
less than the maximum always has an augmenting path (a flow problem: plug-ins to steps)
that adds energy at one step only, at a net gain of ``M - price > 0``; so the optimum
delivers the maximum, and among maximal schedules it is the cheapest.  Step 3 adds a
small weight per kW of period peak to that LP; its answer is accepted only when it is
certified optimal for steps 1 and 2 by the first LP's value (to a relative 1e-9), else a
third LP holds that value and minimises the peaks (:func:`_solve`).  All are solved
exactly by HiGHS (``scipy.optimize.linprog``); a solve that does not report optimality
raises :class:`~sim.errors.SolverFailure`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sim.demand.home import HomeSessions
from sim.errors import SolverFailure
from sim.grid.compounds import STEP_MIN, Compounds

__all__ = ["Schedule", "ordered", "tariff_runs", "uncontrolled", "windows"]

#: Hours per step.
DT_H = STEP_MIN / 60.0
#: Relative tolerance on the value of criteria 1 and 2 when step 3 is solved.
_HOLD = 1e-9


@dataclass(frozen=True)
class Schedule:
    """Home charging load of a control rule.

    Attributes
    ----------
    home_kw
        float64 ``(n_compounds, n_steps)`` home charging load (kW, mean over each step).
    delivered_kwh
        float64 per plug-in: energy delivered before it leaves (kWh, ``<= energy_kwh``).
    solve_s
        Wall time of the computation (s).
    """

    home_kw: np.ndarray
    delivered_kwh: np.ndarray
    solve_s: float


def windows(
    start_min: np.ndarray, end_min: np.ndarray, /, *, n_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The steps each interval ``[start, end)`` covers on the periodic horizon.

    Returns
    -------
    tuple
        ``(row, step, share)``: the interval's index, the step (wrapped onto the
        horizon) and the share of the step the interval covers (0-1], one entry per
        interval and step; intervals of zero length have none.
    """
    k0 = np.floor(start_min / STEP_MIN).astype(np.int64)
    k1 = np.ceil(end_min / STEP_MIN).astype(np.int64)
    count = np.maximum(k1 - k0, 0)
    row = np.repeat(np.arange(start_min.shape[0]), count)
    offsets = np.arange(row.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    k = k0[row] + offsets
    lo = np.maximum(start_min[row], k * STEP_MIN)
    hi = np.minimum(end_min[row], (k + 1) * STEP_MIN)
    share = (hi - lo) / STEP_MIN
    keep = share > 1e-12
    return row[keep], (k[keep] % n_steps), share[keep]


def uncontrolled(sessions: HomeSessions, /, *, n_compounds: int, n_steps: int) -> Schedule:
    """Every EV at full power from plug-in until full or gone (kW per compound and step)."""
    t0 = time.perf_counter()
    dwell = sessions.depart_min - sessions.arrive_min
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(sessions.power_kw > 0, sessions.energy_kwh / sessions.power_kw, 0.0)
    end = sessions.arrive_min + np.minimum(dwell, full * 60.0)
    row, step, share = windows(sessions.arrive_min, end, n_steps=n_steps)
    flat = sessions.zone[row].astype(np.int64) * n_steps + step
    home = np.bincount(
        flat, weights=sessions.power_kw[row] * share, minlength=n_compounds * n_steps
    )
    delivered = np.minimum(sessions.energy_kwh, sessions.power_kw * dwell / 60.0)
    return Schedule(
        home_kw=home.reshape(n_compounds, n_steps),
        delivered_kwh=delivered,
        solve_s=time.perf_counter() - t0,
    )


def tariff_runs(prices: np.ndarray, /) -> np.ndarray:
    """Run id of each step: maximal runs of one price on the periodic horizon (the last
    run joins the first when they have the same price)."""
    change = np.r_[0, (np.diff(prices) != 0).astype(np.int64)]
    run = np.cumsum(change)
    if run[-1] > 0 and prices[0] == prices[-1]:
        run[run == run[-1]] = 0
    return run


def ordered(sessions: HomeSessions, comp: Compounds, /, *, prices: np.ndarray) -> Schedule:
    """Ordered charging: per compound, the two LPs of the module docstring.

    Parameters
    ----------
    sessions
        Home plug-ins (:func:`sim.demand.home.home_sessions`).
    comp
        The compounds (:func:`sim.grid.compounds.compounds`).
    prices
        float64 ``(n_steps,)`` energy price of each step (CNY/kWh,
        :func:`sim.grid.tariff.step_prices`).
    """
    t0 = time.perf_counter()
    n_c, n_steps = len(comp), comp.n_steps
    row, step, share = windows(sessions.arrive_min, sessions.depart_min, n_steps=n_steps)
    runs = tariff_runs(prices)
    home = np.zeros((n_c, n_steps))
    delivered = np.zeros(len(sessions))
    zone_of_entry = sessions.zone[row]
    order = np.argsort(zone_of_entry, kind="stable")
    bounds = np.searchsorted(zone_of_entry[order], np.arange(n_c + 1))
    for c in range(n_c):
        sel = order[bounds[c] : bounds[c + 1]]
        if sel.shape[0] == 0:
            continue
        plugs, local = np.unique(row[sel], return_inverse=True)
        problem = _Problem(
            plug=local,
            step=step[sel],
            cap_kw=sessions.power_kw[row[sel]] * share[sel],
            energy_kwh=sessions.energy_kwh[plugs],
            headroom_kw=np.maximum(comp.limit_kw[c] - comp.base_kw[c], 0.0),
            base_kw=comp.base_kw[c],
            prices=prices,
            runs=runs,
        )
        x = _solve(problem, label=str(comp.zone_id[c]))
        np.add.at(home[c], step[sel], x)
        delivered[plugs] = np.minimum(
            np.bincount(local, weights=x * DT_H, minlength=plugs.shape[0]),
            sessions.energy_kwh[plugs],
        )
    return Schedule(home_kw=home, delivered_kwh=delivered, solve_s=time.perf_counter() - t0)


@dataclass(frozen=True)
class _Problem:
    """One compound's ordered-charging problem: one entry per (plug-in, step)."""

    plug: np.ndarray  # local plug-in index of each entry
    step: np.ndarray  # step of each entry
    cap_kw: np.ndarray  # upper bound of each entry (kW)
    energy_kwh: np.ndarray  # per local plug-in
    headroom_kw: np.ndarray  # (n_steps,)
    base_kw: np.ndarray  # (n_steps,)
    prices: np.ndarray  # (n_steps,)
    runs: np.ndarray  # (n_steps,) tariff-period id


def _linprog(
    c: np.ndarray, a: sparse.csr_matrix, b: np.ndarray, ub: np.ndarray, *, label: str
) -> np.ndarray:
    from scipy.optimize import linprog

    bounds = np.c_[np.zeros(ub.shape[0]), ub]
    res = linprog(c, A_ub=a, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        raise SolverFailure(f"grid: ordered charging LP of compound {label}: {res.message}")
    return np.asarray(res.x, dtype=float)


def _solve(p: _Problem, *, label: str) -> np.ndarray:
    """x (kW) per entry, lexicographically optimal (module docstring).

    One LP with all three criteria weighted (``M - price`` per kWh, a small ``eps`` per
    kW of period peak) is checked against the LP of criteria 1 and 2 alone: when its
    value of those criteria is within a relative 1e-9 of that LP's optimum, it is
    optimal for them and, among their optima, minimal in the period peaks (any schedule
    with a lower peak sum and the same value would have a lower weighted objective).
    Otherwise the flattening LP with the two values held is solved instead.
    """
    n = p.step.shape[0]
    used, at = np.unique(p.step, return_inverse=True)
    cols = np.arange(n)
    a_step = sparse.csr_matrix((np.ones(n), (at, cols)), shape=(used.shape[0], n))
    n_plug = p.energy_kwh.shape[0]
    a_energy = sparse.csr_matrix((np.full(n, DT_H), (p.plug, cols)), shape=(n_plug, n))
    price = p.prices[p.step]
    c1 = (price - (float(p.prices.max()) + 1.0)) * DT_H
    a1 = sparse.vstack([a_step, a_energy]).tocsr()
    b1 = np.r_[p.headroom_kw[used], p.energy_kwh]
    x1 = _linprog(c1, a1, b1, p.cap_kw, label=label)
    best = float(c1 @ x1)
    if x1.sum() <= 0:
        return np.clip(x1, 0.0, p.cap_kw)
    # variables [x, z_run]; z_run >= base[k] + sum of x at k, for every step k of the run
    run_ids, run_at = np.unique(p.runs[used], return_inverse=True)
    n_run = run_ids.shape[0]
    a_flat = sparse.hstack(
        [a_step, sparse.csr_matrix((-np.ones(used.shape[0]), (np.arange(used.shape[0]), run_at)),
                                   shape=(used.shape[0], n_run))]
    )  # fmt: skip
    a2 = sparse.vstack(
        [sparse.hstack([a1, sparse.csr_matrix((a1.shape[0], n_run))]), a_flat]
    ).tocsr()
    b2 = np.r_[b1, -p.base_kw[used]]
    ub2 = np.r_[p.cap_kw, np.full(n_run, np.inf)]
    gaps = np.diff(np.unique(p.prices))
    eps = 1e-4 * DT_H * (float(gaps.min()) if gaps.size else 1.0)
    xw = _linprog(np.r_[c1, np.full(n_run, eps)], a2, b2, ub2, label=label)[:n]
    if float(c1 @ xw) <= best + _HOLD * max(1.0, abs(best)):
        return np.clip(xw, 0.0, p.cap_kw)
    hold = sparse.csr_matrix(c1[None, :])
    a3 = sparse.vstack([a2, sparse.hstack([hold, sparse.csr_matrix((1, n_run))])]).tocsr()
    b3 = np.r_[b2, best + _HOLD * max(1.0, abs(best))]
    c3 = np.r_[np.zeros(n), np.ones(n_run)]
    return np.clip(_linprog(c3, a3, b3, ub2, label=label)[:n], 0.0, p.cap_kw)
