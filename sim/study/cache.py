"""The one cache: prepared regions, prepared scenarios and finished units.

Everything kept between steps is keyed by a content hash (:func:`content_key`) of
exactly what determines it, plus the chargesite version:

- in memory, per process (:data:`MEMORY`): the region built from a scenario's
  ``region`` and ``candidates`` sections (a sweep over demand or siting keys builds it
  once), and each scenario's prepared inputs, plans and access tables (a worker
  prepares a scenario once for all the units it runs);
- on disk (:class:`UnitStore`): each finished (scenario, strategy, replication) unit, so
  an interrupted run or sweep resumes where it stopped.

The memory cache holds a bounded number of entries per kind (least recently used goes
first), so long sweeps do not grow without bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from sim.config import Scenario

if TYPE_CHECKING:
    from sim.study.units import UnitResult

__all__ = ["MEMORY", "MemoryCache", "UnitStore", "content_key", "scenario_key"]

T = TypeVar("T")


def _version() -> str:
    try:
        return metadata.version("chargesite")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def _canonical(part: Any) -> Any:
    if isinstance(part, BaseModel):
        return json.loads(part.model_dump_json())
    if isinstance(part, Path):
        return str(part)
    return part


def content_key(*parts: Any) -> str:
    """Hash (24 hex digits) of ``parts`` and the chargesite version.

    Parameters
    ----------
    *parts
        Config sections (pydantic models), strings, numbers, or lists/dicts of them.
    """
    text = json.dumps([_version(), *(_canonical(p) for p in parts)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def scenario_key(scenario: Scenario, /) -> str:
    """Hash of everything that determines a scenario's unit results.

    The output section and the replication count are left out (more replications
    reuse the ones already done).
    """
    data = scenario.model_dump_json(exclude={"output": True, "simulation": {"replications"}})
    return content_key("scenario", json.loads(data))


class MemoryCache:
    """Per-process store of built objects by (kind, content key).

    Parameters
    ----------
    per_kind
        Entries kept per kind; the least recently used goes first.
    """

    def __init__(self, *, per_kind: int = 4) -> None:
        self.per_kind = per_kind
        self._store: dict[str, OrderedDict[str, Any]] = {}

    def get(self, kind: str, key: str, build: Callable[[], T]) -> T:
        """The object of ``(kind, key)``, built with ``build()`` on a miss."""
        entries = self._store.setdefault(kind, OrderedDict())
        if key in entries:
            entries.move_to_end(key)
            value: T = entries[key]
            return value
        built = build()
        self.put(kind, key, built)
        return built

    def put(self, kind: str, key: str, value: Any) -> None:
        """Keep ``value`` as ``(kind, key)``."""
        entries = self._store.setdefault(kind, OrderedDict())
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.per_kind:
            entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._store.clear()


#: This process's cache (forked workers inherit it).
MEMORY = MemoryCache()


class UnitStore:
    """Finished units as files ``<folder>/<content key>.pkl``.

    The key is :func:`content_key` of the scenario's :func:`scenario_key`, the strategy
    and the replication.  Files are written to a temporary name and renamed, so a crash
    never leaves a half-written unit behind; an unreadable file is run again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, scenario: Scenario, strategy: str, replication: int) -> Path:
        """File of a unit."""
        key = content_key("unit", scenario_key(scenario), strategy, replication)
        return self.folder / f"{key}.pkl"

    def get(self, scenario: Scenario, strategy: str, replication: int) -> UnitResult | None:
        """The stored unit, or ``None``."""
        from sim.study.units import UnitResult  # the cache sits below the units it stores

        p = self.path(scenario, strategy, replication)
        if not p.is_file():
            return None
        try:
            with p.open("rb") as fh:
                result = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None  # unreadable: run it again
        return result if isinstance(result, UnitResult) else None

    def put(self, scenario: Scenario, result: UnitResult) -> None:
        """Store a finished unit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        p = self.path(scenario, result.strategy, result.replication)
        fd, tmp = tempfile.mkstemp(prefix=".unit-", dir=self.folder)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, p)
