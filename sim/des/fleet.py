"""The driver policy of fleet vehicles and of vehicles that can swap their battery.

Who follows it (:meth:`FleetDrivers.follows`): every fleet session (segment ``fleet``),
and every other session whose vehicle can swap a pack (``Demand.swap_pack >= 0``) that
a swap station within reach of its origin serves, except through-traffic; other
sessions are residents or through-traffic as before (through vehicles that can swap
choose swap stations on their route by :mod:`sim.des.highway`'s rule).

A driver sets off at its departure time and chooses among the charging stations and the
compatible swap stations within reach (:class:`MixedChoice`): the least driving time
plus ``wait_weight`` x the expected wait plus the service time.  At a charging station
the expected wait and the service are the residents' (vehicles beyond the free ports
times its own charging time there, per port; its own charging time); at a swap station
the vehicles beyond the free bays times the mean swap time, per bay, plus, with no
charged pack in stock, the expected time until its pack is charged
(:meth:`~sim.des.swap.SwapStations.expected_pack_wait`), and the mean swap time.  A
fleet vehicle considers only DC charging stations when any DC one is within reach.
With ``choice == "nearest"`` the least driving time wins (fleets still prefer DC).

It queues and charges (:meth:`~sim.des.stations.Ports.visit`) or swaps
(:meth:`~sim.des.swap.SwapStations.visit`), balking and reneging as at chargers; after
failing it drives on to the best untried station of either kind within reach of the
current one, up to ``max_attempts`` stations.  With nothing within reach from its origin
it is *no_station*.  These drivers are SimPy processes (there are few of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import simpy

from sim.demand.model import Demand
from sim.des.charging import ChargeTimes
from sim.des.inputs import Access, DriverRules
from sim.des.log import NO_STATION, LogRow, new_row
from sim.des.stations import Ports
from sim.des.swap import SwapSetup, SwapSites, SwapStations

__all__ = ["FLEET_SEGMENT_CODE", "FleetDrivers", "MixedChoice"]

#: Segment code of fleet sessions (``sim.demand.model.SEGMENTS``).
FLEET_SEGMENT_CODE = 2
#: Kinds of station in a choice.
_CHARGE, _SWAP = 0, 1
_INF = float("inf")
_NAN = float("nan")
#: A table of stations within reach: (stations, drives (min)), one row per origin.
_Table = tuple[list[list[int]], list[list[float]]]


class MixedChoice:
    """Which charging or swap station a fleet or swap-capable driver heads for (no
    SimPy: it reads the live occupancy lists).

    Parameters
    ----------
    rules
        ``choice`` and ``wait_weight``.
    ports
        The charging stations (ports, vehicles present).
    charging
        Each session's charging minutes per port type.
    dc
        Per charging station, ``True`` for DC ports.
    swaps
        The swap stations (``None``: the plan has none).
    serves
        ``serves[code][s]``: whether swap station ``s`` swaps pack type ``code``.
    """

    __slots__ = ("_by_wait", "_dc", "_ports", "_serves", "_swaps", "_table", "_type_of", "_w")

    def __init__(
        self,
        rules: DriverRules,
        /,
        *,
        ports: Ports,
        charging: ChargeTimes,
        dc: Sequence[bool],
        swaps: SwapStations | None,
        serves: Sequence[Sequence[bool]],
    ) -> None:
        self._by_wait = rules.choice == "time_plus_wait"
        self._w = rules.wait_weight
        self._ports = ports
        self._table, self._type_of = charging.table, charging.type_of
        self._dc = dc
        self._swaps = swaps
        self._serves = serves

    def charge_score(self, i: int, j: int, drive_min: float, /) -> float:
        """Drive + weight x expected wait + own charging time at charging station ``j``."""
        if not self._by_wait:
            return drive_min
        ports = self._ports.ports[j]
        minutes = self._table[i][self._type_of[j]]
        excess = self._ports.present[j] - ports + 1
        wait = excess * minutes / ports if excess > 0 else 0.0
        return drive_min + self._w * wait + minutes

    def swap_score(self, s: int, drive_min: float, swap_min: float, /) -> float:
        """Drive + weight x expected wait + mean swap time at swap station ``s``."""
        if not self._by_wait:
            return drive_min
        assert self._swaps is not None
        bays = self._swaps.bays(s)
        excess = self._swaps.present[s] - bays + 1
        wait = excess * swap_min / bays if excess > 0 else 0.0
        wait += self._swaps.expected_pack_wait(s)
        return drive_min + self._w * wait + swap_min

    def choose(
        self,
        i: int,
        /,
        *,
        fleet: bool,
        pack: int,
        charge: tuple[Sequence[int], Sequence[float]],
        swap: tuple[Sequence[int], Sequence[float]],
        swap_min: Sequence[float],
        tried: tuple[AbstractSet[int], AbstractSet[int]],
    ) -> tuple[int, int, float]:
        """``(kind, station, drive_min)`` of the best option, ``kind`` -1 when none.

        Parameters
        ----------
        i
            The session.
        fleet
            A fleet vehicle (DC charging stations only, when any is within reach).
        pack
            Its pack type code (-1: it cannot swap).
        charge, swap
            Charging and swap stations within reach (-1 padded) and the drives (min).
        swap_min
            Mean swap time per swap station (min).
        tried
            Charging and swap stations it has already tried.
        """
        ports, dc = self._ports.ports, self._dc
        open_charge = [
            (j, t)
            for j, t in zip(*charge, strict=True)
            if j >= 0 and t < _INF and ports[j] > 0 and j not in tried[0]
        ]
        if fleet and any(dc[j] for j, _ in open_charge):
            open_charge = [(j, t) for j, t in open_charge if dc[j]]
        best, best_score = (-1, -1, _NAN), _INF
        for j, t in open_charge:
            score = self.charge_score(i, j, t)
            if score < best_score:
                best, best_score = (_CHARGE, j, t), score
        if pack < 0 or self._swaps is None:
            return best
        serves = self._serves[pack]
        for s, t in zip(*swap, strict=True):
            if s < 0 or t == _INF or s in tried[1] or not serves[s]:
                continue
            score = self.swap_score(s, t, swap_min[s])
            if score < best_score:
                best, best_score = (_SWAP, s, t), score
        return best


class FleetDrivers:
    """Fleet and swap-capable drivers: set off, choose, charge or swap, retry (a SimPy
    process each, :meth:`drive`).

    Parameters
    ----------
    env
        The simulation's environment.
    demand
        The sessions.
    access
        Reachable charging stations and swap stations from each origin and station.
    rules
        Choice, retries (``max_attempts``).
    ports
        The charging stations.
    charging
        Charging minutes per session and port type (and which stations are DC).
    swap
        The swap stations (``None``: the plan has none).
    log
        The log.
    """

    def __init__(
        self,
        env: simpy.Environment,
        demand: Demand,
        access: Access,
        /,
        *,
        rules: DriverRules,
        ports: Ports,
        charging: ChargeTimes,
        swap: SwapSetup | None,
        log: list[LogRow],
    ) -> None:
        self._env, self._ports, self._log = env, ports, log
        self._max_attempts = rules.max_attempts
        self._fleet: list[bool] = (demand.segment == FLEET_SEGMENT_CODE).tolist()
        n = len(demand)
        packs = demand.swap_pack if demand.swap_pack is not None else np.full(n, -1)
        self._pack: list[int] = np.asarray(packs, dtype=np.int64).tolist()
        self._kwh: list[float] = demand.energy_kwh.tolist()
        self._soc: list[float] = demand.soc_start.tolist()
        self._patience: list[float] = demand.patience_min.tolist()
        self._table, self._type_of = charging.table, charging.type_of
        self._origin_row: list[int] = access.origin_row.tolist()
        self._first = (access.first_station.tolist(), access.first_min.tolist())
        self._next = (access.next_station.tolist(), access.next_min.tolist())
        sites = None if swap is None else swap.sites
        stations = None if swap is None else swap.stations
        self._sites, self._swaps = sites, stations
        self._swap_first, self._swap_next = _swap_tables(
            access, sites, n_rows=len(self._first[0]), n_sites=len(ports.ports)
        )
        self._swap_min: list[float] = [] if sites is None else sites.swap_min.tolist()
        self._swap_site: list[int] = [] if sites is None else sites.site.tolist()
        self._serves = serves = [] if swap is None else swap.serves
        self._factor = [] if swap is None else swap.factor
        self.choice = MixedChoice(
            rules, ports=ports, charging=charging, dc=charging.dc, swaps=stations, serves=serves
        )

    def follows(self, i: int, /) -> bool:
        """Whether session ``i`` follows this policy: a fleet vehicle, or one that can
        swap at a station within reach of its origin."""
        if self._fleet[i]:
            return True
        pack = self._pack[i]
        if pack < 0 or pack >= len(self._serves):
            return False
        serves = self._serves[pack]
        row = self._origin_row[i]
        stations, times = self._swap_first[0][row], self._swap_first[1][row]
        return any(s >= 0 and t < _INF and serves[s] for s, t in zip(stations, times, strict=True))

    def _choose(
        self, i: int, row: int, tables: tuple[_Table, _Table], tried: tuple[set[int], set[int]]
    ) -> tuple[int, int, float]:
        """The best option of session ``i`` from row ``row`` of the (charging, swap)
        ``tables``."""
        charge, swap = tables
        return self.choice.choose(
            i,
            fleet=self._fleet[i],
            pack=self._pack[i],
            charge=(charge[0][row], charge[1][row]),
            swap=(swap[0][row], swap[1][row]),
            swap_min=self._swap_min,
            tried=tried,
        )

    def drive(self, i: int, /) -> simpy.events.ProcessGenerator:
        """Process: session ``i`` sets off now, charges or swaps, retries on failing."""
        env = self._env
        tried: tuple[set[int], set[int]] = (set(), set())
        kind, j, t = self._choose(i, self._origin_row[i], (self._first, self._swap_first), tried)
        if kind < 0:
            self._log.append(new_row(session=i, attempt=0, station=-1, outcome=NO_STATION))
            return
        attempt = 0
        while True:
            tried[kind].add(j)
            if t > 0:
                yield env.timeout(t)
            if kind == _CHARGE:
                minutes = self._table[i][self._type_of[j]]
                done = yield from self._ports.visit(
                    i, j, attempt, t, self._kwh[i], self._soc[i], minutes, _NAN
                )
                site = j
            else:
                done = yield from self._swap(i, j, attempt, t)
                site = self._swap_site[j]
            attempt += 1
            if done or attempt >= self._max_attempts:
                return
            kind, j, t = self._choose(i, site, (self._next, self._swap_next), tried)
            if kind < 0:
                return

    def _swap(
        self, i: int, s: int, attempt: int, drive_min: float, /
    ) -> simpy.events.ProcessGenerator:
        """Process step: swap at station ``s``, log the attempt; returns whether it
        swapped."""
        assert self._swaps is not None
        out = yield from self._swaps.visit(
            s, soc=self._soc[i], patience_min=self._patience[i], swap_factor=self._factor[s][i]
        )
        self._log.append(
            out.row(i, attempt, self._swap_site[s], access_min=drive_min, detour_min=_NAN)
        )
        return out.outcome == "swapped"


def _swap_tables(
    access: Access, sites: SwapSites | None, /, *, n_rows: int, n_sites: int
) -> tuple[_Table, _Table]:
    """The swap-station tables of ``access`` as lists (empty rows without swap
    stations)."""
    if (
        sites is None
        or access.swap_first_station is None
        or access.swap_first_min is None
        or access.swap_next_station is None
        or access.swap_next_min is None
    ):
        if sites is not None:
            raise ValueError("simulate: swap stations need the swap tables of `access`")
        return ([[]] * n_rows, [[]] * n_rows), ([[]] * n_sites, [[]] * n_sites)
    return (
        (access.swap_first_station.tolist(), access.swap_first_min.tolist()),
        (access.swap_next_station.tolist(), access.swap_next_min.tolist()),
    )
