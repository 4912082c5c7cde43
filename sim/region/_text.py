"""Small helpers for the plain-words notes of the region stage."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 zone"``, ``"3 zones"``: a count with the right noun form."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
