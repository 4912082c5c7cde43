"""Start-up and output: where the wall time of a default ``chargesite run`` goes.

Each measured run is a fresh Python process that does what ``python -m sim run CONFIG
--out DIR --force`` does (it calls the same ``sim.cli`` entry point with those
arguments), with the runner's steps wrapped to time them where ``sim.study.runner``,
``sim.study.prepare``, ``sim.study.units`` and ``sim.export.writing`` look them up:

- ``startup``: the interpreter until the first line of the child (parent's clock);
- ``import``: ``import sim.cli`` and ``import sim.api`` (what the command loads before
  it works; libraries imported later, where needed, count in their stage);
- ``region``: ``prepare._region`` (parsing the extract, or reading the disk cache);
- ``travel``: the rest of ``prepare`` (CSR network, travel-time matrices);
- ``siting``: ``make_plans``; ``demand``: ``units.demand_for`` (each replication's
  draw); ``metrics``: ``units.score_and_stats``, ``segment_scores``, ``fleet_lost_time``
  and ``assemble`` (summary, tables, layers); ``simulation``: ``run_units`` minus demand and scores;
- each file of ``write_outputs`` (time until ``on_file`` reports it): summary.json,
  the csv tables, sessions.parquet, site_load.parquet, sites.gpkg,
  config.resolved.yaml, map.html, report.html (with its figures), and the final
  rename of the folder;
- ``other``: the rest of the command (loading the YAML, checking the output folder,
  the terminal table); ``exit``: from the command's end until the process has gone
  (``sim.cli.leave``, as the ``chargesite`` command leaves; interpreter shutdown for
  a peer without it);
- ``total``: the child process's wall time on the parent's clock.

Every configuration runs ``--repeat`` times, cold then warm: *cold* starts from an
empty ``region.cache_dir`` (a fresh temporary folder: the region is parsed), *warm*
runs again on the same folder (the region comes from the disk cache when
``sim.study.prepare`` uses it; the table says whether a region file was written).
Best and median of each stage are printed, and the share of import + report against
the target of 25% of the total.  Last, the time a bare interpreter takes to import
the libraries a default run cannot do without (:data:`FLOOR_LIBRARIES`: its stages'
and its GeoPackage, map and report's), as a share of the run: the part of the
target that no change to chargesite's own code removes.

``--peer PATH`` runs a second checkout of chargesite (for example the commit before a
change) the same way, interleaved run by run, and prints the ratio of each stage
(peer / this checkout) measured in the same session.

Usage::

    python benchmarks/bench_run.py                         # configs/default.yaml, 3 x
    python benchmarks/bench_run.py --repeat 5
    python benchmarks/bench_run.py --peer /tmp/wt-start    # before/after, same session
    python benchmarks/bench_run.py --config configs/kotka-holiday.yaml
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"
RESULT_TAG = "BENCH-RUN-RESULT "
TARGET_SHARE = 0.25
#: Files of write_outputs, in the order the table shows them.
EXPORTS = (
    "summary.json",
    "per_replication.csv",
    "sessions.parquet",
    "site_load.parquet",
    "queue_by_hour.csv",
    "candidate_scores.csv",
    "sites.gpkg",
    "layers/",
    "config.resolved.yaml",
    "map.html",
    "report.html",
    "(rename)",
)
STAGES = ("startup", "import", "region", "travel", "siting", "demand", "simulation", "metrics")

# --------------------------------------------------------------------------- child


def _wrap(module: Any, name: str, stage: str, stages: dict[str, float]) -> None:
    """Make ``module.name`` add its wall time to ``stages[stage]``."""
    fn = getattr(module, name)

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[stage] += time.perf_counter() - t0

    setattr(module, name, timed)


def _with_cache_dir(load: Callable[..., Any], cache_dir: str) -> Callable[..., Any]:
    """``load_config`` whose scenarios keep their region cache in ``cache_dir``."""

    @functools.wraps(load)
    def loaded(*args: Any, **kwargs: Any) -> Any:
        sc = load(*args, **kwargs)
        region = sc.region.model_copy(update={"cache_dir": Path(cache_dir)})
        return sc.model_copy(update={"region": region})

    return loaded


def _writing_with_notes(write: Callable[..., Any], files: dict[str, float]) -> Callable[..., Any]:
    """``write_outputs`` that records the time each file took (until ``on_file``)."""

    @functools.wraps(write)
    def written(result: Any, out_dir: Any, /, **kwargs: Any) -> Any:
        last = [time.perf_counter()]

        def note(name: str) -> None:
            now = time.perf_counter()
            files[name] = files.get(name, 0.0) + now - last[0]
            last[0] = now

        out = write(result, out_dir, on_file=note, **kwargs)
        files["(rename)"] = time.perf_counter() - last[0]
        return out

    return written


def child(spec: dict[str, Any]) -> None:
    """One measured run in this process; prints a tagged JSON line."""
    t_first = time.time()
    t0 = time.perf_counter()
    import sim.api  # what `chargesite run` imports before it works
    import sim.cli

    import_s = time.perf_counter() - t0
    import sim.config
    import sim.export.writing as writing
    import sim.study.executors as executors
    import sim.study.prepare as prepare
    import sim.study.runner as runner
    import sim.study.units as units

    stages: dict[str, float] = defaultdict(float)
    files: dict[str, float] = {}
    _wrap(prepare, "_region", "region", stages)
    _wrap(runner, "prepare", "prepare", stages)
    _wrap(runner, "make_plans", "siting", stages)
    _wrap(runner, "run_units", "units", stages)
    _wrap(units, "demand_for", "demand", stages)
    _wrap(units, "score_and_stats", "score", stages)
    _wrap(units, "segment_scores", "score", stages)
    _wrap(units, "fleet_lost_time", "score", stages)
    _wrap(sim.api, "assemble", "assemble", stages)
    sim.config.load_config = _with_cache_dir(sim.config.load_config, spec["cache_dir"])
    writing.write_outputs = _writing_with_notes(writing.write_outputs, files)
    assert executors.run_unit is units.run_unit  # units looked up through units
    sys.argv = ["chargesite", "run", spec["config"], "--out", spec["out"], "--force"]
    t_run = time.perf_counter()
    try:
        sim.cli.main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    run_s = time.perf_counter() - t_run
    regions = list((Path(spec["cache_dir"]) / "regions").glob("*.pkl"))
    out = {
        "t_first": t_first,
        "import": import_s,
        "region": stages["region"],
        "travel": stages["prepare"] - stages["region"],
        "siting": stages["siting"],
        "demand": stages["demand"],
        "simulation": stages["units"] - stages["demand"] - stages["score"],
        "metrics": stages["score"] + stages["assemble"],
        "run": run_s,
        "files": files,
        "region_cached": bool(regions),
        "modules": sorted(
            m for m in ("osmnx", "sklearn", "matplotlib.pyplot", "scipy.stats", "dask")
            if m in sys.modules
        ),
    }  # fmt: skip
    out["t_last"] = time.time()
    print(RESULT_TAG + json.dumps(out), flush=True)
    leave = getattr(sim.cli, "leave", None)  # how the command leaves (a peer may lack it)
    if leave is not None:
        leave(0)


# --------------------------------------------------------------------------- parent


def measure(checkout: Path, config: Path, cache_dir: Path, *, timeout_s: float) -> dict[str, Any]:
    """Run one child on ``checkout``'s code; its stages and total wall time (s)."""
    out_dir = Path(tempfile.mkdtemp(prefix="bench-run-out-"))
    spec = {
        "config": str(config),
        "out": str(out_dir / "out"),
        "cache_dir": str(cache_dir),
    }
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONSTARTUP", None)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    t_spawn = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    total = time.perf_counter() - t0
    shutil.rmtree(out_dir, ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG) :])
    row["startup"] = max(row.pop("t_first") - t_spawn, 0.0)
    row["exit"] = max(t_spawn + total - row.pop("t_last"), 0.0)
    row["total"] = total
    files = row.pop("files")
    for name in EXPORTS:
        row[name] = files.get(name, 0.0)
    row["exports"] = sum(files.values())
    row["other"] = total - sum(row[s] for s in STAGES) - row["exports"] - row["exit"]
    row["import+report"] = row["startup"] + row["import"] + row["report.html"]
    row["share"] = row["import+report"] / total
    return row


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    shown = [n for n in EXPORTS if any(r[n] > 0 for r in rows)]
    return [*STAGES, *shown, "other", "exit", "total", "import+report", "share"]


def _fmt(key: str, value: float) -> str:
    return f"{100 * value:.0f}%" if key == "share" else f"{value:.2f}"


def print_table(groups: dict[str, list[dict[str, Any]]]) -> None:
    """Best and median of every stage per (checkout, cold/warm)."""
    all_rows = [r for rows in groups.values() for r in rows]
    cols = _columns(all_rows)
    labels = list(groups)
    width = max(len(c) for c in cols) + 2
    head = "".join(f"{lab + ' best':>18}{'median':>9}" for lab in labels)
    print(f"{'stage (s)':<{width}}{head}")
    for c in cols:
        cells = ""
        for lab in labels:
            vals = [r[c] for r in groups[lab]]
            best = min(vals)
            cells += f"{_fmt(c, best):>18}{_fmt(c, statistics.median(vals)):>9}"
        print(f"{c:<{width}}{cells}")
    for lab in labels:
        rows = groups[lab]
        cached = "yes" if all(r["region_cached"] for r in rows) else "no"
        mods = sorted({m for r in rows for m in r["modules"]})
        print(
            f"{lab}: region file in the cache after the run: {cached}; heavy modules "
            f"loaded during the run: {', '.join(mods) or 'none'}"
        )


def print_ratios(groups: dict[str, list[dict[str, Any]]], peer: str, mine: str) -> None:
    """Median of the peer / median of this checkout, per stage."""
    for kind in ("cold", "warm"):
        a, b = groups.get(f"{peer} {kind}"), groups.get(f"{mine} {kind}")
        if not a or not b:
            continue
        print(f"\n{kind}: peer / this checkout (medians; > 1 means this checkout is faster)")
        for c in _columns(a + b):
            if c == "share":
                continue
            ma = statistics.median(r[c] for r in a)
            mb = statistics.median(r[c] for r in b)
            ratio = f"{ma / mb:.2f}x" if mb > 0.005 else "-"
            print(f"  {c:<22}{ma:>8.2f}{mb:>8.2f}  {ratio}")


#: Libraries a default run cannot do without (its stages and its three output formats:
#: GeoPackage, map, report figures), imported by the floor measurement.
FLOOR_LIBRARIES = (
    "numpy", "pandas", "scipy.sparse.csgraph", "scipy.optimize", "networkx", "simpy",
    "pydantic", "yaml", "typer", "rich.progress", "geopandas", "pyogrio", "folium",
    "matplotlib.figure", "matplotlib.backends.backend_agg",
)  # fmt: skip


def import_floor(*, repeat: int = 3) -> float:
    """Best time (s) to import :data:`FLOOR_LIBRARIES` in a bare interpreter (no
    chargesite code): what any program that does a default run's work pays first."""
    code = (
        "import time; t = time.perf_counter()\n"
        + "".join(f"import {m}\n" for m in FLOOR_LIBRARIES)
        + "print(time.perf_counter() - t)"
    )
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)  # fmt: skip
        runs.append(float(done.stdout))
    return min(runs)


def check_target(groups: dict[str, list[dict[str, Any]]], mine: str) -> None:
    for kind in ("cold", "warm"):
        rows = groups.get(f"{mine} {kind}")
        if not rows:
            continue
        share = statistics.median(r["share"] for r in rows)
        verdict = "meets" if share < TARGET_SHARE else "misses"
        print(
            f"{kind}: startup + import + report = {100 * share:.0f}% of the run (median); "
            f"{verdict} the {100 * TARGET_SHARE:.0f}% target"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--repeat", type=int, default=3, help="cold + warm runs per checkout")
    parser.add_argument("--peer", type=Path, help="another chargesite checkout to compare")
    parser.add_argument("--timeout", type=float, default=900.0, help="per run (s)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    config = args.config.resolve()
    checkouts = {"this": ROOT}
    if args.peer is not None:
        checkouts = {"peer": args.peer.resolve(), "this": ROOT}
    groups: dict[str, list[dict[str, Any]]] = {
        f"{lab} {kind}": [] for lab in checkouts for kind in ("cold", "warm")
    }
    print(f"config {config}; {args.repeat} x (cold, warm) per checkout; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    for i in range(args.repeat):
        for lab, path in checkouts.items():
            cache = Path(tempfile.mkdtemp(prefix="bench-run-cache-"))
            try:
                for kind in ("cold", "warm"):
                    row = measure(path, config, cache, timeout_s=args.timeout)
                    groups[f"{lab} {kind}"].append(row)
                    print(f"  run {i + 1} {lab} {kind}: {row['total']:.2f} s, import+report "
                          f"{100 * row['share']:.0f}%", flush=True)  # fmt: skip
            finally:
                shutil.rmtree(cache, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}\n")
    print_table(groups)
    if args.peer is not None:
        print_ratios(groups, "peer", "this")
    print()
    check_target(groups, "this")
    floor = import_floor()
    for kind in ("cold", "warm"):
        rows = groups.get(f"this {kind}")
        if rows:
            total = statistics.median(r["total"] for r in rows)
            print(f"{kind}: importing the libraries alone (bare interpreter, no chargesite "
                  f"code) takes {floor:.2f} s = {100 * floor / total:.0f}% of the run's "
                  f"{total:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
