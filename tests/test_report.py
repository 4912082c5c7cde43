"""report.html: one self-contained file with the comparison, figures and provenance.

The reports are made from small real runs of the bundled Kotka extract
(``tests/conftest.py``).
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.api import RunResult
from sim.export import figures
from sim.export.i18n import label, metric_label
from sim.export.report import report_html, write_report
from sim.metrics.scores import METRICS
from tests.conftest import EVIL, PWN, in_language


@pytest.fixture(scope="module")
def report(small_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(small_run, path)
    return path.read_text(encoding="utf-8")


def _table(report: str, table_id: str) -> str:
    table = report[report.index(f'id="{table_id}"') :]
    return table[: table.index("</table>")]


def _row(table: str, heading: str) -> list[str]:
    """The cells of the row whose heading starts with ``heading`` (tags stripped)."""
    for row in re.findall(r"<tr><th>(.*?)</tr>", table, flags=re.S):
        if row.startswith(heading):
            cells = re.findall(r"<td class=\"(num[^\"]*)\">(.*?)</td>", row, flags=re.S)
            return [f"{cls}|{re.sub(r'<[^>]+>', ' ', text).split()[0]}" for cls, text in cells]
    raise AssertionError(f"no row {heading!r}")


def test_report_is_one_self_contained_file(small_run: RunResult, report: str) -> None:
    assert re.findall(r"<script", report) == []
    assert re.findall(r"<link", report) == []
    srcs = re.findall(r"\bsrc=\"([^\"]*)\"", report)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    # wait, queue by hour, queue over time, utilisation, plus one static map per strategy
    assert len(srcs) == 4 + len(small_run.typed_summary.strategies)
    assert len(report) < 3_000_000


def test_report_compares_every_strategy_on_every_metric(report: str) -> None:
    table = _table(report, "comparison-table")
    for s in ("existing", "random", "p-median"):
        assert f'data-strategy="{s}"' in table
    for m in METRICS:
        assert metric_label(m, "en") in table
    assert "[" in table and "–" in table  # intervals are shown
    paired = _table(report, "paired-table")
    assert "existing − random" in paired and "random − p-median" in paired


def test_a_plan_without_sites_is_not_best_for_its_zero_wait(
    small_run: RunResult, report: str
) -> None:
    # `existing` has no station in this extract: nobody queues, so its mean wait is 0,
    # lower than the other plans'; the table must not mark that as the best wait
    s = small_run.typed_summary.strategies
    assert s["existing"].sites == () and s["existing"].metrics["wait_mean_min"].mean == 0.0
    cells = _row(_table(report, "comparison-table"), metric_label("wait_mean_min", "en"))
    assert cells[0] == "num|0.0"  # shown, not bold
    assert sum("best" in c for c in cells[1:]) == 1  # one of the plans with sites is


def test_report_has_scenario_provenance_and_notes(small_run: RunResult, report: str) -> None:
    prov = small_run.typed_summary.provenance
    for text in (
        "Simulated days",
        "Replications",
        "Seed",
        "Charging sessions per replication",
        *prov.data_sha256.values(),
        html_lib.escape(prov.region_notes[0]),
        "© OpenStreetMap contributors",
    ):
        assert text in report
    # highway through-traffic is counted apart from residents
    found = re.search(r"Charging sessions per replication</th><td>([^<]*)</td>", report)
    assert found and re.search(r"\bresidential [\d,]+", found.group(1))
    assert re.search(r"\bhighway [\d,]+", found.group(1))
    assert 'data-strategy="p-median"' in report  # a static map per strategy


def test_report_escapes_osm_and_user_strings(hostile_run: RunResult, tmp_path: Path) -> None:
    html = write_report(hostile_run, tmp_path / "report.html").read_text(encoding="utf-8")
    assert EVIL not in html and PWN not in html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the site named EVIL
    assert "&lt;img src=x onerror=" in html  # the strategy named PWN


def test_report_in_chinese(small_run: RunResult) -> None:
    html = report_html(in_language(small_run, "zh"))
    assert '<html lang="zh-CN">' in html
    for text in ("方案比较", "充电难度指数", "数据与版本来源", "区域数据说明"):
        assert text in html


def test_figures_fall_back_to_english_without_a_cjk_font(
    small_run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    assert figures.figure_language("zh") == "en"
    html = report_html(small_run, language="zh")
    assert "fonts-wqy-microhei" in html  # the report says why figures are in English
    assert "方案比较" in html  # the text itself stays Chinese


def test_queue_and_utilisation_by_hour_from_the_session_log() -> None:
    # One station with 2 ports over 2 days and 1 replication: each day a vehicle waits
    # 01:00-02:00 and charges 02:00-03:00; another charges 00:00-00:30 without waiting.
    rows: list[dict[str, Any]] = []
    for day in range(2):
        t0 = day * 1440.0
        rows.append({"arrival_min": t0 + 60, "wait_min": 60.0, "start_min": t0 + 120,
                     "end_min": t0 + 180, "outcome": "charged"})  # fmt: skip
        rows.append({"arrival_min": t0, "wait_min": 0.0, "start_min": t0, "end_min": t0 + 30,
                     "outcome": "charged"})  # fmt: skip
    rows.append({"arrival_min": 300.0, "wait_min": np.nan, "start_min": np.nan,
                 "end_min": np.nan, "outcome": "balked"})  # fmt: skip
    sessions = pd.DataFrame(rows).assign(strategy="s", station_id="x")
    q = figures.queue_by_hour(sessions, days=2, replications=1).set_index("hour")["queue_mean"]
    assert q[1] == pytest.approx(1.0)
    assert q.drop(1).abs().max() == pytest.approx(0.0)
    selected = pd.DataFrame({"strategy": ["s"], "site_id": ["x"], "ports": [2]})
    u = figures.utilisation_by_hour(sessions, selected, days=2, replications=1)
    u = u.set_index("hour")["utilization"]
    assert u[0] == pytest.approx(0.25)  # one of 2 ports for half the hour
    assert u[2] == pytest.approx(0.5)
    assert u[5] == pytest.approx(0.0)


def test_report_language_is_validated(small_run: RunResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language"):
        write_report(small_run, tmp_path / "r.html", language="de")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_default_scenario_end_to_end(tmp_path: Path) -> None:
    from sim.api import run
    from sim.export.webmap import write_map

    config = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    result = run(config, replications=2)
    names = list(result.summary["strategies"])
    report = write_report(result, tmp_path / "report.html").read_text(encoding="utf-8")
    page = write_map(result, tmp_path / "map.html").read_text(encoding="utf-8")
    for name in names:
        assert f'data-strategy="{name}"' in report
        assert f"Strategy: {name}" in page
    assert (tmp_path / "report.html").stat().st_size < 3_000_000
    assert (tmp_path / "map.html").stat().st_size < 2_000_000


def test_every_label_has_english_and_chinese() -> None:
    from sim.export.i18n import LABELS, METRIC_LABELS, OUTCOME_LABELS

    for table in (LABELS, METRIC_LABELS, OUTCOME_LABELS):
        for key, text in table.items():
            assert set(text) == {"en", "zh"}, key
    assert set(METRIC_LABELS) == set(METRICS)
    assert label("no_such_key", "zh") == "no_such_key"  # a missing label shows, not crashes
