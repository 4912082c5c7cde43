"""Travel times on the road graph: one CSR matrix and scipy's Dijkstra.

The road graph (an osmnx ``MultiDiGraph``) is turned once into a
``scipy.sparse.csr_array`` of edge travel times (seconds); parallel edges keep their
fastest member.  Matrices between demand nodes and candidate sites are then computed by
``scipy.sparse.csgraph.dijkstra`` from whichever side is smaller (on the transposed
graph when the targets are fewer), with a cutoff, never by per-pair networkx calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from sim.errors import DataError
from sim.region.model import RoadEdges

__all__ = ["RoadNetwork", "build_network", "network_of", "travel_time_matrix", "travel_times_to"]

# csgraph treats explicit zeros in a sparse matrix as edges, but a zero weight would be
# lost by any later sparse arithmetic; the smallest edge weight is clamped to this (s).
_MIN_EDGE_S = 1e-3

# Largest dense block of Dijkstra distances held at once (bytes): scipy returns a
# (sources, n_nodes) float64 array, 1.3 GB for 800 sources on 200,000 nodes.
_BLOCK_BYTES = 1 << 28

# Processes for one search (blocks of sources on several cores), and the fewest sources
# and source-nodes per process worth a fork (fewer: one process searches them all).
_MAX_PROCESSES = 4
_MIN_SOURCES_PER_PROCESS = 64
_MIN_WORK_PER_PROCESS = 5_000_000  # sources x graph nodes


@dataclass(frozen=True)
class RoadNetwork:
    """The road graph as a CSR matrix of travel times.

    Attributes
    ----------
    matrix
        ``(n, n)`` CSR array; ``matrix[i, j]`` is the fastest edge time from node ``i`` to
        node ``j`` in seconds.
    node_ids
        ``(n,)`` int64 OSM node ids, sorted; row ``i`` is node ``node_ids[i]``.
    """

    matrix: sparse.csr_array
    node_ids: np.ndarray

    @cached_property
    def reversed_matrix(self) -> sparse.csr_array:
        """The transposed matrix (CSR), for backward searches; built on first use."""
        return self.matrix.T.tocsr()

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    def index_of(self, nodes: np.ndarray | list[int], /) -> np.ndarray:
        """Row indices of OSM node ids.

        Raises
        ------
        DataError
            If a node id is not in the network.
        """
        nodes = np.asarray(nodes, dtype=np.int64)
        idx = np.searchsorted(self.node_ids, nodes)
        idx = np.clip(idx, 0, self.n_nodes - 1)
        bad = self.node_ids[idx] != nodes
        if bad.any():
            raise DataError(f"node ids not in the road network: {nodes[bad][:5].tolist()}")
        return idx.astype(np.int64)


def build_network(graph: nx.MultiDiGraph, /, *, weight: str = "travel_time") -> RoadNetwork:
    """Build the CSR travel-time matrix of a road graph (:func:`network_of` of its
    arrays, :meth:`RoadEdges.of_graph <sim.region.model.RoadEdges.of_graph>`).

    Parameters
    ----------
    graph
        osmnx-compatible directed multigraph whose edges carry ``weight``.
    weight
        Edge attribute to use (``travel_time`` in s, or ``length`` in m).

    Returns
    -------
    RoadNetwork
    """
    return network_of(RoadEdges.of_graph(graph), weight=weight)


def network_of(roads: RoadEdges, /, *, weight: str = "travel_time") -> RoadNetwork:
    """The CSR matrix of a road graph given as arrays (:attr:`Region.roads
    <sim.region.model.Region.roads>`): the fastest of parallel edges, each weight at
    least :data:`_MIN_EDGE_S`.

    Parameters
    ----------
    roads
        The road graph's arrays.
    weight
        ``"travel_time"`` (s) or ``"length"`` (m).
    """
    columns = {"travel_time": roads.travel_time_s, "length": roads.length_m}
    if weight not in columns:
        raise ValueError(f"weight = {weight!r}: expected 'travel_time' or 'length'")
    if roads.node_ids.size == 0:
        raise DataError("the road graph has no nodes")
    w = np.asarray(columns[weight], dtype=np.float64)
    if not np.isfinite(w).all():
        raise DataError(f"some road edges have no {weight!r} attribute")
    node_ids = roads.node_ids
    ui = np.searchsorted(node_ids, roads.u)
    vi = np.searchsorted(node_ids, roads.v)
    w = np.maximum(w, _MIN_EDGE_S)
    # Keep the fastest of parallel edges: sort by (u, v, w) and take the first of each pair.
    order = np.lexsort((w, vi, ui))
    ui, vi, w = ui[order], vi[order], w[order]
    first = np.ones(ui.shape[0], dtype=bool)
    first[1:] = (ui[1:] != ui[:-1]) | (vi[1:] != vi[:-1])
    n = node_ids.shape[0]
    mat = sparse.csr_array((w[first], (ui[first], vi[first])), shape=(n, n))
    return RoadNetwork(matrix=mat, node_ids=node_ids)


def travel_time_matrix(
    network: RoadNetwork,
    sources: np.ndarray | list[int],
    targets: np.ndarray | list[int],
    /,
    *,
    cutoff_s: float | None = None,
) -> np.ndarray:
    """Shortest travel times from each source node to each target node.

    One ``csgraph.dijkstra`` search per distinct node of the smaller side: forward from
    the sources, or backward from the targets on the reversed graph when there are
    fewer distinct targets.

    Parameters
    ----------
    network
        From :func:`build_network`.
    sources, targets
        OSM node ids (repeats allowed).
    cutoff_s
        Stop searching beyond this travel time (s); farther pairs are ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), len(targets))`` float64 travel times in seconds.
    """
    si = network.index_of(sources)
    ti = network.index_of(targets)
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    us, inv_s = np.unique(si, return_inverse=True)
    ut, inv_t = np.unique(ti, return_inverse=True)
    if us.size <= ut.size:
        return _gather(_search(network.matrix, us, limit, ut), inv_s, inv_t)
    # Fewer targets: search backwards from them on the reversed graph.
    return _gather(_search(network.reversed_matrix, ut, limit, us).T, inv_s, inv_t)


def travel_times_to(
    network: RoadNetwork,
    targets: np.ndarray | list[int],
    sources: Sequence[np.ndarray | list[int]],
    /,
    *,
    cutoff_s: float | None = None,
) -> list[np.ndarray]:
    """Shortest travel times from each of several sets of sources to the same targets,
    from one backward search per distinct target.

    Each search runs on the reversed graph from a target and reaches every node, so one
    search per target serves every set of sources (demand points and the targets
    themselves, for instance): no second Dijkstra for the same times.  The matrix of a
    set is bit for bit the one :func:`travel_time_matrix` gives when it searches
    backwards (when the set has more distinct nodes than ``targets``).

    Parameters
    ----------
    network
        From :func:`build_network`.
    targets
        OSM node ids (repeats allowed).
    sources
        Sets of OSM node ids (repeats allowed).
    cutoff_s
        Stop searching beyond this travel time (s); farther pairs are ``inf``.

    Returns
    -------
    list of numpy.ndarray
        Per set, ``(len(set), len(targets))`` float64 travel times in seconds.
    """
    ti = network.index_of(targets)
    limit = np.inf if cutoff_s is None else float(cutoff_s)
    ut, inv_t = np.unique(ti, return_inverse=True)
    rows = [network.index_of(s) for s in sources]
    columns = np.unique(np.concatenate(rows)) if rows else np.empty(0, np.int64)
    if ut.size == 0 or columns.size == 0:
        return [np.full((r.size, ti.size), np.inf) for r in rows]
    d = _search(network.reversed_matrix, ut, limit, columns).T
    return [_gather(d, np.searchsorted(columns, r), inv_t) for r in rows]


def _gather(d: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``d[rows][:, cols]`` as a C-contiguous array, without the copy when both are
    the identity (distinct nodes given in sorted order)."""
    if _is_identity(rows, d.shape[0]):
        if _is_identity(cols, d.shape[1]):
            return np.ascontiguousarray(d)
        return np.ascontiguousarray(d[:, cols])
    if _is_identity(cols, d.shape[1]):
        return np.ascontiguousarray(d[rows])
    return np.ascontiguousarray(d[np.ix_(rows, cols)])


def _is_identity(index: np.ndarray, n: int) -> bool:
    return index.shape[0] == n and bool((index == np.arange(n)).all())


def _search(
    matrix: sparse.csr_array, indices: np.ndarray, limit: float, columns: np.ndarray
) -> np.ndarray:
    """``csgraph.dijkstra`` from each of ``indices``, keeping only the given columns.

    The searches run in blocks of sources so that the dense ``(block, n_nodes)``
    distance arrays scipy returns stay under :data:`_BLOCK_BYTES` together (a search's
    result does not depend on the other sources of its call).  With more than one core
    and enough sources the blocks run in :func:`search_processes` forked processes
    (scipy's Dijkstra holds the GIL, so threads would not help); each block comes back
    as the same bits.
    """
    n = matrix.shape[0]
    procs = search_processes(indices.size, nodes=n)
    step = max(1, _BLOCK_BYTES // (8 * n * procs))
    if procs > 1:  # as many blocks on every process
        blocks = -(-indices.size // step)
        blocks = -(-blocks // procs) * procs
        step = -(-indices.size // blocks)
    if indices.size <= step:
        return _block(matrix, indices, limit, columns)
    out = np.empty((indices.size, columns.size))
    starts = range(0, indices.size, step)
    if procs == 1:
        for lo in starts:
            out[lo : lo + step] = _block(matrix, indices[lo : lo + step], limit, columns)
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _FORKED.update(matrix=matrix, indices=indices, limit=limit, columns=columns, step=step)
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
            for lo, d in zip(starts, pool.map(_forked_block, starts), strict=True):
                out[lo : lo + step] = d
    finally:
        _FORKED.clear()
    return out


def _block(
    matrix: sparse.csr_array, indices: np.ndarray, limit: float, columns: np.ndarray
) -> np.ndarray:
    """The searches from ``indices``, their ``columns`` only."""
    d = csgraph.dijkstra(matrix, directed=True, indices=indices, limit=limit)
    return np.ascontiguousarray(d[:, columns])


# What the forked processes of a search inherit (set just before they start).
_FORKED: dict[str, object] = {}


def _forked_block(lo: int) -> np.ndarray:
    """In a forked process: the block of sources starting at ``lo``."""
    f = _FORKED
    idx = f["indices"][lo : lo + f["step"]]  # type: ignore[index,operator]
    return _block(f["matrix"], idx, f["limit"], f["columns"])  # type: ignore[arg-type]


def search_processes(sources: int, /, *, nodes: int) -> int:
    """Processes for a search from ``sources`` nodes on a graph of ``nodes`` nodes: the
    cores this process may use (at most :data:`_MAX_PROCESSES`) on Linux in a top-level
    process (a worker of a pool searches alone); fewer when a process would get fewer
    than :data:`_MIN_SOURCES_PER_PROCESS` sources or :data:`_MIN_WORK_PER_PROCESS`
    source-nodes (a fork costs more than it saves: on porto's 1,115 nodes 200 searches
    took 0.079 s on two processes against 0.023 s on one)."""
    import multiprocessing

    if not hasattr(os, "sched_getaffinity") or multiprocessing.parent_process() is not None:
        return 1
    cores = len(os.sched_getaffinity(0))
    by_work = sources * nodes // _MIN_WORK_PER_PROCESS
    return max(1, min(cores, _MAX_PROCESSES, sources // _MIN_SOURCES_PER_PROCESS, by_work))
