"""The one entry point of the region stage: a ``region`` section in, a :class:`Region` out.

:func:`load_region` holds the one dispatch on the region's source (``sample | file |
place | bbox | synthetic | corridor``, :attr:`sim.config.RegionConfig.source`): each
OSM source picks its reader and all of them go through
:func:`~sim.region.loader.region_from_osm`; a synthetic city and a corridor are
generated.  :func:`build_region` is what a scenario runs: the source, then the zones
file, with the SHA-256 of every input it read (for provenance).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import assert_never

from sim.config import (
    CandidatesConfig,
    CorridorConfig,
    HousingConfig,
    RegionConfig,
    SyntheticRegionConfig,
    file_sha256,
)
from sim.config.schema import (
    BboxSource,
    FileSource,
    PlaceSource,
    RegionSourceConfig,
    SampleSource,
)
from sim.region import download as dl
from sim.region.loader import Progress, read_download, read_file, read_sample, region_from_osm
from sim.region.model import Region
from sim.rng import stream

__all__ = ["build_region", "load_region"]


def _corridor(config: CorridorConfig, /) -> Region:
    from sim.region.corridor import corridor_region

    return corridor_region(
        length_km=config.length_km,
        speed_kph=config.speed_kph,
        node_spacing_km=config.node_spacing_km,
        service_areas=[(a.name, a.km, a.ports) for a in config.service_areas],
        candidate_spacing_km=config.candidate_spacing_km,
        origin_lon=config.origin_lon,
        origin_lat=config.origin_lat,
    )


def _synthetic(config: SyntheticRegionConfig, /, *, seed: int) -> Region:
    # imported here (not at the top) so that a benchmark can wrap the module's function
    from sim.region import synthetic

    return synthetic.synthetic_region(
        layout=config.layout,
        nodes=config.nodes,
        spacing_m=config.spacing_m,
        expressway=config.expressway,
        households=config.households,
        candidates=config.candidates,
        rng=stream(seed, "synthetic-region"),
    )


def load_region(
    source: RegionSourceConfig,
    /,
    *,
    housing: HousingConfig = HousingConfig(),  # noqa: B008 - frozen, immutable default
    candidates: CandidatesConfig = CandidatesConfig(),  # noqa: B008 - frozen, immutable
    cache_dir: Path = Path("maps/cache"),
    seed: int = 0,
    progress: Progress | None = None,
) -> Region:
    """Load a region from its source: projected road graph, zones, buildings, candidates.

    Parameters
    ----------
    source
        ``RegionConfig.source``, or one built directly: ``SampleSource("kotka")``,
        ``FileSource(path)``, ``PlaceSource(name)``, ``BboxSource(w, s, e, n)`` (degrees,
        EPSG:4326), a ``SyntheticRegionConfig`` or a ``CorridorConfig``.
    housing
        ``region.housing``: household estimation (OSM sources only).
    candidates
        The ``candidates`` section: OSM kinds, sites file, network candidates, snapping
        (OSM sources only).
    cache_dir
        ``region.cache_dir``: cache folder of place/bbox downloads.
    seed
        The scenario seed; a synthetic city is drawn from ``stream(seed,
        "synthetic-region")``.
    progress
        Called with a short message at each step of reading OSM data.

    Returns
    -------
    Region
        In a projected CRS (metres); ``provenance`` has ``kind`` (the source's) and
        ``sha256`` (of the data read, or of the generated region; ``"generated"`` for a
        corridor).  See :func:`~sim.region.loader.region_from_osm` for OSM regions.

    Raises
    ------
    DataError, InputFileNotFoundError, RegionDownloadError
        As :func:`~sim.region.loader.region_from_osm`.
    """
    match source:
        case CorridorConfig():
            return _corridor(source)
        case SyntheticRegionConfig():
            return _synthetic(source, seed=seed)
        case SampleSource(name=name):
            read = partial(read_sample, name)
        case FileSource(path=path):
            read = partial(read_file, path)
        case PlaceSource(name=place):
            read = partial(read_download, dl.place_query(place), cache_dir=cache_dir)
        case BboxSource():
            read = partial(read_download, dl.bbox_query(source.bounds), cache_dir=cache_dir)
        case _:
            assert_never(source)
    return region_from_osm(
        lambda report: read(progress=report),
        housing=housing,
        candidates=candidates,
        progress=progress,
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
        The region (projected CRS, metres) and ``{input: sha256}`` of what it read:
        ``region:<kind>``, and ``candidates.file`` / ``region.zones_file`` when given.
    """
    source = region.source
    built = load_region(
        source,
        housing=region.housing,
        candidates=candidates,
        cache_dir=region.cache_dir,
        seed=seed,
    )
    # the data's hash; for a synthetic city the hash of its graph, zones and candidates,
    # so that a changed generator shows
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
            max_snap_m=candidates.max_snap_m,
        )
        checksums["region.zones_file"] = file_sha256(region.zones_file)
    return built, checksums
