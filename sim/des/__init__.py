"""Stage 6, the discrete-event simulation (SimPy stays in this package).

Takes one replication's sessions (:class:`~sim.demand.Demand`) and a plan's stations and
access tables (:class:`Stations`, :class:`Access`, :class:`HighwayAccess`, built by
:mod:`sim.study` from plain arrays); gives the :class:`SessionLog`, one row per charging
attempt with named columns.
"""

from __future__ import annotations

from sim.des.model import (
    BALKED,
    CHARGED,
    NO_STATION,
    OUTCOMES,
    RENEGED,
    STRANDED,
    Access,
    DriverRules,
    HighwayAccess,
    SessionLog,
    Stations,
    TaperCurves,
    charge_minutes,
    charge_minutes_one,
    simulate,
)

__all__ = [
    "BALKED",
    "CHARGED",
    "NO_STATION",
    "OUTCOMES",
    "RENEGED",
    "STRANDED",
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
