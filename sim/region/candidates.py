"""Candidate charging sites: OSM POIs, a user's sites file, and nodes spread over the network.

OSM candidates are ``amenity=parking|fuel|charging_station`` and
``highway=services|rest_area`` features; an area is represented by a point inside it
(``representative_point``).  Site ids are stable: ``f"{kind}-{osm_id}"``,
``"user-<id>"``, ``"node-<node id>"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import Point

from sim.region._text import count
from sim.region.model import CANDIDATE_COLUMNS
from sim.region.network import node_coords, snap, spread_points

_BUILD_COLUMNS = [c for c in CANDIDATE_COLUMNS if c not in ("node", "snap_dist_m")]


def empty_candidates(crs: object) -> gpd.GeoDataFrame:
    """An empty candidates frame (without ``node``/``snap_dist_m``) in ``crs``."""
    columns = {
        c: pd.Series(dtype=np.int64 if c == "existing_ports" else str)
        for c in _BUILD_COLUMNS
        if c != "geometry"
    }
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _ports(value: object) -> int | None:
    """Ports from a ``capacity`` tag (first integer), None when missing or unusable."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = re.search(r"\d+", str(value))
    if match is None:
        return None
    ports = int(match.group())
    return ports if 0 < ports <= 1000 else None


def osm_candidates(
    pois: gpd.GeoDataFrame,
    *,
    kinds: Sequence[str],
    default_ports: int,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Candidates from OSM POIs.

    Parameters
    ----------
    pois
        POI layer (``osm_id``, ``name``, ``amenity``, ``highway``, ``capacity``) in a
        projected CRS (metres).
    kinds
        Kinds to keep (subset of parking, fuel, services, rest_area, charging_station).
    default_ports
        Ports of an existing charging station without a usable ``capacity`` tag.

    Returns
    -------
    candidates, notes
        Columns ``site_id, kind, name, osm_id, existing_ports, geometry`` (Point, same
        CRS), sorted by ``site_id``; notes on assumed station ports.
    """
    if len(pois) == 0 or not kinds:
        return empty_candidates(pois.crs), []
    frames = []
    for kind in kinds:
        key = "highway" if kind in ("services", "rest_area") else "amenity"
        sel = pois[pois[key] == kind]
        if len(sel):
            frames.append(sel.assign(kind=kind))
    if not frames:
        return empty_candidates(pois.crs), []
    sel = pd.concat(frames, ignore_index=True)
    notes = []
    ports = np.zeros(len(sel), dtype=np.int64)
    stations = (sel["kind"] == "charging_station").to_numpy()
    if stations.any():
        tagged = [_ports(v) for v in sel["capacity"][stations]]
        missing = sum(p is None for p in tagged)
        ports[stations] = [default_ports if p is None else p for p in tagged]
        if missing:
            notes.append(
                f"{count(missing, 'existing charging station')} without a usable capacity "
                f"tag: {default_ports} ports assumed for each."
            )
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"{k}-{o}" for k, o in zip(sel["kind"], sel["osm_id"], strict=True)],
            "kind": sel["kind"].to_numpy(),
            "name": [n if isinstance(n, str) else "" for n in sel["name"]],
            "osm_id": sel["osm_id"].astype(str).to_numpy(),
            "existing_ports": ports,
        },
        geometry=sel.geometry.representative_point().to_numpy(),
        crs=pois.crs,
    )
    out = out.drop_duplicates("site_id").sort_values("site_id", kind="stable")
    return out.reset_index(drop=True), notes


def node_candidates(graph: nx.MultiDiGraph, count: int) -> tuple[gpd.GeoDataFrame, list[str]]:
    """``count`` candidates on graph nodes spread over the network (kind ``"node"``).

    Parameters
    ----------
    graph
        Projected road graph (metres).
    count
        Number of candidates wanted (capped at the number of nodes, with a note).

    Returns
    -------
    candidates, notes
        Candidates at the chosen nodes' coordinates, in farthest-point order
        (:func:`~sim.region.network.spread_nodes`).
    """
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    return point_candidates(ids, node_coords(graph, ids), count, crs=graph.graph["crs"])


def point_candidates(
    ids: np.ndarray, xy: np.ndarray, count: int, /, *, crs: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """:func:`node_candidates` for nodes given as arrays: ``ids`` (int64, sorted) and
    their ``(n, 2)`` coordinates ``xy`` (m, in ``crs``)."""
    pick = spread_points(xy, count)
    notes = []
    if count > pick.size:
        notes.append(
            f"network_candidates = {count} exceeds the {pick.size} nodes of the road "
            f"graph; {pick.size} node candidates were made."
        )
    if not pick.size:
        return empty_candidates(crs), notes
    nodes = ids[pick].tolist()
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"node-{n}" for n in nodes],
            "kind": ["node"] * len(nodes),
            "name": [""] * len(nodes),
            "osm_id": [""] * len(nodes),
            "existing_ports": np.zeros(len(nodes), dtype=np.int64),
        },
        geometry=[Point(x, y) for x, y in xy[pick].tolist()],
        crs=crs,
    )
    return out, notes


def snap_candidates(
    candidates: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph,
    *,
    max_snap_m: float,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Snap candidates to their nearest node, dropping those too far from the network.

    Parameters
    ----------
    candidates
        Candidates (``site_id, kind, name, osm_id, existing_ports, geometry``) in the
        graph's projected CRS.
    graph
        Projected road graph (metres).
    max_snap_m
        Candidates farther than this (m, straight line) from their node are dropped.

    Returns
    -------
    candidates, notes
        :data:`~sim.region.model.CANDIDATE_COLUMNS`; notes on dropped candidates (user
        sites are named one by one).
    """
    crs = graph.graph["crs"]
    if len(candidates) == 0:
        out = empty_candidates(crs).assign(
            node=pd.Series(dtype=np.int64), snap_dist_m=pd.Series(dtype=float)
        )
        return gpd.GeoDataFrame(out[list(CANDIDATE_COLUMNS)], geometry="geometry", crs=crs), []
    xy = np.column_stack([candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()])
    node, dist = snap(graph, xy)
    out = candidates.assign(node=node, snap_dist_m=dist)
    far = dist > max_snap_m
    notes = []
    if far.any():
        dropped = out[far]
        for kind, group in dropped.groupby("kind", sort=True):
            total = int((out["kind"] == kind).sum())
            if kind == "user":
                listed = ", ".join(
                    f"{sid.removeprefix('user-')!r} ({d / 1000:.1f} km)"
                    for sid, d in zip(group["site_id"][:10], group["snap_dist_m"][:10], strict=True)
                )
                more = f" and {len(group) - 10} more" if len(group) > 10 else ""
                notes.append(
                    f"{len(group)} of {count(total, 'user site')} dropped: farther than "
                    f"{max_snap_m:g} m from the road network: {listed}{more}."
                )
            else:
                notes.append(
                    f"{len(group)} of {count(total, kind + ' candidate')} dropped: farther "
                    f"than {max_snap_m:g} m from the road network."
                )
    out = out[~far].reset_index(drop=True)
    out = out.astype({"existing_ports": np.int64, "node": np.int64, "snap_dist_m": float})
    return gpd.GeoDataFrame(out[list(CANDIDATE_COLUMNS)], geometry="geometry", crs=crs), notes
