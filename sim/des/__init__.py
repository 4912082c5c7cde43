"""Stage 6, the discrete-event simulation (SimPy stays in this package).

Takes one replication's sessions (:class:`~sim.demand.Demand`) and a plan's stations and
access tables (:class:`Stations`, :class:`Access`, :class:`HighwayAccess`, built by
:mod:`sim.study` from plain arrays); gives the :class:`SessionLog`, one row per charging
attempt with named columns.

The parts, as Ciw splits a queueing network:

- :mod:`~sim.des.inputs`: what the simulation takes (stations, access, driver rules);
- :mod:`~sim.des.log`: the log schema (outcome codes, one named row per attempt);
- :mod:`~sim.des.stations`: stations and ports (``simpy.Resource``'s semantics,
  lighter), occupancy, balking, the visit (queue, renege, charge);
- :mod:`~sim.des.charging`: charging curves and times, power sharing under a grid cap;
- :mod:`~sim.des.resident`: the resident driver policy (choose, balk, renege, retry);
- :mod:`~sim.des.highway`: the through-traffic driver policy (when to stop, where, how
  much to charge);
- :mod:`~sim.des.swap`: battery-swap stations (bays, charged packs, pack chargers) and
  the :class:`~sim.des.swap.SwapTrace` of a run;
- :mod:`~sim.des.fleet`: the fleet and swap-capable driver policy (charge or swap,
  whichever is expected quicker; fleets prefer DC);
- :mod:`~sim.des.simulation`: :func:`simulate` (and :func:`simulate_traced`, with the
  swap stations' trace), which wires them.
"""

from __future__ import annotations

from sim.des.charging import TaperCurves, charge_minutes, charge_minutes_one
from sim.des.inputs import Access, DriverRules, HighwayAccess, MobileUnits, SessionCap, Stations
from sim.des.log import (
    BALKED,
    CHARGE,
    CHARGED,
    NO_STATION,
    OUTCOMES,
    RENEGED,
    SERVICES,
    STRANDED,
    SWAP,
    SessionLog,
)
from sim.des.simulation import simulate, simulate_traced
from sim.des.swap import SwapSites, SwapTrace

__all__ = [
    "BALKED",
    "CHARGE",
    "CHARGED",
    "NO_STATION",
    "OUTCOMES",
    "RENEGED",
    "SERVICES",
    "STRANDED",
    "SWAP",
    "Access",
    "DriverRules",
    "HighwayAccess",
    "MobileUnits",
    "SessionCap",
    "SessionLog",
    "Stations",
    "SwapSites",
    "SwapTrace",
    "TaperCurves",
    "charge_minutes",
    "charge_minutes_one",
    "simulate",
    "simulate_traced",
]
