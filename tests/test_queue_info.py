"""Queue information on the expressway (issue 16 item 3): a share of through drivers
sees the live queue at every service area ahead and chooses by detour + the wait it
expects on arrival; the others choose wait-blind and meet a queue only on arrival.
Unset, every driver follows the default rule (pinned by tests/test_des_digest.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config import parse_config, read_yaml
from sim.des.log import STRANDED
from sim.errors import ConfigError
from sim.rng import stream
from sim.study.plans import make_plans, queue_info_share
from sim.study.prepare import Prepared, prepare
from sim.study.units import demand_for, simulate_plan

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "corridor-holiday.yaml"


def _data() -> dict[str, Any]:
    data = read_yaml(CONFIG)
    data["demand"]["days"] = 2
    data["demand"]["highway"]["holiday"]["days"] = [2]
    data["simulation"]["queue_info_share"] = 0.0  # nobody has the app ...
    data["simulation"]["uninformed_choice"] = "wait_blind"  # ... nor sees a queue
    data["strategies"] = [
        {"name": "existing"},
        {"name": "half", "model": "existing", "queue_info_share": 0.5},  # ... but here
        {"name": "all", "model": "existing", "queue_info_share": 1.0},
    ]
    return data


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepare(parse_config(_data()))


@pytest.fixture(scope="module")
def logs(prep: Prepared) -> dict[str, list[Any]]:
    """Four replications per strategy (common random numbers)."""
    plans = make_plans(prep)
    out: dict[str, list[Any]] = {name: [] for name in plans}
    for rep in range(4):
        demand = demand_for(prep, rep)
        for name, plan in plans.items():
            out[name].append(simulate_plan(prep, plan, demand, replication=rep))
    return out


def _stranded(log: Any, sessions: np.ndarray | None = None) -> int:
    """Vehicles that ran flat (of ``sessions`` if given)."""
    out = log.outcome == STRANDED
    if sessions is not None:
        out &= np.isin(log.session, sessions)
    return int(out.sum())


def test_queue_information_strands_fewer(logs: dict[str, list[Any]]) -> None:
    """Measured (seed of corridor-holiday.yaml, 2 days, replications 0-3): 111, 122,
    166, 134 vehicles ran flat with nobody informed; 101, 113, 154, 126 with half the
    drivers informed; 94, 101, 152, 123 with all."""
    for blind, half, full in zip(logs["existing"], logs["half"], logs["all"], strict=True):
        assert _stranded(half) < _stranded(blind)
        assert _stranded(full) < _stranded(blind)
    total = {n: sum(_stranded(log) for log in logs[n]) for n in logs}
    assert total["all"] < total["half"] < total["existing"]


def test_informed_drivers_strand_less_than_the_others(
    prep: Prepared, logs: dict[str, list[Any]]
) -> None:
    """Half informed, over four replications: 236 informed drivers ran flat against
    258 of the others (the groups are the same size to within 7%)."""
    informed = blind = 0
    for rep, log in enumerate(logs["half"]):
        demand = demand_for(prep, rep)
        u = stream(prep.scenario.seed, rep, "queue-info").random(len(demand))
        highway = np.flatnonzero(demand.segment == 1)
        informed += _stranded(log, highway[u[highway] < 0.5])
        blind += _stranded(log, highway[u[highway] >= 0.5])
    assert informed < blind


def test_shares_resolve_per_strategy() -> None:
    sc = parse_config(_data())
    assert queue_info_share(sc, "existing") == 0.0
    assert queue_info_share(sc, "half") == 0.5
    assert queue_info_share(sc, "half+simopt") == 0.5


def test_queue_information_needs_through_traffic() -> None:
    data = read_yaml(Path(__file__).resolve().parents[1] / "configs" / "default.yaml")
    data["strategies"][0]["queue_info_share"] = 0.5
    with pytest.raises(ConfigError, match=r"demand\.highway is off"):
        parse_config(data)


def test_by_default_the_uninformed_choose_as_without_the_key() -> None:
    """``uninformed_choice: default``: with nobody informed, every driver follows the
    default rule: the same log as a scenario without queue_info_share."""
    data = _data()
    data["simulation"].pop("uninformed_choice")
    data["strategies"] = [{"name": "existing"}]
    unset = copy.deepcopy(data)
    unset["simulation"].pop("queue_info_share")
    logs = []
    for d in (data, unset):
        prep = prepare(parse_config(d))
        plan = make_plans(prep)["existing"]
        logs.append(simulate_plan(prep, plan, demand_for(prep, 0)))
    for field in ("session", "station", "outcome", "wait_min", "end_min"):
        np.testing.assert_array_equal(getattr(logs[0], field), getattr(logs[1], field))
