"""Read a region from OpenStreetMap data: road graph, residential zones, buildings, sites.

Each OSM source has a reader that gives the same :class:`OsmInput` (raw layers, names,
provenance): :func:`read_sample` (the extract bundled with pyrosm, offline),
:func:`read_file` (``.osm.pbf`` through pyrosm, ``.osm`` / ``.osm.bz2`` / ``.osm.gz``
through osmnx) and :func:`read_download` (a place or bbox through osmnx, cached, see
:mod:`sim.region.download`).  :func:`region_from_osm` turns any of them into a
:class:`Region`, as every osmnx ``graph_from_*`` reduces to one core function.  Which
reader a scenario uses is decided once, in :mod:`sim.region.build`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd

from sim.config.schema import CandidatesConfig, HousingConfig
from sim.errors import DataError, InputFileNotFoundError
from sim.region import download as dl
from sim.region.candidates import (
    empty_candidates,
    node_candidates,
    osm_candidates,
    snap_candidates,
)
from sim.region.extent import Extent
from sim.region.model import Region
from sim.region.network import core_graph, graph_crs, prepare_graph
from sim.region.osm import RawOSM, read_extract, read_pbf
from sim.region.sites_file import check_sites_within, read_sites_file
from sim.region.zones import build_zones

__all__ = [
    "SAMPLES",
    "OsmInput",
    "describe_region",
    "read_download",
    "read_file",
    "read_sample",
    "region_from_osm",
]

#: Bundled samples: name -> pyrosm ``get_data`` key (shipped in the pyrosm wheel).
SAMPLES: Mapping[str, str] = MappingProxyType({"kotka": "test_pbf"})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class OsmInput:
    """What a reader of an OSM source gives, before projection and household estimation.

    Attributes
    ----------
    raw
        The layers in EPSG:4326.
    name
        The region's display name (``"kotka sample"``, a file's stem, a place name).
    label
        How messages name the data (a file path, ``"place ..."``).
    provenance
        ``kind``, ``value``, ``path``, ``sha256`` (hex digest of the data read),
        ``reader`` and, for downloads, ``features_path``.
    """

    raw: RawOSM
    name: str
    label: str
    provenance: dict[str, Any]


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf", ".xml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_sample(name: str, /, *, progress: Progress) -> OsmInput:
    """Read a bundled sample (``region.sample``), offline.

    Raises
    ------
    DataError
        ``name`` is not one of :data:`SAMPLES`.
    """
    key = SAMPLES.get(str(name).strip().lower())
    if key is None:
        raise DataError(
            f"region.sample = {name!r}: unknown sample; valid samples: {', '.join(SAMPLES)}"
        )
    import pyrosm

    path = Path(pyrosm.get_data(key))
    label = f"sample {name!r} ({path.name})"
    progress(f"reading the {name} sample")
    raw = read_pbf(path, label=label)
    provenance = {
        "kind": "sample",
        "value": name,
        "path": str(path),
        "sha256": _sha256(path),
        "reader": f"pyrosm {pyrosm.__version__}",
    }
    display = f"{str(name).strip().lower()} sample"
    return OsmInput(raw=raw, name=display, label=label, provenance=provenance)


def read_file(path: Path, /, *, progress: Progress) -> OsmInput:
    """Read a local extract (``region.file``): ``.osm.pbf`` through pyrosm, XML through osmnx.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    DataError
        Unsupported, unreadable or empty file; no drivable roads.
    """
    label = str(path)
    path = Path(path).expanduser()
    if not path.exists():
        raise InputFileNotFoundError(f"region.file = {label!r}: the file does not exist")
    progress(f"reading {path.name}")
    raw = read_extract(path, label=label)
    if path.name.lower().endswith(".pbf"):
        import pyrosm

        reader = f"pyrosm {pyrosm.__version__}"
    else:
        import osmnx as ox

        reader = f"osmnx {ox.__version__}"
    provenance = {
        "kind": "file",
        "value": label,
        "path": str(path),
        "sha256": _sha256(path),
        "reader": reader,
    }
    return OsmInput(raw=raw, name=_stem(path), label=label, provenance=provenance)


def read_download(query: dl.Query, /, *, cache_dir: Path, progress: Progress) -> OsmInput:
    """Read a place or bbox (``region.place`` / ``region.bbox``): the cache, else osmnx.

    Raises
    ------
    RegionDownloadError
        Not cached and the download failed (offline, unknown place).
    DataError
        A damaged cache entry.
    """
    import osmnx as ox

    if dl.is_cached(query, cache_dir):
        progress(f"reading the cached download of {query.text}")
        raw = dl.read_cache(query, cache_dir)
    else:
        raw = dl.download(query, cache_dir=cache_dir, progress=progress)
    graphml, gpkg, _ = dl.cache_paths(query, cache_dir)
    provenance = {
        "kind": query.kind,
        "value": query.value,
        "path": str(graphml),
        "features_path": str(gpkg),
        "sha256": _sha256(graphml, gpkg),
        "reader": f"osmnx {ox.__version__}",
    }
    return OsmInput(raw=raw, name=query.name, label=query.text, provenance=provenance)


def _candidates(
    raw: RawOSM,
    core_view: nx.MultiDiGraph,
    user_sites: gpd.GeoDataFrame | None,
    *,
    crs: object,
    candidates: CandidatesConfig,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """OSM, user and network candidates, snapped to the core graph's nodes (``crs``: the
    projected graph's, metres)."""
    parts, notes = [], []
    osm_sites, osm_notes = osm_candidates(
        raw.pois.to_crs(crs),
        kinds=candidates.kinds,
        default_ports=candidates.existing_ports_default,
    )
    parts.append(osm_sites)
    notes += osm_notes
    if user_sites is not None:
        parts.append(user_sites.drop(columns="where").to_crs(crs))
    if candidates.network_nodes:
        node_sites, node_notes = node_candidates(core_view, candidates.network_nodes)
        parts.append(node_sites)
        notes += node_notes
    parts = [p for p in parts if len(p)]
    all_sites = (
        gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
        if parts
        else empty_candidates(crs)
    )
    snapped, snap_notes = snap_candidates(all_sites, core_view, max_snap_m=candidates.max_snap_m)
    return snapped, notes + snap_notes


def region_from_osm(
    read: Callable[[Progress], OsmInput],
    /,
    *,
    housing: HousingConfig,
    candidates: CandidatesConfig,
    progress: Progress | None = None,
) -> Region:
    """Build a region from an OSM source: the one core of every OSM reader.

    Parameters
    ----------
    read
        Reads the source (one of :func:`read_sample`, :func:`read_file`,
        :func:`read_download` with its arguments bound), called with ``progress``.
    housing
        ``region.housing``: how households are estimated.
    candidates
        The ``candidates`` section: OSM kinds, the user's sites file (read first, so
        that a bad file fails before the map is read), network candidates, snapping.
    progress
        Called with a short message at each step (for a progress display).

    Returns
    -------
    Region
        Graph reduced to its largest weakly connected component (homes and sites on
        its strongly connected core, ``Region.core_nodes``), projected to the
        local UTM zone (metres; ``Region.crs``); edges carry ``length`` (m),
        ``speed_kph``, ``travel_time`` (s) and ``highway``.  Zones, buildings and
        candidates are GeoDataFrames in the same CRS, each row snapped to its nearest
        graph node (``node``, ``snap_dist_m`` in m).  ``notes`` say what was inferred.

    Raises
    ------
    DataError
        Unknown sample; unreadable, empty or non-OSM file; no drivable roads; a bad
        sites file (naming the row and column), or one with sites outside the region
        (:mod:`sim.region.extent`).
    InputFileNotFoundError
        The extract or the sites file does not exist.
    RegionDownloadError
        A place or bbox could not be downloaded and is not cached.
    """
    report = progress if progress is not None else (lambda _message: None)
    started = time.perf_counter()
    user_sites = None
    if candidates.file is not None:
        report(f"reading sites from {candidates.file}")
        user_sites = read_sites_file(candidates.file)

    osm = read(report)
    raw = osm.raw

    report("preparing the road network (speeds, travel times, projection)")
    graph, core, graph_notes = prepare_graph(raw.graph, label=osm.label)
    crs = graph.graph["crs"]
    core_view = core_graph(graph, core)
    if user_sites is not None and candidates.file is not None:
        check_sites_within(
            user_sites, candidates.file, Extent.of(graph, margin_m=candidates.max_snap_m)
        )

    report("estimating residential zones and households")
    zones, buildings, zone_notes = build_zones(
        raw.landuse.to_crs(crs),
        raw.buildings.to_crs(crs),
        core_view,
        housing=housing,
        max_snap_m=candidates.max_snap_m,
    )

    report("collecting candidate sites")
    sites, cand_notes = _candidates(raw, core_view, user_sites, crs=crs, candidates=candidates)

    provenance = dict(osm.provenance)
    provenance["crs"] = graph_crs(graph)
    provenance["load_seconds"] = round(time.perf_counter() - started, 3)
    return Region(
        name=osm.name,
        road_graph=graph,
        crs=graph_crs(graph),
        zones=zones,
        buildings=buildings,
        candidates=sites,
        notes=tuple(raw.notes + graph_notes + zone_notes + cand_notes),
        provenance=provenance,
        core_nodes=core,
    )


def describe_region(region: Region) -> dict[str, object]:
    """Counts a user checks with ``chargesite validate``.

    Parameters
    ----------
    region
        A loaded region.

    Returns
    -------
    dict
        ``name``, ``crs``, ``nodes``, ``edges``, ``motorway_km`` (km of directed
        ``highway=motorway`` edges, i.e. carriageway length), ``zones`` (count by
        source), ``households`` / ``households_apartment`` / ``households_house``
        (rounded), ``buildings``, ``candidates`` (count by kind) and ``notes``; plain
        JSON-serialisable values.
    """
    graph = region.graph
    motorway_m = sum(
        float(d.get("length", 0.0))
        for _, _, d in graph.edges(data=True)
        if d.get("highway") == "motorway"
    )
    zones = region.zones
    return {
        "name": region.name,
        "crs": region.crs,
        "nodes": graph.number_of_nodes(),
        "core_nodes": int(region.core_nodes.size)
        if region.core_nodes is not None
        else region.graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "motorway_km": round(motorway_m / 1000.0, 2),
        "zones": {str(k): int(v) for k, v in zones["source"].value_counts().sort_index().items()},
        "households": round(float(zones["households"].sum()), 1),
        "households_apartment": round(float(zones["households_apartment"].sum()), 1),
        "households_house": round(float(zones["households_house"].sum()), 1),
        "buildings": len(region.buildings),
        "candidates": {
            str(k): int(v) for k, v in region.candidates["kind"].value_counts().sort_index().items()
        },
        "notes": list(region.notes),
    }
