"""Options of the region stage: how households are estimated and which candidates to keep.

The config module builds these from the ``region`` and ``candidates`` sections of a
scenario; every field has a default so ``RegionOptions()`` works offline on the sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sim.errors import ConfigError

#: Candidate kinds read from OpenStreetMap tags (``amenity=...`` or ``highway=...``).
OSM_CANDIDATE_KINDS: tuple[str, ...] = (
    "parking",
    "fuel",
    "services",
    "rest_area",
    "charging_station",
)

_DEFAULT_LEVELS: Mapping[str, float] = MappingProxyType(
    {
        "apartments": 6.0,
        "residential": 4.0,
        "dormitory": 6.0,
        "house": 1.0,
        "detached": 1.0,
        "semidetached_house": 1.0,
        "terrace": 2.0,
        "bungalow": 1.0,
        "yes": 2.0,
    }
)


def _positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        expected = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ConfigError(f"{owner}.{name} = {value!r}: expected {expected}")


@dataclass(frozen=True)
class HousingParams:
    """How households are estimated from OSM buildings and residential areas.

    Attributes
    ----------
    floor_area_per_household_m2
        Gross floor area per dwelling (m^2) in apartment buildings; an apartment
        building holds ``footprint_m2 * levels / floor_area_per_household_m2``
        households (at least 1).
    default_levels
        Storeys assumed, by OSM ``building`` tag, when ``building:levels`` is missing.
        Tags not listed count as 1 storey.
    house_tags
        ``building`` tags of houses (``households_per_house`` households each, except
        ``terrace``, which is estimated from floor area like an apartment building).
    apartment_tags
        ``building`` tags of apartment buildings.
    households_per_house
        Households in one detached-type house.
    min_footprint_m2
        Building outlines smaller than this (m^2; sheds, garages) are ignored.
    zone_density_households_per_ha
        Households per hectare of a residential area that has no mapped buildings.
    road_density_households_per_km
        Households per km of residential street, used when the extract has neither
        ``landuse=residential`` areas nor residential buildings.
    """

    floor_area_per_household_m2: float = 90.0
    default_levels: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_LEVELS)
    house_tags: tuple[str, ...] = (
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "farm",
        "cabin",
    )
    apartment_tags: tuple[str, ...] = ("apartments", "residential", "dormitory")
    households_per_house: float = 1.0
    min_footprint_m2: float = 20.0
    zone_density_households_per_ha: float = 40.0
    road_density_households_per_km: float = 120.0

    def __post_init__(self) -> None:
        owner = "housing"
        _positive(owner, "floor_area_per_household_m2", self.floor_area_per_household_m2)
        _positive(owner, "households_per_house", self.households_per_house)
        _positive(owner, "min_footprint_m2", self.min_footprint_m2, allow_zero=True)
        _positive(
            owner,
            "zone_density_households_per_ha",
            self.zone_density_households_per_ha,
            allow_zero=True,
        )
        _positive(
            owner,
            "road_density_households_per_km",
            self.road_density_households_per_km,
            allow_zero=True,
        )
        for tag, levels in self.default_levels.items():
            _positive(f"{owner}.default_levels", str(tag), levels)
        # Freeze a caller's plain dict so the dataclass stays hashable-by-identity safe.
        if not isinstance(self.default_levels, MappingProxyType):
            object.__setattr__(self, "default_levels", MappingProxyType(dict(self.default_levels)))
        object.__setattr__(self, "house_tags", tuple(self.house_tags))
        object.__setattr__(self, "apartment_tags", tuple(self.apartment_tags))


@dataclass(frozen=True)
class RegionOptions:
    """Options of :func:`sim.region.load_region`.

    Attributes
    ----------
    housing
        Household estimation parameters.
    candidate_kinds
        OSM candidate kinds to keep, a subset of :data:`OSM_CANDIDATE_KINDS`.
    sites_file
        A GeoJSON (Point features) or CSV (``id,name,lon,lat[,ports]``) file of
        proposed sites in EPSG:4326 (lon/lat degrees); they get kind ``"user"``.
    network_candidates
        Number of extra candidates placed on graph nodes spread over the network by
        deterministic farthest-point sampling (kind ``"node"``).
    max_snap_m
        Zones and candidates farther than this (m) from their nearest graph node
        are dropped, with a note.
    default_station_ports
        Ports assumed for an existing charging station without a ``capacity`` tag.
    """

    housing: HousingParams = field(default_factory=HousingParams)
    candidate_kinds: tuple[str, ...] = OSM_CANDIDATE_KINDS
    sites_file: Path | None = None
    network_candidates: int = 0
    max_snap_m: float = 1000.0
    default_station_ports: int = 2

    def __post_init__(self) -> None:
        kinds = tuple(self.candidate_kinds)
        for kind in kinds:
            if kind not in OSM_CANDIDATE_KINDS:
                raise ConfigError(
                    f"candidate_kinds: unknown kind {kind!r}; expected some of "
                    f"{', '.join(OSM_CANDIDATE_KINDS)}"
                )
        object.__setattr__(self, "candidate_kinds", kinds)
        if self.sites_file is not None and not isinstance(self.sites_file, Path):
            object.__setattr__(self, "sites_file", Path(self.sites_file))
        if (
            isinstance(self.network_candidates, bool)
            or not isinstance(self.network_candidates, int)
            or self.network_candidates < 0
        ):
            raise ConfigError(
                f"network_candidates = {self.network_candidates!r}: expected an integer >= 0"
            )
        _positive("region", "max_snap_m", self.max_snap_m)
        if (
            isinstance(self.default_station_ports, bool)
            or not isinstance(self.default_station_ports, int)
            or self.default_station_ports < 1
        ):
            raise ConfigError(
                f"default_station_ports = {self.default_station_ports!r}: expected an integer >= 1"
            )
