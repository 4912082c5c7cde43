"""The YAML fragment of a calibration: ``demand.residential`` keys with their sources.

Every value carries a comment saying where it came from; what the schema cannot take
yet (the energy distribution itself, durations, sessions per station, power) is written
as comments so that the fragment holds the whole fit and still validates.
"""

from __future__ import annotations

import numpy as np

from sim.calibration.fit import Calibration, Sample
from sim.config import Scenario

__all__ = ["fragment_yaml", "profile_weights"]


def profile_weights(counts: np.ndarray, /) -> list[float]:
    """Sessions per hour as shares of the day (4 decimals; they are weights)."""
    total = float(counts.sum())
    return [round(float(c) / total, 4) for c in counts]


def _flow(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _quantiles(s: Sample, unit: str) -> str:
    text = ", ".join(f"p{int(q * 100)} {v:.1f}" for q, v in s.quantiles.items())
    return f"{text} {unit}".rstrip()


def _fits(s: Sample, unit: str) -> list[str]:
    lines = []
    for f in s.fits:
        shape, _, scale = f.params
        lines.append(
            f"#   {f.form}(shape {shape:.4g}, scale {scale:.4g} {unit}): AIC {f.aic:.1f}, "
            f"KS distance {f.ks_distance:.3f} (p {f.ks_pvalue:.2g}), mean {f.mean:.2f}"
        )
    return lines


def _hourly_lines(cal: Calibration, scenario: Scenario) -> list[str]:
    res = scenario.demand.residential
    out = []
    for key, counts, days, kind in (
        ("hourly_weekday", cal.hourly_weekday, cal.weekday_days, "weekday"),
        ("hourly_weekend", cal.hourly_weekend, cal.weekend_days, "weekend"),
    ):
        n = int(counts.sum())
        if n == 0:
            out += [
                f"    # {key}: the log has no {kind} session; the scenario's profile is kept",
                f"    {key}: {_flow(list(getattr(res, key)))}",
            ]
            continue
        out += [
            f"    # share of {kind} sessions connecting in each hour 0-23 (site time): "
            f"{n} sessions on {days} {kind} day(s) of the log",
            f"    {key}: {_flow(profile_weights(counts))}",
        ]
    return out


def _residential_lines(cal: Calibration, scenario: Scenario) -> list[str]:
    r, res = cal.residential, scenario.demand.residential
    lo, hi = r.charge_below_soc
    out = [
        f"    # shifted from {list(res.charge_below_soc)} so that the trip model's mean energy "
        f"per session, {r.model_energy_kwh:.2f} kWh, matches the log's "
        f"{r.target_energy_kwh:.2f} kWh (fleet and target_soc {res.target_soc} as in the "
        "scenario)",
        f"    charge_below_soc: [{lo:g}, {hi:g}]",
    ]
    if r.daily_km_weekday_mean is None or r.target_sessions_per_ev_day is None:
        out.append(
            "    # daily_km_*_mean kept: the log has no user ids, so sessions per user are unknown"
        )
    else:
        factor = r.daily_km_weekday_mean / res.daily_km_weekday_mean
        out += [
            f"    # scaled x{factor:.3f} from {res.daily_km_weekday_mean:g} / "
            f"{res.daily_km_weekend_mean:g} km so that the trip model's sessions per "
            f"charging EV and day, {r.model_sessions_per_ev_day:.4f}, match the log's "
            f"sessions per user and day, {r.target_sessions_per_ev_day:.4f}",
            f"    daily_km_weekday_mean: {r.daily_km_weekday_mean:g}",
            f"    daily_km_weekend_mean: {r.daily_km_weekend_mean:g}",
        ]
    out += [f"    # note: {n}" for n in r.notes]
    return out


def _not_taken(cal: Calibration) -> list[str]:
    e = cal.energy_kwh
    out = [
        "# Fitted but not taken by the schema yet (session energy comes from the state of",
        "# charge at plug-in and the battery, sessions per station from the region's homes):",
        f"# energy per session (kWh): mean {e.mean:.2f}, sd {e.std:.2f}; {_quantiles(e, 'kWh')}"
        + (f"; {e.excluded} session(s) of 0 kWh left out of the fits" if e.excluded else ""),
        "#   parametric fits, best (lowest AIC) first:",
        *_fits(e, "kWh"),
    ]
    for label, s in (("charging duration", cal.charge_min), ("dwell", cal.dwell_min)):
        if s is not None and s.best is not None:
            out += [
                f"# {label} (min): mean {s.mean:.1f}; {_quantiles(s, 'min')}",
                *_fits(s, "min")[:1],
            ]
    p = cal.per_station_day
    out.append(
        f"# sessions per station per day: mean {p.mean:.2f}, sd {p.std:.2f}; "
        f"{_quantiles(p, '')} ({cal.stations} stations x {cal.days} days)"
    )
    b = cal.busy_hours_per_station_day
    out.append(f"# hours connected per station per day: mean {b.mean:.2f}; {_quantiles(b, 'h')}")
    if cal.per_user_month is not None:
        u = cal.per_user_month
        out.append(
            f"# sessions per user per month: mean {u.mean:.2f}; {_quantiles(u, '')} "
            f"({u.values.size} users)"
        )
    if cal.wait_mean_min is not None:
        out.append(f"# mean wait from arrival to connection: {cal.wait_mean_min:.1f} min")
    if cal.power_kw is not None:
        w = cal.power_kw
        out.append(f"# power per session (kW): mean {w.mean:.1f}; {_quantiles(w, 'kW')}")
    out += [
        "# Not calibrated from a log of completed sessions (docs/calibration.md): patience",
        "# (patience_min_mean, patience_min_cv) and balking; drivers who gave up left no row.",
    ]
    return out


def fragment_yaml(cal: Calibration, /, *, scenario: Scenario) -> str:
    """The fragment's text: valid YAML for ``demand.residential``, comments per value."""
    skipped = f", {cal.skipped_rows} bad row(s) skipped" if cal.skipped_rows else ""
    lines = [
        f"# chargesite calibrate: fitted from {cal.source}",
        f"# {cal.sessions} sessions at {cal.stations} station(s), {cal.days} day(s) "
        f"{cal.first_day}..{cal.last_day}{skipped}; scenario {scenario.name!r}",
        "demand:",
        "  residential:",
        *_hourly_lines(cal, scenario),
        *_residential_lines(cal, scenario),
        "# vehicles: kept as in the scenario; a log's power is limited by the charger as",
        "# much as by the car, so it does not give the fleet's maximum powers",
        *_not_taken(cal),
    ]
    return "\n".join(lines) + "\n"
