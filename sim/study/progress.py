"""How the study reports progress: ``progress(label, done, total)``, and a silent default."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "no_progress"]

#: Called as ``progress(label, done, total)`` while a study works.
Progress = Callable[[str, int, int], None]


def no_progress(_label: str, _done: int, _total: int) -> None:
    """Report nothing."""
    return None
