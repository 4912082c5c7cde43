"""report.html: one self-contained file with the comparison, figures and provenance.

The reports are made from small real runs of the bundled Kotka extract
(``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.api import RunResult
from sim.export import figures, fonts
from sim.export.i18n import label, metric_label
from sim.export.report import report_html, write_report
from sim.export.result import SweepResult
from sim.metrics.scores import METRICS
from tests.conftest import (
    CHINESE_NAMES,
    EVIL,
    PWN,
    cjk_on_page,
    embedded_fonts,
    in_language,
)


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


def _best(result: RunResult) -> str:
    s = result.typed_summary
    return min(s.names, key=lambda n: s.strategies[n].metrics["difficulty_index"].mean or 1e9)


def test_paired_table_is_each_strategy_against_the_best(small_run: RunResult, report: str) -> None:
    best = _best(small_run)
    paired = _table(report, "paired-table")
    heads = re.findall(r'<th class="strategy" data-strategy="([^"]*)">([^<]*)', paired)
    others = [n for n in small_run.typed_summary.names if n != best]
    assert heads == [(n, f"{n} − {best}") for n in others]  # n − 1 columns, not every pair
    # the difficulty cell of `existing − best` is the stored pair turned to that order
    stored = next(
        c for c in small_run.typed_summary.comparisons if {c.a, c.b} == {"existing", best}
    )
    d = stored.metrics["difficulty_index"].mean_diff
    assert d is not None
    expected = d if stored.a == "existing" else -d
    cells = _row(paired, metric_label("difficulty_index", "en"))
    assert cells[others.index("existing")] == f"num best|+{expected:.1f}"


def test_a_plan_without_sites_is_not_best_for_its_zero_wait(
    small_run: RunResult, report: str
) -> None:
    # `existing` has no station in this extract: nobody reaches one, so its wait is
    # missing (not a 0 that would beat every other plan); the table must not mark it best
    s = small_run.typed_summary.strategies
    assert s["existing"].sites == () and s["existing"].metrics["wait_mean_min"].mean is None
    cells = _row(_table(report, "comparison-table"), metric_label("wait_mean_min", "en"))
    assert "best" not in cells[0] and "0.0" not in cells[0]  # shown as missing
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


def test_figures_fall_back_to_english_without_the_font_package(
    small_run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fonts, "font_path", lambda: None)
    assert figures.figure_language("zh") == "en"
    html = report_html(small_run, language="zh")
    assert "pip install justmytype-intl-cjk" in html  # the report says why figures are in English
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


# --------------------------------------------------------------------------- the answer


def _answer_text(report: str) -> str:
    section = report[report.index('<section id="answer">') : report.index("</section>")]
    return html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", section).split()))


def test_report_opens_with_the_answer(small_run: RunResult, report: str) -> None:
    s = small_run.typed_summary
    ranked = sorted(s.names, key=lambda n: s.strategies[n].metrics["difficulty_index"].mean or 1e9)
    best, runner = (s.strategies[n] for n in ranked[:2])
    # the answer comes before everything else a reader scrolls through
    assert report.index('id="answer"') < report.index('id="scenario"')
    assert report.index('id="answer"') < report.index('id="comparison-table"')
    text = _answer_text(report)
    d_best = best.metrics["difficulty_index"]
    assert text.startswith(
        f"The answer {best.name} has the lowest charging difficulty: {d_best.mean:.1f} on the "
        f"0–100 index (95% interval {d_best.ci95[0]:.1f} – {d_best.ci95[1]:.1f})."
    )
    # by how much against the runner-up: the paired difference and its interval
    pair = next(c for c in s.comparisons if {c.a, c.b} == {best.name, runner.name})
    d = pair.metrics["difficulty_index"]
    assert d.mean_diff is not None and d.ci95[0] is not None and d.ci95[1] is not None
    sign = 1.0 if pair.a == runner.name else -1.0
    lo, hi = sorted((sign * d.ci95[0], sign * d.ci95[1]))
    assert (
        f"Against the runner-up, {runner.name} ({runner.metrics['difficulty_index'].mean:.1f}), "
        f"it is {sign * d.mean_diff:.2f} points lower: paired difference over 2 replications "
        f"with the same demand, 95% interval {lo:.2f} – {hi:.2f}."
    ) in text
    tells = "excludes 0" if d.significant else "includes 0"
    assert f"The interval {tells}" in text
    # at what cost, and the difficulty removed per million CNY against the plan that
    # builds nothing (`existing`, 80 = no charger anywhere)
    base = s.strategies["existing"].metrics["difficulty_index"].mean
    assert best.cost_cny and base is not None and d_best.mean is not None
    per = (base - d_best.mean) / (best.cost_cny / 1e6)
    assert (
        f"It costs {best.cost_cny:,.0f} CNY ({len(best.sites)} sites, {best.total_ports} ports)."
    ) in text
    assert f"Against existing ({base:.1f}, no new sites) it removes {per:.1f} difficulty" in text
    # the ranking table: best first, each with its difference to the best
    ranking = _table(report, "answer-table")
    assert re.findall(r'<th data-strategy="([^"]*)"', ranking) == ranked
    assert '<tr class="best">' in ranking


def test_answer_in_chinese(small_run: RunResult) -> None:
    html = report_html(in_language(small_run, "zh"))
    text = _answer_text(html)
    best = _best(small_run)
    assert text.startswith(f"结论 {best} 的充电难度最低：难度指数")
    assert "与次优方案" in text and "配对差值，95% 置信区间" in text
    assert "每百万元投资降低充电难度" in text


def test_answer_without_a_plan_that_builds_nothing(small_run: RunResult) -> None:
    # Every plan of a real run with an `existing` strategy has one; a run without it
    # is the same summary less that strategy.
    s = small_run.typed_summary
    kept = {n: st for n, st in s.strategies.items() if n != "existing"}
    pairs = tuple(c for c in s.comparisons if "existing" not in (c.a, c.b))
    result = dataclasses.replace(
        small_run,
        typed_summary=dataclasses.replace(s, strategies=kept, comparisons=pairs),
    )
    text = _answer_text(report_html(result))
    assert "To see the difficulty removed per million CNY, add a strategy without new sites" in text
    assert "it removes" not in text  # no figure made up without a baseline


def test_a_plan_without_public_chargers_is_labelled(small_run: RunResult, report: str) -> None:
    assert small_run.typed_summary.strategies["existing"].sites == ()
    for table_id in ("answer-table", "comparison-table", "outcomes-table"):
        table = _table(report, table_id)
        labelled = re.search(
            r'data-strategy="existing">existing\s*<span class="tag">no public chargers</span>',
            table,
        )
        assert labelled, table_id
        assert table.count("no public chargers") == 1  # the plans with sites are not


def test_sweep_figure_keeps_a_plan_without_chargers_apart(small_sweep: SweepResult) -> None:
    frame = figures.sweep_frame(small_sweep.typed_summary)
    assert frame is not None
    assert frame.groupby("strategy")["no_chargers"].all().to_dict() == {
        "existing": True, "random": False, "p-median": False
    }  # fmt: skip
    fig = figures.sweep_figure(frame, language="en")
    top, main = fig.axes
    lines = frame[frame["strategy"] != "existing"]
    # the main panel is scaled to the plans with chargers, not squashed under `existing`
    assert main.get_ylim()[1] < frame.loc[frame["strategy"] == "existing", "mean"].min()
    assert main.get_ylim()[1] <= lines["hi"].max() * 1.2
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["existing (no public chargers)"]
    assert top.get_title(loc="left") == "Plans with no public chargers"
    assert [t.get_text() for t in main.get_legend().get_texts()] == ["random", "p-median"]
    figures.png(fig)


def test_static_map_names_what_each_colour_shows(small_run: RunResult) -> None:
    sel, zones = small_run.selected, small_run.zones
    fig = figures.static_map_figure(
        title="p-median",
        zones=zones[zones["strategy"] == "p-median"],
        sites=sel[sel["strategy"] == "p-median"],
        candidates=small_run.candidates,
        roads=small_run.roads,
        language="en",
    )
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"Zones: sessions not served (share)", "Sites: port utilisation (share)"} <= labels
    figures.png(fig)


# --------------------------------------------------------------------------- fonts


def test_chinese_report_embeds_a_font_for_every_chinese_character(small_run: RunResult) -> None:
    html = report_html(in_language(small_run, "zh"))
    faces = embedded_fonts(html)
    assert len(faces) == 2  # regular and bold
    used = cjk_on_page(html)
    assert len(used) > 100
    for face in faces:
        missing = used - {chr(c) for c in face.getBestCmap()}
        assert not missing, "".join(sorted(missing))
    assert fonts.FONT_NOTICE in html  # the font's licence travels with it
    assert len(html) < 3_000_000


def test_english_report_shows_chinese_names(chinese_run: RunResult, tmp_path: Path) -> None:
    site_a, site_b, _zone, strategy = CHINESE_NAMES
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns for every glyph it cannot draw
        html = write_report(chinese_run, tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    for name in (site_a, site_b, strategy):
        assert name in html
    faces = embedded_fonts(html)
    assert faces and cjk_on_page(html) <= {chr(c) for c in faces[0].getBestCmap()}
    assert cjk_on_page(html) >= set(site_a + site_b + strategy)


def test_a_report_without_chinese_embeds_no_font(report: str) -> None:
    assert cjk_on_page(report) == set()
    assert "@font-face" not in report and embedded_fonts(report) == []


def test_figures_draw_chinese_with_the_packaged_font(chinese_run: RunResult) -> None:
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    package = fonts.font_path()
    assert package is not None and "justmytype_intl_cjk" in package.parts
    with figures.figure_style("zh", text=CHINESE_NAMES[0]) as lang:
        assert lang == "zh"
        family = plt.rcParams["font.family"][-1]
        found = Path(font_manager.findfont(font_manager.FontProperties(family=family)))
        assert found.parent == fonts._font_dir()  # the packaged subset, not a system font
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig, ax = plt.subplots()
            ax.set_title(label("fig_wait", "zh") + " " + CHINESE_NAMES[0])
            figures.png(fig)


def test_report_has_the_holiday_operations_table(small_run: RunResult, report: str) -> None:
    """The scenario has a holiday on the expressway: the report compares the plans at the
    busiest service area on the peak day, as summary.json's holiday sections do."""
    start = report.index('id="holiday-table"')
    table = report[start : report.index("</table>", start)]
    s = small_run.typed_summary
    first = next(iter(s.strategies.values()))
    assert first.holiday is not None and str(first.holiday["busiest_site"]) in report
    for name in s.names:
        assert f'data-strategy="{name}"' in table
    flat = first.holiday["stranded_vehicles"]["mean"]
    assert f"{flat:,.1f}" in table
    zh = report_html(small_run, language="zh")
    assert "节假日运营措施" in zh and 'id="holiday-table"' in zh
