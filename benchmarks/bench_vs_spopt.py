"""chargesite's siting solvers against PySAL spopt (PuLP + CBC), same instances, one run.

Usage::

    python benchmarks/bench_vs_spopt.py
    python benchmarks/bench_vs_spopt.py --orlib 1,6,11 --random 3 --repeat 1
    python benchmarks/bench_vs_spopt.py --only fractional

Two families, each summarised by the geometric mean of its speed-ups:

``existing``
    OR-Library p-median graphs (shortest-path costs, every vertex a client of weight 1
    and a candidate) and random planar instances (Euclidean distances, integer weights).
    For each, p-median and MCLP (radius = a cost quantile, default 5 %) are solved.
    Every MCLP instance of this family closes at its LP bound.
``fractional``
    MCLP instances whose LP relaxation is fractional (a real integrality gap): random
    planar instances of at least 1000 demand points x 300 candidates, radius at the 5 to
    10 % quantile of the costs (``--frac-cases``).  The table shows the bound of the LP
    relaxation of the textbook MCLP (Church & ReVelle; solved untimed by
    ``scipy.optimize.linprog``) and its gap to the optimum, to show the gap is real.

Each side gets its best form.  Timing is the wall clock of the whole call, model
construction included (spopt: ``from_cost_matrix``, PuLP's model, writing it and running
CBC with its default threads; chargesite: ``SitingProblem`` validation, reductions,
HiGHS), the median of ``--repeat`` calls per side (``--frac-repeat`` for the fractional
family, whose spopt solves take minutes).  Same cost matrix, same radius, same ``p`` on
both sides.  Imports are not timed: before the tables both sides import their packages
and solve one tiny p-median and MCLP instance untimed (warm-up), so neither side's first
timed call pays for module imports, solver library loading or a cold disk cache.  The
tables show both objectives and spopt time / chargesite time.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.siting import SitingProblem, solve
from sim.siting.orlib import read_pmed

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "orlib-pmed"

#: Fractional family: (seed, p, radius quantile) of 1000 x 300 random instances.
DEFAULT_FRAC_CASES = "0:10:0.10,0:10:0.075,1:10:0.075,2:10:0.075,2:10:0.10,1:15:0.05"


def _timed(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    """The value of ``fn()`` and the median wall time (s) of ``repeat`` calls."""
    times = []
    value = math.nan
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, float(np.median(times))


def _ours_pmedian(cost: np.ndarray, weight: np.ndarray, p: int) -> float:
    return solve(SitingProblem(cost=cost, weight=weight), "p-median", p=p).objective


def _ours_mclp(cost: np.ndarray, weight: np.ndarray, p: int, radius: float) -> float:
    result = solve(SitingProblem(cost=cost, weight=weight), "mclp", p=p, radius=radius)
    if not result.optimal:
        raise SystemExit(f"chargesite's MCLP did not prove optimality (gap {result.gap})")
    return result.objective


def _ours_mclp_before(cost: np.ndarray, weight: np.ndarray, p: int, radius: float) -> float:
    """chargesite's MCLP with its step 4 as before the branch-and-bound: the HiGHS MILP
    (``sim.siting.mclp`` falls back to it when the tree's LP fails; the tree is made to
    fail at once here, so steps 1-3 are the same as in :func:`_ours_mclp`)."""
    import sim.siting.mclp as mclp_module

    real = mclp_module._tree
    mclp_module._tree = lambda *args, **kwargs: None
    try:
        return _ours_mclp(cost, weight, p, radius)
    finally:
        mclp_module._tree = real


def _spopt_pmedian(cost: np.ndarray, weight: np.ndarray, p: int) -> float:
    import pulp
    from spopt.locate import PMedian

    model = PMedian.from_cost_matrix(cost, weight, p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    return float(pulp.value(model.problem.objective))


def _spopt_mclp(cost: np.ndarray, weight: np.ndarray, p: int, radius: float) -> float:
    import pulp
    from spopt.locate import MCLP

    model = MCLP.from_cost_matrix(cost, weight, service_radius=radius, p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    return float(pulp.value(model.problem.objective))


def _warm_up() -> None:
    """Import both sides and solve a tiny instance with each model, untimed."""
    cost, weight = _random_instance(12345, 12, 6)
    radius = float(np.quantile(cost, 0.3))
    for fn in (_spopt_pmedian, _ours_pmedian):
        fn(cost, weight, 2)
    for gn in (_spopt_mclp, _ours_mclp):
        gn(cost, weight, 2, radius)


def _random_instance(seed: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 100, size=(m, 2))
    sites = rng.uniform(0, 100, size=(n, 2))
    cost = np.linalg.norm(demand[:, None, :] - sites[None, :, :], axis=2)
    return np.round(cost, 3), rng.integers(1, 20, size=m).astype(float)


def mclp_lp_bound(cost: np.ndarray, weight: np.ndarray, p: int, radius: float) -> float:
    """The LP relaxation of the textbook MCLP, solved by ``scipy.optimize.linprog``.

    ``max w'u : u_i <= sum_{j: c_ij <= radius} y_j, sum y <= p, 0 <= u, y <= 1`` (covered
    weight, unit of ``weight``); shares no code with chargesite's model.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    m, n = cost.shape
    within = sp.csr_array((cost <= radius).astype(np.float64))
    link = sp.hstack([sp.eye_array(m), -within])  # u_i - sum y_j <= 0
    count = sp.hstack([sp.csr_array((1, m)), sp.csr_array(np.ones((1, n)))])
    a = sp.vstack([link, count]).tocsr()
    b = np.concatenate((np.zeros(m), [float(p)]))
    c = -np.concatenate((weight, np.zeros(n)))
    res = linprog(c, A_ub=a, b_ub=b, bounds=(0.0, 1.0), method="highs")
    if res.status != 0:
        raise SystemExit(f"LP relaxation failed: {res.message}")
    return float(-res.fun)


@dataclass(frozen=True)
class _Row:
    """One timed comparison."""

    name: str
    model: str
    theirs: float
    ours: float
    their_s: float
    our_s: float

    @property
    def same(self) -> bool:
        return abs(self.theirs - self.ours) <= 1e-6 * max(1.0, abs(self.theirs))

    @property
    def ratio(self) -> float:
        return self.their_s / self.our_s


def _compare(
    name: str,
    model: str,
    theirs: Callable[[], float],
    ours: Callable[[], float],
    *,
    repeat: int,
) -> _Row:
    t_obj, t_s = _timed(theirs, repeat)
    o_obj, o_s = _timed(ours, repeat)
    return _Row(name, model, t_obj, o_obj, t_s, o_s)


def _line(row: _Row, extra: str = "") -> str:
    return (
        f"{row.name:>18} {row.model:>8} {extra}{row.theirs:>12.3f} {row.ours:>12.3f} "
        f"{'yes' if row.same else 'NO':>5} {row.their_s:>8.3f} {row.our_s:>8.3f} "
        f"{row.ratio:>7.1f}x"
    )


def _existing(args: argparse.Namespace) -> list[_Row]:
    """The existing family: p-median and MCLP on OR-Library and random instances."""
    cases: list[tuple[str, np.ndarray, np.ndarray, int]] = []
    for k in [int(x) for x in args.orlib.split(",") if x]:
        cost, p = read_pmed(args.data / f"pmed{k}.txt")
        cases.append((f"pmed{k}", cost, np.ones(cost.shape[0]), p))
    m, n = (int(v) for v in args.random_size.split("x"))
    for s in range(args.random):
        cost, weight = _random_instance(s, m, n)
        cases.append((f"rand{s}-{m}x{n}", cost, weight, args.random_p))
    print("\nexisting family")
    print(
        f"{'instance':>18} {'model':>8} {'spopt obj':>12} {'ours obj':>12} {'same':>5} "
        f"{'spopt s':>8} {'ours s':>8} {'speed-up':>8}"
    )
    rows = []
    for name, cost, weight, p in cases:
        radius = float(np.quantile(cost[np.isfinite(cost)], args.radius_quantile))
        for model, theirs, ours in (
            (
                "p-median",
                lambda c=cost, w=weight, p=p: _spopt_pmedian(c, w, p),
                lambda c=cost, w=weight, p=p: _ours_pmedian(c, w, p),
            ),
            (
                "mclp",
                lambda c=cost, w=weight, p=p, r=radius: _spopt_mclp(c, w, p, r),
                lambda c=cost, w=weight, p=p, r=radius: _ours_mclp(c, w, p, r),
            ),
        ):
            row = _compare(name, model, theirs, ours, repeat=args.repeat)
            print(_line(row), flush=True)
            rows.append(row)
    return rows


def _fractional(args: argparse.Namespace) -> list[_Row]:
    """The fractional family: MCLP with a real integrality gap, at least 1000 x 300."""
    m, n = (int(v) for v in args.frac_size.split("x"))
    print(f"\nfractional family (MCLP, {m} x {n}; LP = textbook LP relaxation bound)")
    print(
        f"{'instance':>18} {'model':>8} {'p':>3} {'quant':>5} {'LP bound':>10} {'LP gap':>7} "
        f"{'spopt obj':>12} {'ours obj':>12} {'same':>5} {'spopt s':>8} {'ours s':>8} "
        f"{'speed-up':>8}"
    )
    if args.before:
        print(f"{'':>18} (before: chargesite with the HiGHS MILP as step 4, same run)")
    rows = []
    for case in args.frac_cases.split(","):
        seed_s, p_s, q_s = case.split(":")
        seed, p, q = int(seed_s), int(p_s), float(q_s)
        cost, weight = _random_instance(seed, m, n)
        radius = float(np.quantile(cost, q))
        bound = mclp_lp_bound(cost, weight, p, radius)
        row = _compare(
            f"rand{seed}-{m}x{n}",
            "mclp",
            lambda c=cost, w=weight, p=p, r=radius: _spopt_mclp(c, w, p, r),
            lambda c=cost, w=weight, p=p, r=radius: _ours_mclp(c, w, p, r),
            repeat=args.frac_repeat,
        )
        gap = (bound - row.ours) / row.ours
        print(_line(row, f"{p:>3} {q:>5.3f} {bound:>10.2f} {100 * gap:>6.2f}% "), flush=True)
        rows.append(row)
        if args.before:
            old, old_s = _timed(
                lambda c=cost, w=weight, p=p, r=radius: _ours_mclp_before(c, w, p, r),
                args.frac_repeat,
            )
            print(
                f"{'':>18} {'before':>8} objective {old:.3f} in {old_s:.3f} s: now "
                f"{old_s / row.our_s:.1f}x faster; before {row.their_s / old_s:.1f}x spopt",
                flush=True,
            )
    return rows


def _summary(family: str, rows: list[_Row]) -> None:
    by_model: dict[str, list[float]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row.ratio)
    for model, ratios in by_model.items():
        arr = np.array(ratios)
        print(
            f"{family:>10} {model:>8}: speed-up min {arr.min():.1f}x, geometric mean "
            f"{float(np.exp(np.log(arr).mean())):.1f}x, max {arr.max():.1f}x "
            f"({arr.size} instances)"
        )
    bad = [f"{r.name} {r.model}" for r in rows if not r.same]
    if bad:
        print(f"{family:>10}: OBJECTIVES DIFFER on {', '.join(bad)}")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", choices=("existing", "fractional"), default=None)
    ap.add_argument("--orlib", default="1,2,3", help="OR-Library instance numbers")
    ap.add_argument("--random", type=int, default=3, help="number of random instances")
    ap.add_argument("--random-size", default="300x100", help="demand x candidates")
    ap.add_argument("--random-p", type=int, default=10)
    ap.add_argument("--radius-quantile", type=float, default=0.05)
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed calls per solver and instance (median)"
    )
    ap.add_argument("--frac-size", default="1000x300", help="fractional family: demand x sites")
    ap.add_argument(
        "--frac-cases",
        default=DEFAULT_FRAC_CASES,
        help="fractional family: seed:p:radius-quantile,... (quantile of the costs)",
    )
    ap.add_argument("--frac-repeat", type=int, default=1, help="timed calls, fractional family")
    ap.add_argument(
        "--before",
        action="store_true",
        help="fractional family: also time chargesite's previous step 4 (HiGHS MILP)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.frac_repeat < 1:
        ap.error("--repeat and --frac-repeat must be >= 1")
    _warm_up()
    families: dict[str, list[_Row]] = {}
    if args.only in (None, "existing"):
        families["existing"] = _existing(args)
    if args.only in (None, "fractional"):
        families["fractional"] = _fractional(args)
    print()
    for family, rows in families.items():
        _summary(family, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
