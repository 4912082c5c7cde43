"""Parameter sweeps: one scenario, a grid of values for some of its keys.

``chargesite sweep CONFIG --set demand.residential.ev_share=0.1,0.2,0.3 --set
strategies.1.k=2,4`` runs every point of the grid (every combination of the values),
every strategy and every replication, as independent units (so they spread over local
workers or a Dask cluster and resume after an interruption), and writes one table of
all points and a figure of the difficulty index against the swept value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.config import Scenario, parse_config, read_yaml
from sim.errors import ConfigError, UserInputError
from sim.metrics.intervals import aggregate, paired_differences
from sim.metrics.scores import METRICS
from sim.study.executors import UnitStore, run_units
from sim.study.units import per_replication_frame

__all__ = ["SweepResult", "apply_setting", "parse_set", "run_sweep", "sweep_scenarios"]

Progress = Callable[[str, int, int], None]


def parse_set(expr: str, /) -> tuple[str, list[Any]]:
    """Parse ``KEY=V1,V2,...`` (values read as YAML scalars: ``0.2``, ``true``, ``dc60``).

    Raises
    ------
    UserInputError
        No ``=``, an empty key or no values.
    """
    key, sep, rest = expr.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise UserInputError(
            f"--set {expr!r}: expected KEY=V1,V2,... (e.g. demand.residential.ev_share=0.1,0.2)"
        )
    values = []
    for raw in rest.split(","):
        raw = raw.strip()
        if not raw:
            raise UserInputError(f"--set {expr!r}: empty value in the list")
        try:
            values.append(yaml.safe_load(raw))
        except yaml.YAMLError:
            values.append(raw)
    return key, values


def apply_setting(data: dict[str, Any], key: str, value: Any, /) -> dict[str, Any]:
    """A copy of the YAML mapping ``data`` with the dotted ``key`` set to ``value``.

    Path parts that are integers index lists (``strategies.1.k``); missing mappings on the
    way are created (so ``demand.residential.ev_share`` works when the YAML omits
    ``demand``).

    Raises
    ------
    UserInputError
        A list index out of range, or a path through a value that is not a mapping.
    """
    out = deepcopy(data)
    node: Any = out
    parts = key.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserInputError(
                    f"--set {key}: {where} is not an index of the list of {len(node)} "
                    f"entries at {'.'.join(parts[:i]) or '(top level)'}"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise UserInputError(f"--set {key}: {'.'.join(parts[:i])} holds a value, not a section")
    return out


def sweep_scenarios(
    config: Path, sets: list[tuple[str, list[Any]]], /
) -> tuple[list[dict[str, Any]], list[Scenario]]:
    """Every point of the grid and its validated scenario.

    Raises
    ------
    ConfigError
        A point does not validate (the message names the point).
    """
    if not sets:
        raise UserInputError("sweep: give at least one --set KEY=V1,V2,...")
    keys = [k for k, _ in sets]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise UserInputError(f"sweep: --set given twice for {dupes}")
    base = read_yaml(config)
    points, scenarios = [], []
    for combo in itertools.product(*(v for _, v in sets)):
        point = dict(zip(keys, combo, strict=True))
        data = base
        for k, v in point.items():
            data = apply_setting(data, k, v)
        label = ", ".join(f"{k}={v}" for k, v in point.items())
        try:
            sc = parse_config(data, source=f"{config} [{label}]", base_dir=config.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(str(exc)) from None
        points.append(point)
        scenarios.append(sc.model_copy(update={"source_path": config.resolve()}))
    return points, scenarios


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


def run_sweep(
    config: Path,
    sets: list[tuple[str, list[Any]]],
    /,
    *,
    replications: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    store: UnitStore | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every point x strategy x replication of a sweep.

    Parameters
    ----------
    config
        The base scenario YAML.
    sets
        ``[(key, values), ...]`` from :func:`parse_set`; several keys give a grid.
    replications
        Overrides ``simulation.replications`` at every point.
    workers, scheduler, store, progress
        As for :func:`sim.study.executors.run_units`.
    """
    points, scenarios = sweep_scenarios(config, sets)
    if replications is not None:
        scenarios = [
            s.model_copy(
                update={
                    "simulation": s.simulation.model_copy(update={"replications": replications})
                }
            )
            for s in scenarios
        ]
    reps = scenarios[0].simulation.replications
    done = run_units(
        scenarios,
        replications=reps,
        workers=workers,
        scheduler=scheduler,
        store=store,
        progress=progress,
    )
    rows, table_rows, comparisons = [], [], []
    for i, (point, sc) in enumerate(zip(points, scenarios, strict=True)):
        order = [s.name for s in sc.strategies]
        units = sorted(
            (u for k, u in done.items() if k.point == i),
            key=lambda u: (u.replication, order.index(u.strategy)),
        )
        per_rep = per_replication_frame(units)
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
    base = scenarios[0]
    summary = {
        "scenario": base.name,
        "seed": base.seed,
        "replications": reps,
        "sweep": {"keys": [k for k, _ in sets], "points": points},
        "table": json.loads(table.to_json(orient="records")),
        "comparisons": comparisons,
    }
    return SweepResult(points=points, table=table, per_replication=per_replication, summary=summary)
