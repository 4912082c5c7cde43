"""Discrete-event simulation of charging sessions (SimPy stays in this package).

Each session's driver leaves its origin at ``depart_min``, drives to its chosen station
(the nearest with chargers by travel time), joins the station's queue (a
``simpy.Resource`` with one slot per port), waits at most its patience (otherwise
*reneged*), charges its energy at the port's power (limited by the vehicle's maximum
for that current) and leaves.  A driver who finds no station within the access limit
is logged as *no_station*; a driver who finds the queue at or beyond the balking
threshold does not join (*balked*).  Every attempt is one row of the log.

Processes are started in a deterministic order (arrival time at the station, then
session index), so a given input gives the same log on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.demand.model import Demand

__all__ = ["OUTCOMES", "SessionLog", "Stations", "simulate"]

#: Outcome codes used in :attr:`SessionLog.outcome`.
OUTCOMES: tuple[str, ...] = ("charged", "reneged", "balked", "stranded", "no_station")
CHARGED, RENEGED, BALKED, STRANDED, NO_STATION = range(5)


@dataclass(frozen=True)
class Stations:
    """The charging stations of a plan.

    Attributes
    ----------
    site_id
        Candidate site ids, one per station.
    ports
        int64 ports per station.
    power_kw
        float64 rated power per port (kW).
    dc
        bool, ``True`` for DC ports (vehicle's ``max_dc_kw`` applies, else ``max_ac_kw``).
    """

    site_id: tuple[str, ...]
    ports: np.ndarray
    power_kw: np.ndarray
    dc: np.ndarray

    def __len__(self) -> int:
        return len(self.site_id)


@dataclass(frozen=True)
class SessionLog:
    """One row per charging attempt (numpy columns of equal length).

    ``station`` is an index into :class:`Stations` (-1 when no station); times are
    minutes from the start of day 1; ``wait_min`` is the time spent in the queue
    (until charging started, or until leaving for reneged attempts); ``start_min`` and
    ``end_min`` are NaN for attempts that did not charge.
    """

    session: np.ndarray
    attempt: np.ndarray
    station: np.ndarray
    access_min: np.ndarray
    arrival_min: np.ndarray
    start_min: np.ndarray
    end_min: np.ndarray
    wait_min: np.ndarray
    energy_kwh: np.ndarray
    power_kw: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return int(self.session.shape[0])


def simulate(
    demand: Demand,
    stations: Stations,
    /,
    *,
    choice: np.ndarray,
    access_min: np.ndarray,
    balk_queue: int | None = None,
) -> SessionLog:
    """Simulate every session of ``demand`` at ``stations``.

    Parameters
    ----------
    demand
        Sessions of one replication.
    stations
        Stations of the plan under test.
    choice
        int64 ``(n_sessions,)`` station index chosen by each driver, -1 for none.
    access_min
        float64 ``(n_sessions,)`` driving time to the chosen station (min).
    balk_queue
        A driver who finds this many or more vehicles waiting does not join; ``None``
        never balks.

    Returns
    -------
    SessionLog
        Rows in session order.
    """
    n = len(demand)
    env = simpy.Environment()
    resources = [simpy.Resource(env, capacity=int(c)) for c in stations.ports]
    arrival = demand.depart_min + np.where(choice >= 0, access_min, 0.0)
    # Effective power: the port's rating limited by the vehicle for that current.
    st = np.maximum(choice, 0)
    port_kw = stations.power_kw[st] if len(stations) else np.zeros(n)
    veh_kw = np.where(stations.dc[st], demand.max_dc_kw, demand.max_ac_kw) if len(
        stations
    ) else np.zeros(n)
    power = np.minimum(port_kw, veh_kw)
    duration = np.where(power > 0, demand.energy_kwh / np.maximum(power, 1e-9) * 60.0, 0.0)

    nan = float("nan")
    start = [nan] * n
    end = [nan] * n
    wait = [nan] * n
    outcome = [NO_STATION] * n
    # Python lists: scalar access in the hot loop is several times faster than numpy.
    patience = demand.patience_min.tolist()
    dur = duration.tolist()
    balk = np.inf if balk_queue is None else balk_queue
    timeout = env.timeout
    inf = float("inf")

    def driver(i: int, res: simpy.Resource) -> simpy.events.ProcessGenerator:
        t0 = env.now
        if len(res.queue) >= balk:
            outcome[i] = BALKED
            wait[i] = 0.0
            return
        req = res.request()
        if not req.triggered:  # all ports busy: queue, with reneging if patience is finite
            p = patience[i]
            if p < inf:
                got = yield req | timeout(p)
                if req not in got:
                    req.cancel()
                    outcome[i] = RENEGED
                    wait[i] = env.now - t0
                    return
            else:
                yield req
        t1 = env.now
        start[i] = t1
        wait[i] = t1 - t0
        yield timeout(dur[i])
        res.release(req)
        end[i] = env.now
        outcome[i] = CHARGED

    order = np.lexsort((np.arange(n), arrival))
    go = order[choice[order] >= 0]
    arrival_list = arrival.tolist()
    choice_list = choice.tolist()

    def source() -> simpy.events.ProcessGenerator:
        for i in go.tolist():
            dt = arrival_list[i] - env.now
            if dt > 0:
                yield timeout(dt)
            env.process(driver(i, resources[choice_list[i]]))

    env.process(source())
    env.run()

    outcome_a = np.array(outcome, dtype=np.int8)
    charged = outcome_a == CHARGED
    return SessionLog(
        session=np.arange(n, dtype=np.int64),
        attempt=np.zeros(n, dtype=np.int16),
        station=np.where(choice >= 0, choice, -1).astype(np.int64),
        access_min=np.where(choice >= 0, access_min, np.nan),
        arrival_min=np.where(choice >= 0, arrival, np.nan),
        start_min=np.array(start),
        end_min=np.array(end),
        wait_min=np.array(wait),
        energy_kwh=np.where(charged, demand.energy_kwh, 0.0),
        power_kw=np.where(charged, power, np.nan),
        outcome=outcome_a,
    )
