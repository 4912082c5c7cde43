"""A generated city for scale studies: road graph, residential zones and candidates.

:func:`synthetic_region` builds a :class:`~sim.region.model.Region` without any OSM data:
a square street grid or concentric ring roads with radials, optionally crossed by a
motorway, with residential zones whose households thin out from the centre.  It is meant
for measuring how chargesite scales (``region: {synthetic: ...}`` in a scenario), not for
planning a real place.

The city lies in UTM zone 50N (``EPSG:32650``, metres) around Hefei, Anhui
(about 117.23 E, 31.82 N), so exports to EPSG:4326 land somewhere plausible.  The road
network is built as numpy arrays (:class:`~sim.region.model.RoadEdges`, no per-edge
geometry), which is what the travel times and the roads layer read; its networkx graph
is built from them only when something asks for :attr:`Region.graph`, so 200,000 road
nodes take seconds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from sim.errors import ConfigError
from sim.region.candidates import point_candidates
from sim.region.model import (
    BUILDING_COLUMNS,
    CANDIDATE_COLUMNS,
    ZONE_COLUMNS,
    Region,
    RoadEdges,
)
from sim.region.network import TYPICAL_SPEEDS_KPH

__all__ = ["CRS", "ORIGIN_XY", "synthetic_region"]

#: Projected CRS of every synthetic city (UTM zone 50N, metres).
CRS = "EPSG:32650"
#: City centre in :data:`CRS` (m): about 117.23 E, 31.82 N (Hefei, Anhui).
ORIGIN_XY: tuple[float, float] = (521_800.0, 3_521_000.0)

Layout = Literal["grid", "rings"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Highway classes used, by code (index) in the edge arrays.
_HIGHWAY: tuple[str, ...] = ("motorway", "motorway_link", "primary", "secondary", "residential")
_MOTORWAY, _LINK, _PRIMARY, _SECONDARY, _RESIDENTIAL = range(len(_HIGHWAY))

#: Arterial roads (primary/secondary) about this far apart (m); zones are the squares
#: (grid) or sectors (rings) they bound.
ARTERIAL_SPACING_M = 1000.0
#: Motorway interchanges (``motorway_link`` ramps to the city streets) about this far
#: apart inside the city (m).
INTERCHANGE_SPACING_M = 3000.0
#: Motorway nodes at most this far apart along a carriageway (m).
MOTORWAY_NODE_SPACING_M = 1000.0
#: The motorway runs on past the outermost streets by this much on each side (m); its
#: ends are the gates through-traffic enters and leaves by.
MOTORWAY_EXTENSION_M = 3000.0
#: Distance of each carriageway from the motorway's centre line (m).
CARRIAGEWAY_OFFSET_M = 15.0
#: One motorway service area per this length of motorway (m), one or two in all.
SERVICES_SPACING_M = 40_000.0
#: Radials leaving the centre of a "rings" city (a power of two).
_BASE_RADIALS = 8


@dataclass(frozen=True)
class _Edges:
    """Directed edges as arrays: tail, head (node ids), length (m), highway code."""

    u: IntArray
    v: IntArray
    length_m: FloatArray
    code: npt.NDArray[np.int8]

    @staticmethod
    def two_way(u: IntArray, v: IntArray, length_m: FloatArray, code: npt.ArrayLike) -> _Edges:
        """Both directions of each (u, v) street."""
        c = np.broadcast_to(np.asarray(code, dtype=np.int8), u.shape)
        return _Edges(
            u=np.concatenate([u, v]),
            v=np.concatenate([v, u]),
            length_m=np.concatenate([length_m, length_m]),
            code=np.concatenate([c, c]),
        )

    @staticmethod
    def concat(parts: list[_Edges]) -> _Edges:
        """All edges of ``parts``, in order."""
        return _Edges(
            u=np.concatenate([p.u for p in parts]),
            v=np.concatenate([p.v for p in parts]),
            length_m=np.concatenate([p.length_m for p in parts]),
            code=np.concatenate([p.code for p in parts]),
        )


@dataclass(frozen=True)
class _Streets:
    """The city streets (no motorway): node coordinates (m, relative to the centre),
    edges over node indices ``0..n-1``, half-width of the city (m), the y of the
    motorway's centre line (m, between two rows of junctions) and the zone polygons
    with their centroids."""

    x: FloatArray
    y: FloatArray
    edges: _Edges
    half_width_m: float
    motorway_y_m: float
    zones: npt.NDArray[np.object_]
    zone_xy: FloatArray


def _arterial_every(spacing_m: float) -> int:
    """Blocks between arterials: about :data:`ARTERIAL_SPACING_M`, at least 2."""
    return max(2, round(ARTERIAL_SPACING_M / spacing_m))


def _line_class(index: npt.NDArray[np.int64], centre: int, every: int) -> npt.NDArray[np.int8]:
    """Highway code of grid lines (or rings): the lines ``every`` apart from the
    central one are arterials, primary and secondary alternating; others residential."""
    off = index - centre
    return np.where(
        off % (2 * every) == 0, _PRIMARY, np.where(off % every == 0, _SECONDARY, _RESIDENTIAL)
    ).astype(np.int8)


# --------------------------------------------------------------------------- grid


def _grid_streets(side: int, spacing_m: float) -> _Streets:
    """A ``side`` x ``side`` grid of junctions ``spacing_m`` apart, centred on 0."""
    every = _arterial_every(spacing_m)
    pos = (np.arange(side, dtype=np.float64) - (side - 1) / 2.0) * spacing_m
    col_2d, row_2d = np.meshgrid(np.arange(side), np.arange(side))  # id = row * side + col
    col, row = col_2d.ravel().astype(np.int64), row_2d.ravel().astype(np.int64)
    idx = np.arange(side * side, dtype=np.int64)
    centre = (side - 1) // 2
    east = col < side - 1
    north = row < side - 1
    edges = _Edges.concat(
        [
            _Edges.two_way(
                idx[east],
                idx[east] + 1,
                np.full(int(east.sum()), spacing_m),
                _line_class(row[east], centre, every),
            ),
            _Edges.two_way(
                idx[north],
                idx[north] + side,
                np.full(int(north.sum()), spacing_m),
                _line_class(col[north], centre, every),
            ),
        ]
    )
    # Zones: squares of `every` x `every` blocks (bounded by arterials), clipped to the
    # outermost streets.
    half = (side - 1) / 2.0 * spacing_m
    size = every * spacing_m
    edges_1d = np.unique(np.clip(np.arange(-half, half + size, size), -half, half))
    if edges_1d.size < 2:
        edges_1d = np.array([-half, half]) if half > 0 else np.array([-0.5, 0.5]) * spacing_m
    lo, hi = edges_1d[:-1], edges_1d[1:]
    x0, y0 = np.meshgrid(lo, lo)
    x1, y1 = np.meshgrid(hi, hi)
    zones = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    zone_xy = np.column_stack([(x0 + x1).ravel() / 2.0, (y0 + y1).ravel() / 2.0])
    motorway_y = (pos[centre] + pos[min(centre + 1, side - 1)]) / 2.0 if side > 1 else 0.5
    return _Streets(
        x=pos[col],
        y=pos[row],
        edges=edges,
        half_width_m=half,
        motorway_y_m=float(motorway_y),
        zones=zones,
        zone_xy=zone_xy,
    )


# --------------------------------------------------------------------------- rings


def _ring_sizes(rings: int) -> IntArray:
    """Junctions on rings ``1..rings``: :data:`_BASE_RADIALS` doubled whenever the arc
    between two radials would exceed twice the ring spacing."""
    k = np.arange(1, rings + 1, dtype=np.float64)
    ratio = 2.0 * np.pi * k / _BASE_RADIALS
    doublings = np.maximum(0, np.floor(np.log2(np.maximum(ratio, 1.0)))).astype(np.int64)
    return (_BASE_RADIALS * 2**doublings).astype(np.int64)


def _rings_streets(rings: int, spacing_m: float) -> _Streets:
    """A centre junction and ``rings`` ring roads ``spacing_m`` apart, joined by radials."""
    every = _arterial_every(spacing_m)
    m = _ring_sizes(rings)
    start = np.concatenate([[1], 1 + np.cumsum(m)[:-1]]).astype(np.int64)  # node 0 = centre
    n = 1 + int(m.sum())
    ring = np.repeat(np.arange(1, rings + 1, dtype=np.int64), m)
    pos = np.arange(n - 1, dtype=np.int64) - np.repeat(start - 1, m)  # index on its ring
    size = np.repeat(m, m)
    theta = 2.0 * np.pi * pos / size
    radius = (ring * spacing_m).astype(np.float64)
    x = np.concatenate([[0.0], radius * np.cos(theta)])
    y = np.concatenate([[0.0], radius * np.sin(theta)])
    ids = np.arange(1, n, dtype=np.int64)
    # Ring roads: each junction to the next one anticlockwise.
    nxt = np.where(pos + 1 == size, ids - pos, ids + 1).astype(np.int64)
    chord = (2.0 * radius * np.sin(np.pi / size)).astype(np.float64)
    ring_code = np.where((ring % every) == 0, _PRIMARY, _RESIDENTIAL).astype(np.int8)
    # Radials: ring k position a -> ring k+1 at the same angle.
    inner = ring < rings
    outer_size = np.repeat(np.concatenate([m[1:], [1]]), m)
    rad_u = ids[inner]
    rad_v = (start[ring[inner]] + pos[inner] * (outer_size[inner] // size[inner])).astype(np.int64)
    # The base radials (from the centre) are primary, the next level secondary.
    level = size // _BASE_RADIALS  # radials of this ring per base radial
    base = (pos % level) == 0
    second = (level >= 2) & ((pos % np.maximum(level // 2, 1)) == 0)
    rad_class = np.where(base, _PRIMARY, np.where(second, _SECONDARY, _RESIDENTIAL))
    rad_code = rad_class.astype(np.int8)[inner]
    first = ids[ring == 1]
    edges = _Edges.concat(
        [
            _Edges.two_way(ids, nxt, chord, ring_code),
            _Edges.two_way(rad_u, rad_v, np.full(rad_u.size, spacing_m), rad_code),
            _Edges.two_way(
                np.zeros(first.size, np.int64), first, np.full(first.size, spacing_m), _PRIMARY
            ),
        ]
    )
    zones, zone_xy = _ring_zones(rings, spacing_m, every)
    return _Streets(
        x=x,
        y=y,
        edges=edges,
        half_width_m=rings * spacing_m,
        motorway_y_m=spacing_m / 2.0,
        zones=zones,
        zone_xy=zone_xy,
    )


def _ring_zones(
    rings: int, spacing_m: float, every: int
) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Sectors of bands ``every`` rings wide, each about as long (arc) as it is wide."""
    band = every * spacing_m
    outer_r = rings * spacing_m
    r_edges = np.unique(np.clip(np.arange(0.0, outer_r + band, band), 0.0, outer_r))
    polys: list[npt.NDArray[np.object_]] = []
    centroids: list[FloatArray] = []
    arc_pts = 9
    for r0, r1 in itertools.pairwise(r_edges):
        n_sec = max(4, round(2.0 * np.pi * (r0 + r1) / 2.0 / band))
        t0 = 2.0 * np.pi * np.arange(n_sec) / n_sec
        t = t0[:, None] + np.linspace(0.0, 2.0 * np.pi / n_sec, arc_pts)[None, :]
        outer = np.stack([r1 * np.cos(t), r1 * np.sin(t)], axis=-1)
        if r0 > 0:
            inner = np.stack([r0 * np.cos(t[:, ::-1]), r0 * np.sin(t[:, ::-1])], axis=-1)
        else:
            inner = np.zeros((n_sec, 1, 2))
        ring_xy = np.concatenate([outer, inner, outer[:, :1]], axis=1)
        sectors = shapely.polygons(ring_xy)
        polys.append(sectors)
        c = shapely.centroid(sectors)
        centroids.append(np.column_stack([shapely.get_x(c), shapely.get_y(c)]))
    return np.concatenate(polys), np.concatenate(centroids)


# --------------------------------------------------------------------------- motorway


@dataclass(frozen=True)
class _Motorway:
    """Motorway nodes (coordinates relative to the centre, m), its edges (ids from
    ``first_id``) and the service-area node ids."""

    x: FloatArray
    y: FloatArray
    edges: _Edges
    services: IntArray


def _motorway_stations(half: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """x of the carriageway nodes, of the interchanges and of the service areas (m)."""
    end = half + MOTORWAY_EXTENSION_M
    n_ic = max(2, round(2.0 * half / INTERCHANGE_SPACING_M) + 1)
    margin = min(INTERCHANGE_SPACING_M / 2.0, half / 3.0)
    ic = np.linspace(-half + margin, half - margin, n_ic)
    n_sv = int(np.clip(round(2.0 * end / SERVICES_SPACING_M), 1, 2))
    mids = (ic[:-1] + ic[1:]) / 2.0
    targets = np.linspace(-half, half, n_sv + 2)[1:-1]
    sv = np.unique(mids[np.abs(mids[None, :] - targets[:, None]).argmin(axis=1)])
    key = np.unique(np.concatenate([[-end, end], ic]))
    gaps = np.diff(key)
    fill = [
        np.linspace(a, b, math.ceil(g / MOTORWAY_NODE_SPACING_M) + 1)[1:-1]
        for a, b, g in zip(key[:-1], key[1:], gaps, strict=True)
    ]
    stations = np.unique(np.concatenate([key, *fill]))
    # A service area sits between two carriageway nodes, never on one.
    on_station = np.isin(sv, stations)
    sv = np.where(on_station, sv + MOTORWAY_NODE_SPACING_M / 4.0, sv)
    return stations, ic, sv


def _motorway_node_count(half: float) -> int:
    stations, _, sv = _motorway_stations(half)
    return 2 * stations.size + sv.size


def _motorway(streets: _Streets, *, first_id: int) -> _Motorway:
    """Two one-way carriageways (100 km/h) across the city along ``y = motorway_y_m``,
    ramps to the nearest street junction on each side at every interchange and service
    areas reachable from both carriageways.  The carriageways start and end outside
    the city as loose ends (no road enters an entry, none leaves an exit): the gates
    :func:`sim.region.gates.find_gates` looks for."""
    stations, ic, sv = _motorway_stations(streets.half_width_m)
    k = stations.size
    yc = streets.motorway_y_m
    east_ids = first_id + np.arange(k, dtype=np.int64)  # right-hand traffic: south side
    west_ids = first_id + k + np.arange(k, dtype=np.int64)
    sv_ids = first_id + 2 * k + np.arange(sv.size, dtype=np.int64)
    x = np.concatenate([stations, stations, sv])
    y = np.concatenate(
        [
            np.full(k, yc - CARRIAGEWAY_OFFSET_M),
            np.full(k, yc + CARRIAGEWAY_OFFSET_M),
            np.full(sv.size, yc),
        ]
    )
    seg = np.diff(stations)
    parts = [
        _Edges(east_ids[:-1], east_ids[1:], seg, np.full(k - 1, _MOTORWAY, np.int8)),
        _Edges(west_ids[1:], west_ids[:-1], seg, np.full(k - 1, _MOTORWAY, np.int8)),
    ]
    # Interchanges: each carriageway node <-> nearest junction on its own side.
    at_ic = np.searchsorted(stations, ic)
    xy = np.column_stack([streets.x, streets.y])
    for ids, side in ((east_ids, streets.y < yc), (west_ids, streets.y > yc)):
        cand = np.flatnonzero(side)
        if cand.size == 0:
            cand = np.arange(streets.x.size)
        dist, near = cKDTree(xy[cand]).query(
            np.column_stack([stations[at_ic], y[ids[at_ic] - first_id]])
        )
        junction = cand[near].astype(np.int64)
        parts.append(_Edges.two_way(ids[at_ic], junction, np.asarray(dist, float), _LINK))
    # Service areas: in from the carriageway node before, out to the one after.
    after = np.searchsorted(stations, sv)
    before = after - 1
    d_before = np.hypot(sv - stations[before], CARRIAGEWAY_OFFSET_M)
    d_after = np.hypot(stations[after] - sv, CARRIAGEWAY_OFFSET_M)
    parts.append(
        _Edges(
            np.concatenate([east_ids[before], sv_ids, west_ids[after], sv_ids]),
            np.concatenate([sv_ids, east_ids[after], sv_ids, west_ids[before]]),
            np.concatenate([d_before, d_after, d_after, d_before]),
            np.full(4 * sv.size, _LINK, np.int8),
        )
    )
    return _Motorway(
        x=x,
        y=y,
        edges=_Edges.concat(parts),
        services=sv_ids,
    )


# --------------------------------------------------------------------------- sizing


def _size_for(layout: Layout, nodes: int, expressway: bool, spacing_m: float) -> int:
    """Grid side or number of rings whose node count (with the motorway) is nearest
    ``nodes``."""

    def total(s: int) -> int:
        if layout == "grid":
            n, half = s * s, (s - 1) / 2.0 * spacing_m
        else:
            n, half = 1 + int(_ring_sizes(s).sum()), s * spacing_m
        return n + (_motorway_node_count(half) if expressway else 0)

    # total() grows with the size: bisect for the first size reaching `nodes`, then
    # take it or the one before, whichever comes nearer.
    lo, hi = (2, 2) if layout == "grid" else (1, 1)
    smallest = lo
    while total(hi) < nodes:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if total(mid) < nodes:
            lo = mid + 1
        else:
            hi = mid
    if hi > smallest and nodes - total(hi - 1) < total(hi) - nodes:
        return hi - 1
    return hi


# --------------------------------------------------------------------------- graph


def _road_edges(x: FloatArray, y: FloatArray, edges: _Edges, *, first_id: int) -> RoadEdges:
    """The city's road network as arrays: node ids ``first_id + i`` with ``x``/``y`` in
    :data:`CRS`; edges with ``length`` (m), ``speed_kph``, ``travel_time`` (s) and
    ``highway``, in the order the graph :meth:`RoadEdges.to_graph` builds from them
    iterates them (by start node, then by end node in the order each pair first
    appears, then as added)."""
    n = x.size
    u, v = edges.u.astype(np.int64), edges.v.astype(np.int64)
    _, first, inverse = np.unique(u * n + v, return_index=True, return_inverse=True)
    order = np.lexsort((np.arange(u.size), first[inverse.ravel()], u))
    code = edges.code[order]
    length = edges.length_m[order].astype(np.float64)
    speed = np.array([TYPICAL_SPEEDS_KPH[h] for h in _HIGHWAY], dtype=np.float64)[code]
    highway = np.empty(code.size, dtype=object)
    highway[:] = [_HIGHWAY[c] for c in code.tolist()]
    return RoadEdges(
        node_ids=first_id + np.arange(n, dtype=np.int64),
        x=x + ORIGIN_XY[0],
        y=y + ORIGIN_XY[1],
        u=u[order] + first_id,
        v=v[order] + first_id,
        length_m=length,
        speed_kph=speed,
        travel_time_s=length / (speed / 3.6),
        highway=highway,
        attrs={"crs": CRS, "simplified": True, "created_with": "chargesite synthetic"},
    )


def _strong_core(edges: _Edges, n: int) -> IntArray:
    """Sorted node indices of the largest strongly connected part of the graph."""
    mat = sparse.coo_array((np.ones(edges.u.size), (edges.u, edges.v)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(mat, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    return np.flatnonzero(labels == largest).astype(np.int64)


# --------------------------------------------------------------------------- frames


def _zones_frame(
    streets: _Streets, *, households: float, first_id: int, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Residential zones: households denser near the centre, apartments near the
    centre and houses towards the edge; each zone at its nearest street junction."""
    n = streets.zone_xy.shape[0]
    area = shapely.area(streets.zones)
    dist = np.hypot(streets.zone_xy[:, 0], streets.zone_xy[:, 1])
    scale = max(streets.half_width_m, 1.0)
    density = np.exp(-dist / (0.4 * scale)) * rng.lognormal(0.0, 0.3, n)
    weight = area * density
    total = weight.sum()
    hh = households * weight / total if total > 0 else np.zeros(n)
    apt_share = np.clip(0.9 - 0.6 * dist / scale, 0.3, 0.9)
    apt = hh * apt_share
    d_snap, near = cKDTree(np.column_stack([streets.x, streets.y])).query(streets.zone_xy)
    width = max(4, len(str(n)))
    xy0 = np.array(ORIGIN_XY)
    geoms = shapely.transform(streets.zones, lambda c: c + xy0)
    return gpd.GeoDataFrame(
        {
            "zone_id": [f"z{i:0{width}d}" for i in range(1, n + 1)],
            "name": [""] * n,
            "source": ["synthetic"] * n,
            "households": hh,
            "households_apartment": apt,
            "households_house": hh - apt,
            "area_m2": area,
            "node": (np.asarray(near, dtype=np.int64) + first_id),
            "snap_dist_m": np.asarray(d_snap, dtype=float),
        },
        geometry=gpd.GeoSeries(geoms, crs=CRS),
        crs=CRS,
    )[list(ZONE_COLUMNS)]


def _empty_buildings() -> gpd.GeoDataFrame:
    numeric = {"levels", "footprint_m2", "households", "snap_dist_m"}
    cols: dict[str, pd.Series[Any]] = {
        c: pd.Series(dtype=np.int64 if c == "node" else float if c in numeric else str)
        for c in BUILDING_COLUMNS
        if c != "geometry"
    }
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


def _candidates_frame(
    roads: RoadEdges,
    *,
    streets: int,
    count: int,
    services: IntArray,
) -> gpd.GeoDataFrame:
    """``count`` street junctions (the first ``streets`` nodes of ``roads``) spread over
    the city (kind ``node``) and the motorway service areas (kind ``services``), each
    at its own node."""
    xy = np.column_stack([roads.x[:streets], roads.y[:streets]])
    nodes, _ = point_candidates(roads.node_ids[:streets], xy, count, crs=CRS)
    nodes["node"] = nodes["site_id"].str.removeprefix("node-").astype(np.int64)
    at = np.searchsorted(roads.node_ids, services)
    svc_xy = np.column_stack([roads.x[at], roads.y[at]])
    svc = gpd.GeoDataFrame(
        {
            "site_id": [f"services-{i}" for i in range(1, services.size + 1)],
            "kind": ["services"] * services.size,
            "name": [f"Services {i}" for i in range(1, services.size + 1)],
            "osm_id": [""] * services.size,
            "existing_ports": np.zeros(services.size, dtype=np.int64),
            "node": services.astype(np.int64),
        },
        geometry=gpd.GeoSeries(shapely.points(svc_xy.reshape(-1, 2)), crs=CRS),
        crs=CRS,
    )
    out = pd.concat([nodes, svc], ignore_index=True) if services.size else nodes
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=CRS)
    out["snap_dist_m"] = 0.0
    return out.astype({"existing_ports": np.int64, "node": np.int64})[list(CANDIDATE_COLUMNS)]


# --------------------------------------------------------------------------- public


def _road_graph(
    streets: _Streets, /, *, expressway: bool, first_id: int
) -> tuple[RoadEdges, _Edges, np.ndarray, np.ndarray]:
    """The streets (and the motorway) as the arrays of a graph; its edges, its strongly
    connected core's node ids and the service areas' node ids.  The graph itself
    (:meth:`RoadEdges.to_graph`) is built only if something asks for it."""
    n_streets = streets.x.size
    x, y, edges = streets.x, streets.y, streets.edges
    services = np.empty(0, np.int64)
    if expressway:
        mw = _motorway(streets, first_id=n_streets)
        x = np.concatenate([x, mw.x])
        y = np.concatenate([y, mw.y])
        edges = _Edges.concat([edges, mw.edges])
        services = mw.services + first_id
    core = _strong_core(edges, x.size) + first_id
    return _road_edges(x, y, edges, first_id=first_id), edges, core, services


def _checked_params(
    *,
    layout: str,
    nodes: int,
    spacing_m: float,
    expressway: bool,
    households: float,
    candidates: int,
) -> dict[str, Any]:
    """The generator's parameters, checked, as its provenance records them."""
    if layout not in ("grid", "rings"):
        raise ConfigError(f"synthetic_region: layout = {layout!r}: expected 'grid' or 'rings'")
    if nodes < 4:
        raise ConfigError(f"synthetic_region: nodes = {nodes}: expected at least 4")
    if not (spacing_m > 0 and math.isfinite(spacing_m)):
        raise ConfigError(f"synthetic_region: spacing_m = {spacing_m}: expected a positive number")
    if not (households >= 0 and math.isfinite(households)):
        raise ConfigError(f"synthetic_region: households = {households}: expected >= 0")
    if candidates < 0:
        raise ConfigError(f"synthetic_region: candidates = {candidates}: expected >= 0")
    return {
        "layout": layout,
        "nodes": int(nodes),
        "spacing_m": float(spacing_m),
        "expressway": bool(expressway),
        "households": float(households),
        "candidates": int(candidates),
    }


def _note(params: dict[str, Any], /, *, n_nodes: int, n_zones: int, motorway: str) -> str:
    """The region's note: what was generated, and that it is no real place."""
    return (
        f"Synthetic {params['layout']} city generated by chargesite (no OSM data): "
        f"{n_nodes:,} road nodes {params['spacing_m']:g} m apart, {n_zones:,} zones, "
        f"{params['households']:,.0f} households{motorway}; for scale studies, not a real "
        "place."
    )


def synthetic_region(
    *,
    layout: Layout,
    nodes: int,
    spacing_m: float,
    expressway: bool,
    households: float,
    candidates: int,
    rng: np.random.Generator,
) -> Region:
    """Generate a city: street network, residential zones and candidate sites.

    Parameters
    ----------
    layout
        ``"grid"``: a square grid of junctions ``spacing_m`` apart, with ``primary`` and
        ``secondary`` arterials (60 and 50 km/h) about every
        :data:`ARTERIAL_SPACING_M` and ``residential`` streets (30 km/h) between.
        ``"rings"``: a centre and concentric ring roads ``spacing_m`` apart joined by
        radials (the radials double whenever the arc between them would exceed twice
        the spacing); every few rings is a ``primary`` ring road, the 8 radials from
        the centre are ``primary`` and the next 8 ``secondary``.
    nodes
        Road nodes wanted (motorway included); the city is sized to come nearest.
        Within about 5% from a few hundred nodes up; tiny cities with a motorway
        overshoot (the motorway alone needs about 20 nodes).
    spacing_m
        Distance between neighbouring junctions (m).
    expressway
        Add a ``motorway`` (100 km/h) crossing the city west to east: two one-way
        carriageways, ``motorway_link`` ramps to the streets about every
        :data:`INTERCHANGE_SPACING_M` and one or two service areas.  It runs
        :data:`MOTORWAY_EXTENSION_M` past the outermost streets at both ends, where
        each carriageway starts (no road enters it) or ends (no road leaves it): the
        entry and exit gates :func:`sim.region.gates.find_gates` finds for
        through-traffic, as at the edge of an OSM extract.
    households
        Households in the city, spread over the zones (denser near the centre).
    candidates
        Street junctions spread over the city (farthest-point sampling) as candidate
        sites of kind ``"node"``; the service areas are added as kind ``"services"``.
    rng
        Draws the zones' household densities (the streets do not depend on it).

    Returns
    -------
    Region
        In ``EPSG:32650`` (UTM 50N, metres) around Hefei.  ``zones``: squares (grid)
        or sectors (rings) about :data:`ARTERIAL_SPACING_M` across with source
        ``"synthetic"``, apartments from 90% of households at the centre down to 30% at
        the edge; ``buildings``: empty (households sit at each zone's node);
        ``core_nodes``: every node but, with the motorway, its stubs beyond the
        outermost interchanges (reachable from the entries or reaching the exits
        only), so that every core node can reach every other;
        ``provenance``: ``{"kind": "synthetic", parameters..., "sha256"}``, the hash of
        the parameters and of ``rng``'s state before any draw.

    Raises
    ------
    ConfigError
        A parameter out of range.
    """
    params = _checked_params(
        layout=layout,
        nodes=nodes,
        spacing_m=spacing_m,
        expressway=expressway,
        households=households,
        candidates=candidates,
    )
    return _city(params, rng=rng)


def _city(params: dict[str, Any], /, *, rng: np.random.Generator) -> Region:
    """:func:`synthetic_region` of checked parameters (:func:`_checked_params`)."""
    layout, spacing_m, expressway = params["layout"], params["spacing_m"], params["expressway"]
    digest = hashlib.sha256(
        json.dumps({**params, "rng": rng.bit_generator.state}, sort_keys=True).encode()
    ).hexdigest()
    size = _size_for(layout, params["nodes"], expressway, spacing_m)
    streets = (
        _grid_streets(size, spacing_m) if layout == "grid" else _rings_streets(size, spacing_m)
    )
    first_id = 1  # node ids start at 1, like OSM ids
    roads, edges, core, services = _road_graph(streets, expressway=expressway, first_id=first_id)
    zones = _zones_frame(streets, households=params["households"], first_id=first_id, rng=rng)
    cands = _candidates_frame(
        roads, streets=streets.x.size, count=params["candidates"], services=services
    )
    motorway_km = float(
        edges.length_m[edges.code == _MOTORWAY].sum() / 2000.0 if expressway else 0.0
    )
    n_nodes = int(roads.node_ids.size)
    motorway = (
        f", a {motorway_km:.1f} km motorway with {services.size} service area(s) whose "
        f"{n_nodes - core.size} nodes beyond the outermost interchanges carry "
        "through-traffic only"
        if expressway
        else ""
    )
    return Region(
        name=f"synthetic {layout} city ({n_nodes:,} nodes)",
        crs=CRS,
        zones=zones,
        buildings=_empty_buildings(),
        candidates=cands,
        notes=(_note(params, n_nodes=n_nodes, n_zones=len(zones), motorway=motorway),),
        provenance={
            "kind": "synthetic",
            **params,
            "nodes_built": n_nodes,
            "edges_built": int(edges.u.size),
            "sha256": digest,
        },
        core_nodes=core,
        road_edges=roads,
    )
