"""Residents who answer the time-of-use tariff: a share of the charging trips that would
set off in a peak hour wait for a cheaper hour (``grid.price_response``, off by default).

For each residential session whose departure falls in a ``peak`` hour of the tariff, a
draw from its own stream (the same for every strategy: common random numbers) decides
whether the resident responds (probability ``share``).  A responding resident sets off in
the first ``valley`` hour within ``max_shift_h`` hours, or failing that the first ``flat``
hour within them, at the same minute past the hour as planned (so departures do not pile
up on the hour); with no cheaper hour in reach it goes as planned.  Energy,
patience and place do not change: the trip is the same, later.  Fleets and through
traffic do not respond (they charge when their shift or route needs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from sim.demand.model import Demand

__all__ = ["RESIDENTIAL_SEGMENT_CODE", "respond_to_prices"]

#: Segment code of residential sessions (``sim.demand.model.SEGMENTS``).
RESIDENTIAL_SEGMENT_CODE = 0
_HOUR_MIN = 60.0


def _shift_hours(bands: Sequence[str], max_shift_h: float, /) -> np.ndarray:
    """int64 ``(24,)``: hours a responding resident who would set off in each hour of
    the day waits (0 where the hour is not peak or no cheaper hour is in reach)."""
    out = np.zeros(24, dtype=np.int64)
    reach = int(np.floor(max_shift_h))
    for h in range(24):
        if bands[h] != "peak":
            continue
        ahead = [(d, bands[(h + d) % 24]) for d in range(1, reach + 1)]
        valley = [d for d, b in ahead if b == "valley"]
        flat = [d for d, b in ahead if b == "flat"]
        out[h] = valley[0] if valley else (flat[0] if flat else 0)
    return out


def respond_to_prices(
    demand: Demand,
    /,
    *,
    bands: Sequence[str],
    share: float,
    max_shift_h: float,
    uniform: np.ndarray,
) -> Demand:
    """``demand`` with the responding residents' departures moved to a cheaper hour.

    Parameters
    ----------
    demand
        One replication's sessions.
    bands
        The tariff's band (``peak``, ``flat``, ``valley``) of each hour of the day.
    share
        Probability that a resident setting off in a peak hour waits (0-1).
    max_shift_h
        Longest wait (h) a resident accepts.
    uniform
        float64 ``(len(demand),)`` draws in [0, 1), one per session.

    Returns
    -------
    Demand
        The same sessions; only ``depart_min`` differs, and only for residents.
    """
    if share <= 0 or len(demand) == 0:
        return demand
    hour = (demand.depart_min // _HOUR_MIN).astype(np.int64) % 24
    wait_h = _shift_hours(bands, max_shift_h)[hour]
    moves = (demand.segment == RESIDENTIAL_SEGMENT_CODE) & (wait_h > 0) & (uniform < share)
    if not moves.any():
        return demand
    depart = demand.depart_min.copy()
    depart[moves] += wait_h[moves] * _HOUR_MIN
    return replace(demand, depart_min=depart)
