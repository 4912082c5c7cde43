"""Stage 7, metrics: a session log in, scores out.

Takes one unit's :class:`~sim.des.SessionLog`, its demand and stations; gives the
charging-difficulty scores (:data:`METRICS`, :func:`score`), per-site statistics and load
and queue profiles (:mod:`sim.metrics.scores`), and, over replications, means with
Student-t intervals and paired comparisons (:mod:`sim.metrics.intervals`).
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
