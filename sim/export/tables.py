"""Plain tables of a run's results: sessions, per-site load, queues by hour.

``sessions.parquet`` (:func:`sessions_frame`), ``site_load.parquet``
(:func:`site_load_frame`), ``queue_by_hour.csv`` (:func:`queue_frame`) and, with swap
stations, ``pack_stock.parquet`` (:func:`pack_stock_frame`); the same frames are
:attr:`sim.export.result.RunResult.sessions`, ``.site_load``, ``.queues`` and
``.pack_stock``.
Times are minutes from the start of day 1.  :func:`phase_table` is the terminal's table
of a phased plan (difficulty per phase and strategy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.demand.model import SEGMENTS
from sim.des import OUTCOMES, SERVICES, SessionLog
from sim.siting.plan import Plan
from sim.study.plans import stations_of
from sim.study.prepare import Prepared
from sim.study.units import UnitResult

if TYPE_CHECKING:
    from rich.table import Table

    from sim.export.summary import Summary

__all__ = ["pack_stock_frame", "phase_table", "queue_frame", "sessions_frame", "site_load_frame"]


def phase_table(summary: Summary, /) -> Table | None:
    """The difficulty trajectory of a phased plan: per strategy, its planning mode, the
    difficulty index in every phase (mean ± 95% CI half-width, sites open), the money of
    every phase together and the planning objective; ``None`` without phases."""
    from rich.markup import escape
    from rich.table import Table

    first = next(iter(summary.strategies.values()), None)
    if first is None or not first.phases:
        return None
    years = [p.year for p in first.phases]
    table = Table(
        title=f"{summary.scenario}: difficulty by phase (the table above is {years[-1]})",
        caption=escape(
            "difficulty index mean ± 95% CI half-width [sites open]; access cost: the "
            "phases' weighted demand x minutes to the nearest site (lower is better)"
        ),
    )
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("planning")
    for y in years:
        table.add_column(str(y), justify="right")
    table.add_column("cost M CNY", justify="right")
    table.add_column("access cost", justify="right")
    for st in summary.strategies.values():
        cells = []
        for ph in st.phases:
            m = ph.metrics["difficulty_index"]
            text = "-" if m.mean is None else f"{m.mean:.1f}"
            if m.half_width is not None and m.half_width > 0:
                text += f" ±{m.half_width:.1f}"
            cells.append(escape(f"{text} [{len(ph.sites)}]"))
        total = st.phases[-1].total_cost_cny
        plan = st.planning or {}
        obj = plan.get("access_cost")
        table.add_row(
            escape(st.name),
            str(plan.get("mode", "")),
            *cells,
            "-" if total is None else f"{total / 1e6:.2f}",
            "-" if obj is None else f"{obj:,.0f}",
        )
    return table


def _site_load(u: UnitResult, /, *, horizon_min: float) -> np.ndarray:
    """``(sites, bins)`` 15-minute grid load (kW) of a unit's sites: the charging ports'
    load, and at a battery-swap station its pack chargers' load.  (The station
    statistics spread a swap's pack energy over the swap's minutes, which is the energy
    handed to the vehicle, not what the station draws; a swap station has no ports.)"""
    load = u.site_stats["load_kw"]
    if u.swap is None:
        return load
    load = load.copy()
    packs = u.swap.charger_load_kw(15.0, horizon_min=horizon_min)
    n = min(packs.shape[1], load.shape[1])
    load[u.swap.site] = 0.0
    load[u.swap.site, :n] = packs[:, :n]
    return load


def pack_stock_frame(
    prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /
) -> pd.DataFrame | None:
    """Packs at every battery-swap station every 15 minutes (``pack_stock.parquet``):
    one row per (strategy, replication, station, bin) with ``station_id``,
    ``bin_start_min`` (min from the start of day 1), ``charged_packs`` (the stock at the
    start of the bin), ``charging_packs`` (on a charger) and ``waiting_packs``
    (returned, waiting for a charger); the three add up to the station's packs in
    every row.  ``None`` when no plan has a swap station."""
    frames = []
    for u in units:
        if u.swap is None or u.strategy not in plans:
            continue
        stock = u.swap.stock_every(15.0, horizon_min=prep.horizon_min)  # (stations, bins)
        packs = u.swap.packs_every(15.0, horizon_min=prep.horizon_min)  # (..., 3)
        m, n_bins = stock.shape
        frames.append(
            pd.DataFrame(
                {
                    "strategy": u.strategy,
                    "replication": np.full(m * n_bins, u.replication, dtype=np.int32),
                    "station_id": np.repeat(np.asarray(u.swap.site_id, dtype=object), n_bins),
                    "bin_start_min": np.tile(np.arange(n_bins) * 15.0, m),
                    "charged_packs": stock.ravel(),
                    "charging_packs": packs[:, :, 1].ravel(),
                    "waiting_packs": packs[:, :, 2].ravel(),
                }
            )
        )
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    out["strategy"] = out["strategy"].astype("category")
    out["station_id"] = out["station_id"].astype("category")
    return out


def site_load_frame(
    prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /
) -> pd.DataFrame:
    """15-minute load profile of every selected site: one row per (strategy, site, bin)
    with ``bin_start_min``, ``load_kw_mean`` and ``load_kw_max`` over replications (at a
    battery-swap station, its pack chargers' load)."""
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    frames = []
    for name, plan in plans.items():
        loads = [_site_load(u, horizon_min=prep.horizon_min) for u in units if u.strategy == name]
        if not len(plan) or not loads:
            continue
        stack = np.stack(loads)  # (reps, sites, bins)
        m, n_bins = stack.shape[1:]
        frames.append(
            pd.DataFrame(
                {
                    "strategy": name,
                    "site_id": np.repeat(ids[plan.candidate], n_bins),
                    "bin_start_min": np.tile(np.arange(n_bins) * 15.0, m),
                    "load_kw_mean": stack.mean(axis=0).ravel(),
                    "load_kw_max": stack.max(axis=0).ravel(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=["strategy", "site_id", "bin_start_min", "load_kw_mean", "load_kw_max"]
        )
    out = pd.concat(frames, ignore_index=True)
    out["strategy"] = out["strategy"].astype("category")
    out["site_id"] = out["site_id"].astype("category")
    return out


def queue_frame(prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /) -> pd.DataFrame:
    """Vehicles waiting per (strategy, site, hour): ``queue_peak`` (the most at once) and
    ``queue_mean`` (time-average), each the mean over replications, and
    ``queue_peak_max`` (the worst replication)."""
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    frames = []
    for name, plan in plans.items():
        mine = [u for u in units if u.strategy == name]
        if not len(plan) or not mine:
            continue
        peak = np.stack([u.site_stats["queue_peak"] for u in mine])
        mean = np.stack([u.site_stats["queue_mean"] for u in mine])
        m, n_h = peak.shape[1:]
        frames.append(
            pd.DataFrame(
                {
                    "strategy": name,
                    "site_id": np.repeat(ids[plan.candidate], n_h),
                    "hour": np.tile(np.arange(n_h), m),
                    "queue_peak": peak.mean(axis=0).ravel(),
                    "queue_mean": mean.mean(axis=0).ravel(),
                    "queue_peak_max": peak.max(axis=0).ravel(),
                }
            )
        )
    cols = ["strategy", "site_id", "hour", "queue_peak", "queue_mean", "queue_peak_max"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def _service_columns(log: SessionLog, /) -> dict[str, np.ndarray]:
    """``service`` (charge | swap) and ``pack_wait_min`` (min in a swap bay waiting for a
    charged pack; NaN at chargers and for charge-only runs)."""
    return {
        "service": np.asarray(SERVICES, dtype=object)[log.service],
        "pack_wait_min": log.pack_wait_min,
    }


def sessions_frame(
    prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /
) -> pd.DataFrame:
    """All attempts of all units as the ``sessions.parquet`` table (with ``mobile``:
    whether a mobile unit served the attempt, only when some plan has mobile units)."""
    frames = []
    mobile = any(p.mobile.any() for p in plans.values())
    for u in units:
        st = stations_of(prep, plans[u.strategy])
        ids = np.array([*st.site_id, ""], dtype=object)
        log, d = u.log, u.demand
        s = log.session
        frames.append(
            pd.DataFrame(
                {
                    "replication": np.full(len(log), u.replication, dtype=np.int32),
                    "strategy": u.strategy,
                    "vehicle_id": d.vehicle_id[s],
                    "segment": np.asarray(SEGMENTS, dtype=object)[d.segment[s]],
                    "station_id": ids[log.station],
                    "arrival_min": log.arrival_min,
                    "start_min": log.start_min,
                    "end_min": log.end_min,
                    "wait_min": log.wait_min,
                    "energy_kwh": log.energy_kwh,
                    "power_kw": log.power_kw,
                    "outcome": np.asarray(OUTCOMES, dtype=object)[log.outcome],
                    "session": s,
                    "attempt": log.attempt,
                    "depart_min": d.depart_min[s],
                    "access_min": log.access_min,
                    "detour_min": log.detour_min,
                    **_service_columns(log),
                    **(
                        {"mobile": np.append(plans[u.strategy].mobile, False)[log.station]}
                        if mobile
                        else {}
                    ),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for c in ("strategy", "segment", "station_id", "outcome", "service"):
        if c in df:
            df[c] = df[c].astype("category")
    return df
