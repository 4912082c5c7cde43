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

A through vehicle that can swap its pack (``Demand.swap_pack``) at one of the plan's
swap stations also considers the compatible swap stations on its route
(:meth:`ThroughChoice.choose_mixed`): it compares detour + ``wait_weight`` x the
expected wait + the service itself at both kinds (its own charging time at a charger;
the mean swap time at a swap station, whose expected wait is the vehicles beyond the
free bays times the mean swap time, per bay, plus the expected wait for a charged pack).
A swap leaves it with the station's charged pack (``full_soc`` of its battery), balks
and reneges as at chargers, and counts as an attempt like a charge.  Vehicles that
cannot swap choose exactly as before.

The default rule reads the live queue at every station ahead.  With
``HighwayAccess.informed`` (queue information for a share of drivers), the drivers it
marks see the queues as a navigation app shows them and expect, at each station, the
wait of its queue now less the minutes they drive to get there (it drains meanwhile);
the others choose by the default rule, or, with ``uninformed_blind``, wait-blind (the
least detour, then the farthest along: they stop where their energy suggests) and meet a
queue only on arrival, where they balk or renege as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import simpy

from sim.demand.model import Demand
from sim.des.charging import ChargeTimes
from sim.des.inputs import DriverRules, HighwayAccess, SessionCap
from sim.des.log import NO_STATION, STRANDED, LogRow, new_row
from sim.des.stations import Ports
from sim.des.swap import SwapSetup, SwapStations

__all__ = [
    "CHARGE_STOP",
    "FULL_SOC",
    "MAX_HIGHWAY_ROWS",
    "SWAP_STOP",
    "ChargeStop",
    "Leg",
    "SwapLeg",
    "SwapOption",
    "ThroughChoice",
    "ThroughTraffic",
    "Trip",
]

#: A highway driver charges at most to this state of charge (fast chargers crawl above).
FULL_SOC = 0.95
#: Most attempts logged for one highway session (a guard; real sessions need a few).
MAX_HIGHWAY_ROWS = 50

_INF = float("inf")
#: Kinds of option in :meth:`ThroughChoice.choose_mixed`.
CHARGE_STOP, SWAP_STOP = 0, 1


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
    cap
        The operators' session cap (``None``: none): where it applies, a session
        charges at most to its state of charge and for its minutes.
    now
        The simulation clock (min), for the days the cap applies on.
    """

    __slots__ = ("_cap", "_charging", "_now", "_to_exit_km")

    def __init__(
        self,
        *,
        to_exit_km: Sequence[Sequence[float]],
        charging: ChargeTimes,
        cap: SessionCap | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._to_exit_km = to_exit_km
        self._charging = charging
        self._cap = cap
        self._now = now

    def capped(self) -> SessionCap | None:
        """The cap if it applies now, else ``None``."""
        cap = self._cap
        if cap is None or self._now is None or not cap.applies(self._now()):
            return None
        return cap

    def plan(self, trip: Trip, j: int, have_kwh: float, /) -> tuple[float, float]:
        """Energy (kWh) the trip charges at station ``j`` where it arrives with
        ``have_kwh`` on board, and the minutes that takes on a port of its own."""
        onward = self._to_exit_km[j][trip.exit] * trip.kwh_per_km + trip.exit_need_kwh
        kwh = trip.charge_kwh(have_kwh, onward)
        if self._cap is not None and (cap := self.capped()) is not None:
            return self._within_cap(cap, trip, j, have_kwh, kwh)
        return kwh, self._charging.minutes(trip.session, j, kwh, have_kwh / trip.battery_kwh)

    def minutes(self, trip: Trip, j: int, have_kwh: float, /) -> float:
        """The minutes of :meth:`plan`: the trip's own charging time at station ``j``."""
        onward = self._to_exit_km[j][trip.exit] * trip.kwh_per_km + trip.exit_need_kwh
        kwh = trip.charge_kwh(have_kwh, onward)
        if self._cap is not None and (cap := self.capped()) is not None:
            return self._within_cap(cap, trip, j, have_kwh, kwh)[1]
        return self._charging.curve(trip.session, j).minutes(have_kwh / trip.battery_kwh, kwh)

    def _within_cap(
        self, cap: SessionCap, trip: Trip, j: int, have_kwh: float, kwh: float, /
    ) -> tuple[float, float]:
        """``(kWh, minutes)`` of a session of ``kwh`` cut to the cap's state of charge
        and minutes."""
        battery = trip.battery_kwh
        if cap.soc is not None:
            kwh = min(kwh, max(cap.soc * battery - have_kwh, 0.0))
        curve = self._charging.curve(trip.session, j)
        soc = have_kwh / battery
        minutes = curve.minutes(soc, kwh)
        if cap.minutes is not None and minutes > cap.minutes:
            kwh = min(kwh, (curve.soc_after(soc, cap.minutes) - soc) * battery)
            minutes = cap.minutes
        return kwh, minutes


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

    __slots__ = (
        "_by_wait",
        "_detour_max",
        "_drains",
        "_expected_min",
        "_weight",
        "ports",
        "present",
    )

    def __init__(
        self,
        rules: DriverRules,
        /,
        *,
        ports: Sequence[int],
        present: Sequence[int],
        detour_max_min: float,
        expected_min: Callable[[Trip, int, float], float],
        drains: bool = False,
    ) -> None:
        self._by_wait = rules.choice == "time_plus_wait"
        self._weight = rules.wait_weight
        self.ports = ports
        self.present = present
        self._detour_max = detour_max_min
        self._expected_min = expected_min
        self._drains = drains

    def choose(
        self, trip: Trip, leg: Leg, tried: AbstractSet[int], /, *, upto_kwh: float = _INF
    ) -> int:
        """Position in ``leg`` of the station to drive to, or -1 when none is in reach.

        Preferred: reachable keeping the reserve and within the detour limit; then the
        least detour plus expected wait (min, to 1e-6), then the farthest along the
        route.  Stations in ``tried`` are skipped, and so are those it would reach with
        ``upto_kwh`` (kWh; a session cap's limit) or more on board.
        """
        best, best_key = -1, (True, _INF, 0.0)
        have, per_km, reserve = trip.have_kwh, trip.kwh_per_km, trip.reserve_kwh
        present, ports = self.present, self.ports
        for k, j in enumerate(leg.station):
            if j < 0 or j in tried:
                continue
            km = leg.drive_km[k]
            left = have - km * per_km
            if left < 0 or left >= upto_kwh:
                continue
            detour = leg.detour_min[k]
            fallback = not (left >= reserve and detour <= self._detour_max)
            score = detour
            if self._by_wait and (excess := present[j] - ports[j] + 1) > 0:
                if (fallback, round(detour, 6)) > best_key[:2]:
                    continue  # worse than the best even without a wait: skip the minutes
                minutes = self._expected_min(trip, j, left)
                wait = excess * minutes / ports[j]
                if self._drains:  # the queue drains while it drives there
                    wait = max(wait - leg.drive_min[k], 0.0)
                score += self._weight * wait
            key = (fallback, round(score, 6), -km)
            if key < best_key:
                best, best_key = k, key
        return best

    def choose_mixed(
        self,
        trip: Trip,
        legs: tuple[Leg, SwapLeg],
        tried: AbstractSet[int],
        /,
        *,
        swaps: SwapOption | None = None,
        serves: Sequence[bool] = (),
        upto_kwh: float = _INF,
    ) -> tuple[int, int]:
        """``(kind, position)`` of the charging (:data:`CHARGE_STOP`, in ``legs[0]``) or
        swap station (:data:`SWAP_STOP`, in ``legs[1]``) to drive to, ``(-1, -1)`` when
        none is in reach, for a driver that can swap where ``serves`` (with ``swaps``)
        or that sees every queue ahead and weighs its own charging time too.

        The same preference as :meth:`choose`, scored with the service itself: detour +
        weight x expected wait + own charging time, or + the swap and its waits.  Sites
        in ``tried`` (plan indices) are skipped, and so are stations where it would
        arrive as full as they leave it (a charger beside the swap station it just left).
        """
        best, best_key = (-1, -1), (True, _INF, 0.0)
        have, per_km, reserve = trip.have_kwh, trip.kwh_per_km, trip.reserve_kwh
        full = min(trip.full_kwh, upto_kwh)
        swapped = _INF if swaps is None else swaps.full_soc * trip.battery_kwh
        leg, sleg = legs
        for kind, stations in ((CHARGE_STOP, leg.station), (SWAP_STOP, sleg.station)):
            for k, j in enumerate(stations):
                if j < 0:
                    continue
                if kind == SWAP_STOP and (swaps is None or not serves[j] or swaps.site[j] in tried):
                    continue
                if kind == CHARGE_STOP and j in tried:
                    continue
                km = (leg if kind == CHARGE_STOP else sleg).drive_km[k]
                left = have - km * per_km
                if left < 0 or left >= (full if kind == CHARGE_STOP else swapped) - 1e-9:
                    continue  # out of reach, or nothing to gain there
                detour = (leg if kind == CHARGE_STOP else sleg).detour_min[k]
                fallback = not (left >= reserve and detour <= self._detour_max)
                score = detour
                if self._by_wait:
                    score += self._service_min(trip, kind, j, left, swaps)
                key = (fallback, round(score, 6), -km)
                if key < best_key:
                    best, best_key = (kind, k), key
        return best

    def _service_min(
        self, trip: Trip, kind: int, j: int, left_kwh: float, swaps: SwapOption | None, /
    ) -> float:
        """Weight x expected wait + the service at charging or swap station ``j``."""
        if kind == SWAP_STOP:
            assert swaps is not None
            expected = swaps.expected_min(j)
            minutes = swaps.swap_min[j]
            return self._weight * (expected - minutes) + minutes
        minutes = self._expected_min(trip, j, left_kwh)
        excess = self.present[j] - self.ports[j] + 1
        wait = excess * minutes / self.ports[j] if excess > 0 else 0.0
        return self._weight * wait + minutes


class SwapLeg(NamedTuple):
    """The swap stations a through driver that can swap may head for next, as parallel
    lists: indices into the plan's swap stations (-1 padded, ``inf`` in the others)."""

    station: Sequence[int]
    drive_min: Sequence[float]
    drive_km: Sequence[float]
    detour_min: Sequence[float]


#: The swap leg of a driver that cannot swap.
_NO_SWAPS = SwapLeg((), (), (), ())
#: How a through driver chooses (:meth:`ThroughTraffic.drive`): the default rule, by
#: expected time with the service (swap-capable drivers), or wait-blind.
_PLAIN, _MIXED, _BLIND, _APP = range(4)


class SwapOption:
    """The swap stations as a through driver sees them (no SimPy: live lists).

    Parameters
    ----------
    swaps
        The swap stations' model (vehicles present, bays, the expected pack wait).
    site
        Each swap station's index among the plan's sites.
    swap_min
        Mean swap time per station (min).
    full_soc
        State of charge of the charged packs (0-1).
    """

    __slots__ = ("_swaps", "full_soc", "site", "swap_min")

    def __init__(
        self,
        swaps: SwapStations,
        /,
        *,
        site: Sequence[int],
        swap_min: Sequence[float],
        full_soc: float,
    ) -> None:
        self._swaps = swaps
        self.site = site
        self.swap_min = swap_min
        self.full_soc = full_soc

    def expected_min(self, s: int, /) -> float:
        """Expected wait for a bay and a charged pack plus the mean swap (min)."""
        swaps, minutes = self._swaps, self.swap_min[s]
        bays = swaps.bays(s)
        excess = swaps.present[s] - bays + 1
        wait = excess * minutes / bays if excess > 0 else 0.0
        return wait + swaps.expected_pack_wait(s) + minutes


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
        The log (*stranded* and *no_station* rows are written here, and swaps).
    swap
        The plan's swap stations (``None``: none); with them, ``highway`` needs its
        ``swap_*`` tables.
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
        swap: SwapSetup | None = None,
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
        self._stop = ChargeStop(
            to_exit_km=self._to_exit_km,
            charging=charging,
            cap=hw.session_cap,
            now=lambda: env.now,
        )
        self._cap_soc = None if hw.session_cap is None else hw.session_cap.soc
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

        def chooser(rules: DriverRules, /, *, drains: bool = False) -> ThroughChoice:
            return ThroughChoice(
                rules,
                ports=ports.ports,
                present=ports.present,
                detour_max_min=hw.detour_max_min,
                expected_min=self._stop.minutes,
                drains=drains,
            )

        self.choice = chooser(rules)
        self._blind = chooser(replace(rules, choice="nearest"))  # no queue information
        self._informed: list[bool] | None = None
        self._uninformed_blind = hw.uninformed_blind
        if hw.informed is not None:
            self._informed = np.asarray(hw.informed, dtype=bool).tolist()
            self._app = chooser(rules, drains=True)  # queue information
        self._swap = swap
        self._where: dict[int, list[tuple[Sequence[int], int]]] | None = None
        self._pack: list[int] = []
        if swap is not None:
            self._setup_swaps(demand, hw, swap)

    def set_open(self, j: int, open_: bool, /) -> None:
        """Offer station ``j`` as an option on every route and onwards from every
        station (``open_``), or withdraw it (a mobile unit away or off duty)."""
        if self._where is None:
            self._where = {}
        spots = self._where.get(j)
        if spots is None:
            legs = [*self._entry, *(leg for per in self._onward for leg in per)]
            spots = [(leg.station, k) for leg in legs for k, s in enumerate(leg.station) if s == j]
            self._where[j] = spots
        for stations, k in spots:
            stations[k] = j if open_ else -1  # type: ignore[index]

    def _setup_swaps(self, demand: Demand, hw: HighwayAccess, swap: SwapSetup, /) -> None:
        """The swap legs, options and per-session inputs of swap-capable drivers."""
        tables = (
            hw.swap_od_station,
            hw.swap_od_drive_min,
            hw.swap_od_drive_km,
            hw.swap_od_detour_min,
            hw.swap_next_station,
            hw.swap_next_drive_min,
            hw.swap_next_drive_km,
            hw.swap_next_detour_min,
        )
        if any(t is None for t in tables):
            raise ValueError("simulate: swap stations need the swap tables of `highway`")
        od, nxt = [t.tolist() for t in tables[:4]], [t.tolist() for t in tables[4:]]  # type: ignore[union-attr]
        self._swap_entry = [SwapLeg(*cols) for cols in zip(*od, strict=True)]
        self._swap_onward = [
            [SwapLeg(*cols) for cols in zip(*per_exit, strict=True)]
            for per_exit in zip(*nxt, strict=True)
        ]
        sites = swap.sites
        self._swap_option = SwapOption(
            swap.stations,
            site=sites.site.tolist(),
            swap_min=sites.swap_min.tolist(),
            full_soc=sites.full_soc,
        )
        n = len(demand)
        packs = demand.swap_pack if demand.swap_pack is not None else np.full(n, -1)
        self._pack = np.asarray(packs, dtype=np.int64).tolist()
        self._patience: list[float] = demand.patience_min.tolist()

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
        visit = self._ports.visit
        od = self._od[i]
        trip = self.trip(i)
        x = trip.exit
        swaps = self._swap is not None and self._swap.can_swap(self._pack[i])
        mode = self._mode(i, swaps)
        leg = self._entry[od]
        sleg = self._swap_entry[od] if swaps else _NO_SWAPS
        drove = 0.0  # minutes driven from the entry to the current station
        last = -1
        tried: set[int] = set()
        attempt = 0  # rows logged so far
        failures = 0  # failed attempts since the last charge
        while attempt < MAX_HIGHWAY_ROWS:
            to_exit_km = self._to_exit_km[last][x] if last >= 0 else self._route_km[od]
            if trip.can_leave(to_exit_km):
                return
            if failures >= self._max_attempts:
                kind, k = -1, -1
            else:
                kind, k = self._pick(mode, trip, (leg, sleg), tried)
            if k < 0:
                self._give_up(trip, attempt=attempt, station=last, to_exit_km=to_exit_km)
                return
            on = leg if kind == CHARGE_STOP else sleg
            # where it heads, read now (a mobile unit may leave the options meanwhile)
            to = on.station[k]
            drive = on.drive_min[k]
            if drive > 0:
                yield self._env.timeout(drive)
            trip.have_kwh -= on.drive_km[k] * trip.kwh_per_km
            drove += drive
            if kind == CHARGE_STOP:
                j = to
                kwh, minutes = self._stop.plan(trip, j, trip.have_kwh)
                soc = trip.have_kwh / trip.battery_kwh
                detour = drove + self._to_exit_min[j][x] - self._route_min[od]
                charged = yield from visit(i, j, attempt, drive, kwh, soc, minutes, detour)
                if charged:
                    trip.have_kwh += kwh
            else:
                s = to
                j = self._swap_option.site[s]
                detour = drove + self._to_exit_min[j][x] - self._route_min[od]
                charged = yield from self._swap_at(trip, s, attempt, drive, detour)
            tried.add(j)
            last = j
            attempt += 1
            if charged:
                failures = 0
                tried = {j}
            else:
                failures += 1
            leg = self._onward[j][x]
            if swaps:
                sleg = self._swap_onward[j][x]

    def _upto_kwh(self, trip: Trip, /) -> float:
        """Energy on board (kWh) at and above which a charger gives it nothing now: its
        full charge, or a session cap's state of charge (so a driver who has just
        charged never stops at a charger beside the one it left, e.g. a mobile unit)."""
        full = trip.full_kwh - 1e-9
        if self._cap_soc is None or self._stop.capped() is None:
            return full
        return min(self._cap_soc * trip.battery_kwh - 1e-9, full)

    def _mode(self, i: int, swaps: bool, /) -> int:
        """How session ``i`` chooses: wait-blind when the plan gives queue information
        to some drivers and not to it; by expected time with the service when it can
        swap; else the default rule (which reads the live queues)."""
        informed = None if self._informed is None else self._informed[i]
        if informed is False:
            return _BLIND if self._uninformed_blind else (_MIXED if swaps else _PLAIN)
        if swaps:
            return _MIXED
        return _PLAIN if informed is None else _APP

    def _pick(
        self, mode: int, trip: Trip, legs: tuple[Leg, SwapLeg], tried: AbstractSet[int], /
    ) -> tuple[int, int]:
        """``(kind, position)`` of the next stop by ``mode`` (``(-1, -1)``: none)."""
        upto = self._upto_kwh(trip)
        if mode == _PLAIN:
            return CHARGE_STOP, self.choice.choose(trip, legs[0], tried, upto_kwh=upto)
        if mode == _BLIND:
            return CHARGE_STOP, self._blind.choose(trip, legs[0], tried, upto_kwh=upto)
        if mode == _APP:
            return CHARGE_STOP, self._app.choose(trip, legs[0], tried, upto_kwh=upto)
        if legs[1] is _NO_SWAPS:
            return self.choice.choose_mixed(trip, legs, tried, upto_kwh=upto)
        assert self._swap is not None
        serves = self._swap.serves[self._pack[trip.session]]
        return self.choice.choose_mixed(
            trip, legs, tried, swaps=self._swap_option, serves=serves, upto_kwh=upto
        )

    def _swap_at(
        self, trip: Trip, s: int, attempt: int, drive_min: float, detour_min: float, /
    ) -> simpy.events.ProcessGenerator:
        """Process step: ``trip`` swaps at swap station ``s`` and logs the attempt;
        returns whether it swapped (then it carries the charged pack)."""
        assert self._swap is not None
        i = trip.session
        out = yield from self._swap.stations.visit(
            s,
            soc=trip.have_kwh / trip.battery_kwh,
            patience_min=self._patience[i],
            swap_factor=self._swap.factor[s][i],
        )
        site = self._swap_option.site[s]
        self._log.append(out.row(i, attempt, site, access_min=drive_min, detour_min=detour_min))
        swapped = out.outcome == "swapped"
        if swapped:
            trip.have_kwh = max(trip.have_kwh, self._swap_option.full_soc * trip.battery_kwh)
        return swapped

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
