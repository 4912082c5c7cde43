"""Charging-difficulty scores from a session log.

Definitions (also in docs/model.md):

- ``wait_mean_min`` / ``wait_p95_min``: time in the queue of attempts that joined one
  (charged or reneged), minutes.  0 when stations were reached and no attempt joined a
  queue; missing (``None``) when no session reached a station.
- ``unserved_share``: share of sessions that did not end charged.
- ``stranded_share``: share of sessions whose vehicle ran out of charge.
- ``access_time_mean_min``: mean driving time per residential session that reached a
  station: home to the first station plus the drives between stations after balking
  or reneging.
- ``detour_mean_min``: mean extra driving time of highway sessions to reach a charger
  off their route; ``None`` when the scenario has no highway sessions.
- ``utilization_mean``: busy port-time / (ports x horizon), averaged over the plan's
  stations (0 with no station).
- ``coverage_share``: share of expected demand within ``radius_min`` of a station
  (static, from the travel-time matrix).
- ``energy_served_kwh``: energy delivered within the simulated period (charging that
  runs past the last day counts up to the horizon, as utilisation and the load profile
  count it).
- ``difficulty_index``: ``100 x sum_k w_k c_k / sum_k w_k`` with components
  ``c_unserved = unserved_share``, ``c_stranded = stranded_share``,
  ``c_wait = W / (W + W_ref)`` (``W = wait_mean_min``) and
  ``c_access = A / (A + A_ref)`` (``A`` = mean extra driving of the sessions that reached
  a station: access time for residents, detour for through-traffic).  When no session
  reached a station, ``c_wait = c_access = 1``.  0 is effortless charging, 100 is none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sim.demand.model import SEGMENTS, Demand
from sim.des import CHARGED, RENEGED, STRANDED, SessionLog, Stations

#: Segment code of through-traffic (its extra driving is the detour).
HIGHWAY_SEGMENT = SEGMENTS.index("highway")

__all__ = [
    "METRICS",
    "METRIC_RANGE",
    "difficulty_components",
    "energy_within",
    "extra_driving",
    "load_profile",
    "queue_profile",
    "score",
    "score_and_stats",
    "station_stats",
]

#: Every metric's possible range (low, high); intervals never leave it.
METRIC_RANGE: dict[str, tuple[float, float]] = {
    "wait_mean_min": (0.0, np.inf),
    "wait_p95_min": (0.0, np.inf),
    "unserved_share": (0.0, 1.0),
    "stranded_share": (0.0, 1.0),
    "access_time_mean_min": (0.0, np.inf),
    "detour_mean_min": (0.0, np.inf),
    "utilization_mean": (0.0, 1.0),
    "coverage_share": (0.0, 1.0),
    "energy_served_kwh": (0.0, np.inf),
    "difficulty_index": (0.0, 100.0),
}

METRICS: tuple[str, ...] = (
    "wait_mean_min",
    "wait_p95_min",
    "unserved_share",
    "stranded_share",
    "access_time_mean_min",
    "detour_mean_min",
    "utilization_mean",
    "coverage_share",
    "energy_served_kwh",
    "difficulty_index",
)


def station_stats(
    log: SessionLog, stations: Stations, /, *, horizon_min: float
) -> dict[str, np.ndarray]:
    """Per-station results: utilisation, energy, sessions, wait percentiles.

    Parameters
    ----------
    log, stations
        The simulation's log and the plan's stations.
    horizon_min
        Simulated period (min); charging after it is not counted in utilisation.

    Returns
    -------
    dict
        ``utilization`` (0-1: share of port time charging, at a swap station of bay time
        swapping), ``energy_kwh``, ``sessions_charged``, ``attempts``,
        ``wait_mean_min``, ``wait_p95_min`` arrays, one entry per station, and
        ``load_kw`` (stations x 15-minute bins, kW; :func:`load_profile`), and
        ``queue_peak`` / ``queue_mean`` (stations x hours, vehicles;
        :func:`queue_profile`).
    """
    m = len(stations)
    st = log.station
    charged = log.outcome == CHARGED
    busy: np.ndarray = np.zeros(m)
    if m and charged.any():
        s = np.minimum(log.start_min[charged], horizon_min)
        e = np.minimum(log.end_min[charged], horizon_min)
        busy = np.bincount(st[charged], weights=e - s, minlength=m)
    # a charging site's ports, a swap station's bays (its swaps' time in the bay)
    ports = stations.ports.astype(float)
    if stations.bays is not None:
        ports = ports + stations.bays
    util = np.divide(busy, ports * horizon_min, out=np.zeros(m), where=ports > 0)
    energy = (
        np.bincount(st[charged], weights=log.energy_kwh[charged], minlength=m)
        if m
        else (np.zeros(0))
    )
    queued = (log.outcome == CHARGED) | (log.outcome == RENEGED)
    attempts = np.bincount(st[st >= 0], minlength=m) if m else np.zeros(0, np.int64)
    w_mean = np.zeros(m)
    w_p95 = np.zeros(m)
    for j in range(m):
        w = log.wait_min[queued & (st == j)]
        if w.size:
            w_mean[j] = w.mean()
            w_p95[j] = np.percentile(w, 95)
    q_peak, q_mean = queue_profile(log, m, horizon_min=horizon_min)
    return {
        "load_kw": load_profile(log, m, horizon_min=horizon_min),
        "queue_peak": q_peak,
        "queue_mean": q_mean,
        "utilization": util,
        "energy_kwh": energy,
        "sessions_charged": np.bincount(st[charged], minlength=m) if m else np.zeros(0),
        "attempts": attempts,
        "wait_mean_min": w_mean,
        "wait_p95_min": w_p95,
    }


def load_profile(
    log: SessionLog, n_stations: int, /, *, horizon_min: float, bin_min: float = 15.0
) -> np.ndarray:
    """Mean charging power drawn per station in each time bin (kW).

    Each charged attempt at a charger (not a swap) delivers its energy at its mean power
    between ``start_min`` and ``end_min``; the energy falling in each bin, divided by the
    bin length, is the bin's load.  Charging after ``horizon_min`` is left out.

    Returns
    -------
    numpy.ndarray
        ``(n_stations, ceil(horizon_min / bin_min))`` load in kW.
    """
    n_bins = int(np.ceil(horizon_min / bin_min))
    out = np.zeros((n_stations, n_bins))
    # charging only: a swap hands over a charged pack, and what a swap station draws is
    # its pack chargers' load (the swap trace), not the pack's energy over the swap
    ok = (log.outcome == CHARGED) & (log.end_min > log.start_min) & (log.service == 0)
    if not ok.any() or n_stations == 0:
        return out
    st = log.station[ok]
    s, e = log.start_min[ok], log.end_min[ok]
    rate = log.energy_kwh[ok] / (e - s)  # kWh per minute
    # Delivered energy up to time t at a station is sum_k dslope_k * max(t - t_k, 0)
    # over the start (+rate) and end (-rate) events t_k before t.
    t = np.concatenate([s, e])
    slope = np.concatenate([rate, -rate])
    who = np.concatenate([st, st])
    edges = np.arange(n_bins + 1) * bin_min
    edges[-1] = min(edges[-1], horizon_min)
    for j in np.unique(who):
        k = who == j
        order = np.argsort(t[k], kind="stable")
        tj, sj = t[k][order], slope[k][order]
        cum_s = np.concatenate([[0.0], np.cumsum(sj)])
        cum_st = np.concatenate([[0.0], np.cumsum(sj * tj)])
        idx = np.searchsorted(tj, edges, side="right")
        energy_to = cum_s[idx] * edges - cum_st[idx]
        out[j] = np.diff(energy_to) / (np.diff(edges) / 60.0)
    return out


def queue_profile(
    log: SessionLog, n_stations: int, /, *, horizon_min: float, bin_min: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Vehicles waiting at each station: the most at once and the time-average, per bin.

    A vehicle waits from ``arrival_min`` until it starts charging or leaves (reneged).

    Returns
    -------
    peak, mean
        ``(n_stations, ceil(horizon_min / bin_min))`` arrays: the largest queue seen in
        each bin, and the mean queue length over the bin (vehicles).
    """
    n_bins = int(np.ceil(horizon_min / bin_min))
    peak = np.zeros((n_stations, n_bins))
    mean = np.zeros((n_stations, n_bins))
    waited = ((log.outcome == CHARGED) | (log.outcome == RENEGED)) & (log.wait_min > 0)
    if not waited.any() or n_stations == 0:
        return peak, mean
    st = log.station[waited]
    t_in = log.arrival_min[waited]
    t_out = t_in + log.wait_min[waited]
    edges = np.arange(n_bins + 1) * bin_min
    for j in np.unique(st):
        k = st == j
        t = np.concatenate([t_in[k], t_out[k]])
        d = np.concatenate([np.ones(k.sum()), -np.ones(k.sum())])
        order = np.lexsort((d, t))  # leaving before joining at equal times
        t, level = t[order], np.cumsum(d[order])  # level holds on [t[i], t[i+1])
        # mean: integrate the step function; A(e) = area up to e
        area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t))])
        idx = np.searchsorted(t, edges, side="right") - 1
        a_edges = np.where(
            idx >= 0,
            area[np.maximum(idx, 0)] + level[np.maximum(idx, 0)] * (edges - t[np.maximum(idx, 0)]),
            0.0,
        )
        mean[j] = np.diff(a_edges) / bin_min
        # peak: the level at each bin's start, and every level reached inside the bin
        start_level = np.where(idx[:-1] >= 0, level[np.maximum(idx[:-1], 0)], 0.0)
        b_of = np.floor(t / bin_min).astype(np.int64)
        ok = (b_of >= 0) & (b_of < n_bins)
        inside = np.zeros(n_bins)
        np.maximum.at(inside, b_of[ok], level[ok])
        peak[j] = np.maximum(start_level, inside)
    return peak, mean


def difficulty_components(
    *,
    unserved_share: float,
    stranded_share: float,
    wait_mean_min: float | None,
    access_time_mean_min: float | None,
    wait_ref_min: float,
    access_ref_min: float,
) -> dict[str, float]:
    """The four components of the difficulty index, each in [0, 1]."""
    c_wait = 1.0 if wait_mean_min is None else wait_mean_min / (wait_mean_min + wait_ref_min)
    c_access = (
        1.0
        if access_time_mean_min is None
        else access_time_mean_min / (access_time_mean_min + access_ref_min)
    )
    return {
        "unserved": unserved_share,
        "stranded": stranded_share,
        "wait": c_wait,
        "access": c_access,
    }


def energy_within(log: SessionLog, /, *, horizon_min: float) -> float:
    """Energy delivered up to ``horizon_min`` (kWh).

    A session still charging at the horizon counts the share of its energy delivered
    before it, at its mean power (as ``site_load.parquet`` and utilisation count it).
    """
    charged = log.outcome == CHARGED
    s, e = log.start_min[charged], log.end_min[charged]
    span = e - s
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(span > 0, np.clip((horizon_min - s) / span, 0.0, 1.0), s <= horizon_min)
    return float((log.energy_kwh[charged] * inside).sum())


def extra_driving(log: SessionLog, demand: Demand, /) -> tuple[np.ndarray, np.ndarray]:
    """Extra driving of each session that reached a station (min).

    Returns
    -------
    tuple of numpy.ndarray
        For residents (and fleets), the origin to the first station plus the drives
        between stations, one value per such session that drove; for through-traffic,
        the detour of each session that charged (its last charged attempt's figure).
    """
    n = len(demand)
    hw_charged = (log.outcome == CHARGED) & np.isfinite(log.detour_min)
    last_hw = hw_charged & np.append(log.session[1:] != log.session[:-1], True)
    detours = log.detour_min[last_hw]
    from_origin = demand.segment[log.session] != HIGHWAY_SEGMENT  # residents and fleets
    drove = (log.station >= 0) & np.isfinite(log.access_min) & from_origin
    acc_res = np.bincount(log.session[drove], weights=log.access_min[drove], minlength=n)[
        np.unique(log.session[drove])
    ]
    return acc_res, detours


def score_and_stats(
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
) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
    """Scores of one (strategy, replication), the metrics of :data:`METRICS`, and the
    per-station statistics they read (:func:`station_stats`).

    Parameters
    ----------
    log
        The simulation log.
    demand
        The sessions that were simulated.
    stations
        The plan's stations.
    horizon_min
        Simulated period (min).
    coverage_share
        Static coverage of the plan (0-1).
    weights
        Difficulty weights by component (``unserved``, ``stranded``, ``wait``, ``access``).
    wait_ref_min, access_ref_min
        Half-saturation references of the wait and access components (min).

    Returns
    -------
    tuple
        Metric name to value (``None`` where undefined), and the log's station_stats.
    """
    n = len(demand)
    # The last attempt of each session decides its outcome.
    last = log.last_attempt()
    final = log.outcome[last]
    served = int((final == CHARGED).sum())
    stranded = int((final == STRANDED).sum())
    unserved_share = 1.0 - served / n if n else 0.0
    stranded_share = stranded / n if n else 0.0
    queued = (log.outcome == CHARGED) | (log.outcome == RENEGED)
    waits = log.wait_min[queued]
    acc_res, detours = extra_driving(log, demand)
    acc = np.concatenate([acc_res, detours]) if n else acc_res
    wait_mean = float(waits.mean()) if waits.size else None
    access_mean = float(acc.mean()) if acc.size else None
    comps = difficulty_components(
        unserved_share=unserved_share,
        stranded_share=stranded_share,
        wait_mean_min=wait_mean,
        access_time_mean_min=access_mean,
        wait_ref_min=wait_ref_min,
        access_ref_min=access_ref_min,
    )
    wsum = sum(weights.values())
    index = 100.0 * sum(weights.get(k, 0.0) * v for k, v in comps.items()) / wsum
    per_site = station_stats(log, stations, horizon_min=horizon_min)
    # waits are 0 when stations were reached and nobody queued; missing when none was
    reached = bool((log.station >= 0).any())
    metrics: dict[str, float | None] = {
        "wait_mean_min": (wait_mean if wait_mean is not None else 0.0) if reached else None,
        "wait_p95_min": (float(np.percentile(waits, 95)) if waits.size else 0.0)
        if reached
        else None,
        "unserved_share": unserved_share,
        "stranded_share": stranded_share,
        "access_time_mean_min": float(acc_res.mean()) if acc_res.size else None,
        "detour_mean_min": float(detours.mean()) if detours.size else None,
        "utilization_mean": float(per_site["utilization"].mean()) if len(stations) else 0.0,
        "coverage_share": coverage_share,
        "energy_served_kwh": energy_within(log, horizon_min=horizon_min),
        "difficulty_index": index,
    }
    return metrics, per_site


def score(
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
) -> dict[str, float | None]:
    """The metrics of :func:`score_and_stats` (same parameters), without the stations'
    statistics."""
    return score_and_stats(
        log,
        demand,
        stations=stations,
        horizon_min=horizon_min,
        coverage_share=coverage_share,
        weights=weights,
        wait_ref_min=wait_ref_min,
        access_ref_min=access_ref_min,
    )[0]
