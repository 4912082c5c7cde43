"""The one cache: prepared regions, prepared scenarios and finished units.

Everything kept between steps is keyed by a content hash (:func:`content_key`) of
exactly what determines it, plus the chargesite version:

- in memory, per process (:data:`MEMORY`): the region built from a scenario's
  ``region`` and ``candidates`` sections (a sweep over demand or siting keys builds it
  once), and each scenario's prepared inputs, plans and access tables (a worker
  prepares a scenario once for all the units it runs);
- on disk (:class:`UnitStore`): each finished (scenario, strategy, replication) unit, so
  an interrupted run or sweep resumes where it stopped (the key hashes the source of
  the stages that simulate a unit, so other code's units are run again);
- on disk (:func:`cached_on_disk`): built objects that are slow to make and the same
  for every run of the same inputs, such as a parsed region, as
  ``<directory>/<kind>s/<key>.pkl``.  The file's name also hashes a format version, the
  source code of the packages that build the object and the versions of the libraries
  whose objects it holds, so a code or library change builds it anew.

The memory cache holds a bounded number of entries per kind (least recently used goes
first), so long sweeps do not grow without bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from sim.config import Scenario

if TYPE_CHECKING:
    from sim.study.units import UnitResult

__all__ = [
    "DISK_FORMAT",
    "MEMORY",
    "UNIT_CODE",
    "MemoryCache",
    "UnitStore",
    "cached_on_disk",
    "content_key",
    "disk_path",
    "scenario_key",
]

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

    The key is :func:`content_key` of the source of :data:`UNIT_CODE`, the scenario's
    :func:`scenario_key`, the strategy and the replication.  Files are written to a
    temporary name and renamed, so a crash never leaves a half-written unit behind; an
    unreadable file is run again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._keys: dict[int, tuple[Scenario, str]] = {}

    def _scenario_key(self, scenario: Scenario) -> str:
        """:func:`scenario_key`, computed once per scenario object."""
        held = self._keys.get(id(scenario))
        if held is None or held[0] is not scenario:
            held = (scenario, scenario_key(scenario))
            self._keys[id(scenario)] = held
        return held[1]

    def path(self, scenario: Scenario, strategy: str, replication: int) -> Path:
        """File of a unit (its key also hashes the source of :data:`UNIT_CODE`, so a
        resumed run never takes a unit that other code simulated)."""
        key = content_key(
            "unit", _code_hash(UNIT_CODE), self._scenario_key(scenario), strategy, replication
        )
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
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # an interrupt leaves no partial file
            raise


#: Version of the on-disk layout of :func:`cached_on_disk`; raise it to drop old files.
DISK_FORMAT = 1

#: Packages (``sim`` modules) whose source determines an object of each kind: the stage
#: that builds it and the earlier stages it may import.  Other kinds hash all of ``sim``.
DISK_CODE: dict[str, tuple[str, ...]] = {
    "region": ("sim/region", "sim/config", "sim/rng.py", "sim/errors.py"),
}

#: Packages whose source determines a finished unit: every stage up to the study.
UNIT_CODE = (
    "sim/config", "sim/region", "sim/access", "sim/demand", "sim/grid", "sim/siting",
    "sim/des", "sim/metrics", "sim/study", "sim/rng.py", "sim/errors.py",
)  # fmt: skip

#: Libraries whose versions change what a pickled object of each kind holds or reads as.
DISK_LIBRARIES: dict[str, tuple[str, ...]] = {
    "region": (
        "pyrosm", "osmnx", "networkx", "geopandas", "shapely", "pyproj", "pandas", "numpy",
    ),
}  # fmt: skip

#: Errors that mean a cache file cannot be used (damaged, truncated, from other code).
_UNREADABLE = (
    OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError,
    TypeError, ValueError, KeyError, MemoryError,
)  # fmt: skip


@lru_cache(maxsize=8)
def _code_hash(parts: tuple[str, ...]) -> str:
    """SHA-256 of the ``.py`` files under ``parts`` (paths relative to the checkout,
    ``sim/...``), in sorted order with their relative names."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for part in parts:
        base = root / part
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(f.read_bytes() if f.is_file() else b"")
    return digest.hexdigest()


def _library_versions(names: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for name in names:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, ""))
    return out


def disk_path(kind: str, key: str, /, *, directory: Path) -> Path:
    """The file :func:`cached_on_disk` keeps ``(kind, key)`` in.

    Parameters
    ----------
    kind
        What is cached (``"region"``); names the sub-folder ``<kind>s``.
    key
        The content key of the inputs (:func:`content_key`).
    directory
        The cache folder (``region.cache_dir`` for regions).
    """
    code = DISK_CODE.get(kind, ("sim",))
    libraries = DISK_LIBRARIES.get(kind, ())
    name = content_key(
        "disk", DISK_FORMAT, kind, key, _code_hash(code), _library_versions(libraries)
    )
    return Path(directory) / f"{kind}s" / f"{name}.pkl"


def _read(path: Path, kind: str, key: str) -> tuple[bool, Any]:
    """``(True, value)`` from a usable cache file, else ``(False, None)``."""
    try:
        with path.open("rb") as fh:
            entry = pickle.load(fh)
    except FileNotFoundError:
        return False, None
    except _UNREADABLE:
        return False, None  # damaged or written by other code: build it again
    if not (
        isinstance(entry, dict)
        and entry.get("format") == DISK_FORMAT
        and entry.get("kind") == kind
        and entry.get("key") == key
        and "value" in entry
    ):
        return False, None
    return True, entry["value"]


def _write(path: Path, kind: str, key: str, value: Any) -> None:
    """Write atomically (temporary file, then rename); a failure leaves no file."""
    entry = {"format": DISK_FORMAT, "kind": kind, "key": key, "value": value}
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a read-only or full disk only costs the next run the build
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def cached_on_disk(kind: str, key: str, build: Callable[[], T], /, *, directory: Path | None) -> T:
    """The object of ``(kind, key)`` from ``directory``, else ``build()`` stored there.

    The file is :func:`disk_path` (``<directory>/<kind>s/<hash>.pkl``), written to a
    temporary name and renamed, so a crash never leaves a half-written entry.  A file
    that cannot be read (damaged, truncated, written by other code) is built again and
    replaced; a folder that cannot be written only means the next call builds again.
    Remove the folder to clear the cache.

    Parameters
    ----------
    kind
        What is cached (``"region"``).
    key
        Content key of everything that determines the object (:func:`content_key` of
        the config sections and the input files' SHA-256).
    build
        Makes the object on a miss; must be picklable.
    directory
        The cache folder; ``None`` builds without caching.

    Returns
    -------
    T
        The cached object or the one ``build`` made (equal either way).
    """
    if directory is None:
        return build()
    path = disk_path(kind, key, directory=Path(directory))
    found, value = _read(path, kind, key)
    if found:
        cached: T = value
        return cached
    built = build()
    _write(path, kind, key, built)
    return built
