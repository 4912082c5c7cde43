"""The resident driver policy: which station to drive to, and what to do after failing.

A resident sets off at its departure time and chooses among the ``choice_set`` nearest
stations within reach (:class:`~sim.des.Access`): the nearest by driving time, or the
least driving time plus ``wait_weight`` x the expected wait a charging app shows when it
sets off (:class:`ResidentChoice`).  At the station it queues and charges
(:meth:`~sim.des.stations.Ports.visit`); after balking or reneging it drives on to the
best untried station within reach of the current one, up to ``max_attempts`` stations,
then gives up.  With no station within reach from home it is *no_station*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import simpy

from sim.des.charging import ChargeTimes
from sim.des.inputs import Access, DriverRules
from sim.des.log import NO_STATION, LogRow, new_row
from sim.des.stations import Later, Ports, Visit

__all__ = ["ResidentChoice", "Residents"]

_INF = float("inf")
_NAN = float("nan")
_NONE_TRIED: frozenset[int] = frozenset()


class ResidentChoice:
    """Which station a resident drives to (no SimPy: call it with plain lists).

    The score of a station is its driving time, plus, with ``choice ==
    "time_plus_wait"``, ``wait_weight x excess x minutes / ports`` where ``excess`` is
    the vehicles present beyond the free ports, counting the driver itself
    (``present - ports + 1``, when positive), and ``minutes`` the driver's own charging
    time there.  The least score wins; the first listed wins a tie.

    Parameters
    ----------
    rules
        ``choice`` and ``wait_weight``.
    ports
        Ports open per station now (a live list: at shared-charger stations it follows
        the owners' absences; a station with none open is passed over).
    present
        Vehicles at each station now (a live list the simulation keeps up to date).
    type_of
        Port type of each station (an index into a row of ``minutes``).
    minutes
        ``minutes[i][t]``: charging minutes of session ``i`` at a port of type ``t``.
    below
        ``ports`` less one, kept live beside it (default: computed once from
        ``ports``, for ports that never change).
    """

    __slots__ = ("_below", "_by_wait", "_minutes", "_type_of", "_weight", "ports", "present")

    def __init__(
        self,
        rules: DriverRules,
        /,
        *,
        ports: Sequence[int],
        present: Sequence[int],
        type_of: Sequence[int],
        minutes: Sequence[Sequence[float]],
        below: Sequence[int] | None = None,
    ) -> None:
        self._by_wait = rules.choice == "time_plus_wait"
        self._weight = rules.wait_weight
        self.ports = ports
        # present - (ports - 1): the excess
        self._below = [c - 1 for c in ports] if below is None else below
        self.present = present
        self._type_of = type_of
        self._minutes = minutes

    def choose(
        self,
        i: int,
        options: Sequence[int],
        times: Sequence[float],
        tried: AbstractSet[int],
        /,
        ordered: bool = False,
    ) -> int:
        """Position in ``options`` of the station session ``i`` drives to, or -1.

        Parameters
        ----------
        i
            The session.
        options
            Candidate stations, nearest first (-1 padding at the end).
        times
            Driving time to each (min; ``inf`` = out of reach).
        tried
            Stations the driver has already tried (skipped).
        ordered
            ``True`` if ``times`` never decrease along ``options``: the search stops at
            the first station that cannot beat the best so far (the same answer).
        """
        if ordered and self._weight >= 0.0:
            return self.choose_ordered(i, options, times, tried)
        best, best_score = -1, _INF
        if not self._by_wait:
            for k, j in enumerate(options):
                if j < 0:
                    break  # options are padded at the end
                t = times[k]
                if t < best_score and j not in tried:  # inf (out of reach) never wins
                    best, best_score = k, t
            return best
        own = self._minutes[i]
        present, ports, type_of, weight = self.present, self.ports, self._type_of, self._weight
        for k, j in enumerate(options):
            if j < 0:
                break
            t = times[k]
            if t == _INF or j in tried:
                continue
            excess = present[j] - ports[j] + 1
            if excess > 0:
                n = ports[j]
                if n == 0:
                    continue  # no port open now
                t += weight * excess * own[type_of[j]] / n
            if t < best_score:
                best, best_score = k, t
        return best

    def choose_ordered(
        self,
        i: int,
        options: Sequence[int],
        times: Sequence[float],
        tried: AbstractSet[int],
        /,
    ) -> int:
        """:meth:`choose` for ``times`` that never decrease, with ``wait_weight >= 0``:
        a station's score is at least its driving time (the wait term is never
        negative), so none after the first whose driving time reaches the best score
        can win (nor any at ``inf``)."""
        best, best_score = -1, _INF
        if not self._by_wait:
            for k, j in enumerate(options):
                if j < 0 or times[k] == _INF:
                    break
                if j not in tried:
                    return k
            return best
        own, present, below = self._minutes[i], self.present, self._below
        ports, type_of, weight = self.ports, self._type_of, self._weight
        for k, j in enumerate(options):
            if j < 0:
                break
            t = times[k]
            if t >= best_score:  # inf, or no better from here on
                break
            if j in tried:
                continue
            excess = present[j] - below[j]
            if excess > 0:
                n = ports[j]
                if n == 0:
                    continue  # no port open now
                t += weight * excess * own[type_of[j]] / n
            if t < best_score:
                best, best_score = k, t
        return best


def _ordered(times: np.ndarray, /) -> bool:
    """Whether every row of ``times`` never decreases (``inf`` padding included)."""
    return bool(np.all(times[:, 1:] >= times[:, :-1]))


class Residents:
    """The resident drivers: set off, drive, queue and charge, retry (on event
    callbacks, where a process per resident would be).

    Parameters
    ----------
    env
        The simulation's environment.
    access
        Reachable stations from each session's origin and from each station.
    demand_energy_kwh, demand_soc
        float64 ``(n_sessions,)`` energy each session charges (kWh) and its state of
        charge on arrival.
    rules
        ``max_attempts`` (and the choice rule, for :class:`ResidentChoice`).
    ports
        The stations.
    charging
        Charging minutes per session and port type.
    log
        The log (``no_station`` rows are written here; visits write their own).
    """

    __slots__ = (
        "_choose_first",
        "_choose_next",
        "_energy",
        "_env",
        "_first_min",
        "_first_station",
        "_log",
        "_max_attempts",
        "_next_min",
        "_next_station",
        "_origin_row",
        "_ports",
        "_soc",
        "_table",
        "_type_of",
        "choice",
    )

    def __init__(
        self,
        env: simpy.Environment,
        access: Access,
        /,
        *,
        demand_energy_kwh: np.ndarray,
        demand_soc: np.ndarray,
        rules: DriverRules,
        ports: Ports,
        charging: ChargeTimes,
        log: list[LogRow],
    ) -> None:
        self._env = env
        self._origin_row: list[int] = access.origin_row.tolist()
        self._first_station: list[list[int]] = access.first_station.tolist()
        self._first_min: list[list[float]] = access.first_min.tolist()
        self._next_station: list[list[int]] = access.next_station.tolist()
        self._next_min: list[list[float]] = access.next_min.tolist()
        self._energy: list[float] = demand_energy_kwh.tolist()
        self._soc: list[float] = demand_soc.tolist()
        self._max_attempts = rules.max_attempts
        self._ports = ports
        self._table = charging.table
        self._type_of = charging.type_of
        self._log = log
        self.choice = ResidentChoice(
            rules,
            ports=ports.open,
            present=ports.present,
            type_of=charging.type_of,
            minutes=charging.table,
            below=ports.open_below,
        )
        fast = rules.wait_weight >= 0.0
        c = self.choice
        self._choose_first = c.choose_ordered if fast and _ordered(access.first_min) else c.choose
        self._choose_next = c.choose_ordered if fast and _ordered(access.next_min) else c.choose

    def set_off(self, i: int, /) -> tuple[int, float] | None:
        """Session ``i`` leaves home now: the station it heads for and the drive (min),
        or ``None`` (logged as *no_station*) when none is within reach."""
        row = self._origin_row[i]
        options, times = self._first_station[row], self._first_min[row]
        k = self._choose_first(i, options, times, _NONE_TRIED)
        if k < 0:
            self._log.append(new_row(session=i, attempt=0, station=-1, outcome=NO_STATION))
            return None
        return options[k], times[k]

    def arrive(self, i: int, j: int, drive_min: float, /) -> Callable[[simpy.Event | None], None]:
        """What session ``i`` does when it has driven ``drive_min`` to station ``j`` (its
        choice when it set off): queue and charge, or drive on after failing.

        Returns the callback that makes the visit (the simulation calls it at the
        arrival: where the resident's process would start)."""
        return _Resident(self, i, j, drive_min).arrived


class _Resident(Visit):
    """One resident after reaching its first station, driven by event callbacks: visit
    (:class:`~sim.des.stations.Visit`), then on failing the best untried station within
    reach of the current one, up to ``max_attempts`` stations."""

    __slots__ = ("_of", "_tried")

    def __init__(self, of: Residents, i: int, j: int, drive_min: float, /) -> None:
        # Visit.__init__'s fields set here, once per session (a call less)
        self._ports, self._i, self._kwh, self._soc = of._ports, i, of._energy[i], of._soc[i]
        self._j, self._attempt, self._drive = j, 0, drive_min
        self._of = of
        self._tried = {j}

    def arrived(self, _: simpy.Event | None = None) -> None:
        """Visit the station it has reached."""
        of = self._of
        self._minutes = of._table[self._i][of._type_of[self._j]]
        self.start()

    def visited(self, charged: bool, /) -> None:
        """After a visit: done, or drive on to the next station."""
        of = self._of
        self._attempt += 1
        if charged or self._attempt >= of._max_attempts:
            return
        j = self._j
        options, times = of._next_station[j], of._next_min[j]
        k = of._choose_next(self._i, options, times, self._tried)
        if k < 0:
            return
        j = self._j = options[k]
        self._tried.add(j)
        drive_min = self._drive = times[k]
        if drive_min > 0:
            Later(of._env, drive_min, self.arrived)
        else:
            self.arrived()
