"""Outputs for battery-swap stations and fleets (issue 14): sessions' segment and
service, per-segment and per-fleet summaries, the selected layer's swap columns, the
command line's per-segment lines and its solver-failure exit.

The small real run of ``tests/conftest.py`` has residents and highway traffic but no
fleet and no swap station; where a test needs those it derives them from that run and
says why.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from sim.api import RunResult
from sim.demand.fleets import FleetRoster
from sim.demand.model import SEGMENTS
from sim.export.summary import FLEET_FIGURES, Summary, build_summary
from sim.export.tables import sessions_frame
from sim.metrics.scores import METRICS
from sim.metrics.segments import fleet_lost_time, segment_scores
from sim.study.plans import coverage_share, stations_of
from sim.study.units import HIGHWAY_VEHICLE_IDS, UnitResult, per_replication_frame
from tests.conftest import study_of


def test_sessions_name_segments_as_the_demand_model_does(small_run: RunResult) -> None:
    # a fleet session (code 2) must not be written as "highway": relabel the first
    # unit's highway sessions as fleet sessions (no fleet runs in the small run yet)
    u = small_run.units[0]
    seg = np.where(u.demand.segment == 1, 2, u.demand.segment).astype(u.demand.segment.dtype)
    derived = dataclasses.replace(u, demand=dataclasses.replace(u.demand, segment=seg))
    before = sessions_frame(small_run.prepared, small_run.plans, [u])
    after = sessions_frame(small_run.prepared, small_run.plans, [derived])
    assert set(before["segment"].astype(str)) == {"residential", "highway"}
    expected = before["segment"].astype(str).replace("highway", "fleet")
    assert (after["segment"].astype(str) == expected).all()
    assert set(after["segment"].astype(str)) <= set(SEGMENTS)


def test_a_charge_only_run_writes_charge_and_no_pack_wait(small_run: RunResult) -> None:
    s = small_run.sessions
    assert "service" in s.columns and "pack_wait_min" in s.columns
    assert set(s["service"].astype(str)) == {"charge"}
    assert s["pack_wait_min"].isna().all()


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class _Scored(UnitResult):
    """A unit with its per-segment and per-fleet figures computed from its real log.

    Derived because ``run_unit`` does not fill them yet in every tree (the DES side is
    landing them); the values are :mod:`sim.metrics.segments` on the unit's own log.
    """

    segments: dict[str, dict[str, float | None]] = field(default_factory=dict)
    fleets: dict[str, dict[str, float]] = field(default_factory=dict)


def _scored(result: RunResult, u: UnitResult) -> _Scored:
    prep = result.prepared
    plan = result.plans[u.strategy]
    sim_cfg = prep.scenario.simulation
    seg = segment_scores(
        u.log,
        u.demand,
        stations=stations_of(prep, plan),
        horizon_min=prep.horizon_min,
        coverage_share=coverage_share(prep, plan),
        weights={str(k): v for k, v in sim_cfg.difficulty_weights.items()},
        wait_ref_min=sim_cfg.wait_ref_min,
        access_ref_min=sim_cfg.access_ref_min,
    )
    hw = u.demand.vehicle_id[u.demand.segment == 1]
    roster = FleetRoster(
        "through-traffic", HIGHWAY_VEHICLE_IDS, int(hw.max()) + 1 - HIGHWAY_VEHICLE_IDS, 40.0
    )
    fleets = fleet_lost_time(u.log, u.demand, fleets=[roster], days=prep.scenario.demand.days)
    base = {f.name: getattr(u, f.name) for f in dataclasses.fields(UnitResult)}
    return _Scored(**{**base, "segments": seg, "fleets": fleets})


@pytest.fixture(scope="module")
def scored(small_run: RunResult) -> tuple[Summary, list[_Scored]]:
    units = [_scored(small_run, u) for u in small_run.units]
    study = dataclasses.replace(study_of(small_run), units=units)
    return build_summary(study, per_replication_frame(units)), units


def test_the_summary_has_every_metric_per_segment_over_replications(
    small_run: RunResult, scored: tuple[Summary, list[_Scored]]
) -> None:
    summary, units = scored
    s = summary.strategies["p-median"]
    assert list(s.segments) == ["residential", "highway"]
    reps = [u.segments["highway"]["difficulty_index"] for u in units if u.strategy == "p-median"]
    assert len(reps) == 2
    hw = s.segments["highway"]
    assert list(hw) == list(METRICS)
    assert hw["difficulty_index"].mean == pytest.approx(np.mean(reps))
    lo, hi = hw["difficulty_index"].ci95
    assert lo is not None and hi is not None and lo <= np.mean(reps) <= hi
    # the plan's metrics are those of the run without segments
    assert s.metrics == small_run.typed_summary.strategies["p-median"].metrics


def test_the_summary_has_each_fleets_lost_time_and_cost(
    scored: tuple[Summary, list[_Scored]],
) -> None:
    summary, units = scored
    f = summary.strategies["random"].fleets["through-traffic"]
    assert list(f) == list(FLEET_FIGURES)
    mins = [
        u.fleets["through-traffic"]["lost_min_per_vehicle_day"]
        for u in units
        if u.strategy == "random"
    ]
    assert f["lost_min_per_vehicle_day"].mean == pytest.approx(np.mean(mins))
    lost = f["lost_min_per_vehicle_day"].mean
    assert lost is not None and lost > 0  # through traffic drives off the motorway to charge
    assert f["lost_cny_per_vehicle_day"].mean == pytest.approx(lost / 60 * 40.0)


def test_segments_and_fleets_round_trip_through_summary_json(
    small_run: RunResult, scored: tuple[Summary, list[_Scored]]
) -> None:
    summary, _ = scored
    doc = json.loads(summary.to_json())
    p = doc["strategies"]["p-median"]
    assert list(p)[-2:] == ["segments", "fleets"]
    assert Summary.from_dict(doc) == summary
    # without them (one segment, no fleets) a strategy's entry has neither key
    plain = small_run.typed_summary.strategies["existing"]
    entry = json.loads(small_run.typed_summary.to_json())["strategies"]["existing"]
    assert ("segments" in entry) == bool(plain.segments)
    assert ("fleets" in entry) == bool(plain.fleets)


# --------------------------------------------------------------------------- command line


def test_the_terminal_shows_difficulty_per_segment_and_fleet_lost_time(
    small_run: RunResult, scored: tuple[Summary, list[_Scored]]
) -> None:
    from sim.cli import segment_lines

    summary, _ = scored
    lines = segment_lines(summary)
    assert len(lines) == len(summary.strategies)
    p = summary.strategies["p-median"]
    hw = p.segments["highway"]["difficulty_index"]
    line = next(x for x in lines if x.startswith("p-median:"))
    assert f"highway {hw.mean:.1f}" in line and "residential" in line
    assert "through-traffic lost" in line and "CNY per vehicle-day" in line
    # one segment and no fleets: no lines (the table alone, as before)
    plain = dataclasses.replace(
        summary,
        strategies={
            n: dataclasses.replace(s, segments={}, fleets={}) for n, s in summary.strategies.items()
        },
    )
    assert segment_lines(plain) == []


def test_a_solver_failure_is_one_line_and_exit_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sim.cli import app
    from sim.errors import SolverFailure
    from sim.siting import registry

    def no_answer(*_args: object, **_kwargs: object) -> None:
        raise SolverFailure("p-median: HiGHS returned model status 'Not Set' twice")

    spec = registry.model_spec("p-median")
    monkeypatch.setitem(registry._SPECS, "p-median", dataclasses.replace(spec, function=no_answer))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "name: tiny\nregion: {sample: kotka}\ndemand: {days: 1}\n"
        "strategies: [{name: p-median, k: 1}]\n"
        "simulation: {replications: 1}\noutput: {map: false, report: false}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit)  # typer.Exit, not the error escaping
    assert "Traceback" not in res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    # the plan names the strategy; the message is the solver's
    assert lines == [
        "error: strategies.0 ('p-median'): the solver failed: "
        "p-median: HiGHS returned model status 'Not Set' twice"
    ]
    assert not out.exists()  # nothing half-written
