"""Over replications: means with Student-t 95% intervals, and paired comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from sim.metrics.scores import METRIC_RANGE, METRICS

__all__ = [
    "DIRECTION",
    "aggregate",
    "ci95",
    "paired_differences",
]


def ci95(
    values: np.ndarray, /, *, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float | None, float | None]:
    """Student-t 95% confidence interval of the mean, kept inside ``bounds``.

    The interval is over replications (their between-replication spread), truncated to
    the quantity's possible range (a share to [0, 1], a wait to >= 0): truncation drops
    only impossible values, so the coverage of the interval is unchanged.

    Parameters
    ----------
    values
        One value per replication.
    bounds
        ``(low, high)``: the range the quantity can take.

    Returns
    -------
    tuple
        ``(low, high)``; ``(None, None)`` for fewer than two values.
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return None, None
    m = float(v.mean())
    sem = float(v.std(ddof=1) / np.sqrt(v.size))
    if sem == 0.0:
        return m, m
    h = float(special.stdtrit(v.size - 1, 0.975)) * sem
    low, high = bounds
    return max(m - h, low), min(m + h, high)


#: +1 where a larger value is better, -1 where a smaller one is, 0 where neither is.
DIRECTION: dict[str, int] = {
    "wait_mean_min": -1,
    "wait_p95_min": -1,
    "unserved_share": -1,
    "stranded_share": -1,
    "access_time_mean_min": -1,
    "detour_mean_min": -1,
    "utilization_mean": 0,
    "coverage_share": 1,
    "energy_served_kwh": 1,
    "difficulty_index": -1,
}


def paired_differences(per_rep: pd.DataFrame, /) -> list[dict[str, Any]]:
    """Paired comparison of every two strategies, metric by metric.

    Strategies see the same demand in a replication (common random numbers), so the
    difference ``a - b`` is taken replication by replication and its mean gets a
    Student-t 95% interval.  A difference is significant when the interval excludes 0;
    ``better`` names the strategy the difference favours (``None`` when not significant
    or when the metric has no better direction).

    Returns
    -------
    list of dict
        ``{"a", "b", "metrics": {METRIC: {"mean_diff", "ci95", "significant",
        "better"}}}`` for every pair in config order.
    """
    names = list(dict.fromkeys(per_rep["strategy"]))
    wide = {n: per_rep[per_rep["strategy"] == n].set_index("replication") for n in names}
    out: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            metrics: dict[str, Any] = {}
            for m in METRICS:
                d = (wide[a][m] - wide[b][m]).dropna().to_numpy(dtype=float)
                if d.size == 0:
                    metrics[m] = {
                        "mean_diff": None,
                        "ci95": [None, None],
                        "significant": False,
                        "better": None,
                    }
                    continue
                lo, hi = ci95(d)
                sig = lo is not None and hi is not None and (lo > 0 or hi < 0)
                mean = float(d.mean())
                better = None
                if sig and DIRECTION[m] != 0:
                    better = a if mean * DIRECTION[m] > 0 else b
                metrics[m] = {
                    "mean_diff": mean,
                    "ci95": [lo, hi],
                    "significant": bool(sig),
                    "better": better,
                }
            out.append({"a": a, "b": b, "metrics": metrics})
    return out


def aggregate(per_rep: pd.DataFrame, /) -> dict[str, dict[str, Any]]:
    """Mean and 95% interval of every metric per strategy.

    Parameters
    ----------
    per_rep
        One row per (strategy, replication) with a column per metric.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, g in per_rep.groupby("strategy", sort=False):
        metrics: dict[str, Any] = {}
        for m in METRICS:
            col = g[m].to_numpy(dtype=float)
            if np.isnan(col).all():
                metrics[m] = {"mean": None, "ci95": [None, None]}
                continue
            col = col[~np.isnan(col)]
            lo, hi = ci95(col, bounds=METRIC_RANGE[m])
            metrics[m] = {"mean": float(col.mean()), "ci95": [lo, hi]}
        out[str(name)] = metrics
    return out
