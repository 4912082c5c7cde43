"""Whether the rows of a user's file (zones, sites, plan) lie in the region at all.

The region's *extent* is the bounding box of its road network (every node of its graph)
widened on each side by ``candidates.max_snap_m``.  A point of a file outside it belongs
to another place, or has its coordinates mixed up: :func:`check_within` stops the run
naming the file and the rows (the first :data:`~sim.region.fields.LISTED`, with the
count), and says "looks like lat/lon swapped" when the swapped point, (y, x), lies
inside.  A point inside the extent but farther than ``max_snap_m`` from the roads is not
an error here: each reader keeps its own rule (a site dropped with a note, a plan's new
site refused, a zone snapped however far).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pyproj

from sim.errors import DataError
from sim.region.fields import listing, pair_text
from sim.region.network import graph_crs, node_coords

__all__ = ["Extent", "check_within"]


@dataclass(frozen=True)
class Extent:
    """A region's road network bounding box widened by a margin.

    Attributes
    ----------
    crs
        The region's projected CRS.
    bounds
        ``(west, south, east, north)`` in ``crs`` (m), widened by ``margin_m``.
    margin_m
        The widening (``candidates.max_snap_m``).
    """

    crs: str
    bounds: tuple[float, float, float, float]
    margin_m: float

    @classmethod
    def of(cls, graph: nx.MultiDiGraph, /, *, margin_m: float) -> Extent:
        """The extent of a projected road graph (every node) widened by ``margin_m``."""
        xy = node_coords(graph, list(graph.nodes))
        if len(xy) == 0:
            bounds = (np.inf, np.inf, -np.inf, -np.inf)  # contains nothing
        else:
            lo, hi = xy.min(axis=0) - margin_m, xy.max(axis=0) + margin_m
            bounds = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        return cls(crs=graph_crs(graph), bounds=bounds, margin_m=float(margin_m))

    def contains(self, x: npt.ArrayLike, y: npt.ArrayLike, *, crs: object) -> np.ndarray:
        """bool per point (``x``, ``y`` in ``crs``): it lies in the extent."""
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs)
        if len(pts) == 0:
            return np.zeros(0, dtype=bool)
        pts = pts.to_crs(self.crs)
        px, py = pts.x.to_numpy(float), pts.y.to_numpy(float)
        west, south, east, north = self.bounds
        with np.errstate(invalid="ignore"):
            return (px >= west) & (px <= east) & (py >= south) & (py <= north)

    def describe(self) -> str:
        """What the extent is, in words and degrees, for messages."""
        west, south, east, north = self.bounds
        if not west <= east:
            return "the region has no road network"
        to_wgs = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        w, s, e, n = to_wgs.transform_bounds(west, south, east, north, densify_pts=21)
        return (
            f"the region is the bounding box of its road network widened by "
            f"candidates.max_snap_m = {self.margin_m:g} m: lon {w:.3f}..{e:.3f}, "
            f"lat {s:.3f}..{n:.3f}"
        )


def check_within(
    extent: Extent,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    places: Sequence[str],
    *,
    crs: object,
    label: str,
    noun: str,
    pair: str,
) -> None:
    """Every point lies in the region's extent.

    Parameters
    ----------
    extent
        The region's extent.
    x, y
        Per point, the values the file holds (lon, lat for a CSV), in ``crs``.
    places
        Per point, its place in the file (``"row 4"``, ``"feature 2"``).
    crs
        The file's CRS.
    label
        The file, as messages name it.
    noun
        What the points are, plural (``"sites"``).
    pair
        How the file holds the two values (``"columns lon,lat"``, ``"coordinates"``).

    Raises
    ------
    DataError
        ``"zones.csv: 2 of 3 zones lie outside the region: columns lon,lat hold (0, 0)
        at row 4 and (24.1, 60.2) at row 5; is the file for another region? (the region
        is ...)"``.  When every point outside would lie inside with x and y swapped:
        ``"...; looks like lat/lon swapped: columns lon,lat hold (22.7, 114.2) at row 2,
        ..., and swapped they all lie inside (the region is ...)"``.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    outside = [int(k) for k in np.flatnonzero(~extent.contains(xs, ys, crs=crs))]
    if not outside:
        return
    swap_in = extent.contains(ys[outside], xs[outside], crs=crs)
    held = [f"{pair_text(xs[k], ys[k])} at {places[k]}" for k in outside]
    one = len(outside) == 1
    head = (
        f"{label}: {len(outside)} of {len(xs)} {noun} {'lies' if one else 'lie'} outside the region"
    )
    if swap_in.all():
        raise DataError(
            f"{head}; looks like lat/lon swapped: {pair} hold {listing(held)}, and "
            f"swapped {'it lies' if one else 'they all lie'} inside ({extent.describe()})"
        )
    hint = ""
    if swap_in.any():
        rows = [places[k] for k, s in zip(outside, swap_in, strict=True) if s]
        hint = f"; {listing(rows)} would lie inside with lat/lon swapped"
    raise DataError(
        f"{head}: {pair} hold {listing(held)}{hint}; is the file for another region? "
        f"({extent.describe()})"
    )
