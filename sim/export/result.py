"""A study's results as a summary, tables and layers.

:func:`assemble` turns one scenario's :class:`~sim.study.runner.StudyResult` into a
:class:`RunResult`; :func:`sweep_result` turns a sweep's
:class:`~sim.study.runner.SweepStudy` into a :class:`SweepResult`.  Both are written by
:mod:`sim.export.writing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from sim.config import Scenario
from sim.export.grid import with_costs, with_grid_columns, zone_load_frame
from sim.export.layers import (
    candidates_layer,
    roads_layer,
    selected_layer,
    with_phase_built,
    zones_layer,
)
from sim.export.summary import (
    PointComparisons,
    Summary,
    SweepRow,
    SweepSummary,
    build_summary,
    plan_site_figures,
)
from sim.export.tables import pack_stock_frame, queue_frame, sessions_frame, site_load_frame
from sim.siting.plan import Plan
from sim.study.prepare import Prepared
from sim.study.refine import candidate_columns
from sim.study.runner import PhaseStudy, StudyResult, SweepStudy
from sim.study.units import UnitResult, per_replication_frame

__all__ = ["RunResult", "SweepResult", "assemble", "sweep_result"]


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced.

    Attributes
    ----------
    scenario
        The validated scenario as given (every default filled in; what
        ``config.resolved.yaml`` records).
    summary
        The content of ``summary.json`` as plain dicts and lists
        (``summary["strategies"]["p-median"]["metrics"]["difficulty_index"]["mean"]``).
    typed_summary
        The same as frozen dataclasses (:class:`~sim.export.summary.Summary`); the
        map, the report and the figures read this one.
    per_replication
        One row per (strategy, replication), a column per metric; with ``phases``, one
        row per (phase, strategy, replication), ``phase`` (the year) first.
    sessions
        One row per charging attempt (``sessions.parquet``); empty (no rows, no columns)
        when the scenario writes neither sessions nor the report (``output.sessions`` and
        ``output.report`` off), so a large study does not build a table nobody reads.
    candidates, selected, zones, roads
        The layers of ``sites.gpkg`` (EPSG:4326); with ``phases`` they show the last
        phase, and ``selected`` has ``phase_built`` (the year each site was built, 0: an
        existing station).
    site_load
        15-minute load profile per (strategy, site) (``site_load.parquet``).
    queues
        Queue length per (strategy, site, hour) (``queue_by_hour.csv``).
    plans
        The plan of each strategy.
    prepared
        Static inputs (region, travel times, expected demand).
    units
        Raw per-unit results (logs, per-site statistics).
    candidate_scores
        Simulated marginal effect of adding each candidate to each plan
        (``simulation.score_candidates``; ``candidate_scores.csv``), or ``None``.
    pack_stock
        Charged packs in stock per (strategy, replication, swap station, 15 minutes)
        (``pack_stock.parquet``), or ``None`` when no plan has a swap station.
    zone_load
        With ``grid``: each compound's 15-minute load per (strategy, replication)
        (``zone_load.parquet``, :data:`sim.export.grid.ZONE_LOAD_COLUMNS`); else ``None``.
    """

    scenario: Scenario
    summary: dict[str, Any]
    typed_summary: Summary
    per_replication: pd.DataFrame
    sessions: pd.DataFrame
    candidates: gpd.GeoDataFrame
    selected: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    site_load: pd.DataFrame
    queues: pd.DataFrame
    plans: dict[str, Plan]
    prepared: Prepared
    units: list[UnitResult]
    candidate_scores: pd.DataFrame | None = None
    pack_stock: pd.DataFrame | None = None
    phases: tuple[PhaseStudy, ...] = ()
    zone_load: pd.DataFrame | None = None


def _candidates(study: StudyResult) -> gpd.GeoDataFrame:
    """The candidates layer, with the simulated candidate scores when there are any."""
    prep = study.prepared
    cands = candidates_layer(prep, study.plans)
    if study.candidate_scores is not None:
        sc_cfg = prep.scenario.simulation.score_candidates
        against = (sc_cfg.against if sc_cfg is not None else None) or next(iter(study.plans))
        cols = candidate_columns(study.candidate_scores, against=against, n_candidates=len(cands))
        for c in cols.columns:
            cands[c] = cols[c].to_numpy()
    return cands


def _phased_per_replication(study: StudyResult, /) -> pd.DataFrame:
    """``per_replication.csv`` of a phased study: every phase's rows, ``phase`` (its
    year) in front."""
    frames = []
    for ph in study.phases:
        frame = per_replication_frame(ph.study.units)
        frame.insert(0, "phase", ph.year)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _needs_sessions(study: StudyResult, /) -> bool:
    """Whether an output reads the sessions table (the file or the report)."""
    out = study.scenario.output
    return out.sessions or out.report


def assemble(study: StudyResult, /) -> RunResult:
    """Summary, tables and layers of one scenario's study.

    Parameters
    ----------
    study
        The finished study (:func:`sim.study.runner.run_study`).
    """
    return _assembled(study)


def _assembled(study: StudyResult, /) -> RunResult:
    """:func:`assemble` (the ``roads`` layer from the region's arrays: 2.8 s at the metro
    scenario's 800,000 edges, less than handing it over from a forked process)."""
    prep, plans, units = study.prepared, study.plans, study.units
    per_rep = per_replication_frame(units)
    sites = plan_site_figures(prep, plans, units)  # the summary and the layer read these
    typed = build_summary(study, per_rep, sites=sites)
    selected = selected_layer(prep, plans, units, sites=sites)
    if study.phases:
        selected = with_phase_built(selected, plans, study.phases[-1].built)
    return RunResult(
        scenario=study.scenario,
        summary=typed.to_dict(),
        typed_summary=typed,
        per_replication=_phased_per_replication(study) if study.phases else per_rep,
        sessions=with_costs(
            sessions_frame(prep, plans, units if _needs_sessions(study) else []), prep.scenario
        ),
        candidates=_candidates(study),
        candidate_scores=study.candidate_scores,
        selected=selected,
        zones=with_grid_columns(zones_layer(prep, plans, units), plans, units),
        roads=roads_layer(prep),
        site_load=site_load_frame(prep, plans, units),
        queues=queue_frame(prep, plans, units),
        pack_stock=pack_stock_frame(prep, plans, units),
        zone_load=zone_load_frame(units),
        plans=plans,
        prepared=prep,
        units=units,
        phases=study.phases,
    )


# --------------------------------------------------------------------------- sweeps


@dataclass(frozen=True)
class SweepResult:
    """A sweep's results.

    Attributes
    ----------
    scenario
        The first point's scenario (its ``output`` section decides the language).
    points
        The swept values of each point, ``{key: value}``.
    table
        ``sweep.csv``: one row per (point, strategy): ``point``, the swept values,
        ``strategy``, ``sites`` (0: no public chargers), then ``<metric>`` (mean),
        ``<metric>_lo`` and ``<metric>_hi`` (95% interval) for every metric; with several
        demand segments the same per segment (``<segment>_<metric>``, ...) and with fleets
        each fleet's lost time (``fleet_<name>_lost_min_per_vehicle_day``, ...;
        :meth:`~sim.export.summary.SweepRow.record`).
    per_replication
        ``per_replication.csv``: one row per (point, strategy, replication): ``point``,
        the swept values, ``strategy``, ``replication`` and every metric.
    summary
        The content of the sweep's ``summary.json`` as plain dicts and lists.
    typed_summary
        The same as frozen dataclasses; the sweep's report and figure read this one.
    """

    scenario: Scenario
    points: list[dict[str, Any]]
    table: pd.DataFrame
    per_replication: pd.DataFrame
    summary: dict[str, Any]
    typed_summary: SweepSummary


def _point_frame(i: int, point: dict[str, Any], per_rep: pd.DataFrame) -> pd.DataFrame:
    """A point's per-replication rows with ``point`` and the swept values in front
    (the swept columns in reverse key order, as ``per_replication.csv`` has always had
    them)."""
    out = per_rep.copy()
    for k, v in point.items():
        out.insert(0, k, [v] * len(out))
    out.insert(0, "point", i)
    return out


def sweep_result(sweep: SweepStudy, /) -> SweepResult:
    """Tables and summary of a sweep: every point's study, side by side.

    Parameters
    ----------
    sweep
        The sweep's studies, one per grid point (the same replications at each).
    """
    frames: list[pd.DataFrame] = []
    rows: list[SweepRow] = []
    comparisons: list[PointComparisons] = []
    for i, (point, study) in enumerate(zip(sweep.points, sweep.studies, strict=True)):
        per_rep = per_replication_frame(study.units)
        frames.append(_point_frame(i, point, per_rep))
        s = build_summary(study, per_rep)
        rows.extend(
            SweepRow(
                i, dict(point), n, st.metrics, len(st.sites), segments=st.segments, fleets=st.fleets
            )
            for n, st in s.strategies.items()
        )
        comparisons.append(PointComparisons(i, dict(point), s.comparisons))
    base = sweep.studies[0]
    typed = SweepSummary(
        scenario=base.scenario.name,
        seed=base.scenario.seed,
        replications=base.replications,
        keys=tuple(sweep.keys),
        points=tuple(dict(p) for p in sweep.points),
        rows=tuple(rows),
        comparisons=tuple(comparisons),
    )
    return SweepResult(
        scenario=base.scenario,
        points=[dict(p) for p in sweep.points],
        table=typed.table(),
        per_replication=pd.concat(frames, ignore_index=True),
        summary=typed.to_dict(),
        typed_summary=typed,
    )
