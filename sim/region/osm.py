"""Read OpenStreetMap extracts into plain layers: road graph, residential areas, buildings, POIs.

Two readers share one output, :class:`RawOSM` (everything in EPSG:4326, lon/lat degrees):

* ``.osm.pbf`` through pyrosm (driving network, ``landuse=residential``, buildings, POIs);
* ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` XML through osmnx, after a cleaning pass: osmnx's
  ``graph_from_xml`` keeps every way of the file (buildings and footways included) and
  bounding-box exports reference nodes and relation members that are not in the file.
  The cleaning pass writes two small temporary files, one with the drivable ways only
  (osmnx ``drive`` filter semantics) and one with the features we use, with ways
  trimmed to the nodes present and missing relation members dropped.

The downloaded (place / bbox) path in :mod:`sim.region.download` produces the same
:class:`RawOSM` from osmnx features.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import networkx as nx
import pandas as pd

from sim.config.schema import OSM_CANDIDATE_KINDS
from sim.errors import DataError
from sim.region._text import count

log = logging.getLogger(__name__)

#: Suffixes of the OSM files we can read.
PBF_SUFFIXES = (".osm.pbf", ".pbf")
XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml")

#: Columns of the normalised layers (all EPSG:4326).
LANDUSE_COLUMNS = ("osm_id", "name", "geometry")
BUILDING_RAW_COLUMNS = ("osm_id", "building", "levels", "geometry")
POI_COLUMNS = ("osm_id", "name", "amenity", "highway", "capacity", "geometry")

#: OSM tags requested from osmnx ``features_*`` functions.
FEATURE_TAGS: dict[str, bool | str | list[str]] = {
    "landuse": "residential",
    "building": True,
    "amenity": ["parking", "fuel", "charging_station"],
    "highway": ["services", "rest_area"],
}

_AMENITY_KINDS = frozenset(k for k in OSM_CANDIDATE_KINDS if k not in ("services", "rest_area"))
_HIGHWAY_KINDS = frozenset(("services", "rest_area"))

# osmnx's "drive" network filter (osmnx._overpass._get_network_filter), written out as
# OSM values; pyrosm's "driving" filter is the same, plus busway/ladder/trail.
_NOT_DRIVABLE_HIGHWAY = frozenset(
    (
        "abandoned",
        "bridleway",
        "bus_guideway",
        "busway",
        "construction",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "footway",
        "ladder",
        "no",
        "path",
        "pedestrian",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "service",
        "services",
        "steps",
        "track",
        "trail",
    )
)
_NOT_DRIVABLE_SERVICE = frozenset(
    ("alley", "driveway", "emergency_access", "parking", "parking_aisle", "private")
)


@dataclass
class RawOSM:
    """An extract read into plain layers, before projection and household estimation.

    Attributes
    ----------
    graph
        Drivable road network, osmnx-compatible ``MultiDiGraph`` in EPSG:4326 with
        ``length`` (m) on every edge; not yet reduced to one component.
    landuse
        ``landuse=residential`` polygons, :data:`LANDUSE_COLUMNS`, EPSG:4326.
    buildings
        Building outlines (any ``building`` tag), :data:`BUILDING_RAW_COLUMNS`;
        ``levels`` is the raw ``building:levels`` text or ``None``.
    pois
        Candidate POIs (``amenity`` parking/fuel/charging_station, ``highway``
        services/rest_area), :data:`POI_COLUMNS`; ``capacity`` is the raw tag text.
    notes
        What the reader had to fix in the file, in plain words.
    """

    graph: nx.MultiDiGraph
    landuse: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)


def empty_layer(columns: Iterable[str]) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame with ``columns`` in EPSG:4326."""
    cols = [c for c in columns if c != "geometry"]
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in cols},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
        crs="EPSG:4326",
    )


def is_drivable(tags: dict[str, str]) -> bool:
    """Whether a way with these OSM tags belongs to osmnx's ``drive`` network.

    Parameters
    ----------
    tags
        The way's tags.

    Returns
    -------
    bool
        True for public drivable streets (``highway`` present and not a footway,
        service road, track, ...; not ``area=yes``; not private; not closed to cars).
    """
    highway = tags.get("highway")
    if not highway:
        return False

    def has(key: str, values: Iterable[str]) -> bool:
        raw = tags.get(key)
        if raw is None:
            return False
        parts = {p.strip() for p in raw.split(";")}
        return bool(parts & set(values))

    return not (
        has("highway", _NOT_DRIVABLE_HIGHWAY)
        or has("area", ("yes",))
        or "private" in tags.get("access", "")
        or has("motor_vehicle", ("no",))
        or has("motorcar", ("no",))
        or has("service", _NOT_DRIVABLE_SERVICE)
    )


def _is_feature(tags: dict[str, str]) -> bool:
    return (
        tags.get("landuse") == "residential"
        or "building" in tags
        or tags.get("amenity") in _AMENITY_KINDS
        or tags.get("highway") in _HIGHWAY_KINDS
    )


def _osm_letter(element: str) -> str:
    return {"node": "n", "way": "w", "relation": "r"}.get(str(element), str(element)[:1])


# --------------------------------------------------------------------------- pbf


def read_pbf(path: Path, *, label: str) -> RawOSM:
    """Read an ``.osm.pbf`` extract with pyrosm.

    Parameters
    ----------
    path
        The extract.
    label
        How to name the file in error messages.

    Returns
    -------
    RawOSM
        Layers in EPSG:4326.

    Raises
    ------
    DataError
        The file is not a readable OSM PBF file or holds no drivable roads.
    """
    from pyrosm import OSM

    try:
        osm = OSM(str(path))
        network = osm.get_network(network_type="driving", nodes=True)
        if network is None or network[1] is None or len(network[1]) == 0:
            raise DataError(f"{label}: the extract holds no drivable roads")
        nodes, edges = network
        graph = osm.to_graph(
            nodes, edges, graph_type="networkx", osmnx_compatible=True, retain_all=True
        )
        with warnings.catch_warnings():
            # pyrosm warns "Could not find any ..." for an empty layer; we handle None.
            warnings.simplefilter("ignore", UserWarning)
            landuse = osm.get_landuse(custom_filter={"landuse": ["residential"]})
            buildings = osm.get_buildings()
            pois = osm.get_pois(
                custom_filter={
                    "amenity": sorted(_AMENITY_KINDS),
                    "highway": sorted(_HIGHWAY_KINDS),
                }
            )
    except DataError:
        raise
    except Exception as exc:  # pyrosm/protobuf raise many kinds for a corrupt file
        raise DataError(f"{label}: cannot read the file as OSM PBF ({_short(exc)})") from exc

    _clean_pyrosm_graph(graph)
    return RawOSM(
        graph=graph,
        landuse=_pyrosm_layer(landuse, LANDUSE_COLUMNS),
        buildings=_pyrosm_layer(buildings, BUILDING_RAW_COLUMNS),
        pois=_pyrosm_layer(pois, POI_COLUMNS),
    )


_KEEP_NODE_ATTRS = frozenset(("x", "y", "street_count", "highway", "ref"))
_KEEP_EDGE_ATTRS = frozenset(
    (
        "osmid",
        "highway",
        "name",
        "ref",
        "maxspeed",
        "lanes",
        "oneway",
        "reversed",
        "length",
        "geometry",
        "bridge",
        "tunnel",
        "junction",
        "access",
        "service",
    )
)


def _clean_pyrosm_graph(graph: nx.MultiDiGraph) -> None:
    """Drop pyrosm's bookkeeping attributes (tags JSON, timestamps, node geometries)."""
    for _, data in graph.nodes(data=True):
        for key in [k for k in data if k not in _KEEP_NODE_ATTRS]:
            del data[key]
    for _, _, data in graph.edges(data=True):
        for key in [k for k in data if k not in _KEEP_EDGE_ATTRS]:
            del data[key]
        for key in [k for k, v in data.items() if _isna(v)]:
            del data[key]


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _tag_column(df: pd.DataFrame, key: str) -> list[str | None]:
    """A tag as strings/None, from its own column or else pyrosm's ``tags`` JSON column."""
    n = len(df)
    values: list[object] = list(df[key]) if key in df.columns else [None] * n
    extra: list[object] = list(df["tags"]) if "tags" in df.columns else [None] * n
    out: list[str | None] = []
    for value, raw in zip(values, extra, strict=True):
        if value is None or _isna(value):
            value = None
            if isinstance(raw, str) and f'"{key}"' in raw:
                try:
                    tags = json.loads(raw)
                except ValueError:
                    tags = None
                if isinstance(tags, dict) and tags.get(key) is not None:
                    value = tags[key]
        out.append(None if value is None else str(value))
    return out


def _pyrosm_layer(df: gpd.GeoDataFrame | None, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    if df is None or len(df) == 0:
        return empty_layer(columns)
    df = df[df.geometry.notna() & ~df.geometry.is_empty]
    data: dict[str, Any] = {
        "osm_id": [
            f"{_osm_letter(t)}{int(i)}" for t, i in zip(df["osm_type"], df["id"], strict=True)
        ]
    }
    for col in columns:
        if col in ("osm_id", "geometry"):
            continue
        key = "building:levels" if col == "levels" else col
        data[col] = _tag_column(df, key)
    out = gpd.GeoDataFrame(data, geometry=df.geometry.to_numpy(), crs="EPSG:4326")
    return out.drop_duplicates("osm_id").reset_index(drop=True)


# --------------------------------------------------------------------------- xml


@dataclass
class _XmlDoc:
    nodes: dict[int, tuple[str, str, dict[str, str]]] = field(default_factory=dict)
    ways: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = field(
        default_factory=dict
    )


@contextmanager
def _open_xml(path: Path) -> Iterator[IO[bytes] | gzip.GzipFile | bz2.BZ2File]:
    name = path.name.lower()
    if name.endswith(".bz2"):
        with bz2.open(path, "rb") as fh:
            yield fh
    elif name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            yield fh
    else:
        with path.open("rb") as fh:
            yield fh


def _parse_xml(path: Path, *, label: str) -> _XmlDoc:
    doc = _XmlDoc()
    root: ET.Element | None = None
    try:
        with _open_xml(path) as fh:
            context = ET.iterparse(fh, events=("start", "end"))
            for event, elem in context:
                if root is None:
                    root = elem
                    if elem.tag != "osm":
                        raise DataError(
                            f"{label}: not an OSM XML file (the root element is "
                            f"<{elem.tag}>, expected <osm>)"
                        )
                    continue
                if event != "end" or elem.tag not in ("node", "way", "relation"):
                    continue
                _store(doc, elem)
                elem.clear()
                root.clear()
    except DataError:
        raise
    except ET.ParseError as exc:
        if "no element found" in str(exc):
            if root is None:
                raise DataError(f"{label}: the file is empty or not XML ({exc})") from exc
            raise DataError(
                f"{label}: not valid OSM XML: the file ends before </osm> (cut short?)"
            ) from exc
        raise DataError(f"{label}: not valid OSM XML ({exc})") from exc
    except (OSError, EOFError, UnicodeError, ValueError) as exc:
        raise DataError(f"{label}: cannot read the file ({_short(exc)})") from exc
    if not doc.nodes:
        raise DataError(f"{label}: the file holds no OSM nodes")
    return doc


def _store(doc: _XmlDoc, elem: ET.Element) -> None:
    attrs = elem.attrib
    if attrs.get("visible") == "false" or attrs.get("action") == "delete":
        return
    try:
        osm_id = int(attrs["id"])
    except (KeyError, ValueError):
        return
    tags = {t.attrib["k"]: t.attrib.get("v", "") for t in elem.iter("tag") if "k" in t.attrib}
    if elem.tag == "node":
        lat, lon = attrs.get("lat"), attrs.get("lon")
        if lat is None or lon is None:
            return
        try:
            if not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
                return
        except ValueError:
            return
        doc.nodes[osm_id] = (lat, lon, tags)
    elif elem.tag == "way":
        refs = []
        for nd in elem.iter("nd"):
            try:
                refs.append(int(nd.attrib["ref"]))
            except (KeyError, ValueError):
                continue
        doc.ways[osm_id] = (refs, tags)
    else:
        members = []
        for m in elem.iter("member"):
            try:
                members.append((m.attrib["type"], int(m.attrib["ref"]), m.attrib.get("role", "")))
            except (KeyError, ValueError):
                continue
        doc.relations[osm_id] = (members, tags)


def _trim_ways(doc: _XmlDoc) -> int:
    """Trim every way to its longest run of nodes present in the file; count the trimmed."""
    trimmed = 0
    for way_id in list(doc.ways):
        refs, tags = doc.ways[way_id]
        if all(r in doc.nodes for r in refs):
            if len(refs) < 2:
                del doc.ways[way_id]
            continue
        trimmed += 1
        best: list[int] = []
        run: list[int] = []
        for ref in refs:
            if ref in doc.nodes:
                run.append(ref)
                if len(run) > len(best):
                    best = list(run)
            else:
                run = []
        if len(best) >= 2:
            doc.ways[way_id] = (best, tags)
        else:
            del doc.ways[way_id]
    return trimmed


def _tag_xml(tags: dict[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())


def _write_xml(
    path: Path,
    doc: _XmlDoc,
    *,
    node_ids: Iterable[int],
    way_ids: Iterable[int],
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] | None = None,
) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="chargesite region cleaner">\n')
        for nid in sorted(node_ids):
            lat, lon, tags = doc.nodes[nid]
            fh.write(f'<node id="{nid}" lat={quoteattr(lat)} lon={quoteattr(lon)}>')
            fh.write(_tag_xml(tags))
            fh.write("</node>\n")
        for wid in sorted(way_ids):
            refs, tags = doc.ways[wid]
            fh.write(f'<way id="{wid}">')
            fh.write("".join(f'<nd ref="{r}"/>' for r in refs))
            fh.write(_tag_xml(tags))
            fh.write("</way>\n")
        for rid, (members, tags) in sorted((relations or {}).items()):
            fh.write(f'<relation id="{rid}">')
            fh.write(
                "".join(
                    f"<member type={quoteattr(t)} ref={quoteattr(str(r))} role={quoteattr(role)}/>"
                    for t, r, role in members
                )
            )
            fh.write(_tag_xml(tags))
            fh.write("</relation>\n")
        fh.write("</osm>\n")


def read_xml(path: Path, *, label: str) -> RawOSM:
    """Read an OSM XML extract (``.osm``, ``.osm.bz2``, ``.osm.gz``) with osmnx.

    The file is cleaned first (see the module docstring) so that bounding-box exports
    and files with footways, buildings and area outlines give a clean drive network.

    Parameters
    ----------
    path
        The extract.
    label
        How to name the file in error messages.

    Returns
    -------
    RawOSM
        Layers in EPSG:4326, with notes on what was trimmed.

    Raises
    ------
    DataError
        The file is not OSM XML, is empty, or holds no drivable roads.
    """
    import osmnx as ox

    doc = _parse_xml(path, label=label)
    notes: list[str] = []
    trimmed = _trim_ways(doc)
    if trimmed:
        notes.append(
            f"{label}: {count(trimmed, 'way')} referenced nodes missing from the file "
            "(a bounding-box export) and were cut to the nodes present."
        )

    present: dict[str, Container[int]] = {
        "node": doc.nodes,
        "way": doc.ways,
        "relation": doc.relations,
    }
    missing_members = 0
    relations: dict[int, tuple[list[tuple[str, int, str]], dict[str, str]]] = {}
    for rid, (members, tags) in doc.relations.items():
        kept = [m for m in members if m[1] in present.get(m[0], ())]
        missing_members += len(members) - len(kept)
        if kept and tags.get("type") == "multipolygon" and _is_feature(tags):
            relations[rid] = (kept, tags)
    if missing_members:
        notes.append(
            f"{label}: {count(missing_members, 'relation member')} not in the file "
            "(normal for a bounding-box export) ignored; areas left incomplete by them "
            "were skipped."
        )

    drive_ways = [wid for wid, (_, tags) in doc.ways.items() if is_drivable(tags)]
    if not drive_ways:
        raise DataError(f"{label}: the extract holds no drivable roads")
    drive_nodes = {r for wid in drive_ways for r in doc.ways[wid][0]}

    feature_ways = {wid for wid, (_, tags) in doc.ways.items() if _is_feature(tags)}
    feature_ways |= {r for members, _ in relations.values() for t, r, _ in members if t == "way"}
    feature_nodes = {nid for nid, (_, _, tags) in doc.nodes.items() if _is_feature(tags)}
    feature_nodes |= {r for wid in feature_ways for r in doc.ways[wid][0]}

    with tempfile.TemporaryDirectory(prefix="chargesite-osm-") as tmp:
        roads_file = Path(tmp) / "roads.osm"
        _write_xml(roads_file, doc, node_ids=drive_nodes, way_ids=drive_ways)
        features_file = Path(tmp) / "features.osm"
        _write_xml(
            features_file,
            doc,
            node_ids=feature_nodes,
            way_ids=feature_ways,
            relations=relations,
        )
        del doc
        try:
            graph = ox.graph_from_xml(roads_file, retain_all=True, simplify=True)
        except Exception as exc:  # osmnx raises several kinds on degenerate input
            raise DataError(f"{label}: cannot build a road network ({_short(exc)})") from exc
        features = _features_from_xml(features_file, label=label)

    landuse, buildings, pois = split_features(features)
    return RawOSM(graph=graph, landuse=landuse, buildings=buildings, pois=pois, notes=notes)


def _features_from_xml(path: Path, *, label: str) -> gpd.GeoDataFrame | None:
    import osmnx as ox

    try:
        return ox.features_from_xml(path, tags=FEATURE_TAGS)
    except ox._errors.InsufficientResponseError:
        return None  # no matching features: empty layers
    except Exception as exc:
        raise DataError(f"{label}: cannot read map features ({_short(exc)})") from exc


def split_features(
    features: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split an osmnx features GeoDataFrame into landuse, building and POI layers.

    Parameters
    ----------
    features
        Result of ``osmnx.features_from_*`` (index ``(element, id)``, EPSG:4326), or
        None when there were no features.

    Returns
    -------
    landuse, buildings, pois
        Layers with :data:`LANDUSE_COLUMNS`, :data:`BUILDING_RAW_COLUMNS` and
        :data:`POI_COLUMNS`, EPSG:4326.
    """
    if features is None or len(features) == 0:
        return (
            empty_layer(LANDUSE_COLUMNS),
            empty_layer(BUILDING_RAW_COLUMNS),
            empty_layer(POI_COLUMNS),
        )
    df = features.reset_index()
    df = df[df.geometry.notna() & ~df.geometry.is_empty]
    osm_id = [f"{_osm_letter(e)}{int(i)}" for e, i in zip(df["element"], df["id"], strict=True)]

    def col(key: str) -> pd.Series:
        if key not in df.columns:
            return pd.Series([None] * len(df), index=df.index, dtype=object)
        return df[key].map(lambda v: None if _isna(v) else str(v))

    def layer(mask: pd.Series, columns: dict[str, pd.Series]) -> gpd.GeoDataFrame:
        data = {"osm_id": pd.Series(osm_id, index=df.index)[mask].to_numpy()}
        data.update({k: v[mask].to_numpy() for k, v in columns.items()})
        out = gpd.GeoDataFrame(data, geometry=df.geometry[mask].to_numpy(), crs="EPSG:4326")
        return out.reset_index(drop=True)

    landuse_tag, building_tag = col("landuse"), col("building")
    amenity, highway = col("amenity"), col("highway")
    polygonal = df.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    landuse = layer(polygonal & (landuse_tag == "residential"), {"name": col("name")})
    buildings = layer(
        polygonal & building_tag.notna() & (building_tag != "no"),
        {"building": building_tag, "levels": col("building:levels")},
    )
    poi_mask = amenity.isin(_AMENITY_KINDS) | highway.isin(_HIGHWAY_KINDS)
    pois = layer(
        poi_mask,
        {"name": col("name"), "amenity": amenity, "highway": highway, "capacity": col("capacity")},
    )
    return landuse, buildings, pois


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_extract(path: Path, *, label: str) -> RawOSM:
    """Read an OSM extract chosen by its suffix (pbf through pyrosm, XML through osmnx).

    Parameters
    ----------
    path
        An existing ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` file.
    label
        How to name the file in error messages.

    Returns
    -------
    RawOSM
        Layers in EPSG:4326.

    Raises
    ------
    DataError
        Unsupported suffix, unreadable or empty file, no drivable roads.
    """
    name = path.name.lower()
    reader: Callable[..., RawOSM]
    if name.endswith(PBF_SUFFIXES):
        reader = read_pbf
    elif name.endswith(XML_SUFFIXES):
        reader = read_xml
    else:
        raise DataError(
            f"{label}: unsupported file type; expected an OpenStreetMap extract ending "
            "in .osm.pbf, .osm, .osm.bz2 or .osm.gz"
        )
    if path.is_dir():
        raise DataError(f"{label}: is a folder, expected an OpenStreetMap extract file")
    if path.stat().st_size == 0:
        raise DataError(f"{label}: the file is empty")
    return reader(path, label=label)
