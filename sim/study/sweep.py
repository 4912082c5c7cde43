"""A sweep's table: one row per (point, strategy), from the studies of every point.

(Interim: the export stage takes this over.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.metrics.intervals import aggregate, paired_differences
from sim.metrics.scores import METRICS
from sim.study.runner import SweepStudy
from sim.study.units import per_replication_frame

__all__ = ["SweepResult", "sweep_result"]


@dataclass(frozen=True)
class SweepResult:
    """A sweep's results.

    Attributes
    ----------
    points
        The swept values of each point.
    table
        One row per (point, strategy): the swept values, then ``<metric>`` (mean),
        ``<metric>_lo`` and ``<metric>_hi`` (95% interval) for every metric.
    per_replication
        One row per (point, strategy, replication) with every metric.
    summary
        The content of the sweep's ``summary.json``.
    """

    points: list[dict[str, Any]]
    table: pd.DataFrame
    per_replication: pd.DataFrame
    summary: dict[str, Any]


def sweep_result(sweep: SweepStudy, /) -> SweepResult:
    """The table, per-replication frame and summary of a sweep's studies."""
    points = sweep.points
    rows, table_rows, comparisons = [], [], []
    for i, (point, study) in enumerate(zip(points, sweep.studies, strict=True)):
        order = list(study.plans)
        per_rep = per_replication_frame(study.units)
        for k, v in point.items():
            per_rep.insert(0, k, [v] * len(per_rep))
        per_rep.insert(0, "point", i)
        rows.append(per_rep)
        agg = aggregate(per_rep[["strategy", "replication", *METRICS]])
        for name in order:
            row: dict[str, Any] = {"point": i, **point, "strategy": name}
            for m in METRICS:
                row[m] = agg[name][m]["mean"]
                row[f"{m}_lo"], row[f"{m}_hi"] = agg[name][m]["ci95"]
            table_rows.append(row)
        comparisons.append(
            {
                "point": i,
                **point,
                "pairs": paired_differences(per_rep[["strategy", "replication", *METRICS]]),
            }
        )
    table = pd.DataFrame(table_rows)
    per_replication = pd.concat(rows, ignore_index=True)
    base = sweep.studies[0].scenario
    summary = {
        "scenario": base.name,
        "seed": base.seed,
        "replications": sweep.studies[0].replications,
        "sweep": {"keys": sweep.keys, "points": points},
        "table": json.loads(table.to_json(orient="records")),
        "comparisons": comparisons,
    }
    return SweepResult(points=points, table=table, per_replication=per_replication, summary=summary)
