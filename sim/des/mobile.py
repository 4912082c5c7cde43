"""Mobile charging units at service areas: connectors that are there on their days, an
energy store that runs down, and the trips to refill it.

A unit is one of the plan's stations (its connectors are the station's ports, at the
service area it is sent to) that through-traffic meets like any other on its route, but
only on the days it is deployed: outside them it is not among the drivers' options (the
vehicles already queueing there, or on their way, are still served).  Every session that starts on a
unit draws its energy from the unit's store (:meth:`MobileFleet.draw`); a session that
wants more than is left gets what is left, in the time that takes, and goes on its way.
When the store is down to :data:`LOW_STORE_SHARE` of its size, the unit takes nobody new
(it leaves the drivers' options and its queue waits), finishes the sessions on it, is
away ``refill_min`` (recharging its store from the site's grid or swapping it at a
depot), and comes back full.  So a unit never delivers more than its store plus its
refills.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.des.charging import ChargeTimes
from sim.des.inputs import MobileUnits
from sim.des.stations import Ports

__all__ = ["LOW_STORE_SHARE", "MobileFleet"]

#: A unit goes to refill when its store is down to this share of its size.
LOW_STORE_SHARE = 0.02
_DAY_MIN = 1440.0


class MobileFleet:
    """The mobile units of a run: their stores, refills and days out (an
    :class:`~sim.des.stations.EnergyStores` for :meth:`Ports.visit`).

    Parameters
    ----------
    env
        The simulation's environment.
    units
        The plan's units.
    ports
        The stations (a unit's station is held while it refills).
    charging
        Charging times (a session cut short by the store takes less time).
    set_open
        ``set_open(station, open)``: offer or withdraw a unit's station as an option
        of the drivers.
    horizon_min
        End of the run (min): the days are scheduled up to it.

    Attributes
    ----------
    level_kwh
        Energy left in each unit's store (kWh).
    delivered_kwh
        Energy each unit has given (kWh).
    refills
        Refills each unit has started.
    """

    def __init__(
        self,
        env: simpy.Environment,
        units: MobileUnits,
        ports: Ports,
        /,
        *,
        charging: ChargeTimes,
        set_open: Callable[[int, bool], None],
        horizon_min: float,
    ) -> None:
        self._env, self._units, self._ports = env, units, ports
        self._charging = charging
        self._set_open = set_open
        self._station: list[int] = units.station.tolist()
        self._unit = {j: u for u, j in enumerate(self._station)}
        self._size: list[float] = units.store_kwh.tolist()
        self._refill_min: list[float] = units.refill_min.tolist()
        self.level_kwh = list(self._size)
        self.delivered_kwh = [0.0] * len(self._station)
        self.refills = [0] * len(self._station)
        self._busy_until = [0.0] * len(self._station)
        self._away = [False] * len(self._station)
        self._out = units.deployed(1)
        for j in self._station:
            set_open(j, self._out)
        days = int(horizon_min // _DAY_MIN) + 1
        for day in range(2, days + 1):
            if units.deployed(day) != units.deployed(day - 1):
                env.process(self._turn(day))

    def holds(self, j: int, /) -> bool:
        """Whether station ``j`` is a unit."""
        return j in self._unit

    def draw(
        self, i: int, j: int, kwh: float, soc: float, minutes: float, /
    ) -> tuple[float, float]:
        """Session ``i`` starts charging at unit station ``j``: the energy (kWh) the
        store gives of the ``kwh`` it wants, and the minutes that takes."""
        u = self._unit[j]
        given = min(kwh, self.level_kwh[u])
        if given < kwh:
            minutes = self._charging.minutes(i, j, given, soc)
        self.level_kwh[u] -= given
        self.delivered_kwh[u] += given
        now = self._env.now
        self._busy_until[u] = max(self._busy_until[u], now + minutes)
        if not self._away[u] and self.level_kwh[u] <= LOW_STORE_SHARE * self._size[u]:
            self._env.process(self._refill(u))
        return given, minutes

    def _refill(self, u: int, /) -> simpy.events.ProcessGenerator:
        """Process: unit ``u`` takes nobody new, finishes its sessions, is away
        ``refill_min`` and comes back full."""
        env, j = self._env, self._station[u]
        self._away[u] = True
        self.refills[u] += 1
        pool = self._ports.pool(j)
        pool.hold()
        self._set_open(j, False)
        yield env.timeout(max(self._busy_until[u] - env.now, 0.0) + self._refill_min[u])
        self.level_kwh[u] = self._size[u]
        self._away[u] = False
        pool.resume()
        self._set_open(j, self._out)

    def _turn(self, day: int, /) -> simpy.events.ProcessGenerator:
        """Process: at the start of ``day``, send the units out or call them back (the
        vehicles queueing at a unit called back are still served)."""
        yield self._env.timeout((day - 1) * _DAY_MIN - self._env.now)
        self._out = self._units.deployed(day)
        for u, j in enumerate(self._station):
            if not self._away[u]:
                self._set_open(j, self._out)
