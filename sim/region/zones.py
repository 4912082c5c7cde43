"""Residential zones and their households, with fallbacks for sparsely mapped regions.

Zones come, in order of preference, from

1. ``landuse=residential`` areas (source ``"landuse"``);
2. clusters of residential buildings that lie outside every such area: outlines
   buffered by :data:`BUILDING_CLUSTER_BUFFER_M`, merged and split into separate
   polygons (source ``"buildings"``); this also covers extracts without landuse;
3. when the extract has neither: residential and living streets buffered by
   :data:`STREET_BUFFER_M`, merged and split (source ``"roads"``), with
   ``road_density_households_per_km`` households per km of such street.

Households of a zone are the sum over its buildings (see :mod:`sim.region.housing`);
a landuse zone without mapped homes gets ``zone_density_households_per_ha``.  Every
fallback is recorded in the notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
from shapely.geometry.base import BaseGeometry

from sim.config.schema import HousingConfig
from sim.region._text import count
from sim.region.housing import estimate_households
from sim.region.model import BUILDING_COLUMNS, ZONE_COLUMNS
from sim.region.network import residential_streets, snap

#: Buffer (m) around residential buildings when grouping them into zones.
BUILDING_CLUSTER_BUFFER_M = 50.0
#: Buffer (m) around residential streets when no areas or buildings are mapped.
STREET_BUFFER_M = 100.0


def _polygonal(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Valid polygon parts only (lines and points dropped)."""
    geoms = geoms.make_valid()
    exploded = geoms.explode(index_parts=False)
    exploded = exploded[exploded.geom_type.isin(["Polygon", "MultiPolygon"])]
    return exploded.groupby(level=0).agg(lambda s: s.union_all()).reindex(geoms.index)


def _pieces(geoms: gpd.GeoSeries, buffer_m: float, crs: object) -> gpd.GeoSeries:
    """Buffer, merge and split into separate polygons."""
    merged = geoms.buffer(buffer_m).union_all()
    return gpd.GeoSeries([merged], crs=crs).explode(index_parts=False).reset_index(drop=True)


def _sorted_by_position(pieces: gpd.GeoSeries) -> gpd.GeoSeries:
    centroid = pieces.centroid
    order = np.lexsort((np.round(centroid.x.to_numpy(), 1), np.round(centroid.y.to_numpy(), 1)))
    return pieces.iloc[order].reset_index(drop=True)


def _within(points: gpd.GeoSeries, polygons: gpd.GeoSeries) -> pd.Series:
    """Positional index of the first polygon containing each point (-1 when none)."""
    result = pd.Series(-1, index=points.index, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return result
    left = gpd.GeoDataFrame(geometry=points.reset_index(drop=True))
    right = gpd.GeoDataFrame(geometry=polygons.reset_index(drop=True))
    joined = gpd.sjoin(left, right, predicate="within", how="inner")
    first = joined["index_right"].groupby(level=0).min()
    result.iloc[first.index.to_numpy()] = first.to_numpy()
    return result


def _clean_landuse(landuse: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Polygon parts of the residential areas, one row per distinct outline, by OSM id."""
    landuse = landuse.assign(geometry=_polygonal(landuse.geometry))
    landuse = landuse[landuse.geometry.notna() & ~landuse.geometry.is_empty]
    # An area mapped twice (a way and a multipolygon with the same outline) is one zone,
    # named if either copy has a name.
    unnamed = ~landuse["name"].map(lambda v: isinstance(v, str) and v != "")
    landuse = landuse.assign(unnamed=unnamed.to_numpy()).sort_values(["unnamed", "osm_id"])
    landuse = landuse[~landuse.geometry.normalize().to_wkb().duplicated()]
    return landuse.sort_values("osm_id", kind="stable").reset_index(drop=True)


@dataclass
class _Zones:
    """Zones as they are gathered (positions in these lists are zone positions).

    Attributes
    ----------
    geoms, names, sources
        Per zone: polygon (graph CRS), name (``""`` if none), source.
    street_km
        Per zone: km of residential street (only ``roads`` zones have any).
    """

    geoms: list[BaseGeometry]
    names: list[str]
    sources: list[str]
    street_km: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.geoms)

    def extend(self, geoms: Iterable[BaseGeometry], *, source: str) -> None:
        """Append unnamed zones."""
        added = list(geoms)
        self.geoms.extend(added)
        self.names.extend([""] * len(added))
        self.sources.extend([source] * len(added))
        self.street_km = np.concatenate([self.street_km, np.zeros(len(added))])


def _cluster_zones(
    zones: _Zones,
    homes: gpd.GeoDataFrame,
    home_points: gpd.GeoSeries,
    zone_index: npt.NDArray[np.int64],
    *,
    landuse: gpd.GeoDataFrame,
    crs: object,
) -> list[str]:
    """Group the homes outside every residential area into zones (source ``buildings``).

    Appends the zones to ``zones`` and sets those homes' entries of ``zone_index`` (in
    place; -1 for a home in no zone); returns the note saying so.
    """
    outside = zone_index < 0
    if not outside.any():
        return []
    clusters = _pieces(homes.geometry[outside], BUILDING_CLUSTER_BUFFER_M, crs)
    if len(landuse):
        clusters = clusters.difference(landuse.geometry.union_all())
        clusters = clusters.explode(index_parts=False)
        clusters = clusters[~clusters.is_empty]
    clusters = _sorted_by_position(clusters.reset_index(drop=True))
    cluster_of = _within(home_points[outside], clusters).to_numpy()
    used = np.unique(cluster_of[cluster_of >= 0])
    renumber = {int(old): len(zones) + new for new, old in enumerate(used)}
    zones.extend(clusters.iloc[used], source="buildings")
    zone_index[outside] = [renumber.get(int(c), -1) for c in cluster_of]
    n_out = int(outside.sum())
    if len(landuse):
        return [
            f"{count(n_out, 'residential building')} outside every landuse=residential "
            f"area grouped into {count(len(used), 'extra zone')} (source 'buildings')."
        ]
    return [
        "The extract has no landuse=residential areas: "
        f"{count(len(used), 'residential zone')} formed from clusters of "
        f"{count(n_out, 'residential building')} (source 'buildings')."
    ]


def _street_zones(
    zones: _Zones, graph: nx.MultiDiGraph, *, crs: object, housing: HousingConfig
) -> list[str]:
    """Zones around the residential streets (source ``roads``), for an extract with
    neither residential areas nor residential buildings; returns the note."""
    streets = residential_streets(graph)
    if not len(streets):
        return [
            "No residential areas, residential buildings or residential streets were "
            "found: the region has no residential zones."
        ]
    pieces = _sorted_by_position(_pieces(streets.geometry, STREET_BUFFER_M, crs))
    street_zone = _within(streets.geometry.representative_point(), pieces).to_numpy()
    street_km = (
        np.bincount(
            street_zone[street_zone >= 0],
            weights=streets["length"].to_numpy()[street_zone >= 0],
            minlength=len(pieces),
        )
        / 1000.0
    )
    zones.extend(pieces, source="roads")
    zones.street_km = street_km
    return [
        "The extract has neither landuse=residential areas nor residential "
        f"buildings: {count(len(pieces), 'zone')} drawn {STREET_BUFFER_M:.0f} m around "
        f"{street_km.sum():.1f} km of residential streets, at "
        f"{housing.road_density_households_per_km:g} households per km of street "
        "(source 'roads')."
    ]


def _zone_households(
    zones: _Zones,
    homes: gpd.GeoDataFrame,
    zone_index: npt.NDArray[np.int64],
    *,
    area: npt.NDArray[np.float64],
    housing: HousingConfig,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Households per zone in apartments and in houses: the sum over the zone's homes,
    or a density estimate (``area`` in m^2) for a residential area without mapped homes
    and for a street zone; returns them and the note on the first fallback."""
    n = len(zones)
    assigned = zone_index >= 0
    is_apartment = (homes["housing"] == "apartment").to_numpy()
    weights = homes["households"].to_numpy(dtype=float)
    # NOTE: when no home lies in any zone, bincount returns int64 and the density
    # estimates below are truncated to whole households; kept as it was so that results
    # do not change (casting to float here would fix it).
    apartment = np.bincount(
        zone_index[assigned], weights=(weights * is_apartment)[assigned], minlength=n
    )
    house = np.bincount(
        zone_index[assigned], weights=(weights * ~is_apartment)[assigned], minlength=n
    )
    total_homes = apartment.sum() + house.sum()
    apartment_share = apartment.sum() / total_homes if total_homes > 0 else 1.0
    sources = np.array(zones.sources, dtype=object)
    notes = []
    empty = (apartment + house == 0) & (sources == "landuse")
    if empty.any():
        estimate = area[empty] / 10_000.0 * housing.zone_density_households_per_ha
        apartment[empty] = estimate * apartment_share
        house[empty] = estimate * (1.0 - apartment_share)
        notes.append(
            f"{count(int(empty.sum()), 'residential area')} without mapped homes "
            f"estimated at {housing.zone_density_households_per_ha:g} households per "
            f"hectare ({estimate.sum():.0f} households in all)."
        )
    roads = sources == "roads"
    if roads.any():
        estimate = zones.street_km[roads] * housing.road_density_households_per_km
        apartment[roads] = estimate * apartment_share
        house[roads] = estimate * (1.0 - apartment_share)
    return apartment, house, notes


def _snapped_zones(
    zones: _Zones,
    graph: nx.MultiDiGraph,
    *,
    geoms: gpd.GeoSeries,
    area: npt.NDArray[np.float64],
    apartment: np.ndarray,
    house: np.ndarray,
    max_snap_m: float,
) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.bool_], list[str]]:
    """The zones' frame (all of them, ids ``z0001``...; ``geoms`` and ``area`` in m^2 in
    the graph's CRS), snapped by centroid; which are farther than ``max_snap_m`` (m)
    from the network, and the note on them."""
    crs = graph.graph["crs"]
    n = len(zones)
    centroids = geoms.centroid
    xy = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()]).reshape(-1, 2)
    node, dist = snap(graph, xy)
    frame = gpd.GeoDataFrame(
        {
            "zone_id": np.array([f"z{i + 1:04d}" for i in range(n)], dtype=object),
            "name": np.array(zones.names, dtype=object),
            "source": np.array(zones.sources, dtype=object),
            "households": apartment + house,
            "households_apartment": apartment,
            "households_house": house,
            "area_m2": area,
            "node": node,
            "snap_dist_m": dist,
        },
        geometry=geoms.to_numpy(),
        crs=crs,
    )
    far = frame["snap_dist_m"].to_numpy() > max_snap_m
    notes = []
    if far.any():
        notes.append(
            f"{count(int(far.sum()), 'residential zone')} farther than {max_snap_m:g} m "
            f"from the road network dropped ({frame['households'][far].sum():.0f} "
            "households)."
        )
    return frame, far, notes


def _snapped_buildings(
    homes: gpd.GeoDataFrame,
    home_points: gpd.GeoSeries,
    *,
    zone_ids: npt.NDArray[np.object_],
    far: npt.NDArray[np.bool_],
    graph: nx.MultiDiGraph,
) -> gpd.GeoDataFrame:
    """The homes in a kept zone (``homes.zone_pos``), with their zone id, snapped."""
    homes = homes[homes["zone_pos"] >= 0]
    homes = homes[~far[homes["zone_pos"].to_numpy()]] if len(homes) else homes
    points = home_points.loc[homes.index]
    b_node, b_dist = snap(graph, np.column_stack([points.x.to_numpy(), points.y.to_numpy()]))
    homes = homes.assign(
        zone_id=zone_ids[homes["zone_pos"].to_numpy().astype(np.int64)] if len(homes) else [],
        node=b_node,
        snap_dist_m=b_dist,
    )
    return gpd.GeoDataFrame(
        homes[list(BUILDING_COLUMNS)].reset_index(drop=True),
        geometry="geometry",
        crs=graph.graph["crs"],
    )


def build_zones(
    landuse: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph,
    *,
    housing: HousingConfig,
    max_snap_m: float,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """Build residential zones and residential buildings with households, snapped to nodes.

    Parameters
    ----------
    landuse
        ``landuse=residential`` polygons (``osm_id``, ``name``), in the graph's CRS.
    buildings
        All building outlines (``osm_id``, ``building``, ``levels``), graph's CRS.
    graph
        Projected road graph (metres).
    housing
        ``region.housing``: household estimation parameters.
    max_snap_m
        Zones whose centroid is farther (m) from the nearest node are dropped.

    Returns
    -------
    zones, buildings, notes
        GeoDataFrames with :data:`~sim.region.model.ZONE_COLUMNS` and
        :data:`~sim.region.model.BUILDING_COLUMNS` in the graph's CRS, and notes.
    """
    crs = graph.graph["crs"]
    landuse = _clean_landuse(landuse)
    buildings = buildings[buildings.geom_type.isin(["Polygon", "MultiPolygon"])]
    buildings = buildings.reset_index(drop=True)
    points = buildings.geometry.representative_point()
    zone_of = _within(points, landuse.geometry)
    homes, notes = estimate_households(
        buildings, in_zone=(zone_of >= 0).to_numpy(), housing=housing
    )
    home_points = points.loc[homes.index]

    zones = _Zones(
        geoms=list(landuse.geometry),
        names=[n if isinstance(n, str) else "" for n in landuse["name"]],
        sources=["landuse"] * len(landuse),
        street_km=np.zeros(len(landuse)),
    )
    zone_index = zone_of.loc[homes.index].to_numpy().copy()  # zone position, -1 = none yet
    notes += _cluster_zones(zones, homes, home_points, zone_index, landuse=landuse, crs=crs)
    if not len(zones):
        notes += _street_zones(zones, graph, crs=crs, housing=housing)
    homes = homes.assign(zone_pos=zone_index)

    geoms = gpd.GeoSeries(zones.geoms, crs=crs)
    area = geoms.area.to_numpy(dtype=float) if len(zones) else np.zeros(0)
    apartment, house, more = _zone_households(zones, homes, zone_index, area=area, housing=housing)
    notes += more
    frame, far, more = _snapped_zones(
        zones,
        graph,
        geoms=geoms,
        area=area,
        apartment=apartment,
        house=house,
        max_snap_m=max_snap_m,
    )
    notes += more
    buildings_out = _snapped_buildings(
        homes,
        home_points,
        zone_ids=frame["zone_id"].to_numpy(),
        far=far,
        graph=graph,
    )
    frame = frame[~far].reset_index(drop=True)
    frame = gpd.GeoDataFrame(frame[list(ZONE_COLUMNS)], geometry="geometry", crs=crs)
    return _typed_zones(frame), _typed_buildings(buildings_out), notes


def _typed_zones(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return zones.astype(
        {
            "zone_id": str,
            "name": str,
            "source": str,
            "households": float,
            "households_apartment": float,
            "households_house": float,
            "area_m2": float,
            "node": np.int64,
            "snap_dist_m": float,
        }
    )


def _typed_buildings(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return buildings.astype(
        {
            "building_id": str,
            "building": str,
            "housing": str,
            "zone_id": str,
            "levels": float,
            "footprint_m2": float,
            "households": float,
            "node": np.int64,
            "snap_dist_m": float,
        }
    )
