"""Loading scenarios: the only place that reads YAML.

A scenario YAML is loaded with :func:`load_config` into a frozen
:class:`~sim.config.schema.Scenario`.  Everything is validated on load: unknown keys
(with a did-you-mean), wrong types, out-of-range values and missing files become one
:class:`~sim.errors.ConfigError` naming the file, the key path, the value and what was
expected.  Every default is filled in and written back with the results
(``config.resolved.yaml``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.config.schema import Scenario
from sim.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen[key] = True
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _loc_str(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) if loc else "(top level)"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model section at ``loc`` (for did-you-mean)."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return []
        ann = info.annotation
        model = _inner_model(ann)
        if model is None:
            return []
    return [n for n in getattr(model, "model_fields", {}) if n != "source_path"]


def _inner_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _format_error(err: Mapping[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # pydantic puts the literal/union branch name in loc for unions; drop type tags.
    loc = tuple(p for p in loc if p not in ("literal['kotka']", "none", "int", "float"))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = _loc_str(loc[:-1])
        return f"{where}: unknown key {key!r}{hint} (known keys: {', '.join(known)})"
    if kind == "missing":
        return f"{_loc_str(loc)}: required key is missing"
    value = err.get("input")
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if isinstance(value, dict):  # a section-level check: the message names the keys
        return f"{_loc_str(loc)}: {msg}" if loc else msg
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{_loc_str(loc)} = {shown}: {msg}"


def parse_config(data: Any, *, source: str = "<config>", base_dir: Path | None = None) -> Scenario:
    """Validate a mapping (already parsed YAML) into a :class:`Scenario`.

    Parameters
    ----------
    data
        The parsed YAML document.
    source
        Name of the input used in error messages (the file name).
    base_dir
        Folder against which relative data paths are resolved and checked
        (``region.file``, ``candidates.file``).  ``None`` leaves them unchecked.

    Raises
    ------
    ConfigError
        With every problem found, one per line, each naming the key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of sections (name, seed, region, ...), "
            f"got {type(data).__name__}"
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(e) for e in exc.errors()]
        raise ConfigError(f"{source}: " + ("\n  ".join(lines))) from None
    if base_dir is not None:
        scenario = _resolve_paths(scenario, base_dir=base_dir, source=source)
    return scenario


def _resolve_paths(scenario: Scenario, *, base_dir: Path, source: str) -> Scenario:
    region, candidates = scenario.region, scenario.candidates
    updates: dict[str, Any] = {}
    highway = scenario.demand.highway
    for key, section, value in (
        ("region.file", region, region.file),
        ("region.zones_file", region, region.zones_file),
        ("candidates.file", candidates, candidates.file),
        ("demand.highway.flows_file", highway, highway.flows_file),
    ):
        if value is None:
            continue
        path = value if value.is_absolute() else (base_dir / value)
        path = path.resolve()
        if not path.is_file():
            raise ConfigError(f"{source}: {key} = {str(value)!r}: file not found ({path})")
        updates[key] = (section, path)
    if "region.file" in updates:
        region = region.model_copy(update={"file": updates["region.file"][1]})
    if "region.zones_file" in updates:
        region = region.model_copy(update={"zones_file": updates["region.zones_file"][1]})
    if "candidates.file" in updates:
        candidates = candidates.model_copy(update={"file": updates["candidates.file"][1]})
    demand = scenario.demand
    if "demand.highway.flows_file" in updates:
        hw = highway.model_copy(update={"flows_file": updates["demand.highway.flows_file"][1]})
        demand = demand.model_copy(update={"highway": hw})
    strategies = list(scenario.strategies)
    for i, s in enumerate(strategies):
        if s.plan_file is None:
            continue
        path = (s.plan_file if s.plan_file.is_absolute() else base_dir / s.plan_file).resolve()
        if not path.is_file():
            raise ConfigError(
                f"{source}: strategies.{i}.plan_file = {str(s.plan_file)!r}: "
                f"file not found ({path})"
            )
        strategies[i] = s.model_copy(update={"plan_file": path})
    return scenario.model_copy(
        update={
            "region": region,
            "candidates": candidates,
            "demand": demand,
            "strategies": strategies,
        }
    )


def read_yaml(path: Path | str, /) -> Any:
    """Parse a YAML file (duplicate keys rejected).

    Raises
    ------
    ConfigError
        The file is missing, unreadable or not YAML (with line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def load_config(path: Path | str, /) -> Scenario:
    """Read and validate a scenario YAML file.

    Relative data paths in the file are resolved against the file's folder.

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or does not validate.
    """
    path = Path(path)
    data = read_yaml(path)
    scenario = parse_config(data, source=str(path), base_dir=path.resolve().parent)
    return scenario.model_copy(update={"source_path": path.resolve()})


def file_sha256(path: Path, /) -> str:
    """SHA-256 of a file (hex)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Data paths of a scenario (dotted, ``strategies.*`` for every strategy).
DATA_PATHS = (
    "region.file",
    "region.zones_file",
    "candidates.file",
    "demand.highway.flows_file",
    "strategies.*.plan_file",
)


def _relative_paths(data: dict[str, Any], base: Path) -> None:
    """Write the data paths of a dumped scenario relative to ``base`` (in place)."""
    base = base.resolve()

    def rel(value: Any) -> Any:
        if not isinstance(value, str) or not Path(value).is_absolute():
            return value
        return Path(os.path.relpath(value, base)).as_posix()

    for dotted in DATA_PATHS:
        *parents, leaf = dotted.split(".")
        nodes: list[Any] = [data]
        for part in parents:
            if part == "*":
                nodes = [item for node in nodes for item in (node or [])]
            else:
                nodes = [node.get(part) for node in nodes if isinstance(node, dict)]
        for node in nodes:
            if isinstance(node, dict) and node.get(leaf) is not None:
                node[leaf] = rel(node[leaf])


def dump_resolved(
    scenario: Scenario,
    /,
    *,
    checksums: Mapping[str, str],
    relative_to: Path | None = None,
) -> str:
    """The scenario with every default filled in, as YAML text that runs as it is.

    Parameters
    ----------
    scenario
        The validated scenario.
    checksums
        Data files read and their SHA-256 (recorded under ``provenance``; a run of the
        text checks them).
    relative_to
        Folder the text will be written to: data paths are written relative to it, so
        the file still finds its inputs when the folder and the inputs move together.
        ``None`` writes them as they are (absolute after loading).
    """
    data = scenario.model_dump(mode="json")
    if relative_to is not None:
        _relative_paths(data, relative_to)
    doc = {
        **data,
        "provenance": {"data_sha256": dict(sorted(checksums.items()))},
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
