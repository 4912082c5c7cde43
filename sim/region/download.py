"""Download a place or bounding box through osmnx, with a cache that works offline.

A download is stored under ``cache_dir`` as three files named by a hash of the query:
``<kind>-<hash>.graphml`` (the drive network, EPSG:4326, as osmnx returned it),
``<kind>-<hash>.gpkg`` (layers ``landuse``, ``buildings``, ``pois``, EPSG:4326) and
``<kind>-<hash>.json`` (the query, for people browsing the folder).  A later load of
the same query reads these files and never touches the network.  osmnx's own HTTP
cache goes to ``cache_dir / "osmnx-http"``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pyogrio

from sim.errors import DataError, RegionDownloadError
from sim.region.osm import (
    BUILDING_RAW_COLUMNS,
    FEATURE_TAGS,
    LANDUSE_COLUMNS,
    POI_COLUMNS,
    RawOSM,
    empty_layer,
    split_features,
)

_LAYERS = {"landuse": LANDUSE_COLUMNS, "buildings": BUILDING_RAW_COLUMNS, "pois": POI_COLUMNS}


@dataclass(frozen=True)
class Query:
    """A place or bounding-box download: how it is named and which osmnx calls fetch it.

    Build one with :func:`place_query` or :func:`bbox_query`.

    Attributes
    ----------
    kind
        ``"place"`` or ``"bbox"`` (the cache files' prefix).
    text
        Canonical text of the query (``"place Kotka, Finland"``, ``"bbox
        w,s,e,n"`` with 7 decimals): the cache key and how messages name it.
    name
        The region's display name.
    value
        The query as written to the cache's JSON file (place name, or ``[w, s, e, n]``).
    graph
        Downloads the drive network (osmnx ``graph_from_*``, EPSG:4326).
    features
        Downloads the features with the given tags (osmnx ``features_from_*``).
    """

    kind: str
    text: str
    name: str
    value: str | list[float]
    graph: Callable[[], nx.MultiDiGraph]
    features: Callable[[dict[str, Any]], gpd.GeoDataFrame]


def place_query(place: str, /) -> Query:
    """The download of a place name geocoded by Nominatim (osmnx ``*_from_place``)."""

    def graph() -> nx.MultiDiGraph:
        import osmnx as ox

        return ox.graph_from_place(place, network_type="drive", retain_all=True)

    def features(tags: dict[str, Any]) -> gpd.GeoDataFrame:
        import osmnx as ox

        return ox.features_from_place(place, tags=tags)

    text = f"place {' '.join(place.split())}"
    return Query(kind="place", text=text, name=place, value=place, graph=graph, features=features)


def bbox_query(bounds: tuple[float, float, float, float], /) -> Query:
    """The download of ``(west, south, east, north)`` in degrees (osmnx ``*_from_bbox``)."""
    west, south, east, north = (float(v) for v in bounds)

    def graph() -> nx.MultiDiGraph:
        import osmnx as ox

        return ox.graph_from_bbox(bounds, network_type="drive", retain_all=True)

    def features(tags: dict[str, Any]) -> gpd.GeoDataFrame:
        import osmnx as ox

        return ox.features_from_bbox(bounds, tags=tags)

    return Query(
        kind="bbox",
        text=f"bbox {west:.7f},{south:.7f},{east:.7f},{north:.7f}",
        name="bbox " + ",".join(f"{v:g}" for v in bounds),
        value=list(bounds),
        graph=graph,
        features=features,
    )


def cache_paths(query: Query, cache_dir: Path) -> tuple[Path, Path, Path]:
    """GraphML, GeoPackage and JSON paths of a query's cache entry.

    Parameters
    ----------
    query
        The place or bbox query.
    cache_dir
        The cache folder.

    Returns
    -------
    graphml, gpkg, json
        The three paths (they may not exist).
    """
    key = hashlib.sha256(query.text.encode("utf-8")).hexdigest()[:16]
    stem = cache_dir / f"{query.kind}-{key}"
    return stem.with_suffix(".graphml"), stem.with_suffix(".gpkg"), stem.with_suffix(".json")


def is_cached(query: Query, cache_dir: Path) -> bool:
    """Whether a complete cache entry exists for the query."""
    graphml, gpkg, _ = cache_paths(query, cache_dir)
    return graphml.is_file() and gpkg.is_file()


def write_cache(raw: RawOSM, query: Query, cache_dir: Path) -> None:
    """Store a downloaded region (graph in EPSG:4326 and feature layers) in the cache.

    Files are written under temporary names and renamed, so an interrupted write never
    leaves a cache entry that looks complete.
    """
    import osmnx as ox

    graphml, gpkg, meta = cache_paths(query, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp_graph = graphml.with_name(graphml.name + ".part")
    tmp_gpkg = gpkg.with_name(gpkg.stem + ".part.gpkg")
    tmp_gpkg.unlink(missing_ok=True)
    try:
        ox.save_graphml(raw.graph, tmp_graph)
        layers = {"landuse": raw.landuse, "buildings": raw.buildings, "pois": raw.pois}
        for layer, frame in layers.items():
            if len(frame):
                frame.to_crs("EPSG:4326").to_file(tmp_gpkg, layer=layer, driver="GPKG")
        if not tmp_gpkg.exists():  # no features at all: an empty layer keeps the file valid
            empty_layer(LANDUSE_COLUMNS).to_file(tmp_gpkg, layer="landuse", driver="GPKG")
        os.replace(tmp_graph, graphml)
        os.replace(tmp_gpkg, gpkg)
    finally:
        tmp_graph.unlink(missing_ok=True)
        tmp_gpkg.unlink(missing_ok=True)
    info = {
        "query": query.text,
        "kind": query.kind,
        "value": query.value,
        "downloaded_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "osmnx": ox.__version__,
    }
    meta.write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read_cache(query: Query, cache_dir: Path) -> RawOSM:
    """Read a cache entry written by :func:`write_cache`.

    Raises
    ------
    DataError
        The cache files exist but cannot be read (delete them to download again).
    """
    import osmnx as ox

    graphml, gpkg, _ = cache_paths(query, cache_dir)
    try:
        graph = ox.load_graphml(graphml)
        present = set(pyogrio.list_layers(gpkg)[:, 0])
        layers = {
            name: (
                gpd.read_file(gpkg, layer=name).to_crs("EPSG:4326")
                if name in present
                else empty_layer(columns)
            )
            for name, columns in _LAYERS.items()
        }
    except Exception as exc:  # networkx/lxml/pyogrio errors on a damaged file
        raise DataError(
            f"the cached download {graphml.name} / {gpkg.name} in {cache_dir} cannot be "
            f"read ({exc}); delete these files to download the region again"
        ) from exc
    for name, columns in _LAYERS.items():
        frame = layers[name]
        for col in columns:
            if col not in frame.columns:
                frame[col] = None
        frame = frame[list(columns)]
        layers[name] = frame.astype({c: object for c in columns if c != "geometry"})
    return RawOSM(
        graph=graph, landuse=layers["landuse"], buildings=layers["buildings"], pois=layers["pois"]
    )


def download(query: Query, *, cache_dir: Path, progress: Callable[[str], None]) -> RawOSM:
    """Download a place or bbox with osmnx (drive network and features) and cache it.

    Parameters
    ----------
    query
        The place (a name Nominatim can geocode) or bbox.
    cache_dir
        Cache folder; created if needed.
    progress
        Called with a short message before each download step.

    Returns
    -------
    RawOSM
        Layers in EPSG:4326.

    Raises
    ------
    RegionDownloadError
        The download failed (offline, unknown place, server error).
    """
    import osmnx as ox

    what = query.text
    saved = (ox.settings.cache_folder, ox.settings.use_cache)
    ox.settings.cache_folder = str(cache_dir / "osmnx-http")
    ox.settings.use_cache = True
    try:
        progress(f"downloading the road network for {what} (osmnx)")
        graph = query.graph()
        progress(f"downloading residential areas, buildings and sites for {what}")
        try:
            features = query.features(FEATURE_TAGS)
        except ox._errors.InsufficientResponseError:
            features = None  # the area has none of the features: empty layers
    except Exception as exc:  # requests/osmnx errors: offline, unknown place, HTTP status
        raise RegionDownloadError(
            f"could not download {what}: {exc}. If this machine is offline, download an "
            "OpenStreetMap extract elsewhere (an .osm.pbf from download.geofabrik.de or "
            "an .osm export from openstreetmap.org) and use `region: file: PATH`; a place "
            f"or bbox loaded once online is cached in {cache_dir} and then loads offline."
        ) from exc
    finally:
        ox.settings.cache_folder, ox.settings.use_cache = saved
    landuse, buildings, pois = split_features(features)
    raw = RawOSM(graph=graph, landuse=landuse, buildings=buildings, pois=pois)
    write_cache(raw, query, cache_dir)
    return raw
