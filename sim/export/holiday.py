"""The holiday operations comparison of a run (``summary.json``'s ``holiday`` section,
the terminal's holiday table): per strategy, the wait at the busiest service area on the
peak day, the vehicles that ran flat, and each figure's paired
difference against the first strategy (common random numbers: replication by
replication, the same demand).  The busiest service area is the first strategy's, in
each replication, and every plan is measured there.

Only for scenarios with a holiday on the expressway (``demand.highway.holiday``);
others have no such section.  The figures are :mod:`sim.metrics.holiday`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.metrics.holiday import HOLIDAY_FIGURES, holiday_figures, peak_day
from sim.metrics.intervals import ci95
from sim.study.plans import stations_of
from sim.study.runner import StudyResult

__all__ = ["HolidaySummary", "holiday_summaries"]

Interval = tuple[float | None, float | None]


def _stat(values: list[float], /, *, signed: bool = False) -> dict[str, Any]:
    """``{"mean", "ci95"}`` over replications, NaN-free (``None`` without values); the
    interval kept >= 0 unless ``signed`` (a difference)."""
    v = np.array([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": None, "ci95": [None, None]}
    lo, hi = ci95(v, bounds=(-np.inf, np.inf) if signed else (0.0, np.inf))
    return {"mean": float(v.mean()), "ci95": [lo, hi]}


@dataclass(frozen=True)
class HolidaySummary:
    """One strategy's holiday figures.

    Attributes
    ----------
    peak_day
        The 1-based day with the most through vehicles entering.
    busiest_site
        The service area measured: the first strategy's with the most arrivals that day
        (the most frequent over the replications).
    figures
        Per :data:`~sim.metrics.holiday.HOLIDAY_FIGURES`, ``{"mean", "ci95"}`` over
        replications.
    vs_base
        The same figures' paired differences (this strategy minus the first, replication
        by replication), ``{"mean", "ci95"}``; empty for the first strategy.
    """

    peak_day: int
    busiest_site: str
    figures: Mapping[str, Mapping[str, Any]]
    vs_base: Mapping[str, Mapping[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The ``holiday`` section of a strategy in ``summary.json``."""
        out: dict[str, Any] = {
            "peak_day": self.peak_day,
            "busiest_site": self.busiest_site,
            **{k: dict(v) for k, v in self.figures.items()},
        }
        if self.vs_base:
            out["vs_base"] = {k: dict(v) for k, v in self.vs_base.items()}
        return out


def holiday_summaries(study: StudyResult, /) -> dict[str, HolidaySummary]:
    """Per strategy (in plan order), its :class:`HolidaySummary`; empty without a
    holiday on the expressway."""
    prep = study.prepared
    hw = prep.scenario.demand.highway
    if not hw.enabled or hw.holiday is None or not study.units:
        return {}
    per: dict[str, dict[int, dict[str, Any]]] = {}
    day = peak_day(study.units[0].demand)
    names = list(study.plans)
    where: dict[int, str | None] = {}  # the base plan's busiest area, per replication
    for name in names:
        ids = stations_of(prep, study.plans[name]).site_id
        mine = [u for u in study.units if u.strategy == name]
        per[name] = {
            u.replication: holiday_figures(
                u.log, u.demand, site_ids=ids, day=day, site=where.get(u.replication)
            )
            for u in mine
        }
        if name == names[0]:
            where = {r: str(f["busiest_site"]) or None for r, f in per[name].items()}
    base = per[names[0]]
    out = {}
    for name in names:
        reps = per[name]
        sites = Counter(str(f["busiest_site"]) for f in reps.values() if f["busiest_site"])
        figures = {k: _stat([float(f[k]) for f in reps.values()]) for k in HOLIDAY_FIGURES}
        vs_base = {}
        if name != names[0]:
            common = sorted(set(reps) & set(base))
            vs_base = {
                k: _stat([float(reps[r][k]) - float(base[r][k]) for r in common], signed=True)
                for k in HOLIDAY_FIGURES
            }
        out[name] = HolidaySummary(
            peak_day=day,
            busiest_site=sites.most_common(1)[0][0] if sites else "",
            figures=figures,
            vs_base=vs_base,
        )
    return out
