"""Holiday operations figures of one simulated plan: the wait at the busiest service
area on the peak day, and the vehicles that ran flat.

The *peak day* is the simulated day on which the most through vehicles enter (the same
for every plan of a run: the demand is).  A *service area* is a candidate site: every
station the plan has there (its chargers, extra ports, mobile units) counts as one.
The *busiest* service area is the one where the most through vehicles arrive on the
peak day (arrivals at any of its stations, whether they charged, gave up or balked);
to compare plans at one place, the caller may name it (the base plan's busiest).
Its waits are those of the attempts that joined a queue there that day (charged or
reneged; a balk joins none), so a plan that sends drivers away is not flattered.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.demand.model import Demand
from sim.des import SessionLog
from sim.des.log import CHARGED, RENEGED, STRANDED

__all__ = ["HIGHWAY_SEGMENT_CODE", "HOLIDAY_FIGURES", "holiday_figures", "peak_day"]

#: Segment code of through-traffic sessions (``sim.demand.model.SEGMENTS``).
HIGHWAY_SEGMENT_CODE = 1
#: The figures :func:`holiday_figures` returns (besides the site and the day).
HOLIDAY_FIGURES = (
    "busiest_wait_mean_min",
    "busiest_wait_p95_min",
    "busiest_arrivals",
    "stranded_vehicles",
    "stranded_peak_day",
)
_DAY_MIN = 1440.0


def peak_day(demand: Demand, /) -> int:
    """1-based day with the most through vehicles entering (the first on a tie; 1
    without through-traffic)."""
    through = demand.segment == HIGHWAY_SEGMENT_CODE
    if not through.any():
        return 1
    day = (demand.depart_min[through] // _DAY_MIN).astype(np.int64)
    return int(np.argmax(np.bincount(day))) + 1


def holiday_figures(
    log: SessionLog,
    demand: Demand,
    /,
    *,
    site_ids: Sequence[str],
    day: int,
    site: str | None = None,
) -> dict[str, float | str]:
    """The holiday figures of one replication's log.

    Parameters
    ----------
    log, demand
        The replication's session log and sessions.
    site_ids
        Site id of each of the plan's stations (stations at one site are one service
        area).
    day
        The peak day (1-based, :func:`peak_day`).
    site
        The service area to measure (``None``: this log's busiest).

    Returns
    -------
    dict
        ``busiest_site`` (its id, ``""`` when nobody arrived anywhere that day),
        ``busiest_arrivals`` (vehicles arriving there that day), ``busiest_wait_mean_min``
        and ``busiest_wait_p95_min`` (min; NaN without a queued attempt),
        ``stranded_vehicles`` (through vehicles that ran flat, all days) and
        ``stranded_peak_day`` (those whose trip began on the peak day).
    """
    through = demand.segment[log.session] == HIGHWAY_SEGMENT_CODE
    on_day = (log.arrival_min // _DAY_MIN + 1) == day
    at = through & on_day & (log.station >= 0) & (log.outcome != STRANDED)
    ids = np.asarray(site_ids, dtype=object)
    names, area = np.unique(ids, return_inverse=True) if ids.size else (ids, ids)
    stranded = through & (log.outcome == STRANDED)
    started = (demand.depart_min[log.session] // _DAY_MIN + 1) == day
    out: dict[str, float | str] = {
        "busiest_site": "",
        "busiest_arrivals": 0.0,
        "busiest_wait_mean_min": float("nan"),
        "busiest_wait_p95_min": float("nan"),
        "stranded_vehicles": float(np.unique(log.session[stranded]).size),
        "stranded_peak_day": float(np.unique(log.session[stranded & started]).size),
    }
    if not at.any():
        return out
    where = area[log.station[at]]
    counts = np.bincount(where, minlength=names.size)
    if site is None:
        best = int(np.argmax(counts))
    elif site in set(names.tolist()):
        best = int(np.flatnonzero(names == site)[0])
    else:  # the plan has no station there
        out["busiest_site"] = site
        return out
    queued = np.zeros(at.shape, bool)
    queued[at] = where == best
    queued &= np.isin(log.outcome, (CHARGED, RENEGED))
    waits = log.wait_min[queued]
    out["busiest_site"] = str(names[best])
    out["busiest_arrivals"] = float(counts[best])
    if waits.size:
        out["busiest_wait_mean_min"] = float(np.mean(waits))
        out["busiest_wait_p95_min"] = float(np.percentile(waits, 95))
    return out
