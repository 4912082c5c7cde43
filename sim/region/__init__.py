"""Stage 1, the region: where people live, the roads they drive and where chargers may go.

Takes the ``region`` section (its one source: ``sample``, ``file``, ``place``, ``bbox``,
``synthetic`` or ``corridor``; ``housing``; a planner's ``zones_file``) and the
``candidates`` section (OSM kinds, a sites file, network candidates, snapping), and the
data they name: OSM extracts (``.osm.pbf`` through pyrosm, ``.osm``/``.osm.bz2`` through
osmnx), downloads of a place or bbox (through osmnx, cached under ``maps/``), users'
CSV/GeoJSON/GeoPackage tables.

Gives a :class:`Region`: the road graph projected to the local UTM zone (metres; edges
with ``length`` m, ``speed_kph``, ``travel_time`` s), residential zones with
households, residential buildings, and candidate sites, every row snapped to a graph
node on the strongly connected core; plus notes on what was inferred and provenance.
Plan files (:mod:`sim.region.plan_file`) and through-traffic gates
(:mod:`sim.region.gates`) are read here too.

The entry points are :func:`sim.region.build.build_region` (a scenario's sections) and
:func:`load_region` (one source, for tests and benchmarks).  They are imported lazily:
most importers of :mod:`sim.region` only want the data contract in
:mod:`sim.region.model`, and the readers import osmnx (seconds: pyplot, scikit-learn)
only for XML extracts and downloads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.region.model import Region

if TYPE_CHECKING:
    from sim.region.build import build_region, load_region
    from sim.region.loader import describe_region

__all__ = [
    "Region",
    "build_region",
    "describe_region",
    "load_region",
]

_LAZY = {
    "build_region": "sim.region.build",
    "load_region": "sim.region.build",
    "describe_region": "sim.region.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'sim.region' has no attribute {name!r}")
