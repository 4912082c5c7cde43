"""Compound power in what a planner reads: the terminal's compound power table and the
report's "Compound power" section (issue 15 item 5), only with ``grid``."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rich.console import Console

from sim.api import run
from sim.config import parse_config
from sim.export.report import report_html
from sim.export.result import RunResult

from .test_grid_run import BASE as GRID_RUN

#: The small Kotka run of tests/test_grid_run.py, with the report.
BASE: dict[str, Any] = {**GRID_RUN, "output": {"map": False}}


@pytest.fixture(scope="module")
def with_grid() -> RunResult:
    return run(parse_config({**copy.deepcopy(BASE), "grid": {}}))


def test_terminal_prints_the_compound_power_table(with_grid: RunResult) -> None:
    from sim.export.grid import grid_table

    table = grid_table(with_grid.typed_summary)
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    for name in ("uncontrolled", "ordered"):
        assert name in text
    peak = with_grid.typed_summary.strategies["ordered"].grid["peak_loading_pct"]["mean"]  # type: ignore[index]
    assert f"{peak:.1f}" in text


def test_report_has_the_compound_power_section(with_grid: RunResult) -> None:
    html = report_html(with_grid, language="en")
    start = html.index('id="grid-table"')
    table = html[start : html.index("</table>", start)]
    s = with_grid.typed_summary
    for name, st in s.strategies.items():
        assert f'data-strategy="{name}"' in table
        assert st.grid is not None and f"{st.grid['peak_loading_pct']['mean']:.1f}" in table
    assert "小区配电" in report_html(with_grid, language="zh")


def test_no_grid_no_section() -> None:
    from sim.export.grid import grid_table

    plain = copy.deepcopy(BASE)
    plain["strategies"] = [{"name": "p", "model": "p-median", "k": 6}]
    plain["simulation"] = {"replications": 1}
    result = run(parse_config(plain))
    assert grid_table(result.typed_summary) is None
    assert 'id="grid-table"' not in report_html(result)


def test_the_map_colours_compounds_by_peak_loading(with_grid: RunResult) -> None:
    from sim.export.webmap import LOADING_CMAP, LOADING_FULL_SCALE, _colour, map_html

    html = map_html(with_grid, language="en")
    assert "compounds by peak transformer loading" in html
    zones = with_grid.zones
    worst = zones.loc[zones["peak_loading_pct"].idxmax()]
    assert _colour(LOADING_CMAP, worst["peak_loading_pct"] / LOADING_FULL_SCALE) in html
    plain = copy.deepcopy(BASE)
    plain["strategies"] = [{"name": "p", "model": "p-median", "k": 6}]
    plain["simulation"] = {"replications": 1}
    assert "peak transformer loading" not in map_html(run(parse_config(plain)))
