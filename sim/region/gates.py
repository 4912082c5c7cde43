"""Gates: where through-traffic enters and leaves the region.

Found automatically as the loose ends of motorway (and trunk) carriageways: a node
with such a road leaving it and no road at all entering it is where traffic comes in
from outside the extract (an *entry*); a node with such a road entering it and no road
leaving it is an *exit*.  Gates may also be listed by the user (longitude, latitude),
each snapped to the nearest node on a motorway or trunk road.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pyproj

from sim.errors import ConfigError

__all__ = ["Gates", "find_gates", "user_gates"]

COMPASS = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")


@dataclass(frozen=True)
class Gates:
    """Entry and exit points of through-traffic.

    Attributes
    ----------
    name
        Gate labels.
    node
        int64 graph node of each gate.
    entry, exit
        bool per gate: traffic enters / leaves here.
    x, y
        Gate coordinates in the region's CRS (m).
    """

    name: tuple[str, ...]
    node: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.name)


def _compass(dx: float, dy: float) -> str:
    angle = (np.degrees(np.arctan2(dy, dx)) + 360.0 + 22.5) % 360.0
    return COMPASS[int(angle // 45.0)]


def find_gates(graph: nx.MultiDiGraph, /, *, highways: Sequence[str]) -> Gates:
    """Loose ends of motorway/trunk carriageways, named by compass direction.

    Parameters
    ----------
    graph
        The region's projected road graph.
    highways
        Road classes whose loose ends count (``motorway``, ``trunk``, ...).
    """
    kinds = set(highways)
    entries, exits = [], []
    for node in sorted(graph.nodes):
        out_hw = any(d.get("highway") in kinds for _, _, d in graph.out_edges(node, data=True))
        in_hw = any(d.get("highway") in kinds for _, _, d in graph.in_edges(node, data=True))
        if out_hw and graph.in_degree(node) == 0:
            entries.append(node)
        if in_hw and graph.out_degree(node) == 0:
            exits.append(node)
    nodes = entries + exits
    xs = np.array([graph.nodes[n]["x"] for n in nodes], dtype=float)
    ys = np.array([graph.nodes[n]["y"] for n in nodes], dtype=float)
    all_x = np.array([d["x"] for _, d in graph.nodes(data=True)], dtype=float)
    all_y = np.array([d["y"] for _, d in graph.nodes(data=True)], dtype=float)
    cx, cy = (float(all_x.mean()), float(all_y.mean())) if all_x.size else (0.0, 0.0)
    names: list[str] = []
    seen: dict[str, int] = {}
    for i in range(len(nodes)):
        role = "in" if i < len(entries) else "out"
        base = f"{role}-{_compass(xs[i] - cx, ys[i] - cy)}"
        seen[base] = seen.get(base, 0) + 1
        names.append(f"{base}-{seen[base]}")
    return Gates(
        name=tuple(names),
        node=np.array(nodes, dtype=np.int64),
        entry=np.array([i < len(entries) for i in range(len(nodes))], dtype=bool),
        exit=np.array([i >= len(entries) for i in range(len(nodes))], dtype=bool),
        x=xs,
        y=ys,
    )


def user_gates(
    graph: nx.MultiDiGraph,
    gates: Sequence[tuple[str, float, float, str]],
    /,
    *,
    highways: Sequence[str],
) -> Gates:
    """Gates listed by the user, snapped to the nearest node on a road of ``highways``.

    Parameters
    ----------
    graph
        The region's projected road graph.
    gates
        ``(name, lon, lat, role)`` with role ``entry``, ``exit`` or ``both``.
    highways
        Road classes a gate may snap to.

    Raises
    ------
    ConfigError
        The graph has no road of those classes.
    """
    kinds = set(highways)
    starts = sorted(
        {u for u, _, d in graph.edges(data=True) if d.get("highway") in kinds}
    )  # nodes a road of these classes leaves: where traffic can enter
    ends = sorted({v for _, v, d in graph.edges(data=True) if d.get("highway") in kinds})
    if not starts:
        raise ConfigError(
            f"demand.highway.gates: the region has no {'/'.join(sorted(kinds))} road to put "
            "gates on"
        )
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", graph.graph["crs"], always_xy=True)
    names, nodes, entry, exit_, xs, ys = [], [], [], [], [], []

    def nearest(pool: list[int], x: float, y: float) -> int:
        px = np.array([graph.nodes[n]["x"] for n in pool])
        py = np.array([graph.nodes[n]["y"] for n in pool])
        return pool[int(np.argmin(np.hypot(px - x, py - y)))]

    # A gate on a dual carriageway is two nodes: where traffic comes in on one
    # carriageway and where it leaves on the other.
    for name, lon, lat, role in gates:
        x, y = to_xy.transform(lon, lat)
        for is_entry, pool in ((True, starts), (False, ends)):
            if role not in ("both", "entry" if is_entry else "exit"):
                continue
            node = nearest(pool, x, y)
            names.append(name)
            nodes.append(node)
            entry.append(is_entry)
            exit_.append(not is_entry)
            xs.append(float(graph.nodes[node]["x"]))
            ys.append(float(graph.nodes[node]["y"]))
    return Gates(
        name=tuple(names),
        node=np.array(nodes, dtype=np.int64),
        entry=np.array(entry, dtype=bool),
        exit=np.array(exit_, dtype=bool),
        x=np.array(xs),
        y=np.array(ys),
    )
