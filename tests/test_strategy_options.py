"""strategies[].options: further solver parameters from the YAML scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import sim.siting.plan as plan_module
from sim.cli import app
from sim.config import parse_config
from sim.errors import ConfigError
from sim.study.plans import make_plans
from sim.study.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _data(strategies: list[dict[str, Any]]) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 2
    data["simulation"]["replications"] = 2
    data["output"] = {"map": False, "report": False}
    data["strategies"] = strategies
    return data


def test_options_reach_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, dict[str, object]] = {}
    real = plan_module.solve

    def spy(problem: object, name: str, **params: object) -> object:
        seen[name] = params
        return real(problem, name, **params)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_module, "solve", spy)
    scenario = parse_config(
        _data(
            [
                {"name": "h", "model": "p-median-heuristic", "k": 4,
                 "options": {"iterations": 7, "time_limit": 3.5}},
                {"name": "e", "model": "p-median", "k": 4, "options": {"lagrangian": False}},
            ]
        )
    )  # fmt: skip
    plans = make_plans(prepare(scenario))
    assert seen["p-median-heuristic"]["iterations"] == 7
    assert seen["p-median-heuristic"]["time_limit"] == 3.5
    assert seen["p-median"]["lagrangian"] is False
    # straight to the MILP or through the Lagrangian: the same optimum
    assert plans["e"].optimal and plans["e"].objective == pytest.approx(plans["h"].objective)


@pytest.mark.parametrize(
    ("options", "expect"),
    [
        ({"p": 3}, "strategies.0 ('h').options.p: set it with the strategy's k"),
        (
            {"iteration": 5},
            "options.iteration: unknown parameter 'iteration' (did you mean 'iterations'?) "
            "for model 'p-median-heuristic'; it takes iterations, time_limit",
        ),
        ({"iterations": -1}, "iterations"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], expect: str) -> None:
    scenario = parse_config(
        _data([{"name": "h", "model": "p-median-heuristic", "k": 4, "options": options}])
    )
    with pytest.raises(ConfigError, match=r"strategies\.0") as info:
        make_plans(prepare(scenario))
    assert expect in str(info.value)


def test_flow_models_take_only_a_time_limit() -> None:
    scenario = parse_config(
        _data([{"name": "f", "model": "frlm", "k": 2, "options": {"mip_gap": 0.1}}])
    )
    with pytest.raises(
        ConfigError,
        match=r"^strategies\.0 \('f'\)\.options\.mip_gap: unknown parameter 'mip_gap' for "
        r"model 'frlm'; it takes time_limit$",
    ):
        make_plans(prepare(scenario))


def test_bad_option_from_the_cli_exits_2(tmp_path: Path) -> None:
    data = _data([{"name": "h", "model": "p-median-heuristic", "k": 4,
                   "options": {"iteratons": 5}}])  # fmt: skip
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "iteratons" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
