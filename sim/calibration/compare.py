"""Hold a run's simulated sessions against an observed log.

Reads a run folder (``sessions.parquet``, ``config.resolved.yaml``, ``summary.json``)
and compares one strategy's charged sessions, pooled over replications, with the log:
the hourly connection profile on weekdays and weekend days (total-variation distance),
the energy per session (two-sample Kolmogorov-Smirnov distance), sessions and hours
connected per station per day, charging duration and the mean wait where the log has
arrival times.  Simulated times are minutes from 00:00 of day 1 (weekday
``demand.start_weekday``), read as the site's wall-clock time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.fit import hourly_counts
from sim.calibration.log import SessionLog
from sim.errors import DataError, InputFileNotFoundError

__all__ = ["Comparison", "compare_run", "profile_distance"]


@dataclass(frozen=True)
class Comparison:
    """Simulated (``sim_*``) against observed (``obs_*``) for one strategy of a run.

    Attributes
    ----------
    hourly_*_weekday, hourly_*_weekend
        Sessions connecting in each hour (0-23).
    profile_distance_weekday, profile_distance_weekend
        Total-variation distance of the hourly shares (0 = same, 1 = disjoint); NaN
        where either side has no session of that kind of day.
    energy_ks
        Two-sample Kolmogorov-Smirnov distance of energy per session and its p-value.
    *_per_station_day, *_busy_hours_per_station_day
        Mean sessions and hours connected per station and calendar day.
    sim_utilization_mean
        The run's ``utilization_mean`` (busy port time over port time; the log cannot
        give it without the number of ports).
    *_wait_mean_min
        Mean wait (min); the observed one is ``None`` without arrival times.
    """

    run_dir: str
    strategy: str
    replications: int
    sim_sessions: int
    obs_sessions: int
    sim_energy_kwh: np.ndarray
    obs_energy_kwh: np.ndarray
    hourly_sim_weekday: np.ndarray
    hourly_sim_weekend: np.ndarray
    hourly_obs_weekday: np.ndarray
    hourly_obs_weekend: np.ndarray
    profile_distance_weekday: float
    profile_distance_weekend: float
    energy_ks: float
    energy_ks_pvalue: float
    sim_per_station_day: float
    obs_per_station_day: float
    sim_busy_hours_per_station_day: float
    obs_busy_hours_per_station_day: float
    sim_charge_mean_min: float
    obs_charge_mean_min: float | None
    sim_utilization_mean: float | None
    sim_wait_mean_min: float
    obs_wait_mean_min: float | None

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(quantity, simulated, observed, distance) rows of the printed table."""
        obs_wait = "-" if self.obs_wait_mean_min is None else f"{self.obs_wait_mean_min:.1f}"
        util = "-" if self.sim_utilization_mean is None else f"{self.sim_utilization_mean:.1%}"
        obs_charge = "-" if self.obs_charge_mean_min is None else f"{self.obs_charge_mean_min:.1f}"
        return [
            ("sessions (charged)", f"{self.sim_sessions:,}", f"{self.obs_sessions:,}", ""),
            ("hourly profile, weekdays", "", "", f"TV {self.profile_distance_weekday:.3f}"),
            ("hourly profile, weekend", "", "", f"TV {self.profile_distance_weekend:.3f}"),
            (
                "energy per session kWh (mean)",
                f"{np.mean(self.sim_energy_kwh):.2f}",
                f"{np.mean(self.obs_energy_kwh):.2f}",
                f"KS {self.energy_ks:.3f} (p {self.energy_ks_pvalue:.2g})",
            ),
            (
                "sessions per station per day",
                f"{self.sim_per_station_day:.2f}",
                f"{self.obs_per_station_day:.2f}",
                "",
            ),
            (
                "hours connected per station per day",
                f"{self.sim_busy_hours_per_station_day:.2f}",
                f"{self.obs_busy_hours_per_station_day:.2f}",
                "",
            ),
            ("charging duration min (mean)", f"{self.sim_charge_mean_min:.1f}", obs_charge, ""),
            ("utilisation (ports)", util, "-", ""),
            ("mean wait min", f"{self.sim_wait_mean_min:.1f}", obs_wait, ""),
        ]


def profile_distance(a: np.ndarray, b: np.ndarray, /) -> float:
    """Total-variation distance of two hourly count vectors (NaN if either is empty)."""
    sa, sb = float(a.sum()), float(b.sum())
    if sa == 0 or sb == 0:
        return float("nan")
    return 0.5 * float(np.abs(a / sa - b / sb).sum())


def _read_run(run_dir: Path) -> tuple[pd.DataFrame, int, int, dict[str, object]]:
    """(sessions, start weekday, simulated days, summary) of a run folder."""
    from sim.config import load_config

    sessions = run_dir / "sessions.parquet"
    for path in (sessions, run_dir / "config.resolved.yaml", run_dir / "summary.json"):
        if not path.is_file():
            raise InputFileNotFoundError(
                f"{path}: not found; give the output folder of `chargesite run` "
                "(with output.sessions on)"
            )
    scenario = load_config(run_dir / "config.resolved.yaml")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    frame = pd.read_parquet(sessions)
    return frame, scenario.demand.start_weekday, scenario.demand.days, summary


def _sim_wall_clock(start_min: np.ndarray, start_weekday: int) -> np.ndarray:
    """Simulated minutes as datetimes of a week starting on ``start_weekday`` (the date is
    arbitrary, the weekday and hour are the run's)."""
    monday = np.datetime64("2024-01-01T00:00")  # a Monday
    day1 = monday + np.timedelta64(start_weekday, "D")
    return day1 + (np.asarray(start_min) * 60e9).astype("timedelta64[ns]")


def compare_run(run_dir: Path, log: SessionLog, /, *, strategy: str | None = None) -> Comparison:
    """Compare a run with an observed log (see the module docstring).

    Parameters
    ----------
    run_dir
        Output folder of ``chargesite run``.
    log
        The observed sessions.
    strategy
        Strategy of the run to compare (default: the first in ``summary.json``).

    Raises
    ------
    InputFileNotFoundError
        A file of the run folder is missing.
    DataError
        An unknown strategy, or no charged session of it.
    """
    from scipy import stats

    frame, weekday0, days, summary = _read_run(run_dir)
    strategies = summary.get("strategies")
    names = list(strategies) if isinstance(strategies, dict) else []
    name = strategy if strategy is not None else (names[0] if names else "")
    if name not in names:
        raise DataError(f"{run_dir}: no strategy {name!r} in the run (it has {names})")
    info = strategies[name] if isinstance(strategies, dict) else {}
    d = frame[(frame["strategy"].astype(str) == name) & (frame["outcome"].astype(str) == "charged")]
    if d.empty:
        raise DataError(f"{run_dir}: strategy {name!r} has no charged session to compare")
    reps = int(frame["replication"].nunique())
    sites = info.get("sites") or sorted(set(d["station_id"].astype(str)))
    station_days = max(len(sites), 1) * days * reps
    wd, we = hourly_counts(_sim_wall_clock(d["start_min"].to_numpy(), weekday0))
    owd, owe = hourly_counts(log.start_local)
    sim_e = d["energy_kwh"].to_numpy(dtype=float)
    ks = stats.ks_2samp(sim_e, log.energy_kwh)
    t = pd.DatetimeIndex(log.start_local).normalize()
    obs_days = (t.max() - t.min()).days + 1
    obs_station_days = len(set(log.station_id)) * obs_days
    util = (info.get("metrics") or {}).get("utilization_mean", {}).get("mean")
    charge = d["end_min"].to_numpy(dtype=float) - d["start_min"].to_numpy(dtype=float)
    obs_charge = log.charge_min[np.isfinite(log.charge_min)]
    waits = log.wait_min[np.isfinite(log.wait_min)]
    return Comparison(
        run_dir=str(run_dir), strategy=name, replications=reps,
        sim_sessions=len(d), obs_sessions=len(log),
        sim_energy_kwh=sim_e, obs_energy_kwh=log.energy_kwh,
        hourly_sim_weekday=wd, hourly_sim_weekend=we,
        hourly_obs_weekday=owd, hourly_obs_weekend=owe,
        profile_distance_weekday=profile_distance(wd, owd),
        profile_distance_weekend=profile_distance(we, owe),
        energy_ks=float(ks.statistic), energy_ks_pvalue=float(ks.pvalue),
        sim_per_station_day=len(d) / station_days,
        obs_per_station_day=len(log) / obs_station_days,
        sim_busy_hours_per_station_day=float(charge.sum()) / 60.0 / station_days,
        obs_busy_hours_per_station_day=float(np.nansum(log.busy_min)) / 60.0 / obs_station_days,
        sim_charge_mean_min=float(charge.mean()),
        obs_charge_mean_min=float(obs_charge.mean()) if obs_charge.size else None,
        sim_utilization_mean=None if util is None else float(util),
        sim_wait_mean_min=float(d["wait_min"].mean()),
        obs_wait_mean_min=float(waits.mean()) if waits.size else None,
    )  # fmt: skip
