"""Column mapping of an observed session log, and a scenario with a calibrated fragment.

Two jobs for ``chargesite calibrate`` (``docs/calibration.md``), both YAML, so here:

* :func:`load_log_mapping` reads the small mapping file that names the log's columns
  (``--columns FILE``) and :func:`log_mapping` validates the same keys given as options;
* :func:`calibrated_scenario` merges the fitted YAML fragment into the user's scenario and
  validates the result, so a calibration writes a scenario that runs as it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from sim.config.loading import _UniqueKeyLoader, load_config, parse_config
from sim.config.schema import Scenario, _Section
from sim.errors import ConfigError

__all__ = [
    "LogMapping",
    "calibrated_scenario",
    "load_log_mapping",
    "log_mapping",
    "mapping_from_options",
]


class LogMapping(_Section):
    """Which column of a session log holds what (one row per charging session).

    Times are timestamps (ISO 8601 text, or datetime columns in Parquet); those without
    an offset are read in ``timezone``, those with one are converted to it.
    """

    station: str = Field("station_id", description="Column of the station (site) id.")
    start: str = Field(
        "start", description="Column of the connection (plug-in, session start) time."
    )
    end: str | None = Field(
        "end", description="Column of the time charging ended (null: the log has none)."
    )
    disconnect: str | None = Field(
        None, description="Column of the time the car was unplugged (null: none)."
    )
    arrival: str | None = Field(
        None,
        description="Column of the time the driver arrived and joined a queue (null: none; "
        "with it the log shows waits).",
    )
    energy: str = Field("energy", description="Column of the energy delivered per session.")
    energy_unit: Literal["kWh", "Wh"] = Field("kWh", description="Unit of the energy column.")
    user: str | None = Field(None, description="Column of the user (card, vehicle) id.")
    power: str | None = Field(None, description="Column of the mean or rated power (kW).")
    timezone: str | None = Field(
        None,
        description="IANA time zone of the site, e.g. Asia/Shanghai: hours of day are "
        "counted in it (null: timestamps must carry their offset and are kept in it).",
    )


def log_mapping(values: Mapping[str, Any], /, *, source: str = "--column") -> LogMapping:
    """Validate mapping keys given as options (``KEY=COLUMN``) or read from a file.

    Raises
    ------
    ConfigError
        An unknown key (with the keys expected) or a bad value, naming ``source``.
    """
    known = list(LogMapping.model_fields)
    for key in values:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(
                f"{source}: unknown key {key!r}{hint} (known keys: {', '.join(known)})"
            )
    try:
        mapping = LogMapping.model_validate(dict(values))
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ConfigError(f"{source}: " + "\n  ".join(lines)) from None
    if mapping.end is None and mapping.disconnect is None:
        raise ConfigError(f"{source}: name the column 'end' or 'disconnect' (or both)")
    return mapping


def load_log_mapping(path: Path, /, *, overrides: Mapping[str, Any] | None = None) -> LogMapping:
    """Read a mapping file (YAML: the keys of :class:`LogMapping`); options override it.

    Raises
    ------
    ConfigError
        The file is missing, not YAML, not a mapping or holds a bad key.
    """
    from sim.config.loading import read_yaml

    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys such as 'station: ChargerID'")
    return log_mapping({**data, **(overrides or {})}, source=str(path))


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def calibrated_scenario(config: Path, fragment: str, /) -> Scenario:
    """The scenario of ``config`` with the YAML ``fragment`` merged over it (nested keys
    replace the scenario's, everything else is kept), validated.

    Raises
    ------
    ConfigError
        The scenario does not load, or the merged scenario does not validate (a fragment
        key the schema refuses).
    """
    scenario = load_config(config)
    data = scenario.model_dump(mode="json", exclude_none=False)
    extra = yaml.load(fragment, Loader=_UniqueKeyLoader) or {}
    merged = _merge(data, extra)
    merged.pop("source_path", None)
    out = parse_config(
        merged, source=f"{config} with the calibrated fragment", base_dir=config.resolve().parent
    )
    return out.model_copy(update={"source_path": scenario.source_path})


def mapping_from_options(columns: Path | None, column: list[str], /) -> LogMapping:
    """The mapping of ``--columns FILE`` (if given) with each ``--column KEY=NAME`` over it.

    Raises
    ------
    ConfigError
        A ``--column`` without ``=``, an unknown key, or a bad mapping file.
    """
    given: dict[str, Any] = {}
    for item in column:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--column {item!r}: expected KEY=COLUMN, e.g. station=ChargerID")
        value = value.strip()
        given[key.strip()] = None if value.lower() in ("", "null", "none") else value
    if columns is not None:
        return load_log_mapping(columns, overrides=given)
    return log_mapping(given)
