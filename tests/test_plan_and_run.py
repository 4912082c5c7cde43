"""Siting on the workers (``run_study`` with ``workers > 1``): the plans ``make_plans``
makes, the units one process simulates, resume from the store, and make_plans' errors."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.config import load_config
from sim.errors import ConfigError
from sim.study.cache import UnitStore
from sim.study.executors import plan_and_run, run_units
from sim.study.plans import make_plans
from sim.study.prepare import prepare
from sim.study.runner import run_study

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 1
    data["simulation"]["replications"] = 2
    data["output"] = {"map": False, "report": False}
    data.update(changes)
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def test_plans_and_units_are_those_of_one_process(tmp_path: Path) -> None:
    sc = load_config(_config(tmp_path))
    prep = prepare(sc)
    plans, units = plan_and_run(prep, workers=2)
    ref = make_plans(prep)
    assert list(plans) == list(ref) == [s.name for s in sc.strategies]
    for name, plan in plans.items():
        assert np.array_equal(plan.candidate, ref[name].candidate)
        assert np.array_equal(plan.ports, ref[name].ports)
        assert plan.cost_cny == ref[name].cost_cny and plan.kind == ref[name].kind
    one = run_units([sc])
    assert sorted(units) == sorted(one)
    for k, u in one.items():
        assert units[k].metrics == u.metrics
        for f in fields(u.log):
            a, b = getattr(units[k].log, f.name), getattr(u.log, f.name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()  # NaNs included


def test_resumes_from_the_store(tmp_path: Path) -> None:
    sc = load_config(_config(tmp_path))
    store = UnitStore(tmp_path / "units")
    first = run_study(sc, workers=2, store=store)
    files = sorted(store.folder.glob("*.pkl"))
    assert len(files) == 2 * len(sc.strategies)
    files[0].unlink()
    simulated: list[str] = []

    def note(label: str, _done: int, _total: int) -> None:
        if label.startswith("simulated"):
            simulated.append(label)

    again = run_study(sc, workers=2, store=store, progress=note)
    assert len(simulated) == 1
    assert [u.metrics for u in again.units] == [u.metrics for u in first.units]


def test_no_demand_is_the_same_error_as_in_one_process(tmp_path: Path) -> None:
    data = yaml.safe_load(_config(tmp_path).read_text())
    data["demand"]["residential"] = {"ev_share": 0.0}
    p = tmp_path / "none.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    sc = load_config(p)
    with pytest.raises(ConfigError) as one:
        run_study(sc, workers=1)
    with pytest.raises(ConfigError) as two:
        run_study(sc, workers=2)
    assert str(one.value) == str(two.value) and "no charging demand" in str(two.value)
