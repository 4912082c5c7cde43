"""Metrics per demand segment, and the working time fleets lose to charging.

:func:`segment_scores` scores each segment's sessions on their own: the same metrics as
:func:`sim.metrics.scores.score`, computed on the attempts of that segment's sessions
(``utilization_mean`` is then the share of port time that segment used; coverage is the
plan's).

:func:`fleet_lost_time` is what charging costs a fleet: every minute its drivers spend
driving to a station and waiting there (including attempts that ended in balking or
reneging), per vehicle and day on the simulated period, and that time at the fleet's
hourly earning (CNY).  Charging itself is not counted: an electric fleet must charge
somewhere, and a swap or a fast charger shortens it; the session log has it as
``end_min - start_min``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields

import numpy as np

from sim.demand.fleets import FleetRoster
from sim.demand.model import SEGMENTS, Demand
from sim.des import SessionLog, Stations
from sim.metrics.scores import score

__all__ = ["fleet_lost_time", "segment_log", "segment_scores"]


def segment_log(log: SessionLog, demand: Demand, code: int, /) -> tuple[SessionLog, Demand]:
    """The sessions of segment ``code`` and their attempts, renumbered from 0."""
    keep = np.flatnonzero(demand.segment == code)
    sub = demand.take(keep)
    new_id = np.full(len(demand), -1, np.int64)
    new_id[keep] = np.arange(keep.shape[0])
    rows = demand.segment[log.session] == code
    cols = {f.name: getattr(log, f.name)[rows] for f in fields(SessionLog)}
    cols["session"] = new_id[cols["session"]]
    return SessionLog(**cols), sub


def segment_scores(
    log: SessionLog,
    demand: Demand,
    /,
    *,
    stations: Stations,
    horizon_min: float,
    coverage_share: float,
    weights: Mapping[str, float],
    wait_ref_min: float,
    access_ref_min: float,
) -> dict[str, dict[str, float | None]]:
    """Every metric of :func:`sim.metrics.scores.score`, per segment with sessions.

    Parameters are those of :func:`~sim.metrics.scores.score`.

    Returns
    -------
    dict
        Segment name (:data:`sim.demand.model.SEGMENTS`) to its metrics.
    """
    out: dict[str, dict[str, float | None]] = {}
    for code, name in enumerate(SEGMENTS):
        if not (demand.segment == code).any():
            continue
        sub_log, sub = segment_log(log, demand, code)
        out[name] = score(
            sub_log,
            sub,
            stations=stations,
            horizon_min=horizon_min,
            coverage_share=coverage_share,
            weights=weights,
            wait_ref_min=wait_ref_min,
            access_ref_min=access_ref_min,
        )
    return out


def fleet_lost_time(
    log: SessionLog,
    demand: Demand,
    /,
    *,
    fleets: Sequence[FleetRoster],
    days: int,
) -> dict[str, dict[str, float]]:
    """Working time each fleet loses to charging: driving to stations and waiting.

    Parameters
    ----------
    log, demand
        The replication's simulation log and its sessions.
    fleets
        The fleets and their vehicle ids.
    days
        Simulated days.

    Returns
    -------
    dict
        Fleet name to ``lost_min_per_vehicle_day`` (min), ``lost_cny_per_vehicle_day``
        (CNY) and ``sessions_per_vehicle_day``.
    """
    drive = np.where(np.isfinite(log.access_min), log.access_min, 0.0)
    wait = np.where(np.isfinite(log.wait_min), log.wait_min, 0.0)
    vehicle = demand.vehicle_id[log.session]
    out: dict[str, dict[str, float]] = {}
    for f in fleets:
        lo, hi = f.first_vehicle_id, f.first_vehicle_id + f.vehicles
        rows = (vehicle >= lo) & (vehicle < hi)
        sessions = int(((demand.vehicle_id >= lo) & (demand.vehicle_id < hi)).sum())
        vehicle_days = max(f.vehicles * days, 1)
        minutes = float((drive[rows] + wait[rows]).sum()) / vehicle_days
        out[f.name] = {
            "lost_min_per_vehicle_day": minutes,
            "lost_cny_per_vehicle_day": minutes / 60.0 * f.hourly_earning_cny,
            "sessions_per_vehicle_day": sessions / vehicle_days,
        }
    return out
