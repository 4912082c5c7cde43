"""Shortest-path kernels of other graph libraries against scipy's csgraph Dijkstra.

The question (issue 13, item 4): does any library the field uses compute our
one-to-many matrix (from the candidate sites, on the reversed road graph, to the demand
nodes, within a cutoff) faster than ``scipy.sparse.csgraph.dijkstra`` on this machine?
If scipy's kernel is the fastest there is, chargesite (at the scipy floor) cannot go
much past ~25x the careful networkx on one core.

Two steps, because the libraries need not be installed in chargesite's environment:

1. ``python benchmarks/bench_graph_kernels.py --export /tmp/city.npz`` (chargesite's
   environment) writes the synthetic city's CSR travel-time matrix (the one
   ``prepare`` searches), node coordinates, the candidate and demand node indices and
   the cutoff, as ``bench_travel_times.py`` draws them.
2. ``python benchmarks/bench_graph_kernels.py --kernels /tmp/city.npz`` (any
   environment with numpy and scipy, plus whichever of igraph, networkit, rustworkx
   and pandana are installed) times each kernel on the same matrix, checks its
   distances against scipy's and prints the ratio scipy / kernel (> 1: faster than
   scipy).  Kernels:

   - scipy: ``csgraph.dijkstra(reversed, indices=candidates, limit=cutoff)``, 1 thread;
   - igraph: ``Graph.distances(source=candidates, target=demand, weights=...)``
     (Dijkstra in C; no cutoff);
   - networkit: ``distance.SPSP(G, candidates, demand)`` (C++ Dijkstra, OpenMP over
     sources), on 1 thread and on every core;
   - rustworkx: ``digraph_dijkstra_shortest_path_lengths`` per source (Rust; timed on
     a few sources and scaled);
   - pandana: contraction hierarchies (``Network`` preprocessing, then
     ``shortest_path_lengths`` of every candidate x demand pair), preprocessing timed
     apart.

Each is the best of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph


@dataclass(frozen=True)
class Case:
    """The searches to time: edges ``u -> v`` of weight ``w`` (s) on ``n`` nodes (the
    reversed road graph), sources, targets, scipy's distances and the cutoff (s)."""

    n: int
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    ref: np.ndarray
    cut: float


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Smallest wall time (s) of ``repeat`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def export(path: Path, *, nodes: int, demand: int, candidates: int, cutoff_min: float) -> None:
    """Write the synthetic city's reversed CSR and the searched nodes to ``path``."""
    from sim.access.network import build_network
    from sim.config.schema import SyntheticRegionConfig
    from sim.region import load_region

    cfg = SyntheticRegionConfig(
        layout="grid", nodes=nodes, spacing_m=150, expressway=True, households=0, candidates=30
    )
    graph = load_region(cfg, seed=0).graph
    net = build_network(graph)
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    rng = np.random.default_rng(0)  # as bench_travel_times.py draws them
    src = np.sort(rng.choice(ids, min(demand, ids.size), replace=False))
    dst = np.sort(rng.choice(ids, min(candidates, ids.size), replace=False))
    rev = net.matrix.T.tocsr()
    xy = np.array([(graph.nodes[i]["x"], graph.nodes[i]["y"]) for i in ids.tolist()])
    np.savez(
        path,
        indptr=rev.indptr,
        indices=rev.indices,
        data=rev.data,
        n=rev.shape[0],
        xy=xy,
        sources=net.index_of(dst),  # the searches start at the candidates
        targets=net.index_of(src),  # and read the demand nodes
        cutoff_s=cutoff_min * 60.0,
    )
    print(f"wrote {path}: {rev.shape[0]:,} nodes, {rev.nnz:,} edges")


def _check(name: str, ref: np.ndarray, got: np.ndarray, cutoff: float | None) -> str:
    """Largest difference on the pairs within the cutoff, and reachability."""
    got = np.asarray(got, dtype=float)
    if cutoff is not None:
        got = np.where(got <= cutoff, got, np.inf)
    fin = np.isfinite(ref)
    same = bool((fin == np.isfinite(got)).all())
    diff = float(np.abs(ref[fin] - got[fin]).max()) if fin.any() else 0.0
    exact = float((ref[fin] == got[fin]).mean()) if fin.any() else 1.0
    return f"reach {'same' if same else 'DIFFERENT'}, max|diff| {diff:.2g} s, {exact:.1%} bit-equal"


def kernels(path: Path, *, repeat: int) -> None:
    """Time every installed kernel on the exported matrix; print ratios and checks."""
    z = np.load(path)
    n = int(z["n"])
    rev = sparse.csr_array((z["data"], z["indices"], z["indptr"]), shape=(n, n))
    src, dst, cut = z["sources"], z["targets"], float(z["cutoff_s"])
    print(
        f"{n:,} nodes, {rev.nnz:,} edges; {src.size} sources x {dst.size:,} targets, "
        f"cutoff {cut / 60:g} min; best of {repeat}; {os.cpu_count()} cores"
    )
    t_sp, full = best_of(
        repeat, lambda: csgraph.dijkstra(rev, directed=True, indices=src, limit=cut)
    )
    ref = full[:, dst]
    del full
    rows: list[tuple[str, float, str]] = [("scipy csgraph.dijkstra (1 thread)", t_sp, "reference")]
    coo = rev.tocoo()
    u, v, w = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(float)
    case = Case(n=n, u=u, v=v, w=w, src=src, dst=dst, ref=ref, cut=cut)
    rows += _igraph(case, repeat)
    rows += _networkit(case, repeat)
    rows += _rustworkx(case)
    rows += _pandana(case, z["xy"])
    for name, t, note in rows:
        ratio = f"{t_sp / t:6.2f}x" if np.isfinite(t) and t > 0 else "   -  "
        print(f"  {name:<44} {t:9.3f} s  scipy/it {ratio}  {note}")


def _igraph(c: Case, repeat: int) -> list[tuple[str, float, str]]:
    n, u, v, w, src, dst, ref, cut = c.n, c.u, c.v, c.w, c.src, c.dst, c.ref, c.cut
    try:
        import igraph as ig
    except ImportError:
        return [("igraph", float("nan"), "not installed")]
    t_b, g = best_of(
        1, lambda: ig.Graph(n=n, edges=np.column_stack([u, v]).tolist(), directed=True)
    )
    g.es["w"] = w.tolist()
    t, d = best_of(
        repeat, lambda: g.distances(source=src.tolist(), target=dst.tolist(), weights="w")
    )
    return [
        (
            f"igraph {ig.__version__} distances (no cutoff)",
            t,
            _check("igraph", ref, d, cut) + f"; build {t_b:.1f} s",
        )
    ]


def _networkit(c: Case, repeat: int) -> list[tuple[str, float, str]]:
    n, u, v, w, src, dst, ref, cut = c.n, c.u, c.v, c.w, c.src, c.dst, c.ref, c.cut
    try:
        import networkit as nk
    except ImportError:
        return [("networkit", float("nan"), "not installed")]
    g = nk.Graph(n, weighted=True, directed=True)
    g.addEdges((w, (u, v)))
    out = []
    for threads in sorted({1, os.cpu_count() or 1}):
        nk.setNumberOfThreads(threads)

        def run() -> np.ndarray:
            sp = nk.distance.SPSP(g, src.tolist(), dst.tolist())
            sp.run()
            return np.asarray(sp.getDistances())

        t, d = best_of(repeat, run)
        d = np.where(d > 1e300, np.inf, d)
        out.append(
            (
                f"networkit {nk.__version__} SPSP ({threads} thread(s))",
                t,
                _check("networkit", ref, d, cut),
            )
        )
    return out


def _rustworkx(c: Case) -> list[tuple[str, float, str]]:
    n, u, v, w, src, dst, ref, cut = c.n, c.u, c.v, c.w, c.src, c.dst, c.ref, c.cut
    try:
        import rustworkx as rx
    except ImportError:
        return [("rustworkx", float("nan"), "not installed")]
    g = rx.PyDiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(list(zip(u.tolist(), v.tolist(), w.tolist(), strict=True)))
    k = min(10, src.size)

    def run() -> np.ndarray:
        d = np.full((k, dst.size), np.inf)
        for i, s in enumerate(src[:k].tolist()):
            got = dict(rx.digraph_dijkstra_shortest_path_lengths(g, s, edge_cost_fn=float))
            got[s] = 0.0  # the source itself is not in the mapping
            d[i] = [got.get(t, np.inf) for t in dst.tolist()]
        return d

    t, d = best_of(1, run)
    return [
        (
            f"rustworkx {rx.__version__} per source (x{src.size / k:g})",
            t * src.size / k,
            _check("rustworkx", ref[:k], d, cut),
        )
    ]


def _pandana(c: Case, xy: np.ndarray) -> list[tuple[str, float, str]]:
    u, v, w, src, dst, ref, cut = c.u, c.v, c.w, c.src, c.dst, c.ref, c.cut
    try:
        import pandana
        import pandas as pd
    except ImportError:
        return [("pandana", float("nan"), "not installed")]
    nodes = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    edges = pd.DataFrame({"w": w})
    t_pre, net = best_of(
        1,
        lambda: pandana.Network(
            nodes["x"], nodes["y"], pd.Series(u), pd.Series(v), edges, twoway=False
        ),
    )
    o = np.repeat(src, dst.size)
    dd = np.tile(dst, src.size)
    t, d = best_of(
        1, lambda: np.asarray(net.shortest_path_lengths(o.tolist(), dd.tolist(), imp_name="w"))
    )
    d = np.asarray(d, dtype=float).reshape(src.size, dst.size)
    d = np.where(d > 1e300, np.inf, d)
    return [
        (
            f"pandana {pandana.__version__} CH queries (pairs)",
            t,
            _check("pandana", ref, d, cut) + f"; CH preprocessing {t_pre:.1f} s more",
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, default=None, help="write the city (chargesite env)")
    ap.add_argument("--kernels", type=Path, default=None, help="time the kernels on a city")
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--demand", type=int, default=2000)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--cutoff-min", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.export is not None:
        export(
            args.export,
            nodes=args.nodes,
            demand=args.demand,
            candidates=args.candidates,
            cutoff_min=args.cutoff_min,
        )
    if args.kernels is not None:
        kernels(args.kernels, repeat=args.repeat)


if __name__ == "__main__":
    main()
