"""Scale: how wall time and peak memory grow with road nodes, EVs and workers.

Each row of the table is one ``sim.api.run`` of the synthetic-city scenario
``configs/synthetic-metro.yaml`` (the target: a 200,000-node city, about 100,000 EVs
that need public charging, 7 days, 5 strategies x 10 replications), or of a copy scaled
down to fewer road nodes with households, candidate sites and sites per strategy scaled
in proportion (so EVs per road node stay the same).  Every row runs in a fresh Python
subprocess, so imports, caches and peak memory do not leak between rows.

Per row it prints: road nodes and edges, EVs without home charging (expected), sessions
per replication (mean), units (strategies x replications), workers, the time of each
stage of ``run`` (region: the synthetic city, ``prepare``'s ``_region``; travel: the
rest of ``prepare`` - CSR matrix, home points, planning draw, the Dijkstra searches of
the demand x candidate and candidate x candidate travel times; siting: ``make_plans``
(0 with more than one worker: the strategies are then sited on the workers while the
first strategies' units run, ``plan_and_run``, all of it in the simulation column);
access: the plans' access tables, ``plan_access`` and ``plan_highway_access``, where
the unit contexts and the refinement build them; simulation: ``run_units``;
assemble: summary, session table and map layers; each stage's time excludes the
stages timed inside it), the total wall time of ``run``, the
CPU time of the simulation stage (workers included), the 1-minute load average after
the row (other processes on the machine slow the rows down: read the speed-ups with
it), the peak RSS of the run's own process (``getrusage``), and the peak memory of the
whole process tree (workers included), sampled with psutil (every 0.5 s) as the sum of
proportional set sizes (PSS: pages shared by forked workers counted once) and as the
sum of RSS (shared pages counted in every process: an upper bound).

When a size is measured with 1 and with more workers, the speed-up of the simulation
stage and of the whole run is printed.  Over the sizes measured with the same workers
and EV factor (two at least; four or more to read it), the growth exponent of each
stage is printed: the least-squares slope ``b`` of ``log(time)`` against
``log(road nodes)``, time ~ nodes^b.  ``sim.api.run`` is called with ``workers=N``
when it has that parameter (sequential otherwise, noted in the table).

Usage::

    python benchmarks/bench_scale.py                                # 10k, 50k, 200k nodes
    python benchmarks/bench_scale.py --sizes 10000 50000 --workers 1 2
    python benchmarks/bench_scale.py --sizes 12500 25000 50000 100000 --replications 2
    python benchmarks/bench_scale.py --sizes target --workers 1 2   # the full target
    python benchmarks/bench_scale.py --sizes 50000 --ev-factors 0.5 1 2   # vary sessions
    python benchmarks/bench_scale.py --sizes 50000 --profile out/prof   # cProfile per row
    git worktree add /tmp/base COMMIT                               # against a checkout:
    python benchmarks/bench_scale.py --sizes target --workers 2 --peer /tmp/base

Every row builds its region in a fresh cache folder (cold, as a first run of a region
does) unless ``--warm-region`` is given.  With ``--peer`` every row runs first on the
peer checkout and then here, and the ratio of each stage and whether the results are
identical (``summary.json`` without provenance) are printed.

Targets checked on the ``target`` row (issue 13): total under 240 s with 2 workers on
a quiet machine, peak memory (tree PSS, or the run's own RSS if larger) under 4 GB;
and 2 workers >= 1.7x the throughput of 1.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "configs" / "synthetic-metro.yaml"
RESULT_TAG = "BENCH-RESULT "
TARGET_S = 240.0  # the target row's wall time limit with 2 workers (s)
TARGET_GB = 4.0  # and its peak memory limit (GB)

# --------------------------------------------------------------------------- scenarios


def scenario_dict(
    base: dict[str, Any],
    *,
    nodes: int | None,
    ev_factor: float,
    replications: int | None,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """The target scenario, scaled to ``nodes`` road nodes (``None`` = as given).

    Households, candidate sites and each strategy's ``k`` scale with the node count
    (and households also with ``ev_factor``), so EVs per road node stay the same.
    ``cache_dir`` (``region.cache_dir``) names the region disk cache; a fresh folder
    makes the row build its region cold.
    """
    data = json.loads(json.dumps(base))  # deep copy
    syn = data["region"]["synthetic"]
    f = 1.0 if nodes is None else nodes / float(syn["nodes"])
    if nodes is not None:
        syn["nodes"] = int(nodes)
        syn["candidates"] = max(30, round(syn["candidates"] * f))
        for s in data.get("strategies", []):
            if s.get("k") is not None:
                s["k"] = max(3, round(s["k"] * f))
    syn["households"] = float(syn["households"]) * f * ev_factor
    if replications is not None:
        data.setdefault("simulation", {})["replications"] = replications
    data["name"] = f"{data['name']}-{syn['nodes']}"
    if cache_dir is not None:  # a fresh folder: the region is built, not read from disk
        data["region"]["cache_dir"] = cache_dir
    # no map or report; sessions.parquet as the scenario says (the target writes none)
    data.setdefault("output", {}).update({"map": False, "report": False})
    return data


# --------------------------------------------------------------------------- child side


def cpu_s() -> float:
    """CPU time (s) of this process and of its finished (reaped) children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(
    module: Any, name: str, stage: str, stages: dict[str, float], stack: list[list[float]]
) -> Callable[[], None] | None:
    """Wrap ``module.name`` so that its wall time adds to ``stages[stage]`` and its CPU
    time (worker processes included) to ``stages[stage + "_cpu"]``.

    Times are exclusive: a timed call inside another (the region inside ``prepare``)
    counts for its own stage and is taken off the enclosing one (``stack`` holds the
    time of the calls in progress that their inner timed calls took).
    """
    fn = getattr(module, name, None)
    if fn is None:
        return None

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), cpu_s()
        stack.append([0.0, 0.0])
        try:
            return fn(*args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - t0, cpu_s() - c0
            inner_wall, inner_cpu = stack.pop()
            stages[stage] += wall - inner_wall
            stages[stage + "_cpu"] += cpu - inner_cpu
            if stack:
                stack[-1][0] += wall
                stack[-1][1] += cpu

    setattr(module, name, timed)
    return lambda: setattr(module, name, fn)


def results_digest(summary: dict[str, Any]) -> str:
    """SHA-256 of a run's ``summary.json`` content without its provenance (which
    records versions and the machine): equal digests, equal results."""
    import hashlib

    body = {k: v for k, v in summary.items() if k != "provenance"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one row in this process and return its measurements."""
    t_import = time.perf_counter()
    import numpy as np

    import sim.api as api
    import sim.study.executors as executors
    import sim.study.prepare as prepare_module
    import sim.study.refine as refine
    import sim.study.runner as runner
    from sim.config import parse_config

    import_s = time.perf_counter() - t_import
    scenario = parse_config(spec["scenario"])
    stages: dict[str, float] = defaultdict(float)
    stack: list[list[float]] = []
    # the one runner's steps, where it looks them up (sim.api.run goes through it), and
    # the plans' access tables where the unit contexts and the refinement build them
    for module, name, stage in (
        (prepare_module, "_region", "region"),
        (runner, "prepare", "travel"),
        (runner, "make_plans", "siting"),
        (runner, "run_units", "simulation"),
        (runner, "plan_and_run", "simulation"),  # siting on the workers, overlapped
        (api, "assemble", "assemble"),
        (executors, "plan_access", "access"),
        (executors, "plan_highway_access", "access"),
        (refine, "plan_access", "access"),
        (refine, "plan_highway_access", "access"),
    ):
        _timed(module, name, stage, stages, stack)
    kwargs: dict[str, Any] = {}
    has_workers = "workers" in inspect.signature(api.run).parameters
    if has_workers:
        kwargs["workers"] = spec["workers"]
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu_s()
    result = api.run(scenario, **kwargs)
    total = time.perf_counter() - t0
    total_cpu = cpu_s() - c0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    prep = result.prepared
    res_cfg = scenario.demand.residential
    evs = float(prep.homes.evs_without_home_charging(res_cfg).sum())
    first = scenario.strategies[0].name
    sessions = [len(u.demand) for u in result.units if u.strategy == first]
    attempts = sum(len(u.log) for u in result.units)
    g = prep.region.graph
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    kids_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {
        "label": spec["label"],
        "ev_factor": spec.get("ev_factor", 1.0),
        "nodes": g.number_of_nodes(),
        "edges": prep.network.matrix.nnz,
        "zones": len(prep.region.zones),
        "candidates": len(prep.region.candidates),
        "evs": evs,
        "sessions_per_rep": float(np.mean(sessions)) if sessions else 0.0,
        "attempts": attempts,
        "units": len(result.units),
        "strategies": len(scenario.strategies),
        "replications": scenario.simulation.replications,
        "workers": spec["workers"] if has_workers else 1,
        "workers_supported": has_workers,
        "import_s": import_s,
        "region_s": stages.get("region", float("nan")),
        "travel_s": stages.get("travel", float("nan")),
        # with plan_and_run (workers > 1) siting ran on the workers, in the simulation
        "siting_s": stages.get("siting", 0.0 if "simulation" in stages else float("nan")),
        "access_s": stages.get("access", 0.0),
        "simulation_s": stages.get("simulation", float("nan")),
        "assemble_s": stages.get("assemble", float("nan")),
        "simulation_cpu_s": stages.get("simulation_cpu", float("nan")),
        "total_s": total,
        "total_cpu_s": total_cpu,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "peak_rss_self_mb": self_mb,
        "peak_rss_children_mb": kids_mb,
        "results_sha256": results_digest(result.summary),
        "difficulty": {
            k: v["metrics"]["difficulty_index"]["mean"]
            for k, v in result.summary["strategies"].items()
        },
        "unserved": {
            k: v["metrics"]["unserved_share"]["mean"]
            for k, v in result.summary["strategies"].items()
        },
    }


# --------------------------------------------------------------------------- parent side


class TreeSampler:
    """Peak summed PSS and RSS (bytes) of a process and its descendants.

    RSS is read every ``interval_s``; PSS (which reads ``/proc/PID/smaps_rollup`` and
    costs a few percent of a core for multi-GB processes) every ``pss_every`` samples
    and whenever the summed RSS reaches a new peak.
    """

    def __init__(self, pid: int, interval_s: float = 0.5, pss_every: int = 4) -> None:
        import psutil

        self._psutil = psutil
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.pss_every = pss_every
        self.peak_pss = 0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        ps = self._psutil
        tick = 0
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except ps.Error:
                return
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except ps.Error:
                    continue
            if rss > self.peak_rss or tick % self.pss_every == 0:
                pss = 0
                for p in procs:
                    try:
                        info = p.memory_full_info()
                    except ps.Error:
                        continue
                    pss += getattr(info, "pss", info.rss)
                self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            tick += 1
            self._stop.wait(self.interval_s)


def measure(spec: dict[str, Any], *, timeout_s: float, peer: Path | None = None) -> dict[str, Any]:
    """Run one row in a fresh subprocess, sampling its process tree's memory; with
    ``peer`` (a checkout of chargesite, e.g. ``git worktree add /tmp/base COMMIT``) the
    row runs that checkout's ``sim`` (its working directory and ``PYTHONPATH``)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if peer is not None:
        env["PYTHONPATH"] = str(peer.resolve())
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    t0 = time.perf_counter()
    cwd = ROOT if peer is None else peer.resolve()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    with TreeSampler(proc.pid) as sampler:
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            return {"label": spec["label"], "error": f"timed out after {timeout_s:.0f} s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        return {"label": spec["label"], "error": f"exit status {proc.returncode}"}
    row: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG) :])
    row["process_wall_s"] = wall
    row["peak_tree_pss_mb"] = sampler.peak_pss / 2**20
    row["peak_tree_rss_mb"] = sampler.peak_rss / 2**20
    return row


COLUMNS = (
    ("label", "size", "{}"),
    ("nodes", "nodes", "{:,}"),
    ("edges", "edges", "{:,}"),
    ("evs", "EVs", "{:,.0f}"),
    ("sessions_per_rep", "sess/rep", "{:,.0f}"),
    ("units", "units", "{}"),
    ("workers", "wk", "{}"),
    ("region_s", "region s", "{:.1f}"),
    ("travel_s", "travel s", "{:.1f}"),
    ("siting_s", "siting s", "{:.1f}"),
    ("access_s", "access s", "{:.1f}"),
    ("simulation_s", "sim s", "{:.1f}"),
    ("assemble_s", "assemble s", "{:.1f}"),
    ("total_s", "total s", "{:.1f}"),
    ("simulation_cpu_s", "sim CPU s", "{:.1f}"),
    ("load_after", "load", "{:.1f}"),
    ("peak_rss_self_mb", "RSS self MB", "{:,.0f}"),
    ("peak_tree_pss_mb", "tree PSS MB", "{:,.0f}"),
    ("peak_tree_rss_mb", "tree RSS MB", "{:,.0f}"),
)


def print_table(rows: list[dict[str, Any]]) -> None:
    """Rows as an aligned text table."""
    cells = [[h for _, h, _ in COLUMNS]]
    for r in rows:
        if "error" in r:
            cells.append([r["label"], r["error"]] + [""] * (len(COLUMNS) - 2))
            continue
        cells.append([fmt.format(r[k]) for k, _, fmt in COLUMNS])
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    for i, line in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)), flush=True)
        if i == 0:
            print("  ".join("-" * w for w in widths), flush=True)


def print_speedups(rows: list[dict[str, Any]]) -> None:
    """Throughput ratio of n workers against 1, per size."""
    ok = [r for r in rows if "error" not in r]
    by_size: dict[tuple[str, int], dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in ok:
        by_size[(r["label"], r["nodes"])][r["workers"]] = r
    for (label, _), runs in by_size.items():
        one = runs.get(1)
        for n, r in sorted(runs.items()):
            if one is None or n == 1:
                continue
            sim_x = one["simulation_s"] / r["simulation_s"]
            tot_x = one["total_s"] / r["total_s"]
            # CPU seconds the simulation got per wall second: n on an idle machine.
            busy = r["simulation_cpu_s"] / r["simulation_s"]
            print(
                f"speed-up {label}: {n} workers vs 1: simulation {sim_x:.2f}x, "
                f"whole run {tot_x:.2f}x (target >= 1.7x); the workers got {busy:.2f} "
                f"CPU-s per wall-s (1-min load average {r['load_before']:.1f} before, "
                f"{r['load_after']:.1f} after)"
            )


GROWTH_STAGES = ("region", "travel", "siting", "access", "simulation", "assemble", "total")


def growth_exponent(nodes: list[float], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(nodes); nan without two positive
    times at two different sizes."""
    import numpy as np

    x, y = np.asarray(nodes, dtype=float), np.asarray(times, dtype=float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    if np.unique(x[ok]).size < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope)


def print_growth(rows: list[dict[str, Any]]) -> None:
    """Growth exponent of each stage over the sizes, per (workers, EV factor)."""
    groups: dict[tuple[int, float], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if "error" not in r:
            groups[(r["workers"], r.get("ev_factor", 1.0))].append(r)
    for (workers, ev_factor), runs in sorted(groups.items()):
        sizes = sorted({r["nodes"] for r in runs})
        if len(sizes) < 2:
            continue
        nodes = [float(r["nodes"]) for r in runs]
        parts = [
            f"{stage} {growth_exponent(nodes, [r[stage + '_s'] for r in runs]):.2f}"
            for stage in GROWTH_STAGES
        ]
        print(
            f"growth exponents (time ~ nodes^b, least squares over {len(sizes)} sizes, "
            f"{sizes[0]:,} to {sizes[-1]:,} nodes; {workers} worker(s), EV factor "
            f"{ev_factor:g}): " + ", ".join(parts)
        )


def check_target(rows: list[dict[str, Any]]) -> None:
    """The target row against its limits."""
    for r in rows:
        if r.get("label") != "target" or "error" in r:
            continue
        peak_gb = max(r["peak_tree_pss_mb"], r["peak_rss_self_mb"]) / 1024.0
        print(
            f"target, {r['workers']} worker(s): {r['total_s']:.0f} s "
            f"({'OK' if r['total_s'] < TARGET_S else 'OVER'} the {TARGET_S:.0f} s limit), "
            f"peak {peak_gb:.2f} GB ({'OK' if peak_gb < TARGET_GB else 'OVER'} the "
            f"{TARGET_GB:g} GB limit); {r['nodes']:,} nodes, {r['evs']:,.0f} EVs, "
            f"{r['units']} units; 1-min load average {r['load_before']:.1f} before, "
            f"{r['load_after']:.1f} after"
        )


def print_peer(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Per row measured on the peer checkout and here: each stage's time there over
    here (> 1: faster here), and whether the results are the same."""
    for peer, here in pairs:
        if "error" in peer or "error" in here:
            continue
        parts = []
        for stage in GROWTH_STAGES:
            a, b = peer[stage + "_s"], here[stage + "_s"]
            parts.append(f"{stage} {a:.1f}/{b:.1f} s" + (f" = {a / b:.2f}x" if b > 0 else ""))
        same = peer.get("results_sha256") == here.get("results_sha256")
        print(
            f"{here['label']}, {here['workers']} worker(s), peer / this: "
            + ", ".join(parts)
            + f"; results {'identical' if same else 'DIFFERENT'} (summary.json without "
            f"provenance); 1-min load average {peer['load_before']:.1f}/"
            f"{here['load_before']:.1f} before"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        nargs="+",
        default=["10000", "50000", "200000"],
        help="road nodes per row, or 'target' for the scenario file as it is",
    )
    ap.add_argument("--workers", nargs="+", type=int, default=[1])
    ap.add_argument(
        "--ev-factors",
        nargs="+",
        type=float,
        default=[1.0],
        help="multiply households (hence EVs and sessions) at each size",
    )
    ap.add_argument("--config", type=Path, default=TARGET, help="the target scenario")
    ap.add_argument("--replications", type=int, default=None, help="override")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per row (s)")
    ap.add_argument("--json", type=Path, default=None, help="append rows as JSON lines")
    ap.add_argument("--profile", type=Path, default=None, help="folder for cProfile stats")
    ap.add_argument(
        "--peer",
        type=Path,
        default=None,
        help="a checkout to compare with (git worktree add DIR COMMIT): each row runs "
        "there first, then here, and the ratios are printed",
    )
    ap.add_argument(
        "--warm-region",
        action="store_true",
        help="read regions from the usual disk cache (region.cache_dir) when they are "
        "there; by default every row builds its region in a fresh cache folder",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child is not None:
        row = child(json.loads(args.child))
        print(RESULT_TAG + json.dumps(row), flush=True)
        return

    base = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    print(
        f"scenario {args.config.name}: {base['demand']['days']} days, "
        f"{len(base['strategies'])} strategies; machine: {os.cpu_count()} cores",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for size in args.sizes:
        nodes = None if size == "target" else int(size)
        for ev_factor in args.ev_factors:
            for workers in args.workers:
                label = "target" if nodes is None and ev_factor == 1.0 else f"{size}x{ev_factor:g}"
                if nodes is not None and ev_factor == 1.0:
                    label = f"{nodes // 1000}k"
                sides = ([args.peer] if args.peer is not None else []) + [None]
                got = []
                for peer in sides:
                    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
                        cache = None if args.warm_region else tmp
                        spec: dict[str, Any] = {
                            "label": label if peer is None else f"peer {label}",
                            "workers": workers,
                            "ev_factor": ev_factor,
                            "scenario": scenario_dict(
                                base,
                                nodes=nodes,
                                ev_factor=ev_factor,
                                replications=args.replications,
                                cache_dir=cache,
                            ),
                        }
                        if args.profile is not None and peer is None:
                            args.profile.mkdir(parents=True, exist_ok=True)
                            spec["profile"] = str(
                                (args.profile / f"{label}-w{workers}.prof").resolve()
                            )
                        row = measure(spec, timeout_s=args.timeout, peer=peer)
                    rows.append(row)
                    got.append(row)
                    if args.json is not None:
                        with args.json.open("a", encoding="utf-8") as fh:
                            fh.write(json.dumps(row) + "\n")
                    print(f"done: {json.dumps(row)}", flush=True)
                if len(got) == 2:
                    pairs.append((got[0], got[1]))
    print()
    print_table(rows)
    print_speedups(rows)
    print_growth(rows)
    check_target(rows)
    print_peer(pairs)
    if rows and not all(r.get("workers_supported", True) for r in rows if "error" not in r):
        print("note: sim.api.run has no `workers` parameter here; rows ran sequentially")


if __name__ == "__main__":
    main()
