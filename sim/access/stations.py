"""Plain-array statics of station access: nearest stations, stations along a route."""

from __future__ import annotations

import numpy as np

__all__ = [
    "k_nearest",
    "route_options",
]


def k_nearest(times: np.ndarray, k: int, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` columns with the smallest finite times <= limit."""
    k = min(k, times.shape[1])
    if k == 0:
        return (np.full((times.shape[0], 0), -1, np.int64), np.full((times.shape[0], 0), np.inf))
    idx = np.argsort(times, axis=1, kind="stable")[:, :k]
    t = np.take_along_axis(times, idx, axis=1)
    ok = np.isfinite(t) & (t <= limit)
    return np.where(ok, idx, -1).astype(np.int64), np.where(ok, t, np.inf)


def route_options(detour: np.ndarray, along_km: np.ndarray, limit: float) -> np.ndarray:
    """Per row, the stations a through driver considers, in route order.

    Every station within the detour limit, plus the three with the smallest detour
    beyond it (a last resort when nothing nearer can be reached), ordered by driving
    distance along the route; -1 pads the rows.
    """
    n_rows, m = detour.shape
    if m == 0 or n_rows == 0:
        return np.full((n_rows, 0), -1, dtype=np.int64)
    rank = np.argsort(np.argsort(detour, axis=1, kind="stable"), axis=1, kind="stable")
    take = np.isfinite(detour) & ((detour <= limit) | (rank < 3))
    width = max(int(take.sum(axis=1).max()), 1)
    key = np.where(take, along_km, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :width]
    chosen = np.take_along_axis(take, order, axis=1)
    return np.where(chosen, order, -1).astype(np.int64)
