"""Stage 7, metrics: a session log in, scores out.

Takes one unit's :class:`~sim.des.SessionLog`, its demand and stations; gives the
charging-difficulty scores (:data:`METRICS`, :func:`score`), per-site statistics and load
and queue profiles (:mod:`sim.metrics.scores`), per segment and per fleet
(:mod:`sim.metrics.segments`), and, over replications, means with Student-t intervals
and paired comparisons (:mod:`sim.metrics.intervals`) and each plan's per-site figures:
swap stations' swaps, pack availability and waits, and the check of the wait target at
each site's peak hour (:mod:`sim.metrics.sites`).
"""

from __future__ import annotations

from sim.metrics.scores import (
    METRICS,
    difficulty_components,
    load_profile,
    queue_profile,
    score,
    station_stats,
)

__all__ = [
    "METRICS",
    "difficulty_components",
    "load_profile",
    "queue_profile",
    "score",
    "station_stats",
]
