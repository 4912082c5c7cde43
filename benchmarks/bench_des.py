"""Simulation speed: the full residential model against a bare SimPy M/M/c, same run.

The full model is one (strategy, replication) unit of chargesite on the bundled Kotka
extract, scaled up so it simulates many sessions: drawing the demand (trip model, state
of charge), choosing stations by travel time plus expected wait, balking, reneging,
retries, tapering charging curves, and scoring.  The peer is the floor of any SimPy
model: a source process and one customer process per arrival doing request, timeout,
release on one ``simpy.Resource``.  Both run the same number of sessions; the script
prints sessions per second for each and the ratio (target: full model >= 1/3 of bare).
The two are timed alternately, in CPU seconds of this process, best of ``--repeat``:
other work on the machine slows both alike and the ratio stays comparable.

Usage::

    python benchmarks/bench_des.py [--ev-share 1.0] [--days 28] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

from sim.config import load_config
from sim.study.plans import make_plans, plan_access
from sim.study.prepare import prepare
from sim.study.units import demand_for, run_unit


def bare_mmc(n: int, *, c: int, rho: float, seed: int) -> float:
    """CPU seconds to simulate ``n`` customers of a bare SimPy M/M/c queue."""
    rng = np.random.default_rng(seed)
    mean_service = 30.0
    inter = rng.exponential(mean_service / (rho * c), n).tolist()
    service = rng.exponential(mean_service, n).tolist()
    t0 = time.process_time()
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=c)

    def customer(i: int) -> simpy.events.ProcessGenerator:
        with res.request() as req:
            yield req
            yield env.timeout(service[i])

    def source() -> simpy.events.ProcessGenerator:
        for i in range(n):
            yield env.timeout(inter[i])
            env.process(customer(i))

    env.process(source())
    env.run()
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--ev-share", type=float, default=1.0)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--strategy", default="p-median")
    ap.add_argument(
        "--ports",
        type=int,
        default=12,
        help="ports per site (12: about half-busy; 2: overloaded, most drivers retry)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    sc = load_config(args.config)
    res = sc.demand.residential.model_copy(
        update={"ev_share": args.ev_share, "cars_per_household": 1.0}
    )
    sc = sc.model_copy(
        update={
            "demand": sc.demand.model_copy(update={"days": args.days, "residential": res}),
            "chargers": sc.chargers.model_copy(update={"ports_per_site": args.ports}),
        }
    )
    prep = prepare(sc)
    plans = make_plans(prep)
    plan = plans[args.strategy]
    access = plan_access(prep, plan)
    n = len(demand_for(prep, 0))
    print(
        f"scenario: {sc.name}, strategy {plan.strategy} ({len(plan)} sites, "
        f"{int(plan.ports.sum())} ports), {args.days} days"
    )

    full, bare = [], []
    for r in range(args.repeat):
        t0 = time.process_time()
        u = run_unit(prep, plan, r, access=access)  # draws demand, simulates, scores
        full.append(time.process_time() - t0)
        util = float(u.metrics["utilization_mean"] or 0.0)
        bare.append(bare_mmc(n, c=4, rho=max(min(util, 0.95), 0.3), seed=r))
    full_rate = n / min(full)
    bare_rate = n / min(bare)
    print(
        f"sessions per unit      : {n:,} (attempts logged: {len(u.log):,}, "
        f"mean utilisation {util:.0%})"
    )
    print(f"full residential model : {full_rate:12,.0f} sessions/s (best of {args.repeat})")
    print(f"bare SimPy M/M/c       : {bare_rate:12,.0f} sessions/s (best of {args.repeat})")
    print(f"ratio full / bare      : {full_rate / bare_rate:12.2f} (target >= 0.33)")


if __name__ == "__main__":
    main()
