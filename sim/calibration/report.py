"""The calibration report (``calibration.html``): observed against fitted, and against
a run when one is compared.

One self-contained file in the look of the run's report (same inline CSS, PNG figures as
``data:`` URIs, no request when opened).  Figures: hourly connection profiles (observed
against the scenario's profile before calibration, and against the run), energy per
session (histogram with the fitted densities; empirical against fitted distribution
functions), durations with their best fit, sessions per station per day; with a
comparison, energy distribution functions observed against simulated.  Strings from
the log (file, station names) are escaped.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.calibration.compare import Comparison
from sim.calibration.fit import Calibration, Sample
from sim.calibration.fragment import profile_weights
from sim.config import Scenario

__all__ = ["calibration_html"]

_CSS = """
  body { font: 14px/1.5 system-ui, "Segoe UI", sans-serif; color: #222; margin: 0;
         background: #fafafa; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
  h1 { font-size: 1.6em; margin: 0.4em 0 0.2em; }
  h2 { font-size: 1.25em; border-bottom: 2px solid #08519c; padding-bottom: 2px;
       margin-top: 1.8em; }
  .muted { color: #666; font-size: 0.92em; }
  table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
  th { background: #f0f4f8; text-align: left; }
  td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  figure { margin: 1em 0; }
  figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
  figcaption { color: #555; font-size: 0.9em; }
  pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 0.85em; }
"""

_OBS, _FIT, _SIM = "#08519c", "#a63603", "#31a354"
_FITS = ("#a63603", "#fd8d3c", "#756bb1")


def _axes(width: float = 7.5, height: float = 3.2, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _hourly_figure(
    obs: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray], label: str
) -> str:
    fig, axes = _axes(ncols=2)
    hours = np.arange(24)
    for ax, o, x, kind in zip(axes, obs, other, ("weekdays", "weekend"), strict=True):
        if o.sum() > 0:
            ax.bar(hours, profile_weights(o), color=_OBS, alpha=0.6, label="observed")
        if x.sum() > 0:
            ax.step(hours, np.asarray(x) / x.sum(), where="mid", color=_FIT, label=label)
        ax.set(title=kind, xlabel="hour of connection", ylabel="share of sessions")
        ax.legend(fontsize=8)
    return _uri(fig)


def _distribution_figure(s: Sample, unit: str, title: str) -> str:
    fig, (hist, cdf) = _axes(ncols=2)
    v = s.values[s.values > 0]
    hist.hist(v, bins=40, density=True, color=_OBS, alpha=0.6, label="observed")
    x = np.linspace(0, float(np.quantile(v, 0.995)) * 1.1, 300)
    xs = np.sort(v)
    cdf.step(xs, np.arange(1, xs.size + 1) / xs.size, color=_OBS, label="observed")
    for i, f in enumerate(s.fits):
        style = {"linestyle": "-" if i == 0 else "--", "color": _FITS[i % len(_FITS)]}
        hist.plot(x, f.pdf(x), **style, label=f"{f.form} (AIC {f.aic:.0f})")
        cdf.plot(x, f.cdf(x), **style, label=f"{f.form} (KS {f.ks_distance:.3f})")
    hist.set(title=title, xlabel=unit, ylabel="density")
    cdf.set(title="distribution function", xlabel=unit, ylabel="share at or below")
    hist.legend(fontsize=8)
    cdf.legend(fontsize=8)
    return _uri(fig)


def _count_figure(s: Sample, xlabel: str) -> str:
    fig, (ax,) = _axes(width=5.0)
    ax.hist(s.values, bins=min(30, max(5, int(s.values.max()) + 1)), color=_OBS, alpha=0.7)
    ax.axvline(s.mean, color=_FIT, label=f"mean {s.mean:.2f}")
    ax.set(xlabel=xlabel, ylabel="station-days")
    ax.legend(fontsize=8)
    return _uri(fig)


def _energy_compare_figure(c: Comparison) -> str:
    fig, (ax,) = _axes(width=5.5)
    for v, label, color in (
        (c.obs_energy_kwh, "observed", _OBS),
        (c.sim_energy_kwh, "simulated", _SIM),
    ):
        xs = np.sort(v)
        ax.step(xs, np.arange(1, xs.size + 1) / xs.size, color=color, label=label)
    ax.set(
        title=f"energy per session: KS distance {c.energy_ks:.3f}",
        xlabel="kWh",
        ylabel="share at or below",
    )
    ax.legend(fontsize=8)
    return _uri(fig)


def _fig(uri: str, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _table(rows: Sequence[tuple[str, ...]], head: tuple[str, ...]) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    body = "".join(
        "<tr><th>" + html.escape(r[0]) + "</th>"
        + "".join(f'<td class="num">{html.escape(x)}</td>' for x in r[1:]) + "</tr>"
        for r in rows
    )  # fmt: skip
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _fit_rows(cal: Calibration) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for label, s, unit in (
        ("energy per session", cal.energy_kwh, "kWh"),
        ("charging duration", cal.charge_min, "min"),
        ("dwell", cal.dwell_min, "min"),
    ):
        if s is None:
            continue
        for f in s.fits:
            rows.append(
                (f"{label} ({unit})", f.form, f"{f.params[0]:.4g}", f"{f.params[2]:.4g}",
                 f"{f.aic:.1f}", f"{f.ks_distance:.3f}", f"{f.mean:.2f}")
            )  # fmt: skip
    return rows


def _comparison_section(c: Comparison) -> list[str]:
    return [
        f"<h2>Run against the log</h2><p class='muted'>{html.escape(c.run_dir)}, strategy "
        f"{html.escape(c.strategy)}, {c.replications} replication(s) pooled; charged "
        "sessions only (a log holds completed sessions).</p>",
        _table(c.rows(), ("quantity", "simulated", "observed", "distance")),
        _fig(
            _hourly_figure(
                (c.hourly_obs_weekday, c.hourly_obs_weekend),
                (c.hourly_sim_weekday, c.hourly_sim_weekend),
                "simulated",
            ),
            "Hourly connection profile: observed (bars) against the run (line).",
        ),
        _fig(_energy_compare_figure(c), "Energy per session: observed against simulated."),
    ]


def calibration_html(
    cal: Calibration, /, *, scenario: Scenario, fragment: str, comparison: Comparison | None = None
) -> str:
    """The report's HTML text (see the module docstring)."""
    res = scenario.demand.residential
    before = (np.asarray(res.hourly_weekday), np.asarray(res.hourly_weekend))
    parts = [
        f"<h1>Calibration: {html.escape(cal.source)}</h1>",
        f"<p class='muted'>{cal.sessions} sessions at {cal.stations} station(s), "
        f"{cal.days} day(s) {cal.first_day}..{cal.last_day}; scenario "
        f"{html.escape(scenario.name)}. Observed figures only; patience and balking are "
        "not in a log of completed sessions (docs/calibration.md).</p>",
        "<h2>Arrivals by hour</h2>",
        _fig(
            _hourly_figure((cal.hourly_weekday, cal.hourly_weekend), before, "scenario before"),
            "Observed connection profile (bars, written to the fragment) against the "
            "scenario's profile before calibration (line).",
        ),
        "<h2>Energy per session</h2>",
        _fig(_distribution_figure(cal.energy_kwh, "kWh", "energy per session"),
             "Observed energy per session against the lognormal, gamma and Weibull fits."),
        _table(_fit_rows(cal), ("quantity", "form", "shape", "scale", "AIC", "KS", "mean")),
    ]  # fmt: skip
    for label, s in (("Charging duration", cal.charge_min), ("Dwell", cal.dwell_min)):
        if s is not None and s.fits:
            parts += [
                f"<h2>{label}</h2>",
                _fig(_distribution_figure(s, "min", label.lower()), f"{label}: observed and fits."),
            ]
    parts += [
        "<h2>Sessions per station per day</h2>",
        _fig(_count_figure(cal.per_station_day, "sessions per station per day"),
             "Sessions per station and calendar day (days without a session count as 0)."),
    ]  # fmt: skip
    if comparison is not None:
        parts += _comparison_section(comparison)
    parts += ["<h2>YAML fragment</h2>", f"<pre>{html.escape(fragment)}</pre>"]
    body = "\n".join(parts)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Calibration: {html.escape(cal.source)}</title><style>{_CSS}</style></head>"
        f'<body><main id="chargesite-calibration">\n{body}\n</main></body></html>\n'
    )
