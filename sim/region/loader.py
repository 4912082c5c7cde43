"""Load a study region: road graph, residential zones, buildings and candidate sites.

Entry point of the region stage.  A region comes from exactly one source:

* ``sample``: ``"kotka"``, the extract bundled with pyrosm (offline);
* ``file``: an ``.osm.pbf`` (pyrosm), ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` (osmnx);
* ``place`` / ``bbox``: downloaded through osmnx and cached (see
  :mod:`sim.region.download`), offline once cached.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from sim.errors import ConfigError, DataError, InputFileNotFoundError, RegionDownloadError
from sim.region import download as dl
from sim.region.candidates import (
    empty_candidates,
    node_candidates,
    osm_candidates,
    snap_candidates,
)
from sim.region.model import Region
from sim.region.network import core_graph, graph_crs, prepare_graph
from sim.region.options import RegionOptions
from sim.region.osm import RawOSM, read_extract, read_pbf
from sim.region.sites_file import read_sites_file
from sim.region.zones import build_zones

#: Bundled samples: name -> pyrosm ``get_data`` key (shipped in the pyrosm wheel).
SAMPLES: Mapping[str, str] = MappingProxyType({"kotka": "test_pbf"})

SourceKind = Literal["sample", "file", "place", "bbox"]
_KINDS = ("sample", "file", "place", "bbox")


@dataclass(frozen=True)
class RegionSource:
    """Where a region comes from.

    Attributes
    ----------
    kind
        ``"sample"``, ``"file"``, ``"place"`` or ``"bbox"``.
    value
        Sample name (``"kotka"``), file path, place name (geocoded by Nominatim), or
        ``(west, south, east, north)`` in degrees of longitude/latitude (EPSG:4326).
    """

    kind: SourceKind
    value: str | tuple[float, float, float, float]

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(
                f"region: unknown source kind {self.kind!r}; expected one of {', '.join(_KINDS)}"
            )
        if self.kind == "bbox":
            object.__setattr__(self, "value", _check_bbox(self.value))
        elif isinstance(self.value, Path):
            object.__setattr__(self, "value", str(self.value))
        elif not isinstance(self.value, str) or not self.value.strip():
            raise ConfigError(
                f"region.{self.kind} = {self.value!r}: expected a non-empty text value"
            )


def _check_bbox(value: object) -> tuple[float, float, float, float]:
    expected = "expected [west, south, east, north] in degrees (EPSG:4326)"
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ConfigError(f"region.bbox = {value!r}: {expected}")
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"region.bbox = {value!r}: {expected}") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ConfigError(f"region.bbox = {value!r}: {expected}")
    if not (-180 <= west < east <= 180):
        raise ConfigError(
            f"region.bbox = {value!r}: west ({west}) must be less than east ({east}), "
            "both within [-180, 180]"
        )
    if not (-90 <= south < north <= 90):
        raise ConfigError(
            f"region.bbox = {value!r}: south ({south}) must be less than north ({north}), "
            "both within [-90, 90]"
        )
    return (west, south, east, north)


def _sample_path(name: str) -> Path:
    key = SAMPLES.get(str(name).strip().lower())
    if key is None:
        raise DataError(
            f"region.sample = {name!r}: unknown sample; valid samples: {', '.join(SAMPLES)}"
        )
    from pyrosm import get_data

    return Path(get_data(key))


def _file_path(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.exists():
        raise InputFileNotFoundError(f"region.file = {value!r}: the file does not exist")
    return path


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


def region_checksum(source: RegionSource, *, cache_dir: Path = Path("maps/cache")) -> str:
    """SHA-256 (hex) of the data a region is read from.

    Parameters
    ----------
    source
        The region source.
    cache_dir
        Cache folder of place/bbox downloads.

    Returns
    -------
    str
        For ``sample`` and ``file``: the digest of the file.  For ``place`` and
        ``bbox``: the digest of the cached GraphML followed by the cached GeoPackage.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    RegionDownloadError
        A place or bbox that has not been downloaded yet (no cache entry).
    """
    if source.kind == "sample":
        return _sha256(_sample_path(str(source.value)))
    if source.kind == "file":
        return _sha256(_file_path(str(source.value)))
    graphml, gpkg, _ = dl.cache_paths(source.kind, source.value, cache_dir)
    if not dl.is_cached(source.kind, source.value, cache_dir):
        raise RegionDownloadError(
            f"{dl.query_text(source.kind, source.value)} has not been downloaded yet "
            f"(no cache entry in {cache_dir}); load the region once while online"
        )
    return _sha256(graphml, gpkg)


def _read(
    source: RegionSource, *, cache_dir: Path, progress: Callable[[str], None]
) -> tuple[RawOSM, str, str, dict[str, Any]]:
    """Raw layers, display name, label for messages and provenance of a source."""
    import osmnx as ox
    import pyrosm

    if source.kind == "sample":
        path = _sample_path(str(source.value))
        label = f"sample {source.value!r} ({path.name})"
        progress(f"reading the {source.value} sample")
        raw = read_pbf(path, label=label)
        name = f"{str(source.value).strip().lower()} sample"
        reader = f"pyrosm {pyrosm.__version__}"
        prov = {"path": str(path), "sha256": _sha256(path), "reader": reader}
    elif source.kind == "file":
        path = _file_path(str(source.value))
        label = str(source.value)
        progress(f"reading {path.name}")
        raw = read_extract(path, label=label)
        name = _stem(path)
        reader = (
            f"pyrosm {pyrosm.__version__}"
            if path.name.lower().endswith((".pbf",))
            else f"osmnx {ox.__version__}"
        )
        prov = {"path": str(path), "sha256": _sha256(path), "reader": reader}
    else:
        label = dl.query_text(source.kind, source.value)
        if dl.is_cached(source.kind, source.value, cache_dir):
            progress(f"reading the cached download of {label}")
            raw = dl.read_cache(source.kind, source.value, cache_dir)
        else:
            raw = dl.download(source.kind, source.value, cache_dir=cache_dir, progress=progress)
        graphml, gpkg, _ = dl.cache_paths(source.kind, source.value, cache_dir)
        name = (
            str(source.value)
            if source.kind == "place"
            else "bbox " + ",".join(f"{v:g}" for v in source.value)
        )
        prov = {
            "path": str(graphml),
            "features_path": str(gpkg),
            "sha256": _sha256(graphml, gpkg),
            "reader": f"osmnx {ox.__version__}",
        }
    value = list(source.value) if source.kind == "bbox" else source.value
    return raw, name, label, {"kind": source.kind, "value": value, **prov}


def load_region(
    source: RegionSource,
    *,
    options: RegionOptions = RegionOptions(),  # noqa: B008 - frozen, immutable default
    cache_dir: Path = Path("maps/cache"),
    progress: Callable[[str], None] | None = None,
) -> Region:
    """Load a region: projected road graph, residential zones, buildings, candidate sites.

    Parameters
    ----------
    source
        Where the data comes from (sample, file, place or bbox).
    options
        Household estimation, candidate kinds, user sites, snapping limit.
    cache_dir
        Cache folder of place/bbox downloads.
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
        sites file (naming the row and column).
    InputFileNotFoundError
        The extract or the sites file does not exist.
    RegionDownloadError
        A place or bbox could not be downloaded and is not cached.
    """
    report = progress if progress is not None else (lambda _message: None)
    started = time.perf_counter()
    user_sites = None
    if options.sites_file is not None:
        report(f"reading sites from {options.sites_file}")
        user_sites = read_sites_file(options.sites_file)

    raw, name, label, provenance = _read(source, cache_dir=cache_dir, progress=report)

    report("preparing the road network (speeds, travel times, projection)")
    graph, core, graph_notes = prepare_graph(raw.graph, label=label)
    crs = graph.graph["crs"]
    core_view = core_graph(graph, core)

    report("estimating residential zones and households")
    zones, buildings, zone_notes = build_zones(
        raw.landuse.to_crs(crs),
        raw.buildings.to_crs(crs),
        core_view,
        params=options.housing,
        max_snap_m=options.max_snap_m,
    )

    report("collecting candidate sites")
    parts, cand_notes = [], []
    osm_sites, notes = osm_candidates(
        raw.pois.to_crs(crs),
        kinds=options.candidate_kinds,
        default_ports=options.default_station_ports,
    )
    parts.append(osm_sites)
    cand_notes += notes
    if user_sites is not None:
        parts.append(user_sites.to_crs(crs))
    if options.network_candidates:
        node_sites, notes = node_candidates(core_view, options.network_candidates)
        parts.append(node_sites)
        cand_notes += notes
    parts = [p for p in parts if len(p)]
    all_sites = (
        gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
        if parts
        else empty_candidates(crs)
    )
    candidates, notes = snap_candidates(all_sites, core_view, max_snap_m=options.max_snap_m)
    cand_notes += notes

    provenance["crs"] = graph_crs(graph)
    provenance["load_seconds"] = round(time.perf_counter() - started, 3)
    return Region(
        name=name,
        graph=graph,
        crs=graph_crs(graph),
        zones=zones,
        buildings=buildings,
        candidates=candidates,
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
