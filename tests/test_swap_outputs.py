"""What a run with battery-swap stations reports (issue 14): ``summary.json``'s ``swap``
section, the per-station check of the wait target at the peak hour, the ``selected``
layer's matching columns, the sweep table's per-segment and per-fleet columns and the
terminal's table by segment and per yuan.

One small real run from YAML (about 3 s): residents and 80 two-shift taxis that all
swap, in Kotka over two days; the same two sites are planned with an undersized swap
station (1 bay, 2 packs, 1 slow charger), an ample one (4 bays, 60 packs), a station
sized by ``sizing`` for 10 min / 5%, and DC chargers only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.api import RunResult
from sim.config import SizingConfig
from sim.export.summary import FLEET_FIGURES, Summary
from sim.metrics.scores import METRICS

SWAP: dict[str, Any] = {
    "name": "swap-check",
    "seed": 7,
    "region": {"sample": "kotka"},
    "demand": {
        "days": 2,
        "residential": {"cars_per_household": 0.5, "ev_share": 0.1},
        "fleets": [
            {"name": "taxis", "kind": "taxi", "vehicles": 80,
             "vehicle_classes": {"swap-taxi": 1.0}, "shifts": [[6, 17], [17.5, 3]],
             "daily_km_mean": 300},
        ],
    },
    "vehicles": {
        "fleet": [
            {"name": "mid", "share": 1.0, "battery_kwh": 60, "consumption_kwh_per_km": 0.15,
             "max_ac_kw": 7, "max_dc_kw": 120},
            {"name": "swap-taxi", "share": 0.0, "battery_kwh": 42,
             "consumption_kwh_per_km": 0.14, "max_ac_kw": 7, "max_dc_kw": 60,
             "swap_pack": "choco"},
        ]
    },
    "candidates": {"network_nodes": 15},
    "chargers": {
        "default_class": "dc60",
        "ports_per_site": 2,
        "swap_classes": {
            "tiny": {"bays": 1, "packs": 2, "pack_chargers": 1, "charger_kw": 30,
                     "pack_kwh": 42, "pack_types": ["choco"], "swap_min": 5},
            "ample": {"bays": 4, "packs": 60, "pack_chargers": 60, "pack_kwh": 42,
                      "pack_types": ["choco"], "swap_min": 1.67},
        },
    },
    "strategies": [
        {"name": "tiny", "model": "p-median", "k": 2, "service": "both", "swap_k": 1,
         "swap_class": "tiny"},
        {"name": "ample", "model": "p-median", "k": 2, "service": "both", "swap_k": 1,
         "swap_class": "ample"},
        {"name": "sized", "model": "p-median", "k": 1, "service": "swap",
         "swap_class": "ample", "sizing": {"target_wait_min": 10, "max_prob": 0.05}},
        {"name": "dc", "model": "p-median", "k": 2},
    ],
    "simulation": {"replications": 2, "radius_min": 3, "max_access_min": 20},
    "output": {"map": False, "report": False},
}  # fmt: skip

WITH_SWAP = ("tiny", "ample", "sized")


@functools.cache
def swap_run() -> RunResult:
    from sim.api import run
    from sim.config import parse_config

    return run(parse_config(SWAP))


def _swaps(r: RunResult, name: str) -> pd.DataFrame:
    """The swaps done in ``name``'s sessions."""
    s = r.sessions
    mine = s[s["strategy"].astype(str) == name]
    return mine[
        (mine["service"].astype(str) == "swap") & (mine["outcome"].astype(str) == "charged")
    ]


def _station_row(r: RunResult, name: str) -> pd.Series:
    sel = r.selected
    rows = sel[(sel["strategy"] == name) & (sel["kind"] == "swap")]
    assert len(rows) == 1
    return rows.iloc[0]


def test_swaps_per_day_are_the_swap_rows_of_the_sessions_over_days() -> None:
    r = swap_run()
    days, reps = r.scenario.demand.days, r.typed_summary.replications
    for name in WITH_SWAP:
        sw = r.typed_summary.strategies[name].swap
        assert sw is not None
        done = _swaps(r, name)
        assert len(done) > 0
        expected = len(done) / days / reps
        assert sw.figures["swaps_per_day"].mean == pytest.approx(expected)
        (station,) = sw.stations
        assert station.swaps_per_day == pytest.approx(expected)
        assert set(done["station_id"].astype(str)) == {station.site_id}
        # the layer reads the same number
        assert _station_row(r, name)["swaps_per_day"] == station.swaps_per_day
        # the 95% interval is over replications and holds the mean
        per_rep = done.groupby("replication").size() / days
        lo, hi = sw.figures["swaps_per_day"].ci95
        assert lo is not None and hi is not None and lo <= per_rep.mean() <= hi


def test_pack_availability_is_a_share_and_the_layers() -> None:
    r = swap_run()
    for name in WITH_SWAP:
        sw = r.typed_summary.strategies[name].swap
        assert sw is not None
        (station,) = sw.stations
        avail = station.pack_availability
        assert avail is not None and 0.0 <= avail <= 1.0
        assert _station_row(r, name)["pack_availability"] == avail
        fig = sw.figures["pack_availability"]
        assert fig.mean == pytest.approx(avail)  # one station: the plan's is the station's
        lo, hi = fig.ci95
        assert lo is not None and hi is not None and 0.0 <= lo <= hi <= 1.0
    # 2 packs on one 30 kW charger run out; 60 packs for about 100 swaps a day do not
    tiny, ample = (r.typed_summary.strategies[n].swap for n in ("tiny", "ample"))
    assert tiny is not None and ample is not None
    assert tiny.stations[0].pack_availability < 0.9 < ample.stations[0].pack_availability


def test_bay_and_pack_waits_are_those_of_the_swaps_in_the_sessions() -> None:
    r = swap_run()
    for name in WITH_SWAP:
        sw = r.typed_summary.strategies[name].swap
        assert sw is not None
        done = _swaps(r, name)
        pack = done["pack_wait_min"]
        assert pack.notna().all()  # every swap done got a bay, so has a pack wait
        bay = done["wait_min"] - pack
        assert (bay >= -1e-9).all()
        by_rep = pd.DataFrame({"bay": bay, "pack": pack, "rep": done["replication"]})
        means = by_rep.groupby("rep").mean()
        (station,) = sw.stations
        assert station.bay_wait_mean_min == pytest.approx(means["bay"].mean())
        assert station.pack_wait_mean_min == pytest.approx(means["pack"].mean())
        row = _station_row(r, name)
        assert row["bay_wait_mean_min"] == station.bay_wait_mean_min
        assert row["pack_wait_mean_min"] == station.pack_wait_mean_min
        assert row["wait_mean_min"] == station.wait_mean_min
    # the undersized station makes drivers wait for packs; the ample one does not
    tiny, ample = (r.typed_summary.strategies[n].swap for n in ("tiny", "ample"))
    assert tiny is not None and ample is not None
    assert tiny.figures["pack_wait_mean_min"].mean > 1.0
    assert ample.figures["pack_wait_mean_min"].mean == 0.0


def _peak_check(r: RunResult, name: str, site_id: str, target_min: float) -> tuple[int, float]:
    """The peak hour and its share of arrivals over the target (or balked), recounted
    from sessions.parquet."""
    s = r.sessions
    at = s[(s["strategy"].astype(str) == name) & (s["station_id"].astype(str) == site_id)]
    came = at[at["outcome"].astype(str).isin(["charged", "reneged", "balked"])]
    hour = (came["arrival_min"] // 60 % 24).astype(int)
    counts = hour.value_counts().sort_index()
    peak = int(counts.idxmax())
    in_peak = came[hour == peak]
    missed = (in_peak["wait_min"] > target_min) | (in_peak["outcome"].astype(str) == "balked")
    return peak, float(missed.mean())


def test_an_undersized_station_fails_the_peak_hour_check_and_an_ample_one_passes() -> None:
    r = swap_run()
    summary = r.typed_summary
    results = {}
    for name in ("tiny", "ample"):
        sw = summary.strategies[name].swap
        assert sw is not None
        (st,) = sw.stations
        peak, share = _peak_check(r, name, st.site_id, sw.target_wait_min)
        assert st.peak_hour == peak and st.peak_wait_share == pytest.approx(share)
        assert st.target_met == (share <= sw.target_max_prob)
        row = _station_row(r, name)
        assert row["peak_hour"] == peak and row["peak_wait_share"] == st.peak_wait_share
        assert bool(row["target_met"]) == st.target_met
        results[name] = st
    assert results["tiny"].target_met is False and results["tiny"].peak_wait_share > 0.5
    assert results["ample"].target_met is True and results["ample"].peak_wait_share <= 0.1
    # the same taxis come in the same hour to either station
    assert results["tiny"].peak_hour == results["ample"].peak_hour


def test_the_target_is_the_strategys_sizing_or_else_its_documented_default() -> None:
    r = swap_run()
    sized = r.typed_summary.strategies["sized"].swap
    assert sized is not None
    assert (sized.target_source, sized.target_wait_min, sized.target_max_prob) == (
        "sizing", 10.0, 0.05,
    )  # fmt: skip
    tiny = r.typed_summary.strategies["tiny"].swap
    assert tiny is not None and tiny.target_source == "default"
    default = SizingConfig()
    assert (tiny.target_wait_min, tiny.target_max_prob) == (
        default.target_wait_min, default.max_prob,
    )  # fmt: skip
    sel = r.selected
    for name, sw in (("sized", sized), ("tiny", tiny)):
        mine = sel[sel["strategy"] == name]
        assert (mine["target_wait_min"] == sw.target_wait_min).all()
        assert (mine["target_max_prob"] == sw.target_max_prob).all()


def test_charging_sites_get_the_same_check_and_no_swap_figures() -> None:
    r = swap_run()
    sel = r.selected
    dc = sel[sel["strategy"] == "dc"]
    assert len(dc) == 2 and (dc["kind"] != "swap").all()
    for col in ("swaps_per_day", "pack_availability", "bay_wait_mean_min", "pack_wait_mean_min"):
        assert dc[col].isna().all()
    for _, row in dc.iterrows():
        peak, share = _peak_check(r, "dc", row["site_id"], 15.0)
        assert row["peak_hour"] == peak and row["peak_wait_share"] == pytest.approx(share)
        assert 0.0 <= row["peak_balk_share"] <= row["peak_wait_share"]
        assert bool(row["target_met"]) == (share <= 0.1)


def test_summary_json_has_a_swap_section_only_for_plans_with_swap_stations(
    small_run: RunResult,
) -> None:
    r = swap_run()
    doc = json.loads(r.typed_summary.to_json())
    assert doc == r.summary
    for name in WITH_SWAP:
        entry = doc["strategies"][name]
        assert list(entry)[-1] == "swap"
        sw = entry["swap"]
        assert list(sw) == [
            "swaps_per_day", "pack_availability", "bay_wait_mean_min", "pack_wait_mean_min",
            "target_wait_min", "target_max_prob", "target_source", "stations",
        ]  # fmt: skip
        assert list(sw["stations"][0])[:4] == ["site_id", "bays", "packs", "pack_chargers"]
    assert "swap" not in doc["strategies"]["dc"]
    assert Summary.from_dict(doc) == r.typed_summary
    # a run without swap stations: no strategy has the section
    plain = json.loads(small_run.typed_summary.to_json())
    assert not any("swap" in s for s in plain["strategies"].values())


def test_the_sized_station_and_its_equipment_are_reported() -> None:
    r = swap_run()
    plan = r.plans["sized"]
    sw = r.typed_summary.strategies["sized"].swap
    assert sw is not None
    (st,) = sw.stations
    assert (st.bays, st.packs, st.pack_chargers) == (
        int(plan.bays[0]), int(plan.packs[0]), int(plan.pack_chargers[0]),
    )  # fmt: skip
    assert st.peak_arrivals_per_day is not None and st.peak_arrivals_per_day > 0


# --------------------------------------------------------------------------- sweep


def test_sweep_table_has_per_segment_and_per_fleet_columns_with_fleets(
    small_sweep: Any,
) -> None:
    from sim.export.result import sweep_result
    from sim.study.runner import StudyResult, SweepStudy

    r = swap_run()
    study = StudyResult(
        scenario=r.scenario,
        prepared=r.prepared,
        plans=r.plans,
        units=r.units,
        replications=r.typed_summary.replications,
    )
    table = sweep_result(SweepStudy(keys=["seed"], points=[{"seed": 7}], studies=[study])).table
    fleet_cols = [c for c in table.columns if c.startswith("fleet_")]
    per_segment = [f"fleet_{c}" for m in METRICS for c in (m, f"{m}_lo", f"{m}_hi")]
    per_fleet = [f"fleet_taxis_{c}" for f in FLEET_FIGURES for c in (f, f"{f}_lo", f"{f}_hi")]
    assert fleet_cols == per_segment + per_fleet
    tiny = table.set_index("strategy").loc["tiny"]
    taxis = r.typed_summary.strategies["tiny"].fleets["taxis"]["lost_min_per_vehicle_day"]
    assert tiny["fleet_taxis_lost_min_per_vehicle_day"] == pytest.approx(taxis.mean)
    seg = r.typed_summary.strategies["tiny"].segments["fleet"]["difficulty_index"]
    assert tiny["fleet_difficulty_index"] == pytest.approx(seg.mean)
    # the conftest sweep (residents and through-traffic, no fleet) has none
    assert not [c for c in small_sweep.table.columns if c.startswith("fleet_")]


# --------------------------------------------------------------------------- terminal


def test_the_terminal_table_shows_difficulty_by_segment_and_per_yuan(
    small_run: RunResult,
) -> None:
    from rich.console import Console

    from sim.cli import segment_table
    from sim.export.report import _baseline, per_million_cny

    r = swap_run()
    table = segment_table(r.typed_summary)
    assert table is not None
    headers = [str(c.header) for c in table.columns]
    assert headers[:5] == ["strategy", "cost M CNY", "difficulty", "residential", "fleet"]
    assert headers[-1] == "taxis lost min/veh-day"
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    tiny = r.typed_summary.strategies["tiny"]
    assert f"{tiny.segments['fleet']['difficulty_index'].mean:.1f}" in text
    # no plan without new sites here: the caption says how to get the per-yuan figure
    assert "- name: existing" in text
    # with one (the conftest run's 'existing'), the same figure as the report's
    s = small_run.typed_summary
    assert s.baseline is not None and s.baseline == _baseline(s)
    for name, st in s.strategies.items():
        assert s.per_million_cny(name) == per_million_cny(st, _baseline(s))
    pm = s.per_million_cny("p-median")
    assert pm is not None and pm > 0
    console = Console(width=200, record=True)
    console.print(segment_table(s))
    assert f"{pm:.2f}" in console.export_text()
    # one segment: no such table (default.yaml's terminal output is the table alone)
    one = dataclasses.replace(
        s, strategies={n: dataclasses.replace(st, segments={}) for n, st in s.strategies.items()}
    )
    assert segment_table(one) is None
    # one segment but swap stations (e.g. the corridor): cost and per yuan still shown
    swap_one = dataclasses.replace(
        r.typed_summary,
        strategies={
            n: dataclasses.replace(st, segments={}, fleets={})
            for n, st in r.typed_summary.strategies.items()
        },
    )
    assert segment_table(swap_one) is not None


def test_same_config_and_seed_give_the_same_swap_figures() -> None:
    from sim.api import run
    from sim.config import parse_config

    first = swap_run().summary
    again = run(parse_config(SWAP)).summary
    for name in WITH_SWAP:
        assert again["strategies"][name]["swap"] == first["strategies"][name]["swap"]
    assert np.isfinite(first["strategies"]["tiny"]["swap"]["stations"][0]["peak_wait_share"])
