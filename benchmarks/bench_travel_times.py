"""Travel-time matrix: chargesite against networkx (naive and careful) and raw scipy.

The matrix is the one ``prepare`` computes: from demand nodes (a sample of road nodes)
to candidate sites, within a cutoff.  Four ways of computing it, in the same run, on
the same graph:

networkx, naive
    What an osmnx user writes first: one ``nx.single_source_dijkstra_path_length``
    (``weight="travel_time"``, with the cutoff) per demand node, on the osmnx
    ``MultiDiGraph``.  On a large region it is timed on the first ``--naive-sources``
    demand nodes only, and its time for the whole matrix is that time scaled up
    (printed as such).
networkx, careful
    Its best form: the graph converted once to a ``DiGraph`` keeping the fastest of
    parallel edges (``ox.convert.to_digraph(G, weight="travel_time")``), and one search
    per node of the smaller side (the candidates), on the reversed graph
    (``DiGraph.reverse(copy=False)``, a view).
scipy floor
    Raw ``scipy.sparse.csgraph.dijkstra`` on the same CSR matrix chargesite uses,
    already transposed, from the same (distinct) candidate indices with the same
    ``limit``: what chargesite's searches cannot beat.
chargesite
    :func:`sim.access.network.travel_time_matrix` (its blocks of sources on every core,
    forked processes; timed again on one process, as one core searches) on a fresh
    :class:`~sim.access.network.RoadNetwork` each repeat (so the transposed CSR is
    built inside the timing), with node ids in and the ``(demand, candidates)``
    matrix out.

Each preparation (the CSR build, the DiGraph conversion) is timed apart from the
searches; the ratios compare searches, and chargesite's build + search against the
careful user's conversion + search.  Distances are checked: the floor's and
chargesite's must be bit-identical; networkx's are compared by reachability and the
largest difference (a sum taken from the other end may differ in the last bits).

Runs on ``../shared/osm/porto.osm.pbf`` (skipped, with a note, when it is absent) and
on a generated city of ``--synthetic-nodes`` road nodes (``sim.region.synthetic``).

Usage::

    python benchmarks/bench_travel_times.py
    python benchmarks/bench_travel_times.py --synthetic-nodes 100000 --demand 2000 \
        --candidates 200 --cutoff-min 30 --repeat 5 --nx-repeat 1 --naive-sources 200

Targets: chargesite >= 30x the careful networkx; chargesite / floor <= 1.2.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
from scipy.sparse import csgraph

import sim.access.network as network_module
from sim.access.network import RoadNetwork, build_network, travel_time_matrix
from sim.config.schema import FileSource, SyntheticRegionConfig
from sim.region import load_region

ROOT = Path(__file__).resolve().parents[1]
PORTO = ROOT.parent / "shared" / "osm" / "porto.osm.pbf"


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Smallest wall time (s) of ``repeat`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def networkx_naive(
    graph: nx.MultiDiGraph, sources: np.ndarray, targets: np.ndarray, cutoff_s: float
) -> np.ndarray:
    """One networkx Dijkstra per source, on the multigraph."""
    out = np.full((sources.size, targets.size), np.inf)
    for i, s in enumerate(sources.tolist()):
        lengths = nx.single_source_dijkstra_path_length(
            graph, s, cutoff=cutoff_s, weight="travel_time"
        )
        for j, t in enumerate(targets.tolist()):
            v = lengths.get(t)
            if v is not None:
                out[i, j] = v
    return out


def networkx_careful(
    reversed_graph: nx.DiGraph, sources: np.ndarray, targets: np.ndarray, cutoff_s: float
) -> np.ndarray:
    """One networkx Dijkstra per target (the smaller side), on the reversed DiGraph."""
    out = np.full((sources.size, targets.size), np.inf)
    row = {s: i for i, s in enumerate(sources.tolist())}
    for j, t in enumerate(targets.tolist()):
        lengths = nx.single_source_dijkstra_path_length(
            reversed_graph, t, cutoff=cutoff_s, weight="travel_time"
        )
        for s, i in row.items():
            v = lengths.get(s)
            if v is not None:
                out[i, j] = v
    return out


def compare(name: str, ref: np.ndarray, got: np.ndarray) -> str:
    """Reachability, bit-identical share and largest difference of ``got`` vs ``ref``."""
    fin = np.isfinite(ref)
    same_reach = bool((fin == np.isfinite(got)).all())
    diff = float(np.abs(ref[fin] - got[fin]).max()) if fin.any() else 0.0
    exact = int((ref == got).sum())
    return (
        f"  vs {name:<26}: reachability {'same' if same_reach else 'DIFFERENT'}, "
        f"{exact:,} of {ref.size:,} pairs bit-identical, max |diff| {diff:.3g} s "
        f"({int(fin.sum()):,} finite pairs)"
    )


def measure(graph: nx.MultiDiGraph, args: argparse.Namespace) -> dict[str, Any]:
    """Times (s) and matrices of the four ways on one graph."""
    nodes = np.array(sorted(graph.nodes), dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    n_dem = nodes.size if args.demand <= 0 else min(args.demand, nodes.size)
    src = np.sort(rng.choice(nodes, n_dem, replace=False))
    dst = np.sort(rng.choice(nodes, min(args.candidates, nodes.size), replace=False))
    cut = args.cutoff_min * 60.0
    r: dict[str, Any] = {"sources": src, "targets": dst}
    r["t_build"], net = best_of(args.repeat, lambda: build_network(graph))

    def mine() -> np.ndarray:
        return travel_time_matrix(
            RoadNetwork(matrix=net.matrix, node_ids=net.node_ids), src, dst, cutoff_s=cut
        )

    r["procs"] = network_module.search_processes(min(src.size, dst.size), nodes=net.n_nodes)
    r["t_cs"], r["mine"] = best_of(args.repeat, mine)
    real = network_module.search_processes
    network_module.search_processes = lambda *_a, **_k: 1  # as one core would search
    try:
        r["t_cs1"], r["mine1"] = best_of(args.repeat, mine)
    finally:
        network_module.search_processes = real
    rev = net.matrix.T.tocsr()
    ti, si = net.index_of(dst), net.index_of(src)
    r["t_floor"], dist = best_of(
        args.repeat, lambda: csgraph.dijkstra(rev, directed=True, indices=ti, limit=cut)
    )
    r["floor"] = np.ascontiguousarray(dist[:, si].T)
    del dist
    r["t_conv"], rgraph = best_of(
        args.nx_repeat,
        lambda: ox.convert.to_digraph(graph, weight="travel_time").reverse(copy=False),
    )
    r["t_care"], r["careful"] = best_of(
        args.nx_repeat, lambda: networkx_careful(rgraph, src, dst, cut)
    )
    rgraph = None
    k = src.size if args.naive_sources <= 0 else min(args.naive_sources, src.size)
    t_naive_k, r["naive"] = best_of(
        args.nx_repeat, lambda: networkx_naive(graph, src[:k], dst, cut)
    )
    r["k"], r["t_naive"] = k, t_naive_k * src.size / k
    return r


def bench(label: str, graph: nx.MultiDiGraph, args: argparse.Namespace) -> None:
    """All four ways on one graph; prints times, ratios and checks."""
    print(f"\n{label}: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges")
    r = measure(graph, args)
    n_s, n_t, k = r["sources"].size, r["targets"].size, r["k"]
    print(
        f"matrix: {n_s:,} demand nodes x {n_t} candidates, cutoff {args.cutoff_min:g} min; "
        f"best of {args.repeat} (networkx: best of {args.nx_repeat})"
    )
    print(f"  chargesite CSR build  : {r['t_build']:8.3f} s (once per region)")
    print(
        f"  chargesite searches   : {r['t_cs']:8.3f} s (travel_time_matrix, ids in, matrix out; "
        f"{r['procs']} process(es))"
    )
    print(f"  chargesite, 1 process : {r['t_cs1']:8.3f} s (the same, on one core)")
    print(
        f"  scipy floor           : {r['t_floor']:8.3f} s (csgraph.dijkstra, transposed CSR given)"
    )
    print(f"  networkx to_digraph   : {r['t_conv']:8.3f} s (+ reverse view, once per region)")
    print(f"  networkx careful      : {r['t_care']:8.3f} s ({n_t} searches, reversed DiGraph)")
    scaled = "" if k == n_s else f", timed on {k} sources and scaled x{n_s / k:g}"
    print(f"  networkx naive        : {r['t_naive']:8.3f} s ({n_s:,} searches{scaled})")
    care, prep = r["t_care"] / r["t_cs"], (r["t_conv"] + r["t_care"]) / (r["t_build"] + r["t_cs"])
    print(
        f"  chargesite vs careful networkx: {care:6.1f}x searches, {prep:6.1f}x with "
        f"preparation (target >= 30x); vs naive networkx {r['t_naive'] / r['t_cs']:6.1f}x"
    )
    print(
        f"  on one core: chargesite vs careful networkx {r['t_care'] / r['t_cs1']:6.1f}x "
        f"searches; chargesite / floor {r['t_cs1'] / r['t_floor']:6.3f}"
    )
    print(f"  chargesite / floor    : {r['t_cs'] / r['t_floor']:8.3f} (target <= 1.2)")
    print(compare("floor", r["floor"], r["mine"]))
    print(compare("careful networkx", r["careful"], r["mine"]))
    print(compare(f"naive networkx ({k} rows)", r["naive"], r["mine"][:k]))
    if not (np.array_equal(r["floor"], r["mine"]) and np.array_equal(r["mine1"], r["mine"])):
        raise SystemExit("chargesite's distances differ from scipy's on the same searches")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=PORTO, help="OSM extract (skipped if absent)")
    ap.add_argument("--synthetic-nodes", type=int, default=100_000, help="0 = none")
    ap.add_argument("--demand", type=int, default=2000, help="demand nodes (0 = all)")
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--cutoff-min", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=5, help="chargesite and the floor")
    ap.add_argument("--nx-repeat", type=int, default=1, help="networkx (slow)")
    ap.add_argument(
        "--naive-sources",
        type=int,
        default=200,
        help="time naive networkx on this many demand nodes and scale (0 = all)",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.file.exists():
        bench(args.file.name, load_region(FileSource(args.file)).graph, args)
    else:
        print(f"{args.file}: not found, skipped")
    if args.synthetic_nodes > 0:
        cfg = SyntheticRegionConfig(
            layout="grid",
            nodes=args.synthetic_nodes,
            spacing_m=150,
            expressway=True,
            households=0,
            candidates=30,
        )
        region = load_region(cfg, seed=args.seed)
        bench(f"synthetic grid city ({args.synthetic_nodes:,} nodes)", region.graph, args)


if __name__ == "__main__":
    main()
