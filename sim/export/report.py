"""The report of a run (``report.html``): one self-contained file.

Sections: scenario summary and demand totals; the strategy comparison (mean and 95%
interval of every metric of :data:`sim.metrics.scores.METRICS`); the paired differences
(per replication, common random numbers); figures (waits, queue length by hour and over
the whole period, utilisation by site and hour); a static map per strategy; the chosen
sites; provenance (versions, seed, data checksums) and the region loader's notes.  Every
figure comes from the run's typed summary (:attr:`RunResult.typed_summary
<sim.export.result.RunResult.typed_summary>`) and its tables.  :func:`sweep_report_html`
is the report of ``chargesite sweep``: the difficulty index against the swept value.

Figures are PNGs embedded as ``data:`` URIs and the CSS is inline, so the file makes
no request when opened.  The page is rendered by jinja2 with autoescaping on: every
string from OpenStreetMap or the user (site, zone, strategy and region names, notes)
is shown as text.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from sim.des import OUTCOMES
from sim.export import figures, fonts
from sim.export.i18n import (
    LABELS,
    Language,
    all_labels,
    label,
    metric_label,
    outcome_label,
    resolve_language,
)
from sim.export.summary import (
    MetricDifference,
    MetricSummary,
    StrategySummary,
    Summary,
    SweepSummary,
)
from sim.metrics.scores import METRICS

if TYPE_CHECKING:
    from sim.export.result import RunResult

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "report_html",
    "write_report",
]

#: Metrics where a smaller value means easier charging.
LOWER_IS_BETTER = frozenset(
    {
        "wait_mean_min", "wait_p95_min", "unserved_share", "stranded_share",
        "access_time_mean_min", "detour_mean_min", "difficulty_index",
    }
)  # fmt: skip
#: Metrics where a larger value is better for drivers.
HIGHER_IS_BETTER = frozenset({"coverage_share", "energy_served_kwh"})
_SHARES = frozenset({"unserved_share", "stranded_share", "utilization_mean", "coverage_share"})


# --------------------------------------------------------------------------- formatting


def _f(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v


def _fmt_value(metric: str, x: object) -> str:
    v = _f(x)
    if not math.isfinite(v):
        return "–"
    if metric in _SHARES:
        return f"{round(100.0 * v, 1) + 0.0:.1f}%"  # + 0.0: no "-0.0%"
    if metric == "energy_served_kwh":
        return f"{v:,.0f}"
    return f"{round(v, 1) + 0.0:.1f}" if abs(v) >= 0.05 or v == 0 else f"{v:.2g}"


def _fmt_interval(metric: str, lo: object, hi: object) -> str:
    a, b = _f(lo), _f(hi)
    if not (math.isfinite(a) and math.isfinite(b)):
        return ""
    return f"[{_fmt_value(metric, a)} – {_fmt_value(metric, b)}]"


def _fmt_diff(metric: str, x: float, *, sign: bool = False) -> str:
    """A difference: shares in percentage points, others in the metric's unit."""
    if not math.isfinite(x):
        return "–"
    plus = "+" if sign and x > 0 else ""
    if metric in _SHARES:
        return f"{plus}{round(100.0 * x, 1) + 0.0:.1f} pp"
    return plus + _fmt_value(metric, x)


def _fmt_number(x: object, decimals: int = 0) -> str:
    v = _f(x)
    return f"{v:,.{decimals}f}" if math.isfinite(v) else "–"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------- content


def _scenario_rows(result: RunResult, language: Language) -> list[tuple[str, str]]:
    s = result.typed_summary
    rows = [
        (label("scenario_name", language), s.scenario),
        (label("region", language), s.provenance.region),
        (label("days", language), str(s.days)),
        (label("replications", language), str(s.replications)),
        (label("seed", language), str(s.seed)),
        (label("crs", language), s.provenance.crs),
    ]
    zones = result.zones
    if not zones.empty:  # every strategy has the same zones: count the first one's
        first = zones[zones["strategy"].astype(str) == str(zones["strategy"].iloc[0])]
        rows.append((label("n_zones", language), f"{len(first):,d}"))
        for col, key in (
            ("households", "total_households"),
            ("evs", "total_evs"),
            ("evs_no_home", "total_evs_no_home"),
            ("demand_kwh_per_day", "total_demand_kwh_per_day"),
        ):
            rows.append((label(key, language), _fmt_number(first[col].sum())))
    rows.append((label("n_candidates", language), f"{len(result.candidates):,d}"))
    if not result.sessions.empty:
        rows.append((label("sessions_per_replication", language), _sessions_text(result, language)))
    return rows


def _sessions_text(result: RunResult, language: Language) -> str:
    """Sessions per replication (first attempts of the first strategy), split by
    segment when there is highway or fleet demand."""
    ses = result.sessions
    reps = result.typed_summary.replications
    first = ses[
        (ses["strategy"].astype(str) == str(ses["strategy"].iloc[0])) & (ses["attempt"] == 0)
    ]
    text = _fmt_number(len(first) / reps)
    seg = first["segment"].astype(str).value_counts()
    if len(seg) > 1 or "highway" in seg:
        parts = [
            f"{label('segment_' + str(k), language)} {_fmt_number(v / reps)}"
            for k, v in seg.items()
        ]
        text += " (" + ", ".join(parts) + ")"
    return text


def _plan_rows(summary: Summary, language: Language) -> list[dict[str, Any]]:
    """Rows of the comparison table that describe the plans (model, sites, ports, cost,
    difficulty removed per million CNY)."""
    strategies = list(summary.strategies.values())
    base = _baseline(summary)
    per_million = (
        label("per_million", language, base=base.name)
        if base is not None
        else label("per_million_row", language)
    )
    extra: list[tuple[str, Callable[[StrategySummary], str]]] = [
        (label("model", language), lambda st: st.model),
        (label("sites", language), lambda st: f"{len(st.sites):,d}"),
        (label("total_ports", language), lambda st: f"{st.total_ports:,d}"),
        (label("cost_cny", language), lambda st: _fmt_number(st.cost_cny)),
        (per_million, lambda st: _points(per_million_cny(st, base))),
    ]
    return [
        {
            "label": text,
            "hint": "",
            "cells": [{"value": get(st), "ci": "", "best": False} for st in strategies],
        }
        for text, get in extra
    ]


def _hint(metric: str, language: Language) -> str:
    if metric in LOWER_IS_BETTER:
        return label("lower_better", language)
    if metric in HIGHER_IS_BETTER:
        return label("higher_better", language)
    return ""


def _metric_row(
    metric: str, strategies: list[StrategySummary], language: Language
) -> dict[str, Any]:
    """A metric's row of the comparison table; the best strategy's cell is marked.

    A strategy without stations has no queue and no drive to a charger: its zero wait is
    not "best", so only strategies with sites compete for the mark.
    """
    means, cells = [], []
    for st in strategies:
        entry = st.metrics[metric]
        mean = _f(entry.mean)
        means.append(mean)
        cells.append(
            {
                "value": _fmt_value(metric, mean),
                "ci": _fmt_interval(metric, *entry.ci95),
                "best": False,
            }
        )
    with_sites = [bool(st.sites) for st in strategies]
    finite = [v for v, ok in zip(means, with_sites, strict=True) if ok and math.isfinite(v)]
    if len(finite) > 1 and (metric in LOWER_IS_BETTER or metric in HIGHER_IS_BETTER):
        best = min(finite) if metric in LOWER_IS_BETTER else max(finite)
        if any(v != best for v in finite):
            for c, v, ok in zip(cells, means, with_sites, strict=True):
                c["best"] = ok and v == best
    return {
        "label": metric_label(metric, language),
        "hint": _hint(metric, language),
        "cells": cells,
    }


def _comparison(result: RunResult, language: Language) -> dict[str, Any]:
    s = result.typed_summary
    strategies = list(s.strategies.values())
    rows = _plan_rows(s, language)
    rows += [_metric_row(m, strategies, language) for m in METRICS]
    return {"heads": [_head(n, s, language) for n in s.names], "rows": rows}


def _outcomes(result: RunResult, names: list[str], language: Language) -> dict[str, Any]:
    """Share of sessions by the outcome of their last attempt, per strategy."""
    ses = result.sessions
    if ses.empty:
        return {}
    frame = ses.assign(strategy=ses["strategy"].astype(str), outcome=ses["outcome"].astype(str))
    frame = frame[~frame.duplicated(["strategy", "replication", "session"], keep="last")]
    shares = pd.crosstab(frame["strategy"], frame["outcome"], normalize="index")
    order = [o for o in OUTCOMES if o in shares.columns]
    order += [o for o in shares.columns if o not in order]
    rows = []
    for o in order:
        cells = []
        for n in names:
            v = shares.at[n, o] if n in shares.index else math.nan
            cells.append({"value": _fmt_value("unserved_share", v), "ci": "", "best": False})
        rows.append({"label": outcome_label(str(o), language), "hint": "", "cells": cells})
    s = result.typed_summary
    return {"heads": [_head(n, s, language) for n in names], "rows": rows}


def _paired_cell(metric: str, d: MetricDifference, language: Language) -> dict[str, Any]:
    """A cell of the paired table: the mean difference, its interval, who it favours."""
    ci = ""
    lo, hi = d.ci95
    if lo is not None and hi is not None:
        ci = f"[{_fmt_diff(metric, lo)} – {_fmt_diff(metric, hi)}]"
    if d.better is not None:
        ci = f"{ci} {label('favours', language, name=d.better)}".strip()
    return {"value": _fmt_diff(metric, _f(d.mean_diff), sign=True), "ci": ci, "best": d.significant}


def _head(name: str, summary: Summary, language: Language) -> dict[str, str]:
    """A strategy's column head: its name, tagged when its plan has no public chargers."""
    st = summary.strategies.get(name)
    tag = label("no_public_chargers", language) if st is not None and not st.sites else ""
    return {"name": name, "key": name, "tag": tag}


def _paired_table(result: RunResult, language: Language) -> dict[str, Any]:
    """Table of the paired comparisons: each strategy against the best (``x − best``)."""
    s = result.typed_summary
    ranked = _ranked(s)
    if not s.comparisons or not ranked:
        return {}
    best = ranked[0].name
    others = [(n, _versus(s, n, best)) for n in s.names if n != best]
    pairs = [(n, c) for n, c in others if c is not None]
    if not pairs:
        return {}
    rows = [
        {
            "label": metric_label(m, language),
            "hint": "",
            "cells": [_paired_cell(m, c[m], language) for _, c in pairs],
        }
        for m in METRICS
    ]
    heads = [{**_head(n, s, language), "name": f"{n} − {best}", "key": n} for n, _ in pairs]
    return {"heads": heads, "rows": rows, "best": best}


# --------------------------------------------------------------------------- the answer


def _ranked(summary: Summary) -> list[StrategySummary]:
    """Strategies with a difficulty index, lowest (best) first; ties in config order."""
    have = [st for st in summary.strategies.values() if _finite_mean(st) is not None]
    return sorted(have, key=lambda st: _finite_mean(st) or 0.0)


def _finite_mean(st: StrategySummary, metric: str = "difficulty_index") -> float | None:
    v = st.metrics[metric].mean
    return v if v is not None and math.isfinite(v) else None


def _flip(d: MetricDifference) -> MetricDifference:
    lo, hi = d.ci95
    return dataclasses.replace(
        d,
        mean_diff=None if d.mean_diff is None else -d.mean_diff,
        ci95=(None if hi is None else -hi, None if lo is None else -lo),
    )


def _versus(summary: Summary, a: str, b: str) -> dict[str, MetricDifference] | None:
    """The paired differences ``a − b`` of every metric (from the summary's
    comparisons, turned round when they are stored as ``b − a``)."""
    for c in summary.comparisons:
        if (c.a, c.b) == (a, b):
            return dict(c.metrics)
        if (c.a, c.b) == (b, a):
            return {m: _flip(d) for m, d in c.metrics.items()}
    return None


def _baseline(summary: Summary) -> StrategySummary | None:
    """The first plan that builds nothing new (cost 0), with a difficulty index."""
    for st in summary.strategies.values():
        if st.cost_cny == 0 and _finite_mean(st) is not None:
            return st
    return None


def per_million_cny(st: StrategySummary, baseline: StrategySummary | None, /) -> float | None:
    """Difficulty points a plan removes per million CNY, against ``baseline``.

    ``(baseline's difficulty index - the plan's) / (the plan's cost / 1e6)``; ``None``
    for the baseline itself, a plan that costs nothing, or without a baseline.
    """
    if baseline is None or st.name == baseline.name or not st.cost_cny:
        return None
    d, base = _finite_mean(st), _finite_mean(baseline)
    if d is None or base is None:
        return None
    return (base - d) / (st.cost_cny / 1e6)


def _points(x: float | None) -> str:
    """A number of difficulty points (2 decimals below 10, else 1)."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.1f}"


def _say(key: str, language: Language, **fields: object) -> Markup:
    """A sentence of the answer: the label filled with escaped fields (names in bold)."""
    safe = {
        k: Markup("<strong>{}</strong>").format(v) if k in ("name", "other", "base") else escape(v)
        for k, v in fields.items()
    }
    return Markup(label(key, language, **safe))


def _ci_text(lo: float | None, hi: float | None, language: Language) -> str:
    if lo is None or hi is None:
        return ""
    return label("answer_ci", language, lo=_fmt_value("difficulty_index", lo),
                 hi=_fmt_value("difficulty_index", hi))  # fmt: skip


def _runner_up_lines(
    summary: Summary, best: StrategySummary, other: StrategySummary, language: Language
) -> list[Markup]:
    """How much better the best plan is than the runner-up, and whether the
    replications can tell."""
    diffs = _versus(summary, other.name, best.name)
    d = None if diffs is None else diffs["difficulty_index"]
    value = _fmt_value("difficulty_index", _finite_mean(other))
    if d is None or d.mean_diff is None:
        return []
    lo, hi = d.ci95
    if lo is None or hi is None:
        return [_say("answer_runner_up_noci", language, other=other.name, other_value=value,
                     diff=_points(d.mean_diff))]  # fmt: skip
    return [
        _say("answer_runner_up", language, other=other.name, other_value=value,
             diff=_points(d.mean_diff), reps=summary.replications, lo=_points(lo),
             hi=_points(hi)),
        _say("answer_significant" if d.significant else "answer_not_significant", language),
    ]  # fmt: skip


def _cost_lines(summary: Summary, best: StrategySummary, language: Language) -> list[Markup]:
    """What the best plan costs, and the difficulty it removes per million CNY."""
    if not best.cost_cny:
        return [_say("answer_no_cost", language)]
    lines = [_say("answer_cost", language, cost=_fmt_number(best.cost_cny),
                  sites=len(best.sites), ports=best.total_ports)]  # fmt: skip
    base = _baseline(summary)
    per = per_million_cny(best, base)
    if base is None or per is None:
        lines.append(_say("answer_no_baseline", language))
    else:
        lines.append(_say("answer_per_million", language, base=base.name,
                          base_value=_fmt_value("difficulty_index", _finite_mean(base)),
                          points=_points(per)))  # fmt: skip
    return lines


def _answer_row(
    st: StrategySummary, summary: Summary, best: StrategySummary, language: Language
) -> dict[str, Any]:
    """A row of the answer's table: difficulty, paired difference to the best, cost and
    difficulty removed per million CNY (the baseline plan says "baseline")."""
    d = st.metrics["difficulty_index"]
    diffs = _versus(summary, st.name, best.name) if st.name != best.name else None
    diff = None if diffs is None else diffs["difficulty_index"]
    ci = ""
    if diff is not None and diff.ci95[0] is not None and diff.ci95[1] is not None:
        ci = f"[{_points(diff.ci95[0])} – {_points(diff.ci95[1])}]"
    base = _baseline(summary)
    per = _points(per_million_cny(st, base))
    if base is not None and st.name == base.name:
        per = label("baseline", language)
    return {
        **_head(st.name, summary, language),
        "best": st.name == best.name,
        "value": _fmt_value("difficulty_index", d.mean),
        "ci": _fmt_interval("difficulty_index", *d.ci95),
        "diff": "" if diff is None else _signed_points(diff.mean_diff),
        "diff_ci": ci,
        "cost": _fmt_number(st.cost_cny),
        "per_million": per,
    }


def _signed_points(x: float | None) -> str:
    text = _points(x)
    return f"+{text}" if x is not None and x > 0 else text


def _answer(result: RunResult, language: Language) -> dict[str, Any]:
    """The opening of the report: the plan with the lowest difficulty, its margin over
    the runner-up (paired difference and interval), its cost and the difficulty it
    removes per million CNY; with a table of every plan in that order."""
    s = result.typed_summary
    ranked = _ranked(s)
    if not ranked:
        return {"lines": [_say("answer_none", language)], "rows": []}
    best = ranked[0]
    lines = [_say("answer_best", language, name=best.name,
                  value=_fmt_value("difficulty_index", _finite_mean(best)),
                  ci=_ci_text(*best.metrics["difficulty_index"].ci95, language))]  # fmt: skip
    if len(ranked) > 1:
        lines += _runner_up_lines(s, best, ranked[1], language)
    lines += _cost_lines(s, best, language)
    base = _baseline(s)
    return {
        "lines": lines,
        "rows": [_answer_row(st, s, best, language) for st in ranked],
        "difficulty": metric_label("difficulty_index", language),
        "vs_best": label("vs_best", language, best=best.name),
        "per_million": label("per_million", language, base=base.name)
        if base is not None
        else label("per_million_row", language),
    }


def _figures(
    result: RunResult, names: list[str], language: Language, *, text: str
) -> dict[str, Any]:
    """The report's figures (PNG ``data:`` URIs); ``text``: the names they may draw.

    The charts are drawn here and the static maps, with a spare core, in a forked copy
    of this process at the same time (:func:`sim.export.figures.pngs`: the same bytes).
    """
    s = result.typed_summary
    days, reps = s.days, s.replications
    sessions = result.sessions
    highway = result.scenario.demand.highway
    holidays = highway.holiday.days if highway.holiday is not None and highway.enabled else ()
    with figures.figure_style(language, text=text) as flang:
        bare = [n for n in names if not s.strategies[n].sites]

        def queue() -> Any:
            table = figures.queue_by_hour(sessions, days=days, replications=reps)
            return figures.queue_figure(table, names, language=flang)

        def util() -> Any:
            table = figures.utilisation_by_hour(
                sessions, result.selected, days=days, replications=reps
            )
            return figures.utilisation_figure(table, result.selected, names, language=flang)

        charts: list[tuple[str, str, Callable[[], Any]]] = [
            ("fig_wait", "fig_wait_caption",
             lambda: figures.wait_figure(sessions, names, no_chargers=bare, language=flang)),
            ("fig_queue", "fig_queue_caption", queue),
            ("fig_queue_timeline", "fig_queue_timeline_caption",
             lambda: figures.queue_timeline_figure(result.queues, names, holidays=holidays,
                                                   language=flang)),
            ("fig_util", "fig_util_caption", util),
        ]  # fmt: skip
        by_phase = figures.phase_frame(s)
        if by_phase is not None:  # phased plans: difficulty over the years first
            charts.insert(0, ("fig_phases", "fig_phases_caption",
                              lambda: figures.phase_figure(by_phase, language=flang)))  # fmt: skip
        maps = [functools.partial(_static_map, result, name, flang) for name in names]
        chart_png, map_png = figures.pngs([c[2] for c in charts], maps)
    items = [
        {"title": label(key, language), "caption": label(caption, language),
         "src": _data_uri(data)}
        for (key, caption, _), data in zip(charts, chart_png, strict=True)
    ]  # fmt: skip
    shown = [
        {"name": name, "title": label("fig_map", language, name=name), "src": _data_uri(data)}
        for name, data in zip(names, map_png, strict=True)
    ]
    return {"items": items, "maps": shown, "font_fallback": flang != language}


def _static_map(result: RunResult, name: str, flang: Language) -> Any:
    """One strategy's static map figure (labels in ``flang``)."""
    zones, sel = result.zones, result.selected
    return figures.static_map_figure(
        title=label("fig_map", flang, name=name),
        zones=zones[zones["strategy"].astype(str) == name],
        sites=sel[sel["strategy"].astype(str) == name],
        candidates=result.candidates,
        roads=result.roads,
        language=flang,
    )


def _site_row(r: Mapping[str, Any]) -> dict[str, str]:
    """A row of the selected layer as the sites table shows it."""
    return {
        "site_id": str(r["site_id"]),
        "name": str(r["name"] or ""),
        "kind": str(r["kind"] or ""),
        "ports": _fmt_number(r["ports"]),
        "power_kw": _fmt_number(r["power_kw"]),
        "utilization": _fmt_value("utilization_mean", r["utilization"]),
        "energy": _fmt_number(r["energy_kwh_per_day"]),
        "wait_mean": _fmt_number(r["wait_mean_min"], 1),
        "wait_p95": _fmt_number(r["wait_p95_min"], 1),
    }


def _sites(result: RunResult, names: list[str]) -> list[dict[str, Any]]:
    sel = result.selected
    return [
        {
            "name": name,
            "rows": [
                _site_row(r) for r in sel[sel["strategy"].astype(str) == name].to_dict("records")
            ],
        }
        for name in names
    ]


def _swap_row(
    st: StrategySummary, sel: pd.DataFrame, baseline: StrategySummary | None, lang: Language
) -> dict[str, Any]:
    """One plan's row of the charge-and-swap table."""
    mine = sel[(sel["strategy"].astype(str) == st.name) & (sel["kind"].astype(str) == "swap")]
    per_m = per_million_cny(st, baseline)
    return {
        "name": st.name,
        "stations": str(len(mine)),
        "swaps": _fmt_number(mine["swaps_per_day"].sum(), 1) if len(mine) else "–",
        "availability": (
            _fmt_value("coverage_share", mine["pack_availability"].mean()) if len(mine) else "–"
        ),
        "fleets": [
            label(
                "fleet_lost_value",
                lang,
                fleet=name,
                minutes=_fmt_number(f["lost_min_per_vehicle_day"].mean, 1),
                cny=_fmt_number(f["lost_cny_per_vehicle_day"].mean, 1),
            )
            for name, f in st.fleets.items()
        ],
        "segments": [
            f"{label(f'segment_{seg}', lang)}: "
            f"{_fmt_value('difficulty_index', m['difficulty_index'].mean)}"
            for seg, m in st.segments.items()
        ],
        "cost": _fmt_number(st.cost_cny),
        "per_million": "–" if per_m is None else _fmt_value("difficulty_index", per_m),
    }


def _holiday(result: RunResult, lang: Language) -> dict[str, Any] | None:
    """The holiday operations table (``summary.json``'s ``holiday`` sections); ``None``
    without a holiday on the expressway."""
    rows = [(s, s.holiday) for s in result.typed_summary.strategies.values() if s.holiday]

    def cell(part: Any, key: str) -> str:
        m = part.get(key) if part else None
        if m is None or m["mean"] is None:
            return "–"
        lo, hi = m["ci95"]
        text = _fmt_number(m["mean"], 1)
        if lo is not None and hi is not None:
            text += f" [{_fmt_number(lo, 1)} – {_fmt_number(hi, 1)}]"
        return text

    if not rows:
        return None
    first, h0 = rows[0]
    return {
        "note": label(
            "holiday_note", lang, day=h0["peak_day"], site=h0["busiest_site"], base=first.name
        ),
        "rows": [
            {
                "name": s.name,
                "cost": _fmt_number(s.cost_cny),
                "wait": cell(h, "busiest_wait_mean_min"),
                "p95": cell(h, "busiest_wait_p95_min"),
                "flat": cell(h, "stranded_vehicles"),
                "d_wait": cell(h.get("vs_base"), "busiest_wait_mean_min"),
                "d_flat": cell(h.get("vs_base"), "stranded_vehicles"),
            }
            for s, h in rows
        ],
    }


def _grid(result: RunResult, lang: Language) -> list[dict[str, Any]]:
    """The compound power table (``summary.json``'s ``grid`` sections); empty without
    ``grid``."""

    def cell(g: Mapping[str, Any], key: str, pattern: str) -> str:
        m = g.get(key)
        if not isinstance(m, Mapping) or m.get("mean") is None:
            return "–"
        return pattern.format(m["mean"])

    from sim.export.grid import per_million

    rows = []
    plans = [s for s in result.typed_summary.strategies.values() if s.grid]
    base = plans[0] if plans else None
    for s in plans:
        g = s.grid
        assert g is not None and base is not None
        lowered = per_million(
            base.metrics["difficulty_index"].mean,
            s.metrics["difficulty_index"].mean,
            base.cost_cny,
            s.cost_cny,
        )
        price = g.get("mean_price_cny_per_kwh", {})
        public = price.get("residential")
        rows.append(
            {
                "name": s.name,
                "control": str(g.get("control", "")),
                "difficulty": _fmt_value("difficulty_index", s.metrics["difficulty_index"].mean),
                "peak": cell(g, "peak_loading_pct", "{:.1f}"),
                "overloaded": cell(g, "overloaded_share", "{:.0%}"),
                "not_delivered": cell(g, "home_energy_not_delivered_kwh", "{:,.0f}"),
                "price": f"{_fmt_number(price.get('home'), 3)} / {_fmt_number(public, 3)}",
                "cost": _fmt_number(s.cost_cny),
                "per_million": "–" if lowered is None else _fmt_number(lowered, 2),
            }
        )
    return rows


def _charge_and_swap(result: RunResult, lang: Language) -> list[dict[str, Any]]:
    """The charge-and-swap comparison, one row per plan; empty when no plan has a
    battery-swap station (the report then has no such section)."""
    sel = result.selected
    if "kind" not in sel or not (sel["kind"].astype(str) == "swap").any():
        return []
    s = result.typed_summary
    baseline = _baseline(s)
    return [_swap_row(st, sel, baseline, lang) for st in s.strategies.values()]


def _provenance(result: RunResult) -> dict[str, Any]:
    prov = result.typed_summary.provenance
    return {
        "python": prov.python,
        "versions": [(k, "" if v is None else v) for k, v in prov.versions.items()],
        "data": list(prov.data_sha256.items()),
        "notes": list(prov.region_notes),
    }


def _version(result: RunResult) -> str:
    return result.typed_summary.provenance.versions.get("chargesite") or _package_version()


# --------------------------------------------------------------------------- template

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
{{ font_face }}
  body { font: 14px/1.5 "chargesite CJK", system-ui, "Segoe UI", "Noto Sans CJK SC",
         "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; color: #222;
         margin: 0; background: #fafafa; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
  h1 { font-size: 1.6em; margin: 0.4em 0 0.2em; }
  h2 { font-size: 1.25em; border-bottom: 2px solid #08519c; padding-bottom: 2px;
       margin-top: 1.8em; }
  h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
  .muted { color: #666; font-size: 0.92em; }
  nav ol { columns: 2; margin: 0.3em 0; }
  table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
  th { background: #f0f4f8; text-align: left; }
  tbody th { min-width: 13em; }
  td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  td .ci { display: block; color: #666; font-size: 0.85em; }
  td.best { font-weight: bold; background: #eef7ee; }
  .scroll { overflow-x: auto; }
  figure { margin: 1em 0; }
  figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
  figcaption { color: #555; font-size: 0.9em; }
  .maps { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr));
          gap: 12px; }
  code { font-size: 0.85em; word-break: break-all; }
  footer { margin-top: 2em; color: #666; font-size: 0.9em; }
  #answer { background: #f3f8fd; border-left: 4px solid #08519c; padding: 8px 16px 10px;
            margin: 1em 0; }
  #answer h2 { margin-top: 0.4em; border: 0; }
  #answer p { margin: 0.3em 0; font-size: 1.05em; }
  th .tag, td .tag { display: block; font-weight: normal; color: #a63603;
                     font-size: 0.85em; }
  tr.best td, tr.best th { font-weight: bold; background: #eef7ee; }
</style>
</head>
<body>
<main id="chargesite-report">
<h1>{{ title }}</h1>
<p class="muted">{{ generated }}</p>

<section id="answer">
<h2>{{ t.sec_answer }}</h2>
{% for line in answer.lines %}<p>{{ line }}</p>
{% endfor %}
{% if answer.rows %}<div class="scroll"><table id="answer-table">
<thead><tr><th>{{ t.rank }}</th><th>{{ t.strategy }}</th><th>{{ answer.difficulty }}</th>
<th>{{ answer.vs_best }}</th><th>{{ t.cost_cny }}</th><th>{{ answer.per_million }}</th></tr>
</thead><tbody>
{% for r in answer.rows %}<tr{% if r.best %} class="best"{% endif %}>
<td class="num">{{ loop.index }}</td>
<th data-strategy="{{ r.name }}">{{ r.name }}
{%- if r.tag %}<span class="tag">{{ r.tag }}</span>{% endif %}</th>
<td class="num">{{ r.value }}{% if r.ci %}<span class="ci">{{ r.ci }}</span>{% endif %}</td>
<td class="num">{{ r.diff }}
{%- if r.diff_ci %}<span class="ci">{{ r.diff_ci }}</span>{% endif %}</td>
<td class="num">{{ r.cost }}</td><td class="num">{{ r.per_million }}</td></tr>
{% endfor %}</tbody></table></div>
<p class="muted">{{ t.answer_note }}</p>{% endif %}
</section>

<nav><strong>{{ t.contents }}</strong>
<ol>
  <li><a href="#answer">{{ t.sec_answer }}</a></li>
  <li><a href="#scenario">{{ t.sec_scenario }}</a></li>
  <li><a href="#comparison">{{ t.sec_comparison }}</a></li>
  {% if paired %}<li><a href="#paired">{{ t.sec_paired }}</a></li>{% endif %}
{% if swap %}  <li><a href="#charge-and-swap">{{ t.sec_swap }}</a></li>
{% endif %}{% if holiday %}  <li><a href="#holiday">{{ t.sec_holiday }}</a></li>
{% endif %}{% if grid %}  <li><a href="#grid">{{ t.sec_grid }}</a></li>
{% endif %}  <li><a href="#figures">{{ t.sec_figures }}</a></li>
  <li><a href="#maps">{{ t.sec_maps }}</a></li>
  <li><a href="#sites">{{ t.sec_sites }}</a></li>
  <li><a href="#provenance">{{ t.sec_provenance }}</a></li>
  <li><a href="#notes">{{ t.sec_notes }}</a></li>
</ol></nav>

<h2 id="scenario">{{ t.sec_scenario }}</h2>
<table class="facts">
{% for key, value in scenario %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>

{% macro table(tab, id, head) -%}
<div class="scroll"><table id="{{ id }}">
<thead><tr><th>{{ head }}</th>
{% for h in tab.heads %}<th class="strategy" data-strategy="{{ h.key or h.name }}">{{ h.name }}
{%- if h.tag %}<span class="tag">{{ h.tag }}</span>{% endif %}</th>{% endfor %}
</tr></thead>
<tbody>
{% for row in tab.rows %}<tr><th>{{ row.label }}{% if row.hint %}
<span class="ci muted"> ({{ row.hint }})</span>{% endif %}</th>
{% for c in row.cells %}<td class="num{% if c.best %} best{% endif %}">{{ c.value }}
{% if c.ci %}<span class="ci">{{ c.ci }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{%- endmacro %}

<h2 id="comparison">{{ t.sec_comparison }}</h2>
<p class="muted">{{ t.comparison_note }}</p>
{{ table(comparison, "comparison-table", t.metric) }}

{% if outcomes %}
<h3 id="outcomes">{{ t.sec_outcomes }}</h3>
<p class="muted">{{ t.outcomes_note }}</p>
{{ table(outcomes, "outcomes-table", t.outcome) }}
{% endif %}

{% if paired %}
<h2 id="paired">{{ t.sec_paired }}</h2>
<p class="muted">{{ paired_note }}</p>
{{ table(paired, "paired-table", t.metric) }}
{% endif %}

{% if swap %}
<h2 id="charge-and-swap">{{ t.sec_swap }}</h2>
<p class="muted">{{ t.swap_note }}</p>
<div class="scroll"><table id="swap-table">
<thead><tr><th>{{ t.strategy }}</th><th>{{ t.swap_stations }}</th><th>{{ t.swaps_per_day }}</th>
<th>{{ t.pack_availability }}</th><th>{{ t.fleet_lost }}</th><th>{{ t.segment_difficulty }}</th>
<th>{{ t.cost_cny }}</th><th>{{ t.swap_per_million }}</th></tr></thead><tbody>
{% for r in swap %}<tr><th data-strategy="{{ r.name }}">{{ r.name }}</th>
<td class="num">{{ r.stations }}</td><td class="num">{{ r.swaps }}</td>
<td class="num">{{ r.availability }}</td>
<td>{{ r.fleets|join("; ") or "–" }}</td><td>{{ r.segments|join("; ") or "–" }}</td>
<td class="num">{{ r.cost }}</td><td class="num">{{ r.per_million }}</td></tr>
{% endfor %}</tbody></table></div>

{% endif %}{% if holiday %}<h2 id="holiday">{{ t.sec_holiday }}</h2>
<p class="muted">{{ holiday.note }}</p>
<div class="scroll"><table id="holiday-table">
<thead><tr><th>{{ t.strategy }}</th><th>{{ t.cost_cny }}</th><th>{{ t.busiest_wait }}</th>
<th>{{ t.busiest_p95 }}</th><th>{{ t.run_flat }}</th><th>{{ t.wait_vs_base }}</th>
<th>{{ t.flat_vs_base }}</th></tr></thead><tbody>
{% for r in holiday.rows %}<tr><th data-strategy="{{ r.name }}">{{ r.name }}</th>
<td class="num">{{ r.cost }}</td><td class="num">{{ r.wait }}</td><td class="num">{{ r.p95 }}</td>
<td class="num">{{ r.flat }}</td><td class="num">{{ r.d_wait }}</td>
<td class="num">{{ r.d_flat }}</td></tr>
{% endfor %}</tbody></table></div>

{% endif %}{% if grid %}<h2 id="grid">{{ t.sec_grid }}</h2>
<p class="muted">{{ t.grid_note }}</p>
<div class="scroll"><table id="grid-table">
<thead><tr><th>{{ t.strategy }}</th><th>{{ t.grid_control }}</th><th>{{ t.cost_cny }}</th>
<th>{{ t.peak_loading }}</th><th>{{ t.overloaded }}</th><th>{{ t.home_not_delivered }}</th>
<th>{{ t.price_home_public }}</th><th>{{ t.grid_per_million }}</th></tr></thead><tbody>
{% for r in grid %}<tr><th data-strategy="{{ r.name }}">{{ r.name }}</th><td>{{ r.control }}</td>
<td class="num">{{ r.cost }}</td><td class="num">{{ r.peak }}</td>
<td class="num">{{ r.overloaded }}</td><td class="num">{{ r.not_delivered }}</td>
<td class="num">{{ r.price }}</td><td class="num">{{ r.per_million }}</td></tr>
{% endfor %}</tbody></table></div>

{% endif %}<h2 id="figures">{{ t.sec_figures }}</h2>
{% if figs.font_note %}<p class="muted">{{ figs.font_note }}</p>{% endif %}
{% for f in figs["items"] %}
<figure><h3>{{ f.title }}</h3><img src="{{ f.src }}" alt="{{ f.title }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}

<h2 id="maps">{{ t.sec_maps }}</h2>
<p class="muted">{{ t.fig_map_caption }}</p>
<div class="maps">
{% for m in figs.maps %}<figure class="map" data-strategy="{{ m.name }}">
<img src="{{ m.src }}" alt="{{ m.title }}"><figcaption>{{ m.title }}</figcaption></figure>
{% endfor %}</div>

<h2 id="sites">{{ t.sec_sites }}</h2>
{% for s in sites %}
<h3>{{ t.strategy }}: {{ s.name }}</h3>
{% if s.rows %}<div class="scroll"><table class="sites">
<thead><tr><th>{{ t.site_id }}</th><th>{{ t.site_name }}</th><th>{{ t.site_kind }}</th>
<th>{{ t.ports }}</th><th>{{ t.power_kw }}</th><th>{{ t.utilization }}</th>
<th>{{ t.energy_kwh_per_day }}</th><th>{{ t.wait_mean_min }}</th><th>{{ t.wait_p95_min }}</th>
</tr></thead><tbody>
{% for r in s.rows %}<tr><td><code>{{ r.site_id }}</code></td><td>{{ r.name }}</td>
<td>{{ r.kind }}</td><td class="num">{{ r.ports }}</td><td class="num">{{ r.power_kw }}</td>
<td class="num">{{ r.utilization }}</td><td class="num">{{ r.energy }}</td>
<td class="num">{{ r.wait_mean }}</td><td class="num">{{ r.wait_p95 }}</td></tr>
{% endfor %}</tbody></table></div>
{% else %}<p class="muted">{{ t.no_sites }}</p>{% endif %}
{% endfor %}

<h2 id="provenance">{{ t.sec_provenance }}</h2>
<table>
<tr><th>{{ t.seed }}</th><td>{{ seed }}</td></tr>
<tr><th>{{ t.python }}</th><td>{{ prov.python }}</td></tr>
{% for k, v in prov.versions %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table>
<table>
<thead><tr><th>{{ t.data_file }}</th><th>{{ t.sha256 }}</th></tr></thead><tbody>
{% for k, v in prov.data %}<tr><td>{{ k }}</td><td><code>{{ v }}</code></td></tr>
{% endfor %}</tbody></table>

<h2 id="notes">{{ t.sec_notes }}</h2>
{% if prov.notes %}<ul>{% for n in prov.notes %}<li>{{ n }}</li>{% endfor %}</ul>
{% else %}<p class="muted">{{ t.no_notes }}</p>{% endif %}

<footer>{{ t.map_data_credit }}{% if font_notice %}<br>{{ font_notice }}{% endif %}</footer>
</main>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


class _Labels:
    """``t.KEY`` in the template: the label of KEY in the report's language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        if key not in LABELS:  # a typo in the template fails loudly (StrictUndefined)
            raise KeyError(key)
        return label(key, self.language)

    def __getattr__(self, key: str) -> str:
        if key.startswith("__") or key not in LABELS:
            raise AttributeError(key)
        return label(key, self.language)


def _user_text(result: RunResult) -> str:
    """Every name from the user or OpenStreetMap that a page or figure may show."""
    s = result.typed_summary
    parts = [s.scenario, s.provenance.region, *s.names, *s.provenance.region_notes]
    for frame in (result.selected, result.zones, result.candidates):
        for col in ("name", "site_id", "zone_id"):
            if col in frame.columns:
                parts.extend(str(v) for v in frame[col].dropna().unique())
    return "\n".join(parts)


def _with_font(
    template: jinja2.Template, context: dict[str, Any], *, extra: str, language: Language
) -> str:
    """Render ``template`` with the CJK font subset for every CJK character of the page
    embedded (:func:`sim.export.fonts.font_face_css`).

    The subset also covers ``extra`` and, in Chinese, every label, so that the page and
    its figures share one subset (made once per process).
    """
    page = template.render(**context, font_face="/*font*/", font_notice="")
    chars = fonts.cjk_chars(page, extra, all_labels(language))
    css = fonts.font_face_css(chars)
    if not css:
        return page.replace("/*font*/", "", 1)
    notice = fonts.FONT_NOTICE
    return template.render(**context, font_face=Markup(css), font_notice=notice)


def report_html(result: RunResult, /, *, language: str | None = None) -> str:
    """The text of ``report.html`` (self-contained, escaped).

    Parameters
    ----------
    result
        From :func:`sim.api.run`.
    language
        ``"en"`` or ``"zh"``; default ``result.scenario.output.language``.
    """
    lang = resolve_language(language, default=result.scenario.output.language)
    s = result.typed_summary
    names = s.names
    user_text = _user_text(result)
    figs = _figures(result, names, lang, text=user_text)
    figs["font_note"] = label("fig_font_note", lang) if figs.pop("font_fallback") else ""
    paired = _paired_table(result, lang)
    context = {
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "title": label("report_title", lang, scenario=s.scenario),
        "generated": label("generated_by", lang, version=_version(result)),
        "t": _Labels(lang),
        "scenario": _scenario_rows(result, lang),
        "comparison": _comparison(result, lang),
        "outcomes": _outcomes(result, names, lang),
        "answer": _answer(result, lang),
        "paired": paired,
        "paired_note": label("paired_note", lang, best=paired.get("best", "")),
        "figs": figs,
        "sites": _sites(result, names),
        "swap": _charge_and_swap(result, lang),
        "holiday": _holiday(result, lang),
        "grid": _grid(result, lang),
        "prov": _provenance(result),
        "seed": str(s.seed),
    }
    return _with_font(_ENV.from_string(_TEMPLATE), context, extra=user_text, language=lang)


_SWEEP_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head><meta charset="utf-8"><title>{{ title }}</title>
<style>
{{ font_face }}
  body { font-family: "chargesite CJK", system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei",
         "Microsoft YaHei", sans-serif; margin: 2em auto; max-width: 1100px;
         color: #222; padding: 0 1em; }
  table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
  th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  img { max-width: 100%; border: 1px solid #eee; }
  .muted { color: #666; }
</style></head>
<body><main id="chargesite-sweep-report">
<h1>{{ title }}</h1>
<p class="muted">{{ generated }}</p>
<p>{{ t.seed }}: {{ seed }} &middot; {{ t.replications }}: {{ reps }}</p>
<figure><img alt="{{ fig_title }}" src="{{ fig_src }}"><figcaption>{{ fig_title }}
</figcaption></figure>
<table id="sweep-table"><thead><tr>{% for k in keys %}<th>{{ k }}</th>{% endfor %}
<th>{{ t.strategy }}</th>{% for m in metrics %}<th>{{ m.label }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in rows %}<tr>{% for v in r.swept %}<td>{{ v }}</td>{% endfor %}
<td>{{ r.strategy }}{% if r.tag %} <span class="muted">({{ r.tag }})</span>{% endif %}</td>
{% for c in r.cells %}<td class="num">{{ c }}</td>{% endfor %}
</tr>{% endfor %}</tbody></table>
{% if font_notice %}<p class="muted">{{ font_notice }}</p>{% endif %}
</main></body></html>
"""


#: Metrics in the table of a sweep's report.
SWEEP_METRICS = ("difficulty_index", "unserved_share", "wait_mean_min", "wait_p95_min",
                 "stranded_share", "access_time_mean_min")  # fmt: skip


def _sweep_cell(metric: str, value: MetricSummary) -> str:
    if value.mean is None:
        return "-"
    text = _fmt_value(metric, value.mean)
    lo, hi = value.ci95
    if lo is not None and hi is not None:
        text += f" [{_fmt_value(metric, lo)}, {_fmt_value(metric, hi)}]"
    return text


def sweep_report_html(summary: SweepSummary | Mapping[str, Any], /, *, language: str = "en") -> str:
    """A self-contained ``report.html`` of a sweep: the difficulty index against the
    swept value (one line per strategy, 95% intervals) and the table of every point.

    Parameters
    ----------
    summary
        The sweep's summary (:attr:`sim.export.result.SweepResult.typed_summary`; its
        ``summary.json`` content is accepted too).
    language
        ``"en"`` or ``"zh"``.
    """
    lang = resolve_language(language)
    if not isinstance(summary, SweepSummary):
        summary = SweepSummary.from_dict(summary)
    frame = figures.sweep_frame(summary)
    text = sweep_text(summary)
    with figures.figure_style(lang, text=text) as flang:
        src = (
            _data_uri(figures.png(figures.sweep_figure(frame, language=flang)))
            if frame is not None
            else ""
        )
    rows = [
        {
            "swept": [r.values[k] for k in summary.keys],
            "strategy": r.strategy,
            "tag": label("no_public_chargers", lang) if r.sites == 0 else "",
            "cells": [_sweep_cell(m, r.metrics[m]) for m in SWEEP_METRICS],
        }
        for r in summary.rows
    ]
    title = label("fig_sweep", lang, key=", ".join(summary.keys))
    context = dict(
        html_lang="zh-CN" if lang == "zh" else "en",
        title=f"{summary.scenario}: {title}",
        generated=label("generated_by", lang, version=_package_version()),
        t=_Labels(lang),
        seed=summary.seed,
        reps=summary.replications,
        fig_title=title,
        fig_src=src,
        keys=list(summary.keys),
        metrics=[{"label": metric_label(m, lang)} for m in SWEEP_METRICS],
        rows=rows,
    )
    return _with_font(_ENV.from_string(_SWEEP_TEMPLATE), context, extra=text, language=lang)


def sweep_text(summary: SweepSummary, /) -> str:
    """Every user string a sweep's page or figure may show (strategies, keys, values)."""
    values = [str(v) for p in summary.points for v in p.values()]
    return "\n".join(
        [summary.scenario, *summary.keys, *values, *(r.strategy for r in summary.rows)]
    )


def _package_version() -> str:
    try:
        return metadata.version("chargesite")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def write_report(result: RunResult, path: Path | str, /, *, language: str | None = None) -> Path:
    """Write ``report.html``: one self-contained file (figures embedded as PNG).

    Parameters
    ----------
    result
        From :func:`sim.api.run`.
    path
        File to write (UTF-8).
    language
        ``"en"`` or ``"zh"``; default ``result.scenario.output.language``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        ``language`` is not ``"en"`` or ``"zh"``.
    """
    path = Path(path)
    path.write_text(report_html(result, language=language), encoding="utf-8")
    return path
