"""The session log's schema: outcome codes, one named row per charging attempt, and the
columnar :class:`SessionLog` the metrics read.

The simulation appends a :class:`LogRow` per attempt, built by field name
(:data:`new_row`); at the end
:meth:`SessionLog.from_rows` turns the rows into numpy columns sorted by (session,
attempt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np

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
    "LogRow",
    "SessionLog",
    "new_row",
]

#: Outcome names, indexed by the codes in :attr:`SessionLog.outcome`.
OUTCOMES: tuple[str, ...] = ("charged", "reneged", "balked", "stranded", "no_station")
#: Outcome codes (indices into :data:`OUTCOMES`).
CHARGED, RENEGED, BALKED, STRANDED, NO_STATION = range(5)
#: Service names, indexed by the codes in :attr:`SessionLog.service`.
SERVICES: tuple[str, ...] = ("charge", "swap")
#: Service codes (indices into :data:`SERVICES`).
CHARGE, SWAP = range(2)

_NAN = float("nan")


class LogRow(NamedTuple):
    """One charging attempt, as the simulation records it (see :class:`SessionLog` for
    the meaning of each field).  Fields not given are NaN (``energy_kwh``: 0;
    ``service``: :data:`CHARGE`)."""

    session: int
    attempt: int
    station: int
    outcome: int
    access_min: float = _NAN
    arrival_min: float = _NAN
    start_min: float = _NAN
    end_min: float = _NAN
    wait_min: float = _NAN
    energy_kwh: float = 0.0
    power_kw: float = _NAN
    detour_min: float = _NAN
    service: int = CHARGE
    pack_wait_min: float = _NAN


#: ``new_row(session=..., attempt=..., ...)`` builds a :class:`LogRow` by field name.
#: Calling ``LogRow.__new__`` directly skips the keyword dict ``type.__call__`` builds
#: for a Python ``__new__``: 0.4 us a row instead of 1.0-1.5 us (measured; the log gets
#: one row per attempt).
new_row = partial(LogRow.__new__, LogRow)

#: Column dtypes of :class:`SessionLog`, by field name.
_DTYPES: dict[str, type] = {
    "session": np.int64,
    "attempt": np.int16,
    "station": np.int64,
    "outcome": np.int8,
    **{f: np.float64 for f in LogRow._fields[4:]},
    "service": np.int8,
}
#: A row of the log as a numpy record.
_RECORD = np.dtype([(name, _DTYPES[name]) for name in LogRow._fields])


@dataclass(frozen=True)
class SessionLog:
    """One row per charging attempt (numpy columns of equal length), in
    (session, attempt) order.

    ``station`` is an index into :class:`~sim.des.Stations` (-1 when no station); times
    are minutes from the start of day 1; ``access_min`` is the drive to this attempt's
    station (from home, or from the previous station); ``wait_min`` is the time in the
    queue (until charging, or until leaving for reneged attempts; 0 for balked);
    ``start_min`` and ``end_min`` are NaN for attempts that did not charge;
    ``energy_kwh`` is the energy charged (kWh); ``power_kw`` is the mean charging power
    of the attempt (kW); ``outcome`` is a code into :data:`OUTCOMES`; ``detour_min`` is,
    for a highway session's charged attempt, the extra driving against its direct route
    (min; NaN otherwise).  A *stranded* row is where the vehicle ran flat: at
    ``station`` (the last station it tried; -1 when it never reached one), at
    ``arrival_min``.  ``service`` is a code into :data:`SERVICES` (0 charge at a
    charging station, 1 swap at a battery-swap station, whose ``station`` is its index
    among the plan's sites); ``pack_wait_min`` is, for a swap attempt that got a bay,
    the time in the bay waiting for a charged pack (min; part of ``wait_min``; NaN at
    chargers and for swap attempts that never got a bay).  At a swap, ``energy_kwh`` is
    the energy of the charged pack above the one left behind and ``power_kw`` is NaN.
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
    service: np.ndarray
    pack_wait_min: np.ndarray

    def __len__(self) -> int:
        return int(self.session.shape[0])

    @classmethod
    def from_rows(cls, rows: Sequence[LogRow], /) -> SessionLog:
        """Columns of ``rows``, sorted by (session, attempt).

        Parameters
        ----------
        rows
            The attempts in the order they were recorded.
        """
        # one pass over the rows into a record array: a third of the time of building
        # each column from the transposed rows (measured, 57k rows)
        rec = np.fromiter(rows, dtype=_RECORD, count=len(rows))
        order = np.lexsort((rec["attempt"], rec["session"]))
        return cls(**{name: rec[name][order] for name in LogRow._fields})

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
