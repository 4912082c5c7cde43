"""Road graph preparation, snapping to nodes and spreading nodes over the network.

Everything here works on the projected graph (metres, the UTM zone osmnx would
choose).  Speeds, travel times, projection and snapping are computed here with pandas,
geopandas, networkx and scipy's k-d tree, with the results osmnx's functions give, so
that a region from an ``.osm.pbf`` (pyrosm) is built without importing osmnx (its import
takes seconds: it loads matplotlib.pyplot and scikit-learn).  osmnx is imported only
for an implicit ``maxspeed`` tag and for the residential-street fallback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from sim.errors import DataError
from sim.region._text import count

#: Typical speeds (km/h) for edges without a usable ``maxspeed`` tag, by highway type.
TYPICAL_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "road": 30.0,
    "service": 20.0,
}
#: Speed (km/h) for highway types missing from :data:`TYPICAL_SPEEDS_KPH`.
FALLBACK_SPEED_KPH = 30.0


def _first(value: object) -> object:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _motorway_m(graph: nx.MultiDiGraph) -> float:
    return sum(
        float(d.get("length", 0.0))
        for _, _, d in graph.edges(data=True)
        if d.get("highway") == "motorway"
    )


def prepare_graph(
    graph: nx.MultiDiGraph, *, label: str
) -> tuple[nx.MultiDiGraph, np.ndarray, list[str]]:
    """Add speeds and travel times, project, and find the connected core.

    Parameters
    ----------
    graph
        osmnx-compatible drive network in EPSG:4326 with ``length`` (m) on edges.
    label
        How to name the source in error messages.

    Returns
    -------
    graph, core, notes
        The largest weakly connected part of the network, projected
        (``graph.graph["crs"]``, metres), with edge attributes ``length`` (m),
        ``speed_kph`` (km/h; ``maxspeed`` where tagged, else
        :data:`TYPICAL_SPEEDS_KPH`), ``travel_time`` (s) and ``highway`` (str), and int
        node ids with ``x``/``y`` in metres.  ``core`` holds the sorted node ids of its
        largest strongly connected part (where every node can reach every other):
        homes and candidate sites snap only to core nodes, while through-traffic may
        also use the carriageways that enter or leave the extract one way.  ``notes``
        say how much lies outside the core.

    Raises
    ------
    DataError
        The network has no edges, or no two nodes are mutually reachable.
    """
    if graph.number_of_edges() == 0:
        raise DataError(f"{label}: the extract holds no drivable roads")
    for _, _, data in graph.edges(data=True):
        data["highway"] = str(_first(data.get("highway")) or "road")
    graph = _timed_projected_part(graph)
    if not all(isinstance(n, int) for n in graph.nodes):
        graph = nx.relabel_nodes(graph, {n: int(n) for n in graph.nodes})
    core_set = max(nx.strongly_connected_components(graph), key=len)
    if len(core_set) < 2:
        raise DataError(
            f"{label}: the drivable roads do not form a connected network "
            "(no two places can reach each other)"
        )
    core = np.array(sorted(core_set), dtype=np.int64)
    notes = []
    if core.size < graph.number_of_nodes():
        motorway_all = _motorway_m(graph)
        motorway_core = _motorway_m(graph.subgraph(core_set))
        outside = (motorway_all - motorway_core) / 1000.0
        motorway = (
            f"; {outside:.1f} of {motorway_all / 1000.0:.1f} km of motorway lies outside "
            "it (one-way carriageways that enter or leave the extract), usable by "
            "through-traffic only"
            if outside >= 0.05
            else ""
        )
        notes.append(
            f"Homes and charging sites are placed on the {core.size} of "
            f"{count(graph.number_of_nodes(), 'road node')} where every place can reach "
            f"every other (the largest strongly connected part){motorway}."
        )
    for _, _, data in graph.edges(data=True):
        data["length"] = float(data["length"])
        data["speed_kph"] = float(data["speed_kph"])
        data["travel_time"] = float(data["travel_time"])
    return graph, core, notes


def _timed_projected_part(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Speeds and travel times on every edge, projected, reduced to the largest weakly
    connected part: osmnx's ``add_edge_speeds``, ``add_edge_travel_times``,
    ``project_graph`` and ``truncate.largest_component`` in turn (same graph)."""
    _add_speeds_and_times(graph)
    graph = _projected(graph)
    if not nx.is_weakly_connected(graph):
        largest = max(nx.weakly_connected_components(graph), key=len)
        graph = nx.MultiDiGraph(graph.subgraph(largest))
    return graph


_MAXSPEED = re.compile(r"^([0-9][\.,0-9]*?)(?:[ ]?(?:km/h|kmh|kph|mph|knots))?$")
_KM_PER_MILE = 1.60934


def _numeric_maxspeed(tag: str) -> float | None:
    """A ``maxspeed`` tag such as ``"50"``, ``"30 mph"`` or ``"50|30"`` in km/h (the mean
    of ``|``-separated values), or ``None`` when it is not numeric."""
    values = []
    for part in re.split(r"\|", tag):
        match = _MAXSPEED.match(part)
        if match is None:
            return None
        try:
            value = float(match.group(1).replace(",", "."))
        except ValueError:
            return None
        values.append(value * _KM_PER_MILE if "mph" in tag.lower() else value)
    return float(np.mean(values))


def _edge_frame(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """Edge attributes as a frame (one row per edge in edge order, columns in order of
    first appearance), indexed by ``(u, v, key)``."""
    u, v, k, data = zip(*graph.edges(keys=True, data=True), strict=True)
    frame = pd.DataFrame(list(data))
    frame.index = pd.MultiIndex.from_arrays([list(u), list(v), list(k)], names=["u", "v", "key"])
    return frame


def _add_speeds_and_times(graph: nx.MultiDiGraph) -> None:
    """Set ``speed_kph`` and ``travel_time`` on every edge as osmnx's
    ``add_edge_speeds(hwy_speeds=TYPICAL_SPEEDS_KPH, fallback=FALLBACK_SPEED_KPH)`` and
    ``add_edge_travel_times`` do (same values, same float operations), without osmnx.

    A tagged numeric ``maxspeed`` wins (a list on a merged edge: the mean of its values);
    other edges take their highway type's typical speed, or the mean tagged speed of a
    type without one, else :data:`FALLBACK_SPEED_KPH`.  Implicit tags such as
    ``"FI:urban"`` are looked up in osmnx's table (osmnx is imported only then).
    """
    edges = _edge_frame(graph)
    highway = edges["highway"].to_numpy()
    if "maxspeed" in edges.columns:
        tagged = pd.Series([_maxspeed_kph(m) for m in edges["maxspeed"]], dtype=float)
    else:
        tagged = pd.Series(np.nan, index=range(len(edges)), dtype=float)
    typical = pd.Series(TYPICAL_SPEEDS_KPH).dropna()
    for hwy, group in tagged.groupby(highway):
        if hwy not in typical:
            typical.loc[str(hwy)] = float(np.mean(group))
    typical = typical.fillna(FALLBACK_SPEED_KPH)
    speed_kph = pd.Series(tagged.to_numpy(), index=highway).fillna(typical).to_numpy()
    length = edges["length"].to_numpy(dtype=float)
    travel_time = (length / 1000) / (speed_kph / (60 * 60))
    for (_, _, _, data), kph, tt in zip(
        graph.edges(keys=True, data=True), speed_kph.tolist(), travel_time.tolist(), strict=True
    ):
        data["speed_kph"] = kph
        data["travel_time"] = tt


def _maxspeed_kph(value: object) -> float | None:
    """One edge's ``maxspeed`` (a tag, a list of tags on a merged edge, or missing) in
    km/h, or ``None``."""
    if isinstance(value, list):
        values = pd.Series([_tag_kph(v) for v in value], dtype=float).dropna()
        mean = float(np.mean(values)) if len(values) else math.nan
        value = None if math.isnan(mean) else mean
    return _tag_kph(str(value))


def _tag_kph(tag: object) -> float | None:
    if not isinstance(tag, str):
        return None
    numeric = _numeric_maxspeed(tag)
    if numeric is not None or tag in ("nan", "None"):
        return numeric
    from osmnx import routing  # implicit speeds ("FI:urban") are osmnx's table

    implicit: float | None = routing._IMPLICIT_MAXSPEEDS.get(tag)
    return implicit


def _projected(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph`` (EPSG:4326) projected to the UTM zone of its nodes and rebuilt as
    osmnx's ``project_graph`` rebuilds it (edges in order with their non-missing
    attributes, then nodes without edges, then node attributes column by column), so
    the result is the same graph; without osmnx."""
    from shapely.geometry import Point

    ids, node_data = zip(*graph.nodes(data=True), strict=True)
    crs = graph.graph["crs"]
    points = [Point(d["x"], d["y"]) for d in node_data]
    nodes = gpd.GeoDataFrame(list(node_data), index=list(ids), crs=crs, geometry=points)
    centroid = nodes.union_all().centroid
    to_crs: Any
    if centroid.y < -80:
        to_crs = "epsg:32761"  # UPS south, beyond the UTM zones
    elif centroid.y > 84:
        to_crs = "epsg:32661"  # UPS north
    else:
        to_crs = nodes.estimate_utm_crs()
    nodes = nodes.to_crs(to_crs)
    nodes["x"] = nodes.geometry.x
    nodes["y"] = nodes.geometry.y
    to_crs = nodes.crs
    edges = _edge_frame(graph)
    if "geometry" in edges.columns:
        edges = gpd.GeoDataFrame(edges, geometry="geometry", crs=crs).to_crs(to_crs)
    out = nx.MultiDiGraph(**graph.graph)
    names = edges.columns.to_list()
    for (u, v, k), values in zip(edges.index, edges.to_numpy(), strict=True):
        pairs = zip(names, values, strict=True)
        out.add_edge(u, v, key=k, **{n: x for n, x in pairs if isinstance(x, list) or pd.notna(x)})
    out.add_nodes_from(set(nodes.index) - set(out.nodes))
    table = pd.DataFrame(nodes.drop(columns=nodes.active_geometry_name))
    for col in table.columns:
        nx.set_node_attributes(out, values=table[col].dropna().to_dict(), name=col)
    out.graph["crs"] = to_crs
    return out


def core_graph(graph: nx.MultiDiGraph, core: np.ndarray) -> nx.MultiDiGraph:
    """Read-only view of the core of ``graph`` (for snapping and spreading nodes)."""
    return graph.subgraph(core.tolist())


def graph_crs(graph: nx.MultiDiGraph) -> str:
    """The graph's CRS as a string such as ``"EPSG:32635"``."""
    crs = pyproj.CRS.from_user_input(graph.graph["crs"])
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_string()


def node_coords(
    graph: nx.MultiDiGraph, nodes: Sequence[int] | npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """``(n, 2)`` array of node ``x``, ``y`` (m, projected CRS)."""
    data = graph.nodes
    return np.array([(data[n]["x"], data[n]["y"]) for n in nodes], dtype=float).reshape(-1, 2)


def snap(
    graph: nx.MultiDiGraph, xy: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Nearest graph node of each point.

    Parameters
    ----------
    graph
        Projected graph.
    xy
        ``(n, 2)`` point coordinates in the graph's CRS (m).

    Returns
    -------
    nodes, dist_m
        Node ids (int64) and straight-line point-to-node distances (m).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=float)
    from scipy.spatial import cKDTree

    ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    # the same tree and query as osmnx.distance.nearest_nodes on a projected graph
    # (node order kept, so ties go to the same node)
    _, pos = cKDTree(node_coords(graph, ids)).query(xy, k=1)
    nearest = ids[np.asarray(pos, dtype=np.int64)]
    dist = np.hypot(*(node_coords(graph, nearest) - xy).T)
    return nearest, dist


def spread_nodes(graph: nx.MultiDiGraph, count: int) -> list[int]:
    """``count`` graph nodes spread over the network by farthest-point sampling.

    Deterministic: starts from the node nearest the mean of all node coordinates and
    repeatedly adds the node farthest (straight line) from those chosen; ties go to
    the smallest node id (:func:`spread_points` on the nodes in id order).

    Parameters
    ----------
    graph
        Projected graph.
    count
        Number of nodes wanted; at most the number of nodes is returned.

    Returns
    -------
    list of int
        Node ids in the order chosen.
    """
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    if min(count, len(ids)) <= 0:
        return []
    return ids[spread_points(node_coords(graph, ids), count)].tolist()


def spread_points(xy: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Row indices of ``count`` points of ``xy`` by farthest-point sampling.

    Starts from the point nearest the mean of all points and repeatedly adds the point
    farthest (straight line, ``numpy.hypot``) from those chosen; ties go to the first
    row.  Each point's distance to the nearest chosen point is updated only within the
    largest such distance of the newly chosen one (a k-d tree finds them): no other
    point can come nearer, so the picks are those of updating every point every time,
    at a fraction of the cost on large networks.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates (m, projected CRS).
    count
        Number of points wanted; at most ``n`` are returned.

    Returns
    -------
    numpy.ndarray
        int64 row indices in the order chosen.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    count = min(count, xy.shape[0])
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    from scipy.spatial import cKDTree

    x, y = xy[:, 0], xy[:, 1]
    current = int(np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T)))
    chosen = [current]
    dist = np.hypot(x - x[current], y - y[current])
    tree = cKDTree(xy) if count > 1 else None
    for _ in range(count - 1):
        current = int(np.argmax(dist))
        chosen.append(current)
        reach = float(dist[current])
        if not reach > 0.0:
            continue  # every point sits on a chosen one: nothing comes nearer
        assert tree is not None
        near = np.asarray(tree.query_ball_point(xy[current], reach * (1.0 + 1e-9)), np.int64)
        d = np.hypot(x[near] - x[current], y[near] - y[current])
        dist[near] = np.minimum(dist[near], d)
    return np.array(chosen, dtype=np.int64)


def residential_streets(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Residential and living streets of the graph, each street counted once.

    Parameters
    ----------
    graph
        Projected graph.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per undirected street segment (two-way streets are not doubled), with
        ``length`` (m) and a LineString geometry, in the graph's CRS.
    """
    import osmnx as ox

    undirected = ox.convert.to_undirected(graph)
    edges = ox.convert.graph_to_gdfs(undirected, nodes=False)
    edges = edges[edges["highway"].isin(["residential", "living_street"])]
    return edges[["length", "geometry"]].reset_index(drop=True)
