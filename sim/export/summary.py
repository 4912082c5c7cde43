"""The typed summary of a run and of a sweep: what ``summary.json`` holds.

:func:`build_summary` turns a finished study into a :class:`Summary` (frozen
dataclasses: one :class:`StrategySummary` per strategy with its plan, solver status,
:class:`MetricSummary` per metric, optional refinement record and, for a plan with
battery-swap stations, its :class:`SwapSummary`; the paired
:class:`Comparison` of every two strategies; :class:`Provenance`).  ``summary.json`` is
:meth:`Summary.to_json`; the map, the report, the figures and the terminal table read
the typed object.  :class:`SweepSummary` is the same for ``chargesite sweep``.

Every number that is not finite (NaN, inf) is ``None`` in the typed object, as it is
``null`` in the file.  Nothing here records wall-clock time, so the same inputs give a
byte-identical file.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from sim.config import StrategyConfig
from sim.demand.model import SEGMENTS
from sim.export.grid import grid_summaries
from sim.export.holiday import holiday_summaries
from sim.metrics.intervals import aggregate, ci95, paired_differences
from sim.metrics.scores import METRICS
from sim.metrics.sites import SWAP_FIGURES, SiteFigures, SizingTarget, site_figures
from sim.siting.plan import Plan
from sim.study.prepare import Prepared
from sim.study.runner import StudyResult
from sim.study.units import UnitResult, per_replication_frame

__all__ = [
    "FLEET_FIGURES",
    "Comparison",
    "ComparisonRow",
    "MetricDifference",
    "MetricSummary",
    "PhaseSummary",
    "PointComparisons",
    "Provenance",
    "SolverSummary",
    "StrategySummary",
    "Summary",
    "SwapStationSummary",
    "SwapSummary",
    "SweepRow",
    "SweepSummary",
    "build_summary",
    "plan_site_figures",
    "provenance",
]

_VERSIONED = ("chargesite", "numpy", "scipy", "pandas", "simpy", "osmnx", "pyrosm", "highspy",
              "geopandas", "shapely")  # fmt: skip

Interval = tuple[float | None, float | None]


def _finite(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when it is missing or not finite."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _interval(pair: Sequence[Any] | None) -> Interval:
    lo, hi = [*(pair or ()), None, None][:2]
    return _finite(lo), _finite(hi)


def _clean(x: Any) -> Any:
    """A JSON record with every non-finite float replaced by ``None``."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def _dumps(data: Any, *, strict: bool) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=not strict) + "\n"


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class MetricSummary:
    """One metric over replications.

    Attributes
    ----------
    mean
        Mean over replications, in the metric's unit (``None``: no replication had a
        value, e.g. the detour of a run without highway traffic).
    ci95
        Student-t 95% interval of the mean, ``(lo, hi)``; ``(None, None)`` with fewer
        than 2 values.
    """

    mean: float | None
    ci95: Interval = (None, None)

    @property
    def half_width(self) -> float | None:
        """Half the width of :attr:`ci95` (the ``±`` of a table), or ``None``."""
        lo, hi = self.ci95
        return None if lo is None or hi is None else (hi - lo) / 2.0

    def to_dict(self) -> dict[str, Any]:
        """``{"mean", "ci95": [lo, hi]}``."""
        return {"mean": self.mean, "ci95": list(self.ci95)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> MetricSummary:
        """From :meth:`to_dict`'s shape."""
        return cls(mean=_finite(data["mean"]), ci95=_interval(data["ci95"]))


@dataclass(frozen=True)
class SolverSummary:
    """What the siting model reported.

    Attributes
    ----------
    objective
        The model's objective value (its own unit, e.g. demand-weighted minutes), or
        ``None`` when the model has none.
    optimal
        The solver proved the plan optimal.
    gap
        Relative optimality gap (0-1), or ``None``.
    """

    objective: float | None
    optimal: bool
    gap: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"objective", "optimal", "gap"}``."""
        return {"objective": self.objective, "optimal": self.optimal, "gap": self.gap}


@dataclass(frozen=True)
class PhaseSummary:
    """One strategy in one phase of a phased plan (``summary.json``'s ``phases``).

    Attributes
    ----------
    year
        The phase's year.
    sites, ports
        ``site_id`` and ports of every site open in the phase (built in it or before).
    built
        The year each site was built (0: an existing station), same order.
    cost_cny
        Money of the phase's new sites and ports (CNY).
    total_cost_cny
        Money of every site built up to and in the phase (CNY).
    access_cost
        The phase's demand-weighted access cost of the plan (sessions/day x min; demand
        no site reaches counts at twice the longest reachable trip), the look-ahead
        p-median's objective term of the phase.
    metrics
        Every metric over the phase's replications.
    """

    year: int
    sites: tuple[str, ...]
    ports: tuple[int, ...]
    built: tuple[int, ...]
    cost_cny: float | None
    total_cost_cny: float | None
    access_cost: float | None
    metrics: Mapping[str, MetricSummary]

    def to_dict(self) -> dict[str, Any]:
        """One entry of a strategy's ``phases`` list."""
        return {
            "year": self.year,
            "sites": list(self.sites),
            "ports": list(self.ports),
            "built": list(self.built),
            "cost_cny": self.cost_cny,
            "total_cost_cny": self.total_cost_cny,
            "access_cost": self.access_cost,
            "metrics": {m: v.to_dict() for m, v in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> PhaseSummary:
        """From :meth:`to_dict`'s shape."""
        return cls(
            year=int(data["year"]),
            sites=tuple(str(x) for x in data["sites"]),
            ports=tuple(int(x) for x in data["ports"]),
            built=tuple(int(x) for x in data["built"]),
            cost_cny=_finite(data["cost_cny"]),
            total_cost_cny=_finite(data["total_cost_cny"]),
            access_cost=_finite(data["access_cost"]),
            metrics={m: MetricSummary.from_dict(v) for m, v in data["metrics"].items()},
        )


@dataclass(frozen=True)
class StrategySummary:
    """One strategy: its plan and its scores.

    Attributes
    ----------
    name
        The strategy's label (``strategies[].name``).
    model
        Registry name of the siting model.
    sites
        ``site_id`` of each chosen site, in plan order.
    ports
        Ports per site, same order.
    cost_cny
        Cost of the new sites and ports (CNY); with mobile units, their unit-days and
        the energy they delivered (mean over replications) at their per-kWh cost.
    solver
        The siting model's status.
    metrics
        Per metric of :data:`sim.metrics.scores.METRICS`, in that order.
    refine
        For a ``<name>+simopt`` strategy, the record of its refinement by simulation
        (search trajectory, hold-out gain; :meth:`sim.study.refine.Improvement.summary`),
        else ``None``.
    segments
        Per demand segment (``residential``, ``highway``, ``fleet``), every metric over
        replications as :attr:`metrics` is; empty when the demand has one segment.
    fleets
        Per fleet (``demand.fleets[].name``), over replications:
        ``lost_min_per_vehicle_day`` (driving to stations and waiting, min per vehicle
        and day), ``lost_cny_per_vehicle_day`` (that time at the fleet's hourly earning,
        CNY) and ``sessions_per_vehicle_day``; empty without fleets.
    swap
        What the plan's battery-swap stations did and the check of their wait target
        (:class:`SwapSummary`); ``None`` when the plan has no swap station.
    phases
        With ``phases``: the strategy in every phase (:class:`PhaseSummary`), in year
        order; the other fields are its last phase.  Empty otherwise.
    planning
        With ``phases``: ``{"mode": "myopic" | "look-ahead", "access_cost": A,
        "objective": X}``: ``A`` the sum over phases of ``phases[].weight`` x the
        phase's ``access_cost``; ``X`` the same sum of the multi-period objective of the
        strategy's model (p-median: ``A``; mclp: weighted demand within the radius,
        sessions/day; ``None`` for other models).  ``None`` without phases.
    holiday
        With a holiday on the expressway: the peak day's figures at the busiest service
        area, the vehicles run flat and their paired differences against the first
        strategy (:meth:`sim.export.holiday.HolidaySummary.to_dict`); ``None`` otherwise.
    grid
        With ``grid``: compound power and prices (:func:`sim.export.grid.grid_summaries`);
        ``None`` otherwise.
    """

    name: str
    model: str
    sites: tuple[str, ...]
    ports: tuple[int, ...]
    cost_cny: float | None
    solver: SolverSummary
    metrics: Mapping[str, MetricSummary]
    refine: Mapping[str, Any] | None = None
    segments: Mapping[str, Mapping[str, MetricSummary]] = field(default_factory=dict)
    fleets: Mapping[str, Mapping[str, MetricSummary]] = field(default_factory=dict)
    swap: SwapSummary | None = None
    phases: tuple[PhaseSummary, ...] = ()
    planning: Mapping[str, Any] | None = None
    holiday: Mapping[str, Any] | None = None
    grid: Mapping[str, Any] | None = None

    @property
    def total_ports(self) -> int:
        """Ports over all sites."""
        return int(sum(self.ports))

    def to_dict(self) -> dict[str, Any]:
        """The strategy's entry of ``summary.json`` (``refine`` only when refined,
        ``segments`` and ``fleets`` only when there are any, ``swap`` only with swap
        stations)."""
        out: dict[str, Any] = {
            "model": self.model,
            "sites": list(self.sites),
            "ports": list(self.ports),
            "cost_cny": self.cost_cny,
            "solver": self.solver.to_dict(),
            "metrics": {m: v.to_dict() for m, v in self.metrics.items()},
        }
        if self.refine is not None:
            out["refine"] = _clean(dict(self.refine))
        for key, part in (("segments", self.segments), ("fleets", self.fleets)):
            if part:
                out[key] = {n: {m: v.to_dict() for m, v in ms.items()} for n, ms in part.items()}
        if self.swap is not None:
            out["swap"] = self.swap.to_dict()
        if self.phases:
            out["planning"] = _clean(dict(self.planning or {}))
            out["phases"] = [p.to_dict() for p in self.phases]
        if self.holiday is not None:
            out["holiday"] = _clean(dict(self.holiday))
        if self.grid is not None:
            out["grid"] = _clean(dict(self.grid))
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any], /) -> StrategySummary:
        """From :meth:`to_dict`'s shape."""
        s = data["solver"]
        return cls(
            name=name,
            model=str(data["model"]),
            sites=tuple(str(x) for x in data["sites"]),
            ports=tuple(int(p) for p in data["ports"]),
            cost_cny=_finite(data["cost_cny"]),
            solver=SolverSummary(_finite(s["objective"]), bool(s["optimal"]), _finite(s["gap"])),
            metrics={m: MetricSummary.from_dict(v) for m, v in data["metrics"].items()},
            refine=data.get("refine"),
            segments=_nested(data.get("segments", {})),
            fleets=_nested(data.get("fleets", {})),
            swap=SwapSummary.from_dict(data["swap"]) if "swap" in data else None,
            phases=tuple(PhaseSummary.from_dict(p) for p in data.get("phases", ())),
            planning=data.get("planning"),
            holiday=data.get("holiday"),
            grid=data.get("grid"),
        )


def _nested(data: Mapping[str, Mapping[str, Any]], /) -> dict[str, dict[str, MetricSummary]]:
    """``{name: {metric: MetricSummary}}`` from its ``summary.json`` shape."""
    return {
        str(n): {str(m): MetricSummary.from_dict(v) for m, v in ms.items()}
        for n, ms in data.items()
    }


@dataclass(frozen=True)
class SwapStationSummary:
    """One battery-swap station of a plan, over replications
    (:class:`~sim.metrics.sites.SiteFigures`).

    Attributes
    ----------
    site_id
        Candidate site id.
    bays, packs, pack_chargers
        Its equipment.
    swaps_per_day
        Swaps done per day (mean over replications).
    pack_availability
        Share of the simulated time with a charged pack in stock (0-1).
    wait_mean_min
        Mean wait of the attempts that queued there (swapped or reneged; min), as the
        ``selected`` layer's ``wait_mean_min``.
    bay_wait_mean_min, pack_wait_mean_min
        Mean wait of the swaps done for a bay, and in the bay for a charged pack (min).
    peak_hour
        Hour of the day (0-23) with the most arrivals over the run; ``None``: none.
    peak_arrivals_per_day
        Arrivals in that hour per simulated day.
    peak_wait_share
        Share of the peak hour's arrivals that waited longer than the target wait or
        balked (0-1); ``None`` with no arrival.
    peak_balk_share
        Share of the peak hour's arrivals that balked (part of ``peak_wait_share``).
    target_met
        ``peak_wait_share <= `` the target's acceptable share; ``None`` with no arrival.
    """

    site_id: str
    bays: int
    packs: int
    pack_chargers: int
    swaps_per_day: float | None
    pack_availability: float | None
    wait_mean_min: float | None
    bay_wait_mean_min: float | None
    pack_wait_mean_min: float | None
    peak_hour: int | None
    peak_arrivals_per_day: float | None
    peak_wait_share: float | None
    peak_balk_share: float | None
    target_met: bool | None

    def to_dict(self) -> dict[str, Any]:
        """The station's entry of ``swap.stations`` in ``summary.json``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> SwapStationSummary:
        """From :meth:`to_dict`'s shape."""
        hour, met = data["peak_hour"], data["target_met"]
        return cls(
            site_id=str(data["site_id"]),
            bays=int(data["bays"]),
            packs=int(data["packs"]),
            pack_chargers=int(data["pack_chargers"]),
            **{k: _finite(data[k]) for k in _STATION_FLOATS},
            peak_hour=None if hour is None else int(hour),
            target_met=None if met is None else bool(met),
        )


_STATION_FLOATS = ("swaps_per_day", "pack_availability", "wait_mean_min", "bay_wait_mean_min",
                   "pack_wait_mean_min", "peak_arrivals_per_day", "peak_wait_share",
                   "peak_balk_share")  # fmt: skip


@dataclass(frozen=True)
class SwapSummary:
    """A plan's battery-swap stations: what they did over replications, and the check of
    the wait target at each station's peak hour (docs/swap.md, "Per-station check").

    Attributes
    ----------
    figures
        Per figure of :data:`~sim.metrics.sites.SWAP_FIGURES`, over all the plan's swap
        stations, mean and 95% interval over replications: ``swaps_per_day``,
        ``pack_availability`` (the stations' mean share of time with a charged pack in
        stock, 0-1), ``bay_wait_mean_min`` and ``pack_wait_mean_min`` (of the swaps
        done, min).
    target_wait_min, target_max_prob
        The target checked: at most ``target_max_prob`` of the peak hour's arrivals wait
        longer than ``target_wait_min`` (min).
    target_source
        ``"sizing"``: the strategy's ``sizing`` section; ``"default"``: that section's
        documented defaults (the plan was not sized).
    stations
        One per swap station, in plan order.
    """

    figures: Mapping[str, MetricSummary]
    target_wait_min: float
    target_max_prob: float
    target_source: str
    stations: tuple[SwapStationSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        """The strategy's ``swap`` entry of ``summary.json``."""
        return {
            **{k: v.to_dict() for k, v in self.figures.items()},
            "target_wait_min": self.target_wait_min,
            "target_max_prob": self.target_max_prob,
            "target_source": self.target_source,
            "stations": [s.to_dict() for s in self.stations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> SwapSummary:
        """From :meth:`to_dict`'s shape."""
        return cls(
            figures={k: MetricSummary.from_dict(data[k]) for k in SWAP_FIGURES},
            target_wait_min=float(data["target_wait_min"]),
            target_max_prob=float(data["target_max_prob"]),
            target_source=str(data["target_source"]),
            stations=tuple(SwapStationSummary.from_dict(s) for s in data["stations"]),
        )


@dataclass(frozen=True)
class MetricDifference:
    """Paired difference ``a - b`` of one metric, replication by replication.

    Attributes
    ----------
    mean_diff
        Mean difference in the metric's unit (``None``: no replication had both).
    ci95
        Student-t 95% interval of the mean difference.
    significant
        The interval excludes 0.
    better
        The strategy the difference favours (``None`` when not significant or when the
        metric has no better direction).
    """

    mean_diff: float | None
    ci95: Interval
    significant: bool
    better: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{"mean_diff", "ci95", "significant", "better"}``."""
        return {
            "mean_diff": self.mean_diff,
            "ci95": list(self.ci95),
            "significant": self.significant,
            "better": self.better,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> MetricDifference:
        """From :meth:`to_dict`'s shape."""
        better = data["better"]
        return cls(
            mean_diff=_finite(data["mean_diff"]),
            ci95=_interval(data["ci95"]),
            significant=bool(data["significant"]),
            better=None if better is None else str(better),
        )


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of strategies ``a`` and ``b`` (common random numbers).

    Attributes
    ----------
    a, b
        Strategy names; differences are ``a - b``.
    metrics
        Per metric of :data:`sim.metrics.scores.METRICS`.
    """

    a: str
    b: str
    metrics: Mapping[str, MetricDifference]

    def to_dict(self) -> dict[str, Any]:
        """``{"a", "b", "metrics": {METRIC: ...}}``."""
        return {
            "a": self.a,
            "b": self.b,
            "metrics": {m: d.to_dict() for m, d in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> Comparison:
        """From :meth:`to_dict`'s shape (or :func:`~sim.metrics.intervals.paired_differences`)."""
        return cls(
            a=str(data["a"]),
            b=str(data["b"]),
            metrics={m: MetricDifference.from_dict(d) for m, d in data["metrics"].items()},
        )


@dataclass(frozen=True)
class Provenance:
    """Where the numbers came from.

    Attributes
    ----------
    python
        Python version.
    versions
        Versions of chargesite and its main dependencies (``None``: not installed).
    data_sha256
        SHA-256 of each input (region extract, user files), by what it is.
    region
        The region's name.
    region_notes
        What the region loader assumed or dropped, in its words.
    crs
        The projected CRS the run computed in (``"EPSG:32635"``).
    """

    python: str
    versions: Mapping[str, str | None]
    data_sha256: Mapping[str, str]
    region: str
    region_notes: tuple[str, ...]
    crs: str

    def to_dict(self) -> dict[str, Any]:
        """The ``provenance`` entry of ``summary.json``."""
        return {
            "python": self.python,
            "versions": dict(self.versions),
            "data_sha256": dict(self.data_sha256),
            "region": self.region,
            "region_notes": list(self.region_notes),
            "crs": self.crs,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> Provenance:
        """From :meth:`to_dict`'s shape."""
        return cls(
            python=str(data["python"]),
            versions=dict(data["versions"]),
            data_sha256=dict(data["data_sha256"]),
            region=str(data["region"]),
            region_notes=tuple(str(n) for n in data["region_notes"]),
            crs=str(data["crs"]),
        )


def provenance(prep: Prepared, /) -> Provenance:
    """Versions, data checksums and region facts of a run (no wall-clock time, so that
    the same inputs give a byte-identical summary)."""
    versions: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return Provenance(
        python=platform.python_version(),
        versions=versions,
        data_sha256=dict(sorted(prep.checksums.items())),
        region=prep.region.name,
        region_notes=tuple(prep.region.notes),
        crs=prep.region.crs,
    )


# --------------------------------------------------------------------------- run


@dataclass(frozen=True)
class ComparisonRow:
    """One row of a strategies x metrics table (the terminal's ``chargesite run``).

    Attributes
    ----------
    name
        Strategy name.
    sites
        Number of sites of its plan.
    metrics
        The requested metrics, in the requested order.
    """

    name: str
    sites: int
    metrics: tuple[MetricSummary, ...]


@dataclass(frozen=True)
class Summary:
    """The summary of a run (``summary.json``).

    Attributes
    ----------
    scenario
        Scenario name.
    seed
        The scenario seed.
    replications
        Replications per strategy.
    days
        Simulated days per replication.
    strategies
        Per strategy name, in config order (derived ``<name>+simopt`` strategies right
        after their origin).
    comparisons
        Every pair of strategies in config order.
    provenance
        Versions, checksums, region facts.
    """

    scenario: str
    seed: int
    replications: int
    days: int
    strategies: Mapping[str, StrategySummary]
    comparisons: tuple[Comparison, ...]
    provenance: Provenance

    @property
    def names(self) -> list[str]:
        """Strategy names in config order."""
        return list(self.strategies)

    def comparison_rows(self, metrics: Sequence[str], /) -> list[ComparisonRow]:
        """One row per strategy with the given metrics (for a strategies x metrics table).

        Parameters
        ----------
        metrics
            Names from :data:`sim.metrics.scores.METRICS`.
        """
        return [
            ComparisonRow(s.name, len(s.sites), tuple(s.metrics[m] for m in metrics))
            for s in self.strategies.values()
        ]

    @property
    def baseline(self) -> StrategySummary | None:
        """The first plan that builds nothing new (cost 0) and has a difficulty index:
        what "difficulty removed per million CNY" is measured against (as in the
        report); ``None`` without one."""
        for st in self.strategies.values():
            if st.cost_cny == 0 and st.metrics["difficulty_index"].mean is not None:
                return st
        return None

    def per_million_cny(self, name: str, /) -> float | None:
        """Difficulty points plan ``name`` removes per million CNY against
        :attr:`baseline`: ``(baseline's difficulty index - the plan's) / (the plan's cost
        / 1e6)``; ``None`` for the baseline itself, a plan that costs nothing, or
        without a baseline."""
        base, st = self.baseline, self.strategies[name]
        if base is None or st.name == base.name or not st.cost_cny:
            return None
        d, b = st.metrics["difficulty_index"].mean, base.metrics["difficulty_index"].mean
        if d is None or b is None:
            return None
        return (b - d) / (st.cost_cny / 1e6)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` document as plain dicts and lists."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "replications": self.replications,
            "days": self.days,
            "strategies": {n: s.to_dict() for n, s in self.strategies.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "provenance": self.provenance.to_dict(),
        }

    def to_json(self) -> str:
        """The text of ``summary.json`` (stable key order; ``null`` for missing values)."""
        return _dumps(self.to_dict(), strict=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> Summary:
        """From :meth:`to_dict`'s shape (e.g. a ``summary.json`` read back)."""
        return cls(
            scenario=str(data["scenario"]),
            seed=int(data["seed"]),
            replications=int(data["replications"]),
            days=int(data["days"]),
            strategies={
                str(n): StrategySummary.from_dict(str(n), s) for n, s in data["strategies"].items()
            },
            comparisons=tuple(Comparison.from_dict(c) for c in data["comparisons"]),
            provenance=Provenance.from_dict(data["provenance"]),
        )


def _metrics(agg: Mapping[str, Any]) -> dict[str, MetricSummary]:
    return {
        m: MetricSummary(mean=_finite(agg[m]["mean"]), ci95=_interval(agg[m]["ci95"]))
        for m in METRICS
    }


def _segments(units: Sequence[UnitResult], /) -> dict[str, dict[str, MetricSummary]]:
    """Every metric per segment over the units' replications (``{}``: one segment)."""
    rows = [
        {"strategy": seg, "replication": u.replication, **scores}
        for u in units
        for seg, scores in u.segments.items()
    ]
    if not rows:
        return {}
    frame = pd.DataFrame(rows, columns=["strategy", "replication", *METRICS])
    frame[list(METRICS)] = frame[list(METRICS)].astype(float)
    return {seg: _metrics(agg) for seg, agg in aggregate(frame).items()}


#: What :attr:`StrategySummary.fleets` holds per fleet, all >= 0.
FLEET_FIGURES = ("lost_min_per_vehicle_day", "lost_cny_per_vehicle_day", "sessions_per_vehicle_day")


def _fleets(units: Sequence[UnitResult], /) -> dict[str, dict[str, MetricSummary]]:
    """Each fleet's lost time, its cost and its sessions over the units' replications."""
    per_fleet: dict[str, list[Mapping[str, float]]] = {}
    for u in units:
        for name, figures in u.fleets.items():
            per_fleet.setdefault(name, []).append(figures)
    out: dict[str, dict[str, MetricSummary]] = {}
    for name, reps in per_fleet.items():
        out[name] = {}
        for key in FLEET_FIGURES:
            v = np.array([r[key] for r in reps], dtype=float)
            v = v[np.isfinite(v)]
            mean = float(v.mean()) if v.size else None
            out[name][key] = MetricSummary(mean, _interval(ci95(v, bounds=(0.0, np.inf))))
    return out


def _strategy_config(prep: Prepared, name: str, /) -> StrategyConfig | None:
    """The config of strategy ``name`` (a ``<name>+simopt`` plan: its origin's)."""
    by_name = {s.name: s for s in prep.scenario.strategies}
    return by_name.get(name, by_name.get(name.rsplit("+", 1)[0]))


def plan_site_figures(
    prep: Prepared, plans: Mapping[str, Plan], units: Sequence[UnitResult], /
) -> dict[str, SiteFigures]:
    """Per strategy, its plan's per-site figures over its replications
    (:func:`~sim.metrics.sites.site_figures`): what ``summary.json``'s ``swap`` section
    and the ``selected`` layer report.

    The wait target is the strategy's ``sizing`` target, or that section's defaults when
    the strategy has none.
    """
    out: dict[str, SiteFigures] = {}
    for name, plan in plans.items():
        mine = [u for u in units if u.strategy == name]
        cfg = _strategy_config(prep, name)
        out[name] = site_figures(
            [u.log for u in mine],
            [u.swap for u in mine],
            swap=plan.swap,
            horizon_min=prep.horizon_min,
            days=prep.scenario.demand.days,
            target=SizingTarget.of(cfg.sizing if cfg is not None else None),
        )
    return out


#: Possible range of each figure of :data:`~sim.metrics.sites.SWAP_FIGURES`.
_SWAP_RANGE = {"pack_availability": (0.0, 1.0)}


def _swap_summary(
    fig: SiteFigures, plan: Plan, units: Sequence[UnitResult], ids: np.ndarray, /
) -> SwapSummary | None:
    """The plan's :class:`SwapSummary`, or ``None`` without swap stations."""
    if not fig.swap.any():
        return None
    figures = {}
    for key in SWAP_FIGURES:
        v = fig.per_replication[key]
        v = v[np.isfinite(v)]
        bounds = _SWAP_RANGE.get(key, (0.0, np.inf))
        mean = float(v.mean()) if v.size else None
        figures[key] = MetricSummary(mean, _interval(ci95(v, bounds=bounds)))
    wait = np.mean([u.site_stats["wait_mean_min"] for u in units], axis=0)
    met = fig.target_met
    stations = tuple(
        SwapStationSummary(
            site_id=str(ids[plan.candidate[j]]),
            bays=int(plan.bays[j]),
            packs=int(plan.packs[j]),
            pack_chargers=int(plan.pack_chargers[j]),
            swaps_per_day=_finite(fig.swaps_per_day[j]),
            pack_availability=_finite(fig.pack_availability[j]),
            wait_mean_min=_finite(wait[j]),
            bay_wait_mean_min=_finite(fig.bay_wait_mean_min[j]),
            pack_wait_mean_min=_finite(fig.pack_wait_mean_min[j]),
            peak_hour=None if fig.peak_hour[j] < 0 else int(fig.peak_hour[j]),
            peak_arrivals_per_day=_finite(fig.peak_arrivals_per_day[j]),
            peak_wait_share=_finite(fig.peak_wait_share[j]),
            peak_balk_share=_finite(fig.peak_balk_share[j]),
            target_met=met[j],
        )
        for j in np.flatnonzero(fig.swap).tolist()
    )
    t = fig.target
    return SwapSummary(
        figures=figures,
        target_wait_min=t.wait_min,
        target_max_prob=t.max_prob,
        target_source="sizing" if t.from_strategy else "default",
        stations=stations,
    )


def _phase_fields(study: StudyResult, name: str, /) -> dict[str, Any]:
    """``phases`` and ``planning`` of strategy ``name`` (empty without phases)."""
    if not study.phases:
        return {}
    out: list[PhaseSummary] = []
    total = 0.0
    access = 0.0
    terms = [ph.model_objective[name] for ph in study.phases]
    objective = None
    if all(t is not None for t in terms):
        objective = sum(
            ph.weight * float(t or 0.0) for ph, t in zip(study.phases, terms, strict=True)
        )
    for ph in study.phases:
        st = ph.study
        plan = st.plans[name]
        ids = st.prepared.region.candidates["site_id"].astype(str).to_numpy()
        agg = aggregate(per_replication_frame([u for u in st.units if u.strategy == name]))
        total += ph.spent_cny[name]
        access += ph.weight * ph.access_cost[name]
        out.append(
            PhaseSummary(
                year=ph.year,
                sites=tuple(ids[plan.candidate].tolist()),
                ports=tuple(plan.ports.tolist()),
                built=tuple(int(y) for y in ph.built[name]),
                cost_cny=_finite(ph.spent_cny[name]),
                total_cost_cny=_finite(total),
                access_cost=_finite(ph.access_cost[name]),
                metrics=_metrics(agg[name]),
            )
        )
    cfg = next(s for s in study.scenario.strategies if s.name == name)
    planning = {
        "mode": cfg.planning or "myopic",
        "access_cost": _finite(access),
        "objective": None if objective is None else _finite(objective),
    }
    return {"phases": tuple(out), "planning": planning}


def _mobile_energy_cost(prep: Prepared, plan: Plan, units: Sequence[UnitResult], /) -> float:
    """Mean over replications of what the plan's mobile units' energy cost (CNY; 0
    without units): their per-kWh cost enters the plan's cost once simulated."""
    if not plan.mobile.any() or not units:
        return 0.0
    from sim.study.mobile import mobile_energy_cost

    return float(np.mean([mobile_energy_cost(prep, plan, u.log) for u in units]))


def build_summary(
    study: StudyResult,
    per_rep: pd.DataFrame,
    /,
    *,
    sites: Mapping[str, SiteFigures] | None = None,
) -> Summary:
    """The summary of a study.

    Parameters
    ----------
    study
        The finished study (plans, units, refinement records).
    per_rep
        Its :func:`~sim.study.units.per_replication_frame`.
    sites
        Its :func:`plan_site_figures`, when already computed (for the ``selected``
        layer); computed here otherwise.
    """
    prep = study.prepared
    agg = aggregate(per_rep)
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    if sites is None:
        sites = plan_site_figures(prep, study.plans, study.units)
    strategies: dict[str, StrategySummary] = {}
    holiday = holiday_summaries(study)
    grid = grid_summaries(study)
    for name, plan in study.plans.items():
        mine = [u for u in study.units if u.strategy == name]
        strategies[name] = StrategySummary(
            name=name,
            model=plan.model,
            sites=tuple(ids[plan.candidate].tolist()),
            ports=tuple(plan.ports.tolist()),
            cost_cny=_finite(plan.cost_cny + _mobile_energy_cost(prep, plan, mine)),
            solver=SolverSummary(_finite(plan.objective), bool(plan.optimal), _finite(plan.gap)),
            metrics=_metrics(agg[name]),
            refine=study.refined.get(name),
            segments=_segments(mine),
            fleets=_fleets(mine),
            swap=_swap_summary(sites[name], plan, mine, ids),
            **_phase_fields(study, name),
            holiday=holiday[name].to_dict() if name in holiday else None,
            grid=grid.get(name),
        )
    sc = prep.scenario
    return Summary(
        scenario=sc.name,
        seed=sc.seed,
        replications=study.replications,
        days=sc.demand.days,
        strategies=strategies,
        comparisons=tuple(Comparison.from_dict(c) for c in paired_differences(per_rep)),
        provenance=provenance(prep),
    )


# --------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class SweepRow:
    """One (point, strategy) of a sweep.

    Attributes
    ----------
    point
        Index of the grid point.
    values
        The point's swept values, ``{key: value}`` in the order of the keys.
    strategy
        Strategy name.
    metrics
        Per metric of :data:`sim.metrics.scores.METRICS`.
    sites
        Sites of the strategy's plan at this point (0: no public chargers).
    segments
        Per demand segment, every metric (:attr:`StrategySummary.segments`); empty when
        the demand has one segment.
    fleets
        Per fleet, its :data:`FLEET_FIGURES` (:attr:`StrategySummary.fleets`); empty
        without fleets.
    """

    point: int
    values: Mapping[str, Any]
    strategy: str
    metrics: Mapping[str, MetricSummary]
    sites: int
    segments: Mapping[str, Mapping[str, MetricSummary]] = field(default_factory=dict)
    fleets: Mapping[str, Mapping[str, MetricSummary]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The row of ``sweep.csv``: point, swept values, strategy, sites, then per metric
        the mean, ``<metric>_lo`` and ``<metric>_hi`` (``NaN`` where missing); with
        several demand segments, the same per segment as ``<segment>_<metric>``,
        ``<segment>_<metric>_lo``, ``<segment>_<metric>_hi``; with fleets, per fleet
        ``fleet_<name>_<figure>`` (and ``_lo``, ``_hi``) for each of
        :data:`FLEET_FIGURES`."""
        row: dict[str, Any] = {
            "point": self.point,
            **self.values,
            "strategy": self.strategy,
            "sites": self.sites,
        }
        parts = [("", self.metrics)]
        parts += [(f"{seg}_", ms) for seg, ms in self.segments.items()]
        parts += [(f"fleet_{name}_", fs) for name, fs in self.fleets.items()]
        for prefix, stats in parts:
            for m, s in stats.items():
                lo, hi = s.ci95
                row[prefix + m] = math.nan if s.mean is None else s.mean
                row[f"{prefix}{m}_lo"] = math.nan if lo is None else lo
                row[f"{prefix}{m}_hi"] = math.nan if hi is None else hi
        return row

    @classmethod
    def from_record(cls, r: Mapping[str, Any], /, *, keys: Sequence[str]) -> SweepRow:
        """From :meth:`record`'s shape (a row of ``sweep.csv`` or of the sweep's
        ``summary.json`` table); ``keys`` are the swept keys."""

        def stats(prefix: str, names: Sequence[str]) -> dict[str, MetricSummary]:
            return {
                m: MetricSummary(
                    _finite(r[prefix + m]),
                    _interval((r[f"{prefix}{m}_lo"], r[f"{prefix}{m}_hi"])),
                )
                for m in names
            }

        tail = "_" + FLEET_FIGURES[0]
        fleets = [
            k[len("fleet_") : -len(tail)]
            for k in r
            if k.startswith("fleet_") and k.endswith(tail) and len(k) > len("fleet_" + tail)
        ]
        return cls(
            point=int(r["point"]),
            values={k: r[k] for k in keys},
            strategy=str(r["strategy"]),
            sites=int(r["sites"]),
            metrics=stats("", METRICS),
            segments={
                seg: stats(f"{seg}_", METRICS) for seg in SEGMENTS if f"{seg}_{METRICS[-1]}" in r
            },
            fleets={name: stats(f"fleet_{name}_", FLEET_FIGURES) for name in fleets},
        )


@dataclass(frozen=True)
class PointComparisons:
    """The paired comparisons at one grid point.

    Attributes
    ----------
    point
        Index of the grid point.
    values
        The point's swept values.
    pairs
        Every pair of strategies in config order.
    """

    point: int
    values: Mapping[str, Any]
    pairs: tuple[Comparison, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"point", KEY: value, ..., "pairs": [...]}``."""
        return {"point": self.point, **self.values, "pairs": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class SweepSummary:
    """The summary of a sweep (its ``summary.json``).

    Attributes
    ----------
    scenario
        Name of the base scenario.
    seed
        Its seed.
    replications
        Replications per strategy and point.
    keys
        The swept dotted keys, in the order given.
    points
        Per point, ``{key: value}``.
    rows
        One per (point, strategy), points in order, strategies in config order.
    comparisons
        Per point, the paired comparisons of its strategies.
    """

    scenario: str
    seed: int
    replications: int
    keys: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]
    rows: tuple[SweepRow, ...]
    comparisons: tuple[PointComparisons, ...] = field(default=())

    def table(self) -> pd.DataFrame:
        """``sweep.csv``: one row per :class:`SweepRow` (:meth:`SweepRow.record`)."""
        return pd.DataFrame([r.record() for r in self.rows])

    def to_dict(self) -> dict[str, Any]:
        """The sweep's ``summary.json`` document (the table's numbers as pandas writes
        JSON: 10 significant decimals)."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "replications": self.replications,
            "sweep": {"keys": list(self.keys), "points": [dict(p) for p in self.points]},
            "table": json.loads(self.table().to_json(orient="records")),
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    def to_json(self) -> str:
        """The text of the sweep's ``summary.json``."""
        return _dumps(self.to_dict(), strict=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], /) -> SweepSummary:
        """From :meth:`to_dict`'s shape (e.g. a sweep's ``summary.json`` read back)."""
        keys = tuple(str(k) for k in data["sweep"]["keys"])
        rows = tuple(SweepRow.from_record(r, keys=keys) for r in data["table"])
        comparisons = tuple(
            PointComparisons(
                point=int(c["point"]),
                values={k: c[k] for k in keys},
                pairs=tuple(Comparison.from_dict(p) for p in c["pairs"]),
            )
            for c in data.get("comparisons", ())
        )
        return cls(
            scenario=str(data["scenario"]),
            seed=int(data["seed"]),
            replications=int(data["replications"]),
            keys=keys,
            points=tuple(dict(p) for p in data["sweep"]["points"]),
            rows=rows,
            comparisons=comparisons,
        )
