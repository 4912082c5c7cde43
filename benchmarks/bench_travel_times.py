"""Travel-time matrix: chargesite (CSR + scipy Dijkstra) against networkx, same run.

Computes the matrix from demand nodes (every road node, or a sample) to candidate sites
as an osmnx user would write it with networkx (one single-source Dijkstra per demand
node, ``nx.single_source_dijkstra_path_length`` with ``weight="travel_time"``), and with
chargesite's :func:`sim.access.network.travel_time_matrix`; checks the distances are identical
and prints both times and the ratio.

Usage::

    python benchmarks/bench_travel_times.py [--file ../shared/osm/porto.osm.pbf]
        [--demand 2000] [--candidates 200] [--cutoff-min 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import networkx as nx
import numpy as np

from sim.access.network import build_network, travel_time_matrix
from sim.config.schema import FileSource, SampleSource
from sim.region import load_region

ROOT = Path(__file__).resolve().parents[1]
PORTO = ROOT.parent / "shared" / "osm" / "porto.osm.pbf"


def networkx_matrix(
    graph: nx.MultiDiGraph, sources: np.ndarray, targets: np.ndarray, cutoff_s: float
) -> np.ndarray:
    """What an osmnx user writes: one networkx Dijkstra per source."""
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=PORTO if PORTO.exists() else None)
    ap.add_argument("--demand", type=int, default=2000, help="demand nodes (0 = all)")
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--cutoff-min", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    source = FileSource(args.file) if args.file is not None else SampleSource("kotka")
    region = load_region(source)
    g = region.graph
    nodes = np.array(sorted(g.nodes), dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    n_dem = nodes.size if args.demand <= 0 else min(args.demand, nodes.size)
    sources = np.sort(rng.choice(nodes, n_dem, replace=False))
    targets = np.sort(rng.choice(nodes, min(args.candidates, nodes.size), replace=False))
    cutoff = args.cutoff_min * 60.0
    print(f"region: {region.name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    print(
        f"matrix: {sources.size} demand nodes x {targets.size} candidates, cutoff "
        f"{args.cutoff_min:g} min"
    )

    t_nx = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ref = networkx_matrix(g, sources, targets, cutoff)
        t_nx.append(time.perf_counter() - t0)
    t_cs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        net = build_network(g)  # included: a user pays for it once per region
        mine = travel_time_matrix(net, sources, targets, cutoff_s=cutoff)
        t_cs.append(time.perf_counter() - t0)

    finite = np.isfinite(ref)
    same_reach = bool((finite == np.isfinite(mine)).all())
    max_diff = float(np.abs(ref[finite] - mine[finite]).max()) if finite.any() else 0.0
    print(f"networkx   : {min(t_nx):8.3f} s (best of {args.repeat})")
    print(f"chargesite : {min(t_cs):8.3f} s (best of {args.repeat}, incl. CSR build)")
    print(f"ratio      : {min(t_nx) / min(t_cs):8.1f}x faster")
    print(
        f"identical  : reachability {same_reach}, max |diff| {max_diff:.3g} s "
        f"over {int(finite.sum())} finite pairs"
    )


if __name__ == "__main__":
    main()
