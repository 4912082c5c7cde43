"""``simulate``: wire the stations, the charging model and the two driver policies into
one SimPy run, and return the session log.

Departures are processed in a deterministic order (departure time, then session index):
a through driver's process starts when it enters the region; a resident chooses a
station when it sets off, and makes its visits from when it arrives there.  The same
input gives the same log on every run.

Residents, the departures and the ports run on SimPy event callbacks rather than
processes (:class:`~sim.des.stations.Visit`, :class:`_Departures`,
:class:`~sim.des.stations.PortPool`), with the same events in the same order as a
process per resident on ``simpy.Resource`` ports had (``tests/test_des_digest.py`` pins
the logs; ``tests/test_des.py`` checks the pool against ``simpy.Resource``): 1.2-1.5x
faster per session, overloaded to low load (``benchmarks/bench_des.py``).
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import simpy

from sim.demand.model import Demand
from sim.des.charging import ChargeTimes, TaperCurves
from sim.des.fleet import FLEET_SEGMENT_CODE, FleetDrivers
from sim.des.highway import ThroughTraffic
from sim.des.inputs import Access, DriverRules, HighwayAccess, Stations
from sim.des.log import LogRow, SessionLog
from sim.des.mobile import MobileFleet
from sim.des.resident import Residents
from sim.des.stations import Later, Ports, Urgent
from sim.des.swap import SwapSetup, SwapSites, SwapStations, SwapTrace

__all__ = ["simulate", "simulate_traced"]

_INF = float("inf")
_DEFAULT_RULES = DriverRules()
# what a departures timeout is for
_NOTHING, _ARRIVAL, _DEPARTURE = range(3)
# which policy a session follows
_RESIDENT, _THROUGH, _FLEET = range(3)


def simulate(  # noqa: PLR0913 -- the six inputs of a charging run and three of swapping
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    highway: HighwayAccess | None = None,
    rules: DriverRules = _DEFAULT_RULES,
    taper: TaperCurves | None = None,
    swap: SwapSites | None = None,
    swap_factor: np.ndarray | None = None,
    pack_names: tuple[str, ...] = (),
) -> SessionLog:
    """Simulate every session of ``demand`` at ``stations``.

    Parameters
    ----------
    demand
        Sessions of one replication.
    stations
        Stations of the plan under test (a battery-swap site has 0 ports and is never
        offered to a charging driver).
    access
        Reachable stations and driving times (from home and between stations), and,
        with ``swap``, the swap stations within reach.
    highway
        Stations along the routes of highway sessions (segment 1); required when
        ``demand`` has any.
    rules
        Choice, balking, reneging and retry rules (at a swap station a driver balks at
        ``balk_queue_per_port`` x its bays waiting).
    taper
        Charging curves; ``None`` charges at full power at any state of charge.
    swap
        The plan's battery-swap stations (``None``: none).  Fleet sessions and sessions
        that can swap at one within reach follow :mod:`sim.des.fleet`.
    swap_factor
        float64 ``(n_sessions,)`` uniform draws in (0, 1), one per session, that a swap
        station turns into the session's unit-mean swap-time factor with its own
        distribution (:func:`~sim.des.swap.swap_time_factors`); ``None``: every swap
        takes its station's mean.
    pack_names
        Pack type of each :attr:`Demand.swap_pack` code
        (:func:`sim.demand.model.pack_types`).

    Returns
    -------
    SessionLog
        One row per attempt, in (session, attempt) order.
    """
    return simulate_traced(
        demand,
        stations,
        access=access,
        highway=highway,
        rules=rules,
        taper=taper,
        swap=swap,
        swap_factor=swap_factor,
        pack_names=pack_names,
    )[0]


def simulate_traced(  # noqa: PLR0913 -- simulate()'s arguments
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    highway: HighwayAccess | None = None,
    rules: DriverRules = _DEFAULT_RULES,
    taper: TaperCurves | None = None,
    swap: SwapSites | None = None,
    swap_factor: np.ndarray | None = None,
    pack_names: tuple[str, ...] = (),
) -> tuple[SessionLog, SwapTrace | None]:
    """:func:`simulate`, and what the swap stations did (``None`` without ``swap``):
    the charged-pack stock over time and the pack chargers' charges."""
    if highway is None and (demand.segment == 1).any():
        raise ValueError("simulate: highway sessions need `highway` access")
    closed = stations.ports <= 0  # swap sites: never a charging driver's option
    city = closed.copy()  # mobile units serve through-traffic only
    if stations.mobile is not None:
        if highway is None:
            raise ValueError("simulate: mobile units serve through-traffic; `highway` is None")
        city[stations.mobile.station] = True
    if city.any():
        access, highway = _without_closed(access, highway, city, closed)
    with _collector_paused():
        return _run(
            demand,
            stations,
            access=access,
            highway=highway,
            rules=rules,
            taper=taper,
            swap=None if swap is None else (swap, swap_factor, pack_names),
        )


def _run(
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    highway: HighwayAccess | None,
    rules: DriverRules,
    taper: TaperCurves | None,
    swap: tuple[SwapSites, np.ndarray | None, tuple[str, ...]] | None,
) -> tuple[SessionLog, SwapTrace | None]:
    """:func:`simulate`'s body (its objects are freed when it returns); ``swap`` is
    ``(sites, uniform draws, pack names)``."""
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
    setup = None if swap is None else _swap_setup(env, swap, rules, len(demand))
    through = (
        None
        if highway is None
        else ThroughTraffic(
            env,
            demand,
            highway,
            rules=rules,
            ports=ports,
            charging=charging,
            log=log,
            swap=setup,
        )
    )
    fleet = None
    kind = np.where(demand.segment == 1, _THROUGH, _RESIDENT).astype(np.int8)
    if setup is not None or (demand.segment == FLEET_SEGMENT_CODE).any():
        fleet = FleetDrivers(
            env,
            demand,
            access,
            rules=rules,
            ports=ports,
            charging=charging,
            swap=setup,
            log=log,
        )
        follows = [kind[i] != _THROUGH and fleet.follows(i) for i in range(len(demand))]
        kind[np.array(follows, dtype=bool)] = _FLEET
    if stations.mobile is not None:
        assert through is not None  # checked by simulate_traced
        ports.stores = MobileFleet(
            env,
            stations.mobile,
            ports,
            charging=charging,
            set_open=through.set_open,
            horizon_min=float(demand.depart_min.max(initial=0.0)) + 1440.0,
        )
    departures = _Departures(
        env, demand, residents=residents, through=through, fleet=fleet, kind=kind.tolist()
    )
    Urgent(env, departures.tick)
    env.run()
    trace = None if setup is None else SwapTrace.of(setup.stations, setup.sites)
    return SessionLog.from_rows(log), trace


def _swap_setup(
    env: simpy.Environment,
    swap: tuple[SwapSites, np.ndarray | None, tuple[str, ...]],
    rules: DriverRules,
    n_sessions: int,
    /,
) -> SwapSetup:
    """The run's swap stations from ``(sites, uniform draws, pack names)``."""
    sites, uniform, pack_names = swap
    swaps = SwapStations(env, sites, balk_queue_per_bay=rules.balk_queue_per_port)
    return SwapSetup.of(sites, swaps, uniform=uniform, pack_names=pack_names, n_sessions=n_sessions)


def _without_closed(
    access: Access, highway: HighwayAccess | None, city: np.ndarray, closed: np.ndarray, /
) -> tuple[Access, HighwayAccess | None]:
    """``access`` without the stations of ``city`` among the options (residents' rows
    keep the others in order, -1 padded at the end) and ``highway`` without those of
    ``closed`` (-1 there)."""
    if not city.any():
        return access, highway

    def drop(st: np.ndarray, t: np.ndarray, shut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gone = (st >= 0) & shut[np.maximum(st, 0)]
        st, t = np.where(gone, -1, st), np.where(gone, np.inf, t)
        order = np.argsort(st < 0, axis=1, kind="stable")
        return np.take_along_axis(st, order, 1), np.take_along_axis(t, order, 1)

    first_st, first_t = drop(access.first_station, access.first_min, city)
    next_st, next_t = drop(access.next_station, access.next_min, city)
    access = replace(
        access, first_station=first_st, first_min=first_t, next_station=next_st, next_min=next_t
    )
    if highway is not None and closed.any():
        od = highway.od_station
        nx = highway.next_station
        highway = replace(
            highway,
            od_station=np.where((od >= 0) & closed[np.maximum(od, 0)], -1, od),
            next_station=np.where((nx >= 0) & closed[np.maximum(nx, 0)], -1, nx),
        )
    return access, highway


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
    """Set every vehicle off at its departure time, in (time, session) order, and make
    each resident's first visit when it arrives at the station it chose.

    A resident chooses its station as it sets off (:meth:`Residents.set_off`) and joins
    a heap of vehicles on their way, by arrival time, then departure order; a through
    vehicle's process starts as it enters the region.  This is a chain of event
    callbacks (:meth:`tick`), one timeout per distinct time, the steps of a process
    that yields a timeout until the next departure or arrival.  ``kind`` is the policy
    each session follows (``_RESIDENT``, ``_THROUGH`` or ``_FLEET``), decided by
    :func:`_run`.
    """

    __slots__ = (
        "_arriving",
        "_depart",
        "_due",
        "_env",
        "_fleet",
        "_k",
        "_n",
        "_order",
        "_residents",
        "_seq",
        "_through",
        "kind",
    )

    def __init__(
        self,
        env: simpy.Environment,
        demand: Demand,
        /,
        *,
        residents: Residents,
        through: ThroughTraffic | None,
        fleet: FleetDrivers | None = None,
        kind: list[int],
    ) -> None:
        n = self._n = len(demand)
        self._env = env
        self._order: list[int] = np.lexsort((np.arange(n), demand.depart_min)).tolist()
        self._depart: list[float] = demand.depart_min[self._order].tolist()
        self.kind = kind  # the policy of each session (_RESIDENT, _THROUGH, _FLEET)
        # on their way: (arrival time, departure order, session, station, drive (min))
        self._arriving: list[tuple[float, int, int, int, float]] = []
        self._residents, self._through, self._fleet = residents, through, fleet
        self._k = 0  # departures done
        self._seq = 0  # residents on their way so far
        self._due = _NOTHING  # what the pending timeout is for

    def tick(self, _: simpy.Event) -> None:
        """Do what is due now, then everything else due now, then wait for the next
        departure or arrival (the hot loop of every session, kept in one function).

        A resident's first visit is made here, at once, where its process would have
        started (an urgent event after this step): nothing else runs in between, since
        no urgent event is pending when a timeout is processed, and departures come
        before arrivals within a time.  Once this step has started a through vehicle's
        process, later arrivals wait for an :class:`~sim.des.stations.Urgent` event
        (after that process's start, as before).
        """
        env, arriving, depart, order, n = (
            self._env,
            self._arriving,
            self._depart,
            self._order,
            self._n,
        )
        set_off, arrive, kind = self._residents.set_off, self._residents.arrive, self.kind
        now, k, seq = env.now, self._k, self._seq
        urgent = False  # this step has started a process (its start is pending)
        due, self._due = self._due, _NOTHING
        while True:
            if due == _NOTHING:
                t_dep = depart[k] if k < n else _INF
                if arriving and arriving[0][0] < t_dep:
                    if arriving[0][0] > now:
                        self._wait(arriving[0][0], _ARRIVAL)
                        break
                    due = _ARRIVAL
                elif k < n:
                    if t_dep > now:
                        self._wait(t_dep, _DEPARTURE)
                        break
                    due = _DEPARTURE
                else:
                    break
            if due == _ARRIVAL:  # the first resident on its way arrives
                i, j, drive = heapq.heappop(arriving)[2:]
                arrived = arrive(i, j, drive)
                if urgent:
                    Urgent(env, arrived)
                else:
                    arrived(None)
            else:  # the next vehicle sets off
                i = order[k]
                k += 1
                policy = kind[i]
                if policy == _THROUGH:
                    assert self._through is not None  # checked by simulate
                    env.process(self._through.drive(i))
                    urgent = True
                elif policy == _FLEET:
                    assert self._fleet is not None  # set with the kinds
                    env.process(self._fleet.drive(i))
                    urgent = True
                else:
                    heading = set_off(i)
                    if heading is not None:
                        j, drive = heading
                        heapq.heappush(arriving, (now + drive, seq, i, j, drive))
                        seq += 1
            due = _NOTHING
        self._k, self._seq = k, seq

    def _wait(self, t: float, due: int, /) -> None:
        """Come back at time ``t`` (min) to do ``due``."""
        Later(self._env, t - self._env.now, self.tick)
        self._due = due
