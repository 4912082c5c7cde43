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
certified optimal for steps 1 and 2 by the first LP's value (to a relative 1e-9), else
the peaks are minimised with that value held (:func:`_solve`).  All are solved exactly
by HiGHS (``highspy``: dual simplex, or interior point with crossover to a vertex for
large compounds, :data:`IPM_FROM_COLUMNS`); a solve that does not report optimality
raises :class:`~sim.errors.SolverFailure`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

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
#: Weight per kW of period peak in the second solve, as a share of the smallest price
#: step per kWh of a step (small, so the peaks rarely trade against cost; when they do,
#: the check in :func:`_solve` catches it).
_EPS_SHARE = 1e-4


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
    """Ordered charging: per compound, the LPs of the module docstring (:func:`_solve`).

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


#: Columns from which the interior-point solver (with crossover to a vertex) is used
#: instead of the dual simplex.  Measured on Kotka's compounds: at 113k columns interior
#: point 1.0 s + 2.8 s for the two solves against 9.7 s + 3.1 s; at 51k columns 0.3 s +
#: 0.7 s against 0.4 s + 0.2 s, and on the many small compounds the simplex is faster.
IPM_FROM_COLUMNS = 60_000


def _new_highs(n_columns: int) -> Any:
    """A silent HiGHS instance (``highspy.Highs()`` prints a banner while it is built,
    before any option can be set; its base class does not)."""
    import highspy

    core = getattr(highspy, "_core", None)
    cls = getattr(core, "_Highs", None) if core is not None else None
    h = cls() if cls is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "ipm" if n_columns >= IPM_FROM_COLUMNS else "simplex")
    h.setOptionValue("presolve", "off")  # measured: a little faster with either solver
    return h


def _add_cols(h: Any, cost: np.ndarray, upper: np.ndarray) -> None:
    n = cost.shape[0]
    empty = np.zeros(0, np.int32)
    h.addCols(n, cost, np.zeros(n), upper, 0, np.zeros(n, np.int32), empty, np.zeros(0))


def _add_rows(h: Any, a: sparse.csr_matrix, upper: np.ndarray) -> None:
    a = sparse.csr_matrix(a)
    lower = np.full(a.shape[0], -np.inf)
    starts = a.indptr[:-1].astype(np.int32)
    h.addRows(a.shape[0], lower, upper, a.nnz, starts, a.indices.astype(np.int32), a.data)


def _run(h: Any, n: int, *, label: str) -> np.ndarray:
    """Solve the model as it stands and return the first ``n`` column values."""
    import highspy

    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverFailure(
            f"grid: ordered charging LP of compound {label}: HiGHS {h.modelStatusToString(status)}"
        )
    return np.asarray(h.getSolution().col_value, dtype=float)[:n]


def _solve(p: _Problem, *, label: str) -> np.ndarray:
    """x (kW) per entry, lexicographically optimal (module docstring).

    The LP of criteria 1 and 2 is solved first; then the period-peak columns and rows
    are added with a small weight ``eps`` per kW and the LP is solved again.  When the
    second answer's value of criteria 1 and 2 is within a relative 1e-9 of the first
    optimum, it is optimal for them and, among their optima, minimal in the period
    peaks (a schedule with lower peaks and the same value would have a lower weighted
    objective).  Otherwise the peaks are minimised with that value held by a
    constraint.
    """
    n = p.step.shape[0]
    used, at = np.unique(p.step, return_inverse=True)
    cols = np.arange(n)
    a_step = sparse.csr_matrix((np.ones(n), (at, cols)), shape=(used.shape[0], n))
    n_plug = p.energy_kwh.shape[0]
    a_energy = sparse.csr_matrix((np.full(n, DT_H), (p.plug, cols)), shape=(n_plug, n))
    c1 = (p.prices[p.step] - (float(p.prices.max()) + 1.0)) * DT_H
    h = _new_highs(n)
    _add_cols(h, c1, p.cap_kw)
    _add_rows(h, sparse.vstack([a_step, a_energy]), np.r_[p.headroom_kw[used], p.energy_kwh])
    x1 = _run(h, n, label=label)
    if x1.sum() <= 0:
        return np.clip(x1, 0.0, p.cap_kw)
    best = float(c1 @ x1)
    tol = _HOLD * max(1.0, abs(best))
    # columns z_run; rows z_run >= base[k] + sum of x at k, for every step k of the run
    run_ids, run_at = np.unique(p.runs[used], return_inverse=True)
    n_run = run_ids.shape[0]
    gaps = np.diff(np.unique(p.prices))
    eps = _EPS_SHARE * DT_H * (float(gaps.min()) if gaps.size else 1.0)
    _add_cols(h, np.full(n_run, eps), np.full(n_run, np.inf))
    rows = np.arange(used.shape[0])
    minus_z = sparse.csr_matrix(
        (-np.ones(rows.shape[0]), (rows, run_at)), shape=(rows.shape[0], n_run)
    )
    _add_rows(h, sparse.hstack([a_step, minus_z]), -p.base_kw[used])
    x = _run(h, n, label=label)
    if float(c1 @ x) > best + tol:
        h.changeColsCost(
            n + n_run, np.arange(n + n_run, dtype=np.int32), np.r_[np.zeros(n), np.ones(n_run)]
        )
        _add_rows(h, sparse.csr_matrix(np.r_[c1, np.zeros(n_run)][None, :]), np.array([best + tol]))
        x = _run(h, n, label=label)
    return np.clip(x, 0.0, p.cap_kw)
