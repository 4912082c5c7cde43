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

import heapq
import itertools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from sim.demand.model import Demand

__all__ = [
    "OUTCOMES",
    "Access",
    "DriverRules",
    "HighwayAccess",
    "SessionLog",
    "Stations",
    "TaperCurves",
    "charge_minutes",
    "charge_minutes_one",
    "simulate",
]

#: Outcome codes used in :attr:`SessionLog.outcome`.
OUTCOMES: tuple[str, ...] = ("charged", "reneged", "balked", "stranded", "no_station")
CHARGED, RENEGED, BALKED, STRANDED, NO_STATION = range(5)
#: A highway driver charges at most to this state of charge (fast chargers crawl above).
FULL_SOC = 0.95
#: Most attempts logged for one highway session (a guard; real sessions need a few).
MAX_HIGHWAY_ROWS = 50
#: Longest time (min) a capped site runs without re-balancing its power.
CAP_RECHECK_MIN = 5.0
#: Integration points of the charging-time integral over the state of charge.
_QUAD_POINTS = 48
#: A log row: session, attempt, station, access_min, arrival_min, start_min, end_min,
#: wait_min, energy_kwh, power_kw, outcome, detour_min.
Row = tuple[int, int, int, float, float, float, float, float, float, float, int, float]


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
class HighwayAccess:
    """Stations along the routes of through-traffic.

    Attributes
    ----------
    od_station, od_drive_min, od_drive_km, od_detour_min
        ``(n_od, k)`` for each origin-destination pair: the ``k`` stations with the
        smallest detour (-1 padding), the drive from the entry to each (min, km) and the
        detour it costs against the direct route (min; ``inf`` padding).
    od_route_min, od_route_km
        ``(n_od,)`` the direct route (min, km).
    od_exit
        ``(n_od,)`` index of the pair's exit among the exits.
    to_exit_min, to_exit_km
        ``(n_stations, n_exits)`` drive from each station to each exit (min, km).
    next_station, next_drive_min, next_drive_km, next_detour_min
        ``(n_stations, n_exits, k)`` from a station towards an exit: the next stations
        to try after balking or reneging, with drive and detour.
    detour_max_min
        Detour a driver accepts (min); farther stations only when nothing nearer can be
        reached with the energy left.
    target_soc
        State of charge drivers charge to (more if the onward trip needs it).
    reserve_soc
        State of charge a driver wants to keep on arrival at a charger; stations it can
        reach only below it are a last resort.
    """

    od_station: np.ndarray
    od_drive_min: np.ndarray
    od_drive_km: np.ndarray
    od_detour_min: np.ndarray
    od_route_min: np.ndarray
    od_route_km: np.ndarray
    od_exit: np.ndarray
    to_exit_min: np.ndarray
    to_exit_km: np.ndarray
    next_station: np.ndarray
    next_drive_min: np.ndarray
    next_drive_km: np.ndarray
    next_detour_min: np.ndarray
    detour_max_min: float
    target_soc: float
    reserve_soc: float = 0.1


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
    ``power_kw`` is the mean charging power of the attempt; ``detour_min`` is, for a
    highway session's charged attempt, the extra driving against its direct route (NaN
    otherwise).  A *stranded* row is where the vehicle ran flat: at ``station`` (the
    last station it tried; -1 when it never reached one), at ``arrival_min``.
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
    detour_min: np.ndarray

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


def charge_minutes_one(
    soc_start: float,
    energy_kwh: float,
    battery_kwh: float,
    vehicle_max_kw: float,
    port_kw: float,
    socs: Sequence[float],
    shares: Sequence[float],
) -> float:
    """Exact minutes to charge one vehicle (the integral of :func:`charge_minutes` in
    closed form over each linear piece of the taper curve)."""
    s0 = min(max(soc_start, 0.0), 1.0)
    s1 = min(s0 + energy_kwh / battery_kwh, 1.0)
    if s1 <= s0:
        return 0.0
    hours = 0.0
    for k in range(len(socs) - 1):
        lo, hi = max(s0, socs[k]), min(s1, socs[k + 1])
        if hi <= lo:
            continue
        # vehicle power on the piece: vmax * (a + b s)
        b = (shares[k + 1] - shares[k]) / (socs[k + 1] - socs[k])
        a = shares[k] - b * socs[k]
        # where it crosses the port's rating
        cuts = [lo, hi]
        if b != 0.0:
            s_star = (port_kw / vehicle_max_kw - a) / b
            if lo < s_star < hi:
                cuts = [lo, s_star, hi]
        for u, v in itertools.pairwise(cuts):
            mid = vehicle_max_kw * (a + b * (u + v) / 2.0)
            if mid >= port_kw:
                hours += battery_kwh * (v - u) / port_kw
            elif b == 0.0:
                hours += battery_kwh * (v - u) / (vehicle_max_kw * a)
            else:
                hours += battery_kwh / (vehicle_max_kw * b) * math.log((a + b * v) / (a + b * u))
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
    highway: HighwayAccess | None = None,
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
    rows: list[Row] = []
    nan = float("nan")
    segment = demand.segment.tolist()
    hw = highway
    if hw is None and (demand.segment == 1).any():
        raise ValueError("simulate: highway sessions need `highway` access")
    if hw is not None:
        od_of = demand.od.tolist()
        kpk = demand.kwh_per_km.tolist()
        exit_need = demand.exit_need_kwh.tolist()
        hw_exit = hw.od_exit.tolist()
        hw_st, hw_min = hw.od_station.tolist(), hw.od_drive_min.tolist()
        hw_km, hw_det = hw.od_drive_km.tolist(), hw.od_detour_min.tolist()
        hw_route_min, hw_route_km = hw.od_route_min.tolist(), hw.od_route_km.tolist()
        hw_to_exit_min, hw_to_exit_km = hw.to_exit_min.tolist(), hw.to_exit_km.tolist()
        hw_next_st, hw_next_min = hw.next_station.tolist(), hw.next_drive_min.tolist()
        hw_next_km, hw_next_det = hw.next_drive_km.tolist(), hw.next_detour_min.tolist()
        detour_max = hw.detour_max_min
        reserve_soc = hw.reserve_soc

    # Vehicles at each station (charging + waiting), kept by at_station: cheaper than
    # asking SimPy's resources in the choice loop.
    present = [0] * m

    def choose(i: int, opts: list[int], times: list[float], tried: set[int]) -> int:
        """Position in ``opts`` of the station to drive to, or -1."""
        best, best_score = -1, inf
        dur = dur_rows[i]
        for k, j in enumerate(opts):
            if j < 0:
                break  # options are padded at the end
            t = times[k]
            if t == inf or j in tried:
                continue
            if by_wait:
                excess = present[j] - ports[j] + 1
                if excess > 0:
                    t += w_wait * excess * dur[kind_list[j]] / ports[j]
            if t < best_score:
                best, best_score = k, t
        return best

    def own_max_kw(i: int, j: int, delivered_kwh: float) -> float:
        soc = soc0[i] + delivered_kwh / battery[i]
        if is_dc[j]:
            share = float(np.interp(soc, dc_socs, dc_sh))
            return min(power_kw[j], vmax_dc[i] * share)
        share = float(np.interp(soc, ac_socs, ac_sh))
        return min(power_kw[j], vmax_ac[i] * share)

    def charge_capped(
        i: int, site: _CappedSite, j: int, kwh: float, soc_at: float
    ) -> simpy.events.ProcessGenerator:
        c = _Charging(kwh, lambda: 0.0, env.now)
        c.want = lambda: own_max_kw(i, j, soc_at + (kwh - c.remaining) / battery[i])
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

    def at_station(
        i: int,
        j: int,
        attempt: int,
        drive: float,
        kwh: float,
        soc_at: float,
        minutes: float,
        detour: float,
    ) -> Generator[simpy.Event, object, bool]:
        """Queue and charge at station ``j``; log the attempt; True if charged."""
        t0 = env.now
        res = resources[j]
        if present[j] >= ports[j] and present[j] - ports[j] >= balk_thr[j]:
            rows.append((i, attempt, j, drive, t0, nan, nan, 0.0, 0.0, nan, BALKED, nan))
            return False
        present[j] += 1
        req = res.request()
        if not req.triggered:
            p = patience[i]
            if p < inf:
                yield req | timeout(p)
                if not req.processed and not req.triggered:
                    req.cancel()
                    present[j] -= 1
                    rows.append(
                        (i, attempt, j, drive, t0, nan, nan, env.now - t0, 0.0, nan, RENEGED, nan)
                    )
                    return False
            else:
                yield req
        t1 = env.now
        site = capped[j]
        if site is None:
            yield timeout(minutes)
        else:
            yield env.process(charge_capped(i, site, j, kwh, soc_at))
        res.release(req)
        present[j] -= 1
        t2 = env.now
        mean_kw = kwh / ((t2 - t1) / 60.0) if t2 > t1 else nan
        rows.append((i, attempt, j, drive, t0, t1, t2, t1 - t0, kwh, mean_kw, CHARGED, detour))
        return True

    def driver(i: int, j: int, drive: float, tried: set[int]) -> simpy.events.ProcessGenerator:
        """A resident who chose station ``j`` when setting off and has now arrived."""
        attempt = 0
        while True:
            minutes = dur_rows[i][kind_list[j]]
            charged = yield from at_station(i, j, attempt, drive, energy[i], soc0[i], minutes, nan)
            attempt += 1
            if charged or attempt >= max_attempts:
                return
            opts, times = next_st[j], next_t[j]
            k = choose(i, opts, times, tried)
            if k < 0:
                return
            j = opts[k]
            tried.add(j)
            drive = times[k]
            if drive > 0:
                yield timeout(drive)

    def highway_driver(i: int) -> simpy.events.ProcessGenerator:
        """Drive the route; stop to charge whenever the rest of the trip (to the exit and
        onwards) needs more energy than is on board; run flat if no charger is left."""
        assert hw is not None
        od = od_of[i]
        x = hw_exit[od]
        cap_kwh = battery[i]
        have = soc0[i] * cap_kwh  # kWh on board
        per_km = kpk[i]
        opts, dmin, dkm, ddet = hw_st[od], hw_min[od], hw_km[od], hw_det[od]
        drove = 0.0  # minutes driven from the entry to the current station
        last = -1
        tried: set[int] = set()
        attempt = 0  # rows logged so far
        failures = 0  # failed attempts since the last charge
        full = FULL_SOC * cap_kwh
        while attempt < MAX_HIGHWAY_ROWS:
            to_exit_km = hw_to_exit_km[last][x] if last >= 0 else hw_route_km[od]
            # enough to leave the region and reach the next charger beyond it (a driver
            # who cannot carry that much leaves as full as the chargers get it)
            if have >= min(to_exit_km * per_km + exit_need[i], full) - 1e-9 and (
                have >= to_exit_km * per_km
            ):
                return
            k = (
                -1
                if failures >= max_attempts
                else choose_highway(opts, dkm, ddet, have, per_km, reserve_soc * cap_kwh, tried)
            )
            if k < 0:
                if have < to_exit_km * per_km:  # cannot even reach the exit: runs flat
                    rows.append(
                        (i, attempt, last, nan, env.now, nan, nan, nan, 0.0, nan, STRANDED, nan)
                    )
                elif attempt == 0:
                    rows.append((i, 0, -1, nan, nan, nan, nan, nan, 0.0, nan, NO_STATION, nan))
                return
            j = opts[k]
            tried.add(j)
            drive = dmin[k]
            if drive > 0:
                yield timeout(drive)
            have -= dkm[k] * per_km
            drove += drive
            last = j
            need = hw_to_exit_km[j][x] * per_km + exit_need[i]
            target = min(max(need if need <= full else full, hw.target_soc * cap_kwh), full)
            kwh = max(target - have, 0.0)
            soc_at = have / cap_kwh
            minutes = _one_charge(i, j, kwh, soc_at)
            detour = drove + hw_to_exit_min[j][x] - hw_route_min[od]
            charged = yield from at_station(i, j, attempt, drive, kwh, soc_at, minutes, detour)
            attempt += 1
            if charged:
                have += kwh
                failures = 0
                tried = {j}
            else:
                failures += 1
            opts, dmin = hw_next_st[j][x], hw_next_min[j][x]
            dkm, ddet = hw_next_km[j][x], hw_next_det[j][x]

    def choose_highway(
        opts: list[int],
        dkm: list[float],
        ddet: list[float],
        have: float,
        per_km: float,
        reserve: float,
        tried: set[int],
    ) -> int:
        """Position in ``opts`` of the station to drive to, or -1.

        Preferred: within the detour limit and reachable keeping the reserve; among
        those the least detour plus expected wait, and on a tie the farthest along the
        route (drivers go as far as they comfortably can before stopping).
        """
        best, best_key = -1, (True, inf, 0.0)
        for k, j in enumerate(opts):
            if j < 0 or j in tried:
                continue
            left = have - dkm[k] * per_km
            if left < 0:
                continue
            score = ddet[k]
            if by_wait:
                excess = present[j] - ports[j] + 1
                if excess > 0:
                    score += w_wait * excess * 45.0 / ports[j]
            key = (not (left >= reserve and ddet[k] <= detour_max), round(score, 6), -dkm[k])
            if key < best_key:
                best, best_key = k, key
        return best

    def _one_charge(i: int, j: int, kwh: float, soc_at: float) -> float:
        if is_dc[j]:
            return charge_minutes_one(
                soc_at, kwh, battery[i], vmax_dc[i], power_kw[j], dc_socs, dc_sh
            )
        return charge_minutes_one(soc_at, kwh, battery[i], vmax_ac[i], power_kw[j], ac_socs, ac_sh)

    order = np.lexsort((np.arange(n), demand.depart_min)).tolist()

    def source() -> simpy.events.ProcessGenerator:
        """Departures in order; a resident chooses a station when setting off and its
        process starts when it arrives there (one process per vehicle, created when it
        first needs the station)."""
        arriving: list[tuple[float, int, int, int, float, set[int]]] = []  # heap
        no_tried: set[int] = set()
        k = 0
        seq = 0
        while k < n or arriving:
            t_dep = depart[order[k]] if k < n else inf
            if arriving and arriving[0][0] < t_dep:
                t_arr, _, i, j, drive, tried = heapq.heappop(arriving)
                if t_arr > env.now:
                    yield timeout(t_arr - env.now)
                env.process(driver(i, j, drive, tried))
                continue
            if t_dep > env.now:
                yield timeout(t_dep - env.now)
            i = order[k]
            k += 1
            if segment[i] == 1:
                env.process(highway_driver(i))
                continue
            row = origin_row[i]
            opts, times = first_st[row], first_t[row]
            k_opt = choose(i, opts, times, no_tried)
            if k_opt < 0:
                rows.append((i, 0, -1, nan, nan, nan, nan, nan, 0.0, nan, NO_STATION, nan))
                continue
            j = opts[k_opt]
            drive = times[k_opt]
            heapq.heappush(arriving, (env.now + drive, seq, i, j, drive, {j}))
            seq += 1

    env.process(source())
    env.run()
    return _to_log(rows)


def _to_log(rows: list[Row]) -> SessionLog:
    if rows:
        cols = list(zip(*rows, strict=True))
    else:
        cols = [()] * 12
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
        detour_min=col(11, np.float64),
    )
