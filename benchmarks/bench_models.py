"""p-center, backup coverage and the capacitated p-median on the default Kotka scenario.

Run from the repository root::

    python benchmarks/bench_models.py [--k 3 5 8] [--radius 1.5] [--ports 1] [--no-spopt]

The siting problem is the one the scenario's strategies get (captured from
``sim.siting.plan``'s call of :func:`sim.siting.solve`: demand rows x candidate sites,
travel time in minutes, expected sessions a day, capacities of ``--ports`` ports per new
site busy 60 % of the day).  For each ``k`` it prints, in one run:

- ``p-center``: its time against a brute force over every ``C(n, k)`` plan (numpy, all
  plans scored at once in chunks), the two objectives (minutes) and the ratio; and
  spopt's ``PCenter`` (PuLP + CBC) when installed;
- ``backup-coverage`` (``first_weight`` 0.5): its time against the same brute force and
  against its uncapacitated peer ``mclp`` on the same radius;
- ``capacitated-p-median``: its time against its uncapacitated peer ``p-median`` and
  spopt's capacitated ``PMedian`` (CBC) when installed, with the objectives.

Times are wall clock of one call (s); ``solve`` times include the ``SitingProblem``
checks.  Nothing is cached between the calls.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim.siting.plan as plan_module
from sim.config import parse_config
from sim.siting import SitingProblem, solve
from sim.study.plans import make_plans
from sim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]


def kotka_problems(k: int, radius: float, ports: int) -> dict[str, SitingProblem]:
    """The problems the default scenario gives its strategies (captured, not rebuilt)."""
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 2
    data["simulation"]["radius_min"] = radius
    data["chargers"]["ports_per_site"] = ports
    data["strategies"] = [
        {"name": "pc", "model": "p-center", "k": k},
        {"name": "cpm", "model": "capacitated-p-median", "k": k},
    ]
    seen: dict[str, SitingProblem] = {}
    real = plan_module.solve

    def spy(problem: SitingProblem, name: str, **params: object) -> Any:
        seen[name] = problem
        return real(problem, name, **params)

    plan_module.solve = spy  # type: ignore[assignment]
    try:
        make_plans(prepare(parse_config(data)))
    finally:
        plan_module.solve = real
    return seen


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


#: Largest number of plans the brute force enumerates (C(54, 5) = 3.2 million).
BRUTE_MAX = 4_000_000


def brute(score_plans: Callable[[np.ndarray], np.ndarray], n: int, k: int, *, best: str) -> float:
    """Best score over every k-subset, scored in chunks of plans (nan above BRUTE_MAX)."""
    if math.comb(n, k) > BRUTE_MAX:
        return math.nan
    pick = min if best == "min" else max
    value = math.inf if best == "min" else -math.inf
    it = itertools.combinations(range(n), k)
    while chunk := list(itertools.islice(it, 4000)):
        value = pick(value, float(pick(score_plans(np.array(chunk)))))
    return value


def _brute_text(value: float, seconds: float, ours: float, unit: str) -> str:
    if math.isnan(value):
        return "brute force skipped (too many plans)"
    return f"brute force {value:7.3f}{unit} in {seconds:7.2f} s ({seconds / ours:.2g}x)"


def bench_center(problem: SitingProblem, k: int, use_spopt: bool) -> None:
    rows = (problem.weight > 0) & np.isfinite(problem.cost).any(axis=1)
    c = problem.cost[rows]
    r, t = timed(lambda: solve(problem, "p-center", p=k))
    b, tb = timed(lambda: brute(lambda s: c[:, s].min(axis=2).max(axis=0), c.shape[1], k,
                                best="min"))  # fmt: skip
    line = f"p-center        k={k}: {r.objective:7.3f} min in {t:6.3f} s | " + _brute_text(
        b, tb, t, " min"
    )
    if use_spopt:
        line += spopt_center(c, k, t)
    print(line)


def spopt_center(c: np.ndarray, k: int, t_ours: float) -> str:
    try:
        import pulp
        from spopt.locate import PCenter
    except ImportError:
        return " | spopt not installed"
    finite = np.where(np.isfinite(c), c, 1e6)
    m, ts = timed(
        lambda: PCenter.from_cost_matrix(finite, p_facilities=k).solve(pulp.PULP_CBC_CMD(msg=False))
    )
    return f" | spopt {m.problem.objective.value():7.3f} min in {ts:6.2f} s ({ts / t_ours:.2g}x)"


def bench_backup(problem: SitingProblem, k: int, radius: float) -> None:
    w = problem.weight
    within = (problem.cost <= radius).astype(np.int8)

    def score(plans: np.ndarray) -> np.ndarray:
        count = within[:, plans].sum(axis=2)  # (n_dem, n_plans)
        return 0.5 * (w @ (count >= 1)) + 0.5 * (w @ (count >= 2))

    r, t = timed(lambda: solve(problem, "backup-coverage", p=k, radius=radius))
    b, tb = timed(lambda: brute(score, problem.n_candidates, k, best="max"))
    m, tm = timed(lambda: solve(problem, "mclp", p=k, radius=radius))
    print(
        f"backup-coverage k={k}: {r.objective:7.3f} in {t:6.3f} s | "
        + _brute_text(b, tb, t, "")
        + f" | peer mclp {m.objective:7.2f} covered in {tm:6.3f} s (backup/mclp time "
        f"{t / tm:4.1f})"
    )


def bench_cpm(problem: SitingProblem, k: int, use_spopt: bool) -> None:
    r, t = timed(lambda: solve(problem, "capacitated-p-median", p=k))
    m, tm = timed(lambda: solve(problem, "p-median", p=k))
    line = (
        f"cap. p-median   k={k}: {r.objective:8.1f} (+{r.params['unserved_weight']:.1f} "
        f"unserved) in {t:6.3f} s | peer p-median {m.objective:8.1f} in {tm:6.3f} s "
        f"(cap/uncap time {t / tm:4.1f})"
    )
    if use_spopt:
        line += spopt_cpm(problem, k, t, r)
    print(line)


def spopt_cpm(problem: SitingProblem, k: int, t_ours: float, ours: Any) -> str:
    try:
        import pulp
        from spopt.locate import PMedian
    except ImportError:
        return " | spopt not installed"
    if ours.params["unserved_weight"] > 1e-9:
        return " | spopt: no plan serves all (spopt's model would be infeasible)"
    assert problem.capacity is not None
    rows = problem.weight > 0
    finite = np.where(np.isfinite(problem.cost[rows]), problem.cost[rows], 1e6)
    m, ts = timed(
        lambda: PMedian.from_cost_matrix(
            finite, problem.weight[rows], k, facility_capacities=problem.capacity
        ).solve(pulp.PULP_CBC_CMD(msg=False))
    )
    return f" | spopt {m.problem.objective.value():8.1f} in {ts:6.2f} s ({ts / t_ours:.2g}x)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--radius", type=float, default=1.5, help="coverage radius (min)")
    parser.add_argument("--ports", type=int, default=2, help="ports per new site (capacity)")
    parser.add_argument("--no-spopt", action="store_true", help="skip spopt's models")
    args = parser.parse_args(argv)
    for k in args.k:
        problems = kotka_problems(k, args.radius, args.ports)
        pc, cpm = problems["p-center"], problems["capacitated-p-median"]
        if k == args.k[0]:
            assert cpm.capacity is not None
            print(
                f"Kotka default: {pc.n_demand} demand rows x {pc.n_candidates} candidates, "
                f"{pc.weight.sum():.1f} sessions/day, capacity {cpm.capacity.max():.1f} "
                "sessions/day per new site"
            )
        bench_center(pc, k, not args.no_spopt)
        bench_backup(pc, k, args.radius)
        bench_cpm(cpm, k, not args.no_spopt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
