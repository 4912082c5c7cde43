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

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from sim.region._text import count
from sim.region.housing import estimate_households
from sim.region.model import BUILDING_COLUMNS, ZONE_COLUMNS
from sim.region.network import residential_streets, snap
from sim.region.options import HousingParams

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


def build_zones(
    landuse: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph,
    *,
    params: HousingParams,
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
    params
        Household estimation parameters.
    max_snap_m
        Zones whose centroid is farther (m) from the nearest node are dropped.

    Returns
    -------
    zones, buildings, notes
        GeoDataFrames with :data:`~sim.region.model.ZONE_COLUMNS` and
        :data:`~sim.region.model.BUILDING_COLUMNS` in the graph's CRS, and notes.
    """
    crs = graph.graph["crs"]
    notes: list[str] = []

    landuse = landuse.assign(geometry=_polygonal(landuse.geometry))
    landuse = landuse[landuse.geometry.notna() & ~landuse.geometry.is_empty]
    # An area mapped twice (a way and a multipolygon with the same outline) is one zone,
    # named if either copy has a name.
    unnamed = ~landuse["name"].map(lambda v: isinstance(v, str) and v != "")
    landuse = landuse.assign(unnamed=unnamed.to_numpy()).sort_values(["unnamed", "osm_id"])
    landuse = landuse[~landuse.geometry.normalize().to_wkb().duplicated()]
    landuse = landuse.sort_values("osm_id", kind="stable").reset_index(drop=True)

    buildings = buildings[buildings.geom_type.isin(["Polygon", "MultiPolygon"])]
    buildings = buildings.reset_index(drop=True)
    points = buildings.geometry.representative_point()
    zone_of = _within(points, landuse.geometry)
    homes, housing_notes = estimate_households(
        buildings, in_zone=(zone_of >= 0).to_numpy(), params=params
    )
    notes.extend(housing_notes)
    home_points = points.loc[homes.index]
    home_zone = zone_of.loc[homes.index]

    zone_geoms = list(landuse.geometry)
    zone_names = [n if isinstance(n, str) else "" for n in landuse["name"]]
    zone_sources = ["landuse"] * len(landuse)
    zone_index = home_zone.to_numpy().copy()  # position in zone_geoms, -1 = none yet

    outside = zone_index < 0
    if outside.any():
        clusters = _pieces(homes.geometry[outside], BUILDING_CLUSTER_BUFFER_M, crs)
        if len(landuse):
            clusters = clusters.difference(landuse.geometry.union_all())
            clusters = clusters.explode(index_parts=False)
            clusters = clusters[~clusters.is_empty]
        clusters = _sorted_by_position(clusters.reset_index(drop=True))
        cluster_of = _within(home_points[outside], clusters).to_numpy()
        used = np.unique(cluster_of[cluster_of >= 0])
        renumber = {int(old): len(zone_geoms) + new for new, old in enumerate(used)}
        zone_geoms.extend(clusters.iloc[used])
        zone_names.extend([""] * len(used))
        zone_sources.extend(["buildings"] * len(used))
        zone_index[outside] = [renumber.get(int(c), -1) for c in cluster_of]
        n_out = int(outside.sum())
        if len(landuse):
            notes.append(
                f"{count(n_out, 'residential building')} outside every landuse=residential "
                f"area grouped into {count(len(used), 'extra zone')} (source 'buildings')."
            )
        else:
            notes.append(
                "The extract has no landuse=residential areas: "
                f"{count(len(used), 'residential zone')} formed from clusters of "
                f"{count(n_out, 'residential building')} (source 'buildings')."
            )

    street_km = np.zeros(len(zone_geoms))
    if not zone_geoms:
        streets = residential_streets(graph)
        if len(streets):
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
            zone_geoms = list(pieces)
            zone_names = [""] * len(pieces)
            zone_sources = ["roads"] * len(pieces)
            notes.append(
                "The extract has neither landuse=residential areas nor residential "
                f"buildings: {count(len(pieces), 'zone')} drawn {STREET_BUFFER_M:.0f} m around "
                f"{street_km.sum():.1f} km of residential streets, at "
                f"{params.road_density_households_per_km:g} households per km of street "
                "(source 'roads')."
            )
        else:
            notes.append(
                "No residential areas, residential buildings or residential streets were "
                "found: the region has no residential zones."
            )

    homes = homes.assign(zone_pos=zone_index)
    n = len(zone_geoms)
    assigned = zone_index >= 0
    is_apartment = (homes["housing"] == "apartment").to_numpy()
    weights = homes["households"].to_numpy(dtype=float)
    apartment = np.bincount(
        zone_index[assigned], weights=(weights * is_apartment)[assigned], minlength=n
    )
    house = np.bincount(
        zone_index[assigned], weights=(weights * ~is_apartment)[assigned], minlength=n
    )
    geoms = gpd.GeoSeries(zone_geoms, crs=crs)
    area = geoms.area.to_numpy(dtype=float) if n else np.zeros(0)

    total_homes = apartment.sum() + house.sum()
    apartment_share = apartment.sum() / total_homes if total_homes > 0 else 1.0
    sources = np.array(zone_sources, dtype=object)
    empty = (apartment + house == 0) & (sources == "landuse")
    if empty.any():
        estimate = area[empty] / 10_000.0 * params.zone_density_households_per_ha
        apartment[empty] = estimate * apartment_share
        house[empty] = estimate * (1.0 - apartment_share)
        notes.append(
            f"{count(int(empty.sum()), 'residential area')} without mapped homes "
            f"estimated at {params.zone_density_households_per_ha:g} households per "
            f"hectare ({estimate.sum():.0f} households in all)."
        )
    roads = sources == "roads"
    if roads.any():
        estimate = street_km[roads] * params.road_density_households_per_km
        apartment[roads] = estimate * apartment_share
        house[roads] = estimate * (1.0 - apartment_share)

    zone_ids = np.array([f"z{i + 1:04d}" for i in range(n)], dtype=object)
    centroids = geoms.centroid
    xy = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()]).reshape(-1, 2)
    node, dist = snap(graph, xy)
    zones = gpd.GeoDataFrame(
        {
            "zone_id": zone_ids,
            "name": np.array(zone_names, dtype=object),
            "source": sources,
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
    far = zones["snap_dist_m"].to_numpy() > max_snap_m
    if far.any():
        notes.append(
            f"{count(int(far.sum()), 'residential zone')} farther than {max_snap_m:g} m "
            f"from the road network dropped ({zones['households'][far].sum():.0f} "
            "households)."
        )
    zones = zones[~far].reset_index(drop=True)

    homes = homes[homes["zone_pos"] >= 0]
    homes = homes[~far[homes["zone_pos"].to_numpy()]] if len(homes) else homes
    b_node, b_dist = snap(
        graph,
        np.column_stack(
            [home_points.loc[homes.index].x.to_numpy(), home_points.loc[homes.index].y.to_numpy()]
        ),
    )
    homes = homes.assign(
        zone_id=zone_ids[homes["zone_pos"].to_numpy().astype(np.int64)] if len(homes) else [],
        node=b_node,
        snap_dist_m=b_dist,
    )
    buildings_out = gpd.GeoDataFrame(
        homes[list(BUILDING_COLUMNS)].reset_index(drop=True), geometry="geometry", crs=crs
    )
    zones = gpd.GeoDataFrame(zones[list(ZONE_COLUMNS)], geometry="geometry", crs=crs)
    return _typed_zones(zones), _typed_buildings(buildings_out), notes


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
