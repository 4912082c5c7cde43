"""The region stage: road graph, residential zones, buildings and candidate sites.

``load_region`` and friends are imported lazily: they need osmnx, whose import takes
seconds (scikit-learn), and most importers of :mod:`sim.region` only want the data
contract in :mod:`sim.region.model` or the options.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.region.model import Region
from sim.region.options import HousingParams, RegionOptions

if TYPE_CHECKING:
    from sim.region.loader import RegionSource, describe_region, load_region, region_checksum

__all__ = [
    "HousingParams",
    "Region",
    "RegionOptions",
    "RegionSource",
    "describe_region",
    "load_region",
    "region_checksum",
]

_LAZY = {"RegionSource", "describe_region", "load_region", "region_checksum"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("sim.region.loader"), name)
    raise AttributeError(f"module 'sim.region' has no attribute {name!r}")
