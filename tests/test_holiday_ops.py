"""The holiday operations comparison (issue 16 items 5-6) on
``configs/corridor-holiday-ops.yaml``: extra ports, mobile units, the 80% cap and queue
information against the base plan, with common random numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.config import load_config, parse_config, read_yaml
from sim.des.log import CHARGED
from sim.errors import ConfigError
from sim.export.holiday import HolidaySummary, holiday_summaries
from sim.export.summary import build_summary
from sim.study.runner import StudyResult, run_study
from sim.study.units import per_replication_frame

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "corridor-holiday-ops.yaml"


@pytest.fixture(scope="module")
def study() -> StudyResult:
    sc = load_config(CONFIG)
    sim_cfg = sc.simulation.model_copy(update={"replications": 3})
    return run_study(sc.model_copy(update={"simulation": sim_cfg}))


@pytest.fixture(scope="module")
def summaries(study: StudyResult) -> dict[str, HolidaySummary]:
    return holiday_summaries(study)


def test_extra_ports_add_ports_and_their_cost_only(study: StudyResult) -> None:
    base, more = study.plans["base"], study.plans["plus-ports"]
    np.testing.assert_array_equal(base.candidate, more.candidate)
    assert int(more.ports.sum() - base.ports.sum()) == 16
    assert more.cost_cny == pytest.approx(16 * 45_000.0)  # dc120's port cost, no site cost


def test_every_plan_is_measured_at_the_base_plans_busiest_area(
    study: StudyResult, summaries: dict[str, HolidaySummary]
) -> None:
    sites = {s.busiest_site for s in summaries.values()}
    assert len(sites) == 1 and sites != {""}
    assert not summaries["base"].vs_base
    for name, s in summaries.items():
        if name != "base":
            assert set(s.vs_base) >= {"busiest_wait_mean_min", "stranded_vehicles"}
    # 8 units x 2 holiday days x 5,000 CNY, and 0.3 CNY per kWh they delivered
    plan = study.plans["plus-mobile"]
    kwh = [
        u.log.energy_kwh[
            (u.log.station >= 0) & (u.log.outcome == CHARGED) & plan.mobile[u.log.station]
        ].sum()
        for u in study.units
        if u.strategy == "plus-mobile"
    ]
    assert min(kwh) > 0
    expected = 8 * 2 * 5000.0 + 0.3 * float(np.mean(kwh))
    summary = build_summary(study, per_replication_frame(study.units))
    assert summary.strategies["plus-mobile"].cost_cny == pytest.approx(expected)


def test_extra_ports_cut_the_busiest_wait(summaries: dict[str, HolidaySummary]) -> None:
    diff = summaries["plus-ports"].vs_base["busiest_wait_mean_min"]
    assert diff["mean"] < -30.0 and diff["ci95"][1] < 0  # significantly shorter
    assert summaries["plus-ports"].vs_base["stranded_vehicles"]["mean"] < 0


def test_the_cap_shortens_sessions_and_queues(study: StudyResult, summaries: dict) -> None:
    """With the 80% cap the mean charging time of a holiday session falls, and so does
    the wait at the busiest area (queueing theory's direction: shorter service, shorter
    queue)."""

    def holiday_minutes(name: str) -> float:
        out = []
        for u in study.units:
            if u.strategy == name:
                log = u.log
                done = (log.outcome == CHARGED) & (log.start_min >= 1440)
                out.append(np.mean(log.end_min[done] - log.start_min[done]))
        return float(np.mean(out))

    assert holiday_minutes("cap-80") < holiday_minutes("base") - 2.0
    assert summaries["cap-80"].vs_base["busiest_wait_mean_min"]["mean"] < 0


def test_summary_dict_has_the_figures(summaries: dict[str, HolidaySummary]) -> None:
    d = summaries["queue-info"].to_dict()
    assert d["peak_day"] in (2, 3)
    for key in ("busiest_wait_mean_min", "busiest_wait_p95_min", "stranded_vehicles"):
        assert set(d[key]) == {"mean", "ci95"}
        assert set(d["vs_base"][key]) == {"mean", "ci95"}


def test_no_holiday_no_section() -> None:
    data = read_yaml(CONFIG)
    del data["demand"]["highway"]["holiday"]
    data["strategies"] = [{"name": "base", "model": "existing"}]
    sc = parse_config(data)
    sc = sc.model_copy(update={"simulation": sc.simulation.model_copy(update={"replications": 1})})
    assert holiday_summaries(run_study(sc)) == {}


def test_extra_ports_at_an_unknown_site_are_refused() -> None:
    data = read_yaml(CONFIG)
    data["strategies"] = [{"name": "x", "model": "existing", "extra_ports": {"nowhere": 2}}]
    with pytest.raises(ConfigError, match="not charging sites of its plan"):
        run_study(parse_config(data))


def test_the_terminal_shows_the_holiday_comparison(study: StudyResult) -> None:
    from rich.console import Console

    from sim.cli import holiday_table

    summary = build_summary(study, per_replication_frame(study.units))
    table = holiday_table(summary)
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    site = summary.strategies["base"].holiday["busiest_site"]  # type: ignore[index]
    assert site in text and "Δ wait" in text
    for name in study.plans:
        assert name in text
    diff = summary.strategies["plus-ports"].holiday["vs_base"]["busiest_wait_mean_min"]  # type: ignore[index]
    assert f"{diff['mean']:,.1f}" in text
