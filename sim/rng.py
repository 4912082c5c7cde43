"""Random streams derived from the scenario seed.

Every random draw in chargesite comes from a ``numpy.random.Generator`` built here from
the scenario seed and a key naming the replication and the purpose, e.g.
``stream(seed, replication, "demand")``.  Every strategy therefore sees the same demand in
a replication (common random numbers), and results do not depend on the order in which
units of work run or on how many workers run them.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def _key_part(part: int | str) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    if part < 0:
        raise ValueError(f"stream key parts must be >= 0, got {part}")
    return int(part)


def stream(seed: int, /, *key: int | str) -> np.random.Generator:
    """An independent generator for ``(seed, *key)``.

    Parameters
    ----------
    seed
        The scenario seed (``>= 0``).
    *key
        Replication numbers and purpose names, e.g. ``(3, "demand")``.

    Returns
    -------
    numpy.random.Generator
        PCG64 seeded by ``SeedSequence(seed, spawn_key=key)``.
    """
    seq = np.random.SeedSequence(seed, spawn_key=tuple(_key_part(k) for k in key))
    return np.random.Generator(np.random.PCG64(seq))
