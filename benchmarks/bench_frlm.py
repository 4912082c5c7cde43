"""FRLM on the 25-node test network: exact (arc-cover MILP, HiGHS) against greedy.

Run from the repository root::

    python benchmarks/bench_frlm.py [--ranges 4 6 8 10 15 20] [--max-p 8] [--capacity 0.05]

Prints, for each range R (network distance units) and number of stations p, the share of
the OD flow whose round trip is covered by the exact and the greedy solution, and the
wall-clock time of each (ms).  With ``--capacity SHARE`` (default 0.05; 0 leaves it out)
it also solves the capacitated FRLM (``frlm-capacitated``, every station refuelling at
most SHARE of the total flow in stops) and prints its refuelled share, its time and its
time over the exact uncapacitated model's, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sim.siting import SitingProblem, solve
from sim.siting.frlm import build_flow_problem, read_frlm_25node, solve_frlm

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "frlm-25node"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=BENCH, help="frlm-25node folder")
    parser.add_argument("--ranges", type=float, nargs="+", default=[4, 6, 8, 10, 15, 20])
    parser.add_argument("--max-p", type=int, default=8)
    parser.add_argument("--capacity", type=float, default=0.05, help="share of total flow")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    edges, flows, _ = read_frlm_25node(args.folder)
    problem = build_flow_problem(edges=edges, flows=flows, n_nodes=25)
    lengths = sorted(float(c[-1]) for c in problem.path_lengths)
    print(
        f"25-node network: {problem.n_od} OD pairs, path lengths {lengths[0]:g}.."
        f"{lengths[-1]:g} (median {lengths[len(lengths) // 2]:g}), "
        f"read + routed in {(time.perf_counter() - start) * 1e3:.1f} ms"
    )
    cap = args.capacity * float(problem.flow.sum())
    site = SitingProblem(
        cost=np.zeros((1, 25)), weight=np.zeros(1), flows=problem, capacity=np.full(25, cap)
    )
    head = (
        f"{'R':>5} {'p':>2} {'exact':>7} {'greedy':>7} {'gap':>7} {'exact ms':>9} {'greedy ms':>9}"
    )
    if args.capacity > 0:
        head += f" {'capacitated':>11} {'cap ms':>8} {'cap/exact':>9}"
    print(head)
    total = {"exact": 0.0, "greedy": 0.0, "capacitated": 0.0}
    for r in args.ranges:
        for p in range(1, args.max_p + 1):
            exact = solve_frlm(problem, p=p, range_km=r)
            greedy = solve_frlm(problem, p=p, range_km=r, method="greedy")
            total["exact"] += exact.time_s
            total["greedy"] += greedy.time_s
            flag = "" if exact.optimal else "  (not proven optimal)"
            line = (
                f"{r:5g} {p:2d} {exact.covered_share:7.1%} {greedy.covered_share:7.1%} "
                f"{exact.covered_share - greedy.covered_share:7.1%} "
                f"{exact.time_s * 1e3:9.1f} {greedy.time_s * 1e3:9.1f}"
            )
            if args.capacity > 0:
                c = solve(site, "frlm-capacitated", p=p, range_km=r)
                total["capacitated"] += c.time_s
                line += (
                    f" {c.params['covered_share']:11.1%} {c.time_s * 1e3:8.1f} "
                    f"{c.time_s / exact.time_s:9.1f}"
                )
                flag += "" if c.optimal else "  (capacitated not proven optimal)"
            print(line + flag)
    print(
        f"total: exact {total['exact']:.2f} s, greedy {total['greedy']:.2f} s, "
        f"capacitated {total['capacitated']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
