"""summary.json and the typed summary: one document, two faces.

``RunResult.summary`` (plain dicts, what users index) and ``RunResult.typed_summary``
(frozen dataclasses, what the map, the report and the terminal table read) must say
the same thing as the file, for a small real run (``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from sim.api import RunResult
from sim.export.result import assemble
from sim.export.summary import Summary
from sim.export.writing import write_outputs
from sim.metrics.scores import METRICS
from tests.conftest import study_of


@pytest.fixture(scope="module")
def summary_text(small_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = write_outputs(small_run, tmp_path_factory.mktemp("run") / "out")
    return (out / "summary.json").read_text(encoding="utf-8")


def test_summary_json_is_the_typed_summary(small_run: RunResult, summary_text: str) -> None:
    typed = small_run.typed_summary
    assert summary_text == typed.to_json()
    assert json.loads(summary_text) == small_run.summary
    # read back, it is the same typed summary and the same text
    again = Summary.from_dict(json.loads(summary_text))
    assert again == typed
    assert again.to_json() == summary_text
    doc = json.loads(summary_text)
    assert list(doc) == [
        "scenario", "seed", "replications", "days", "strategies", "comparisons", "provenance",
    ]  # fmt: skip
    assert (doc["scenario"], doc["seed"], doc["replications"], doc["days"]) == (
        "kotka-small", 11, 2, 2,
    )  # fmt: skip
    p = doc["strategies"]["p-median"]
    # residents and through-traffic: every metric per segment too (issue 14)
    assert list(p) == [
        "model", "sites", "ports", "cost_cny", "solver", "metrics", "segments", "holiday",
    ]  # fmt: skip
    # the scenario has a holiday on the expressway: the peak day's figures
    assert p["holiday"]["peak_day"] >= 1 and "stranded_vehicles" in p["holiday"]
    assert list(p["segments"]) == ["residential", "highway"]
    assert all(list(m) == list(METRICS) for m in p["segments"].values())
    assert list(p["metrics"]) == list(METRICS)
    assert p["sites"] == list(typed.strategies["p-median"].sites) and len(p["sites"]) == 3


def test_missing_values_are_null_in_the_file_and_none_in_the_typed_summary(
    small_run: RunResult, summary_text: str
) -> None:
    # `existing` has no station in the extract: nobody drives to a charger
    doc = json.loads(summary_text)
    access = doc["strategies"]["existing"]["metrics"]["access_time_mean_min"]
    assert access == {"mean": None, "ci95": [None, None]}
    typed = small_run.typed_summary.strategies["existing"].metrics["access_time_mean_min"]
    assert typed.mean is None and typed.half_width is None
    assert "NaN" not in summary_text and "Infinity" not in summary_text


def test_the_same_study_gives_the_same_file(small_run: RunResult, summary_text: str) -> None:
    assert assemble(study_of(small_run)).typed_summary.to_json() == summary_text


def test_paired_comparisons_name_the_better_strategy(small_run: RunResult) -> None:
    s = small_run.typed_summary
    assert [(c.a, c.b) for c in s.comparisons] == [
        ("existing", "random"), ("existing", "p-median"), ("random", "p-median"),
    ]  # fmt: skip
    # a plan with chargers serves more sessions than none, in every replication
    d = s.comparisons[0].metrics["unserved_share"]
    assert d.significant and d.better == "random" and d.mean_diff is not None and d.mean_diff > 0


def test_refinement_records_are_part_of_the_summary(small_run: RunResult) -> None:
    # A real refinement runs dozens of extra simulations; the record is the plain JSON
    # that sim.study.refine hands over, so this test gives the real study one.
    record = {
        "from": "p-median",
        "iterations": 2,
        "stopped": "no improving move",
        "gain": {"difficulty_index": 1.5, "ci95": [0.5, 2.5], "significant": True},
    }
    study = dataclasses.replace(study_of(small_run), refined={"p-median": record})
    result = assemble(study)
    typed = result.typed_summary.strategies
    assert typed["p-median"].refine == record and typed["random"].refine is None
    doc = json.loads(result.typed_summary.to_json())
    assert doc["strategies"]["p-median"]["refine"] == record
    keys = list(doc["strategies"]["p-median"])
    assert keys[keys.index("metrics") + 1] == "refine"  # then segments (issue 14)
    assert "refine" not in doc["strategies"]["random"]
    assert result.summary == doc


def test_comparison_rows_for_a_strategies_by_metrics_table(small_run: RunResult) -> None:
    rows = small_run.typed_summary.comparison_rows(["difficulty_index", "unserved_share"])
    assert [(r.name, r.sites) for r in rows] == [("existing", 0), ("random", 3), ("p-median", 3)]
    existing, _, pmedian = rows
    assert existing.metrics[0].mean == pytest.approx(80.0)  # nobody served: 80 of 100
    assert existing.metrics[0].half_width == 0.0  # the same in every replication
    hw = pmedian.metrics[1].half_width
    assert (
        pmedian.metrics[1]
        == small_run.typed_summary.strategies["p-median"].metrics["unserved_share"]
    )
    assert hw is not None and hw > 0
