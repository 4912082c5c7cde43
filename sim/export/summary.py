"""The run's summary: what ``summary.json`` holds."""

from __future__ import annotations

import math
import platform
from importlib import metadata
from typing import Any

import pandas as pd

from sim.metrics.intervals import aggregate, paired_differences
from sim.siting.plan import Plan
from sim.study.prepare import Prepared

__all__ = ["build_summary", "provenance"]

_VERSIONED = ("chargesite", "numpy", "scipy", "pandas", "simpy", "osmnx", "pyrosm", "highspy",
              "geopandas", "shapely")  # fmt: skip


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def provenance(prep: Prepared, /) -> dict[str, Any]:
    """Versions, data checksums and region facts (no wall-clock time, so that the
    same inputs give a byte-identical summary)."""
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "versions": versions,
        "data_sha256": dict(sorted(prep.checksums.items())),
        "region": prep.region.name,
        "region_notes": list(prep.region.notes),
        "crs": prep.region.crs,
    }


def build_summary(
    prep: Prepared, plans: dict[str, Plan], per_rep: pd.DataFrame, replications: int, /
) -> dict[str, Any]:
    """The ``summary.json`` document."""
    agg = aggregate(per_rep)
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    strategies: dict[str, Any] = {}
    for name, plan in plans.items():
        strategies[name] = {
            "model": plan.model,
            "sites": ids[plan.candidate].tolist(),
            "ports": plan.ports.tolist(),
            "cost_cny": plan.cost_cny,
            "solver": {"objective": plan.objective, "optimal": plan.optimal, "gap": plan.gap},
            "metrics": agg[name],
        }
    sc = prep.scenario
    return _clean(
        {
            "scenario": sc.name,
            "seed": sc.seed,
            "replications": replications,
            "days": sc.demand.days,
            "strategies": strategies,
            "comparisons": paired_differences(per_rep),
            "provenance": provenance(prep),
        }
    )
