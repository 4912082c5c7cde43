"""The Flow-Refuelling Location Model (FRLM) of Kuby and Lim (2005).

Place ``p`` stations on the nodes of a network so as to maximise the origin-destination
flow whose vehicles, with a driving range ``R``, can complete their round trip along the
shortest path without running out of energy.

Refuelling semantics (Kuby and Lim 2005; Capar et al. 2013)
-----------------------------------------------------------
* Each OD pair ``{O, D}`` travels the round trip ``O -> D -> O`` along one shortest path
  (the return leg is the outbound leg reversed).  Stations sit on nodes only; a vehicle
  passing a node with an open station fills up to the full range ``R``.
* A vehicle leaves ``O`` with a full tank (range ``R``) if ``O`` has a station, otherwise
  with half a tank (``R / 2``).  Kuby and Lim's argument: without a station at ``O`` the
  vehicle must have refuelled at the last station on its way home, so the trip is
  repeatable only if it gets back to ``O`` with at least ``R / 2``.
* A path with no open station on it is never covered, however short (every refuelling
  combination of Kuby and Lim is non-empty).

These rules are equivalent to treating the round trip as a *closed cycle* and asking that
every directed arc of the cycle end within ``R`` (driving distance, along the cycle) of an
open station visited at or before the arc's start, with wrap-around from the return leg into
the outbound leg.  That is the arc-cover set ``K_a^q`` of Capar et al. (2013), and the exact
model here is their arc-cover path-cover MILP::

    max  sum_q f_q y_q
    s.t. y_q <= sum_{k in K_a^q} x_k      for every path q and arc a of its round trip
         sum_k x_k = p,   x_k in {0, 1},   0 <= y_q <= 1

(``y`` may be continuous: with integer ``x`` the optimum sets ``y_q`` to 0 or 1).  Arc sets
that repeat or contain another arc set of the same path are dropped (they add no
constraint).  No refuelling combinations are enumerated; :func:`refuelable_combinations`
exists for inspection and for Kuby-Lim style reporting.

References
----------
M. Kuby, S. Lim, "The flow-refueling location problem for alternative-fuel vehicles",
Socio-Economic Planning Sciences 39(2) (2005) 125-145.

I. Capar, M. Kuby, V.J. Leon, Y.-J. Tsai, "An arc cover-path-cover formulation and strategic
analysis of alternative-fuel station locations", European Journal of Operational Research
227(1) (2013) 142-151.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array
from scipy.sparse import vstack as sp_vstack
from scipy.sparse.csgraph import dijkstra

from sim.errors import DataError, InputFileNotFoundError, SolverError, SolverInputError
from sim.siting.problem import MilpModel, Params, SitingProblem, SitingResult, solve_milp
from sim.siting.registry import Needs, register

__all__ = [
    "FlowProblem",
    "FrlmResult",
    "build_flow_problem",
    "covered_paths",
    "frlm_capacitated",
    "frlm_exact",
    "frlm_greedy",
    "read_frlm_25node",
    "refuelable_combinations",
    "solve_frlm",
]

#: Relative tolerance on distance comparisons (range checks, shortest-path ties).
_REL_TOL = 1e-9
#: Longest path (in nodes) for which :func:`refuelable_combinations` enumerates subsets.
_MAX_COMBINATION_NODES = 20


# --------------------------------------------------------------------------- problem


@dataclass(frozen=True, eq=False)
class FlowProblem:
    """OD flows on fixed paths through candidate station nodes.

    Parameters
    ----------
    paths
        One integer array per OD pair: the candidate-node indices visited along its path,
        origin first, destination last.  At least two distinct nodes, none repeated, each in
        ``0 .. n_candidates - 1``.
    path_lengths
        One float array per OD pair, as long as its path: the cumulative driving distance
        from the origin to each node (so ``0.0`` first, strictly increasing).  Any unit, as
        long as the range given to the solvers is in the same unit (km by convention).
    flow
        ``(n_od,)`` flow volume per OD pair (vehicle trips per unit time), finite and
        ``>= 0`` with a positive total.
    n_candidates
        Number of candidate station nodes (``>= 1``).

    Raises
    ------
    SolverInputError
        If any field is malformed; the message names the field, the value and what was
        expected.

    Notes
    -----
    The arrays are copied to ``int64`` / ``float64`` and made read-only.
    """

    paths: tuple[np.ndarray, ...]
    path_lengths: tuple[np.ndarray, ...]
    flow: np.ndarray
    n_candidates: int

    def __post_init__(self) -> None:
        n = self.n_candidates
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SolverInputError(f"n_candidates = {n!r}: expected an integer >= 1")
        n = int(n)
        paths = _as_array_tuple(self.paths, "paths")
        lengths = _as_array_tuple(self.path_lengths, "path_lengths")
        if len(lengths) != len(paths):
            raise SolverInputError(
                f"path_lengths has {len(lengths)} entries: expected one per path ({len(paths)})"
            )
        flow = np.array(self.flow, dtype=np.float64, copy=True)
        if flow.shape != (len(paths),):
            raise SolverInputError(
                f"flow has shape {flow.shape}: expected ({len(paths)},), one value per path"
            )
        if len(paths) == 0:
            raise SolverInputError("paths is empty: expected at least one OD pair")
        if not np.all(np.isfinite(flow)) or np.any(flow < 0):
            bad = int(np.flatnonzero(~(np.isfinite(flow) & (flow >= 0)))[0])
            raise SolverInputError(f"flow[{bad}] = {flow[bad]!r}: expected a finite value >= 0")
        if flow.sum() <= 0:
            raise SolverInputError("flow sums to 0: expected a positive total flow")
        clean = [
            _clean_path(q, path, length, n)
            for q, (path, length) in enumerate(zip(paths, lengths, strict=True))
        ]
        object.__setattr__(self, "n_candidates", n)
        object.__setattr__(self, "paths", tuple(c[0] for c in clean))
        object.__setattr__(self, "path_lengths", tuple(c[1] for c in clean))
        object.__setattr__(self, "flow", _read_only(flow))

    @property
    def n_od(self) -> int:
        """Number of OD pairs (paths)."""
        return len(self.paths)


def _as_array_tuple(value: object, name: str) -> tuple[np.ndarray, ...]:
    if isinstance(value, np.ndarray) or not isinstance(value, Sequence):
        raise SolverInputError(
            f"{name} is a {type(value).__name__}: expected a tuple of 1-D arrays, one per path"
        )
    return tuple(np.array(v, copy=True) for v in value)


def _clean_path(
    q: int, path: np.ndarray, length: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Check path ``q`` and its cumulative lengths; return read-only int64 / float64 copies."""
    if path.ndim != 1 or path.size < 2:
        raise SolverInputError(
            f"paths[{q}] has shape {path.shape}: expected a 1-D array of >= 2 nodes"
        )
    if path.dtype.kind not in "iu":
        raise SolverInputError(f"paths[{q}] has dtype {path.dtype}: expected integer node indices")
    if path.min() < 0 or path.max() >= n:
        raise SolverInputError(f"paths[{q}] = {path.tolist()}: expected node indices in 0..{n - 1}")
    if np.unique(path).size != path.size:
        raise SolverInputError(
            f"paths[{q}] = {path.tolist()}: expected a simple path (no repeated node)"
        )
    length = length.astype(np.float64)
    if length.shape != path.shape:
        raise SolverInputError(
            f"path_lengths[{q}] has shape {length.shape}: expected {path.shape}, "
            "one cumulative distance per path node"
        )
    if not np.all(np.isfinite(length)) or length[0] != 0.0 or np.any(np.diff(length) <= 0):
        raise SolverInputError(
            f"path_lengths[{q}] = {length.tolist()}: expected finite cumulative "
            "distances starting at 0.0 and strictly increasing"
        )
    return _read_only(path.astype(np.int64)), _read_only(length)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


# ------------------------------------------------------------------- network -> paths


def build_flow_problem(
    *,
    edges: list[tuple[int, int, float]] | np.ndarray,
    flows: np.ndarray,
    n_nodes: int,
) -> FlowProblem:
    """Route an OD matrix on the shortest paths of an undirected network.

    Parameters
    ----------
    edges
        Undirected edges ``(i, j, length)`` with 0-based node indices and a positive length
        (km, or the unit the range will be given in).  An edge may be listed in both
        directions, but every listing must give the same length.
    flows
        ``(n_nodes, n_nodes)`` OD matrix of trips per unit time, finite and ``>= 0``.  The
        diagonal is ignored.  ``flows[i, j]`` and ``flows[j, i]`` use the same round trip,
        so the pair ``i < j`` gets flow ``flows[i, j] + flows[j, i]``.
    n_nodes
        Number of nodes; every node is a candidate station site.

    Returns
    -------
    FlowProblem
        One path per unordered pair ``i < j`` with positive flow, in lexicographic order of
        ``(i, j)``, routed from ``i`` to ``j``.

    Raises
    ------
    SolverInputError
        For a malformed edge list or OD matrix, or a positive flow between disconnected
        nodes.

    Notes
    -----
    Distances come from :func:`scipy.sparse.csgraph.dijkstra`.  Ties between equally short
    paths are broken by a rule that does not depend on the order of the edge list: the
    predecessor of a node is the lowest-index neighbour through which a shortest path from
    the origin passes (distance ties within a relative ``1e-9``).
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 2:
        raise SolverInputError(f"n_nodes = {n_nodes!r}: expected an integer >= 2")
    n = int(n_nodes)
    u, v, w = _clean_edges(edges, n)
    pair_flow = _pair_flows(flows, n)
    origins, dests = np.nonzero(pair_flow > 0)
    if origins.size == 0:
        raise SolverInputError("flows has no positive entry off the diagonal")

    graph = coo_array((w, (u, v)), shape=(n, n)).tocsr()
    sources = np.unique(origins)
    dist = dijkstra(graph, directed=True, indices=sources)
    unreachable = ~np.isfinite(dist[np.searchsorted(sources, origins), dests])
    if np.any(unreachable):
        k = int(np.flatnonzero(unreachable)[0])
        i, j = int(origins[k]), int(dests[k])
        raise SolverInputError(
            f"flows[{i}, {j}] + flows[{j}, {i}] = {pair_flow[i, j]!r} > 0 but node {j} "
            f"cannot be reached from node {i}: expected a connected pair"
        )
    pred = _lowest_index_predecessors(dist, u, v, w, n)

    weight = {(int(a), int(b)): float(c) for a, b, c in zip(u, v, w, strict=True)}
    paths: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    row_of = {int(s): r for r, s in enumerate(sources)}
    for i, j in zip(origins.tolist(), dests.tolist(), strict=True):
        nodes = _walk_back(pred[row_of[i]], i, j, n)
        steps = [weight[(a, b)] for a, b in itertools.pairwise(nodes)]
        paths.append(np.array(nodes, dtype=np.int64))
        lengths.append(np.concatenate(([0.0], np.cumsum(steps))))
    return FlowProblem(
        paths=tuple(paths),
        path_lengths=tuple(lengths),
        flow=pair_flow[origins, dests],
        n_candidates=n,
    )


def _pair_flows(flows: np.ndarray, n: int, /) -> np.ndarray:
    """Checked OD matrix folded onto unordered pairs: ``flows[i, j] + flows[j, i]`` above
    the diagonal, 0 elsewhere."""
    od = np.asarray(flows, dtype=np.float64)
    if od.shape != (n, n):
        raise SolverInputError(f"flows has shape {od.shape}: expected ({n}, {n})")
    if not np.all(np.isfinite(od)) or np.any(od < 0):
        i, j = np.argwhere(~(np.isfinite(od) & (od >= 0)))[0]
        raise SolverInputError(f"flows[{i}, {j}] = {od[i, j]!r}: expected a finite value >= 0")
    return np.triu(od + od.T, k=1)


def _walk_back(pred_row: np.ndarray, i: int, j: int, n: int, /) -> list[int]:
    """The nodes of the shortest path ``i -> j`` from the predecessors of origin ``i``."""
    nodes = [j]
    while nodes[-1] != i:
        nodes.append(int(pred_row[nodes[-1]]))
        if len(nodes) > n:  # cannot happen with positive lengths; guard against a loop
            raise SolverError(f"shortest path {i} -> {j} did not close")
    nodes.reverse()
    return nodes


def _clean_edges(
    edges: list[tuple[int, int, float]] | np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate an undirected edge list; return both directions, one row per directed arc."""
    try:
        arr = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SolverInputError(f"edges: expected rows (i, j, length) of numbers ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise SolverInputError(f"edges has shape {arr.shape}: expected (m, 3) with m >= 1")
    ends = arr[:, :2]
    length = arr[:, 2]
    bad = ~np.all((ends == np.round(ends)) & (ends >= 0) & (ends < n), axis=1)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise SolverInputError(
            f"edges[{k}] = {arr[k].tolist()}: expected integer node indices in 0..{n - 1}"
        )
    bad = ~(np.isfinite(length) & (length > 0))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise SolverInputError(f"edges[{k}] has length {length[k]!r}: expected a finite value > 0")
    i = ends[:, 0].astype(np.int64)
    j = ends[:, 1].astype(np.int64)
    if np.any(i == j):
        k = int(np.flatnonzero(i == j)[0])
        raise SolverInputError(f"edges[{k}] = {arr[k].tolist()}: expected two different nodes")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    order = np.lexsort((length, key))
    key_s, len_s = key[order], length[order]
    same = key_s[1:] == key_s[:-1]
    clash = same & (len_s[1:] != len_s[:-1])
    if np.any(clash):
        k = int(np.flatnonzero(clash)[0])
        e1, e2 = int(lo[order[k]]), int(hi[order[k]])
        raise SolverInputError(
            f"edges: edge {e1}-{e2} is listed with lengths {len_s[k]!r} and {len_s[k + 1]!r}: "
            "expected one length per undirected edge"
        )
    keep = order[np.concatenate(([True], ~same))]
    a, b, c = lo[keep], hi[keep], length[keep]
    return np.concatenate((a, b)), np.concatenate((b, a)), np.concatenate((c, c))


def _lowest_index_predecessors(
    dist: np.ndarray, u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int
) -> np.ndarray:
    """Predecessor matrix: for each source row and node, the lowest-index tight neighbour."""
    with np.errstate(invalid="ignore"):
        via = dist[:, u] + w
        target = dist[:, v]
        tight = np.isfinite(target) & (np.abs(via - target) <= _REL_TOL * np.maximum(target, 1.0))
    pred = np.full(dist.shape, n, dtype=np.int64)
    rows, arcs = np.nonzero(tight)
    np.minimum.at(pred, (rows, v[arcs]), u[arcs])
    return pred


# ------------------------------------------------------------------------ benchmark


def read_frlm_25node(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the 25-node flow-refuelling test network (Simchi-Levi and Berman 1988).

    Parameters
    ----------
    folder
        The folder holding ``25-node-Nodes.csv``, ``25-node-Edges.csv`` and
        ``25-node-Traffic_Flow.csv`` (UTF-8, with or without a byte-order mark).

    Returns
    -------
    edges : numpy.ndarray
        ``(86, 3)`` float64 rows ``(i, j, length)`` with **0-based** node indices (file node
        ``k`` is index ``k - 1``); each undirected edge appears in both directions, as in the
        file.  Lengths are in the instance's abstract distance unit.
    flows : numpy.ndarray
        ``(25, 25)`` float64 symmetric OD flow matrix (trips per unit time).
    weights : numpy.ndarray
        ``(25,)`` float64 population weight per node.

    Raises
    ------
    InputFileNotFoundError
        If a file is missing.
    DataError
        If a file does not have the expected header, size or numbers.
    """
    folder = Path(folder)
    nodes = _read_csv(folder / "25-node-Nodes.csv", header_cols=2)
    edge_rows = _read_csv(folder / "25-node-Edges.csv", header_cols=3)
    flow_rows = _read_csv(folder / "25-node-Traffic_Flow.csv", header_cols=26)
    n = 25
    if nodes.shape != (n, 2) or not np.array_equal(nodes[:, 0], np.arange(1, n + 1)):
        raise DataError(f"{folder / '25-node-Nodes.csv'}: expected nodes 1..{n}, one per row")
    if edge_rows.shape[1] != 3 or np.any(edge_rows[:, :2] < 1) or np.any(edge_rows[:, :2] > n):
        raise DataError(f"{folder / '25-node-Edges.csv'}: expected rows 'i, j, length' in 1..{n}")
    if flow_rows.shape != (n, n + 1) or not np.array_equal(flow_rows[:, 0], np.arange(1, n + 1)):
        raise DataError(
            f"{folder / '25-node-Traffic_Flow.csv'}: expected a {n} x {n} matrix with row labels"
        )
    edges = edge_rows.copy()
    edges[:, :2] -= 1
    return edges, flow_rows[:, 1:].copy(), nodes[:, 1].copy()


def _read_csv(path: Path, *, header_cols: int) -> np.ndarray:
    if not path.is_file():
        raise InputFileNotFoundError(f"benchmark file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8-sig")  # the files start with a byte-order mark
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows or len(rows[0]) != header_cols:
        raise DataError(f"{path}: expected a header of {header_cols} columns")
    try:
        data = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: expected numbers after the header ({exc})") from None
    if data.ndim != 2 or data.shape[1] != header_cols or not np.all(np.isfinite(data)):
        raise DataError(f"{path}: expected {header_cols} finite numbers on every row")
    return data


# ------------------------------------------------------------------------ arc covers


@dataclass(frozen=True, eq=False)
class _ArcCover:
    """Non-redundant arc-cover sets of every path, stacked as rows of a 0/1 matrix."""

    matrix: csr_array  # (n_rows, n_candidates): row r = stations covering that arc
    row_path: np.ndarray  # (n_rows,) path index of each row (rows grouped by path)
    dead: np.ndarray  # (n_od,) True where some arc has no covering node at all
    local: tuple[np.ndarray, ...]  # per path: (n_rows_q, L_q) bool over the path's nodes


def _check_range(range_km: float) -> float:
    if isinstance(range_km, bool) or not isinstance(range_km, int | float | np.number):
        raise SolverInputError(f"range_km = {range_km!r}: expected a number > 0")
    r = float(range_km)
    if not (math.isfinite(r) and r > 0):
        raise SolverInputError(f"range_km = {range_km!r}: expected a finite number > 0")
    return r


def _path_arc_sets(nodes: np.ndarray, cum: np.ndarray, range_km: float) -> np.ndarray | None:
    """Arc-cover sets of one round trip as a (rows, L) bool matrix over the path positions.

    Returns ``None`` if some arc cannot be covered by any node (the path is never
    refuelable).  Duplicate rows and rows that contain another row are removed.
    """
    n_nodes = nodes.size
    total = float(cum[-1])
    # Visits of the closed cycle O -> ... -> D -> ... -> (back to O):
    # position index (into the path) and cycle distance of each visit.
    back = np.arange(n_nodes - 2, 0, -1)
    visit_pos = np.concatenate((np.arange(n_nodes), back))
    visit_at = np.concatenate((cum, 2.0 * total - cum[back]))
    m = visit_pos.size  # number of arcs == number of visits
    arc_end = np.append(visit_at[1:], 2.0 * total)  # arc j runs from visit j to visit j + 1
    # Distance driven from visit i (station) to the end of arc j, travelling forward.
    ahead = arc_end[None, :] - visit_at[:, None]
    i_idx, j_idx = np.indices((m, m))
    ahead = np.where(i_idx <= j_idx, ahead, ahead + 2.0 * total)
    reach = ahead <= range_km * (1.0 + _REL_TOL)  # (visit i, arc j)
    sets = np.zeros((m, n_nodes), dtype=bool)  # (arc j, path position)
    for i in range(m):
        sets[:, visit_pos[i]] |= reach[i]
    if not np.all(sets.any(axis=1)):
        return None
    sets = np.unique(sets, axis=0)
    # Row a is redundant if another row b is a subset of it (b's constraint implies a's).
    sub = ~np.any(sets[None, :, :] & ~sets[:, None, :], axis=2)  # sub[a, b]: b subset of a
    np.fill_diagonal(sub, False)
    return sets[~sub.any(axis=1)]


def _arc_cover(problem: FlowProblem, range_km: float) -> _ArcCover:
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    row_path: list[np.ndarray] = []
    local: list[np.ndarray] = []
    dead = np.zeros(problem.n_od, dtype=bool)
    n_rows = 0
    for q, (nodes, cum) in enumerate(zip(problem.paths, problem.path_lengths, strict=True)):
        sets = _path_arc_sets(nodes, cum, range_km)
        if sets is None:
            dead[q] = True
            local.append(np.zeros((0, nodes.size), dtype=bool))
            continue
        r, c = np.nonzero(sets)
        rows.append(r + n_rows)
        cols.append(nodes[c])
        row_path.append(np.full(sets.shape[0], q, dtype=np.int64))
        local.append(sets)
        n_rows += sets.shape[0]
    r_all = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c_all = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    matrix = csr_array((np.ones(r_all.size), (r_all, c_all)), shape=(n_rows, problem.n_candidates))
    path_of_row = np.concatenate(row_path) if row_path else np.zeros(0, dtype=np.int64)
    return _ArcCover(matrix=matrix, row_path=path_of_row, dead=dead, local=tuple(local))


def _covered(cover: _ArcCover, open_sites: np.ndarray, n_od: int) -> np.ndarray:
    """Covered paths for a 0/1 vector of open sites."""
    hit = cover.matrix @ open_sites.astype(np.float64) > 0.5
    missing = np.bincount(cover.row_path, weights=~hit, minlength=n_od)
    return ~cover.dead & (missing == 0)


def _site_vector(problem: FlowProblem, sites: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(sites)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise SolverInputError(f"sites = {sites!r}: expected a 1-D sequence of node indices")
    if arr.size and (arr.min() < 0 or arr.max() >= problem.n_candidates):
        raise SolverInputError(
            f"sites = {arr.tolist()}: expected indices in 0..{problem.n_candidates - 1}"
        )
    x = np.zeros(problem.n_candidates, dtype=bool)
    x[arr.astype(np.int64)] = True
    return x


def covered_paths(
    problem: FlowProblem, sites: Sequence[int] | np.ndarray, *, range_km: float
) -> np.ndarray:
    """Which OD round trips a set of open stations makes feasible.

    Parameters
    ----------
    problem
        The flow problem.
    sites
        Indices of the open stations (candidate nodes); repeats are ignored.
    range_km
        Vehicle range on a full tank, in the unit of ``problem.path_lengths`` (km).

    Returns
    -------
    numpy.ndarray
        ``(n_od,)`` bool: True where the round trip of that OD pair can be completed under
        the Kuby-Lim rules stated in the module docstring.

    Raises
    ------
    SolverInputError
        For a bad range or a site index out of range.
    """
    r = _check_range(range_km)
    x = _site_vector(problem, sites)
    return _covered(_arc_cover(problem, r), x, problem.n_od)


def refuelable_combinations(problem: FlowProblem, *, range_km: float) -> list[list[frozenset[int]]]:
    """The minimal station sets that make each OD round trip feasible (Kuby and Lim 2005).

    Parameters
    ----------
    problem
        The flow problem.
    range_km
        Vehicle range on a full tank, in the unit of ``problem.path_lengths`` (km).

    Returns
    -------
    list of list of frozenset of int
        For each OD pair, the inclusion-minimal sets of candidate nodes on its path whose
        opening lets a vehicle complete the round trip (start with ``R`` at a station at
        the origin, else ``R / 2``; fill up to ``R`` at every open station), sorted by size
        and then by their sorted node indices.  A station set covers the pair if and only
        if it contains one of these sets.  An empty list means no station set can (some arc
        of the path is too long, or the origin or destination is too far from any node).

    Raises
    ------
    SolverInputError
        For a bad range, or a path of more than 20 nodes (``2**L`` subsets would be
        enumerated; :func:`solve_frlm` needs no enumeration).
    """
    r = _check_range(range_km)
    longest = max(p.size for p in problem.paths)
    if longest > _MAX_COMBINATION_NODES:
        raise SolverInputError(
            f"a path has {longest} nodes: refuelable_combinations enumerates subsets and "
            f"supports at most {_MAX_COMBINATION_NODES}; solve_frlm needs no enumeration"
        )
    cover = _arc_cover(problem, r)
    out: list[list[frozenset[int]]] = []
    for nodes, sets in zip(problem.paths, cover.local, strict=True):
        if sets.shape[0] == 0:
            out.append([])
            continue
        n_local = nodes.size
        bits = np.int64(1) << np.arange(n_local, dtype=np.int64)
        row_masks = sets.astype(np.int64) @ bits
        masks = np.arange(1 << n_local, dtype=np.int64)
        feasible = np.ones(masks.size, dtype=bool)
        for rm in row_masks:
            feasible &= (masks & rm) != 0
        minimal = feasible.copy()
        for b in bits:
            has = (masks & b) != 0
            minimal[has] &= ~feasible[masks[has] ^ b]
        combos = [
            frozenset(int(nodes[k]) for k in range(n_local) if (mk >> k) & 1)
            for mk in np.flatnonzero(minimal).tolist()
        ]
        out.append(sorted(combos, key=lambda s: (len(s), sorted(s))))
    return out


# ---------------------------------------------------------------------------- solve


@dataclass(frozen=True, eq=False)
class FrlmResult:
    """Outcome of :func:`solve_frlm`.

    Attributes
    ----------
    sites
        Sorted int64 indices of the ``p`` open stations.
    covered_flow
        Flow of the OD pairs whose round trip the sites make feasible (flow units),
        recomputed from ``sites``.
    covered_share
        ``covered_flow`` divided by the total flow of the problem, in ``[0, 1]``.
    optimal
        True if the MILP was solved to proven optimality (always False for greedy).
    gap
        Relative MIP gap reported by HiGHS (0.0 when optimal); NaN for greedy, which has
        no bound.
    time_s
        Wall-clock time of the call (s), building the arc-cover sets included.
    method
        ``"exact"`` or ``"greedy"``.
    """

    sites: np.ndarray
    covered_flow: float
    covered_share: float
    optimal: bool
    gap: float
    time_s: float
    method: str


def solve_frlm(
    problem: FlowProblem,
    *,
    p: int,
    range_km: float,
    method: Literal["exact", "greedy"] = "exact",
    time_limit_s: float = 60.0,
) -> FrlmResult:
    """Locate ``p`` stations to maximise the OD flow whose round trips they make feasible.

    Parameters
    ----------
    problem
        Paths, cumulative lengths and flows (see :func:`build_flow_problem`).
    p
        Number of stations to open, ``1 <= p <= problem.n_candidates``.  Exactly ``p`` are
        opened (extra stations never reduce coverage).
    range_km
        Vehicle range on a full tank, in the unit of ``problem.path_lengths`` (km).
    method
        ``"exact"``: the arc-cover path-cover MILP of Capar et al. (2013) solved by HiGHS
        (through :func:`scipy.optimize.milp`) with a relative gap tolerance of 0.
        ``"greedy"``: open, ``p`` times, the station that adds the most covered flow,
        ties to the lowest index (when no station adds flow, the lowest unopened index).
    time_limit_s
        Wall-clock limit for the MILP (s); on expiry the best solution found is returned
        with ``optimal=False`` and the reported gap.  Unused by greedy.

    Returns
    -------
    FrlmResult

    Raises
    ------
    SolverInputError
        For a bad ``p``, ``range_km``, ``method`` or ``time_limit_s``.
    SolverError
        If HiGHS finds no solution within the time limit or reports a failure.
    """
    start = time.perf_counter()
    n = problem.n_candidates
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= p <= n:
        raise SolverInputError(f"p = {p!r}: expected an integer in 1..{n}")
    r = _check_range(range_km)
    if method not in ("exact", "greedy"):
        raise SolverInputError(f"method = {method!r}: expected 'exact' or 'greedy'")
    if (
        isinstance(time_limit_s, bool)
        or not isinstance(time_limit_s, int | float | np.number)
        or not (math.isfinite(float(time_limit_s)) and time_limit_s > 0)
    ):
        raise SolverInputError(f"time_limit_s = {time_limit_s!r}: expected a finite number > 0")
    cover = _arc_cover(problem, r)
    if method == "greedy":
        x = _greedy(problem, cover, int(p))
        optimal, gap = False, math.nan
    else:
        x, optimal, gap = _exact(problem, cover, int(p), float(time_limit_s))
    covered = _covered(cover, x, problem.n_od)
    covered_flow = float(problem.flow[covered].sum())
    return FrlmResult(
        sites=np.flatnonzero(x).astype(np.int64),
        covered_flow=covered_flow,
        covered_share=covered_flow / float(problem.flow.sum()),
        optimal=optimal,
        gap=gap,
        time_s=time.perf_counter() - start,
        method=method,
    )


def _greedy(problem: FlowProblem, cover: _ArcCover, p: int) -> np.ndarray:
    n, n_od = problem.n_candidates, problem.n_od
    x = np.zeros(n, dtype=bool)
    a = cover.matrix
    for _ in range(p):
        hit = a @ x.astype(np.float64) > 0.5
        open_rows = np.flatnonzero(~hit)
        missing = np.bincount(cover.row_path[open_rows], minlength=n_od)
        # count[q, k]: uncovered arcs of path q that a station at k would cover.
        incidence = csr_array(
            (np.ones(open_rows.size), (cover.row_path[open_rows], np.arange(open_rows.size))),
            shape=(n_od, open_rows.size),
        )
        count = (incidence @ a[open_rows]).toarray()
        completes = (count == missing[:, None]) & (missing > 0)[:, None]
        gain = problem.flow @ completes
        gain[x] = -1.0
        x[int(np.argmax(gain))] = True
    return x


#: :func:`scipy.optimize.milp` statuses that answer: 0 optimal, 1 stopped by the time
#: limit.  2 (infeasible) and 3 (unbounded) cannot happen for this model (opening any
#: ``p`` stations is feasible, every column is bounded); 4 is a HiGHS failure.
_MILP_ANSWERED = (0, 1)


def _checked_milp(c: np.ndarray, /, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp` with its status checked; a failed run is retried once.

    scipy runs its own copy of HiGHS, a fresh instance per call, with HiGHS's automatic
    thread count (so the thread-count clash of ``highspy`` cannot occur here).

    Raises
    ------
    SolverError
        If both runs end with a status other than :data:`_MILP_ANSWERED`.
    """
    res = milp(c, **kwargs)
    if res.status in _MILP_ANSWERED:
        return res
    first = f"status {res.status}: {res.message}"
    res = milp(c, **kwargs)
    if res.status in _MILP_ANSWERED:
        return res
    raise SolverError(
        f"frlm: HiGHS (scipy.optimize.milp) failed twice ({first}; then status "
        f"{res.status}: {res.message}); no station set"
    )


def _exact(
    problem: FlowProblem, cover: _ArcCover, p: int, time_limit_s: float
) -> tuple[np.ndarray, bool, float]:
    n = problem.n_candidates
    live = np.flatnonzero(~cover.dead)
    y_col = np.full(problem.n_od, -1, dtype=np.int64)
    y_col[live] = n + np.arange(live.size)
    n_var = n + live.size
    c = np.zeros(n_var)
    c[n:] = -problem.flow[live]
    a = cover.matrix.tocoo()
    n_rows = cover.matrix.shape[0]
    # Row r: y_q - sum_{k in K_r} x_k <= 0.
    rows = np.concatenate((a.row, np.arange(n_rows)))
    cols = np.concatenate((a.col, y_col[cover.row_path]))
    vals = np.concatenate((-np.ones(a.row.size), np.ones(n_rows)))
    cover_rows = coo_array((vals, (rows, cols)), shape=(n_rows, n_var)).tocsr()
    count_row = np.zeros((1, n_var))
    count_row[0, :n] = 1.0
    constraints = [LinearConstraint(count_row, p, p)]
    if n_rows:
        constraints.append(LinearConstraint(cover_rows, -np.inf, 0.0))
    integrality = np.zeros(n_var)
    integrality[:n] = 1
    res = _checked_milp(
        c,
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        constraints=constraints,
        options={"time_limit": time_limit_s, "mip_rel_gap": 0.0},
    )
    if res.x is None:
        raise SolverError(
            f"HiGHS found no station set within time_limit_s = {time_limit_s} "
            f"(status {res.status}: {res.message}); raise the limit or use method='greedy'"
        )
    x = res.x[:n] > 0.5
    if int(x.sum()) != p:
        raise SolverError(f"HiGHS returned {int(x.sum())} stations: expected p = {p}")
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    optimal = res.status == 0
    return x, optimal, (0.0 if optimal else max(gap, 0.0))


# ------------------------------------------------------------------ registry entries


def _flow_model(
    problem: SitingProblem,
    params: dict[str, object],
    *,
    model: str,
    method: Literal["exact", "greedy"],
) -> SitingResult:
    """:func:`solve_frlm` on ``problem.flows`` with the registry's parameter names."""
    pr = Params(model, params)
    p = pr.integer("p", low=1, high=2**62, expected="an integer number of stations >= 1")
    if p is None:
        raise pr.missing("p", "number of stations to open, >= 1")
    range_km = pr.number(
        "range_km", low=0.0, low_inclusive=False, expected="a vehicle range > 0 (km)"
    )
    if range_km is None:
        raise pr.missing("range_km", "vehicle range on a full tank, km, unit of the paths")
    time_limit = pr.number("time_limit", 60.0, low=0.0, low_inclusive=False, expected="seconds > 0")
    effective = pr.finish()
    if problem.flows is None:
        raise SolverInputError(f"{model}: SitingProblem.flows is None; expected a FlowProblem")
    r = solve_frlm(
        problem.flows,
        p=min(p, problem.n_candidates),
        range_km=range_km,
        method=method,
        time_limit_s=float(time_limit or 60.0),
    )
    effective["covered_share"] = r.covered_share
    if method == "exact" and not r.optimal:
        effective["unproven"] = "time limit: HiGHS's best station set, not proven optimal"
    return SitingResult(
        sites=r.sites,
        objective=r.covered_flow,
        optimal=r.optimal,
        gap=r.gap,
        time_s=r.time_s,
        model=model,
        params=effective,
    )


@register(
    "frlm",
    needs=Needs(count="required", range_km=True, flows=True),
    options={"time_limit": 60.0},
)
def frlm_exact(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """The FRLM solved exactly (:func:`solve_frlm` with ``method="exact"``).

    Parameters
    ----------
    problem
        The instance; ``problem.flows`` (the through-traffic paths over its candidates)
        is required, its costs and weights are not read.
    rng
        Unused (deterministic).
    **params
        ``p`` (stations to open; more than ``n_candidates`` opens every candidate),
        ``range_km`` (vehicle range, unit of the path lengths, > 0), ``time_limit`` (s,
        default 60).

    Returns
    -------
    SitingResult
        ``objective`` = flow whose round trips the sites make feasible (flow units);
        ``params["covered_share"]`` = its share of the total flow.
    """
    return _flow_model(problem, params, model="frlm", method="exact")


@register(
    "frlm-greedy",
    needs=Needs(count="required", range_km=True, flows=True),
    options={"time_limit": 60.0},
)
def frlm_greedy(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """The FRLM's greedy heuristic (:func:`solve_frlm` with ``method="greedy"``).

    Parameters and result as :func:`frlm_exact`; ``time_limit`` is accepted, so a
    strategy can switch between the two, and unused.
    """
    return _flow_model(problem, params, model="frlm-greedy", method="greedy")


# ------------------------------------------------------------- capacitated FRLM


@dataclass(frozen=True, eq=False)
class _StopNetwork:
    """The refuelling-stop networks of every live path, stacked.

    Each path ``q`` has two variants: *A*, the vehicle refuels at the origin (leaves it
    with a full tank, must be back with >= 0), and *B*, it does not (leaves with
    ``R / 2`` and must be back with >= ``R / 2``, Kuby and Lim's repeatability rule).
    In each variant an arc runs from a refuelling stop (a visit of the round trip) to the
    next one within ``R`` further along the trip, from the start to the first stop and
    from the last stop to the end.  A unit of flow from the start to the end of a
    variant is one way of refuelling the whole round trip.

    Attributes
    ----------
    tail, head
        ``(n_arcs,)`` local vertex ids of each arc's ends (rows of :attr:`vertex_*`).
    arc_path
        ``(n_arcs,)`` path of each arc.
    vertex_node
        ``(n_vertices,)`` candidate node of each stop vertex; ``-1`` for starts and ends.
    vertex_stop
        ``(n_vertices,)`` index of the path visit the vertex stands for (shared by the
        two variants), ``-1`` for starts and ends.
    start_of
        ``(n_od, 2)`` vertex id of the start of each variant (``-1`` for a dead path).
    n_stops
        Number of distinct visits (stop positions) over all paths.
    stop_node
        ``(n_stops,)`` candidate node of each visit.
    """

    tail: np.ndarray
    head: np.ndarray
    arc_path: np.ndarray
    vertex_node: np.ndarray
    vertex_stop: np.ndarray
    start_of: np.ndarray
    n_stops: int
    stop_node: np.ndarray


def _variant_arcs(
    at: np.ndarray, total: float, r: float, origin_stop: bool
) -> list[tuple[int, int]]:
    """Arcs over visit indices ``0..m-1`` plus ``m`` (start) and ``m + 1`` (end)."""
    m = at.size
    tol = 1.0 + _REL_TOL
    end_need = r if origin_stop else r / 2.0
    first = [0] if origin_stop else [b for b in range(1, m) if at[b] <= r / 2.0 * tol]
    visits = range(m) if origin_stop else range(1, m)
    arcs = [(m, b) for b in first]
    arcs += [(a, b) for a in visits for b in visits if a < b and at[b] - at[a] <= r * tol]
    arcs += [(a, m + 1) for a in visits if 2.0 * total - at[a] <= end_need * tol]
    return arcs


def _stop_network(problem: FlowProblem, r: float, dead: np.ndarray) -> _StopNetwork:
    tail: list[int] = []
    head: list[int] = []
    arc_path: list[int] = []
    v_node: list[int] = []
    v_stop: list[int] = []
    stop_node: list[int] = []
    start_of = np.full((problem.n_od, 2), -1, dtype=np.int64)
    for q, (nodes, cum) in enumerate(zip(problem.paths, problem.path_lengths, strict=True)):
        if dead[q]:
            continue
        total = float(cum[-1])
        back = np.arange(nodes.size - 2, 0, -1)
        pos = np.concatenate((np.arange(nodes.size), back))
        at = np.concatenate((cum, 2.0 * total - cum[back]))
        m = at.size
        first_stop = len(stop_node)
        stop_node.extend(int(nodes[k]) for k in pos)
        for variant, origin_stop in enumerate((True, False)):
            base = len(v_node)
            v_node.extend([*(int(nodes[k]) for k in pos), -1, -1])
            v_stop.extend([*range(first_stop, first_stop + m), -1, -1])
            start_of[q, variant] = base + m
            for a, b in _variant_arcs(at, total, r, origin_stop):
                tail.append(base + a)
                head.append(base + b)
                arc_path.append(q)
    return _StopNetwork(
        tail=np.array(tail, dtype=np.int64),
        head=np.array(head, dtype=np.int64),
        arc_path=np.array(arc_path, dtype=np.int64),
        vertex_node=np.array(v_node, dtype=np.int64),
        vertex_stop=np.array(v_stop, dtype=np.int64),
        start_of=start_of,
        n_stops=len(stop_node),
        stop_node=np.array(stop_node, dtype=np.int64),
    )


def _capacitated_model(
    problem: FlowProblem, net: _StopNetwork, capacity: np.ndarray, p: int
) -> MilpModel:
    """Columns ``x`` (n stations), ``g`` (one per arc), ``v`` (one per path)."""
    n, n_arc, n_od = problem.n_candidates, net.tail.size, problem.n_od
    g0, v0 = n, n + n_arc
    n_col = v0 + n_od
    arcs = np.arange(n_arc)
    f_arc = problem.flow[net.arc_path]
    is_stop = net.vertex_node[net.head] >= 0  # the arc ends at a refuelling stop
    n_vert = net.vertex_node.size
    # conservation at every stop vertex: inflow - outflow = 0; at each start: v - outflow
    inner = net.vertex_node >= 0
    row_of = np.full(n_vert, -1)
    row_of[inner] = np.arange(int(inner.sum()))
    live = np.flatnonzero(net.start_of[:, 0] >= 0)
    start_row = int(inner.sum()) + np.arange(live.size)
    row_of[net.start_of[live, 0]] = start_row
    row_of[net.start_of[live, 1]] = start_row
    ins, outs = row_of[net.head], row_of[net.tail]
    keep_in = ins >= 0
    n_flow = int(inner.sum()) + live.size
    flow_rows = csr_array(
        (
            np.concatenate((np.ones(int(keep_in.sum())), -np.ones(n_arc), np.ones(live.size))),
            (
                np.concatenate((ins[keep_in], outs, start_row)),
                np.concatenate((g0 + arcs[keep_in], g0 + arcs, v0 + live)),
            ),
        ),
        shape=(n_flow, n_col),
    )
    # share stopping at a visit (both variants) <= x of its node
    stop_of_arc = net.vertex_stop[net.head[is_stop]]
    stop_rows = csr_array(
        (
            np.concatenate((np.ones(stop_of_arc.size), -np.ones(net.n_stops))),
            (
                np.concatenate((stop_of_arc, np.arange(net.n_stops))),
                np.concatenate((g0 + arcs[is_stop], net.stop_node)),
            ),
        ),
        shape=(net.n_stops, n_col),
    )
    # stops at station k times flow <= capacity_k x_k, for finite capacities
    finite = np.flatnonzero(np.isfinite(capacity))
    cap_row = np.full(n, -1)
    cap_row[finite] = np.arange(finite.size)
    k_arc = net.vertex_node[net.head[is_stop]]
    has = cap_row[k_arc] >= 0
    cap_rows = csr_array(
        (
            np.concatenate((f_arc[is_stop][has], -capacity[finite])),
            (
                np.concatenate((cap_row[k_arc[has]], np.arange(finite.size))),
                np.concatenate((g0 + arcs[is_stop][has], finite)),
            ),
        ),
        shape=(finite.size, n_col),
    )
    count = csr_array((np.ones(n), (np.zeros(n, dtype=np.int64), np.arange(n))), shape=(1, n_col))
    a = sp_vstack([flow_rows, stop_rows, cap_rows, count], format="csr")
    n_le = net.n_stops + finite.size
    return MilpModel(
        np.concatenate((np.zeros(n + n_arc), problem.flow)),
        a,
        np.concatenate((np.zeros(n_flow), np.full(n_le, -np.inf), [float(p)])),
        np.concatenate((np.zeros(n_flow + n_le), [float(p)])),
        col_lower=np.zeros(n_col),
        # a dead path (an arc no station can bridge) is never refuelled
        col_upper=np.concatenate((np.ones(n + n_arc), (net.start_of[:, 0] >= 0).astype(float))),
        integer=np.concatenate((np.ones(n, dtype=bool), np.zeros(n_arc + n_od, dtype=bool))),
        maximize=True,
    )


def _fewest_stops(
    model: MilpModel, net: _StopNetwork, flows: FlowProblem, x: np.ndarray, refuelled: float
) -> np.ndarray:
    """Arc flows that refuel ``refuelled`` with the stations ``x`` and the
    fewest stops (an LP: the MILP's own solution is one of many with the same flow, and
    its loads would count stops no driver needs)."""
    n, n_arc = x.size, net.tail.size
    f_arc = flows.flow[net.arc_path]
    stops = np.where(net.vertex_node[net.head] >= 0, f_arc, 0.0)
    floor = refuelled - 1e-9 * max(1.0, refuelled)
    keep = csr_array(np.concatenate((np.zeros(n + n_arc), flows.flow))[None, :])
    lower, upper = model.col_lower.copy(), model.col_upper.copy()
    lower[:n] = upper[:n] = x.astype(float)
    lp = MilpModel(
        np.concatenate((np.zeros(n), stops, np.zeros(flows.n_od))),
        sp_vstack([model.a, keep], format="csr"),
        np.concatenate((model.row_lower, [floor])),
        np.concatenate((model.row_upper, [np.inf])),
        col_lower=lower,
        col_upper=upper,
        integer=np.zeros(lower.size, dtype=bool),
    )
    sol = solve_milp(lp, name="frlm-capacitated fewest stops")
    if sol.x is None:
        raise SolverError(f"frlm-capacitated: the fewest-stops LP failed ({sol.status})")
    return np.asarray(sol.x[n : n + n_arc])


@register(
    "frlm-capacitated",
    needs=Needs(count="required", range_km=True, flows=True, capacity=True),
    options={"time_limit": 60.0, "mip_gap": 1e-6},
)
def frlm_capacitated(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """The capacitated FRLM (after Upchurch, Kuby & Lim 2009), exact in HiGHS.

    Each open station makes at most ``problem.capacity[k]`` refuelling stops per unit
    time (the unit of the flows; in a scenario sessions per day, the station's ports busy
    60 % of the day).  A vehicle refuels only at the stops it chooses; the flow of a path
    may be split between ways of refuelling it.  Each way is a unit flow through the
    path's stop network (:class:`_StopNetwork`), so no refuelling combination is
    enumerated::

        max  sum_q f_q v_q
        s.t. flow conservation in each path's stop network, outflow of its starts = v_q
             sum of the flow stopping at a visit of node k <= x_k
             sum_q f_q (flow stopping at k on path q) <= capacity_k x_k
             sum_k x_k = p,  x binary,  0 <= flows, v_q <= 1

    With infinite capacities the optimum equals the uncapacitated :func:`frlm_exact`
    (a round trip can be refuelled by choosing stops among the open stations exactly
    when it can by stopping at all of them, the Kuby-Lim rule).

    Parameters
    ----------
    problem
        The instance; ``problem.flows`` and ``problem.capacity`` are required.
    rng
        Unused (deterministic).
    **params
        ``p`` (stations to open; more than ``n_candidates`` opens every candidate),
        ``range_km`` (> 0, unit of the path lengths), ``time_limit`` (s, default 60),
        ``mip_gap`` (default 1e-6).

    Returns
    -------
    SitingResult
        ``objective`` = refuelled flow (flow units).  Diagnostics: ``covered_share`` (its
        share of the total flow), ``uncapacitated_flow`` (the flow the same stations
        would cover without capacities), ``load_by_site`` (stops per unit time at each
        site of ``sites``, for the way of refuelling that flow with the fewest stops,
        found by an LP with the stations fixed).
    """
    pr = Params("frlm-capacitated", params)
    p = pr.integer("p", low=1, high=2**62, expected="an integer number of stations >= 1")
    if p is None:
        raise pr.missing("p", "number of stations to open, >= 1")
    range_km = pr.number(
        "range_km", low=0.0, low_inclusive=False, expected="a vehicle range > 0 (km)"
    )
    if range_km is None:
        raise pr.missing("range_km", "vehicle range on a full tank, km, unit of the paths")
    time_limit = pr.number("time_limit", 60.0, low=0.0, low_inclusive=False, expected="seconds > 0")
    mip_gap = pr.number("mip_gap", 1e-6, low=0.0, high=1.0, expected="a relative gap in [0, 1]")
    effective = pr.finish()
    flows, capacity = problem.flows, problem.capacity
    if flows is None or capacity is None:
        raise SolverInputError(
            "frlm-capacitated: SitingProblem.flows and .capacity are both required"
        )
    n = flows.n_candidates
    p = min(p, n)
    r = _check_range(range_km)
    net = _stop_network(flows, r, _arc_cover(flows, r).dead)
    cap = np.asarray(capacity, dtype=np.float64)
    model = _capacitated_model(flows, net, cap, p)
    sol = solve_milp(
        model, name="frlm-capacitated", time_limit=time_limit, mip_gap=float(mip_gap or 0.0)
    )
    if sol.x is None:
        raise SolverError(
            f"frlm-capacitated: HiGHS found no station set within time_limit = {time_limit} "
            f"({sol.status}); raise the limit"
        )
    x = sol.x[:n] > 0.5
    sites = np.flatnonzero(x).astype(np.int64)
    refuelled = float(flows.flow @ sol.x[n + net.tail.size :])
    g = _fewest_stops(model, net, flows, x, refuelled)
    stop = net.vertex_node[net.head] >= 0
    load = np.bincount(
        net.vertex_node[net.head[stop]],
        weights=(flows.flow[net.arc_path] * g)[stop],
        minlength=n,
    )
    effective["covered_share"] = refuelled / float(flows.flow.sum())
    effective["uncapacitated_flow"] = float(
        flows.flow[covered_paths(flows, sites, range_km=r)].sum()
    )
    effective["load_by_site"] = [float(load[k]) for k in sites]
    if not sol.optimal:
        effective["unproven"] = f"{sol.status}: HiGHS's best station set, not proven"
    return SitingResult(sites, refuelled, sol.optimal, sol.gap, 0.0, "frlm-capacitated", effective)
