"""Changing a scenario from the command line: ``--seed``, ``--replications``, ``--set``.

Values given on the command line are read as YAML scalars here (this package is the
only YAML reader) and every changed scenario is validated again, so a value the YAML
would refuse is refused on the command line with the same message.
"""

from __future__ import annotations

import itertools
from copy import deepcopy
from pathlib import Path
from typing import Annotated, Any, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from sim.config.loading import parse_config, read_yaml
from sim.config.schema import Scenario, SimulationConfig
from sim.errors import ConfigError, UserInputError

__all__ = ["apply_setting", "parse_set", "sweep_grid", "with_overrides"]


def parse_set(expr: str, /) -> tuple[str, list[Any]]:
    """Parse ``KEY=V1,V2,...`` (values read as YAML scalars: ``0.2``, ``true``, ``dc60``).

    Raises
    ------
    UserInputError
        No ``=``, an empty key or no values.
    """
    key, sep, rest = expr.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise UserInputError(
            f"--set {expr!r}: expected KEY=V1,V2,... (e.g. demand.residential.ev_share=0.1,0.2)"
        )
    values = []
    for raw in rest.split(","):
        raw = raw.strip()
        if not raw:
            raise UserInputError(f"--set {expr!r}: empty value in the list")
        try:
            values.append(yaml.safe_load(raw))
        except yaml.YAMLError:
            values.append(raw)
    return key, values


def apply_setting(data: dict[str, Any], key: str, value: Any, /) -> dict[str, Any]:
    """A copy of the YAML mapping ``data`` with the dotted ``key`` set to ``value``.

    Path parts that are integers index lists (``strategies.1.k``); missing mappings on the
    way are created (so ``demand.residential.ev_share`` works when the YAML omits
    ``demand``).

    Raises
    ------
    UserInputError
        A list index out of range, or a path through a value that is not a mapping.
    """
    out = deepcopy(data)
    node: Any = out
    parts = key.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserInputError(
                    f"--set {key}: {where} is not an index of the list of {len(node)} "
                    f"entries at {'.'.join(parts[:i]) or '(top level)'}"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise UserInputError(f"--set {key}: {'.'.join(parts[:i])} holds a value, not a section")
    return out


def sweep_grid(
    config: Path, sets: list[tuple[str, list[Any]]], /
) -> tuple[list[dict[str, Any]], list[Scenario]]:
    """Every point of the grid of ``sets`` over the scenario ``config``, validated.

    Parameters
    ----------
    config
        The base scenario YAML.
    sets
        ``[(key, values), ...]`` from :func:`parse_set`; several keys give a grid (every
        combination, the first key varying slowest).

    Raises
    ------
    UserInputError
        No ``--set``, or a key given twice.
    ConfigError
        A point does not validate (the message names the point).
    """
    if not sets:
        raise UserInputError("sweep: give at least one --set KEY=V1,V2,...")
    keys = [k for k, _ in sets]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise UserInputError(f"sweep: --set given twice for {dupes}")
    base = read_yaml(config)
    points, scenarios = [], []
    for combo in itertools.product(*(v for _, v in sets)):
        point = dict(zip(keys, combo, strict=True))
        data = base
        for k, v in point.items():
            data = apply_setting(data, k, v)
        label = ", ".join(f"{k}={v}" for k, v in point.items())
        try:
            sc = parse_config(data, source=f"{config} [{label}]", base_dir=config.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(str(exc)) from None
        points.append(point)
        scenarios.append(sc.model_copy(update={"source_path": config.resolve()}))
    return points, scenarios


def _field_value(model: type[BaseModel], field: str, value: Any, *, flag: str, key: str) -> Any:
    """``value`` validated as the YAML key ``key`` (field ``field`` of ``model``) is.

    Text (from the command line) is read as a YAML scalar first, so the command line
    accepts exactly what the YAML file accepts.
    """
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            pass  # left as text: the check below names it
    info = model.model_fields[field]
    annotated: Any = cast(Any, Annotated)[(info.annotation, *info.metadata)]
    adapter: TypeAdapter[Any] = TypeAdapter(annotated)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        raise ConfigError(f"{flag} {value!r}: {why} (as the YAML key {key})") from None


def with_overrides(
    scenario: Scenario,
    /,
    *,
    seed: int | str | None = None,
    replications: int | str | None = None,
) -> Scenario:
    """The scenario with the command line's ``--seed`` / ``--replications`` applied.

    Parameters
    ----------
    scenario
        A validated scenario.
    seed, replications
        New ``seed`` and ``simulation.replications``, as numbers or as the text given on
        the command line; ``None`` keeps the scenario's.

    Raises
    ------
    ConfigError
        A value the YAML key would refuse (the message names the option and the key).
    """
    if seed is None and replications is None:
        return scenario
    sim_cfg = scenario.simulation
    if replications is not None:
        reps = _field_value(
            SimulationConfig,
            "replications",
            replications,
            flag="--replications",
            key="simulation.replications",
        )
        sim_cfg = sim_cfg.model_copy(update={"replications": reps})
    new_seed = (
        scenario.seed
        if seed is None
        else _field_value(Scenario, "seed", seed, flag="--seed", key="seed")
    )
    return scenario.model_copy(update={"seed": new_seed, "simulation": sim_cfg})
