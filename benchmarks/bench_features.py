"""Cost of a feature: the same scenario with and without it, measured in one session.

"A capability that adds work prints its cost as a ratio to the same scenario without
it."  Each case is a pair of scenarios built from one YAML file (default
``configs/kotka-fleets.yaml``), shortened to ``--days`` days and ``--replications``
replications:

- ``fleets``: the file as it is (taxis and ride-hailing, strategies that place a swap
  station) against the same file with ``demand.fleets`` removed and every strategy
  charge-only (``service: charge``);
- ``fleets-charge``: the fleets alone: both sides charge-only, with and without
  ``demand.fleets``;
- ``swap``: the swap station alone: the ``swap-and-dc`` strategy (one swap station and
  DC chargers) against ``dc-only``, the same demand (fleets included).

The holiday operations cases come from ``--ops-config`` (default
``configs/corridor-holiday-ops.yaml``, its own days, ``--replications``): each
strategy against ``base`` on the same demand:

- ``extra-ports``: ``plus-ports``; ``mobile``: ``plus-mobile`` (units at given sites);
- ``mobile-auto``: the same units placed by a pilot simulation (``sites`` removed);
- ``cap``: ``cap-80``; ``queue-info``: ``queue-info``.

The compound power cases come from ``--grid-config`` (default
``configs/kotka-compounds.yaml``, its own days, ``--replications``), its
``public-uncontrolled`` plan:

- ``grid``: with the ``grid`` section (home charging, transformers, the time-varying caps
  of public sites in compounds, tariffs) against the same file without it;
- ``grid-ordered``: ordered home charging (``grid_control: ordered``, the LP per compound)
  against uncontrolled, both with ``grid``.

The phase cases come from ``--phases-config`` (default ``configs/kotka-phased.yaml``),
its ``p-median-myopic`` strategy:

- ``phases``: the three phases (three plans and three simulations) against one plan of
  the last phase's sites at its EV share, without phases;
- ``look-ahead``: the multi-period MILP (``p-median-look-ahead``) against myopic.

Every run is one in-process call of :func:`sim.api.run` (the one runner: prepare, plans,
units, assemble) with its steps wrapped where the runner looks them up, to time them:

- ``prepare``: :func:`sim.study.prepare.prepare` (region from the disk cache, travel
  times, the planning draws);
- ``siting``: ``make_plans``; ``access``: the plans' access tables (``remember``);
- ``demand``: ``units.demand_for`` (the replication's draw: residents, fleets);
- ``simulation``: ``units.simulate_traced_plan`` (SimPy);
- ``metrics``: ``score_and_stats``, ``segment_scores``, ``fleet_lost_time`` and
  ``assemble`` (summary, tables, layers);
- ``total``: the whole call, wall clock; ``cpu``: its process CPU time;
- ``sessions simulated`` (every unit's demand) and the simulation's microseconds per
  session, to tell more sessions from costlier ones.

Before every run the in-process cache (:data:`sim.study.cache.MEMORY`) is cleared, so
no run reuses another's region or plans; the region comes from a disk cache in a
temporary folder, filled by one warm-up run of each scenario that is not counted.  The
two sides of a case run alternately (``without, with``, then ``with, without``, ...)
``--repeat`` times; the table shows the best of each stage and the ratio with/without.

Usage::

    python benchmarks/bench_features.py                    # 2 days, 1 replication, 3 x
    python benchmarks/bench_features.py --repeat 5 --days 7
    python benchmarks/bench_features.py --case swap
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "kotka-fleets.yaml"
STAGES = ("prepare", "siting", "access", "demand", "simulation", "metrics", "other", "total")
CASES = (
    "fleets",
    "fleets-charge",
    "swap",
    "extra-ports",
    "mobile",
    "mobile-auto",
    "cap",
    "queue-info",
    "grid",
    "grid-ordered",
    "phases",
    "look-ahead",
)
DEFAULT_PHASES_CONFIG = ROOT / "configs" / "kotka-phased.yaml"
DEFAULT_GRID_CONFIG = ROOT / "configs" / "kotka-compounds.yaml"
DEFAULT_OPS_CONFIG = ROOT / "configs" / "corridor-holiday-ops.yaml"
#: Holiday operations case -> the strategy of --ops-config it times against ``base``.
OPS_CASES = {
    "extra-ports": "plus-ports",
    "mobile": "plus-mobile",
    "mobile-auto": "plus-mobile",
    "cap": "cap-80",
    "queue-info": "queue-info",
}

#: Time spent in each wrapped step during the current run (s).
_SPENT: dict[str, float] = defaultdict(float)


def _wrap(module: Any, name: str, stage: str) -> None:
    """Make ``module.name`` add its wall time to ``_SPENT[stage]``."""
    fn = getattr(module, name)

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _SPENT[stage] += time.perf_counter() - t0

    setattr(module, name, timed)


def install_timers() -> None:
    """Wrap the runner's steps where :mod:`sim.study.runner`, :mod:`sim.study.units` and
    :mod:`sim.api` look them up."""
    import sim.api
    import sim.study.runner as runner
    import sim.study.units as units

    _wrap(runner, "prepare", "prepare")
    _wrap(runner, "make_plans", "siting")
    _wrap(runner, "remember", "access")
    _wrap(units, "demand_for", "demand")
    _wrap(units, "simulate_traced_plan", "simulation")
    for name in ("score_and_stats", "segment_scores", "fleet_lost_time"):
        _wrap(units, name, "metrics")
    _wrap(sim.api, "assemble", "metrics")


def _charge_only(strategy: dict[str, Any], /) -> dict[str, Any]:
    """A strategy that places charging sites only (its swap keys removed)."""
    out = {k: v for k, v in strategy.items() if k not in ("service", "swap_k", "swap_class")}
    out["service"] = "charge"
    return out


def scenarios(
    config: Path, /, *, days: int, replications: int, cache_dir: Path
) -> dict[str, tuple[Any, Any]]:
    """Per case, the scenarios ``(without, with)`` the feature, validated."""
    from sim.config import parse_config
    from sim.config.loading import read_yaml

    base = read_yaml(config)
    base.setdefault("demand", {})["days"] = days
    base.setdefault("simulation", {})["replications"] = replications
    base.setdefault("region", {})["cache_dir"] = str(cache_dir)
    strategies = {s["name"]: s for s in base["strategies"]}

    def variant(*, fleets: bool, strategies: list[dict[str, Any]]) -> Any:
        data = {**base, "strategies": strategies}
        data["demand"] = dict(base["demand"])
        if not fleets:
            data["demand"].pop("fleets", None)
        return parse_config(data, source=str(config), base_dir=config.resolve().parent)

    charge = [_charge_only(s) for s in base["strategies"]]
    cases = {
        "fleets": (
            variant(fleets=False, strategies=charge),
            variant(fleets=True, strategies=list(base["strategies"])),
        ),
        "fleets-charge": (
            variant(fleets=False, strategies=charge),
            variant(fleets=True, strategies=charge),
        ),
    }
    if {"dc-only", "swap-and-dc"} <= set(strategies):
        cases["swap"] = (
            variant(fleets=True, strategies=[strategies["dc-only"]]),
            variant(fleets=True, strategies=[strategies["swap-and-dc"]]),
        )
    return cases


def ops_scenarios(config: Path, /, *, replications: int, cache_dir: Path) -> dict[str, Any]:
    """Per holiday operations case, the scenarios ``(base, with the measure)``."""
    from sim.config import parse_config
    from sim.config.loading import read_yaml

    base = read_yaml(config)
    base.setdefault("simulation", {})["replications"] = replications
    base.setdefault("region", {})["cache_dir"] = str(cache_dir)
    strategies = {s["name"]: s for s in base["strategies"]}

    def one(strategy: dict[str, Any]) -> Any:
        data = {**base, "strategies": [strategy]}
        return parse_config(data, source=str(config), base_dir=config.resolve().parent)

    out = {}
    for case, name in OPS_CASES.items():
        if "base" not in strategies or name not in strategies:
            continue
        measure_ = dict(strategies[name])
        if case == "mobile-auto":
            measure_["mobile_units"] = {
                k: v for k, v in measure_["mobile_units"].items() if k != "sites"
            }
        out[case] = (one(strategies["base"]), one(measure_))
    return out


def grid_scenarios(config: Path, /, *, replications: int, cache_dir: Path) -> dict[str, Any]:
    """The compound power cases: ``(without, with)`` the grid, and ``(uncontrolled,
    ordered)`` home charging."""
    from sim.config import parse_config
    from sim.config.loading import read_yaml

    base = read_yaml(config)
    base.setdefault("simulation", {})["replications"] = replications
    base.setdefault("region", {})["cache_dir"] = str(cache_dir)
    plan = next(s for s in base["strategies"] if s["name"] == "public-uncontrolled")

    def one(*, grid: bool, control: str | None = None) -> Any:
        data = {**base, "strategies": [dict(plan)]}
        if not grid:
            data.pop("grid", None)
        elif control is not None:
            data["strategies"][0]["grid_control"] = control
        return parse_config(data, source=str(config), base_dir=config.resolve().parent)

    return {
        "grid": (one(grid=False), one(grid=True)),
        "grid-ordered": (one(grid=True), one(grid=True, control="ordered")),
    }


def phase_scenarios(config: Path, /, *, replications: int, cache_dir: Path) -> dict[str, Any]:
    """The phase cases: ``(one plan, phased)`` and ``(myopic, look-ahead)``."""
    from sim.config import parse_config
    from sim.config.loading import read_yaml

    base = read_yaml(config)
    base.setdefault("simulation", {})["replications"] = replications
    base.setdefault("region", {})["cache_dir"] = str(cache_dir)
    by_name = {s["name"]: s for s in base["strategies"]}
    last = base["phases"][-1]
    built = sum(p["strategies"]["p-median-myopic"]["k"] for p in base["phases"])

    def one(name: str, *, phased: bool) -> Any:
        data = {**base, "strategies": [dict(by_name[name])]}
        if not phased:
            data.pop("phases")
            data["strategies"][0].pop("planning", None)
            data["strategies"][0]["k"] = built
            data["demand"] = {**base["demand"]}
            data["demand"]["residential"] = {
                **base["demand"]["residential"],
                "ev_share": last["ev_share"],
            }
        else:
            data["phases"] = [
                {**p, "strategies": {name: p["strategies"][name]}} for p in base["phases"]
            ]
        return parse_config(data, source=str(config), base_dir=config.resolve().parent)

    return {
        "phases": (one("p-median-myopic", phased=False), one("p-median-myopic", phased=True)),
        "look-ahead": (
            one("p-median-myopic", phased=True),
            one("p-median-look-ahead", phased=True),
        ),
    }


def measure(scenario: Any, /) -> dict[str, float]:
    """One timed run of ``scenario`` (s per stage)."""
    from sim.api import run
    from sim.study.cache import MEMORY

    MEMORY.clear()
    gc.collect()
    _SPENT.clear()
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = run(scenario)
    total = time.perf_counter() - t0
    row = {s: _SPENT.get(s, 0.0) for s in STAGES if s not in ("other", "total")}
    row["other"] = total - sum(row.values())
    row["total"] = total
    row["cpu"] = time.process_time() - c0
    row["sessions"] = float(sum(len(u.demand) for u in result.units))
    return row


def print_case(name: str, rows: tuple[list[dict[str, float]], list[dict[str, float]]]) -> None:
    """Best of each stage without and with the feature, and their ratio."""
    without, with_ = rows
    print(f"\n{name}: best of {len(without)} (s)   without      with   with/without")
    for stage in (*STAGES, "cpu"):
        a = min(r[stage] for r in without)
        b = min(r[stage] for r in with_)
        ratio = f"{b / a:.2f}x" if a > 0.005 else "-"
        print(f"  {stage:<22}{a:>10.2f}{b:>10.2f}{ratio:>12}")
    a, b = without[0]["sessions"], with_[0]["sessions"]
    print(f"  {'sessions simulated':<22}{a:>10.0f}{b:>10.0f}{b / max(a, 1.0):>11.2f}x")
    per = [
        min(r["simulation"] for r in rows) / max(n, 1.0) * 1e6
        for rows, n in zip((without, with_), (a, b), strict=True)
    ]
    print(f"  {'simulation us/session':<22}{per[0]:>10.0f}{per[1]:>10.0f}{per[1] / per[0]:>11.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per case")
    parser.add_argument("--days", type=int, default=2, help="demand.days of every run")
    parser.add_argument("--replications", type=int, default=1)
    parser.add_argument("--ops-config", type=Path, default=DEFAULT_OPS_CONFIG)
    parser.add_argument("--grid-config", type=Path, default=DEFAULT_GRID_CONFIG)
    parser.add_argument("--phases-config", type=Path, default=DEFAULT_PHASES_CONFIG)
    parser.add_argument("--case", choices=CASES, action="append", help="default: all")
    args = parser.parse_args(argv)
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-features-cache-"))
    try:
        t0 = time.perf_counter()
        install_timers()
        cases = scenarios(
            args.config.resolve(),
            days=args.days,
            replications=args.replications,
            cache_dir=cache_dir,
        )
        cases.update(
            ops_scenarios(
                args.ops_config.resolve(), replications=args.replications, cache_dir=cache_dir
            )
        )
        cases.update(
            grid_scenarios(
                args.grid_config.resolve(), replications=args.replications, cache_dir=cache_dir
            )
        )
        cases.update(
            phase_scenarios(
                args.phases_config.resolve(), replications=args.replications, cache_dir=cache_dir
            )
        )
        chosen = [c for c in (args.case or CASES) if c in cases]
        print(
            f"config {args.config}; {args.days} days, {args.replications} replication(s); "
            f"{args.repeat} x each side; load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        for name in chosen:  # warm-up: imports, the region's disk cache
            for sc in cases[name]:
                measure(sc)
        print(f"warm-up done in {time.perf_counter() - t0:.1f} s", flush=True)
        results: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {
            name: ([], []) for name in chosen
        }
        for i in range(args.repeat):
            for name in chosen:
                order = (0, 1) if i % 2 == 0 else (1, 0)
                for side in order:
                    row = measure(cases[name][side])
                    results[name][side].append(row)
                    label = ("without", "with")[side]
                    print(f"  run {i + 1} {name} {label}: {row['total']:.2f} s", flush=True)
        print(f"load after: {os.getloadavg()[0]:.2f}")
        for name in chosen:
            print_case(name, results[name])
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
