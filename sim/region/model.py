"""Plain data produced by the region stage.

Every geometry is in the region's projected CRS (metres, a UTM zone chosen by osmnx),
recorded in :attr:`Region.crs`.  Exports reproject to EPSG:4326.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np

#: Columns of :attr:`Region.zones` (one row per residential zone).
ZONE_COLUMNS = (
    "zone_id",  # str, stable id ("z0001", ...)
    "name",  # str, OSM name or "" when unnamed
    "source",  # str: "landuse" | "buildings" | "roads" | "user"
    "households",  # float, estimated households in the zone
    "households_apartment",  # float, of which in apartment buildings
    "households_house",  # float, of which in houses
    "area_m2",  # float, zone area (m^2)
    "node",  # int, OSM id of the nearest graph node to the zone centroid
    "snap_dist_m",  # float, centroid -> node straight-line distance (m)
    "geometry",  # Polygon / MultiPolygon
)

#: Columns of :attr:`Region.buildings` (residential buildings only).
BUILDING_COLUMNS = (
    "building_id",  # str, "w123" / "r45" (OSM type letter + id)
    "building",  # str, OSM building tag (apartments, house, residential, yes, ...)
    "housing",  # str: "apartment" | "house"
    "levels",  # float, building:levels or the default for its type
    "footprint_m2",  # float, footprint area (m^2)
    "households",  # float, estimated households
    "zone_id",  # str, zone containing the building centroid
    "node",  # int, nearest graph node
    "snap_dist_m",  # float (m)
    "geometry",  # Polygon / MultiPolygon
)

#: Columns of :attr:`Region.candidates` (one row per candidate charging site).
CANDIDATE_COLUMNS = (
    "site_id",  # str, stable id: "parking-w123", "fuel-n45", "node-678", "user-<id>"
    "kind",  # str: parking | fuel | services | rest_area | charging_station | user | node | plan
    "name",  # str, OSM name or "" (user strings are kept verbatim, never trusted as HTML)
    "osm_id",  # str, "n123"/"w123"/"r123", "" for user and node candidates
    "existing_ports",  # int, ports of an existing charging station (capacity tag), else 0
    "node",  # int, nearest graph node
    "snap_dist_m",  # float (m)
    "geometry",  # Point
)


@dataclass(frozen=True)
class RoadEdges:
    """The road graph as arrays: what the travel-time network and the roads layer read.

    Attributes
    ----------
    node_ids
        int64 ``(n,)`` node ids, sorted.
    x, y
        float64 ``(n,)`` node coordinates (m, the region's CRS; NaN where a node has
        none).
    u, v
        int64 ``(m,)`` each edge's end nodes (ids), in the graph's edge order
        (``graph.edges``).
    length_m, speed_kph, travel_time_s
        float64 ``(m,)`` edge attributes ``length``, ``speed_kph`` and ``travel_time``
        (NaN where an edge has none).
    highway
        object ``(m,)`` the first ``highway`` tag of each edge (``None`` where none).
    geometry
        object ``(m,)`` each edge's own ``geometry`` (a LineString), ``None`` for an edge
        drawn straight between its nodes; ``None`` when no edge has one.
    """

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kph: np.ndarray
    travel_time_s: np.ndarray
    highway: np.ndarray
    geometry: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_graph(self) -> nx.MultiDiGraph:
        """The osmnx-style graph of these arrays: graph attributes :attr:`attrs`, nodes
        in id order with ``x``, ``y``, edges in :attr:`u` order with ``length``,
        ``speed_kph``, ``travel_time``, ``highway`` (and ``geometry`` where an edge has
        one): the graph :meth:`of_graph` read them from, node for node and edge for
        edge."""
        graph = nx.MultiDiGraph(**self.attrs)
        # millions of new dicts, none of them garbage: the collector would walk the
        # graph built so far again and again
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            xy = zip(self.x.tolist(), self.y.tolist(), strict=True)
            nodes = ({"x": a, "y": b} for a, b in xy)
            graph.add_nodes_from(zip(self.node_ids.tolist(), nodes, strict=True))
            ends = zip(self.u.tolist(), self.v.tolist(), strict=True)
            graph.add_edges_from(
                (a, b, d) for (a, b), d in zip(ends, self._edge_data(), strict=True)
            )
        finally:
            if was_enabled:
                gc.enable()
        return graph

    def _edge_data(self) -> Iterator[dict[str, Any]]:
        """Each edge's attributes, as :meth:`to_graph` gives them."""
        geometry = self.geometry.tolist() if self.geometry is not None else None
        for k, (length, kph, seconds, highway) in enumerate(
            zip(
                self.length_m.tolist(),
                self.speed_kph.tolist(),
                self.travel_time_s.tolist(),
                self.highway.tolist(),
                strict=True,
            )
        ):
            d = {"length": length, "speed_kph": kph, "travel_time": seconds, "highway": highway}
            if geometry is not None and geometry[k] is not None:
                d["geometry"] = geometry[k]
            yield d

    @classmethod
    def of_graph(cls, graph: nx.MultiDiGraph, /) -> RoadEdges:
        """The arrays of an osmnx-style graph (one pass over its nodes and edges)."""
        nan = float("nan")
        n = graph.number_of_nodes()
        ids = np.fromiter(sorted(graph.nodes), dtype=np.int64, count=n)
        nodes = graph.nodes
        x = np.fromiter((nodes[i].get("x", nan) for i in ids.tolist()), dtype=float, count=n)
        y = np.fromiter((nodes[i].get("y", nan) for i in ids.tolist()), dtype=float, count=n)
        rows = list(graph.edges(data=True))
        m = len(rows)

        def column(name: str) -> np.ndarray:
            values = (d.get(name) for _, _, d in rows)
            return np.fromiter((nan if a is None else a for a in values), dtype=float, count=m)

        highway = np.empty(m, dtype=object)
        highway[:] = [_first_tag(d.get("highway")) for _, _, d in rows]
        geometry = None
        if any("geometry" in d for _, _, d in rows):
            geometry = np.empty(m, dtype=object)
            geometry[:] = [d.get("geometry") for _, _, d in rows]
        return cls(
            node_ids=ids,
            x=x,
            y=y,
            u=np.fromiter((a for a, _, _ in rows), dtype=np.int64, count=m),
            v=np.fromiter((b for _, b, _ in rows), dtype=np.int64, count=m),
            length_m=column("length"),
            speed_kph=column("speed_kph"),
            travel_time_s=column("travel_time"),
            highway=highway,
            geometry=geometry,
            attrs=dict(graph.graph),
        )


def _first_tag(value: object) -> object:
    """The first of a list of OSM tag values (a simplified edge may hold several)."""
    return value[0] if isinstance(value, list) else value


@dataclass(frozen=True)
class Region:
    """A study region: road network, residential zones, buildings and candidate sites.

    Attributes
    ----------
    name
        Human-readable name ("kotka sample", file stem, place name, bbox string).
    graph
        (a property) osmnx-compatible ``networkx.MultiDiGraph``, projected
        (``graph.graph["crs"]``), reduced to its largest weakly connected component
        (one-way carriageways that enter or leave the extract stay, for
        through-traffic).  Edge attributes:
        ``length`` (m), ``speed_kph`` (km/h), ``travel_time`` (s), ``highway`` (str).
        Node attributes: ``x``, ``y`` (m, projected CRS).
    crs
        The projected CRS of every geometry, e.g. ``"EPSG:32635"``.
    zones, buildings, candidates
        GeoDataFrames with :data:`ZONE_COLUMNS`, :data:`BUILDING_COLUMNS` and
        :data:`CANDIDATE_COLUMNS`, in ``crs``.  ``candidates`` may be empty.
    notes
        What the loader inferred or fell back to, in plain words, for the user.
    provenance
        ``{"kind": "sample"|"file"|"place"|"bbox", "path": str, "sha256": str, ...}``.
    core_nodes
        Sorted int64 node ids of the largest strongly connected part, where every node
        can reach every other; zones, buildings and candidates are snapped to these.
        ``None`` means every node.
    road_graph, road_edges
        What the loader gives of the road network: the graph (an OSM region), its
        arrays (a generated city, whose graph is built only if something asks for
        :attr:`graph`), or both; at least one.  Read them as :attr:`graph` and
        :attr:`roads`.
    """

    name: str
    crs: str
    zones: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    core_nodes: np.ndarray | None = None
    road_graph: nx.MultiDiGraph | None = field(default=None, repr=False, compare=False)
    road_edges: RoadEdges | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.road_graph is None and self.road_edges is None:
            raise ValueError("a Region needs its road_graph, its road_edges or both")

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The road graph: :attr:`road_graph`, or built from :attr:`road_edges` once."""
        if self.road_graph is not None:
            return self.road_graph
        assert self.road_edges is not None  # __post_init__
        return self.road_edges.to_graph()

    @cached_property
    def roads(self) -> RoadEdges:
        """The road graph as arrays: :attr:`road_edges`, or read from :attr:`graph` once."""
        return self.road_edges if self.road_edges is not None else RoadEdges.of_graph(self.graph)
