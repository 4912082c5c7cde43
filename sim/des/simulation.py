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
        _Departures(env, demand, residents=residents, through=through).start()
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


class _Departures:
    """Sets every vehicle off at its departure time, in (time, session) order, and
    starts each resident's process when it arrives at the station it chose (a heap by
    arrival time, then departure order).

    It runs as a chain of timeouts, each calling :meth:`_advance` when it fires, rather
    than as a generator process: the same events in the same order, without resuming a
    generator twice per session (measured: about 5% of the benchmark unit).
    """

    __slots__ = (
        "_arriving",
        "_depart",
        "_due",
        "_env",
        "_highway",
        "_k",
        "_order",
        "_residents",
        "_seq",
        "_through",
    )

    def __init__(
        self,
        env: simpy.Environment,
        demand: Demand,
        /,
        *,
        residents: Residents,
        through: ThroughTraffic | None,
    ) -> None:
        n = len(demand)
        self._env = env
        self._residents = residents
        self._through = through
        self._order: list[int] = np.lexsort((np.arange(n), demand.depart_min)).tolist()
        self._depart: list[float] = demand.depart_min[self._order].tolist()
        self._highway: list[bool] = (demand.segment == 1).tolist()
        # residents on their way: (arrival time, departure order, session, station,
        # drive (min), stations tried)
        self._arriving: list[tuple[float, int, int, int, float, set[int]]] = []
        self._k = 0  # departures done
        self._seq = 0  # residents sent on their way
        self._due: int | tuple[float, int, int, int, float, set[int]] | None = None

    def start(self) -> None:
        """Process the departures at time 0 and schedule the next one."""
        self._advance(None)

    def _advance(self, event: simpy.Event | None) -> None:
        """Do what is due now, then wait for the next departure or arrival."""
        env = self._env
        now = env.now
        arriving, depart, n = self._arriving, self._depart, len(self._order)
        due, self._due = self._due, None
        while True:
            if due is not None:
                if isinstance(due, int):
                    self._set_off(due)
                else:
                    _, _, i, j, drive, tried = due
                    env.process(self._residents.arrive(i, j, drive, tried))
            k = self._k
            t_dep = depart[k] if k < n else _INF
            if arriving and arriving[0][0] < t_dep:
                due = heapq.heappop(arriving)
                t = due[0]
            elif k < n:
                due = self._order[k]
                self._k = k + 1
                t = t_dep
            else:
                return
            if t > now:
                self._due = due
                wake = env.timeout(t - now)
                assert wake.callbacks is not None  # a new event has its list
                wake.callbacks.append(self._advance)
                return

    def _set_off(self, i: int, /) -> None:
        """Session ``i`` departs now."""
        env = self._env
        if self._highway[i]:
            assert self._through is not None  # checked by simulate
            env.process(self._through.drive(i))
            return
        heading = self._residents.set_off(i)
        if heading is not None:
            j, drive = heading
            heapq.heappush(self._arriving, (env.now + drive, self._seq, i, j, drive, {j}))
            self._seq += 1
