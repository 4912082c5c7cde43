"""``simulate``: wire the stations, the charging model and the two driver policies into
one SimPy run, and return the session log.

Departures are processed in a deterministic order (departure time, then session index):
a through driver's process starts when it enters the region; a resident chooses a
station when it sets off, and its process starts when it arrives there (one process per
vehicle, created when it first needs the station).  The same input gives the same log on
every run.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import simpy

from sim.demand.model import Demand
from sim.des.charging import ChargeTimes, TaperCurves
from sim.des.highway import ThroughTraffic
from sim.des.inputs import Access, DriverRules, HighwayAccess, Stations
from sim.des.log import LogRow, SessionLog
from sim.des.resident import Residents
from sim.des.stations import Ports

__all__ = ["simulate"]

_INF = float("inf")
_DEFAULT_RULES = DriverRules()


def simulate(
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    highway: HighwayAccess | None = None,
    rules: DriverRules = _DEFAULT_RULES,
    taper: TaperCurves | None = None,
) -> SessionLog:
    """Simulate every session of ``demand`` at ``stations``.

    Parameters
    ----------
    demand
        Sessions of one replication.
    stations
        Stations of the plan under test.
    access
        Reachable stations and driving times (from home and between stations).
    highway
        Stations along the routes of highway sessions (segment 1); required when
        ``demand`` has any.
    rules
        Choice, balking, reneging and retry rules.
    taper
        Charging curves; ``None`` charges at full power at any state of charge.

    Returns
    -------
    SessionLog
        One row per attempt, in (session, attempt) order.
    """
    if highway is None and (demand.segment == 1).any():
        raise ValueError("simulate: highway sessions need `highway` access")
    with _collector_paused():
        return _run(demand, stations, access=access, highway=highway, rules=rules, taper=taper)


def _run(
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    highway: HighwayAccess | None,
    rules: DriverRules,
    taper: TaperCurves | None,
) -> SessionLog:
    """:func:`simulate`'s body (its objects are freed when it returns)."""
    env = simpy.Environment()
    log: list[LogRow] = []
    charging = ChargeTimes(demand, stations, taper=taper or TaperCurves.flat())
    ports = Ports(
        env, stations, rules=rules, charging=charging, patience_min=demand.patience_min, log=log
    )
    residents = Residents(
        env,
        access,
        demand_energy_kwh=demand.energy_kwh,
        demand_soc=demand.soc_start,
        rules=rules,
        ports=ports,
        charging=charging,
        log=log,
    )
    through = (
        None
        if highway is None
        else ThroughTraffic(
            env, demand, highway, rules=rules, ports=ports, charging=charging, log=log
        )
    )
    env.process(_departures(env, demand, residents=residents, through=through))
    env.run()
    return SessionLog.from_rows(log)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (and restore its state after).

    A simulation allocates several container objects per session (lookup lists,
    events, generators, log rows) that mostly live until it ends; the collector would
    traverse them, and the caller's whole heap, again and again.  Paused, the benchmark
    unit (``benchmarks/bench_des.py``) simulates 10-25% faster.  Reference cycles made
    meanwhile are collected once it resumes.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _departures(
    env: simpy.Environment,
    demand: Demand,
    /,
    *,
    residents: Residents,
    through: ThroughTraffic | None,
) -> simpy.events.ProcessGenerator:
    """Process: set every vehicle off at its departure time, in (time, session) order,
    and start each resident's process when it arrives at the station it chose.

    A resident chooses its station as it sets off (:meth:`Residents.set_off`) and joins
    a heap of vehicles on their way, by arrival time, then departure order; a through
    vehicle's process starts as it enters the region.
    """
    n = len(demand)
    order: list[int] = np.lexsort((np.arange(n), demand.depart_min)).tolist()
    depart: list[float] = demand.depart_min[order].tolist()
    highway: list[bool] = (demand.segment == 1).tolist()
    # on their way: (arrival time, departure order, session, station, drive (min))
    arriving: list[tuple[float, int, int, int, float]] = []
    timeout, process = env.timeout, env.process
    set_off, arrive = residents.set_off, residents.arrive
    k = 0  # departures done
    seq = 0  # residents on their way so far
    while k < n or arriving:
        t_dep = depart[k] if k < n else _INF
        if arriving and arriving[0][0] < t_dep:
            t_arr, _, i, j, drive = heapq.heappop(arriving)
            if t_arr > env.now:
                yield timeout(t_arr - env.now)
            process(arrive(i, j, drive))
            continue
        if t_dep > env.now:
            yield timeout(t_dep - env.now)
        i = order[k]
        k += 1
        if highway[i]:
            assert through is not None  # checked by simulate
            process(through.drive(i))
            continue
        heading = set_off(i)
        if heading is not None:
            j, drive = heading
            heapq.heappush(arriving, (env.now + drive, seq, i, j, drive))
            seq += 1
