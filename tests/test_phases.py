"""Phased plans (docs/phases.md): sites built early stay, common random numbers within a
phase, look-ahead against brute force and against myopic, bad configs, outputs.

One small phased run of the Kotka extract (``SMALL``: 2 days, 2 replications, three
phases) is shared by the tests; the multi-period models are checked on tiny instances.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from sim.api import RunResult, run
from sim.config import parse_config
from sim.errors import ConfigError
from sim.export.result import assemble
from sim.export.tables import phase_table
from sim.export.writing import write_outputs
from sim.metrics.scores import METRICS
from sim.siting.multiperiod import (
    PhaseLimits,
    multiperiod_mclp,
    multiperiod_pmedian,
    phase_covered,
    phase_pmedian_cost,
    unreached_cost_of,
)
from sim.study.runner import StudyResult, run_study
from tests.conftest import SMALL

YEARS = (2025, 2027, 2030)


def phased_data() -> dict[str, Any]:
    """``SMALL`` with three phases of a growing EV share and highway traffic."""
    data = copy.deepcopy(SMALL)
    data["name"] = "kotka-small-phased"
    data["strategies"] = [
        {"name": "existing"},
        {"name": "random", "k": 1},
        {"name": "pm-myopic", "model": "p-median"},
        {"name": "pm-look-ahead", "model": "p-median", "planning": "look-ahead"},
        {"name": "mclp-myopic", "model": "mclp"},
        {"name": "mclp-look-ahead", "model": "mclp", "planning": "look-ahead"},
    ]
    counts = (1, 2, 2)
    shares = ((0.1, 0.03), (0.2, 0.05), (0.4, 0.1))
    data["phases"] = [
        {
            "year": year,
            "ev_share": res,
            "highway_ev_share": hw,
            "strategies": {
                "pm-myopic": {"k": k},
                "pm-look-ahead": {"k": k},
                "mclp-myopic": {"k": k},
                "mclp-look-ahead": {"k": k},
            },
        }
        for year, k, (res, hw) in zip(YEARS, counts, shares, strict=True)
    ]
    return data


@pytest.fixture(scope="module")
def phased_study() -> StudyResult:
    """A real phased study (three phases, six strategies; about 8 s)."""
    return run_study(parse_config(phased_data()))


@pytest.fixture(scope="module")
def phased(phased_study: StudyResult) -> RunResult:
    """Its results, as ``chargesite run`` writes them."""
    return assemble(phased_study)


def _phases(result: RunResult, name: str) -> list[dict[str, Any]]:
    return result.summary["strategies"][name]["phases"]


def test_sites_built_early_stay_with_their_ports(phased: RunResult) -> None:
    for name in phased.summary["strategies"]:
        phases = _phases(phased, name)
        assert [p["year"] for p in phases] == list(YEARS)
        for before, after in itertools.pairwise(phases):
            ports_after = dict(zip(after["sites"], after["ports"], strict=True))
            for site, ports in zip(before["sites"], before["ports"], strict=True):
                assert site in ports_after, f"{name}: {site} closed after {before['year']}"
                assert ports_after[site] == ports
            built = dict(zip(after["sites"], after["built"], strict=True))
            new = set(after["sites"]) - set(before["sites"])
            assert all(built[s] == after["year"] for s in new)
            assert all(built[s] <= before["year"] for s in before["sites"])
    # the counts of the phases were built: 1, then 2, then 2 new sites
    assert [len(p["sites"]) for p in _phases(phased, "pm-myopic")] == [1, 3, 5]
    assert [len(p["sites"]) for p in _phases(phased, "pm-look-ahead")] == [1, 3, 5]
    # the strategy with its own k adds it in every phase
    assert [len(p["sites"]) for p in _phases(phased, "random")] == [1, 2, 3]


def test_phase_cost_is_the_new_sites_money(phased: RunResult) -> None:
    ch = phased.scenario.chargers
    site = ch.site_cost_cny + ch.ports_per_site * ch.classes[ch.default_class].cost_per_port_cny
    for p, new in zip(_phases(phased, "pm-myopic"), (1, 2, 2), strict=True):
        assert p["cost_cny"] == pytest.approx(new * site)
    last = _phases(phased, "pm-myopic")[-1]
    assert last["total_cost_cny"] == pytest.approx(5 * site)
    assert phased.summary["strategies"]["pm-myopic"]["cost_cny"] == pytest.approx(5 * site)


def test_every_strategy_sees_the_same_demand_within_a_phase(phased_study: StudyResult) -> None:
    per_phase_sessions = []
    for ph in phased_study.phases:
        by_rep: dict[int, list[Any]] = {}
        for u in ph.study.units:
            by_rep.setdefault(u.replication, []).append(u.demand)
        for demands in by_rep.values():
            first = demands[0]
            for d in demands[1:]:
                assert np.array_equal(d.depart_min, first.depart_min)
                assert np.array_equal(d.origin, first.origin)
                assert np.array_equal(d.energy_kwh, first.energy_kwh)
        per_phase_sessions.append(len(by_rep[0][0]))
    # a growing EV share: more sessions to simulate in every later phase
    assert per_phase_sessions == sorted(per_phase_sessions)
    assert per_phase_sessions[0] < per_phase_sessions[-1]


def test_a_single_unchanged_phase_gives_the_unphased_results(small_run: RunResult) -> None:
    data = copy.deepcopy(SMALL)
    data["phases"] = [{"year": 2025}]
    one = run(parse_config(data))
    for name, st in small_run.summary["strategies"].items():
        mine = one.summary["strategies"][name]
        assert mine["sites"] == st["sites"]
        assert mine["metrics"] == st["metrics"]
        assert mine["phases"][0]["metrics"] == st["metrics"]


def test_no_phases_leaves_the_outputs_as_before(small_run: RunResult) -> None:
    assert "phases" not in small_run.scenario.model_dump()
    assert all("planning" not in s for s in small_run.scenario.model_dump()["strategies"])
    for st in small_run.summary["strategies"].values():
        assert "phases" not in st and "planning" not in st
    assert "phase" not in small_run.per_replication.columns
    assert "phase_built" not in small_run.selected.columns
    assert phase_table(small_run.typed_summary) is None


def test_look_ahead_is_never_worse_than_myopic_on_its_objective(phased: RunResult) -> None:
    s = phased.summary["strategies"]
    pm_my, pm_la = s["pm-myopic"]["planning"], s["pm-look-ahead"]["planning"]
    assert pm_la["mode"] == "look-ahead" and pm_my["mode"] == "myopic"
    assert pm_la["objective"] <= pm_my["objective"] * (1 + 1e-9)
    mc_my, mc_la = s["mclp-myopic"]["planning"], s["mclp-look-ahead"]["planning"]
    assert mc_la["objective"] >= mc_my["objective"] * (1 - 1e-9)
    assert s["existing"]["planning"]["objective"] is None  # no multi-period form


def test_outputs_have_the_documented_columns(phased: RunResult, tmp_path: Path) -> None:
    write_outputs(phased, tmp_path)
    per_rep = pd.read_csv(tmp_path / "per_replication.csv")
    assert list(per_rep.columns[:3]) == ["phase", "strategy", "replication"]
    assert sorted(set(per_rep["phase"])) == list(YEARS)
    assert set(METRICS) <= set(per_rep.columns)
    n_strategies = len(phased.summary["strategies"])
    assert len(per_rep) == len(YEARS) * n_strategies * phased.scenario.simulation.replications
    summary = json.loads((tmp_path / "summary.json").read_text())
    entry = summary["strategies"]["pm-look-ahead"]["phases"][0]
    assert set(entry) == {
        "year", "sites", "ports", "built", "cost_cny", "total_cost_cny", "access_cost", "metrics",
    }  # fmt: skip
    assert set(entry["metrics"]) == set(METRICS)
    assert set(entry["metrics"]["difficulty_index"]) == {"mean", "ci95"}
    # the strategy's own figures are its last phase's
    last = summary["strategies"]["pm-look-ahead"]["phases"][-1]
    assert summary["strategies"]["pm-look-ahead"]["metrics"] == last["metrics"]
    selected = gpd.read_file(tmp_path / "sites.gpkg", layer="selected")
    assert "phase_built" in selected.columns
    mine = selected[selected["strategy"] == "pm-myopic"]
    built = dict(zip(last_phase(summary, "pm-myopic")["sites"],
                     last_phase(summary, "pm-myopic")["built"], strict=True))  # fmt: skip
    assert dict(zip(mine["site_id"], mine["phase_built"], strict=True)) == built
    assert [ph.year for ph in phased.phases] == list(YEARS)  # the Python face keeps them
    resolved = (tmp_path / "config.resolved.yaml").read_text()
    assert "phases:" in resolved and "look-ahead" in resolved


def last_phase(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return summary["strategies"][name]["phases"][-1]


def test_terminal_shows_the_difficulty_trajectory(phased: RunResult) -> None:
    from rich.console import Console

    table = phase_table(phased.typed_summary)
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    for year in YEARS:
        assert str(year) in text
    assert "pm-look-ahead" in text and "look-ahead" in text
    d = _phases(phased, "pm-myopic")[-1]["metrics"]["difficulty_index"]["mean"]
    assert f"{d:.1f}" in text


def test_a_budget_per_phase_is_respected() -> None:
    data = phased_data()
    data["strategies"] = [
        {"name": "pm", "model": "p-median"},
        {"name": "pm-la", "model": "p-median", "planning": "look-ahead"},
    ]
    budget = 600_000.0  # two new sites of 260,000 CNY fit, three do not
    data["phases"] = [
        {
            "year": y,
            "ev_share": s,
            "strategies": {"pm": {"budget_cny": budget}, "pm-la": {"budget_cny": budget}},
        }
        for y, s in zip(YEARS, (0.1, 0.2, 0.4), strict=True)
    ]
    data["simulation"]["replications"] = 2
    result = run(parse_config(data))
    for name in ("pm", "pm-la"):
        phases = _phases(result, name)
        assert all(0 < p["cost_cny"] <= budget for p in phases)
    assert [len(p["sites"]) for p in _phases(result, "pm")] == [2, 4, 6]
    s = result.summary["strategies"]
    assert s["pm-la"]["planning"]["objective"] <= s["pm"]["planning"]["objective"] * (1 + 1e-9)


# ----------------------------------------------------------------- bad configs


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["phases"][1].update(year=2024), "phases: years must increase"),
        (lambda d: d["phases"][0].update(ev_share=1.5), "phases.0.ev_share"),
        (lambda d: d["phases"][0].update(ev_shar=0.2), "did you mean 'ev_share'"),
        (lambda d: d["phases"][0]["strategies"].update(nope={"k": 1}), "phases.0.strategies"),
        (lambda d: d["phases"][0]["strategies"].update(random={}), "phases.0.strategies.random"),
        (lambda d: d["phases"][0].update(set={"region.sample": "x"}), "phases.0.set"),
        (lambda d: d.pop("phases"), "strategies.3.planning: needs phases"),
    ],
)
def test_bad_phases_are_refused_naming_the_key(change: Any, needle: str) -> None:
    data = phased_data()
    change(data)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_config(data)


def test_a_phase_change_that_does_not_validate_names_the_phase() -> None:
    from sim.study.phases import phase_scenarios

    data = phased_data()
    data["phases"][2]["set"] = {"demand.days": 0}
    with pytest.raises(ConfigError, match=r"phases\.2 \(year 2030\).*demand\.days"):
        phase_scenarios(parse_config(data))
    data["phases"][2]["set"] = {"demand.residentail.ev_share": 0.3}
    with pytest.raises(ConfigError, match=r"phases\.2.*residentail"):
        phase_scenarios(parse_config(data))


def test_look_ahead_needs_a_model_with_a_multi_period_form() -> None:
    from sim.study.phases import check_phases

    data = phased_data()
    data["strategies"][1]["planning"] = "look-ahead"  # random
    with pytest.raises(ConfigError, match=r"strategies\.1 \('random'\)\.planning"):
        check_phases(parse_config(data))
    data = phased_data()
    data["strategies"][3]["options"] = {"lagrangian": False}
    with pytest.raises(ConfigError, match=r"strategies\.3 \('pm-look-ahead'\)\.options"):
        check_phases(parse_config(data))
    data["strategies"][2]["sizing"] = {"port_budget": 10}
    with pytest.raises(ConfigError, match=r"strategies\.2 \('pm-myopic'\)\.sizing"):
        check_phases(parse_config(data))


def test_the_phase_scenarios_carry_each_phases_fleet() -> None:
    from sim.study.phases import phase_scenarios

    data = phased_data()
    data["phases"][1]["set"] = {"simulation.max_attempts": 2}
    scs = phase_scenarios(parse_config(data))
    assert [s.demand.residential.ev_share for s in scs] == [0.1, 0.2, 0.4]
    assert [s.demand.highway.ev_share for s in scs] == [0.03, 0.05, 0.1]
    assert [s.simulation.max_attempts for s in scs][1] == 2
    assert all(s.phases is None for s in scs)


# ----------------------------------------------------- multi-period models


def _brute(
    costs: list[np.ndarray],
    weights: list[np.ndarray],
    ks: tuple[int, ...],
    *,
    score: Any,
    better: Any,
    fixed: tuple[int, ...] = (),
) -> float:
    """The best weighted objective over every nested site sequence."""
    n = costs[0].shape[1]
    best: list[float] = []

    def walk(t: int, opened: tuple[int, ...], acc: float) -> None:
        if t == len(ks):
            if not best or better(acc, best[0]):
                best[:] = [acc]
            return
        free = [j for j in range(n) if j not in opened]
        for add in itertools.combinations(free, ks[t]):
            sites = tuple(sorted(opened + add))
            walk(t + 1, sites, acc + score(t, np.array(sites, dtype=np.int64)))

    walk(0, fixed, 0.0)
    return best[0]


def _instance(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    costs, weights = [], []
    for t in range(3):
        c = rng.uniform(1.0, 10.0, (7, 6))
        c[rng.random(c.shape) < 0.3] = np.inf
        costs.append(c)
        weights.append(rng.uniform(0.0, 3.0, 7) * (1 + t))  # demand grows and moves
    return costs, weights


@pytest.mark.parametrize("seed", range(8))
def test_multiperiod_pmedian_equals_brute_force(seed: int) -> None:
    costs, weights = _instance(seed)
    ks = (1, 1, 2)
    fixed = (0,) if seed % 2 else ()
    big = unreached_cost_of(costs)
    res = multiperiod_pmedian(
        costs, weights, limits=PhaseLimits(new_sites=ks, fixed_open=np.array(fixed, np.int64))
    )
    best = _brute(
        costs, weights, ks, fixed=fixed, better=lambda a, b: a < b,
        score=lambda t, s: phase_pmedian_cost(costs[t], weights[t], s, unreached_cost=big),
    )  # fmt: skip
    assert res.optimal
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert [s.size for s in res.sites] == [len(fixed) + 1, len(fixed) + 2, len(fixed) + 4]
    for a, b in itertools.pairwise(res.sites):
        assert set(a) <= set(b)
    assert set(fixed) <= set(res.sites[0])


@pytest.mark.parametrize("seed", range(8))
def test_multiperiod_mclp_equals_brute_force(seed: int) -> None:
    costs, weights = _instance(seed)
    ks = (1, 2, 1)
    res = multiperiod_mclp(costs, weights, radius=4.0, limits=PhaseLimits(new_sites=ks))
    best = _brute(
        costs, weights, ks, better=lambda a, b: a > b,
        score=lambda t, s: phase_covered(costs[t], weights[t], s, radius=4.0),
    )  # fmt: skip
    assert res.objective == pytest.approx(best, rel=1e-9)


def test_multiperiod_weights_and_budgets() -> None:
    costs, weights = _instance(3)
    site_cost = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    budgets = (2.0, 3.0, 3.0)
    pw = (1.0, 2.0, 5.0)
    res = multiperiod_pmedian(
        costs,
        weights,
        limits=PhaseLimits(
            new_sites=(None, None, None), budgets=budgets, site_cost=site_cost, phase_weight=pw
        ),
    )
    spent = [site_cost[res.sites[0]].sum()] + [
        site_cost[np.setdiff1d(b, a)].sum() for a, b in itertools.pairwise(res.sites)
    ]
    assert all(s <= b + 1e-9 for s, b in zip(spent, budgets, strict=True))
    big = unreached_cost_of(costs)
    # brute force over every nested sequence within the budgets
    n = site_cost.size
    best = np.inf
    subsets = [tuple(c) for r in range(n + 1) for c in itertools.combinations(range(n), r)]
    for s0 in subsets:
        if site_cost[list(s0)].sum() > budgets[0]:
            continue
        for s1 in subsets:
            if not set(s0) <= set(s1) or site_cost[list(set(s1) - set(s0))].sum() > budgets[1]:
                continue
            for s2 in subsets:
                if not set(s1) <= set(s2) or site_cost[list(set(s2) - set(s1))].sum() > budgets[2]:
                    continue
                v = sum(
                    w * phase_pmedian_cost(costs[t], weights[t], np.array(s, np.int64),
                                           unreached_cost=big)
                    for t, (w, s) in enumerate(zip(pw, (s0, s1, s2), strict=True))
                )  # fmt: skip
                best = min(best, v)
    assert res.objective == pytest.approx(best, rel=1e-9)


def test_report_plots_difficulty_over_the_years(phased: RunResult, small_run: RunResult) -> None:
    from sim.export.figures import phase_frame
    from sim.export.report import report_html

    frame = phase_frame(phased.typed_summary)
    assert frame is not None
    assert sorted(set(frame["value"])) == list(YEARS)
    mine = frame[frame["strategy"] == "pm-myopic"]
    for (_, row), ph in zip(mine.iterrows(), _phases(phased, "pm-myopic"), strict=True):
        d = ph["metrics"]["difficulty_index"]
        assert row["mean"] == pytest.approx(d["mean"])
        assert (row["lo"], row["hi"]) == pytest.approx(tuple(d["ci95"]))
    page = report_html(phased)
    assert "Charging difficulty by phase" in page
    assert "Charging difficulty by phase" not in report_html(small_run)


def test_map_colours_sites_by_the_year_built(phased: RunResult) -> None:
    from sim.export.webmap import map_html, phase_colour

    page = map_html(phased)
    assert "Site colour: year built" in page
    years = sorted(set(phased.selected["phase_built"].astype(int)))
    for y in years:
        assert phase_colour(y, years) in page
    assert len({phase_colour(y, years) for y in years}) == len(years)
