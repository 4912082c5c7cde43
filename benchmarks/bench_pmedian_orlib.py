"""OR-Library p-median: chargesite's exact and heuristic p-median against the proven optima.

Usage::

    python benchmarks/bench_pmedian_orlib.py                 # all 40 instances
    python benchmarks/bench_pmedian_orlib.py --instances 1-10 --csv out.csv

Prints one row per instance: the optimum from ``pmedopt.txt``, the exact model's value,
whether it proved optimality, its time, and the heuristic's gap to the optimum and time.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from sim.siting import SitingProblem, solve
from sim.siting.orlib import read_pmed, read_pmed_optima

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "orlib-pmed"


def _instances(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


#: Columns of ``--csv``.
HEADER = (
    "instance",
    "n",
    "p",
    "optimum",
    "exact",
    "proven",
    "exact_s",
    "heur",
    "heur_gap_pct",
    "heur_s",
)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with pmedN.txt")
    ap.add_argument("--instances", default="1-40", help="e.g. 1-40 or 1,5,36")
    ap.add_argument("--time-limit", type=float, default=600.0, help="exact model limit (s)")
    ap.add_argument("--heuristic-iterations", type=int, default=100)
    ap.add_argument("--skip-heuristic", action="store_true")
    ap.add_argument("--csv", type=Path, default=None, help="also write the rows here")
    return ap


def _row(k: int, args: argparse.Namespace, optimum: int) -> tuple[object, ...]:
    """Solve ``pmed{k}`` exactly (and heuristically); print and return its row."""
    name = f"pmed{k}"
    cost, p = read_pmed(args.data / f"{name}.txt")
    problem = SitingProblem(cost=cost, weight=np.ones(cost.shape[0]))
    exact = solve(problem, "p-median", p=p, time_limit=args.time_limit)
    if args.skip_heuristic:
        h_val, h_gap, h_time = float("nan"), float("nan"), float("nan")
    else:
        heur = solve(
            problem,
            "p-median-heuristic",
            p=p,
            iterations=args.heuristic_iterations,
            rng=np.random.default_rng(k),
        )
        h_val, h_time = heur.objective, heur.time_s
        h_gap = 100.0 * (h_val - optimum) / optimum
    flag = "" if exact.objective == optimum else "  <-- differs from optimum"
    print(
        f"{name:>7} {cost.shape[0]:>4} {p:>4} {optimum:>8} {exact.objective:>8.0f} "
        f"{exact.optimal!s:>6} {exact.time_s:>8.2f} {h_val:>8.0f} {h_gap:>6.2f} "
        f"{h_time:>7.2f}{flag}",
        flush=True,
    )
    return (name, cost.shape[0], p, optimum, exact.objective, exact.optimal, exact.time_s,
            h_val, h_gap, h_time)  # fmt: skip


def _summary(rows: list[tuple[object, ...]], *, heuristic: bool) -> None:
    ex_t = np.array([r[6] for r in rows], dtype=float)
    hg = np.array([r[8] for r in rows], dtype=float)
    ht = np.array([r[9] for r in rows], dtype=float)
    n_opt = sum(1 for r in rows if r[5] and r[4] == r[3])
    print(
        f"\nexact: {n_opt}/{len(rows)} proven at the known optimum; time max "
        f"{ex_t.max():.1f} s, mean {ex_t.mean():.1f} s, total {ex_t.sum():.0f} s"
    )
    if heuristic:
        print(
            f"heuristic: gap max {np.nanmax(hg):.2f} %, mean {np.nanmean(hg):.3f} %, "
            f"{int((hg <= 0.5).sum())}/{len(rows)} within 0.5 %; time max "
            f"{np.nanmax(ht):.1f} s, mean {np.nanmean(ht):.2f} s"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    optima = read_pmed_optima(args.data / "pmedopt.txt")
    print(
        f"{'inst':>7} {'n':>4} {'p':>4} {'optimum':>8} {'exact':>8} {'proven':>6} "
        f"{'exact_s':>8} {'heur':>8} {'gap%':>6} {'heur_s':>7}"
    )
    rows = [_row(k, args, optima[f"pmed{k}"]) for k in _instances(args.instances)]
    if rows:
        _summary(rows, heuristic=not args.skip_heuristic)
    if args.csv is not None:
        with args.csv.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
    print(f"(run {time.strftime('%Y-%m-%d %H:%M')}, python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
