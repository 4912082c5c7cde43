"""Checks shared by the readers of users' tables (sites, plans, zones): one message per
bad cell, naming where it is, the column and the value."""

from __future__ import annotations

import math
from typing import Any

from sim.errors import DataError

__all__ = ["is_blank", "parse_count", "parse_number"]


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
