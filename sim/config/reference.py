"""The reference of every scenario key, generated from the schema (``chargesite reference``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from sim.config.loading import _inner_model
from sim.config.schema import Scenario


def reference_markdown() -> str:
    """Markdown reference of every scenario key, generated from the model.

    Returns
    -------
    str
        A table per section: key path, type, default, meaning (units in the key name or
        the meaning).
    """
    out = [
        "# Scenario reference",
        "",
        "Generated from `sim/config/schema.py` by `chargesite reference`; do not edit by hand.",
        "Relative paths in `region.file`, `region.zones_file`, `candidates.file`,",
        "`demand.highway.flows_file` and `strategies[].plan_file` are resolved against the",
        "YAML file's folder.",
        "",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        rows: list[str] = []
        nested: list[tuple[type[BaseModel], str]] = []
        for name, info in model.model_fields.items():
            if info.exclude:
                continue
            path = f"{prefix}{name}"
            sub = _inner_model(info.annotation)
            if info.is_required():
                default = "required"
            else:
                value = info.get_default(call_default_factory=True)
                if isinstance(value, BaseModel):
                    default = "(section)"
                elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
                    default = f"{len(value)} entries"
                else:
                    dumped = yaml.safe_dump(_plain(value), default_flow_style=True, width=10_000)
                    default = dumped.strip().removesuffix("...").strip()
                    default = f"`{default}`"
            doc = (info.description or (sub.__doc__ or "").strip().splitlines()[0]).replace(
                "|", "\\|"
            )
            typ = sub.__name__ if sub is not None else _describe_type(info)
            rows.append(f"| `{path}` | {typ} | {default} | {doc} |")
            if sub is not None:
                nested.append((sub, f"{path}." if not _is_list(info) else f"{path}[]."))
        title = prefix.rstrip(".") or "(top level)"
        out.extend([f"## `{title}`", "", (model.__doc__ or "").strip(), ""])
        out.extend(["| key | type | default | meaning |", "|---|---|---|---|", *rows, ""])
        for sub, p in nested:
            walk(sub, p)

    walk(Scenario, "")
    return "\n".join(out)


def _is_list(info: Any) -> bool:
    return "list[" in str(info.annotation)


def _describe_type(info: Any) -> str:
    text = str(info.annotation)
    for junk in ("typing.", "pathlib.", "sim.config.schema.", "sim.config.", "<class '", "'>"):
        text = text.replace(junk, "")
    text = text.replace("NoneType", "None")
    opt = re.fullmatch(r"Optional\[(.*)\]", text)
    if opt:
        text = f"{opt.group(1)} | None"
    # Constraints from Annotated metadata
    bounds = []
    for m in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                bounds.append(f"{sym} {v}")
    text = re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text)
    text = text.replace("|", "or")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
