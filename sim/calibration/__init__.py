"""Calibration stage: observed session logs against the model (``docs/calibration.md``).

Takes an observed session log (CSV or Parquet, columns named by a
:class:`~sim.config.calibration.LogMapping`) and a scenario, and optionally a run
folder; gives the checked log (:mod:`sim.calibration.log`), the fitted demand
parameters (:mod:`sim.calibration.fit`), a YAML fragment for ``demand.residential``
(:mod:`sim.calibration.fragment`), the comparison of a run with the log
(:mod:`sim.calibration.compare`) and their report (:mod:`sim.calibration.report`).
:func:`calibrate` does it all in memory and :func:`write_calibration` writes the folder.

It sits after ``metrics`` and before ``study`` in the data flow: it reads config and
calls the demand stage's trip model, and nothing earlier imports it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.calibration.compare import Comparison, compare_run
from sim.calibration.fit import Calibration, Sample, fit_log
from sim.calibration.log import BadRow, SessionLog, read_log, sessions_to_log
from sim.config import Scenario
from sim.config.calibration import LogMapping
from sim.errors import DataError

__all__ = [
    "OUTPUT_FILES",
    "BadRow",
    "Calibration",
    "CalibrationResult",
    "Comparison",
    "SessionLog",
    "calibrate",
    "compare_run",
    "fit_log",
    "read_log",
    "sessions_to_log",
    "summary_json",
    "summary_rows",
    "write_calibration",
]

#: Files a calibration writes: the fragment, the scenario with it merged, the fitted
#: figures and the report.
OUTPUT_FILES = (
    "calibration.yaml",
    "scenario.calibrated.yaml",
    "calibration.json",
    "calibration.html",
)


@dataclass(frozen=True)
class CalibrationResult:
    """A calibration held in memory: nothing is written until :func:`write_calibration`."""

    log: SessionLog
    calibration: Calibration
    fragment: str
    scenario: Scenario
    calibrated: Scenario
    comparison: Comparison | None
    html: str


def calibrate(
    log_path: Path,
    /,
    *,
    config: Path,
    mapping: LogMapping,
    skip_bad_rows: bool = False,
    compare: Path | None = None,
    strategy: str | None = None,
    report: bool = True,
) -> CalibrationResult:
    """Read ``log_path``, fit it against the scenario ``config``, write the fragment's
    text, merge it into the scenario (validated) and, with ``compare`` (a run folder),
    compare that run with the log.

    Raises
    ------
    UserInputError
        Any bad input (log, mapping, scenario, run folder), before anything is written.
    """
    from sim.config import load_config
    from sim.config.calibration import calibrated_scenario

    scenario = load_config(config)
    log = read_log(log_path, mapping=mapping, skip_bad_rows=skip_bad_rows)
    cal = fit_log(log, scenario=scenario)
    from sim.calibration.fragment import fragment_yaml

    fragment = fragment_yaml(cal, scenario=scenario)
    merged = calibrated_scenario(config, fragment)
    comparison = None if compare is None else compare_run(compare, log, strategy=strategy)
    html = ""
    if report:
        from sim.calibration.report import calibration_html

        html = calibration_html(cal, scenario=scenario, fragment=fragment, comparison=comparison)
    return CalibrationResult(log, cal, fragment, scenario, merged, comparison, html)


def _sample(s: Sample | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "mean": s.mean,
        "std": s.std,
        "quantiles": {f"p{int(q * 100)}": v for q, v in s.quantiles.items()},
        "fits": [
            {
                "form": f.form,
                "shape": f.params[0],
                "scale": f.params[2],
                "aic": f.aic,
                "ks_distance": f.ks_distance,
                "ks_pvalue": f.ks_pvalue,
                "mean": f.mean,
            }
            for f in s.fits
        ],
    }


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def summary_json(result: CalibrationResult, /) -> dict[str, Any]:
    """The fitted figures (and the comparison) as plain JSON data."""
    cal, r = result.calibration, result.calibration.residential
    doc: dict[str, Any] = {
        "log": cal.source, "sessions": cal.sessions, "stations": cal.stations,
        "days": cal.days, "first_day": cal.first_day, "last_day": cal.last_day,
        "skipped_rows": cal.skipped_rows,
        "hourly_weekday": cal.hourly_weekday.tolist(),
        "hourly_weekend": cal.hourly_weekend.tolist(),
        "energy_kwh": _sample(cal.energy_kwh), "charge_min": _sample(cal.charge_min),
        "dwell_min": _sample(cal.dwell_min),
        "sessions_per_station_day": _sample(cal.per_station_day),
        "busy_hours_per_station_day": _sample(cal.busy_hours_per_station_day),
        "sessions_per_user_month": _sample(cal.per_user_month),
        "wait_mean_min": cal.wait_mean_min,
        "power_kw": _sample(cal.power_kw),
        "residential": {
            "charge_below_soc": list(r.charge_below_soc),
            "daily_km_weekday_mean": r.daily_km_weekday_mean,
            "daily_km_weekend_mean": r.daily_km_weekend_mean,
            "target_energy_kwh": r.target_energy_kwh, "model_energy_kwh": r.model_energy_kwh,
            "target_sessions_per_ev_day": r.target_sessions_per_ev_day,
            "model_sessions_per_ev_day": r.model_sessions_per_ev_day, "notes": list(r.notes),
        },
    }  # fmt: skip
    c = result.comparison
    if c is not None:
        doc["comparison"] = {
            "run_dir": c.run_dir, "strategy": c.strategy, "replications": c.replications,
            "profile_distance_weekday": c.profile_distance_weekday,
            "profile_distance_weekend": c.profile_distance_weekend,
            "energy_ks": c.energy_ks, "energy_ks_pvalue": c.energy_ks_pvalue,
            "hourly_sim_weekday": c.hourly_sim_weekday.tolist(),
            "hourly_sim_weekend": c.hourly_sim_weekend.tolist(),
            "hourly_obs_weekday": c.hourly_obs_weekday.tolist(),
            "hourly_obs_weekend": c.hourly_obs_weekend.tolist(),
            **{k: getattr(c, k) for k in (
                "sim_sessions", "obs_sessions", "sim_per_station_day", "obs_per_station_day",
                "sim_busy_hours_per_station_day", "obs_busy_hours_per_station_day",
                "sim_charge_mean_min", "obs_charge_mean_min", "sim_utilization_mean",
                "sim_wait_mean_min", "obs_wait_mean_min")},
        }  # fmt: skip
    return _finite(doc)


def summary_rows(result: CalibrationResult, /) -> list[tuple[str, str]]:
    """(quantity, value) rows of what a calibration found, for the terminal."""
    cal, r = result.calibration, result.calibration.residential
    e = cal.energy_kwh
    best = e.best
    rows = [
        ("sessions", f"{cal.sessions:,} at {cal.stations} station(s), {cal.days} day(s)"),
        ("bad rows skipped", f"{cal.skipped_rows:,}"),
        ("energy per session", f"mean {e.mean:.2f} kWh, median {e.quantiles[0.5]:.2f} kWh"),
    ]
    if best is not None:
        rows.append(
            ("best fit (AIC)", f"{best.form}: KS distance {best.ks_distance:.3f} "
             f"(p {best.ks_pvalue:.2g})")
        )  # fmt: skip
    rows.append(("sessions per station per day", f"{cal.per_station_day.mean:.2f}"))
    if cal.per_user_month is not None:
        rows.append(("sessions per user per month", f"{cal.per_user_month.mean:.2f}"))
    if cal.charge_min is not None:
        rows.append(("charging duration", f"mean {cal.charge_min.mean:.1f} min"))
    if cal.dwell_min is not None:
        rows.append(("dwell", f"mean {cal.dwell_min.mean:.1f} min"))
    if cal.wait_mean_min is not None:
        rows.append(("mean wait", f"{cal.wait_mean_min:.1f} min"))
    rows.append(("charge_below_soc", f"[{r.charge_below_soc[0]:g}, {r.charge_below_soc[1]:g}]"))
    if r.daily_km_weekday_mean is not None:
        km = f"{r.daily_km_weekday_mean:g} / {r.daily_km_weekend_mean:g} km"
        rows.append(("daily_km weekday / weekend", km))
    rows += [("note", n) for n in r.notes]
    return rows


def write_calibration(result: CalibrationResult, target: Path, /) -> list[Path]:
    """Write :data:`OUTPUT_FILES` into ``target`` (created); returns the paths written.

    Raises
    ------
    DataError
        ``target`` exists and is not a folder.
    """
    from sim.config import dump_resolved

    if target.exists() and not target.is_dir():
        raise DataError(f"--out {target}: exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    texts = {
        "calibration.yaml": result.fragment,
        "scenario.calibrated.yaml": dump_resolved(
            result.calibrated, checksums={}, relative_to=target
        ),
        "calibration.json": json.dumps(summary_json(result), indent=2) + "\n",
        "calibration.html": result.html,
    }
    written = []
    for name, text in texts.items():
        if name == "calibration.html" and not text:
            continue
        path = target / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
