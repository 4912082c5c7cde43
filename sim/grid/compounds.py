"""Compounds' transformers and household base load on the 15-minute grid of the horizon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.schema import GridConfig

__all__ = ["STEP_MIN", "Compounds", "compounds", "step_hours"]

#: Length of a step of the grid stage (min).
STEP_MIN = 15
#: Steps per day.
STEPS_PER_DAY = 1440 // STEP_MIN


@dataclass(frozen=True)
class Compounds:
    """Every zone of the region as a compound with a transformer.

    Attributes
    ----------
    zone_id
        Zone ids (``region.zones["zone_id"]``), one per compound.
    households
        float64 households.
    kva
        float64 transformer rating (kVA): the zones file's ``kva``, else the default.
    limit_kw
        float64 the most the compound may draw (kW): ``kva x power_factor x
        loading_limit``.
    power_factor
        kW per kVA (``grid.transformer.power_factor``).
    base_kw
        float64 ``(n_compounds, n_steps)`` household load other than EVs (kW), the mean
        of each 15-minute step.
    """

    zone_id: np.ndarray
    households: np.ndarray
    kva: np.ndarray
    limit_kw: np.ndarray
    power_factor: float
    base_kw: np.ndarray

    @property
    def n_steps(self) -> int:
        """Steps in the horizon."""
        return int(self.base_kw.shape[1])

    def __len__(self) -> int:
        return int(self.zone_id.shape[0])


def step_hours(n_steps: int, /, *, start_weekday: int) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (int, 0-23) and weekend flag (bool) of each step of the horizon."""
    k = np.arange(n_steps)
    hour = (k % STEPS_PER_DAY) * STEP_MIN // 60
    weekend = (start_weekday + k // STEPS_PER_DAY) % 7 >= 5
    return hour.astype(np.int64), weekend


def compounds(
    zones: pd.DataFrame, /, *, grid: GridConfig, days: int, start_weekday: int
) -> Compounds:
    """Transformers and base load of every zone.

    Parameters
    ----------
    zones
        ``region.zones``: ``zone_id``, ``households`` and, from a zones file, ``kva``
        (NaN where the file gives none); optional ``extra_kva``: kVA added by a
        strategy's ``transformer_upgrades`` (the study adds the column).
    grid
        The ``grid`` section.
    days
        Simulated days (``demand.days``).
    start_weekday
        Weekday of day 1 (0 = Monday).
    """
    tr = grid.transformer
    hh = zones["households"].to_numpy(dtype=float)
    if tr.kva_per_compound is not None:
        default = np.full(hh.shape[0], tr.kva_per_compound)
    else:
        default = np.maximum(tr.kva_per_household * hh, tr.min_kva)
    given = zones["kva"].to_numpy(dtype=float) if "kva" in zones.columns else None
    kva = default if given is None else np.where(np.isnan(given), default, given)
    if "extra_kva" in zones.columns:
        kva = kva + zones["extra_kva"].to_numpy(dtype=float)
    n_steps = days * STEPS_PER_DAY
    hour, weekend = step_hours(n_steps, start_weekday=start_weekday)
    wd = np.asarray(grid.base_load.weekday_kw_per_household, float)
    we = np.asarray(grid.base_load.weekend_kw_per_household, float)
    per_hh = np.where(weekend, we[hour], wd[hour])
    return Compounds(
        zone_id=zones["zone_id"].astype(str).to_numpy(),
        households=hh,
        kva=kva,
        limit_kw=kva * tr.power_factor * tr.loading_limit,
        power_factor=tr.power_factor,
        base_kw=hh[:, None] * per_hh[None, :],
    )
