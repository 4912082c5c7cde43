"""Discrete-event simulation of charging sessions (SimPy stays in this package).

Each session's driver sets off at ``depart_min`` and chooses a station among the
nearest ``choice_set`` within reach: the nearest by travel time, or the least travel
time plus expected wait (queue and busy ports as a charging app shows them when the
driver sets off).  At the station (a ``simpy.Resource`` with one slot per port) the
driver

- charges at once if a port is free;
- *balks* if at least ``balk_queue_per_port x ports`` vehicles are already waiting;
- otherwise queues, and *reneges* when its patience runs out first.

After balking or reneging the driver drives on to the best untried station within reach
of the current one, up to ``max_attempts`` stations, then gives up.  A driver with no
station within reach from home is *no_station*.  Charging follows the vehicle's
tapering power curve (DC or AC) limited by the port's rating; at a site with a grid cap
the cap is shared between the vehicles charging there (water-filling, re-balanced at
every start and end and at least every ``CAP_RECHECK_MIN`` minutes).  Every attempt is
one row of the log.

Processes start in a deterministic order (departure time, then session index), so the
same input gives the same log on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from sim.demand.model import Demand

__all__ = [
    "OUTCOMES",
    "Access",
    "DriverRules",
    "SessionLog",
    "Stations",
    "TaperCurves",
    "charge_minutes",
    "simulate",
]

#: Outcome codes used in :attr:`SessionLog.outcome`.
OUTCOMES: tuple[str, ...] = ("charged", "reneged", "balked", "stranded", "no_station")
CHARGED, RENEGED, BALKED, STRANDED, NO_STATION = range(5)
#: Longest time (min) a capped site runs without re-balancing its power.
CAP_RECHECK_MIN = 5.0
#: Integration points of the charging-time integral over the state of charge.
_QUAD_POINTS = 48


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
    grid_cap_kw
        float64 site grid limit shared by its ports (kW); ``inf`` = none.  ``None`` means
        no station has a cap.
    """

    site_id: tuple[str, ...]
    ports: np.ndarray
    power_kw: np.ndarray
    dc: np.ndarray
    grid_cap_kw: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.site_id)

    def cap(self) -> np.ndarray:
        """Grid cap per station (kW), ``inf`` where none."""
        if self.grid_cap_kw is None:
            return np.full(len(self), np.inf)
        return np.asarray(self.grid_cap_kw, dtype=float)


@dataclass(frozen=True)
class Access:
    """Which stations a driver can reach, nearest first.

    Attributes
    ----------
    origin_row
        int64 ``(n_sessions,)`` row of each session's origin in ``first_station``.
    first_station, first_min
        ``(n_rows, k)`` station indices (-1 padding) and driving times (min, ``inf``
        padding) from each origin to its ``k`` nearest stations within reach.
    next_station, next_min
        ``(n_stations, k)`` the same from each station to the other stations (retries).
    """

    origin_row: np.ndarray
    first_station: np.ndarray
    first_min: np.ndarray
    next_station: np.ndarray
    next_min: np.ndarray


@dataclass(frozen=True)
class DriverRules:
    """How drivers choose, balk, renege and retry (see ``simulation`` config)."""

    choice: str = "time_plus_wait"
    wait_weight: float = 1.0
    balk_queue_per_port: float | None = 2.0
    max_attempts: int = 3


@dataclass(frozen=True)
class TaperCurves:
    """Share of the vehicle's maximum power by state of charge (linear between points).

    ``dc`` and ``ac`` are ``(soc_points, shares)`` pairs of float arrays.
    """

    dc: tuple[np.ndarray, np.ndarray]
    ac: tuple[np.ndarray, np.ndarray]

    @classmethod
    def flat(cls) -> TaperCurves:
        """No taper: full power at any state of charge."""
        pts = (np.array([0.0, 1.0]), np.array([1.0, 1.0]))
        return cls(dc=pts, ac=pts)

    @classmethod
    def from_points(
        cls, *, dc: Sequence[Sequence[float]], ac: Sequence[Sequence[float]]
    ) -> TaperCurves:
        """From ``[[soc, share], ...]`` lists (the ``vehicles`` config)."""
        d = np.asarray(dc, dtype=float)
        a = np.asarray(ac, dtype=float)
        return cls(dc=(d[:, 0], d[:, 1]), ac=(a[:, 0], a[:, 1]))


@dataclass(frozen=True)
class SessionLog:
    """One row per charging attempt (numpy columns of equal length), in
    (session, attempt) order.

    ``station`` is an index into :class:`Stations` (-1 when no station); times are
    minutes from the start of day 1; ``access_min`` is the drive to this attempt's
    station (from home, or from the previous station); ``wait_min`` is the time in the
    queue (until charging, or until leaving for reneged attempts; 0 for balked);
    ``start_min`` and ``end_min`` are NaN for attempts that did not charge;
    ``power_kw`` is the mean charging power of the attempt.
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

    def last_attempt(self) -> np.ndarray:
        """Boolean mask of each session's last attempt (its final outcome)."""
        last = np.ones(len(self), dtype=bool)
        last[:-1] = self.session[1:] != self.session[:-1]
        return last

    def first_attempt(self) -> np.ndarray:
        """Boolean mask of each session's first attempt."""
        first = np.ones(len(self), dtype=bool)
        first[1:] = self.session[1:] != self.session[:-1]
        return first


def charge_minutes(
    *,
    soc_start: np.ndarray,
    energy_kwh: np.ndarray,
    battery_kwh: np.ndarray,
    vehicle_max_kw: np.ndarray,
    port_kw: float,
    taper: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Minutes to charge ``energy_kwh`` from ``soc_start`` on a port of ``port_kw``.

    The power at state of charge ``s`` is ``min(port_kw, vehicle_max_kw x taper(s))``;
    the time is ``integral of battery_kwh / power(s) ds`` over ``[soc_start,
    soc_start + energy / battery]``, computed with a midpoint rule (error well below 0.1%
    for the default curves).

    Returns
    -------
    numpy.ndarray
        float64 minutes, one per session.
    """
    socs, shares = taper
    s0 = np.asarray(soc_start, dtype=float)
    ds = np.asarray(energy_kwh, dtype=float) / np.asarray(battery_kwh, dtype=float)
    u = (np.arange(_QUAD_POINTS) + 0.5) / _QUAD_POINTS
    s = np.clip(s0[:, None] + ds[:, None] * u[None, :], 0.0, 1.0)
    power = np.minimum(
        port_kw, np.asarray(vehicle_max_kw, float)[:, None] * np.interp(s, socs, shares)
    )
    hours = np.asarray(battery_kwh, float) * ds * np.mean(1.0 / power, axis=1)
    return hours * 60.0


def _durations(
    demand: Demand, stations: Stations, taper: TaperCurves
) -> tuple[np.ndarray, np.ndarray]:
    """Charging minutes of each session at each distinct port type, and the type of each
    station."""
    kinds = sorted(
        {(float(p), bool(d)) for p, d in zip(stations.power_kw, stations.dc, strict=True)}
    )
    kind_of = np.array(
        [
            kinds.index((float(p), bool(d)))
            for p, d in zip(stations.power_kw, stations.dc, strict=True)
        ],
        dtype=np.int64,
    )
    dur = np.empty((len(demand), len(kinds)))
    for k, (p, is_dc) in enumerate(kinds):
        dur[:, k] = charge_minutes(
            soc_start=demand.soc_start,
            energy_kwh=demand.energy_kwh,
            battery_kwh=demand.battery_kwh,
            vehicle_max_kw=demand.max_dc_kw if is_dc else demand.max_ac_kw,
            port_kw=p,
            taper=taper.dc if is_dc else taper.ac,
        )
    return dur, kind_of


class _Charging:
    """A vehicle charging at a capped site."""

    __slots__ = ("last", "proc", "rate", "remaining", "want")

    def __init__(self, remaining: float, want: Callable[[], float], now: float) -> None:
        self.remaining = remaining  # kWh still to deliver
        self.want = want  # power the vehicle could take now (kW)
        self.rate = 0.0  # power allocated (kW)
        self.last = now  # time of the last update (min)
        self.proc: simpy.Process | None = None


class _CappedSite:
    """Power sharing at a site whose grid cap is below its ports' total rating."""

    def __init__(self, env: simpy.Environment, cap_kw: float) -> None:
        self.env = env
        self.cap = cap_kw
        self.active: dict[int, _Charging] = {}

    def advance(self) -> None:
        """Book the energy delivered since the last update."""
        now = self.env.now
        for c in self.active.values():
            c.remaining = max(c.remaining - c.rate * (now - c.last) / 60.0, 0.0)
            c.last = now

    def rebalance(self, *, skip: int | None = None) -> None:
        """Re-share the cap (water-filling) and wake every other vehicle whose power
        changed."""
        self.advance()
        if not self.active:
            return
        keys = sorted(self.active)
        rates = _waterfill(self.cap, np.array([self.active[k].want() for k in keys]))
        for k, r in zip(keys, rates.tolist(), strict=True):
            c = self.active[k]
            changed = abs(c.rate - r) > 1e-12
            c.rate = r
            if changed and k != skip and c.proc is not None and c.proc.is_alive:
                c.proc.interrupt()


def _waterfill(cap: float, want: np.ndarray) -> np.ndarray:
    """Share ``cap`` equally, never giving anyone more than it wants."""
    n = want.shape[0]
    if want.sum() <= cap:
        return want.copy()
    order = np.argsort(want)
    rates = np.empty(n)
    left, k = cap, n
    for idx in order:
        share = left / k
        give = min(want[idx], share)
        rates[idx] = give
        left -= give
        k -= 1
    return rates


def simulate(
    demand: Demand,
    stations: Stations,
    /,
    *,
    access: Access,
    rules: DriverRules = DriverRules(),
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
    rules
        Choice, balking, reneging and retry rules.
    taper
        Charging curves; ``None`` charges at full power at any state of charge.

    Returns
    -------
    SessionLog
        One row per attempt, in (session, attempt) order.
    """
    taper = taper or TaperCurves.flat()
    n = len(demand)
    m = len(stations)
    env = simpy.Environment()
    ports = [int(c) for c in stations.ports]
    resources = [simpy.Resource(env, capacity=c) for c in ports]
    caps = stations.cap()
    capped: list[_CappedSite | None] = [
        _CappedSite(env, float(caps[j])) if caps[j] < ports[j] * stations.power_kw[j] else None
        for j in range(m)
    ]
    if m:
        dur_tab, kind_of = _durations(demand, stations, taper)
        dur_rows = dur_tab.tolist()
        kind_list = kind_of.tolist()
    else:
        dur_rows, kind_list = [[] for _ in range(n)], []
    power_kw = stations.power_kw.tolist()
    is_dc = stations.dc.tolist()
    energy = demand.energy_kwh.tolist()
    soc0 = demand.soc_start.tolist()
    battery = demand.battery_kwh.tolist()
    vmax_dc = demand.max_dc_kw.tolist()
    vmax_ac = demand.max_ac_kw.tolist()
    patience = demand.patience_min.tolist()
    depart = demand.depart_min.tolist()
    origin_row = access.origin_row.tolist()
    first_st = access.first_station.tolist()
    first_t = access.first_min.tolist()
    next_st = access.next_station.tolist()
    next_t = access.next_min.tolist()
    balk_thr = [
        float("inf") if rules.balk_queue_per_port is None else rules.balk_queue_per_port * c
        for c in ports
    ]
    by_wait = rules.choice == "time_plus_wait"
    w_wait = rules.wait_weight
    max_attempts = rules.max_attempts
    dc_socs, dc_sh = (a.tolist() for a in taper.dc)
    ac_socs, ac_sh = (a.tolist() for a in taper.ac)
    timeout = env.timeout
    inf = float("inf")
    rows: list[tuple[int, int, int, float, float, float, float, float, float, float, int]] = []
    nan = float("nan")

    def choose(i: int, opts: list[int], times: list[float], tried: set[int]) -> int:
        best, best_score = -1, inf
        dur = dur_rows[i]
        for j, t in zip(opts, times, strict=True):
            if j < 0 or t == inf or j in tried:
                continue
            score = t
            if by_wait:
                res = resources[j]
                excess = len(res.queue) + res.count - ports[j] + 1
                if excess > 0:
                    score += w_wait * excess * dur[kind_list[j]] / ports[j]
            if score < best_score:
                best, best_score = j, score
        return best

    def own_max_kw(i: int, j: int, delivered_kwh: float) -> float:
        soc = soc0[i] + delivered_kwh / battery[i]
        if is_dc[j]:
            share = float(np.interp(soc, dc_socs, dc_sh))
            return min(power_kw[j], vmax_dc[i] * share)
        share = float(np.interp(soc, ac_socs, ac_sh))
        return min(power_kw[j], vmax_ac[i] * share)

    def charge_capped(i: int, site: _CappedSite, j: int) -> simpy.events.ProcessGenerator:
        c = _Charging(energy[i], lambda: 0.0, env.now)
        c.want = lambda: own_max_kw(i, j, energy[i] - c.remaining)
        c.proc = env.active_process
        site.active[i] = c
        site.rebalance(skip=i)
        while c.remaining > 1e-9:
            step = c.remaining / c.rate * 60.0 if c.rate > 0 else CAP_RECHECK_MIN
            try:
                yield timeout(min(step, CAP_RECHECK_MIN))
            except simpy.Interrupt:
                pass
            site.advance()
            if c.remaining > 1e-9:
                site.rebalance(skip=i)
        del site.active[i]
        site.rebalance()

    def driver(i: int) -> simpy.events.ProcessGenerator:
        tried: set[int] = set()
        row = origin_row[i]
        opts, times = first_st[row], first_t[row]
        for attempt in range(max_attempts):
            j = choose(i, opts, times, tried)
            if j < 0:
                if attempt == 0:
                    rows.append((i, 0, -1, nan, nan, nan, nan, nan, 0.0, nan, NO_STATION))
                return
            tried.add(j)
            drive = times[opts.index(j)]
            if drive > 0:
                yield timeout(drive)
            t0 = env.now
            res = resources[j]
            if res.count >= ports[j] and len(res.queue) >= balk_thr[j]:
                rows.append((i, attempt, j, drive, t0, nan, nan, 0.0, 0.0, nan, BALKED))
                opts, times = next_st[j], next_t[j]
                continue
            req = res.request()
            if not req.triggered:
                p = patience[i]
                if p < inf:
                    got = yield req | timeout(p)
                    if req not in got:
                        req.cancel()
                        rows.append(
                            (i, attempt, j, drive, t0, nan, nan, env.now - t0, 0.0, nan, RENEGED)
                        )
                        opts, times = next_st[j], next_t[j]
                        continue
                else:
                    yield req
            t1 = env.now
            site = capped[j]
            if site is None:
                yield timeout(dur_rows[i][kind_list[j]])
            else:
                yield env.process(charge_capped(i, site, j))
            res.release(req)
            t2 = env.now
            mean_kw = energy[i] / ((t2 - t1) / 60.0) if t2 > t1 else nan
            rows.append((i, attempt, j, drive, t0, t1, t2, t1 - t0, energy[i], mean_kw, CHARGED))
            return

    order = np.lexsort((np.arange(n), demand.depart_min)).tolist()

    def source() -> simpy.events.ProcessGenerator:
        for i in order:
            dt = depart[i] - env.now
            if dt > 0:
                yield timeout(dt)
            env.process(driver(i))

    env.process(source())
    env.run()
    return _to_log(rows)


def _to_log(
    rows: list[tuple[int, int, int, float, float, float, float, float, float, float, int]],
) -> SessionLog:
    if rows:
        cols = list(zip(*rows, strict=True))
    else:
        cols = [()] * 11
    session = np.array(cols[0], dtype=np.int64)
    attempt = np.array(cols[1], dtype=np.int16)
    order = np.lexsort((attempt, session))

    def col(k: int, dtype: type | np.dtype) -> np.ndarray:
        return np.array(cols[k], dtype=dtype)[order]

    return SessionLog(
        session=session[order],
        attempt=attempt[order],
        station=col(2, np.int64),
        access_min=col(3, np.float64),
        arrival_min=col(4, np.float64),
        start_min=col(5, np.float64),
        end_min=col(6, np.float64),
        wait_min=col(7, np.float64),
        energy_kwh=col(8, np.float64),
        power_kw=col(9, np.float64),
        outcome=col(10, np.int8),
    )
