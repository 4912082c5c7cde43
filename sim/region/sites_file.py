"""A user's file of proposed charging sites (GeoJSON or CSV, EPSG:4326).

* CSV: a header row with columns ``id``, ``lon``, ``lat`` and optionally ``name`` and
  ``ports`` (other columns are ignored); one site per row; lon/lat in degrees.
* GeoJSON: a FeatureCollection of Point features (lon, lat degrees); properties
  ``id`` (or the feature's own ``id``), optional ``name`` and ``ports``.

``ports`` are ports already installed at the site (default 0).  Every problem raises
:class:`~sim.errors.DataError` naming the file, the row or feature number, the column
and the value, e.g. ``"sites.csv row 3: lat = 95.0 is outside [-90, 90]"`` (rows numbered as a
spreadsheet shows them, the header being row 1).  Names are
kept verbatim as text; they are never interpreted.

Once the region is loaded, :func:`check_sites_within` refuses sites outside it (its road
network's bounding box widened by ``candidates.max_snap_m``, :mod:`sim.region.extent`),
naming them and saying when lon and lat look swapped; a site inside the region but
farther than ``max_snap_m`` from the roads is dropped with a note.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry import Point

from sim.errors import DataError, InputFileNotFoundError
from sim.region.extent import Extent, check_within
from sim.region.fields import check_degrees, parse_count, parse_number

__all__ = ["CSV_COLUMNS", "check_sites_within", "read_sites_file"]

CSV_COLUMNS = ("id", "name", "lon", "lat", "ports")
_REQUIRED = ("id", "lon", "lat")
_EXPECTED = "expected columns id,name,lon,lat[,ports]"


class _Site:
    __slots__ = ("lat", "lon", "name", "place", "ports", "site")

    def __init__(
        self, site: str, name: str, lon: float, lat: float, ports: int, *, place: str
    ) -> None:
        self.site, self.name, self.lon, self.lat, self.ports = site, name, lon, lat, ports
        self.place = place


def _site_id(where: str, raw: Any, seen: dict[str, str], *, position: str) -> str:
    if raw is None or isinstance(raw, bool | dict | list) or str(raw).strip() == "":
        raise DataError(f"{where}: id = {raw!r} is missing or empty")
    site = str(raw).strip()
    if site in seen:
        raise DataError(f"{where}: id = {site!r} is already used by {seen[site]}")
    seen[site] = position
    return site


def _read_csv(path: Path, label: str) -> list[_Site]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise DataError(f"{label}: the file is empty; {_EXPECTED}")
        columns = [h.strip().lower() for h in header]
        missing = [c for c in _REQUIRED if c not in columns]
        if missing:
            raise DataError(
                f"{label}: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (found {', '.join(columns)}); {_EXPECTED}"
            )
        pos = {c: columns.index(c) for c in CSV_COLUMNS if c in columns}
        sites: list[_Site] = []
        seen: dict[str, str] = {}
        # rows numbered as a spreadsheet shows them: the header is row 1
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank line
            where = f"{label} row {number}"
            if len(row) < len(columns):
                absent = columns[len(row)]
                raise DataError(
                    f"{where}: has {len(row)} values for {len(columns)} columns "
                    f"({absent} is missing)"
                )

            def cell(col: str, row: list[str] = row) -> str | None:
                return row[pos[col]] if col in pos else None

            site = _site_id(where, cell("id"), seen, position=f"row {number}")
            lon = parse_number(where, "lon", cell("lon"))
            lat = parse_number(where, "lat", cell("lat"))
            ports = parse_count(where, "ports", cell("ports"), low=0)
            sites.append(_Site(site, cell("name") or "", lon, lat, ports, place=f"row {number}"))
    except csv.Error as exc:
        raise DataError(f"{label} line {reader.line_num}: not valid CSV ({exc})") from exc
    return sites


def _features(doc: Any, label: str) -> list[Any]:
    """The features of a GeoJSON document (a FeatureCollection or a single Feature) in
    lon/lat degrees."""
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise DataError(f"{label}: type = {found!r}; expected a GeoJSON FeatureCollection")
    crs = doc.get("crs")
    if crs is not None:
        name = str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, dict) else ""
        if not name.upper().endswith(("CRS84", "4326")):
            raise DataError(
                f"{label}: crs = {name or crs!r}; expected lon/lat in EPSG:4326 (WGS 84)"
            )
    features = doc.get("features")
    if not isinstance(features, list):
        raise DataError(f"{label}: features = {features!r}; expected a list of features")
    return features


def _feature_site(feature: Any, where: str, seen: dict[str, str], *, number: int) -> _Site:
    """The site of one GeoJSON Point feature (``where`` names it in messages)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise DataError(f"{where}: not a GeoJSON Feature")
    geometry = feature.get("geometry")
    gtype = geometry.get("type") if isinstance(geometry, dict) else None
    if not isinstance(geometry, dict) or gtype != "Point":
        raise DataError(f"{where}: geometry type = {gtype!r}; expected 'Point'")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise DataError(f"{where}: coordinates = {coords!r}; expected [lon, lat]")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise DataError(f"{where}: properties = {props!r}; expected an object")
    raw_id = props.get("id", feature.get("id"))
    site = _site_id(where, raw_id, seen, position=f"feature {number}")
    lon = parse_number(where, "lon", coords[0])
    lat = parse_number(where, "lat", coords[1])
    raw_name = props.get("name")
    name = "" if raw_name is None else str(raw_name)
    ports = parse_count(where, "ports", props.get("ports"), low=0)
    return _Site(site, name, lon, lat, ports, place=f"feature {number}")


def _read_geojson(path: Path, label: str) -> list[_Site]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{label} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from exc
    seen: dict[str, str] = {}
    return [
        _feature_site(feature, f"{label} feature {number}", seen, number=number)
        for number, feature in enumerate(_features(doc, label), start=1)
    ]


def read_sites_file(path: Path) -> gpd.GeoDataFrame:
    """Read a user's proposed sites.

    Parameters
    ----------
    path
        A ``.csv``, ``.geojson`` or ``.json`` file (lon/lat degrees, EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``site_id`` (``"user-<id>"``), ``kind`` (``"user"``), ``name``,
        ``osm_id`` (``""``), ``existing_ports`` (int), ``where`` (the site's place in the
        file, ``"row 4"`` or ``"feature 2"``, for messages) and Point geometry,
        EPSG:4326.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    DataError
        Anything wrong in the file, naming the row/feature, column and value; lon/lat
        out of range are named together (:func:`~sim.region.fields.check_degrees`).
    """
    label = str(path)
    if not path.exists():
        raise InputFileNotFoundError(f"sites file {label} does not exist")
    if path.is_dir():
        raise DataError(f"{label}: is a folder, expected a CSV or GeoJSON file of sites")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            sites = _read_csv(path, label)
        elif suffix in (".geojson", ".json"):
            sites = _read_geojson(path, label)
        else:
            raise DataError(f"{label}: unsupported file type {suffix!r}; expected .csv or .geojson")
    except OSError as exc:
        raise DataError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
    if not sites:
        raise DataError(f"{label}: holds no sites")
    check_degrees(
        label,
        [s.place for s in sites],
        [s.lon for s in sites],
        [s.lat for s in sites],
        noun="sites",
        pair=_pair(path),
    )
    return gpd.GeoDataFrame(
        {
            "site_id": [f"user-{s.site}" for s in sites],
            "kind": ["user"] * len(sites),
            "name": [s.name for s in sites],
            "osm_id": [""] * len(sites),
            "existing_ports": np.array([s.ports for s in sites], dtype=np.int64),
            "where": [s.place for s in sites],
        },
        geometry=[Point(s.lon, s.lat) for s in sites],
        crs="EPSG:4326",
    )


def _pair(path: Path) -> str:
    return "columns lon,lat" if path.suffix.lower() == ".csv" else "coordinates"


def check_sites_within(sites: gpd.GeoDataFrame, path: Path, extent: Extent) -> None:
    """Every site of :func:`read_sites_file` lies in the region's extent.

    Raises
    ------
    DataError
        Naming the file and the sites outside (:func:`~sim.region.extent.check_within`).
    """
    check_within(
        extent,
        sites.geometry.x.to_numpy(float),
        sites.geometry.y.to_numpy(float),
        list(sites["where"]),
        crs=sites.crs,
        label=str(path),
        noun="sites",
        pair=_pair(path),
    )
