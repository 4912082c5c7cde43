"""A siting plan read from a user's file: which sites, how many ports, which chargers.

Planners bring plans made elsewhere (a city's list of proposed stations, a plan edited in
QGIS, another tool's output) and compare them with the models' plans under the same
simulation.  Accepted files:

* CSV: a header row; columns ``site_id`` (or ``id``) and/or ``lon``, ``lat`` (degrees,
  EPSG:4326), optional ``ports``, ``charger_class``, ``name`` and ``strategy``.
* GeoJSON (``.geojson``/``.json``) or GeoPackage (``.gpkg``): Point features with the
  same properties; the file's CRS is honoured (GeoJSON defaults to EPSG:4326).  A
  GeoPackage with several layers is read from its ``selected`` layer, so chargesite's
  own ``sites.gpkg`` (or ``layers/selected.geojson``) is a valid plan file.

Each row is one site of the plan:

* rows with coordinates must lie in the region: within ``candidates.max_snap_m`` of the
  bounding box of its road network (:mod:`sim.region.extent`); rows outside are named
  together, and said to look swapped when their (lat, lon) lies inside;
* a ``site_id`` that names a candidate of the region takes that candidate (with
  coordinates too, they must lie within ``candidates.max_snap_m`` of it);
* otherwise the row needs ``lon``/``lat``: the site becomes a new candidate (kind
  ``plan``) under its ``site_id`` (or ``plan-<n>``, ``n`` its place among the file's
  sites, when the row has none);
* ``ports`` (whole number >= 1) and ``charger_class`` are optional; blanks take the
  strategy's (or, at an existing station, the station's own ports);
* ``kind`` is optional: ``charge`` (a charging site, the default) or ``swap`` (a
  battery-swap station; its ``charger_class`` names a swap class, blank: the default
  swap class; ``ports`` must be blank or 0; optional ``bays``, ``packs`` and
  ``pack_chargers`` override the class's).  A candidate kind (``parking``, ``node``, ...,
  what chargesite's own ``selected`` layer holds at a charging site) is a charging site;
* when the file has a ``strategy`` column holding several plans, the strategy's
  ``plan_strategy`` picks one.

Every problem raises :class:`~sim.errors.DataError` naming the file, the row (numbered as
a spreadsheet shows it, the header being row 1) or feature, the column and the value.
"""

from __future__ import annotations

import csv
import difflib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry import Point

from sim.config.schema import OSM_CANDIDATE_KINDS
from sim.errors import DataError, InputFileNotFoundError
from sim.region.candidates import snap_candidates
from sim.region.extent import Extent, check_within
from sim.region.fields import check_degrees, is_blank, parse_count, parse_number
from sim.region.model import Region
from sim.region.network import core_graph

__all__ = ["PlanTable", "add_plan_sites", "check_charger_classes", "read_plan_file"]

_EXPECTED = "expected site_id and/or lon,lat per site, optional ports, charger_class, kind, name"
#: Values of a plan file's ``kind`` column.
SITE_KINDS = ("charge", "swap")
#: Candidate kinds, as chargesite's ``selected`` layer writes them at charging sites.
CANDIDATE_KINDS = (*OSM_CANDIDATE_KINDS, "node", "user", "plan")
#: Layer read from a GeoPackage holding several (chargesite's sites.gpkg).
PLAN_LAYER = "selected"


@dataclass(frozen=True)
class PlanTable:
    """The sites of one plan file, validated but not yet matched to a region.

    Attributes
    ----------
    source
        The file's name, for messages.
    where
        Per site, its place in the file (``"plan.csv row 3"``), for messages.
    site_id
        Per site, the id given (``""`` when none).
    lon, lat
        float64 degrees (EPSG:4326); NaN where the row gives no coordinates.
    ports
        int64 ports; 0 where not given (the strategy's default applies).
    charger_class
        Per site, the class given (``""``: the strategy's default).
    name
        Per site, the name given (kept verbatim).
    kind
        Per site, ``"charge"`` or ``"swap"`` (:data:`SITE_KINDS`).
    bays, packs, pack_chargers
        int64 per swap station; 0 where not given (the swap class's) and at charging
        sites.
    """

    source: str
    where: tuple[str, ...]
    site_id: tuple[str, ...]
    lon: np.ndarray
    lat: np.ndarray
    ports: np.ndarray
    charger_class: tuple[str, ...]
    name: tuple[str, ...]
    kind: tuple[str, ...]
    bays: np.ndarray
    packs: np.ndarray
    pack_chargers: np.ndarray

    def __len__(self) -> int:
        return len(self.where)

    @property
    def has_xy(self) -> np.ndarray:
        """bool per site: coordinates were given."""
        return ~np.isnan(self.lon)


def _text(raw: Any) -> str:
    if is_blank(raw):
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # ids read as numbers by a GIS driver
    return str(raw).strip()


def _csv_rows(path: Path) -> tuple[list[dict[str, Any]], list[Point | None], list[str]]:
    label = path.name
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise DataError(f"{label}: the file is empty; {_EXPECTED}")
            columns = [h.strip().lower() for h in header]
            rows: list[dict[str, Any]] = []
            geoms: list[Point | None] = []
            wheres: list[str] = []
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                where = f"{label} row {number}"
                if len(cells) < len(columns):
                    raise DataError(
                        f"{where}: has {len(cells)} values for {len(columns)} columns "
                        f"({columns[len(cells)]} is missing)"
                    )
                row = dict(zip(columns, cells, strict=False))
                lon, lat = row.get("lon"), row.get("lat")
                if is_blank(lon) and is_blank(lat):
                    geoms.append(None)
                elif is_blank(lon) or is_blank(lat):
                    missing = "lon" if is_blank(lon) else "lat"
                    raise DataError(
                        f"{where}: {missing} is empty; give both lon and lat or neither"
                    )
                else:
                    x, y = parse_number(where, "lon", lon), parse_number(where, "lat", lat)
                    geoms.append(Point(x, y))
                rows.append(row)
                wheres.append(where)
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{label}: not valid CSV ({exc})") from None
    if not ({"site_id", "id"} & set(columns) or {"lon", "lat"} <= set(columns)):
        raise DataError(f"{label}: columns {', '.join(columns)}; {_EXPECTED}")
    _check_degrees(label, geoms, wheres, pair="columns lon,lat")
    return rows, geoms, wheres


def _check_degrees(label: str, geoms: list[Point | None], wheres: list[str], *, pair: str) -> None:
    """The rows' points (lon/lat) are degrees, named together when not."""
    check_degrees(
        label,
        [w.removeprefix(f"{label} ") for w in wheres],
        [np.nan if g is None else g.x for g in geoms],
        [np.nan if g is None else g.y for g in geoms],
        noun="sites with coordinates",
        pair=pair,
    )


def _gis_rows(path: Path) -> tuple[list[dict[str, Any]], list[Point | None], list[str]]:
    label = path.name
    layer: str | None = None
    try:
        if path.suffix.lower() == ".gpkg":
            layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
            if len(layers) > 1:
                if PLAN_LAYER not in layers:
                    raise DataError(
                        f"{label}: holds layers {', '.join(layers)}; a plan file needs one "
                        f"layer, or a layer named {PLAN_LAYER!r}"
                    )
                layer = PLAN_LAYER
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise DataError(f"{label}: cannot read as a GIS file ({exc})") from None
    if frame.crs is None or frame.crs.is_geographic:  # lon/lat as the file holds them
        points = [g if g is not None and g.geom_type == "Point" else None for g in frame.geometry]
        points = [None if g is None or g.is_empty else g for g in points]
        wheres = [f"{label} feature {i}" for i in range(1, len(frame) + 1)]
        _check_degrees(label, points, wheres, pair="coordinates")
    if len(frame) and frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    frame.columns = [str(c).lower() if c != "geometry" else c for c in frame.columns]
    rows = frame.drop(columns="geometry").to_dict(orient="records")
    wheres = [f"{label} feature {i}" for i in range(1, len(rows) + 1)]
    geoms: list[Point | None] = []
    for where, g in zip(wheres, frame.geometry, strict=True):
        if g is None or g.is_empty:
            geoms.append(None)
        elif g.geom_type != "Point":
            raise DataError(f"{where}: geometry {g.geom_type} is not a point")
        else:
            geoms.append(g)
    return rows, geoms, wheres


_Rows = tuple[list[dict[str, Any]], list[Point | None], list[str]]


def _file_rows(path: Path) -> _Rows:
    """Rows, points (EPSG:4326 or None) and places in the file of a plan file."""
    label = path.name
    if not path.exists():
        raise InputFileNotFoundError(f"plan file {path} does not exist")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV, GeoJSON or GeoPackage plan")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _csv_rows(path)
        if suffix in (".geojson", ".json", ".gpkg"):
            return _gis_rows(path)
    except OSError as exc:
        raise DataError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    raise DataError(
        f"{label}: unsupported plan file type {suffix or '(none)'!r}; "
        "expected .csv, .geojson or .gpkg"
    )


def _strategy_rows(rows: _Rows, *, label: str, strategy: str | None) -> _Rows:
    """The rows of one strategy's plan (by the ``strategy`` column), checked."""
    records, geoms, wheres = rows
    if not any("strategy" in r for r in records):
        if strategy is not None:
            raise DataError(
                f"{label}: plan_strategy = {strategy!r}, but the file has no strategy column"
            )
        return rows
    names = sorted({_text(r.get("strategy")) for r in records} - {""})
    if strategy is None:
        if len(names) > 1:
            raise DataError(
                f"{label}: holds the plans of several strategies ({', '.join(names)}); "
                "choose one with plan_strategy"
            )
        return rows
    keep = [i for i, r in enumerate(records) if _text(r.get("strategy")) == strategy]
    if not keep:
        raise DataError(
            f"{label}: no rows with strategy = {strategy!r} (found {', '.join(names) or 'none'})"
        )
    return [records[i] for i in keep], [geoms[i] for i in keep], [wheres[i] for i in keep]


def _plan_table(rows: _Rows, *, label: str) -> PlanTable:
    """Check every row's id, ports, class and name into a :class:`PlanTable`."""
    records, geoms, wheres = rows
    if not records:
        raise DataError(f"{label}: holds no sites; {_EXPECTED}")
    ids: list[str] = []
    seen: dict[str, str] = {}
    lon = np.full(len(records), np.nan)
    lat = np.full(len(records), np.nan)
    ports = np.zeros(len(records), dtype=np.int64)
    bays, packs, chargers = (np.zeros(len(records), dtype=np.int64) for _ in range(3))
    classes: list[str] = []
    names_out: list[str] = []
    kinds: list[str] = []
    for k, (row, geom, where) in enumerate(zip(records, geoms, wheres, strict=True)):
        site = _text(row.get("site_id", row.get("id")))
        kind = _kind(where, row.get("kind"))  # first: a mobile unit's row says so
        if geom is None and not site:
            raise DataError(f"{where}: neither a site_id nor lon/lat; {_EXPECTED}")
        if site:
            if site in seen:
                raise DataError(f"{where}: site_id {site!r} is already used by {seen[site]}")
            seen[site] = where.removeprefix(f"{label} ")
        if geom is not None:
            lon[k], lat[k] = geom.x, geom.y
        ids.append(site)
        # a swap station's ports are blank or 0 (chargesite's selected layer writes 0)
        low = 0 if kind == "swap" else 1
        ports[k] = parse_count(where, "ports", row.get("ports"), low=low, high=500)
        if kind == "swap":
            _check_no_ports(where, int(ports[k]))
            for col, arr in (("bays", bays), ("packs", packs), ("pack_chargers", chargers)):
                arr[k] = parse_count(where, col, row.get(col), low=1, high=500)
        classes.append(_text(row.get("charger_class")))
        names_out.append("" if is_blank(row.get("name")) else str(row.get("name")))
        kinds.append(kind)
    return PlanTable(
        source=label,
        where=tuple(wheres),
        site_id=tuple(ids),
        lon=lon,
        lat=lat,
        ports=ports,
        charger_class=tuple(classes),
        name=tuple(names_out),
        kind=tuple(kinds),
        bays=bays,
        packs=packs,
        pack_chargers=chargers,
    )


def _check_no_ports(where: str, ports: int, /) -> None:
    if ports > 0:
        raise DataError(
            f"{where}: ports = {ports} at a swap station (kind swap); its bays and packs "
            "come from its swap class or the bays, packs and pack_chargers columns"
        )


def _kind(where: str, raw: Any, /) -> str:
    """A row's ``kind`` (blank or a candidate kind: ``charge``)."""
    text = _text(raw).lower()
    if not text or text in CANDIDATE_KINDS:
        return "charge"
    if text == "mobile":
        raise DataError(
            f"{where}: kind = mobile: mobile charging units are an operating measure, set "
            "by strategies[].mobile_units (with their sites), not rows of a plan file; drop "
            "these rows (a selected layer read back as a plan keeps its fixed sites)"
        )
    if text not in SITE_KINDS:
        raise DataError(
            f"{where}: kind = {_text(raw)!r}; expected one of {', '.join(SITE_KINDS)} (or a "
            f"candidate kind: {', '.join(CANDIDATE_KINDS)})"
        )
    return text


def read_plan_file(path: Path, /, *, strategy: str | None = None) -> PlanTable:
    """Read and check a plan file (see the module docstring for the format).

    Parameters
    ----------
    path
        ``.csv``, ``.geojson``/``.json`` or ``.gpkg``.
    strategy
        Keep the rows whose ``strategy`` column has this value.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    DataError
        Anything wrong in the file, naming the row or feature, column and value.
    """
    path = Path(path)
    rows = _strategy_rows(_file_rows(path), label=path.name, strategy=strategy)
    return _plan_table(rows, label=path.name)


def check_charger_classes(
    table: PlanTable,
    classes: Collection[str],
    /,
    *,
    swap_classes: Collection[str] = (),
) -> None:
    """Raise :class:`~sim.errors.DataError` at the first row naming an unknown class:
    a charger class at a charging site, a swap class at a swap station, or a swap
    station when the scenario has no swap classes."""
    for where, given, kind in zip(table.where, table.charger_class, table.kind, strict=True):
        known, key = (swap_classes, "swap_classes") if kind == "swap" else (classes, "classes")
        if kind == "swap" and not swap_classes:
            raise DataError(f"{where}: kind = swap, but chargers.swap_classes is empty")
        if given and given not in known:
            raise DataError(
                f"{where}: charger_class = {given!r} is not one of {sorted(known)} (chargers.{key})"
            )


#: A new site of a plan: lon, lat (degrees), name, and the place in its file.
_NewSite = tuple[float, float, str, str]


def _check_known_site(
    t: PlanTable,
    k: int,
    point: Point | None,
    *,
    candidate: Point,
    max_snap_m: float,
) -> None:
    """A row naming a candidate: its lon/lat, if given (``point``, region CRS), must
    lie within ``max_snap_m`` (m) of the candidate."""
    if point is None:
        return
    d = float(point.distance(candidate))
    if d > max_snap_m:
        raise DataError(
            f"{t.where[k]}: site_id {t.site_id[k]!r} is a candidate {d / 1000:.1f} km from "
            f"the given lon/lat (more than candidates.max_snap_m = "
            f"{max_snap_m:g} m): is the file for another region?"
        )


def _new_site_id(
    t: PlanTable, k: int, *, known: Collection[str], new_rows: dict[str, _NewSite]
) -> str:
    """The id of a row that is not a candidate: its own, or ``plan-<k + 1>`` (its place
    among the file's sites) made unique."""
    site = t.site_id[k]
    if np.isnan(t.lon[k]):  # no coordinates
        close = difflib.get_close_matches(site, list(known), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DataError(
            f"{t.where[k]}: site_id {site!r} is not a candidate site of this region "
            f"and the row has no lon/lat to place a new site{hint}"
        )
    if not site:
        site = f"plan-{k + 1}"
        while site in known or site in new_rows or site in t.site_id:
            site += "-"
    return site


def _add_new_site(new_rows: dict[str, _NewSite], site: str, t: PlanTable, k: int) -> None:
    """Record a new site; the same id again must be at the same place (within 1e-5 deg)."""
    lon_k, lat_k = float(t.lon[k]), float(t.lat[k])
    if site not in new_rows:
        new_rows[site] = (lon_k, lat_k, t.name[k], t.where[k])
        return
    lon0, lat0, _, where0 = new_rows[site]
    if abs(lon0 - lon_k) > 1e-5 or abs(lat0 - lat_k) > 1e-5:
        raise DataError(
            f"{t.where[k]}: site_id {site!r} is at {lon_k:.6f}, {lat_k:.6f} but "
            f"{where0} puts it at {lon0:.6f}, {lat0:.6f}"
        )


def _match_table(
    t: PlanTable,
    cands: gpd.GeoDataFrame,
    known: dict[str, int],
    new_rows: dict[str, _NewSite],
    *,
    crs: str,
    max_snap_m: float,
) -> PlanTable:
    """The table with every row's id naming a candidate or a new site (added to
    ``new_rows``)."""
    ids = list(t.site_id)
    points: list[Point | None] = [None] * len(t)
    if t.has_xy.any():  # this table's points in the region's CRS
        pts = gpd.GeoSeries(gpd.points_from_xy(t.lon, t.lat), crs="EPSG:4326").to_crs(crs)
        points = [p if has else None for p, has in zip(pts, t.has_xy, strict=True)]
    for k, site in enumerate(ids):
        if site in known:
            candidate = cands.geometry.iloc[known[site]]
            _check_known_site(t, k, points[k], candidate=candidate, max_snap_m=max_snap_m)
            continue
        ids[k] = _new_site_id(t, k, known=known, new_rows=new_rows)
        _add_new_site(new_rows, ids[k], t, k)
    return replace(t, site_id=tuple(ids))


def _new_candidates(
    region: Region, new_rows: dict[str, _NewSite], *, max_snap_m: float
) -> gpd.GeoDataFrame:
    """The new sites as candidates (kind ``plan``, region CRS) snapped to the core graph;
    none may be farther than ``max_snap_m`` (m) from it."""
    sites = list(new_rows)
    added = gpd.GeoDataFrame(
        {
            "site_id": sites,
            "kind": ["plan"] * len(sites),
            "name": [new_rows[s][2] for s in sites],
            "osm_id": [""] * len(sites),
            "existing_ports": np.zeros(len(sites), dtype=np.int64),
        },
        geometry=[Point(new_rows[s][0], new_rows[s][1]) for s in sites],
        crs="EPSG:4326",
    ).to_crs(region.crs)
    core = (
        region.core_nodes
        if region.core_nodes is not None
        else np.array(sorted(region.graph.nodes), dtype=np.int64)
    )
    snapped, _ = snap_candidates(added, core_graph(region.graph, core), max_snap_m=math.inf)
    far = snapped["snap_dist_m"].to_numpy() > max_snap_m
    if far.any():
        k = int(np.flatnonzero(far)[0])
        site = sites[k]
        raise DataError(
            f"{new_rows[site][3]}: site {site!r} is "
            f"{float(snapped['snap_dist_m'].iloc[k]) / 1000:.1f} km from the road network "
            f"(more than candidates.max_snap_m = {max_snap_m:g} m)"
        )
    return snapped


def _check_in_region(t: PlanTable, extent: Extent) -> None:
    """The table's coordinates lie in the region's extent (:mod:`sim.region.extent`)."""
    given = np.flatnonzero(t.has_xy)
    if given.size == 0:
        return
    check_within(
        extent,
        t.lon[given],
        t.lat[given],
        [t.where[k].removeprefix(f"{t.source} ") for k in given],
        crs="EPSG:4326",
        label=t.source,
        noun="sites with coordinates",
        pair="columns lon,lat" if t.source.lower().endswith(".csv") else "coordinates",
    )


def add_plan_sites(
    region: Region, tables: Sequence[PlanTable], /, *, max_snap_m: float
) -> tuple[Region, list[PlanTable]]:
    """Add the plans' new sites to the region's candidates; give every row an id.

    Parameters
    ----------
    region
        The loaded region.
    tables
        Plan files read by :func:`read_plan_file`.
    max_snap_m
        Most distance (m) from a site's coordinates to its candidate or, for a new site,
        to the road network.

    Returns
    -------
    region, tables
        The region with new candidates (kind ``plan``) appended after the existing ones,
        and the tables with every ``site_id`` naming a candidate.

    Raises
    ------
    DataError
        Sites outside the region (its road network's bounding box widened by
        ``max_snap_m``; named together, saying when lon and lat look swapped), an id
        that is not a candidate and has no coordinates (with the closest ids), a site
        too far from its candidate or from the roads, or one new id given at two places.
    """
    extent = Extent.of(region.graph, margin_m=max_snap_m)
    for t in tables:
        _check_in_region(t, extent)
    cands = region.candidates
    known = {sid: i for i, sid in enumerate(cands["site_id"].astype(str))}
    new_rows: dict[str, _NewSite] = {}
    out_tables = [
        _match_table(t, cands, known, new_rows, crs=region.crs, max_snap_m=max_snap_m)
        for t in tables
    ]
    if not new_rows:
        return region, out_tables
    snapped = _new_candidates(region, new_rows, max_snap_m=max_snap_m)
    merged = gpd.GeoDataFrame(
        pd.concat([cands, snapped[list(cands.columns)]], ignore_index=True),
        geometry="geometry",
        crs=cands.crs,
    )
    files = sorted({t.source for t in tables})
    note = f"{len(new_rows)} new sites from the plan file{'s' if len(files) > 1 else ''} " + (
        f"{', '.join(files)} added as candidates."
    )
    return (
        replace(region, candidates=merged, notes=(*region.notes, note)),
        out_tables,
    )
