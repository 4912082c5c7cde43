"""The through-traffic driver policy: drive the route, stop when the rest of the trip
needs it, pick a station along the route, charge enough to go on.

A through vehicle enters the region with some energy on board (:class:`Trip`).  While
what it carries does not take it out of the region and on to its next charging place,
it heads for a station on its route (:class:`ThroughChoice`): preferred are stations it
can reach keeping its reserve and within the detour limit; among those the least detour
plus expected wait (the vehicles beyond the free ports times its own charging time there,
per port), and on a tie the farthest along the route.  Stations beyond the detour limit,
or reachable only by eating into the reserve, are a last resort.  At the station it
charges to ``target_soc`` (more if the onward trip needs it, at most :data:`FULL_SOC`);
after ``max_attempts`` failures in a row, or with no station left in reach, it leaves,
or runs flat (*stranded*) if it cannot even reach the exit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple

import simpy

from sim.demand.model import Demand
from sim.des.charging import ChargeTimes
from sim.des.inputs import DriverRules, HighwayAccess
from sim.des.log import NO_STATION, STRANDED, LogRow, new_row
from sim.des.stations import Ports

__all__ = [
    "FULL_SOC",
    "MAX_HIGHWAY_ROWS",
    "ChargeStop",
    "Leg",
    "ThroughChoice",
    "ThroughTraffic",
    "Trip",
]

#: A highway driver charges at most to this state of charge (fast chargers crawl above).
FULL_SOC = 0.95
#: Most attempts logged for one highway session (a guard; real sessions need a few).
MAX_HIGHWAY_ROWS = 50

_INF = float("inf")


class Leg(NamedTuple):
    """The stations a through driver can head for next (from the entry or a station),
    as parallel lists; ``station`` is -1 padded (``inf`` in the others)."""

    station: Sequence[int]
    drive_min: Sequence[float]
    drive_km: Sequence[float]
    detour_min: Sequence[float]


class Trip:
    """A through vehicle on its route: the energy it carries and needs (kWh).

    Parameters
    ----------
    session
        The session.
    exit
        Index of its exit among the exits.
    battery_kwh
        Usable battery (kWh).
    soc
        State of charge on entry.
    kwh_per_km
        Consumption (kWh/km).
    exit_need_kwh
        Energy it must still have when it leaves the region (kWh).
    target_soc
        State of charge it charges to (more if the onward trip needs it).
    reserve_soc
        State of charge it wants to keep on arrival at a charger.
    """

    __slots__ = (
        "battery_kwh",
        "exit",
        "exit_need_kwh",
        "full_kwh",
        "have_kwh",
        "kwh_per_km",
        "reserve_kwh",
        "session",
        "target_kwh",
    )

    def __init__(
        self,
        session: int,
        /,
        *,
        exit: int,
        battery_kwh: float,
        soc: float,
        kwh_per_km: float,
        exit_need_kwh: float,
        target_soc: float,
        reserve_soc: float,
    ) -> None:
        self.session = session
        self.exit = exit
        self.battery_kwh = battery_kwh
        self.have_kwh = soc * battery_kwh
        self.kwh_per_km = kwh_per_km
        self.exit_need_kwh = exit_need_kwh
        self.full_kwh = FULL_SOC * battery_kwh
        self.target_kwh = target_soc * battery_kwh
        self.reserve_kwh = reserve_soc * battery_kwh

    def can_leave(self, to_exit_km: float, /) -> bool:
        """Whether it has enough on board to drive ``to_exit_km`` (km) to the exit and on
        to its next charging place (or, if it cannot carry that much, as much as the
        chargers give it)."""
        have = self.have_kwh
        to_exit = to_exit_km * self.kwh_per_km
        return have >= min(to_exit + self.exit_need_kwh, self.full_kwh) - 1e-9 and have >= to_exit

    def charge_kwh(self, have_kwh: float, onward_kwh: float, /) -> float:
        """Energy (kWh) it charges at a station where it arrives with ``have_kwh`` and
        from where the rest of the trip needs ``onward_kwh``."""
        full = self.full_kwh
        target = min(max(min(onward_kwh, full), self.target_kwh), full)
        return max(target - have_kwh, 0.0)


class ChargeStop:
    """What a through vehicle charges at a station, and for how long (no SimPy).

    Parameters
    ----------
    to_exit_km
        ``to_exit_km[j][x]``: drive from station ``j`` to exit ``x`` (km).
    charging
        The sessions' charging curves at each station.
    """

    __slots__ = ("_charging", "_to_exit_km")

    def __init__(self, *, to_exit_km: Sequence[Sequence[float]], charging: ChargeTimes) -> None:
        self._to_exit_km = to_exit_km
        self._charging = charging

    def plan(self, trip: Trip, j: int, have_kwh: float, /) -> tuple[float, float]:
        """Energy (kWh) the trip charges at station ``j`` where it arrives with
        ``have_kwh`` on board, and the minutes that takes on a port of its own."""
        onward = self._to_exit_km[j][trip.exit] * trip.kwh_per_km + trip.exit_need_kwh
        kwh = trip.charge_kwh(have_kwh, onward)
        return kwh, self._charging.minutes(trip.session, j, kwh, have_kwh / trip.battery_kwh)

    def minutes(self, trip: Trip, j: int, have_kwh: float, /) -> float:
        """The minutes of :meth:`plan`: the trip's own charging time at station ``j``."""
        onward = self._to_exit_km[j][trip.exit] * trip.kwh_per_km + trip.exit_need_kwh
        kwh = trip.charge_kwh(have_kwh, onward)
        return self._charging.curve(trip.session, j).minutes(have_kwh / trip.battery_kwh, kwh)


class ThroughChoice:
    """Which station on its route a through driver heads for (no SimPy: call it with
    plain lists).

    Parameters
    ----------
    rules
        ``choice`` and ``wait_weight``.
    ports
        Ports per station.
    present
        Vehicles at each station now (a live list the simulation keeps up to date).
    detour_max_min
        Detour a driver accepts (min).
    expected_min
        ``expected_min(trip, j, kwh_on_arrival)``: the minutes the trip would charge at
        station ``j`` (called only where it would queue).
    """

    __slots__ = ("_by_wait", "_detour_max", "_expected_min", "_weight", "ports", "present")

    def __init__(
        self,
        rules: DriverRules,
        /,
        *,
        ports: Sequence[int],
        present: Sequence[int],
        detour_max_min: float,
        expected_min: Callable[[Trip, int, float], float],
    ) -> None:
        self._by_wait = rules.choice == "time_plus_wait"
        self._weight = rules.wait_weight
        self.ports = ports
        self.present = present
        self._detour_max = detour_max_min
        self._expected_min = expected_min

    def choose(self, trip: Trip, leg: Leg, tried: AbstractSet[int], /) -> int:
        """Position in ``leg`` of the station to drive to, or -1 when none is in reach.

        Preferred: reachable keeping the reserve and within the detour limit; then the
        least detour plus expected wait (min, to 1e-6), then the farthest along the
        route.  Stations in ``tried`` are skipped.
        """
        best, best_key = -1, (True, _INF, 0.0)
        have, per_km, reserve = trip.have_kwh, trip.kwh_per_km, trip.reserve_kwh
        present, ports = self.present, self.ports
        for k, j in enumerate(leg.station):
            if j < 0 or j in tried:
                continue
            km = leg.drive_km[k]
            left = have - km * per_km
            if left < 0:
                continue
            detour = leg.detour_min[k]
            fallback = not (left >= reserve and detour <= self._detour_max)
            score = detour
            if self._by_wait and (excess := present[j] - ports[j] + 1) > 0:
                if (fallback, round(detour, 6)) > best_key[:2]:
                    continue  # worse than the best even without a wait: skip the minutes
                minutes = self._expected_min(trip, j, left)
                score += self._weight * excess * minutes / ports[j]
            key = (fallback, round(score, 6), -km)
            if key < best_key:
                best, best_key = k, key
        return best


class ThroughTraffic:
    """The through-traffic driver process.

    Parameters
    ----------
    env
        The simulation's environment.
    demand
        The sessions (highway ones have ``segment == 1``).
    highway
        Stations along each route and onwards from each station.
    rules
        ``max_attempts`` and the choice rule.
    ports
        The stations.
    charging
        Charging minutes per session and station.
    log
        The log (*stranded* and *no_station* rows are written here).
    """

    def __init__(
        self,
        env: simpy.Environment,
        demand: Demand,
        highway: HighwayAccess,
        /,
        *,
        rules: DriverRules,
        ports: Ports,
        charging: ChargeTimes,
        log: list[LogRow],
    ) -> None:
        hw = highway
        self._env = env
        self._hw = hw
        self._ports = ports
        self._log = log
        self._max_attempts = rules.max_attempts
        self._od: list[int] = demand.od.tolist()
        self._battery: list[float] = demand.battery_kwh.tolist()
        self._soc: list[float] = demand.soc_start.tolist()
        self._per_km: list[float] = demand.kwh_per_km.tolist()
        self._exit_need: list[float] = demand.exit_need_kwh.tolist()
        self._od_exit: list[int] = hw.od_exit.tolist()
        self._route_min: list[float] = hw.od_route_min.tolist()
        self._route_km: list[float] = hw.od_route_km.tolist()
        self._to_exit_min: list[list[float]] = hw.to_exit_min.tolist()
        self._to_exit_km: list[list[float]] = hw.to_exit_km.tolist()
        self._stop = ChargeStop(to_exit_km=self._to_exit_km, charging=charging)
        self._entry = [
            Leg(*cols)
            for cols in zip(
                hw.od_station.tolist(),
                hw.od_drive_min.tolist(),
                hw.od_drive_km.tolist(),
                hw.od_detour_min.tolist(),
                strict=True,
            )
        ]
        self._onward = [
            [Leg(*cols) for cols in zip(*per_exit, strict=True)]
            for per_exit in zip(
                hw.next_station.tolist(),
                hw.next_drive_min.tolist(),
                hw.next_drive_km.tolist(),
                hw.next_detour_min.tolist(),
                strict=True,
            )
        ]
        self.choice = ThroughChoice(
            rules,
            ports=ports.ports,
            present=ports.present,
            detour_max_min=hw.detour_max_min,
            expected_min=self._stop.minutes,
        )

    def trip(self, i: int, /) -> Trip:
        """Session ``i`` as it enters the region."""
        return Trip(
            i,
            exit=self._od_exit[self._od[i]],
            battery_kwh=self._battery[i],
            soc=self._soc[i],
            kwh_per_km=self._per_km[i],
            exit_need_kwh=self._exit_need[i],
            target_soc=self._hw.target_soc,
            reserve_soc=self._hw.reserve_soc,
        )

    def drive(self, i: int, /) -> simpy.events.ProcessGenerator:
        """Process: session ``i`` drives its route, stopping to charge whenever the rest
        of the trip (to the exit and onwards) needs more than is on board; it runs flat
        if no charger it can reach is left."""
        visit, choose = self._ports.visit, self.choice.choose
        od = self._od[i]
        trip = self.trip(i)
        x = trip.exit
        leg = self._entry[od]
        drove = 0.0  # minutes driven from the entry to the current station
        last = -1
        tried: set[int] = set()
        attempt = 0  # rows logged so far
        failures = 0  # failed attempts since the last charge
        while attempt < MAX_HIGHWAY_ROWS:
            to_exit_km = self._to_exit_km[last][x] if last >= 0 else self._route_km[od]
            if trip.can_leave(to_exit_km):
                return
            k = -1 if failures >= self._max_attempts else choose(trip, leg, tried)
            if k < 0:
                self._give_up(trip, attempt=attempt, station=last, to_exit_km=to_exit_km)
                return
            j = leg.station[k]
            tried.add(j)
            drive = leg.drive_min[k]
            if drive > 0:
                yield self._env.timeout(drive)
            trip.have_kwh -= leg.drive_km[k] * trip.kwh_per_km
            drove += drive
            last = j
            kwh, minutes = self._stop.plan(trip, j, trip.have_kwh)
            soc = trip.have_kwh / trip.battery_kwh
            detour = drove + self._to_exit_min[j][x] - self._route_min[od]
            charged = yield from visit(i, j, attempt, drive, kwh, soc, minutes, detour)
            attempt += 1
            if charged:
                trip.have_kwh += kwh
                failures = 0
                tried = {j}
            else:
                failures += 1
            leg = self._onward[j][x]

    def _give_up(self, trip: Trip, /, *, attempt: int, station: int, to_exit_km: float) -> None:
        """No station to try: stranded if it cannot reach the exit, *no_station* if it
        never tried one, else it leaves (its last failed attempt is its outcome)."""
        if trip.have_kwh < to_exit_km * trip.kwh_per_km:  # cannot even reach the exit
            row = new_row(
                session=trip.session,
                attempt=attempt,
                station=station,
                outcome=STRANDED,
                arrival_min=self._env.now,
            )
            self._log.append(row)
        elif attempt == 0:
            self._log.append(
                new_row(session=trip.session, attempt=0, station=-1, outcome=NO_STATION)
            )
