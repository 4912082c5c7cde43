"""The typed summary of a run and of a sweep: what ``summary.json`` holds.

:func:`build_summary` turns a finished study into a :class:`Summary` (frozen
dataclasses: one :class:`StrategySummary` per strategy with its plan, solver status,
:class:`MetricSummary` per metric and optional refinement record; the paired
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
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics.intervals import aggregate, ci95, paired_differences
from sim.metrics.scores import METRICS
from sim.study.prepare import Prepared
from sim.study.runner import StudyResult
from sim.study.units import UnitResult

__all__ = [
    "FLEET_FIGURES",
    "Comparison",
    "ComparisonRow",
    "MetricDifference",
    "MetricSummary",
    "PointComparisons",
    "Provenance",
    "SolverSummary",
    "StrategySummary",
    "Summary",
    "SweepRow",
    "SweepSummary",
    "build_summary",
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
        Cost of the new sites and ports (CNY).
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

    @property
    def total_ports(self) -> int:
        """Ports over all sites."""
        return int(sum(self.ports))

    def to_dict(self) -> dict[str, Any]:
        """The strategy's entry of ``summary.json`` (``refine`` only when refined,
        ``segments`` and ``fleets`` only when there are any)."""
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
        )


def _nested(data: Mapping[str, Mapping[str, Any]], /) -> dict[str, dict[str, MetricSummary]]:
    """``{name: {metric: MetricSummary}}`` from its ``summary.json`` shape."""
    return {
        str(n): {str(m): MetricSummary.from_dict(v) for m, v in ms.items()}
        for n, ms in data.items()
    }


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


def build_summary(study: StudyResult, per_rep: pd.DataFrame, /) -> Summary:
    """The summary of a study.

    Parameters
    ----------
    study
        The finished study (plans, units, refinement records).
    per_rep
        Its :func:`~sim.study.units.per_replication_frame`.
    """
    prep = study.prepared
    agg = aggregate(per_rep)
    ids = prep.region.candidates["site_id"].astype(str).to_numpy()
    strategies: dict[str, StrategySummary] = {}
    for name, plan in study.plans.items():
        strategies[name] = StrategySummary(
            name=name,
            model=plan.model,
            sites=tuple(ids[plan.candidate].tolist()),
            ports=tuple(plan.ports.tolist()),
            cost_cny=_finite(plan.cost_cny),
            solver=SolverSummary(_finite(plan.objective), bool(plan.optimal), _finite(plan.gap)),
            metrics=_metrics(agg[name]),
            refine=study.refined.get(name),
            segments=_segments(mine := [u for u in study.units if u.strategy == name]),
            fleets=_fleets(mine),
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
    """

    point: int
    values: Mapping[str, Any]
    strategy: str
    metrics: Mapping[str, MetricSummary]
    sites: int

    def record(self) -> dict[str, Any]:
        """The row of ``sweep.csv``: point, swept values, strategy, sites, then per metric
        the mean, ``<metric>_lo`` and ``<metric>_hi`` (``NaN`` where missing)."""
        row: dict[str, Any] = {
            "point": self.point,
            **self.values,
            "strategy": self.strategy,
            "sites": self.sites,
        }
        for m, s in self.metrics.items():
            lo, hi = s.ci95
            row[m] = math.nan if s.mean is None else s.mean
            row[f"{m}_lo"] = math.nan if lo is None else lo
            row[f"{m}_hi"] = math.nan if hi is None else hi
        return row


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
        rows = tuple(
            SweepRow(
                point=int(r["point"]),
                values={k: r[k] for k in keys},
                strategy=str(r["strategy"]),
                sites=int(r["sites"]),
                metrics={
                    m: MetricSummary(_finite(r[m]), _interval((r[f"{m}_lo"], r[f"{m}_hi"])))
                    for m in METRICS
                },
            )
            for r in data["table"]
        )
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
