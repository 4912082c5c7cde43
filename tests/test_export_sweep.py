"""A sweep's output folder: sweep.csv, per_replication.csv, summary.json, figure, report.

Made from a real two-point sweep of the small Kotka scenario (``tests/conftest.py``),
whose second point is ``small_run`` itself.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from sim.api import RunResult
from sim.export import figures
from sim.export.result import SweepResult
from sim.export.summary import SweepSummary
from sim.export.writing import UNITS_DIR, write_sweep
from sim.metrics.scores import METRICS
from tests.conftest import SWEEP_KEY, SWEEP_VALUES

STRATEGIES = ["existing", "random", "p-median"]


@pytest.fixture(scope="module")
def folder(small_sweep: SweepResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep(small_sweep, tmp_path_factory.mktemp("sweep") / "out")


def test_sweep_folder_has_every_file(folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    assert names == {"sweep.csv", "per_replication.csv", "summary.json", "sweep.png", "report.html"}
    assert (folder / "sweep.png").stat().st_size > 10_000
    assert not list(folder.parent.glob(".out.partial-*"))


def test_sweep_table_has_a_row_per_point_and_strategy(folder: Path, small_run: RunResult) -> None:
    table = pd.read_csv(folder / "sweep.csv")
    stats = [c for m in METRICS for c in (m, f"{m}_lo", f"{m}_hi")]
    # residents and through-traffic: every metric per segment follows the plan's
    segments = [f"{seg}_{c}" for seg in ("residential", "highway") for c in stats]
    assert list(table.columns) == ["point", SWEEP_KEY, "strategy", "sites", *stats, *segments]
    sites = {n: len(s.sites) for n, s in small_run.typed_summary.strategies.items()}
    assert table.groupby("strategy")["sites"].max().to_dict() == sites  # 0: no chargers
    assert table[["point", SWEEP_KEY, "strategy"]].values.tolist() == [
        [i, v, s] for i, v in enumerate(SWEEP_VALUES) for s in STRATEGIES
    ]
    # a point gives the figures `run` gives on that scenario
    last = table[table["point"] == 1].set_index("strategy")
    for name, s in small_run.typed_summary.strategies.items():
        d = s.metrics["difficulty_index"]
        assert last.at[name, "difficulty_index"] == pytest.approx(d.mean)
        assert last.at[name, "difficulty_index_lo"] == pytest.approx(d.ci95[0])
        hw = s.segments["highway"]["difficulty_index"]
        assert last.at[name, "highway_difficulty_index"] == pytest.approx(hw.mean)
        assert last.at[name, "highway_difficulty_index_hi"] == pytest.approx(hw.ci95[1])
        res = s.segments["residential"]["wait_mean_min"].mean  # None: no charger reached
        got = last.at[name, "residential_wait_mean_min"]
        assert pd.isna(got) if res is None else got == pytest.approx(res)
    per_rep = pd.read_csv(folder / "per_replication.csv")
    assert list(per_rep.columns) == ["point", SWEEP_KEY, "strategy", "replication", *METRICS]
    assert len(per_rep) == len(SWEEP_VALUES) * len(STRATEGIES) * 2


def test_sweep_summary_json_reads_back(folder: Path, small_sweep: SweepResult) -> None:
    text = (folder / "summary.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc == small_sweep.summary
    assert list(doc) == ["scenario", "seed", "replications", "sweep", "table", "comparisons"]
    assert doc["sweep"] == {"keys": [SWEEP_KEY], "points": [{SWEEP_KEY: v} for v in SWEEP_VALUES]}
    assert len(doc["table"]) == len(SWEEP_VALUES) * len(STRATEGIES)
    assert [c["point"] for c in doc["comparisons"]] == [0, 1]
    assert [(p["a"], p["b"]) for p in doc["comparisons"][0]["pairs"]][-1] == ("random", "p-median")
    assert SweepSummary.from_dict(doc).to_json() == text


def test_sweep_report_shows_the_figure_and_every_row(folder: Path) -> None:
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script" not in report and "data:image/png;base64," in report
    table = report[report.index('id="sweep-table"') :]
    table = table[: table.index("</table>")]
    assert SWEEP_KEY in table
    assert table.count("<tr>") == 1 + len(SWEEP_VALUES) * len(STRATEGIES)


def test_sweep_folder_is_replaced_all_or_nothing(small_sweep: SweepResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / UNITS_DIR).mkdir(parents=True)
    (out / UNITS_DIR / "unit.pkl").write_bytes(b"kept")
    (out / "stale.txt").write_text("from an older sweep")

    def fail_on_report(name: str) -> None:
        if name == "report.html":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_sweep(small_sweep, out, on_file=fail_on_report)
    assert sorted(p.name for p in out.iterdir()) == ["stale.txt", UNITS_DIR]  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial folder left
    write_sweep(small_sweep, out)
    assert (out / UNITS_DIR / "unit.pkl").read_bytes() == b"kept"  # resumable
    assert not (out / "stale.txt").exists()


def test_sweep_figure_folds_a_second_key_into_the_strategy(small_sweep: SweepResult) -> None:
    # A real two-key grid needs twice the runs; the second key is added to the real
    # one-key summary instead.
    s = small_sweep.typed_summary
    rows = tuple(dataclasses.replace(r, values={**r.values, "strategies.1.k": 3}) for r in s.rows)
    two = dataclasses.replace(s, keys=(*s.keys, "strategies.1.k"), rows=rows)
    frame = figures.sweep_frame(two)
    assert frame is not None
    assert set(frame["key"]) == {SWEEP_KEY}
    assert list(dict.fromkeys(frame["strategy"])) == [f"{n} (strategies.1.k=3)" for n in STRATEGIES]
    assert frame["value"].tolist() == [v for v in SWEEP_VALUES for _ in STRATEGIES]
