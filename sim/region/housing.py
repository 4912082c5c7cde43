"""Households per residential building, from OSM building tags, footprints and levels.

Rules (parameters in ``region.housing``, :class:`~sim.config.HousingConfig`; tag lists
in :mod:`sim.config.schema`; ``fa`` below is ``floor_area_per_household_m2``):

* outlines under ``min_footprint_m2`` are ignored;
* residential buildings are those tagged with one of ``APARTMENT_BUILDING_TAGS`` or
  ``HOUSE_BUILDING_TAGS``,
  plus ``building=yes`` inside a ``landuse=residential`` zone;
* apartment buildings and terraces hold ``footprint x levels / fa`` households (at
  least 1), levels from ``building:levels`` or ``default_levels`` for the tag;
* houses hold ``households_per_house``;
* generic tags (``yes``, ``residential``) say nothing about the building type.  Without
  ``building:levels`` a generic building with a footprint under ``2 x fa`` (180 m^2 by
  default, the size of a detached house) counts as a house, and a ``building=yes``
  whose floor area (footprint x levels) is under ``fa`` is taken for an outbuilding
  (garage, sauna, shed) and ignored.  Both are reported in the region's notes.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.config.schema import APARTMENT_BUILDING_TAGS, HOUSE_BUILDING_TAGS, HousingConfig
from sim.region._text import count

#: Building tags that do not say whether a building is a house or a block of flats.
GENERIC_TAGS = ("yes", "residential")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def parse_levels(value: object) -> float | None:
    """Storeys from a ``building:levels`` value, or None when unusable.

    Takes the first number (``"5"``, ``"4.5"``, ``"3;5"``, ``"2-4"``); values outside
    (0, 200] are treated as missing.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = _NUMBER.search(str(value))
    if match is None:
        return None
    levels = float(match.group().replace(",", "."))
    return levels if 0 < levels <= 200 else None


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    in_zone: npt.NDArray[np.bool_],
    housing: HousingConfig,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Keep the residential buildings and estimate their households.

    Parameters
    ----------
    buildings
        Building outlines in a projected CRS (metres) with columns ``osm_id``,
        ``building`` and ``levels`` (raw ``building:levels`` text or None).
    in_zone
        Per building, whether its representative point lies in a
        ``landuse=residential`` zone (decides whether ``building=yes`` is residential).
    housing
        ``region.housing``: household estimation parameters.

    Returns
    -------
    buildings, notes
        The residential buildings (original index kept) with ``building_id``,
        ``building``, ``housing`` ("apartment" | "house"), ``levels``,
        ``footprint_m2`` (m^2), ``households`` and ``geometry``; and notes on the
        generic-tag rules applied.
    """
    columns = ["building_id", "building", "housing", "levels", "footprint_m2", "households"]
    if len(buildings) == 0:
        empty = gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in columns},
            geometry=gpd.GeoSeries([], crs=buildings.crs),
            crs=buildings.crs,
        )
        return empty, []
    fa = housing.floor_area_per_household_m2
    tag = buildings["building"].fillna("").astype(str).str.strip().str.lower().to_numpy()
    footprint = buildings.geometry.area.to_numpy(dtype=float)
    tagged_levels = np.array(
        [np.nan if (v := parse_levels(x)) is None else v for x in buildings["levels"]],
        dtype=float,
    )
    has_levels = ~np.isnan(tagged_levels)
    default = np.array([housing.default_levels.get(t, 1.0) for t in tag], dtype=float)
    levels = np.where(has_levels, tagged_levels, default)
    floor_area = footprint * levels

    apartment_tag = np.isin(tag, APARTMENT_BUILDING_TAGS)
    house_tag = np.isin(tag, HOUSE_BUILDING_TAGS) & ~apartment_tag
    is_yes = (tag == "yes") & ~apartment_tag & ~house_tag & np.asarray(in_zone, dtype=bool)
    big_enough = footprint >= housing.min_footprint_m2

    generic = np.isin(tag, GENERIC_TAGS) & (apartment_tag | is_yes) & ~has_levels
    small_generic = generic & (footprint < 2 * fa)
    outbuilding = is_yes & (floor_area < fa)
    keep = big_enough & (apartment_tag | house_tag | is_yes) & ~outbuilding

    by_floor_area = (apartment_tag | is_yes | (tag == "terrace")) & ~small_generic
    households = np.where(
        by_floor_area, np.maximum(1.0, floor_area / fa), housing.households_per_house
    )
    housing_type = np.where((apartment_tag | is_yes) & ~small_generic, "apartment", "house")

    out = gpd.GeoDataFrame(
        {
            "building_id": buildings["osm_id"].astype(str).to_numpy(),
            "building": tag,
            "housing": housing_type,
            "levels": levels,
            "footprint_m2": footprint,
            "households": households.astype(float),
        },
        geometry=buildings.geometry.to_numpy(),
        index=buildings.index,
        crs=buildings.crs,
    )[keep]

    notes = []
    n_small = int((small_generic & keep).sum())
    if n_small:
        notes.append(
            f"{count(n_small, 'building')} tagged only 'yes' or 'residential', without "
            f"building:levels and under {2 * fa:.0f} m^2 of footprint, counted as "
            "houses (one household each)."
        )
    n_out = int((outbuilding & big_enough).sum())
    if n_out:
        notes.append(
            f"{count(n_out, 'building')} tagged 'yes' inside residential areas with less "
            f"floor area than one dwelling ({fa:.0f} m^2) taken for garages or sheds "
            "and left out."
        )
    return out, notes
