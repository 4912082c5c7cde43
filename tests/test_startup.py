"""Start-up: the command line and the Python API load only what they use.

Each check runs a fresh interpreter (the test process has imported everything), and
lists which of the heavy libraries it loaded: osmnx (which pulls in pyplot and
scikit-learn), matplotlib.pyplot, scikit-learn, scipy.stats, Dask.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("osmnx", "matplotlib.pyplot", "sklearn", "scipy.stats", "dask", "distributed")
TAG = "LOADED-MODULES "

#: Runs the command line with ``sys.argv[1:]`` in-process, then prints the heavy
#: modules it loaded (after the command's own output).
_CLI = f"""
import json, sys
args = sys.argv[1:]
sys.argv = ["chargesite", *args]
import sim.cli
code = 0
try:
    sim.cli.main()
except SystemExit as exc:
    code = exc.code or 0
print({TAG!r} + json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
sys.exit(code)
"""


def _python(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def _loaded(stdout: str) -> list[str]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith(TAG))
    loaded: list[str] = json.loads(line[len(TAG) :])
    return loaded


def _imported_by(statement: str) -> list[str]:
    proc = _python("-c", f"{statement}\nimport sys, json\nprint({TAG!r} + json.dumps("
                   f"[m for m in {HEAVY!r} if m in sys.modules]))")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return _loaded(proc.stdout)


def test_import_cli_loads_no_heavy_library() -> None:
    assert _imported_by("import sim.cli") == []


def test_import_api_loads_no_heavy_library() -> None:
    assert _imported_by("import sim.api") == []


def test_import_export_and_region_modules_load_no_heavy_library() -> None:
    statement = (
        "import sim.export.result, sim.export.layers, sim.export.writing, "
        "sim.region.build, sim.region.network, sim.study.runner"
    )
    assert _imported_by(statement) == []


def test_help_works_and_loads_no_heavy_library() -> None:
    proc = _python("-c", _CLI, "--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "validate", "sweep", "reference"):
        assert command in proc.stdout
    assert _loaded(proc.stdout) == []


def test_help_of_python_m_sim_is_the_same_command_line() -> None:
    proc = _python("-m", "sim", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "validate" in proc.stdout and "Traceback" not in proc.stderr


def test_validate_default_config_loads_no_heavy_library() -> None:
    """``validate`` builds the region (pyrosm), plans every strategy (HiGHS) and prints
    the facts, without osmnx, pyplot, scikit-learn, scipy.stats or Dask."""
    proc = _python("-c", _CLI, "validate", "configs/default.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "configuration is valid" in proc.stdout
    assert _loaded(proc.stdout) == []


def test_bad_config_still_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nregion: {sample: kotka}\nstrategies: [{name: random, k: 0}]\n")
    proc = _python("-m", "sim", "validate", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error" in proc.stderr


def _osmnx_prepared(graph: Any) -> Any:
    """What prepare_graph computed with osmnx before it did without (the reference)."""
    import osmnx as ox

    from sim.region.network import FALLBACK_SPEED_KPH, TYPICAL_SPEEDS_KPH

    graph = ox.routing.add_edge_speeds(
        graph, hwy_speeds=TYPICAL_SPEEDS_KPH, fallback=FALLBACK_SPEED_KPH
    )
    graph = ox.routing.add_edge_travel_times(graph)
    graph = ox.project_graph(graph)
    return ox.truncate.largest_component(graph, strongly=False)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "equals") and not isinstance(a, str):
        return bool(a.equals(b))
    return bool(a == b)


def test_region_graph_without_osmnx_is_osmnx_s_graph() -> None:
    """prepare_graph's own speeds, travel times, projection and weakly connected part
    (the Kotka sample, with a list-valued and an implicit maxspeed) give osmnx's graph:
    the same nodes, edges, attribute names, order and values."""
    from sim.region.loader import read_sample
    from sim.region.network import _timed_projected_part

    raw = read_sample("kotka", progress=lambda *_: None).raw.graph
    for _, _, d in raw.edges(data=True):  # as prepare_graph does first
        d["highway"] = str(
            d["highway"][0] if isinstance(d.get("highway"), list) else d.get("highway")
        )
    # a list-valued and an implicit maxspeed, so that every branch is compared
    first, second = list(raw.edges(keys=True))[:2]
    raw.edges[first]["maxspeed"] = ["50", "70"]
    raw.edges[second]["maxspeed"] = "FI:urban"
    want = _osmnx_prepared(copy.deepcopy(raw))
    got = _timed_projected_part(copy.deepcopy(raw))
    assert got.number_of_nodes() < raw.number_of_nodes()  # a part was dropped
    assert list(got.nodes) == list(want.nodes)
    for n in want.nodes:
        assert list(got.nodes[n]) == list(want.nodes[n])
        assert all(_same(got.nodes[n][k], v) for k, v in want.nodes[n].items())
    eg, ew = list(got.edges(keys=True, data=True)), list(want.edges(keys=True, data=True))
    assert [e[:3] for e in eg] == [e[:3] for e in ew]
    for (*_, dg), (*_, dw) in zip(eg, ew, strict=True):
        assert list(dg) == list(dw)
        assert all(_same(dg[k], v) for k, v in dw.items())
    assert got.graph == want.graph
