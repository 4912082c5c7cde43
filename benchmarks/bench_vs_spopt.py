"""chargesite's siting solvers against PySAL spopt (PuLP + CBC), same instances, one run.

Usage::

    python benchmarks/bench_vs_spopt.py
    python benchmarks/bench_vs_spopt.py --orlib 1,6,11 --random 3 --repeat 1

Instances: OR-Library p-median graphs (shortest-path costs, every vertex a client of
weight 1 and a candidate) and random planar instances (Euclidean distances, integer
weights).  For each, p-median and MCLP (radius = a cost quantile) are solved by spopt
(``from_cost_matrix`` + ``solve(PULP_CBC_CMD)``) and by chargesite
(``SitingProblem(...)`` + ``sim.siting.solve``).

Timing is the same for both sides: wall clock of the whole call, model construction
included (spopt: ``from_cost_matrix``, PuLP's model, writing it and running CBC;
chargesite: ``SitingProblem`` validation, reductions, HiGHS), the median of ``--repeat``
calls per side.  Imports are not timed: before the table both sides import their
packages and solve one tiny p-median and MCLP instance untimed (warm-up), so neither
side's first timed call pays for module imports, solver library loading or a cold disk
cache.  The table shows both objectives and spopt time / chargesite time.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim.siting import SitingProblem, solve
from sim.siting.orlib import read_pmed

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "orlib-pmed"


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
    problem = SitingProblem(cost=cost, weight=weight)
    return solve(problem, "mclp", p=p, radius=radius).objective


def _warm_up() -> None:
    """Import both sides and solve a tiny instance with each model, untimed."""
    cost, weight = _random_instance(12345, 12, 6)
    radius = float(np.quantile(cost, 0.3))
    for fn in (_spopt_pmedian, _ours_pmedian):
        fn(cost, weight, 2)
    for gn in (_spopt_mclp, _ours_mclp):
        gn(cost, weight, 2, radius)


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


def _random_instance(seed: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 100, size=(m, 2))
    sites = rng.uniform(0, 100, size=(n, 2))
    cost = np.linalg.norm(demand[:, None, :] - sites[None, :, :], axis=2)
    return np.round(cost, 3), rng.integers(1, 20, size=m).astype(float)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--orlib", default="1,2,3", help="OR-Library instance numbers")
    ap.add_argument("--random", type=int, default=3, help="number of random instances")
    ap.add_argument("--random-size", default="300x100", help="demand x candidates")
    ap.add_argument("--random-p", type=int, default=10)
    ap.add_argument("--radius-quantile", type=float, default=0.05)
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed calls per solver and instance (median)"
    )
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    cases: list[tuple[str, np.ndarray, np.ndarray, int]] = []
    for k in [int(x) for x in args.orlib.split(",") if x]:
        cost, p = read_pmed(args.data / f"pmed{k}.txt")
        cases.append((f"pmed{k}", cost, np.ones(cost.shape[0]), p))
    m, n = (int(v) for v in args.random_size.split("x"))
    for s in range(args.random):
        cost, weight = _random_instance(s, m, n)
        cases.append((f"rand{s}-{m}x{n}", cost, weight, args.random_p))

    _warm_up()
    print(
        f"{'instance':>16} {'model':>8} {'spopt obj':>12} {'ours obj':>12} {'same':>5} "
        f"{'spopt s':>8} {'ours s':>8} {'speed-up':>8}"
    )
    ratios: dict[str, list[float]] = {"p-median": [], "mclp": []}
    for name, cost, weight, p in cases:
        radius = float(np.quantile(cost[np.isfinite(cost)], args.radius_quantile))
        jobs = [
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
        ]
        for model, theirs, ours in jobs:
            t_obj, t_s = _timed(theirs, args.repeat)
            o_obj, o_s = _timed(ours, args.repeat)
            same = abs(t_obj - o_obj) <= 1e-6 * max(1.0, abs(t_obj))
            ratios[model].append(t_s / o_s)
            print(
                f"{name:>16} {model:>8} {t_obj:>12.3f} {o_obj:>12.3f} {'yes' if same else 'NO':>5} "
                f"{t_s:>8.3f} {o_s:>8.3f} {t_s / o_s:>7.1f}x",
                flush=True,
            )
    for model, r in ratios.items():
        if r:
            arr = np.array(r)
            print(
                f"{model}: speed-up min {arr.min():.1f}x, geometric mean "
                f"{float(np.exp(np.log(arr).mean())):.1f}x, max {arr.max():.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
