"""The reference of every scenario key, generated from the schema (``chargesite reference``)."""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

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
                    names = [str(getattr(v, "name", "")) for v in value]
                    listed = ", ".join(n for n in names if n)
                    default = f"{len(value)} entries" + (f": {listed}" if listed else "")
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


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _bounds(metadata: Any) -> list[str]:
    """``>= 0``-style constraints of pydantic/annotated-types metadata."""
    out = []
    for m in metadata:
        inner = getattr(m, "metadata", None)  # a pydantic Field(...) inside Annotated
        if isinstance(inner, list):
            out.extend(_bounds(inner))
            continue
        for attr, sym in _BOUNDS:
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v}")
    return out


def _type_name(tp: Any) -> str:
    """A reader's name of a type: ``int (>= 1) or None``, ``list of int``,
    ``mapping of str to float``, ``one of 'dc', 'ac'``."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        base, *meta = args
        bounds = _bounds(meta)
        return _type_name(base) + (f" ({', '.join(bounds)})" if bounds else "")
    if origin in (Union, UnionType):
        named = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or None" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type_name(args[0])}"
        names = [_type_name(a) for a in args]
        if len(set(names)) == 1:
            return f"{len(names)} x {names[0]}"
        return "(" + ", ".join(names) + ")"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if tp is Path:
        return "path"
    return getattr(tp, "__name__", str(tp))


def _describe_type(info: Any) -> str:
    text = _type_name(info.annotation)
    bounds = _bounds(info.metadata)
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
