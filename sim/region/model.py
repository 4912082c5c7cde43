"""Plain data produced by the region stage.

Every geometry is in the region's projected CRS (metres, a UTM zone chosen by osmnx),
recorded in :attr:`Region.crs`.  Exports reproject to EPSG:4326.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Region:
    """A study region: road network, residential zones, buildings and candidate sites.

    Attributes
    ----------
    name
        Human-readable name ("kotka sample", file stem, place name, bbox string).
    graph
        osmnx-compatible ``networkx.MultiDiGraph``, projected (``graph.graph["crs"]``),
        reduced to its largest weakly connected component (one-way carriageways that
        enter or leave the extract stay, for through-traffic).  Edge attributes:
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
    """

    name: str
    graph: nx.MultiDiGraph
    crs: str
    zones: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    core_nodes: np.ndarray | None = None
