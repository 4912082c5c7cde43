"""Shared fixtures: small real runs of the bundled Kotka extract, once per session.

The export tests (map, report, browser, summary, sweep) read what a real run produced,
not hand-built look-alikes:

- ``small_run``: 2 days, 2 replications, strategies ``existing`` (no charging station
  is mapped in the extract, so a plan without sites), ``random`` and ``p-median``, with
  highway through-traffic and a holiday on day 2; about 1.5 s.
- ``hostile_run``: the same town with hostile text where a user or OpenStreetMap puts
  names: a strategy named :data:`PWN`, a proposed site (candidates file) and a compound
  (zones file) named :data:`EVIL`; the strategy is a fixed plan on that site.
- ``small_sweep``: a sweep of ``demand.residential.ev_share`` over two values of
  ``small_run``'s scenario (``small_run`` is its second point).
- ``chinese_run``: the same town with Chinese names where a Chinese extract or planner
  puts them: proposed sites (candidates file), a compound (zones file) and a strategy
  (:data:`CHINESE_NAMES`); the strategy is a fixed plan on those sites.

Tests that need an edge case a run cannot give cheaply derive it from these with
:func:`dataclasses.replace` and say why.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest

from sim.api import RunResult, run
from sim.config import Scenario, parse_config
from sim.config.overrides import apply_setting
from sim.export.result import SweepResult, sweep_result
from sim.study.runner import StudyResult, SweepStudy

#: Runs a script if a name were written into a page as HTML.
EVIL = "<script>alert(1)</script>"
#: Marks the page if a name were written as HTML (a script tag inserted later never runs).
PWN = '<img src=x onerror="document.documentElement.dataset.pwned=1">'

#: Chinese names of ``chinese_run``: two sites, a compound and a strategy.
CHINESE_NAMES = ("龙岗中心充电站", "坂田停车场", "幸福花园小区", "新建快充方案")

#: The scenario of ``small_run`` (kept small: the whole run takes about a second).
SMALL: dict[str, Any] = {
    "name": "kotka-small",
    "seed": 11,
    "region": {"sample": "kotka"},
    "demand": {
        "days": 2,
        "residential": {"cars_per_household": 0.5, "ev_share": 0.3},
        "highway": {
            "enabled": True,
            "vehicles_per_hour": 300,
            "ev_share": 0.05,
            "holiday": {"days": [2], "multiplier": 2.0},
            "soc_entry": [0.15, 0.7],
            "detour_max_min": 8,
        },
    },
    "candidates": {"network_nodes": 20},
    "chargers": {"default_class": "dc60", "ports_per_site": 2},
    "strategies": [
        {"name": "existing"},
        {"name": "random", "k": 3},
        {"name": "p-median", "k": 3},
    ],
    "simulation": {"replications": 2, "radius_min": 3, "max_access_min": 20},
}
#: The swept key of ``small_sweep`` and its values (the second is ``small_run``'s).
SWEEP_KEY = "demand.residential.ev_share"
SWEEP_VALUES = (0.15, 0.3)


def study_of(result: RunResult, /) -> StudyResult:
    """The study behind a run's result (what :func:`sim.export.result.assemble` took)."""
    refined = {
        n: dict(s.refine)
        for n, s in result.typed_summary.strategies.items()
        if s.refine is not None
    }
    return StudyResult(
        scenario=result.scenario,
        prepared=result.prepared,
        plans=result.plans,
        units=result.units,
        replications=result.typed_summary.replications,
        candidate_scores=result.candidate_scores,
        refined=refined,
    )


#: Chinese (and other CJK) characters: ideographs, radicals, CJK punctuation, kana,
#: compatibility ideographs and full-width forms (what needs a CJK font to show).
CJK = re.compile(
    r"[\u2e80-\u2fff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def cjk_on_page(text: str, /) -> set[str]:
    """The CJK characters of a page, ``\\uXXXX`` escapes (JSON in scripts) included."""
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return set(CJK.findall(decoded))


def embedded_fonts(page: str, /) -> list[Any]:
    """The fonts a page embeds as ``data:font/woff`` URIs, parsed by fontTools."""
    from fontTools.ttLib import TTFont

    uris = re.findall(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    return [TTFont(io.BytesIO(base64.b64decode(u))) for u in uris]


def in_language(result: RunResult, language: str, /) -> RunResult:
    """``result`` with ``output.language`` set (the same run, written in another language)."""
    sc = result.scenario
    output = sc.output.model_copy(update={"language": language})
    return dataclasses.replace(result, scenario=sc.model_copy(update={"output": output}))


@pytest.fixture(scope="session")
def small_run() -> RunResult:
    """A real run: Kotka, 2 days, 2 replications, residents and highway traffic."""
    return run(parse_config(SMALL))


def _write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def hostile_scenario(folder: Path, /) -> Scenario:
    """Kotka with hostile names in a user's candidates file, zones file and strategy."""
    sites = _write_csv(
        folder / "sites.csv",
        [
            ["id", "name", "lon", "lat"],
            ["evil", EVIL, 26.945, 60.528],
            ["plain", "Plain", 26.955, 60.532],
        ],
    )
    zones = _write_csv(
        folder / "zones.csv",
        [["name", "lon", "lat", "households", "housing"], [EVIL, 26.945, 60.528, 800, "apartment"]],
    )
    data = {
        "name": "kotka-hostile",
        "seed": 5,
        "region": {"sample": "kotka", "zones_file": str(zones)},
        "demand": {"days": 2},
        "candidates": {"network_nodes": 10, "file": str(sites)},
        "strategies": [
            {"name": "existing"},
            {"name": PWN, "model": "fixed", "sites": ["user-evil", "user-plain"]},
            {"name": "p-median", "k": 2},
        ],
        "simulation": {"replications": 2},
    }
    return parse_config(data, base_dir=folder)


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A real run whose strategy, site and zone names are hostile HTML."""
    return run(hostile_scenario(tmp_path_factory.mktemp("hostile")))


def chinese_scenario(folder: Path, /) -> Scenario:
    """Kotka with Chinese names in a user's candidates file, zones file and strategy."""
    site_a, site_b, zone, strategy = CHINESE_NAMES
    sites = _write_csv(
        folder / "sites.csv",
        [
            ["id", "name", "lon", "lat"],
            ["a", site_a, 26.945, 60.528],
            ["b", site_b, 26.955, 60.532],
        ],
    )
    zones = _write_csv(
        folder / "zones.csv",
        [["name", "lon", "lat", "households", "housing"], [zone, 26.945, 60.528, 800, "apartment"]],
    )
    data = {
        "name": "kotka-chinese",
        "seed": 7,
        "region": {"sample": "kotka", "zones_file": str(zones)},
        "demand": {"days": 1},
        "candidates": {"network_nodes": 10, "file": str(sites)},
        "strategies": [
            {"name": "existing"},
            {"name": strategy, "model": "fixed", "sites": ["user-a", "user-b"]},
        ],
        "simulation": {"replications": 2},
    }
    return parse_config(data, base_dir=folder)


@pytest.fixture(scope="session")
def chinese_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A real run whose strategy, site and compound names are Chinese."""
    return run(chinese_scenario(tmp_path_factory.mktemp("chinese")))


@pytest.fixture(scope="session")
def small_sweep(small_run: RunResult) -> SweepResult:
    """A real sweep of ``demand.residential.ev_share`` over :data:`SWEEP_VALUES`."""
    assert SMALL["demand"]["residential"]["ev_share"] == SWEEP_VALUES[-1]
    studies = [
        study_of(run(parse_config(apply_setting(SMALL, SWEEP_KEY, v)))) for v in SWEEP_VALUES[:-1]
    ]
    studies.append(study_of(small_run))
    points = [{SWEEP_KEY: v} for v in SWEEP_VALUES]
    return sweep_result(SweepStudy(keys=[SWEEP_KEY], points=points, studies=studies))
