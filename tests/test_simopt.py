"""Simulation-optimisation on the bundled Kotka extract (2 simulated days, few replications)."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim.study.refine as simopt
from sim.config import SizingConfig, load_config
from sim.demand.model import Demand
from sim.errors import ConfigError
from sim.siting.plan import Plan
from sim.study.plans import make_plans
from sim.study.prepare import Prepared, prepare
from sim.study.refine import (
    PlanEvaluator,
    SearchSettings,
    improve_plan,
    marginal_site_scores,
    plan_with_sites,
    static_gain,
)
from sim.study.units import demand_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup() -> tuple[Prepared, dict[str, Plan]]:
    sc = load_config(ROOT / "configs" / "default.yaml")
    sc = sc.model_copy(update={"demand": sc.demand.model_copy(update={"days": 2})})
    prep = prepare(sc)
    return prep, make_plans(prep)


def _strategy(prep: Prepared, name: str) -> Any:
    return next(s for s in prep.scenario.strategies if s.name == name)


def _fingerprint(d: Demand) -> str:
    h = hashlib.sha256()
    for f in fields(d):
        h.update(np.ascontiguousarray(getattr(d, f.name)).tobytes())
    return h.hexdigest()


def test_improved_plan_is_never_worse_on_the_search_set(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, plans = setup
    start = plans["p-median"]
    r = improve_plan(
        prep, start, SearchSettings(replications=3, max_iterations=3, holdout_replications=0)
    )
    assert r.difficulty <= r.start_difficulty
    t = r.trajectory
    assert t["move"].iloc[0] == "start" and len(t) == r.iterations + 1
    assert (t["diff_mean"].iloc[1:] < 0).all()
    assert np.all(np.diff(t["difficulty_after"].to_numpy()) < 0)
    # swaps keep the site count, equipment and money of the start plan
    assert len(r.plan) == len(start) and r.plan.cost_cny == start.cost_cny
    assert set(r.plan.ports.tolist()) == {2} and set(r.plan.charger_class) == {"dc60"}
    assert r.plan.strategy == "p-median+simopt" and r.gain is None
    assert r.simulations > 0 and r.stopped in {"local optimum", "max_iterations"}


def test_a_bad_static_plan_gets_a_significant_hold_out_gain(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, _ = setup
    # the four candidates that save the least access time: clearly badly placed
    worst = np.argsort(static_gain(prep, prep.existing), kind="stable")[:4]
    bad = plan_with_sites(prep, worst, strategy=_strategy(prep, "p-median"), name="bad")
    r = improve_plan(
        prep, bad, SearchSettings(replications=2, max_iterations=2, holdout_replications=4)
    )
    assert r.iterations >= 1
    assert r.gain is not None and r.gain > 1.0
    assert r.significant and r.gain_ci95[0] is not None and r.gain_ci95[0] > 0
    assert r.holdout_replications == tuple(range(simopt.HOLDOUT_BASE, simopt.HOLDOUT_BASE + 4))
    assert not set(r.search_replications) & set(r.holdout_replications)


def test_same_seed_same_trajectory(setup: tuple[Prepared, dict[str, Plan]]) -> None:
    prep, plans = setup
    st = SearchSettings(replications=2, max_iterations=2, holdout_replications=2)
    a = improve_plan(prep, plans["random"], st)
    b = improve_plan(prep, plans["random"], st)
    pd.testing.assert_frame_equal(a.trajectory, b.trajectory)
    assert a.plan.candidate.tolist() == b.plan.candidate.tolist()
    assert a.gain == b.gain


def test_common_random_numbers_are_used(
    setup: tuple[Prepared, dict[str, Plan]], monkeypatch: pytest.MonkeyPatch
) -> None:
    prep, plans = setup
    seen: list[tuple[int, tuple[int, ...], str]] = []
    real = simopt.run_unit

    def spy(prep_: Prepared, plan: Plan, replication: int, /, **kw: Any) -> Any:
        seen.append((replication, tuple(plan.candidate.tolist()), _fingerprint(kw["demand"])))
        return real(prep_, plan, replication, **kw)

    monkeypatch.setattr(simopt, "run_unit", spy)
    improve_plan(
        prep,
        plans["random"],
        SearchSettings(replications=2, max_iterations=1, holdout_replications=2),
    )
    by_rep: dict[int, set[str]] = {}
    plans_by_rep: dict[int, set[tuple[int, ...]]] = {}
    for rep, sites, fp in seen:
        by_rep.setdefault(rep, set()).add(fp)
        plans_by_rep.setdefault(rep, set()).add(sites)
    assert set(by_rep) == {*range(simopt.SEARCH_BASE, simopt.SEARCH_BASE + 2),
                           *range(simopt.HOLDOUT_BASE, simopt.HOLDOUT_BASE + 2)}  # fmt: skip
    for rep, fps in by_rep.items():
        assert len(plans_by_rep[rep]) >= 2  # several plans saw this replication ...
        assert fps == {_fingerprint(demand_for(prep, rep))}  # ... with the same demand
    # and different replications are different draws
    assert len({next(iter(f)) for f in by_rep.values()}) == len(by_rep)


def test_evaluations_are_cached(setup: tuple[Prepared, dict[str, Plan]]) -> None:
    prep, plans = setup
    ev = PlanEvaluator(prep)
    a = ev.difficulty(plans["p-median"], [0, 1])
    n = ev.simulations
    b = ev.difficulty(plans["p-median"], [1, 0])
    assert ev.simulations == n == 2 and ev.hits == 2
    assert a.tolist() == b[::-1].tolist()


def test_add_moves_grow_the_plan_within_max_sites(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, plans = setup
    r = improve_plan(
        prep,
        plans["existing"],  # Kotka maps no charging station: the plan is empty
        SearchSettings(
            replications=2,
            max_iterations=5,
            moves=("add", "swap"),
            pool=3,
            max_sites=2,
            holdout_replications=0,
        ),
    )
    assert len(r.plan) == 2 and r.trajectory["move"].iloc[1] == "add"
    assert r.start_difficulty - r.difficulty > 30  # a first station helps a lot


def test_bad_arguments_are_named(setup: tuple[Prepared, dict[str, Plan]]) -> None:
    prep, plans = setup
    with pytest.raises(ConfigError, match="max_sites nor budget_cny"):
        improve_plan(prep, plans["p-median"], SearchSettings(moves=("add",)))
    with pytest.raises(ConfigError, match="overlap"):
        improve_plan(prep, plans["p-median"], SearchSettings(search_base=0, holdout_base=2))
    with pytest.raises(ConfigError, match="moves"):
        improve_plan(
            prep,
            plans["p-median"],
            SearchSettings(moves=("teleport",)),  # type: ignore[arg-type]
        )


def test_marginal_scores_rank_sites_by_simulation(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, plans = setup
    sub = {n: plans[n] for n in ("existing", "p-median")}
    df = marginal_site_scores(prep, sub, replications=2, max_candidates=4)
    assert list(df.columns) == simopt._SCORE_COLUMNS
    assert df.groupby("strategy").size().to_dict() == {"existing": 4, "p-median": 4}
    ex = df[df["strategy"] == "existing"]
    # adding one well-placed station to the empty plan lowers difficulty a lot
    assert (ex["delta_difficulty"] < -20).all()
    assert (ex["delta_ci95_hi"] < 0).all() and ex["significant"].all()
    assert (ex["difficulty_base"] == 80.0).all()
    pm = df[df["strategy"] == "p-median"]
    assert not set(pm["candidate"]) & set(plans["p-median"].candidate.tolist())
    assert sorted(pm["sim_rank"]) == [1, 2, 3, 4] and sorted(pm["static_rank"]) == [1, 2, 3, 4]
    assert df.attrs["simulations"] == 2 * (4 + 4 + 2)


def test_the_refined_plan_runs_as_a_fixed_strategy(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, plans = setup
    r = improve_plan(
        prep,
        plans["random"],
        SearchSettings(replications=2, max_iterations=1, holdout_replications=0),
    )
    assert r.strategy.model == "fixed" and r.strategy.name == "random+simopt"
    sc = prep.scenario
    sc2 = sc.model_copy(update={"strategies": [*sc.strategies, r.strategy]})
    again = make_plans(prepare(sc2))["random+simopt"]
    assert again.candidate.tolist() == r.plan.candidate.tolist()
    assert again.ports.tolist() == r.plan.ports.tolist() and again.cost_cny == r.plan.cost_cny


def test_candidate_columns_fill_the_candidates_layer(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    prep, plans = setup
    df = marginal_site_scores(prep, {"existing": plans["existing"]}, replications=1,
                              max_candidates=3)  # fmt: skip
    n = len(prep.region.candidates)
    cols = simopt.candidate_columns(df, against="existing", n_candidates=n)
    assert len(cols) == n and int(cols["sim_rank"].notna().sum()) == 3
    assert cols["sim_delta_difficulty"].notna().sum() == 3
    assert cols["sim_delta_ci95_lo"].isna().all()  # one replication: no interval
    with pytest.raises(ConfigError, match="against"):
        simopt.candidate_columns(df, against="nope", n_candidates=n)


def test_refine_and_candidate_scores_from_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The config keys run simulation-optimisation and write its results."""
    import json

    import geopandas as gpd
    import yaml
    from typer.testing import CliRunner

    from sim.cli import app

    data = {
        "name": "simopt-yaml",
        "seed": 5,
        "region": {"sample": "kotka"},
        "demand": {"days": 2},
        "candidates": {"network_nodes": 20},
        "chargers": {"ports_per_site": 2},
        "strategies": [
            {
                "name": "random",
                "k": 3,
                "refine": {"iterations": 3, "replications": 2, "holdout_replications": 3},
            },
        ],
        "simulation": {
            "replications": 2,
            "score_candidates": {"replications": 2, "max_candidates": 5},
        },
        "output": {"map": False, "report": False},
    }
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert list(s["strategies"]) == ["random", "random+simopt"]
    assert s["strategies"]["random+simopt"]["refine"]["from"] == "random"
    cands = gpd.read_file(tmp_path / "o" / "sites.gpkg", layer="candidates")
    scored = cands["sim_delta_difficulty"].notna()
    assert scored.sum() == 5 and cands.loc[scored, "sim_rank"].notna().all()
    assert (tmp_path / "o" / "candidate_scores.csv").is_file()


def test_search_plans_are_sized_like_the_final_plan(
    setup: tuple[Prepared, dict[str, Plan]],
) -> None:
    # The local search builds its candidate plans through the same path as make_plans:
    # with queue-aware sizing, a session energy far from the old 28 kWh guess must size
    # the search's plan exactly as the plan that is finally run.
    prep, _ = setup
    s = _strategy(prep, "p-median").model_copy(
        update={"sizing": SizingConfig(port_budget=40, target_wait_min=2.0)}
    )
    sc = prep.scenario.model_copy(update={"strategies": [s]})
    for kwh in (12.0, 60.0):
        p2 = dataclasses.replace(prep, scenario=sc, mean_session_kwh=kwh)
        final = make_plans(p2)["p-median"]
        searched = plan_with_sites(p2, final.candidate, strategy=s)
        assert searched.ports.tolist() == final.ports.tolist()
    small = make_plans(dataclasses.replace(prep, scenario=sc, mean_session_kwh=12.0))
    big = make_plans(dataclasses.replace(prep, scenario=sc, mean_session_kwh=60.0))
    assert big["p-median"].ports.sum() > small["p-median"].ports.sum()  # energy matters
