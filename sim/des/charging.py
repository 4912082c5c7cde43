"""Charging: the tapering power curves, charging times, and power sharing at a site
with a grid cap.

The power at state of charge ``s`` is ``min(port_kw, vehicle_max_kw x taper(s))``, with
the DC or AC curve and vehicle limit by the port's kind.  :class:`ChargeTimes` gives each
session's minutes at each station (the table a resident's choice and charge use, and the
exact closed form for a highway driver's partial charge).  :class:`CappedSite` shares a
site's grid cap between the vehicles charging there by water-filling, re-balanced at
every start and end and at least every :data:`CAP_RECHECK_MIN` minutes.  The cap may
change over time (a public site in a residential compound gets the headroom its
transformer leaves, :class:`~sim.des.inputs.CapProfile`): then the sharing is also
re-balanced at every change of the cap, so that every vehicle's power is constant
between two re-balancings and the energy booked is exact; one such site may stand for
several stations that draw on the same transformer.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from sim.demand.model import Demand
from sim.des.inputs import Stations

__all__ = [
    "CAP_RECHECK_MIN",
    "CappedSite",
    "ChargeCurve",
    "ChargeTimes",
    "TaperCurves",
    "charge_minutes",
    "charge_minutes_one",
    "duration_table",
    "step_mean_kw",
    "waterfill",
]

#: Longest time (min) a capped site runs without re-balancing its power.
CAP_RECHECK_MIN = 5.0
#: Integration points of the charging-time integral over the state of charge.
_QUAD_POINTS = 48


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
    battery = np.asarray(battery_kwh, dtype=float)
    ds = np.asarray(energy_kwh, dtype=float) / battery
    u = (np.arange(_QUAD_POINTS) + 0.5) / _QUAD_POINTS
    # in place, one (n, points) array at a time: a third faster than the same
    # arithmetic on temporaries, with the same results bit for bit (measured)
    s = ds[:, None] * u[None, :]
    s += s0[:, None]
    np.clip(s, 0.0, 1.0, out=s)
    inv_power = np.interp(s, socs, shares)
    inv_power *= np.asarray(vehicle_max_kw, dtype=float)[:, None]
    np.minimum(port_kw, inv_power, out=inv_power)
    np.divide(1.0, inv_power, out=inv_power)
    hours = battery * ds * np.mean(inv_power, axis=1)
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
    """Exact minutes to charge one vehicle: the integral of :func:`charge_minutes` in
    closed form over each linear piece of the taper curve (see :class:`ChargeCurve`).

    Parameters
    ----------
    soc_start
        State of charge on arrival (0-1).
    energy_kwh
        Energy to charge (kWh; the charge stops at a full battery).
    battery_kwh
        Usable battery (kWh).
    vehicle_max_kw
        The vehicle's peak charging power on this kind of port (kW).
    port_kw
        The port's rating (kW).
    socs, shares
        The taper curve: share of ``vehicle_max_kw`` at each state of charge (linear
        between points, ``socs`` increasing from 0 to 1).
    """
    curve = ChargeCurve(
        battery_kwh=battery_kwh,
        vehicle_max_kw=vehicle_max_kw,
        port_kw=port_kw,
        socs=socs,
        shares=shares,
    )
    return curve.minutes(soc_start, energy_kwh)


class ChargeCurve:
    """One vehicle's charging time on one port type, as a function of its state of
    charge (exact, in closed form on each piece of the taper curve).

    The power at state of charge ``s`` is ``min(port_kw, vehicle_max_kw x (a + b s))``
    on each linear piece of the curve; the time to charge from ``s0`` to ``s1`` is
    ``G(s1) - G(s0)`` for the cumulative time ``G`` from an empty battery, kept at the
    pieces' ends (and where a piece crosses the port's rating) so that one evaluation
    costs a bisection and one piece.

    Parameters
    ----------
    battery_kwh
        Usable battery (kWh).
    vehicle_max_kw
        The vehicle's peak charging power on this kind of port (kW).
    port_kw
        The port's rating (kW).
    socs, shares
        The taper curve (share of ``vehicle_max_kw`` by state of charge).
    """

    __slots__ = ("_battery", "_cum", "_edges", "_pieces")

    def __init__(
        self,
        *,
        battery_kwh: float,
        vehicle_max_kw: float,
        port_kw: float,
        socs: Sequence[float],
        shares: Sequence[float],
    ) -> None:
        self._battery = battery_kwh
        # each piece: (start soc, hours per unit of soc, or 0.0 for a log piece, and
        # the log piece's hours scale, a, b)
        pieces: list[tuple[float, float, float, float, float]] = []
        for k in range(len(socs) - 1):
            lo, hi = float(socs[k]), float(socs[k + 1])
            if hi <= lo:
                continue
            b = (shares[k + 1] - shares[k]) / (hi - lo)
            a = shares[k] - b * lo
            cuts = [lo, hi]
            if b != 0.0:
                s_star = (port_kw / vehicle_max_kw - a) / b  # crosses the port's rating
                if lo < s_star < hi:
                    cuts = [lo, s_star, hi]
            for u, v in itertools.pairwise(cuts):
                if vehicle_max_kw * (a + b * (u + v) / 2.0) >= port_kw:
                    pieces.append((u, battery_kwh / port_kw, 0.0, 0.0, 0.0))
                elif b == 0.0:
                    pieces.append((u, battery_kwh / (vehicle_max_kw * a), 0.0, 0.0, 0.0))
                else:
                    pieces.append((u, 0.0, battery_kwh / (vehicle_max_kw * b), a, b))
        self._pieces = pieces
        self._edges = [p[0] for p in pieces]
        cum = [0.0]
        for k in range(len(pieces) - 1):
            cum.append(cum[-1] + self._within(k, self._edges[k + 1]))
        self._cum = cum

    def _within(self, k: int, s: float, /) -> float:
        """Hours from the start of piece ``k`` to state of charge ``s`` on it."""
        u, per_soc, scale, a, b = self._pieces[k]
        if scale == 0.0:
            return per_soc * (s - u)
        return scale * math.log((a + b * s) / (a + b * u))

    def hours_to(self, soc: float, /) -> float:
        """Hours to charge from an empty battery to ``soc`` (0-1)."""
        k = bisect.bisect_right(self._edges, soc) - 1
        u, per_soc, scale, a, b = self._pieces[k]
        if scale == 0.0:
            return self._cum[k] + per_soc * (soc - u)
        return self._cum[k] + scale * math.log((a + b * soc) / (a + b * u))

    def soc_after(self, soc_start: float, minutes: float, /) -> float:
        """State of charge after ``minutes`` (min) on the port from ``soc_start`` (the
        inverse of :meth:`hours_to`, exact on each piece; 1.0 at most)."""
        s0 = min(max(soc_start, 0.0), 1.0)
        h = self.hours_to(s0) + max(minutes, 0.0) / 60.0
        if h >= self.hours_to(1.0):
            return 1.0
        k = bisect.bisect_right(self._cum, h) - 1
        u, per_soc, scale, a, b = self._pieces[k]
        dh = h - self._cum[k]
        if scale == 0.0:
            s = u + dh / per_soc
        else:
            s = ((a + b * u) * math.exp(dh / scale) - a) / b
        return min(max(s, s0), 1.0)

    def minutes(self, soc_start: float, energy_kwh: float, /) -> float:
        """Minutes to charge ``energy_kwh`` (kWh) from ``soc_start`` (at most to a full
        battery)."""
        s0 = min(max(soc_start, 0.0), 1.0)
        s1 = min(s0 + energy_kwh / self._battery, 1.0)
        if s1 <= s0:
            return 0.0
        return (self.hours_to(s1) - self.hours_to(s0)) * 60.0


def duration_table(
    demand: Demand, stations: Stations, /, *, taper: TaperCurves
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes each session needs for its whole ``energy_kwh`` at each port type.

    A port type is a distinct (power, DC) pair among the stations.

    Returns
    -------
    minutes : numpy.ndarray
        float64 ``(n_sessions, n_types)`` charging minutes (:func:`charge_minutes`).
    type_of : numpy.ndarray
        int64 ``(n_stations,)`` port type of each station (types sorted by power, then
        AC before DC).
    """
    pairs = [(float(p), bool(d)) for p, d in zip(stations.power_kw, stations.dc, strict=True)]
    kinds = sorted(set(pairs))
    type_of = np.array([kinds.index(pd) for pd in pairs], dtype=np.int64)
    minutes = np.empty((len(demand), len(kinds)))
    for k, (p, is_dc) in enumerate(kinds):
        minutes[:, k] = charge_minutes(
            soc_start=demand.soc_start,
            energy_kwh=demand.energy_kwh,
            battery_kwh=demand.battery_kwh,
            vehicle_max_kw=demand.max_dc_kw if is_dc else demand.max_ac_kw,
            port_kw=p,
            taper=taper.dc if is_dc else taper.ac,
        )
    return minutes, type_of


class ChargeTimes:
    """Each session's charging at each station: minutes and power limits.

    Parameters
    ----------
    demand
        The sessions (battery, vehicle power limits, state of charge, energy wanted).
    stations
        The stations (port power, DC or AC).
    taper
        The charging curves.

    Attributes
    ----------
    table
        ``table[i][t]``: minutes session ``i`` needs for its whole ``energy_kwh`` at a
        port of type ``t`` (:func:`duration_table`).
    type_of
        ``type_of[j]``: the port type of station ``j``.
    """

    __slots__ = (
        "_ac",
        "_battery",
        "_curves",
        "_dc",
        "_is_dc",
        "_n_types",
        "_port_kw",
        "_shared",
        "_vmax_ac",
        "_vmax_dc",
        "table",
        "type_of",
    )

    def __init__(self, demand: Demand, stations: Stations, /, *, taper: TaperCurves) -> None:
        if len(stations):
            minutes, type_of = duration_table(demand, stations, taper=taper)
            self.table: list[list[float]] = minutes.tolist()
            self.type_of: list[int] = type_of.tolist()
        else:
            self.table, self.type_of = [[] for _ in range(len(demand))], []
        self._port_kw: list[float] = stations.power_kw.tolist()
        self._is_dc: list[bool] = stations.dc.tolist()
        self._battery: list[float] = demand.battery_kwh.tolist()
        self._vmax_dc: list[float] = demand.max_dc_kw.tolist()
        self._vmax_ac: list[float] = demand.max_ac_kw.tolist()
        self._dc: tuple[list[float], list[float]] = (taper.dc[0].tolist(), taper.dc[1].tolist())
        self._ac: tuple[list[float], list[float]] = (taper.ac[0].tolist(), taper.ac[1].tolist())
        self._n_types = max(self.type_of, default=0) + 1
        self._curves: dict[int, ChargeCurve] = {}
        self._shared: dict[tuple[float, float, float, bool], ChargeCurve] = {}

    @property
    def dc(self) -> list[bool]:
        """Per station, ``True`` for DC ports."""
        return self._is_dc

    def minutes(self, i: int, j: int, kwh: float, soc: float, /) -> float:
        """Exact minutes session ``i`` needs to charge ``kwh`` (kWh) from state of
        charge ``soc`` at station ``j``, alone on its port."""
        return self.curve(i, j).minutes(soc, kwh)

    def curve(self, i: int, j: int, /) -> ChargeCurve:
        """Session ``i``'s :class:`ChargeCurve` at station ``j`` (kept per session and
        port type, and shared by vehicles of the same battery and power)."""
        key = i * self._n_types + self.type_of[j]
        curve = self._curves.get(key)
        if curve is None:
            is_dc, port_kw = self._is_dc[j], self._port_kw[j]
            vmax = self._vmax_dc[i] if is_dc else self._vmax_ac[i]
            shared = (self._battery[i], vmax, port_kw, is_dc)
            curve = self._shared.get(shared)
            if curve is None:
                socs, shares = self._dc if is_dc else self._ac
                curve = ChargeCurve(
                    battery_kwh=self._battery[i],
                    vehicle_max_kw=vmax,
                    port_kw=port_kw,
                    socs=socs,
                    shares=shares,
                )
                self._shared[shared] = curve
            self._curves[key] = curve
        return curve

    def max_kw(self, i: int, j: int, soc: float, /) -> float:
        """Power (kW) session ``i`` can draw at station ``j`` at state of charge ``soc``."""
        if self._is_dc[j]:
            socs, shares = self._dc
            vmax = self._vmax_dc[i]
        else:
            socs, shares = self._ac
            vmax = self._vmax_ac[i]
        return min(self._port_kw[j], vmax * float(np.interp(soc, socs, shares)))

    def want_kw(self, i: int, j: int, soc: float, /) -> Callable[[float], float]:
        """Power (kW) session ``i`` can draw at station ``j`` once it has charged a given
        number of kWh since arriving at state of charge ``soc``."""
        battery = self._battery[i]
        return lambda delivered: self.max_kw(i, j, soc + delivered / battery)


def waterfill(cap: float, want: np.ndarray, /) -> np.ndarray:
    """Share ``cap`` (kW) equally, never giving anyone more than it ``want`` s (kW)."""
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


class _Charging:
    """A vehicle charging at a capped site."""

    __slots__ = ("kwh", "last", "proc", "rate", "remaining", "station", "want")

    def __init__(
        self, kwh: float, want: Callable[[float], float], now: float, station: int = -1
    ) -> None:
        self.kwh = kwh  # kWh to deliver in all
        self.remaining = kwh  # kWh still to deliver
        self.want = want  # power (kW) the vehicle can take, given the kWh delivered
        self.rate = 0.0  # power allocated (kW)
        self.last = now  # time of the last update (min)
        self.station = station  # the station it charges at (-1: not given)
        self.proc: simpy.Process | None = None


#: Slack (min) when a time is placed in a step of a cap profile, so that a time a
#: rounding error short of a step's start counts as in that step.
_STEP_SLACK_MIN = 1e-9


class CappedSite:
    """Power sharing at a site whose grid cap is below its ports' total rating.

    Parameters
    ----------
    env
        The simulation's environment.
    cap_kw
        The site's grid limit (kW; ``inf``: only ``profile_kw`` limits it).
    profile_kw
        float64 ``(n_steps,)`` a cap that changes every ``step_min`` minutes (kW), from
        minute 0, repeating after its last step; the cap at time ``t`` is
        ``min(cap_kw, profile_kw[step of t])``.  ``None``: the constant ``cap_kw``.
    step_min
        Length of a step of ``profile_kw`` (min).
    station_cap_kw
        Stations sharing this site that also have a constant cap of their own (kW), by
        station index: their vehicles' wants are first water-filled within that cap,
        then the site's cap is shared.
    trace
        If given, ``(time_min, total_kw)`` is appended at every re-balancing: the
        site's draw from then until the next entry (piecewise constant).
    """

    def __init__(
        self,
        env: simpy.Environment,
        cap_kw: float,
        *,
        profile_kw: np.ndarray | None = None,
        step_min: float = 15.0,
        station_cap_kw: dict[int, float] | None = None,
        trace: list[tuple[float, float]] | None = None,
    ) -> None:
        self.env = env
        self.cap = cap_kw
        self.active: dict[int, _Charging] = {}
        self._profile: list[float] | None = None
        if profile_kw is not None:
            prof = np.asarray(profile_kw, dtype=float)
            if prof.ndim != 1 or prof.shape[0] == 0 or not np.all(prof >= 0):
                raise ValueError("CappedSite: profile_kw must be a non-empty 1-D array >= 0")
            if min(float(prof.max()), cap_kw) <= 0:
                raise ValueError("CappedSite: the cap is 0 in every step; nothing could charge")
            self._profile = prof.tolist()
        self._step = float(step_min)
        self._station_cap = dict(station_cap_kw or {})
        self.trace = trace

    def _step_of(self, t: float, /) -> int:
        return int((t + _STEP_SLACK_MIN) // self._step)

    def cap_at(self, t_min: float, /) -> float:
        """The cap (kW) at time ``t_min`` (min)."""
        if self._profile is None:
            return self.cap
        k = self._step_of(t_min) % len(self._profile)
        return min(self.cap, self._profile[k])

    def to_change(self, t_min: float, /) -> float:
        """Minutes from ``t_min`` to the next change of step of the cap (``inf`` for a
        constant cap)."""
        if self._profile is None:
            return math.inf
        return (self._step_of(t_min) + 1) * self._step - t_min

    def advance(self) -> None:
        """Book the energy delivered since the last update."""
        now = self.env.now
        for c in self.active.values():
            c.remaining = max(c.remaining - c.rate * (now - c.last) / 60.0, 0.0)
            c.last = now

    def _wants(self, charging: list[_Charging], /) -> np.ndarray:
        """What each vehicle could take (kW), within its station's own cap if any."""
        want = np.array([c.want(c.kwh - c.remaining) for c in charging])
        for j, cap in self._station_cap.items():
            at = np.array([c.station == j for c in charging], dtype=bool)
            if at.any():
                want[at] = waterfill(cap, want[at])
        return want

    def rebalance(self, *, skip: int | None = None) -> None:
        """Re-share the cap (water-filling) and wake every other vehicle whose power
        changed."""
        self.advance()
        if not self.active:
            if self.trace is not None:
                self.trace.append((self.env.now, 0.0))
            return
        keys = sorted(self.active)
        charging = [self.active[k] for k in keys]
        if self._profile is None and not self._station_cap:
            rates = waterfill(self.cap, np.array([c.want(c.kwh - c.remaining) for c in charging]))
        else:
            rates = waterfill(self.cap_at(self.env.now), self._wants(charging))
        if self.trace is not None:
            self.trace.append((self.env.now, float(rates.sum())))
        for k, c, r in zip(keys, charging, rates.tolist(), strict=True):
            changed = abs(c.rate - r) > 1e-12
            c.rate = r
            if changed and k != skip and c.proc is not None and c.proc.is_alive:
                c.proc.interrupt()

    def charge(
        self, session: int, kwh: float, /, *, want: Callable[[float], float], station: int = -1
    ) -> simpy.events.ProcessGenerator:
        """Process: deliver ``kwh`` (kWh) to ``session`` at the power the cap leaves it.

        ``want(delivered_kwh)`` is the power (kW) the vehicle could take on its own;
        ``station`` is the station it charges at (for ``station_cap_kw``).
        """
        c = _Charging(kwh, want, self.env.now, station)
        c.proc = self.env.active_process
        self.active[session] = c
        self.rebalance(skip=session)
        varying = self._profile is not None
        while c.remaining > 1e-9:
            step = c.remaining / c.rate * 60.0 if c.rate > 0 else CAP_RECHECK_MIN
            wait = min(step, CAP_RECHECK_MIN)
            if varying:
                wait = min(wait, self.to_change(self.env.now))
            try:
                yield self.env.timeout(wait)
            except simpy.Interrupt:
                pass
            self.advance()
            if c.remaining > 1e-9:
                self.rebalance(skip=session)
        del self.active[session]
        self.rebalance()


def step_mean_kw(
    trace: Sequence[tuple[float, float]], /, *, n_steps: int, step_min: float = 15.0
) -> np.ndarray:
    """Mean draw (kW) in each step of a periodic horizon of ``n_steps`` steps, from a
    piecewise-constant ``(time_min, kw)`` trace (exact integral; time past the horizon
    wraps onto its start, as the grid stage's horizon repeats).  The last entry's draw
    must be 0 (a site's trace ends with the site empty)."""
    out = np.zeros(n_steps)
    if len(trace) < 2:
        return out
    t = np.array([p[0] for p in trace], dtype=float)
    kw = np.array([p[1] for p in trace], dtype=float)
    energy = np.r_[0.0, np.cumsum(kw[:-1] * np.diff(t))]  # kW x min at each entry
    k_end = math.ceil(float(t[-1]) / step_min) + 1
    bounds = np.arange(k_end + 1) * step_min
    at = np.interp(bounds, t, energy, left=0.0, right=float(energy[-1]))
    per_step = np.diff(at) / step_min
    np.add.at(out, np.arange(k_end) % n_steps, per_step)
    return out
