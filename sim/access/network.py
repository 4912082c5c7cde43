"""Travel times on the road graph: one CSR matrix and scipy's Dijkstra.

The road graph (an osmnx ``MultiDiGraph``) is turned once into a
``scipy.sparse.csr_array`` of edge travel times (seconds); parallel edges keep their
fastest member.  Matrices between demand nodes and candidate sites are then computed by
``scipy.sparse.csgraph.dijkstra`` from whichever side is smaller (on the transposed
graph when the targets are fewer), with a cutoff, never by per-pair networkx calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from sim.errors import DataError

__all__ = ["RoadNetwork", "build_network", "travel_time_matrix"]

# csgraph treats explicit zeros in a sparse matrix as edges, but a zero weight would be
# lost by any later sparse arithmetic; the smallest edge weight is clamped to this (s).
_MIN_EDGE_S = 1e-3


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
    """Build the CSR travel-time matrix of a road graph.

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
    node_ids = np.fromiter(sorted(graph.nodes), dtype=np.int64, count=graph.number_of_nodes())
    if node_ids.size == 0:
        raise DataError("the road graph has no nodes")
    n_edges = graph.number_of_edges()
    u = np.empty(n_edges, dtype=np.int64)
    v = np.empty(n_edges, dtype=np.int64)
    w = np.empty(n_edges, dtype=np.float64)
    for i, (a, b, val) in enumerate(graph.edges(data=weight)):
        u[i], v[i] = a, b
        w[i] = np.inf if val is None else float(val)
    if not np.isfinite(w).all():
        raise DataError(f"some road edges have no {weight!r} attribute")
    ui = np.searchsorted(node_ids, u)
    vi = np.searchsorted(node_ids, v)
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
        d = csgraph.dijkstra(network.matrix, directed=True, indices=us, limit=limit)
        out = d[:, ut]
    else:
        # Fewer targets: search backwards from them on the reversed graph.
        d = csgraph.dijkstra(network.matrix.T.tocsr(), directed=True, indices=ut, limit=limit)
        out = d[:, us].T
    return np.ascontiguousarray(out[np.ix_(inv_s, inv_t)])
