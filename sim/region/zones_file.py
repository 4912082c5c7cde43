"""A planner's file of residential zones (compounds) that replaces or augments OSM's.

Planners often hold better data than OpenStreetMap: lists of residential compounds with
their households and parking spaces.  Accepted files:

* GeoJSON or GeoPackage: polygons (compound outlines) or points, any CRS the file
  declares (GeoJSON defaults to EPSG:4326).  Points become circles of
  :data:`POINT_RADIUS_M`.
* CSV: columns ``lon``, ``lat`` (degrees) and the attributes below.

Attributes (columns or properties):

* ``households`` (required, >= 0);
* ``name`` (optional text, kept verbatim);
* ``housing`` (optional: ``apartment`` (default) or ``house``);
* ``no_home_charging_share`` (optional, 0-1): share of the zone's EVs without a home
  charger, overriding the default for its housing type;
* ``parking_spaces`` (optional, >= 0): private parking spaces of the compound; when given
  without ``no_home_charging_share``, the share with a home charger is the share of cars
  with a private space times ``region.private_space_charger_share`` (spaces where a
  charger can be installed; about 40% of private EV spaces in Beijing lack power
  capacity, shared/calibration-facts.md §2);
* ``kva`` (optional, > 0): the compound's transformer rating (kVA), used by the ``grid``
  stage instead of its default (docs/grid.md).  The column appears in the region's zones
  only when the file has it.

Every problem raises :class:`~sim.errors.DataError` naming the file, the row or feature
and the column.  Zones outside the region (located by a point inside each, the one
snapped to the roads) are refused together, naming them and saying when lon and lat
look swapped (:mod:`sim.region.extent`); a zone inside the region but far from the roads
is snapped to its nearest road node, however far.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
from shapely.geometry import Point

from sim.errors import DataError, InputFileNotFoundError
from sim.region.extent import Extent, check_within
from sim.region.fields import check_degrees, is_blank, parse_number
from sim.region.model import Region
from sim.region.network import core_graph, snap

__all__ = ["POINT_RADIUS_M", "apply_zones_file", "read_zones_file"]

#: Radius (m) of the zone drawn around a point given without an outline.
POINT_RADIUS_M = 100.0


def _num(where: str, col: str, raw: Any, *, lo: float, hi: float = math.inf) -> float:
    try:
        v = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {col} = {raw!r} is not a number") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        bound = f"[{lo:g}, {hi:g}]" if math.isfinite(hi) else f">= {lo:g}"
        raise DataError(f"{where}: {col} = {v!r} must be {bound}")
    return v


def _kva(where: str, raw: Any) -> float:
    """A transformer rating (kVA, > 0) or NaN when the cell is blank."""
    if is_blank(raw):
        return math.nan
    v = _num(where, "kva", raw, lo=-math.inf)
    if v <= 0:
        raise DataError(f"{where}: kva = {v!r} must be > 0 (the transformer's kVA)")
    return v


def _check_gis_degrees(path: Path, geoms: Sequence[Any], crs: Any) -> None:
    """A GIS file in lon/lat (a geographic CRS, or none declared): every feature in range.
    The values shown are a point inside the feature, or its bound out of range."""
    if crs is not None and not pyproj.CRS.from_user_input(crs).is_geographic:
        return
    lon, lat = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    for k, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        west, south, east, north = g.bounds
        p = g.representative_point() if g.is_valid else g.centroid
        lon[k] = west if west < -180 else east if east > 180 else p.x
        lat[k] = south if south < -90 else north if north > 90 else p.y
    places = [f"feature {k}" for k in range(1, len(geoms) + 1)]
    check_degrees(path.name, places, lon, lat, noun="zones", pair="coordinates")


def _rows(path: Path) -> tuple[list[dict[str, Any]], list[Any], Any, str]:
    """Attribute rows, geometries (None for CSV points given as lon/lat), CRS, row word."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                fields = reader.fieldnames or []
                if not {"lon", "lat", "households"} <= set(fields):
                    raise DataError(
                        f"{path.name}: needs the columns lon, lat, households "
                        f"(found {', '.join(fields) or 'none'})"
                    )
                rows = list(reader)
        except UnicodeDecodeError:
            raise DataError(f"{path.name}: not a UTF-8 text CSV file") from None
        lons, lats = np.zeros(len(rows)), np.zeros(len(rows))
        for k, r in enumerate(rows):
            where = f"{path.name} row {k + 2}"
            lons[k] = parse_number(where, "lon", r.get("lon"))
            lats[k] = parse_number(where, "lat", r.get("lat"))
        places = [f"row {k + 2}" for k in range(len(rows))]
        check_degrees(path.name, places, lons, lats, noun="zones", pair="columns lon,lat")
        return rows, [Point(x, y) for x, y in zip(lons, lats, strict=True)], "EPSG:4326", "row"
    if suffix not in (".geojson", ".json", ".gpkg"):
        raise DataError(
            f"{path.name}: zones file must be .geojson, .gpkg or .csv (got {suffix or 'none'})"
        )
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise DataError(f"{path.name}: cannot read as a GIS file ({exc})") from None
    if "households" not in frame.columns:
        raise DataError(
            f"{path.name}: needs a households property (found {', '.join(frame.columns)})"
        )
    records = frame.drop(columns="geometry").to_dict(orient="records")
    _check_gis_degrees(path, list(frame.geometry), frame.crs)
    return records, list(frame.geometry), frame.crs or "EPSG:4326", "feature"


def read_zones_file(path: Path, /, *, crs: str, extent: Extent | None = None) -> gpd.GeoDataFrame:
    """Read and validate a zones file into the region's CRS.

    Parameters
    ----------
    path
        The zones file.
    crs
        The region's CRS.
    extent
        The region's extent: every zone (a point inside it) must lie in it.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``households``, ``housing``, ``no_home_charging_share`` (NaN
        where not given), ``parking_spaces`` (NaN where not given), ``kva`` (transformer
        rating, kVA; NaN where not given), ``geometry`` (polygons, in ``crs``).

    Raises
    ------
    InputFileNotFoundError, DataError
        :class:`DataError` names the row or feature, the column and the value; zones
        outside ``extent`` are named together (:func:`~sim.region.extent.check_within`).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: zones file not found")
    rows, geoms, file_crs, word = _rows(path)
    if not rows:
        raise DataError(f"{path.name}: the zones file holds no zones")
    out: dict[str, list[Any]] = {
        "name": [], "households": [], "housing": [], "no_home_charging_share": [],
        "parking_spaces": [], "kva": [],
    }  # fmt: skip
    first = 2 if word == "row" else 1
    for i, (r, g) in enumerate(zip(rows, geoms, strict=True), start=first):
        where = f"{path.name} {word} {i}"
        if g is None or g.is_empty or g.geom_type not in (
            "Point", "Polygon", "MultiPolygon"
        ):  # fmt: skip
            kind = "none" if g is None else g.geom_type
            raise DataError(f"{where}: geometry {kind} is not a point or polygon")
        out["households"].append(_num(where, "households", r.get("households"), lo=0))
        out["name"].append("" if is_blank(r.get("name")) else str(r.get("name")))
        housing = "apartment" if is_blank(r.get("housing")) else str(r["housing"]).strip()
        if housing not in ("apartment", "house"):
            raise DataError(f"{where}: housing = {housing!r} must be apartment or house")
        out["housing"].append(housing)
        for col, hi in (("no_home_charging_share", 1.0), ("parking_spaces", math.inf)):
            raw = r.get(col)
            out[col].append(math.nan if is_blank(raw) else _num(where, col, raw, lo=0, hi=hi))
        out["kva"].append(_kva(where, r.get("kva")))
    if extent is not None:
        inner = gpd.GeoSeries(geoms, crs=file_crs).representative_point()
        check_within(
            extent,
            inner.x.to_numpy(float),
            inner.y.to_numpy(float),
            [f"{word} {i}" for i in range(first, first + len(geoms))],
            crs=file_crs,
            label=path.name,
            noun="zones",
            pair="columns lon,lat" if word == "row" else "coordinates",
        )
    frame = gpd.GeoDataFrame(out, geometry=geoms, crs=file_crs).to_crs(crs)
    points = frame.geom_type == "Point"
    frame.loc[points, "geometry"] = frame.loc[points, "geometry"].buffer(POINT_RADIUS_M)
    return frame


def apply_zones_file(
    region: Region,
    path: Path,
    /,
    *,
    mode: str,
    cars_per_household: float,
    private_space_charger_share: float,
    max_snap_m: float,
) -> Region:
    """The region with the planner's zones.

    Parameters
    ----------
    region
        The region loaded from OSM.
    path
        The zones file.
    mode
        ``"replace"``: the file's zones are the only residential zones (OSM buildings
        are dropped, households come from the file); ``"augment"``: OSM zones and
        buildings overlapping a file zone give way to it, the rest stay.
    cars_per_household
        To turn parking spaces into a share of cars with a private space.
    private_space_charger_share
        Share of private spaces where a charger can be installed (0-1).
    max_snap_m
        ``candidates.max_snap_m``: zones farther than this outside the bounding box of
        the road network are outside the region, an error (:mod:`sim.region.extent`).
    """
    extent = Extent.of(region.graph, margin_m=max_snap_m)
    user = read_zones_file(path, crs=region.crs, extent=extent)
    core = (
        region.core_nodes
        if region.core_nodes is not None
        else np.array(sorted(region.graph.nodes), dtype=np.int64)
    )
    cents = user.geometry.representative_point()
    node, dist = snap(core_graph(region.graph, core), np.c_[cents.x, cents.y])
    share = user["no_home_charging_share"].to_numpy(float)
    spaces = user["parking_spaces"].to_numpy(float)
    cars = user["households"].to_numpy(float) * cars_per_household
    with np.errstate(divide="ignore", invalid="ignore"):
        with_space = np.where(cars > 0, np.minimum(spaces / cars, 1.0), 0.0)
    from_spaces = 1.0 - with_space * private_space_charger_share
    share = np.where(np.isnan(share) & ~np.isnan(spaces), from_spaces, share)
    hh = user["households"].to_numpy(float)
    house = (user["housing"] == "house").to_numpy()
    zones_user = gpd.GeoDataFrame(
        {
            "zone_id": [f"u{i + 1:04d}" for i in range(len(user))],
            "name": user["name"].astype(str),
            "source": "user",
            "households": hh,
            "households_apartment": np.where(house, 0.0, hh),
            "households_house": np.where(house, hh, 0.0),
            "area_m2": user.geometry.area.to_numpy(float),
            "node": node.astype(np.int64),
            "snap_dist_m": dist,
            "geometry": user.geometry.to_numpy(),
            "no_home_share": share,
        },
        geometry="geometry",
        crs=region.crs,
    )
    if user["kva"].notna().any():  # the column only when the planner gave ratings
        zones_user["kva"] = user["kva"].to_numpy(float)
    zones, buildings = region.zones, region.buildings
    if mode == "replace":
        keep_z = np.zeros(len(zones), dtype=bool)
        buildings = buildings.iloc[0:0]
        note = f"Residential zones replaced by {len(user)} zones from {path.name}."
    else:
        union = zones_user.geometry.union_all()
        keep_z = ~zones.geometry.intersects(union).to_numpy()
        b_cent = buildings.geometry.representative_point()
        kept_ids = set(zones.loc[keep_z, "zone_id"])
        keep_b = ~b_cent.within(union).to_numpy() & buildings["zone_id"].isin(kept_ids).to_numpy()
        buildings = buildings.loc[keep_b]
        note = (
            f"{len(user)} zones from {path.name} added; {int((~keep_z).sum())} OSM zones "
            "overlapping them gave way."
        )
    base = zones.loc[keep_z].copy()
    base["no_home_share"] = np.nan
    merged = gpd.GeoDataFrame(
        pd.concat([base, zones_user], ignore_index=True), geometry="geometry", crs=region.crs
    )
    return Region(
        name=region.name,
        road_graph=region.graph,  # built above, if it was not
        road_edges=region.road_edges,
        crs=region.crs,
        zones=merged,
        buildings=buildings.reset_index(drop=True),
        candidates=region.candidates,
        notes=(*region.notes, note),
        provenance=region.provenance,
        core_nodes=region.core_nodes,
    )
