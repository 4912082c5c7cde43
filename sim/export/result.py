"""A run's results as tables and layers: :class:`RunResult` and :func:`assemble`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from sim.config import Scenario
from sim.export.layers import (
    candidates_layer,
    queue_frame,
    roads_layer,
    selected_layer,
    sessions_frame,
    site_load_frame,
    zones_layer,
)
from sim.export.summary import build_summary
from sim.siting.plan import Plan
from sim.study.prepare import Prepared
from sim.study.refine import candidate_columns
from sim.study.units import UnitResult, per_replication_frame

__all__ = ["RunResult", "assemble"]


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced.

    Attributes
    ----------
    scenario
        The validated scenario (every default filled in).
    summary
        The content of ``summary.json``.
    per_replication
        One row per (strategy, replication), a column per metric.
    sessions
        One row per charging attempt (``sessions.parquet``).
    candidates, selected, zones, roads
        The layers of ``sites.gpkg`` (EPSG:4326).
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
    """

    scenario: Scenario
    summary: dict[str, Any]
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


def assemble(
    prep: Prepared,
    plans: dict[str, Plan],
    units: list[UnitResult],
    /,
    *,
    replications: int,
    candidate_scores: pd.DataFrame | None = None,
) -> RunResult:
    """Summary, tables and layers from the units of one scenario."""
    per_rep = per_replication_frame(units)
    summary = build_summary(prep, plans, per_rep, replications)
    cands = candidates_layer(prep, plans)
    if candidate_scores is not None:
        sc_cfg = prep.scenario.simulation.score_candidates
        against = (sc_cfg.against if sc_cfg is not None else None) or next(iter(plans))
        cols = candidate_columns(candidate_scores, against=against, n_candidates=len(cands))
        for c in cols.columns:
            cands[c] = cols[c].to_numpy()
    return RunResult(
        scenario=prep.scenario,
        summary=summary,
        per_replication=per_rep,
        sessions=sessions_frame(prep, plans, units),
        candidates=cands,
        candidate_scores=candidate_scores,
        selected=selected_layer(prep, plans, units),
        zones=zones_layer(prep, plans, units),
        roads=roads_layer(prep),
        site_load=site_load_frame(prep, plans, units),
        queues=queue_frame(prep, plans, units),
        plans=plans,
        prepared=prep,
        units=units,
    )
