"""Simulation speed per logged attempt: the residential model against bare SimPy peers.

The model is one (strategy, replication) unit of chargesite on the bundled Kotka extract,
scaled up so that it simulates many sessions: station choice by driving time plus the
expected wait, balking, reneging, retries at the next station, tapering charging curves.
It is timed twice: the simulation alone (:func:`sim.study.units.simulate_plan`, the
``simulate`` call with its inputs) and the whole unit (:func:`sim.study.units.run_unit`:
drawing the demand, simulating, scoring).

The peer is the same queueing in bare SimPy, with as many customers as the model has
sessions, spread over as many stations with as many ports, with the model's observed
mean charging time (exponential, Poisson arrivals over the same horizon):

- default (12 ports a site, low load): a plain M/M/c per station: request, timeout,
  release (hardly anybody waits in the peer; in the model a few do, at the evening
  peak of its arrivals);
- ``--ports 2`` (overloaded): an M/M/c with balking at the model's threshold, reneging
  when the customer's patience (the model's own patience draws) runs out
  (``request | timeout``, only when no port is free), and retries: a balked or reneged
  customer drives (exponential, the model's mean drive between stations) to the next
  station, up to ``max_attempts`` stations.

The queueing counts of both are printed, so the overload is visible.  Rates are logged
attempts (a peer customer's visits to stations) per CPU second of this process, best of
``--repeat``, the three timed alternately after a ``gc.collect()``; the peer runs with
the cyclic garbage collector paused as the model does (its best form).  Target: the
model at least 0.8 of its peer in both cases.  The digest of the model's log is printed
so that runs of two commits can be compared.

``--swap`` measures what battery swapping costs instead: the same scenario with a taxi
fleet (half of it able to swap ``nio`` packs) and one swap station beside the plan's
charging sites, against that scenario without them (its residents alone at the plan's
charging sites), both timed in this run (:func:`sim.study.units.simulate_traced_plan`),
alternately, best of ``--repeat``.  It prints CPU seconds per session and per logged
attempt of each, and their ratios.

Usage::

    python benchmarks/bench_des.py [--ports 12] [--ev-share 1.0] [--days 28] [--repeat 5]
    python benchmarks/bench_des.py --swap [--taxis 2000] [--days 7]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import simpy

from sim.config import FleetConfig, Scenario, VehicleClassConfig, load_config
from sim.des import BALKED, CHARGED, RENEGED, SWAP, Access, SessionLog
from sim.siting.plan import Plan
from sim.study.plans import make_plans, plan_access, plan_highway_access
from sim.study.prepare import Prepared, prepare
from sim.study.units import demand_for, run_unit, simulate_plan, simulate_traced_plan

TARGET = 0.8


@dataclass(frozen=True)
class PeerInputs:
    """What the peer draws from: one entry per customer (times in min)."""

    arrive: list[float]
    service: list[float]
    patience: list[float]
    drive: list[float]
    site: list[int]
    n_sites: int
    ports: int
    balk_at: float
    max_attempts: int


@dataclass
class Counts:
    """Logged attempts and what happened in them."""

    attempts: int = 0
    waited: int = 0
    balked: int = 0
    reneged: int = 0
    retries: int = 0

    def line(self) -> str:
        return (
            f"{self.attempts:8,} attempts, {self.waited:7,} waited, {self.balked:7,} balked, "
            f"{self.reneged:7,} reneged, {self.retries:7,} retries"
        )


def model_counts(log: SessionLog, /) -> Counts:
    """The queueing counts of the model's log."""
    queued = (log.outcome == RENEGED) | ((log.outcome == CHARGED) & (log.wait_min > 0))
    return Counts(
        attempts=len(log),
        waited=int(queued.sum()),
        balked=int((log.outcome == BALKED).sum()),
        reneged=int((log.outcome == RENEGED).sum()),
        retries=int((log.attempt > 0).sum()),
    )


def log_digest(log: SessionLog, /) -> str:
    """SHA-256 (first 16 hex digits) of every column of ``log``."""
    h = hashlib.sha256()
    for name in SessionLog.__dataclass_fields__:
        h.update(np.ascontiguousarray(getattr(log, name)).tobytes())
    return h.hexdigest()[:16]


def plain_mmc(p: PeerInputs, /) -> tuple[float, Counts]:
    """CPU seconds and counts of a plain M/M/c per station (request, timeout, release)."""
    env = simpy.Environment()
    res = [simpy.Resource(env, capacity=p.ports) for _ in range(p.n_sites)]
    service, site, arrive = p.service, p.site, p.arrive
    waited = [0]

    def customer(i: int) -> simpy.events.ProcessGenerator:
        with res[site[i]].request() as req:
            if not req.triggered:
                waited[0] += 1
            yield req
            yield env.timeout(service[i])

    def source() -> simpy.events.ProcessGenerator:
        for i, t in enumerate(arrive):
            yield env.timeout(t - env.now)
            env.process(customer(i))

    gc.collect()
    t0 = time.process_time()
    env.process(source())
    _run_paused(env)
    return time.process_time() - t0, Counts(attempts=len(arrive), waited=waited[0])


def reneging_mmc(p: PeerInputs, /) -> tuple[float, Counts]:
    """CPU seconds and counts of an M/M/c per station with balking, reneging and
    retries at the next station."""
    env = simpy.Environment()
    res = [simpy.Resource(env, capacity=p.ports) for _ in range(p.n_sites)]
    service, patience, drive, site = p.service, p.patience, p.drive, p.site
    balk_at, max_attempts, n_sites = p.balk_at, p.max_attempts, p.n_sites
    c = Counts()

    def customer(i: int) -> simpy.events.ProcessGenerator:
        j = site[i]
        for attempt in range(max_attempts):
            c.attempts += 1
            r = res[j]
            if len(r.queue) >= balk_at:
                c.balked += 1
            else:
                req = r.request()
                if not req.triggered:
                    c.waited += 1
                    yield req | env.timeout(patience[i])
                if req.triggered:
                    yield env.timeout(service[i])
                    r.release(req)
                    return
                req.cancel()
                c.reneged += 1
            if attempt + 1 < max_attempts:
                c.retries += 1
                j = (j + 1) % n_sites
                yield env.timeout(drive[i])

    def source() -> simpy.events.ProcessGenerator:
        for i, t in enumerate(p.arrive):
            yield env.timeout(t - env.now)
            env.process(customer(i))

    gc.collect()
    t0 = time.process_time()
    env.process(source())
    _run_paused(env)
    return time.process_time() - t0, c


def _run_paused(env: simpy.Environment) -> None:
    """``env.run()`` with the cyclic garbage collector paused."""
    gc.disable()
    try:
        env.run()
    finally:
        gc.enable()


def peer_inputs(
    sc: Scenario, log: SessionLog, patience: np.ndarray, /, *, n_sites: int
) -> PeerInputs:
    """The peer's customers, drawn to match the model's observed load."""
    rng = np.random.default_rng(sc.seed)
    n = int(patience.shape[0])
    charged = log.outcome == CHARGED
    mean_service = float(np.mean(log.end_min[charged] - log.start_min[charged]))
    retry = log.attempt > 0
    mean_drive = float(np.mean(log.access_min[retry])) if retry.any() else 3.0
    horizon = float(np.nanmax(log.arrival_min))
    per_port = sc.simulation.balk_queue_per_port
    ports = sc.chargers.ports_per_site
    return PeerInputs(
        arrive=np.sort(rng.uniform(0.0, horizon, n)).tolist(),
        service=rng.exponential(mean_service, n).tolist(),
        patience=rng.permutation(patience).tolist(),
        drive=rng.exponential(mean_drive, n).tolist(),
        site=rng.integers(0, n_sites, n).tolist(),
        n_sites=n_sites,
        ports=ports,
        balk_at=float("inf") if per_port is None else per_port * ports,
        max_attempts=sc.simulation.max_attempts,
    )


def scenario(args: argparse.Namespace, /) -> Scenario:
    """The config scaled as the options say."""
    sc = load_config(args.config)
    res = sc.demand.residential.model_copy(
        update={"ev_share": args.ev_share, "cars_per_household": 1.0}
    )
    return sc.model_copy(
        update={
            "demand": sc.demand.model_copy(update={"days": args.days, "residential": res}),
            "chargers": sc.chargers.model_copy(update={"ports_per_site": args.ports}),
        }
    )


def cpu_of(fn: Callable[[], object], /) -> float:
    """CPU seconds of one call of ``fn`` (after a full collection)."""
    gc.collect()
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def with_taxis(sc: Scenario, /, *, taxis: int) -> Scenario:
    """``sc`` with a taxi fleet of ``taxis`` vehicles, half of them able to swap."""
    taxi = {"share": 0.0, "battery_kwh": 70.0, "consumption_kwh_per_km": 0.16}
    taxi |= {"max_ac_kw": 11.0, "max_dc_kw": 90.0}
    classes = [
        *sc.vehicles.fleet,
        VehicleClassConfig(name="swap-taxi", swap_pack="nio", **taxi),
        VehicleClassConfig(name="plain-taxi", **taxi),
    ]
    fleet = FleetConfig(
        name="taxis", vehicles=taxis, vehicle_classes={"swap-taxi": 0.5, "plain-taxi": 0.5}
    )
    return sc.model_copy(
        update={
            "demand": sc.demand.model_copy(update={"fleets": [fleet]}),
            "vehicles": sc.vehicles.model_copy(update={"fleet": classes}),
        }
    )


def with_swap_station(prep: Prepared, plan: Plan, /) -> tuple[Plan, Access]:
    """``plan`` and a swap station of the default swap class on the first candidate
    not in it (after its sites, so charging stations keep their indices), and its
    :func:`plan_access` (with the swap tables)."""
    sc = prep.scenario
    name = sc.chargers.swap_class_name
    assert name is not None
    klass = sc.chargers.swap_classes[name]
    c = int(plan.candidate.max()) + 1

    def add(a: np.ndarray, v: object) -> np.ndarray:
        return np.concatenate([a, np.array([v], dtype=a.dtype)])

    swap_plan = replace(
        plan,
        candidate=add(plan.candidate, c),
        ports=add(plan.ports, 0),
        power_kw=add(plan.power_kw, klass.charger_kw),
        dc=add(plan.dc, True),
        charger_class=(*plan.charger_class, name),
        existing=add(plan.existing, False),
        kind=(*plan.kind, "swap"),
        bays=add(plan.bays, klass.bays),
        packs=add(plan.packs, klass.packs),
        pack_chargers=add(plan.pack_chargers, klass.pack_chargers),
    )
    access = plan_access(prep, swap_plan)
    return swap_plan, access


def swap_main(args: argparse.Namespace, /) -> None:
    """``--swap``: the scenario with a fleet and a swap station against it without."""
    prep = prepare(with_taxis(scenario(args), taxis=args.taxis))
    plan = make_plans(prep)[args.strategy]
    access = plan_access(prep, plan)
    swap_plan, swap_access = with_swap_station(prep, plan)
    demand = demand_for(prep, 0)
    residents = demand.take(demand.segment != 2)

    def base() -> SessionLog:
        return simulate_traced_plan(prep, plan, residents, replication=0, access=access)[0]

    def swapping() -> SessionLog:
        return simulate_traced_plan(prep, swap_plan, demand, replication=0, access=swap_access)[0]

    logs = {"without": base(), "with": swapping()}
    best = {"without": float("inf"), "with": float("inf")}
    for _ in range(args.repeat):
        best["without"] = min(best["without"], cpu_of(base))
        best["with"] = min(best["with"], cpu_of(swapping))
    sessions = {"without": len(residents), "with": len(demand)}
    print(
        f"scenario: {prep.scenario.name}, strategy {plan.strategy} ({len(plan)} sites x "
        f"{args.ports} ports), {args.days} days, {args.taxis:,} taxis (half can swap), "
        f"one {swap_plan.charger_class[-1]} swap station"
    )
    for key, label in (("without", "residents, chargers   "), ("with", "+ fleet, swap station ")):
        log = logs[key]
        swaps = int(((log.service == SWAP) & (log.outcome == CHARGED)).sum())
        print(
            f"{label}: {sessions[key]:7,} sessions, {len(log):7,} attempts, {swaps:6,} swaps, "
            f"{best[key]:.3f} s, {best[key] / sessions[key] * 1e6:6.1f} us/session, "
            f"{best[key] / len(log) * 1e6:6.1f} us/attempt  (best of {args.repeat})"
        )
    per_session = (best["with"] / sessions["with"]) / (best["without"] / sessions["without"])
    per_attempt = (best["with"] / len(logs["with"])) / (best["without"] / len(logs["without"]))
    print(f"ratio with / without, CPU per session : {per_session:5.2f}")
    print(f"ratio with / without, CPU per attempt : {per_attempt:5.2f}")
    print(f"ratio with / without, CPU in all      : {best['with'] / best['without']:5.2f}")


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
        help="ports per site (12: low load, few wait; 2: overloaded, most drivers retry)",
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--swap", action="store_true", help="cost of a fleet and a swap station")
    ap.add_argument("--taxis", type=int, default=2000, help="fleet size with --swap")
    args = ap.parse_args()
    if args.swap:
        swap_main(args)
        return

    sc = scenario(args)
    prep = prepare(sc)
    plan = make_plans(prep)[args.strategy]
    access = plan_access(prep, plan)
    highway = plan_highway_access(prep, plan)
    demand = demand_for(prep, 0)
    log = simulate_plan(prep, plan, demand, access=access, highway=highway)
    overloaded = args.ports <= 2
    peer = peer_inputs(sc, log, demand.patience_min, n_sites=len(plan))
    peer_fn = reneging_mmc if overloaded else plain_mmc
    util = run_unit(prep, plan, 0, demand=demand, access=access).metrics["utilization_mean"]
    print(
        f"scenario: {sc.name}, strategy {plan.strategy} ({len(plan)} sites x {args.ports} "
        f"ports), {args.days} days, {len(demand):,} sessions, mean utilisation "
        f"{float(util or 0.0):.0%}, log digest {log_digest(log)}"
    )

    sim_s, unit_s, peer_s = [], [], []
    for _ in range(args.repeat):
        sim_s.append(
            cpu_of(lambda: simulate_plan(prep, plan, demand, access=access, highway=highway))
        )
        unit_s.append(cpu_of(lambda: run_unit(prep, plan, 0, access=access, highway=highway)))
        seconds, peer_counts = peer_fn(peer)
        peer_s.append(seconds)
    counts = model_counts(log)
    peer_rate = peer_counts.attempts / min(peer_s)
    sim_rate = counts.attempts / min(sim_s)
    unit_rate = counts.attempts / min(unit_s)
    kind = "M/M/c + balk, renege, retry" if overloaded else "plain M/M/c"
    print(f"model : {counts.line()}")
    print(f"peer  : {peer_counts.line()}  ({kind})")
    print(f"attempts per CPU second, best of {args.repeat}:")
    print(f"  simulation alone : {sim_rate:10,.0f}  ({min(sim_s):.3f} s)")
    print(f"  whole unit       : {unit_rate:10,.0f}  ({min(unit_s):.3f} s)")
    print(f"  bare SimPy peer  : {peer_rate:10,.0f}  ({min(peer_s):.3f} s)")
    print(f"ratio simulation / peer : {sim_rate / peer_rate:5.2f}  (target >= {TARGET})")
    print(f"ratio whole unit / peer : {unit_rate / peer_rate:5.2f}  (target >= {TARGET})")


if __name__ == "__main__":
    main()
