"""Corridor mode: a long expressway given as a line with service areas at chainages.

No city extract covers a 500 km expressway, yet that is where holiday queues form.  The
corridor is built as two one-way carriageways (``motorway``) running north-east from
``origin_lon/origin_lat``, with a node every ``node_spacing_km``.  Each service area is
a node beside each carriageway, reached by a short ``motorway_link`` in and out, with
its charging ports as an existing station (kind ``services``).  Optional extra
candidate sites every ``candidate_spacing_km`` are built the same way with no ports.
The loose ends of the carriageways are the gates where through-traffic enters and
leaves, so the highway stage treats a corridor exactly like a city extract.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
from shapely.geometry import Point

from sim.region.candidates import empty_candidates
from sim.region.model import BUILDING_COLUMNS, ZONE_COLUMNS, Region

__all__ = ["corridor_region"]

#: Length (km) and speed (km/h) of the link road into and out of a service area.
LINK_KM = 0.4
LINK_KPH = 50.0
#: Distance (m) of a carriageway's centre line, and of its service areas, from the axis.
CARRIAGEWAY_OFFSET_M = 15.0
SERVICE_OFFSET_M = 120.0


def _utm(lon: float, lat: float) -> str:
    zone = int((lon + 180.0) // 6.0) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


class _Corridor:
    """The corridor's graph as it is built: two carriageways, then sites beside them.

    Carriageway A runs 0 -> L (node ids 1..), B runs L -> 0 (node ids 1_000_001..);
    sites get node ids from 2_000_001 on.  Coordinates are in the projected CRS (m),
    ``side`` offsets to the left of the direction of travel of A.
    """

    def __init__(self, *, crs: str, x0: float, y0: float, length_km: float, n: int) -> None:
        self.x0, self.y0 = x0, y0
        self.ux, self.uy = math.cos(math.radians(45.0)), math.sin(math.radians(45.0))
        self.nx_, self.ny_ = -self.uy, self.ux  # left normal
        self.length_km, self.n = length_km, n
        self.chain = np.linspace(0.0, length_km, n + 1)
        self.graph = nx.MultiDiGraph(crs=crs)
        self.ids = {"A": np.arange(1, n + 2), "B": np.arange(1_000_001, 1_000_002 + n)}
        self.sites: list[dict[str, object]] = []
        self.next_id = 2_000_001

    def xy(self, km: float, side: float) -> tuple[float, float]:
        """Position (m) at chainage ``km``, ``side`` m left of the axis."""
        return (
            self.x0 + self.ux * km * 1000.0 + self.nx_ * side,
            self.y0 + self.uy * km * 1000.0 + self.ny_ * side,
        )

    def add_edge(self, u: int, v: int, km: float, kph: float, highway: str) -> None:
        """A directed edge of ``km`` km driven at ``kph`` km/h."""
        self.graph.add_edge(
            u, v, length=km * 1000.0, speed_kph=kph, travel_time=km / kph * 3600.0,
            highway=highway,
        )  # fmt: skip

    def add_carriageways(self, speed_kph: float) -> None:
        """The nodes every ``node_spacing_km`` and the motorway edges of both ways."""
        side_off = {"A": -CARRIAGEWAY_OFFSET_M, "B": CARRIAGEWAY_OFFSET_M}
        for c in ("A", "B"):
            for node, km in zip(self.ids[c].tolist(), self.chain.tolist(), strict=True):
                x, y = self.xy(km, side_off[c])
                self.graph.add_node(node, x=x, y=y)
        a, b = self.ids["A"], self.ids["B"]
        for i in range(self.n):
            d = float(self.chain[i + 1] - self.chain[i])
            self.add_edge(int(a[i]), int(a[i + 1]), d, speed_kph, "motorway")
            self.add_edge(int(b[i + 1]), int(b[i]), d, speed_kph, "motorway")

    def add_site(self, name: str, km: float, ports: int, *, kind: str, tag: str) -> None:
        """A site beside each carriageway at chainage ``km``, on a link road in and out."""
        chain, n = self.chain, self.n
        k = int(np.clip(np.searchsorted(chain, km, side="right") - 1, 0, n - 1))
        for c, label in (("A", f"towards km {self.length_km:.0f}"), ("B", "towards km 0")):
            node = self.next_id
            self.next_id += 1
            off = -SERVICE_OFFSET_M if c == "A" else SERVICE_OFFSET_M
            x, y = self.xy(km, off)
            self.graph.add_node(node, x=x, y=y)
            if c == "A":  # upstream node k (chainage <= km), downstream k + 1
                up, down = int(self.ids["A"][k]), int(self.ids["A"][k + 1])
                d_in, d_out = km - chain[k], chain[k + 1] - km
            else:  # B runs downwards: upstream is k + 1
                up, down = int(self.ids["B"][k + 1]), int(self.ids["B"][k])
                d_in, d_out = chain[k + 1] - km, km - chain[k]
            self.add_edge(up, node, LINK_KM / 2 + float(d_in), LINK_KPH, "motorway_link")
            self.add_edge(node, down, LINK_KM / 2 + float(d_out), LINK_KPH, "motorway_link")
            self.sites.append(
                {
                    "site_id": f"{tag}-{c}",
                    "kind": kind,
                    "name": f"{name} ({label})",
                    "osm_id": "",
                    "existing_ports": int(ports),
                    "node": node,
                    "snap_dist_m": 0.0,
                    "geometry": Point(x, y),
                }
            )


def corridor_region(
    *,
    length_km: float,
    speed_kph: float,
    node_spacing_km: float,
    service_areas: list[tuple[str, float, int]],
    candidate_spacing_km: float = 0.0,
    origin_lon: float = 113.0,
    origin_lat: float = 28.0,
) -> Region:
    """Build a corridor region.

    Parameters
    ----------
    length_km
        Corridor length (km).
    speed_kph
        Travel speed on the carriageways (km/h).
    node_spacing_km
        Distance between carriageway nodes (km).
    service_areas
        ``(name, chainage_km, ports_per_side)`` of each service area.
    candidate_spacing_km
        Extra candidate sites every this many km on both sides (0 = none).
    origin_lon, origin_lat
        Start of the corridor (degrees); the corridor runs north-east from there.

    Returns
    -------
    Region
        In the UTM zone of the origin; no residential zones; candidates are the service
        areas (``existing_ports`` = ports per side) and the extra sites.
    """
    crs = _utm(origin_lon, origin_lat)
    x0, y0 = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
        origin_lon, origin_lat
    )
    n = max(math.ceil(length_km / node_spacing_km), 1)
    road = _Corridor(crs=crs, x0=x0, y0=y0, length_km=length_km, n=n)
    road.add_carriageways(speed_kph)
    for i, (name, km, ports) in enumerate(service_areas):
        road.add_site(name, km, ports, kind="services", tag=f"services-{i + 1}")
    if candidate_spacing_km > 0:
        for j, km in enumerate(np.arange(candidate_spacing_km, length_km, candidate_spacing_km)):
            road.add_site(
                f"km {km:.0f}", float(km), 0, kind="node", tag=f"corridor-km{round(km)}-{j}"
            )

    sites = road.sites
    candidates = (
        gpd.GeoDataFrame(sites, geometry="geometry", crs=crs) if sites else empty_candidates(crs)
    )
    zones = gpd.GeoDataFrame(
        {c: [] for c in ZONE_COLUMNS if c != "geometry"}, geometry=gpd.GeoSeries([], crs=crs)
    )
    buildings = gpd.GeoDataFrame(
        {c: [] for c in BUILDING_COLUMNS if c != "geometry"}, geometry=gpd.GeoSeries([], crs=crs)
    )
    return Region(
        name=f"corridor {length_km:g} km",
        road_graph=road.graph,
        crs=crs,
        zones=zones,
        buildings=buildings,
        candidates=candidates,
        notes=(
            f"Corridor of {length_km:g} km with {len(service_areas)} service area(s); "
            "no residential zones (highway demand only).",
        ),
        provenance={"kind": "corridor", "sha256": "generated"},
        core_nodes=np.array(sorted(road.graph.nodes), dtype=np.int64),
    )
