"""The simulation's inputs: the plan's stations, who can reach which station, and the
drivers' rules.

:mod:`sim.study` builds these from plain arrays (the plan, the travel-time tables, the
``simulation`` config); nothing here runs SimPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Access",
    "CapProfile",
    "DriverRules",
    "HighwayAccess",
    "MobileUnits",
    "PortProfile",
    "SessionCap",
    "Stations",
    "caps_or_none",
]


def caps_or_none(grid_cap_kw: np.ndarray | None, n: int, /) -> np.ndarray:
    """float64 grid caps of ``n`` sites (kW), ``inf`` where none (``None``: no site has
    one)."""
    if grid_cap_kw is None:
        return np.full(n, np.inf)
    return np.asarray(grid_cap_kw, dtype=float)


@dataclass(frozen=True)
class MobileUnits:
    """The plan's mobile charging units (battery-buffered trucks or charging robots),
    each one of the plan's stations (its connectors are the station's ports) that only
    through-traffic uses.

    Attributes
    ----------
    station
        int64 index of each unit among the plan's stations.
    store_kwh
        float64 energy each unit carries when full (kWh).
    refill_min
        float64 minutes a unit is away refilling once its store runs down (recharging
        it on site or swapping it at a depot), after its last session ends.
    days
        1-based days the units are deployed (``None``: every day).
    """

    station: np.ndarray
    store_kwh: np.ndarray
    refill_min: np.ndarray
    days: frozenset[int] | None = None

    def deployed(self, day: int, /) -> bool:
        """Whether the units are out on day ``day`` (1-based)."""
        return self.days is None or day in self.days


@dataclass(frozen=True)
class CapProfile:
    """Grid caps that change over time, each shared by a group of stations (the public
    sites inside one residential compound draw on its transformer's headroom).

    Attributes
    ----------
    group
        int64 ``(n_stations,)`` the group (row of ``kw``) of each station; -1: none.
    kw
        float64 ``(n_groups, n_steps)`` each group's cap in each step (kW, >= 0), shared
        by the vehicles charging at all its stations; the profile starts at minute 0 and
        repeats after its last step.
    step_min
        Length of a step (min).
    traces
        If given, one empty list per group, filled by the simulation with the group's
        draw over time: ``(time_min, total_kw)`` at every re-balancing, piecewise
        constant (only for a group whose cap can bind, :func:`binding_groups`; the
        others stay empty).  A fresh set of lists for every simulation.
    """

    group: np.ndarray
    kw: np.ndarray
    step_min: float = 15.0
    traces: list[list[tuple[float, float]]] | None = None

    def binding(self, rated_kw: np.ndarray, own_cap: np.ndarray, /) -> np.ndarray:
        """bool per group: whether its cap can bind, i.e. is below its stations' total
        ``rated_kw`` (ports x kW) in some step, or one of them has its own cap
        (``own_cap < rated_kw``); a group that cannot bind leaves its stations as
        without the profile."""
        n = self.kw.shape[0]
        ok = self.group >= 0
        rated = np.bincount(self.group[ok], weights=rated_kw[ok], minlength=n)
        own = np.bincount(self.group[ok], weights=(own_cap < rated_kw)[ok], minlength=n)
        present = np.bincount(self.group[ok], minlength=n) > 0
        return present & ((self.kw.min(axis=1) < rated) | (own > 0))


@dataclass(frozen=True)
class PortProfile:
    """Stations whose number of ports changes over time (home chargers shared with
    neighbours while their owners are away), with a longest session.

    Attributes
    ----------
    station
        int64 ``(m,)`` the stations (indices into :class:`Stations`).
    ports
        int64 ``(m, n_steps)`` ports open in each step (>= 0, at most the station's
        ``ports``); from minute 0, repeated once after its last step, then held.
    max_session_min
        float64 ``(m,)`` longest a session charges there (min): one that would take
        longer charges that long and gets the energy of that time at constant power.
    step_min
        Length of a step (min).
    """

    station: np.ndarray
    ports: np.ndarray
    max_session_min: np.ndarray
    step_min: float = 15.0


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
    bays
        int64 swap bays per site (0 at charging sites; a swap site has 0 ports), for the
        sites' utilisation; ``None`` when the plan has no swap station.
    mobile
        The stations that are mobile units, with their energy stores (``None``: none).
    cap_profile
        Time-varying caps shared by groups of stations (compounds' headroom), on top of
        ``grid_cap_kw``; ``None``: none (every station as before).
    port_profile
        Stations whose open ports change over time (:class:`PortProfile`); ``None``:
        none (every station as before).
    """

    site_id: tuple[str, ...]
    ports: np.ndarray
    power_kw: np.ndarray
    dc: np.ndarray
    grid_cap_kw: np.ndarray | None = None
    bays: np.ndarray | None = None
    mobile: MobileUnits | None = None
    cap_profile: CapProfile | None = None
    port_profile: PortProfile | None = None

    def __len__(self) -> int:
        return len(self.site_id)

    def cap(self) -> np.ndarray:
        """Grid cap per station (kW), ``inf`` where none."""
        return caps_or_none(self.grid_cap_kw, len(self))


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
        Stations are the plan's sites; a battery-swap site (0 ports) is never listed.
    swap_first_station, swap_first_min
        ``(n_rows, k)`` indices into the plan's :class:`~sim.des.swap.SwapSites` (-1
        padding) and driving times (min, ``inf`` padding) from each origin to its ``k``
        nearest swap stations within reach; ``None`` when the plan has none.
    swap_next_station, swap_next_min
        ``(n_stations, k)`` the same from each of the plan's sites to the swap stations
        (retries); ``None`` when the plan has none.
    """

    origin_row: np.ndarray
    first_station: np.ndarray
    first_min: np.ndarray
    next_station: np.ndarray
    next_min: np.ndarray
    swap_first_station: np.ndarray | None = None
    swap_first_min: np.ndarray | None = None
    swap_next_station: np.ndarray | None = None
    swap_next_min: np.ndarray | None = None


@dataclass(frozen=True)
class SessionCap:
    """The operators' cap on a through-traffic charging session (holiday rule).

    Attributes
    ----------
    soc
        A session charges at most to this state of charge (0-1; ``None``: no limit).
    minutes
        A session holds its port at most this long once charging (min; ``None``: no
        limit).
    days
        1-based days of the run it applies on (``None``: every day).
    """

    soc: float | None = None
    minutes: float | None = None
    days: frozenset[int] | None = None

    def applies(self, t_min: float, /) -> bool:
        """Whether the cap applies at time ``t_min`` (min from the run's start)."""
        return self.days is None or int(t_min // 1440.0) + 1 in self.days


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
    swap_od_station, swap_od_drive_min, swap_od_drive_km, swap_od_detour_min
        ``(n_od, k)`` the same for the plan's swap stations: indices into its
        :class:`~sim.des.swap.SwapSites` (-1 padding); ``None`` when it has none.
    swap_next_station, swap_next_drive_min, swap_next_drive_km, swap_next_detour_min
        ``(n_stations, n_exits, k)`` the swap stations onwards from each of the plan's
        sites (a swap station never lists itself); ``None`` when it has none.
    detour_max_min
        Detour a driver accepts (min); farther stations only when nothing nearer can be
        reached with the energy left.
    target_soc
        State of charge drivers charge to (more if the onward trip needs it).
    reserve_soc
        State of charge a driver wants to keep on arrival at a charger; stations it can
        reach only below it are a last resort.
    session_cap
        The cap on through-traffic sessions at the plan's chargers (``None``: none).
    informed
        bool ``(n_sessions,)``: whether each driver sees the live queue at every station
        ahead (a navigation app) and chooses by detour + the weighted wait it expects on
        arrival (the queue's work now, less what drains while it drives there); the
        others choose by the default rule, or wait-blind (least detour; they meet a queue
        on arrival) with ``uninformed_blind``.  ``None``: every driver follows the default
        rule (detour + weighted wait now).
    uninformed_blind
        With ``informed``: the drivers it does not mark choose wait-blind.
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
    swap_od_station: np.ndarray | None = None
    swap_od_drive_min: np.ndarray | None = None
    swap_od_drive_km: np.ndarray | None = None
    swap_od_detour_min: np.ndarray | None = None
    swap_next_station: np.ndarray | None = None
    swap_next_drive_min: np.ndarray | None = None
    swap_next_drive_km: np.ndarray | None = None
    swap_next_detour_min: np.ndarray | None = None
    session_cap: SessionCap | None = None
    informed: np.ndarray | None = None
    uninformed_blind: bool = False


@dataclass(frozen=True)
class DriverRules:
    """How drivers choose, balk, renege and retry (the ``simulation`` config).

    Attributes
    ----------
    choice
        ``"nearest"`` (least driving time) or ``"time_plus_wait"`` (driving time plus
        ``wait_weight`` x the expected wait, in minutes).
    wait_weight
        Minutes of driving a minute of expected waiting is worth.
    balk_queue_per_port
        A driver does not join a queue of at least this many vehicles per port;
        ``None``: everybody queues.
    max_attempts
        Stations a resident tries (failures in a row for through-traffic) before giving
        up.
    """

    choice: str = "time_plus_wait"
    wait_weight: float = 1.0
    balk_queue_per_port: float | None = 2.0
    max_attempts: int = 3
