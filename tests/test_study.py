"""The one runner: run, sweep and the Python API take the same steps.

A sweep point is the study of that point's scenario: refinement by simulation and the
candidate scores apply at every point, with the same figures ``run`` gives on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sim.api import run
from sim.config import load_config
from sim.config.overrides import apply_setting
from sim.study.cache import MEMORY, UnitStore
from sim.study.runner import run_study, run_sweep_study

ROOT = Path(__file__).resolve().parents[1]


def _scenario(tmp_path: Path) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 2
    data["simulation"]["replications"] = 2
    data["simulation"]["score_candidates"] = {"replications": 2, "max_candidates": 3}
    data["strategies"] = [
        {"name": "random", "k": 2},
        {
            "name": "p-median",
            "k": 2,
            "refine": {"iterations": 1, "replications": 1, "holdout_replications": 2, "pool": 2},
        },
    ]
    data["output"] = {"map": False, "report": False}
    return data


def _write(tmp_path: Path, data: dict[str, Any], name: str) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def test_a_sweep_point_is_the_run_of_its_scenario(tmp_path: Path) -> None:
    data = _scenario(tmp_path)
    cfg = _write(tmp_path, data, "base.yaml")
    sweep = run_sweep_study(cfg, [("demand.residential.ev_share", [0.2, 0.4])])
    assert [p["demand.residential.ev_share"] for p in sweep.points] == [0.2, 0.4]
    for point, study in zip(sweep.points, sweep.studies, strict=True):
        one = _write(
            tmp_path,
            apply_setting(
                data, "demand.residential.ev_share", point["demand.residential.ev_share"]
            ),
            "point.yaml",
        )
        MEMORY.clear()  # the run prepares its scenario afresh
        alone = run(one)
        # refinement happened at the point: its +simopt strategy is there, with its record
        assert list(study.plans) == ["random", "p-median", "p-median+simopt"]
        assert set(study.refined) == {"p-median+simopt"}
        assert (
            alone.summary["strategies"]["p-median+simopt"]["refine"]
            == study.refined["p-median+simopt"]
        )
        # the same plans and the same scores
        for name, plan in study.plans.items():
            assert plan.candidate.tolist() == alone.plans[name].candidate.tolist()
        got = {(u.strategy, u.replication): u.metrics for u in study.units}
        want = {(u.strategy, u.replication): u.metrics for u in alone.units}
        assert got == want
        # the candidates were scored at every point, as run scores them
        assert study.candidate_scores is not None and alone.candidate_scores is not None
        assert len(study.candidate_scores) > 0
        pd.testing.assert_frame_equal(study.candidate_scores, alone.candidate_scores)


def test_points_differ_where_the_swept_key_matters(tmp_path: Path) -> None:
    data = _scenario(tmp_path)
    data["strategies"] = [{"name": "p-median", "k": 2}]
    del data["simulation"]["score_candidates"]
    cfg = _write(tmp_path, data, "base.yaml")
    sweep = run_sweep_study(cfg, [("demand.residential.ev_share", [0.1, 0.5])])
    energy = [sum(u.metrics["energy_served_kwh"] or 0.0 for u in s.units) for s in sweep.studies]
    assert energy[1] > 2 * energy[0]  # five times the EVs charge much more


def test_run_study_resumes_from_its_store(tmp_path: Path) -> None:
    data = _scenario(tmp_path)
    data["strategies"] = [{"name": "p-median", "k": 2}]
    del data["simulation"]["score_candidates"]
    sc = load_config(_write(tmp_path, data, "s.yaml"))
    store = UnitStore(tmp_path / "units")
    first = run_study(sc, store=store)
    seen: list[str] = []
    again = run_study(sc, store=store, progress=lambda label, _d, _t: seen.append(label))
    assert not any(s.startswith("simulated") for s in seen)  # every unit came from the store
    assert [u.metrics for u in again.units] == [u.metrics for u in first.units]


def test_units_stored_by_other_code_are_simulated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.study import cache

    data = _scenario(tmp_path)
    data["strategies"] = [{"name": "p-median", "k": 2}]
    del data["simulation"]["score_candidates"]
    sc = load_config(_write(tmp_path, data, "s.yaml"))
    store = UnitStore(tmp_path / "units")
    run_study(sc, store=store)
    stored = sorted(p.name for p in (tmp_path / "units").glob("*.pkl"))
    # the same scenario after an upgrade: other source in the stages that simulate units
    real = cache._code_hash
    monkeypatch.setattr(cache, "_code_hash", lambda parts: real(parts) + "-upgraded")
    seen: list[str] = []
    run_study(sc, store=store, progress=lambda label, _d, _t: seen.append(label))
    assert sum(s.startswith("simulated") for s in seen) == len(stored)  # none reused
    assert set(stored) < {p.name for p in (tmp_path / "units").glob("*.pkl")}


@pytest.mark.parametrize("workers", [2])
def test_workers_do_not_change_a_sweep(tmp_path: Path, workers: int) -> None:
    data = _scenario(tmp_path)
    data["strategies"] = [{"name": "random", "k": 2}, {"name": "p-median", "k": 2}]
    del data["simulation"]["score_candidates"]
    cfg = _write(tmp_path, data, "base.yaml")
    sets = [("strategies.1.k", [1, 3])]
    one = run_sweep_study(cfg, sets)
    MEMORY.clear()
    two = run_sweep_study(cfg, sets, workers=workers)
    for a, b in zip(one.studies, two.studies, strict=True):
        assert [u.metrics for u in a.units] == [u.metrics for u in b.units]
