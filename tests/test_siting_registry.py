"""The siting registry is the extension point: a model registered with its declared needs
runs from a scenario YAML with no other code, and strategies are checked against the
entry (options, counts, flows), not against lists of model names."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim.study.plans as plans_module
from sim.api import run
from sim.config import parse_config
from sim.errors import ConfigError, SolverError, SolverInputError
from sim.siting import Needs, SitingProblem, SitingResult, available_models, register, solve
from sim.siting.frlm import FlowProblem
from sim.siting.registry import model_spec, unregister
from sim.study.plans import make_plans
from sim.study.prepare import Prepared, prepare

ROOT = Path(__file__).resolve().parents[1]


def _data(config: str, strategies: list[dict[str, Any]]) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "configs" / config).read_text())
    data["demand"]["days"] = 2
    data["simulation"]["replications"] = 1
    data["output"] = {"map": False, "report": False}
    data["strategies"] = strategies
    return data


@pytest.fixture(scope="module")
def kotka() -> Prepared:
    """The default scenario's prepared inputs (no highway demand)."""
    return prepare(parse_config(_data("default.yaml", [{"name": "p-median", "k": 2}])))


@pytest.fixture(scope="module")
def holiday() -> Prepared:
    """The holiday scenario's prepared inputs (with through-traffic)."""
    data = _data("kotka-holiday.yaml", [{"name": "p-median", "k": 2}])
    del data["demand"]["highway"]["holiday"]  # its days lie beyond the 2 simulated
    return prepare(parse_config(data))


def _with(prep: Prepared, strategies: list[dict[str, Any]]) -> Prepared:
    """The same prepared inputs with other strategies (they do not change the inputs)."""
    scenario = prep.scenario.model_copy(
        update={"strategies": parse_config(_data("default.yaml", strategies)).strategies}
    )
    return dataclasses.replace(prep, scenario=scenario)


#: What the test models were called with, by model name.
CALLS: dict[str, list[dict[str, object]]] = {}


def _first_k(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Open the ``p`` lowest-index candidates."""
    CALLS.setdefault("test-first-k", []).append(dict(params))
    p = int(params["p"])  # type: ignore[call-overload]
    sites = np.arange(min(p, problem.n_candidates), dtype=np.int64)
    return SitingResult(sites, float(p), True, 0.0, 0.0, "test-first-k", dict(params))


def _first_on_route(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Open the first ``p`` candidates along the first through route."""
    assert problem.flows is not None
    CALLS.setdefault("test-route", []).append({"flows": problem.flows, **params})
    p = int(params["p"])  # type: ignore[call-overload]
    sites = np.sort(problem.flows.paths[0][:p])
    return SitingResult(sites, 0.0, False, math.nan, 0.0, "test-route", dict(params))


@pytest.fixture
def test_models() -> Iterator[None]:
    """Two test-only models, registered through the public ``register``, removed after."""
    CALLS.clear()
    register("test-first-k", needs=Needs(count="required"), options={"tie_break": "lowest"})(
        _first_k
    )
    register("test-route", needs=Needs(count="required", flows=True))(_first_on_route)
    try:
        yield
    finally:
        unregister("test-first-k")
        unregister("test-route")
        CALLS.clear()


def test_a_registered_model_runs_from_a_scenario_yaml(test_models: None, tmp_path: Path) -> None:
    strategies = [
        {"name": "first", "model": "test-first-k", "k": 3, "options": {"tie_break": "lowest"}},
        {"name": "p-median", "k": 3},
    ]
    cfg = tmp_path / "scenario.yaml"
    cfg.write_text(yaml.safe_dump(_data("default.yaml", strategies)), encoding="utf-8")
    result = run(cfg)
    ids = result.candidates["site_id"].astype(str).tolist()
    first = result.summary["strategies"]["first"]
    assert first["sites"] == ids[:3]
    assert result.plans["first"].candidate.tolist() == [0, 1, 2]
    # equipped like every plan: the scenario's 2 ports per site, charged for
    assert first["ports"] == [2, 2, 2] and first["cost_cny"] > 0
    # the entry's needs decided the call: p from k, the option, nothing else
    assert CALLS["test-first-k"] == [{"p": 3, "tie_break": "lowest"}]
    assert result.summary["strategies"]["first"]["metrics"]["energy_served_kwh"]["mean"] > 0


def test_registration_is_removed_again(test_models: None) -> None:
    assert "test-first-k" in available_models()
    unregister("test-first-k")
    assert "test-first-k" not in available_models()
    with pytest.raises(SolverError, match="unknown siting model 'test-first-k'"):
        model_spec("test-first-k")
    register("test-first-k", needs=Needs(count="required"))(_first_k)  # for the fixture


def test_an_option_the_entry_does_not_accept_is_refused(test_models: None, kotka: Prepared) -> None:
    prep = _with(kotka, [{"name": "first", "model": "test-first-k", "k": 2,
                          "options": {"tie_brake": "lowest"}}])  # fmt: skip
    with pytest.raises(ConfigError) as info:
        make_plans(prep)
    msg = str(info.value)
    assert msg.startswith("strategies.0 ('first').options.tie_brake: unknown parameter")
    assert "did you mean 'tie_break'?" in msg and "test-first-k" in msg
    assert "test-first-k" not in CALLS  # refused before the model ran


def test_a_model_that_needs_flows_without_highway_demand(
    test_models: None, kotka: Prepared
) -> None:
    for model in ("frlm", "test-route"):
        prep = _with(kotka, [{"name": "p-median", "k": 2}, {"name": "r", "model": model, "k": 2}])
        with pytest.raises(ConfigError) as info:
            make_plans(prep)
        assert str(info.value) == (
            f"strategies.1 ('r'): model {model!r} places stations on through-traffic routes; "
            "enable demand.highway (with routes that pass at least two candidate sites)"
        )


def test_flows_are_built_only_for_models_that_need_them(
    test_models: None, holiday: Prepared, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[FlowProblem | None] = []
    real = plans_module.flow_problem

    def counting(prep: Prepared) -> FlowProblem | None:
        built.append(real(prep))
        return built[-1]

    monkeypatch.setattr(plans_module, "flow_problem", counting)
    make_plans(_with(holiday, [{"name": "p-median", "k": 2}]))
    assert built == []
    plans = make_plans(_with(holiday, [{"name": "r", "model": "test-route", "k": 2}]))
    assert len(built) == 1 and built[0] is not None
    (call,) = CALLS["test-route"]
    assert call["flows"] is built[0] and call["p"] == 2
    assert plans["r"].candidate.tolist() == sorted(built[0].paths[0][:2].tolist())


def test_unknown_model_in_a_strategy_suggests_the_name(kotka: Prepared) -> None:
    prep = _with(kotka, [{"name": "p-median", "k": 2}, {"name": "x", "model": "p-medain", "k": 2}])
    with pytest.raises(ConfigError) as info:
        make_plans(prep)
    msg = str(info.value)
    assert msg.startswith("strategies.1 ('x'): unknown siting model 'p-medain'.")
    assert "Did you mean 'p-median'?" in msg and "mclp-greedy" in msg


@pytest.mark.parametrize(
    ("strategy", "expect"),
    [
        ({"name": "l", "model": "lscp", "k": 3}, "strategies.0 ('l').k: model 'lscp' takes no "
         "number of sites"),
        ({"name": "l", "model": "lscp", "budget_cny": 1e6}, "strategies.0 ('l').budget_cny: "
         "model 'lscp' takes no budget"),
        ({"name": "p-median"}, "strategies.0 ('p-median'): model 'p-median' needs k (new "
         "sites) or budget_cny"),
        ({"name": "frlm"}, "strategies.0 ('frlm').k: model 'frlm' needs k"),
        ({"name": "m", "model": "mclp", "k": 2, "sites": ["a"]}, "strategies.0 ('m').sites"),
    ],
)  # fmt: skip
def test_strategy_keys_the_model_does_not_read(
    kotka: Prepared, strategy: dict[str, Any], expect: str
) -> None:
    if "sites" in strategy:
        strategy["sites"] = kotka.region.candidates["site_id"].astype(str).tolist()[:1]
    with pytest.raises(ConfigError) as info:
        make_plans(_with(kotka, [strategy]))
    assert str(info.value).startswith(expect)


def test_random_defaults_to_one_site(kotka: Prepared) -> None:
    plans = make_plans(
        _with(kotka, [{"name": "random"}, {"name": "r2", "model": "random", "k": 2}])
    )
    assert len(plans["random"]) == 1 and len(plans["r2"]) == 2


def _small_problem() -> SitingProblem:
    cost = np.array([[0.0, 4.0, 9.0, 2.0], [3.0, 0.0, 5.0, 8.0], [7.0, 6.0, 0.0, 1.0]])
    flows = FlowProblem(
        paths=(np.array([0, 1, 2]), np.array([3, 2])),
        path_lengths=(np.array([0.0, 3.0, 6.0]), np.array([0.0, 2.0])),
        flow=np.array([2.0, 1.0]),
        n_candidates=4,
    )
    return SitingProblem(
        cost=cost,
        weight=np.array([1.0, 2.0, 3.0]),
        site_cost=np.array([1.0, 2.0, 1.0, 3.0]),
        capacity=np.full(4, 10.0),
        existing=[3],
        flows=flows,
    )


@pytest.mark.parametrize("name", sorted(set(available_models()) - {"test-first-k", "test-route"}))
def test_every_entry_declares_what_its_model_reads(name: str) -> None:
    """Each built-in model accepts exactly what its entry declares: its needs and every
    option at the declared default (so strategies checked against the entry reach it)."""
    spec = model_spec(name)
    needs = spec.needs
    params: dict[str, object] = dict(spec.defaults)
    if needs.count == "required":
        params["p"] = 2
    if needs.radius:
        params["radius"] = 4.0
    if needs.range_km:
        params["range_km"] = 8.0
    if needs.sites:
        params["sites"] = [0, 2]
    if needs.keep_existing:
        params["keep_existing"] = True
    params.update({k: v for k, v in spec.options.items() if v is not None})
    res = solve(_small_problem(), name, rng=np.random.default_rng(1), **params)
    assert res.sites.size >= 1 and res.model == name
    if needs.keep_existing:
        assert 3 in res.sites.tolist()
    if needs.count == "no":
        with pytest.raises(SolverInputError, match="unknown parameter 'p'"):
            solve(_small_problem(), name, rng=np.random.default_rng(1), p=2, **params)


def test_solve_refuses_a_problem_without_what_the_entry_needs() -> None:
    bare = SitingProblem(cost=np.ones((2, 3)), weight=np.ones(2))
    with pytest.raises(SolverInputError, match=r"frlm: SitingProblem\.flows is None"):
        solve(bare, "frlm", p=1, range_km=5.0)
    with pytest.raises(SolverInputError, match=r"capacitated-coverage: SitingProblem\.capacity"):
        solve(bare, "capacitated-coverage", p=1, radius=1.0)
    with pytest.raises(SolverInputError, match="flows: paths over 4 candidates, expected 3"):
        SitingProblem(cost=np.ones((2, 3)), weight=np.ones(2), flows=_small_problem().flows)


def test_frlm_through_solve_matches_solve_frlm() -> None:
    from sim.siting.frlm import solve_frlm

    problem = _small_problem()
    assert problem.flows is not None
    for name, method in (("frlm", "exact"), ("frlm-greedy", "greedy")):
        res = solve(problem, name, p=2, range_km=4.0)
        ref = solve_frlm(problem.flows, p=2, range_km=4.0, method=method)  # type: ignore[arg-type]
        assert res.sites.tolist() == ref.sites.tolist()
        assert res.objective == ref.covered_flow and res.optimal == ref.optimal
        assert res.params["covered_share"] == ref.covered_share
    # more stations than candidates: every candidate opens
    assert solve(problem, "frlm", p=9, range_km=4.0).sites.tolist() == [0, 1, 2, 3]


def test_the_docs_table_lists_every_model_with_its_options() -> None:
    """docs/siting.md's registry table names every built-in model and its options."""
    text = (ROOT / "docs" / "siting.md").read_text(encoding="utf-8")
    table = text[text.index("| model | reads |") :].split("\n\n")[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    names = {n for row in rows for n in row.replace("`", "").split(" / ")}
    built_in = set(available_models()) - {"test-first-k", "test-route"}
    assert names == built_in
    for row_names, line in rows.items():
        spec = model_spec(row_names.replace("`", "").split(" / ")[0])
        for key in spec.options:
            assert f"`{key}`" in line.split("|")[4], (spec.name, key)
