"""The session logs and metrics of small, complete runs, pinned by SHA-256 digests.

A change meant to make the simulation faster must not change what it simulates: each
scenario below exercises one part of the model on the bundled Kotka extract (ample
ports; two ports per site, so drivers queue, balk, renege and retry; through-traffic
with a holiday; a grid cap shared by the ports; the *nearest* choice rule, with
residents out of reach; the corridor, where vehicles run flat), and the
digest covers every column of every unit's session log as it was at 669ebce (exact
float64 bytes, in order; the swap columns added since, ``service`` and
``pack_wait_min``, must be all charge and NaN in these runs), its metrics (exact
``repr``) and its per-site statistics.

The digests were recorded from commit 669ebce (``git rev-parse HEAD`` =
669ebcef696ef1adae92136420b3c5347130b9ec), before any of the speed work of issue 13.
A documented fix that changes results must record new digests and say why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.config import parse_config
from sim.des import OUTCOMES, SessionLog
from sim.study.plans import make_plans, plan_access
from sim.study.prepare import prepare
from sim.study.units import UnitResult, run_unit

ROOT = Path(__file__).resolve().parents[1]

_BASE: dict[str, Any] = {
    "seed": 20231001,
    "region": {"sample": "kotka"},
    "demand": {"days": 2, "residential": {"cars_per_household": 0.5, "ev_share": 0.3}},
    "candidates": {"network_nodes": 20},
    "chargers": {"default_class": "dc60", "ports_per_site": 12},
    "strategies": [{"name": "random", "k": 3}, {"name": "p-median", "k": 4}],
    "simulation": {"replications": 2, "radius_min": 3, "max_access_min": 20},
}

_HIGHWAY: dict[str, Any] = {
    "enabled": True,
    "vehicles_per_hour": 400,
    "ev_share": 0.05,
    "holiday": {"days": [2], "multiplier": 2.59},
    "soc_entry": [0.15, 0.7],
    "onward_km_mean": 80,
    "detour_max_min": 8,
}


def _scenario(name: str, /) -> dict[str, Any]:
    """The scenario ``name``: :data:`_BASE` with its changes."""
    data: dict[str, Any] = {
        **_BASE,
        "name": f"digest-{name}",
        "demand": dict(_BASE["demand"]),
        "chargers": dict(_BASE["chargers"]),
        "simulation": dict(_BASE["simulation"]),
    }
    if name == "overloaded":
        data["demand"]["residential"] = {"cars_per_household": 1.0, "ev_share": 1.0}
        data["chargers"]["ports_per_site"] = 2
    elif name == "highway":
        data["seed"] = 77
        data["demand"]["highway"] = _HIGHWAY
        data["chargers"] = {"default_class": "dc120", "ports_per_site": 2}
        data["strategies"] = [*_BASE["strategies"], {"name": "frlm", "k": 4}]
    elif name == "grid-cap":
        data["demand"]["residential"] = {"cars_per_household": 1.0, "ev_share": 0.6}
        data["chargers"] = {"default_class": "dc120", "ports_per_site": 4}
        data["chargers"]["site_grid_cap_kw"] = 200.0
    elif name == "nearest":
        data["demand"]["residential"] = {"cars_per_household": 1.0, "ev_share": 1.0}
        data["chargers"]["ports_per_site"] = 3
        data["simulation"].update(choice="nearest", balk_queue_per_port=None, max_access_min=2)
    elif name == "corridor":
        return _corridor()
    return data


def _corridor() -> dict[str, Any]:
    """``configs/corridor-holiday.yaml`` cut to 2 days (a holiday on day 2), entering
    with less charge so that some vehicles run flat."""
    data = yaml.safe_load((ROOT / "configs" / "corridor-holiday.yaml").read_text())
    data["demand"]["days"] = 2
    data["demand"]["highway"].update(holiday={"days": [2], "multiplier": 2.59})
    data["demand"]["highway"]["soc_entry"] = [0.1, 0.6]
    data["simulation"]["replications"] = 2
    return dict(data)


#: The log's columns at 669ebce, in order: what the digests cover.
_PINNED = (
    "session", "attempt", "station", "access_min", "arrival_min", "start_min", "end_min",
    "wait_min", "energy_kwh", "power_kw", "outcome", "detour_min",
)  # fmt: skip


def _log_bytes(log: SessionLog, /) -> bytes:
    """Every column the log had at 669ebce, by name, as its exact bytes; the columns
    added since (battery swapping) must hold their values for a run without swap
    stations: every attempt a charge, no pack wait."""
    assert tuple(SessionLog.__dataclass_fields__)[: len(_PINNED)] == _PINNED
    assert (log.service == 0).all() and np.isnan(log.pack_wait_min).all()
    parts = []
    for name in _PINNED:
        col = np.ascontiguousarray(getattr(log, name))
        parts.append(f"{name}:{col.dtype.str}:{col.shape[0]}:".encode() + col.tobytes())
    return b"|".join(parts)


def _unit_digest(u: UnitResult, /) -> str:
    """SHA-256 of a unit's log, metrics (``repr``) and per-site statistics."""
    h = hashlib.sha256()
    h.update(f"{u.strategy}/{u.replication}".encode())
    h.update(_log_bytes(u.log))
    h.update(repr(sorted(u.metrics.items())).encode())
    for key in sorted(u.site_stats):
        col = np.ascontiguousarray(u.site_stats[key])
        h.update(f"{key}:{col.dtype.str}:".encode() + col.tobytes())
    return h.hexdigest()


def scenario_digest(name: str, /) -> tuple[str, dict[str, int]]:
    """The digest of every unit of scenario ``name``, and what its logs hold: attempts
    by outcome, and retries (attempts after the first)."""
    prep = prepare(parse_config(_scenario(name)))
    plans = make_plans(prep)
    h = hashlib.sha256()
    counts: dict[str, int] = {}
    for strategy in sorted(plans):
        plan = plans[strategy]
        access = plan_access(prep, plan)
        for r in range(prep.scenario.simulation.replications):
            u = run_unit(prep, plan, r, access=access)
            h.update(_unit_digest(u).encode())
            for code, n in zip(*np.unique(u.log.outcome, return_counts=True), strict=True):
                counts[OUTCOMES[code]] = counts.get(OUTCOMES[code], 0) + int(n)
            counts["retries"] = counts.get("retries", 0) + int((u.log.attempt > 0).sum())
    return h.hexdigest(), dict(sorted(counts.items()))


#: scenario: (digest, attempts by outcome and retries), recorded at 669ebce.
RECORDED: dict[str, tuple[str, dict[str, int]]] = {
    "ample": (
        "6d480da2725ae4563c859e7156167f8f1b06d34fe7e43a598dbb86a81141528d",
        {"charged": 942, "retries": 0},
    ),
    "overloaded": (
        "4917b8f5d7287d5161bf52ef638daa357efb092ed0f871289c556939286ffdca",
        {"balked": 11737, "charged": 1921, "reneged": 2813, "retries": 10109},
    ),
    "highway": (
        "0df7bcce6b768e46e4edb686e0ce4fb4f1977234a493105b780399cebf06c1d2",
        {"balked": 6906, "charged": 3462, "reneged": 1030, "retries": 5743},
    ),
    "grid-cap": (
        "6b299c15ee3403b86b7d95af2d49985bc796809ccd34af2bda8e52f401586551",
        {"balked": 843, "charged": 3129, "reneged": 1958, "retries": 2074},
    ),
    "nearest": (
        "3670dcc2860ab278981e039d3b9f909855b2c378555cf077b0d2f06267a2021f",
        {"charged": 2617, "no_station": 893, "reneged": 7026, "retries": 4174},
    ),
    "corridor": (
        "4118814ea1d96bc87caee3df6dc1e17a4243236e396344a08c2f0e8e723f48ee",
        {"charged": 8645, "reneged": 1899, "retries": 5557, "stranded": 1958},
    ),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_session_logs_and_metrics_are_unchanged(name: str) -> None:
    digest, counts = scenario_digest(name)
    want_digest, want_counts = RECORDED[name]
    assert counts == want_counts
    assert digest == want_digest


if __name__ == "__main__":  # print the digests to record (python -m tests.test_des_digest)
    import time

    for scenario in ("ample", "overloaded", "highway", "grid-cap", "nearest", "corridor"):
        t0 = time.perf_counter()
        d, c = scenario_digest(scenario)
        print(f'    "{scenario}": ("{d}", {c}),')
        print(f"    # {time.perf_counter() - t0:.1f} s")
