"""The package follows the data flow: no module imports a later stage (AST walk).

Stages in data-flow order (``../shared/DESIGN.md``): the shared base (``sim.errors``,
``sim.rng``), then config, region, access, demand, grid, siting, des, metrics, study,
export, and last the two faces, ``sim.api`` and ``sim.cli``.  A module may import its own
stage, any earlier stage and the base; imports inside ``if TYPE_CHECKING:`` count too
(a type from a later stage is a dependency on it all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

#: Rank of each top-level part of ``sim``; equal ranks may import each other.
STAGES: dict[str, int] = {
    "errors": 0,
    "rng": 0,
    "config": 1,
    "region": 2,
    "access": 3,
    "demand": 4,
    "grid": 5,
    "siting": 6,
    "des": 7,
    "metrics": 8,
    "calibration": 8,  # after metrics (it may import it), before study; nothing imports it
    "study": 9,
    "export": 10,
    "api": 11,
    "cli": 12,
    "__main__": 13,
}


def _stage_of(module: str) -> str | None:
    """``sim.study.units`` -> ``study``; ``None`` for modules outside ``sim``."""
    parts = module.split(".")
    if parts[0] != "sim":
        return None
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``import sim...`` / ``from sim... import`` in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sim":  # `from sim import figures` names a submodule
                found.extend((node.lineno, f"sim.{a.name}") for a in node.names)
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SIM.rglob("*.py") if p.name != "__init__.py" or p.parent != SIM)


def violations(files: list[Path], *, root: Path = SIM) -> list[str]:
    """Every import of a later stage, as ``file:line: stage imports later stage``.

    ``root`` is the ``sim`` folder the files lie in.
    """
    out = []
    for path in files:
        rel = Path(root.name, *path.relative_to(root).parts).with_suffix("")
        own = _stage_of(".".join(rel.parts))
        if own in (None, ""):
            continue
        for line, module in _imports(path):
            target = _stage_of(module)
            if target in (None, "") or target == own:
                continue
            if target not in STAGES or own not in STAGES:
                out.append(f"{rel}.py:{line}: unknown stage in {module!r} (add it to STAGES)")
            elif STAGES[target] > STAGES[own]:
                out.append(f"{rel}.py:{line}: {own} imports the later stage {module}")
    return out


def test_every_part_of_sim_is_a_known_stage() -> None:
    parts = {p.stem if p.is_file() else p.name for p in SIM.iterdir()}
    parts = {p for p in parts if not p.startswith("__") or p == "__main__"} - {"py"}
    unknown = sorted(p for p in parts if p not in STAGES and p != "py.typed")
    assert not unknown, f"parts of sim/ with no place in the data flow: {unknown}"


def test_no_module_imports_a_later_stage() -> None:
    found = violations(_modules())
    assert not found, "imports against the data flow:\n" + "\n".join(found)


def test_the_check_catches_a_backward_import(tmp_path: Path) -> None:
    # a region module importing the simulation, and a TYPE_CHECKING import of export
    root = tmp_path / "sim"
    probe = root / "region" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "import sim.config\n"
        "from sim.des import simulate\n"
        "if TYPE_CHECKING:\n"
        "    from sim.export.result import RunResult\n"
    )
    assert violations([probe], root=root) == [
        "sim/region/probe.py:3: region imports the later stage sim.des",
        "sim/region/probe.py:5: region imports the later stage sim.export.result",
    ]


@pytest.mark.parametrize("package", ["config", "region", "access", "demand", "grid", "siting",
                                     "des", "metrics", "study", "export"])  # fmt: skip
def test_each_stage_says_what_it_takes_and_gives(package: str) -> None:
    init = SIM / package / "__init__.py"
    assert init.is_file(), f"sim/{package} is not a package"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    lowered = doc.lower()
    assert "takes" in lowered and "gives" in lowered, (
        f"sim/{package}/__init__.py: the docstring should say what the stage takes and gives"
    )


#: Longest function body (lines after the docstring) a module may hold (house rule 6).
MAX_BODY_LINES = 80


def long_functions(files: list[Path]) -> list[str]:
    """Functions whose body after the docstring runs past :data:`MAX_BODY_LINES`, unless
    the body opens with a ``# hot loop:`` comment that says why (a measured hot loop)."""
    out = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            first = body[0]
            has_doc = isinstance(first, ast.Expr) and isinstance(
                getattr(first, "value", None), ast.Constant
            )
            start = first.end_lineno + 1 if has_doc and first.end_lineno else node.body[0].lineno
            end = node.end_lineno or start
            if end - start + 1 <= MAX_BODY_LINES:
                continue
            opening = lines[start - 1].strip() if start - 1 < len(lines) else ""
            if opening.startswith("# hot loop:"):
                continue
            out.append(f"{path.name}:{node.lineno} {node.name}: {end - start + 1} lines")
    return out


def test_no_function_runs_past_eighty_lines() -> None:
    found = long_functions(sorted(SIM.rglob("*.py")))
    assert not found, "functions over 80 lines (split them, or mark a measured hot loop):\n" + (
        "\n".join(found)
    )


def test_the_length_check_catches_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(81))
    long = tmp_path / "long.py"
    long.write_text(f'def f():\n    """Doc."""\n{body}\n', encoding="utf-8")
    assert long_functions([long]) == ["long.py:1 f: 81 lines"]
    hot = tmp_path / "hot.py"
    hot.write_text(f'def f():\n    """Doc."""\n    # hot loop: 1e6 calls/s\n{body}\n')
    assert long_functions([hot]) == []
