"""Checks shared by the readers of users' tables (sites, plans, zones): one message per
bad cell, naming where it is, the column and the value; coordinates out of range are
named together (the first rows and the count), and said to look swapped when they do."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.errors import DataError

__all__ = [
    "LISTED",
    "check_degrees",
    "coordinate_text",
    "is_blank",
    "listing",
    "pair_text",
    "parse_count",
    "parse_number",
]


def is_blank(raw: Any) -> bool:
    """A missing cell: ``None``, NaN (a GIS driver's blank) or only spaces."""
    return raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == ""


def parse_number(where: str, column: str, raw: Any) -> float:
    """``raw`` as a finite float.

    Raises
    ------
    DataError
        ``"<where>: <column> = <raw> is not a (finite) number"``.
    """
    if isinstance(raw, bool):
        raise DataError(f"{where}: {column} = {raw!r} is not a number")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {column} = {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {column} = {raw!r} is not a finite number")
    return value


def parse_count(where: str, column: str, raw: Any, *, low: int, high: int | None = None) -> int:
    """``raw`` as a whole number in ``low..high``; a blank cell gives 0.

    Raises
    ------
    DataError
        ``"<where>: <column> = <raw> is not a whole number in <low>..<high>"`` (``">= low"``
        without ``high``).
    """
    if is_blank(raw):
        return 0
    value = parse_number(where, column, raw)
    if value != int(value) or value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in {low}..{high}"
        raise DataError(f"{where}: {column} = {raw!r} is not a whole number {span}")
    return int(value)


#: Rows a message lists before "and N more".
LISTED = 5


def coordinate_text(value: float) -> str:
    """A coordinate as a message shows it: at most 5 decimals, no trailing zeros."""
    if not math.isfinite(value):
        return repr(value)
    return f"{value:.5f}".rstrip("0").rstrip(".")


def pair_text(x: float, y: float) -> str:
    """``"(x, y)"`` with :func:`coordinate_text`."""
    return f"({coordinate_text(x)}, {coordinate_text(y)})"


def listing(items: Sequence[str], total: int | None = None) -> str:
    """``"a, b and c"``; with more than :data:`LISTED` items (or ``total`` larger than
    the number given) the first :data:`LISTED` and ``"and N more"``."""
    total = len(items) if total is None else total
    shown = list(items[:LISTED])
    more = total - len(shown)
    if more > 0:
        return f"{', '.join(shown)} and {more} more"
    if len(shown) > 1:
        return f"{', '.join(shown[:-1])} and {shown[-1]}"
    return shown[0] if shown else ""


def _out_of_range(lon: float, lat: float) -> str:
    if not abs(lat) <= 90.0:
        return f"lat = {float(lat)!r} is outside [-90, 90]"
    return f"lon = {float(lon)!r} is outside [-180, 180]"


def check_degrees(
    label: str,
    places: Sequence[str],
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    noun: str,
    pair: str,
) -> None:
    """Every point is in degrees: lon in [-180, 180], lat in [-90, 90].

    Parameters
    ----------
    label
        The file, as messages name it.
    places
        Per point, its place in the file (``"row 4"``, ``"feature 2"``).
    lon, lat
        Per point, the values the file holds (NaN: no point, not checked).
    noun
        What the points are, plural (``"sites"``), for a message on several.
    pair
        How the file holds the two values (``"columns lon,lat"``, ``"coordinates"``).

    Raises
    ------
    DataError
        Naming the points out of range (the first :data:`LISTED`, with the count), e.g.
        ``"sites.csv row 4: lat = 95.0 is outside [-90, 90]"``; when every such point
        has a latitude beyond +-90 and a longitude that would be a latitude, the message
        adds ``"looks like lat/lon swapped: columns lon,lat hold (22.7, 114.2)"``.
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    given = ~(np.isnan(x) | np.isnan(y))
    bad = [int(k) for k in np.flatnonzero(given & ~((np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)))]
    if not bad:
        return
    swapped = all(abs(y[k]) > 90.0 and abs(x[k]) <= 90.0 for k in bad)
    values = [pair_text(x[k], y[k]) for k in bad]
    if len(bad) == 1:
        k = bad[0]
        head = f"{label} {places[k]}: {_out_of_range(x[k], y[k])}"
        hint = f"; looks like lat/lon swapped: {pair} hold {values[0]}" if swapped else ""
        raise DataError(head + hint)
    total = int(given.sum())
    if swapped:
        held = listing([f"{v} at {places[k]}" for v, k in zip(values, bad, strict=True)])
        raise DataError(
            f"{label}: lat is outside [-90, 90] in {len(bad)} of {total} {noun}; looks like "
            f"lat/lon swapped: {pair} hold {held}"
        )
    named = listing([f"{places[k]} ({_out_of_range(x[k], y[k])})" for k in bad])
    raise DataError(
        f"{label}: {len(bad)} of {total} {noun} are not degrees of longitude and latitude: {named}"
    )
