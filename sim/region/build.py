"""The one entry point of the region stage: a ``region`` section in, a :class:`Region` out.

:func:`build_region` dispatches on the region's source (``sample | file | place | bbox |
synthetic | corridor``), then applies the candidate sites file and the zones file, and
returns the region with the SHA-256 of every input it read (for provenance).
"""

from __future__ import annotations

from sim.config import CandidatesConfig, RegionConfig, file_sha256
from sim.region.loader import RegionSource, load_region
from sim.region.model import Region
from sim.region.options import HousingParams, RegionOptions
from sim.rng import stream

__all__ = ["build_region", "region_options", "region_source"]


def region_source(region: RegionConfig, /) -> RegionSource:
    """The :class:`RegionSource` of an OSM-backed ``region`` section."""
    if region.sample is not None:
        return RegionSource(kind="sample", value=region.sample)
    if region.file is not None:
        return RegionSource(kind="file", value=str(region.file))
    if region.place is not None:
        return RegionSource(kind="place", value=region.place)
    assert region.bbox is not None
    w, south, e, n = region.bbox
    return RegionSource(kind="bbox", value=(w, south, e, n))


def region_options(region: RegionConfig, candidates: CandidatesConfig, /) -> RegionOptions:
    """The OSM loader's options from the ``region`` and ``candidates`` sections."""
    h = region.housing
    c = candidates
    return RegionOptions(
        housing=HousingParams(
            floor_area_per_household_m2=h.floor_area_per_household_m2,
            default_levels=dict(h.default_levels),
            households_per_house=h.households_per_house,
            min_footprint_m2=h.min_footprint_m2,
            zone_density_households_per_ha=h.zone_density_households_per_ha,
            road_density_households_per_km=h.road_density_households_per_km,
        ),
        candidate_kinds=tuple(c.kinds),
        sites_file=c.file,
        network_candidates=c.network_nodes,
        max_snap_m=c.max_snap_m,
        default_station_ports=c.existing_ports_default,
    )


def build_region(
    region: RegionConfig,
    /,
    *,
    candidates: CandidatesConfig,
    cars_per_household: float,
    seed: int,
) -> tuple[Region, dict[str, str]]:
    """Build the region a scenario describes.

    Parameters
    ----------
    region
        The ``region`` section.
    candidates
        The ``candidates`` section (OSM kinds, sites file, network candidates, snapping).
    cars_per_household
        ``demand.residential.cars_per_household``, for zones files that give households.
    seed
        The scenario seed (a synthetic city is drawn from ``stream(seed,
        "synthetic-region")``).

    Returns
    -------
    tuple
        The region (projected CRS, metres) and ``{input: sha256}`` of what it read.
    """
    syn = region.synthetic
    cor = region.corridor
    if cor is not None:
        from sim.region.corridor import corridor_region

        built = corridor_region(
            length_km=cor.length_km,
            speed_kph=cor.speed_kph,
            node_spacing_km=cor.node_spacing_km,
            service_areas=[(a.name, a.km, a.ports) for a in cor.service_areas],
            candidate_spacing_km=cor.candidate_spacing_km,
            origin_lon=cor.origin_lon,
            origin_lat=cor.origin_lat,
        )
        checksums = {"region:corridor": "generated"}
    elif syn is not None:
        from sim.region.synthetic import synthetic_region

        built = synthetic_region(
            layout=syn.layout,
            nodes=syn.nodes,
            spacing_m=syn.spacing_m,
            expressway=syn.expressway,
            households=syn.households,
            candidates=syn.candidates,
            rng=stream(seed, "synthetic-region"),
        )
        # the hash of the generated graph, zones and candidates: a changed generator shows
        checksums = {"region:synthetic": str(built.provenance.get("sha256", ""))}
    else:
        source = region_source(region)
        built = load_region(
            source, options=region_options(region, candidates), cache_dir=region.cache_dir
        )
        checksums = {f"region:{source.kind}": str(built.provenance.get("sha256", ""))}
    if candidates.file is not None:
        checksums["candidates.file"] = file_sha256(candidates.file)
    if region.zones_file is not None:
        from sim.region.zones_file import apply_zones_file

        built = apply_zones_file(
            built,
            region.zones_file,
            mode=region.zones_mode,
            cars_per_household=cars_per_household,
            private_space_charger_share=region.private_space_charger_share,
        )
        checksums["region.zones_file"] = file_sha256(region.zones_file)
    return built, checksums
