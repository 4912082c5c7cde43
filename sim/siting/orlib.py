"""Readers for J.E. Beasley's OR-Library p-median instances (``pmed1`` .. ``pmed40``).

File format: a first line ``n m p`` (vertices, edges, medians), then ``m`` lines
``i j cost`` of undirected edges with 1-based vertex numbers.  Some files list the same
edge twice; the *last* occurrence holds (taking the minimum gives wrong optima, e.g.
5718 instead of 5819 for ``pmed1``).  The cost matrix is the all-pairs shortest-path
matrix of that graph; every vertex is a client of weight 1 and a candidate site.

Reference: J.E. Beasley, "A note on solving large p-median problems", EJOR 21 (1985)
270-273.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import shortest_path

from sim.errors import DataError, InputFileNotFoundError

__all__ = ["read_pmed", "read_pmed_optima"]


def read_pmed(path: str | Path, /) -> tuple[np.ndarray, int]:
    """Read one OR-Library p-median instance.

    Parameters
    ----------
    path
        A ``pmedN.txt`` file.

    Returns
    -------
    cost : numpy.ndarray
        ``(n, n)`` float64 all-pairs shortest-path lengths (the instance's cost unit);
        ``inf`` between disconnected vertices.
    p : int
        The number of medians the instance asks for.

    Raises
    ------
    InputFileNotFoundError
        If the file does not exist.
    DataError
        If the header or an edge line is malformed or names a vertex outside ``1..n``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"OR-Library file {str(path)!r} does not exist")
    tokens = path.read_text().split()
    try:
        numbers = np.array(tokens, dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: expected whitespace-separated integers ({exc})") from None
    if numbers.size < 3:
        raise DataError(f"{path}: expected a header 'n m p', got {tokens[:3]!r}")
    n, m, p = (int(v) for v in numbers[:3])
    body = numbers[3:]
    if n < 1 or m < 0 or not 1 <= p <= n or body.size != 3 * m:
        raise DataError(
            f"{path}: header 'n m p' = {n} {m} {p} does not fit the file "
            f"(expected n >= 1, 1 <= p <= n and {3 * m} edge numbers, found {body.size})"
        )
    edges = body.reshape(m, 3)
    ij = edges[:, :2] - 1
    if ij.size and (ij.min() < 0 or ij.max() >= n):
        raise DataError(f"{path}: edge endpoints must lie in 1..{n}")
    # Undirected key (min, max); keep the last occurrence of each key.
    lo, hi = ij.min(axis=1), ij.max(axis=1)
    key = lo * n + hi
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    last = m - 1 - first_in_reversed
    keep = last[lo[last] != hi[last]]  # a self-loop never shortens a path
    graph = coo_array((edges[keep, 2].astype(np.float64), (lo[keep], hi[keep])), shape=(n, n))
    cost = shortest_path(graph.tocsr(), method="D", directed=False)
    return np.asarray(cost, dtype=np.float64), p


def read_pmed_optima(path: str | Path, /) -> dict[str, int]:
    """Read ``pmedopt.txt``: the proven optimal value of each instance.

    Parameters
    ----------
    path
        The optima file: an optional header line, then ``pmedN value`` per line.

    Returns
    -------
    dict[str, int]
        ``{"pmed1": 5819, ...}``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"OR-Library optima file {str(path)!r} does not exist")
    optima: dict[str, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            optima[parts[0]] = int(parts[1])
    if not optima:
        raise DataError(f"{path}: no 'name value' lines found")
    return optima
