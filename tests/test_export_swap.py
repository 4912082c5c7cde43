"""Outputs for battery-swap stations and fleets (issue 14): sessions' segment and
service, per-segment and per-fleet summaries, the selected layer's swap columns, the
command line's per-segment lines and its solver-failure exit.

The small real run of ``tests/conftest.py`` has residents and highway traffic but no
fleet and no swap station; where a test needs those it derives them from that run and
says why.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.api import RunResult
from sim.demand.fleets import FleetRoster
from sim.demand.model import SEGMENTS
from sim.export.summary import FLEET_FIGURES, Summary, build_summary
from sim.export.tables import sessions_frame
from sim.metrics.scores import METRICS
from sim.metrics.segments import fleet_lost_time
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


# --------------------------------------------------------------------------- swap run

#: A small fleet scenario (configs/kotka-fleets.yaml, shrunk): residents, 30 taxis (half
#: can swap) and 20 ride-hailing cars, one day, two replications, two strategies that
#: both place 3 DC sites; ``swap-and-dc`` then turns its second site into a swap station.
FLEETS: dict[str, Any] = {
    "name": "kotka-fleets-small",
    "seed": 20241101,
    "region": {"sample": "kotka"},
    "demand": {
        "days": 1,
        "residential": {"cars_per_household": 0.5, "ev_share": 0.3},
        "fleets": [
            {"name": "taxis", "kind": "taxi", "vehicles": 30,
             "vehicle_classes": {"taxi": 0.5, "swap-taxi": 0.5},
             "shifts": [[6, 17], [17.5, 3]], "daily_km_mean": 300},
            {"name": "ride-hailing", "kind": "ride_hailing", "vehicles": 20,
             "vehicle_classes": {"taxi": 1.0}, "shifts": [[7, 23]], "daily_km_mean": 220,
             "hourly_earning_cny": 35},
        ],
    },
    "vehicles": {
        "fleet": [
            {"name": "mid", "share": 1.0, "battery_kwh": 60, "consumption_kwh_per_km": 0.15,
             "max_ac_kw": 7, "max_dc_kw": 120},
            {"name": "taxi", "share": 0.0, "battery_kwh": 55, "consumption_kwh_per_km": 0.14,
             "max_ac_kw": 7, "max_dc_kw": 90},
            {"name": "swap-taxi", "share": 0.0, "battery_kwh": 42,
             "consumption_kwh_per_km": 0.14, "max_ac_kw": 7, "max_dc_kw": 60,
             "swap_pack": "choco"},
        ]
    },
    "candidates": {"network_nodes": 15},
    "chargers": {"default_class": "dc120", "ports_per_site": 2},
    "strategies": [
        {"name": "dc-only", "model": "p-median", "k": 3},
        {"name": "swap-and-dc", "model": "p-median", "k": 3},
    ],
    "simulation": {"replications": 2, "radius_min": 3, "max_access_min": 20},
}  # fmt: skip


@functools.cache
def swap_run() -> RunResult:
    """A real run with fleets and a swap station (about a second).

    The second strategy's plan turns one of its DC sites into a swap station through
    :func:`sim.siting.services.with_swap_sites` (what a plan file's swap row does) and
    its units are simulated anew by :func:`sim.study.units.run_unit`; a run whose
    strategies place swap stations from YAML (``service``) is in
    ``tests/test_swap_outputs.py``.
    """
    from sim.api import run
    from sim.config import parse_config
    from sim.export.result import assemble
    from sim.siting.plan import _equipment
    from sim.siting.services import with_swap_sites
    from sim.study.units import demand_for, run_unit

    first = run(parse_config(FLEETS))
    sc, prep = first.scenario, first.prepared
    plan = first.plans["swap-and-dc"]
    swap = {int(plan.candidate[1]): "catl-choco-seb"}
    mixed = with_swap_sites(plan, swap, scenario=sc, replaced_cost=_equipment(sc, sc.strategies[1]))
    reps = range(first.typed_summary.replications)
    units = [
        *(u for u in first.units if u.strategy == "dc-only"),
        *(run_unit(prep, mixed, k, demand=demand_for(prep, k)) for k in reps),
    ]
    plans = {**first.plans, "swap-and-dc": mixed}
    return assemble(dataclasses.replace(study_of(first), plans=plans, units=units))


def test_the_selected_layer_names_swap_stations_and_their_equipment() -> None:
    r = swap_run()
    sel = r.selected
    swap = sel[sel["kind"] == "swap"]
    assert list(swap["strategy"]) == ["swap-and-dc"]
    choco = r.scenario.chargers.swap_classes["catl-choco-seb"]
    row = swap.iloc[0]
    assert (row["ports"], row["bays"], row["packs"], row["pack_chargers"]) == (
        0, choco.bays, choco.packs, choco.pack_chargers,
    )  # fmt: skip
    # swaps per day: the swaps the log has at that station
    s = r.sessions
    done = s[(s["service"] == "swap") & (s["outcome"] == "charged")]
    assert len(done) > 0
    assert set(done["station_id"].astype(str)) == {row["site_id"]}
    days, reps = r.scenario.demand.days, r.typed_summary.replications
    assert row["swaps_per_day"] == pytest.approx(len(done) / days / reps)
    assert 0.0 < row["pack_availability"] <= 1.0
    # charging sites keep their candidate kind, no swap equipment and NaN swap figures
    charge = sel[sel["kind"] != "swap"]
    assert set(charge["kind"]) <= set(r.candidates["kind"])
    assert (charge[["bays", "packs", "pack_chargers"]] == 0).all().all()
    assert charge["swaps_per_day"].isna().all() and charge["pack_availability"].isna().all()


def test_pack_availability_is_the_share_of_time_with_a_charged_pack() -> None:
    r = swap_run()
    stock = r.pack_stock
    assert stock is not None
    row = r.selected[r.selected["kind"] == "swap"].iloc[0]
    mine = stock[stock["station_id"].astype(str) == row["site_id"]]
    # the 15-minute samples of the stock estimate the same share
    assert (mine["charged_packs"] > 0).mean() == pytest.approx(row["pack_availability"], abs=0.05)
    choco = r.scenario.chargers.swap_classes["catl-choco-seb"]
    assert mine["charged_packs"].between(0, choco.packs).all()
    first = mine[mine["bin_start_min"] == 0.0]
    assert (first["charged_packs"] == choco.packs).all()  # every pack charged at the start
    bins = int(np.ceil(r.prepared.horizon_min / 15.0))
    assert len(mine) == bins * r.typed_summary.replications


def test_packs_are_conserved_in_every_row_of_pack_stock() -> None:
    """Charged in stock + on a charger + waiting for one = the station's packs, in every
    15-minute row, and never more on charge than the station's chargers (packs waiting
    for a charger: tests/test_swap_station.py)."""
    r = swap_run()
    stock = r.pack_stock
    assert stock is not None
    choco = r.scenario.chargers.swap_classes["catl-choco-seb"]
    held = stock["charged_packs"] + stock["charging_packs"] + stock["waiting_packs"]
    assert (held == choco.packs).all()
    assert (stock[["charged_packs", "charging_packs", "waiting_packs"]] >= 0).all().all()
    assert stock["charging_packs"].max() <= choco.pack_chargers
    assert (stock["charging_packs"] > 0).any()  # the case tests something


def test_site_load_has_the_pack_chargers_energy() -> None:
    r = swap_run()
    row = r.selected[r.selected["kind"] == "swap"].iloc[0]
    load = r.site_load
    mine = load[(load["strategy"] == "swap-and-dc") & (load["site_id"] == row["site_id"])]
    kwh = mine["load_kw_mean"].sum() * 0.25  # kW over 15 minutes
    traces = [u.swap for u in r.units if u.swap is not None]
    assert len(traces) == r.typed_summary.replications
    # the energy the logged pack charges took within the horizon, each at its mean power
    h = r.prepared.horizon_min

    def within(t: Any) -> float:
        a, b = t.charge_start_min, t.charge_end_min
        share = (np.minimum(b, h) - np.minimum(a, h)) / (b - a)
        return float((t.charge_kwh * share).sum())

    charged = np.mean([within(t) for t in traces])
    assert charged > 0 and kwh == pytest.approx(charged, rel=1e-9)
    # spread over the packs' charging, not the swaps' minutes: never above the chargers
    choco = r.scenario.chargers.swap_classes["catl-choco-seb"]
    assert mine["load_kw_max"].max() <= choco.pack_chargers * choco.charger_kw + 1e-9
    # a charging site's load is its ports' load, as before
    dc = [u.site_stats["load_kw"] for u in r.units if u.strategy == "dc-only"]
    first = load[load["strategy"] == "dc-only"]
    assert first["load_kw_mean"].to_numpy() == pytest.approx(np.mean(dc, axis=0).ravel())


def test_the_output_folder_has_pack_stock_only_with_swap_stations(
    small_run: RunResult, tmp_path: Path
) -> None:
    import pandas as pd

    from sim.export.writing import write_outputs

    def tables_only(result: RunResult) -> RunResult:  # the map and report are not needed here
        sc = result.scenario
        output = sc.output.model_copy(update={"map": False, "report": False})
        return dataclasses.replace(result, scenario=sc.model_copy(update={"output": output}))

    r = swap_run()
    out = write_outputs(tables_only(r), tmp_path / "swap")
    back = pd.read_parquet(out / "pack_stock.parquet")
    assert list(back.columns) == [
        "strategy", "replication", "station_id", "bin_start_min", "charged_packs",
        "charging_packs", "waiting_packs",
    ]  # fmt: skip
    assert len(back) == len(r.pack_stock) and set(back["strategy"]) == {"swap-and-dc"}
    assert small_run.pack_stock is None
    plain = write_outputs(tables_only(small_run), tmp_path / "plain")
    assert not (plain / "pack_stock.parquet").exists()


# --------------------------------------------------------------------------- summary


def _scored(result: RunResult, u: UnitResult) -> UnitResult:
    """``u`` with a fleet: the small run has none, so its through-traffic vehicles are
    scored as one, on their real log (a fleet run is :func:`swap_run`)."""
    hw = u.demand.vehicle_id[u.demand.segment == 1]
    n = int(hw.max()) + 1 - HIGHWAY_VEHICLE_IDS
    roster = FleetRoster("through-traffic", HIGHWAY_VEHICLE_IDS, n, 40.0)
    days = result.prepared.scenario.demand.days
    return dataclasses.replace(
        u, fleets=fleet_lost_time(u.log, u.demand, fleets=[roster], days=days)
    )


@pytest.fixture(scope="module")
def scored(small_run: RunResult) -> tuple[Summary, list[UnitResult]]:
    units = [_scored(small_run, u) for u in small_run.units]
    study = dataclasses.replace(study_of(small_run), units=units)
    return build_summary(study, per_replication_frame(units)), units


def test_the_summary_has_every_metric_per_segment_over_replications(
    small_run: RunResult, scored: tuple[Summary, list[UnitResult]]
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
    scored: tuple[Summary, list[UnitResult]],
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
    small_run: RunResult, scored: tuple[Summary, list[UnitResult]]
) -> None:
    summary, _ = scored
    doc = json.loads(summary.to_json())
    p = doc["strategies"]["p-median"]
    assert list(p)[-3:] == ["segments", "fleets", "holiday"]  # the scenario has a holiday
    assert Summary.from_dict(doc) == summary
    # without them (one segment, no fleets) a strategy's entry has neither key
    plain = small_run.typed_summary.strategies["existing"]
    entry = json.loads(small_run.typed_summary.to_json())["strategies"]["existing"]
    assert ("segments" in entry) == bool(plain.segments)
    assert ("fleets" in entry) == bool(plain.fleets)


# --------------------------------------------------------------------------- command line


def test_the_terminal_shows_difficulty_per_segment_and_fleet_lost_time(
    small_run: RunResult, scored: tuple[Summary, list[UnitResult]]
) -> None:
    from rich.console import Console

    from sim.cli import segment_table

    summary, _ = scored
    table = segment_table(summary)
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    lines = console.export_text().splitlines()
    p = summary.strategies["p-median"]
    hw = p.segments["highway"]["difficulty_index"]
    line = next(x for x in lines if "p-median" in x)
    assert f"{hw.mean:.1f}" in line
    lost = p.fleets["through-traffic"]["lost_min_per_vehicle_day"]
    assert f"{lost.mean:.1f}" in line and "CNY)" in line
    headers = [str(c.header) for c in table.columns]
    assert "residential" in headers and "highway" in headers
    assert "through-traffic lost min/veh-day" in headers
    # one segment and no fleets: no such table (the comparison table alone, as before)
    plain = dataclasses.replace(
        summary,
        strategies={
            n: dataclasses.replace(s, segments={}, fleets={}, swap=None)
            for n, s in summary.strategies.items()
        },
    )
    assert segment_table(plain) is None


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


# --------------------------------------------------------------------------- map


def test_the_map_draws_swap_stations_as_diamonds_with_a_legend_entry(
    small_run: RunResult,
) -> None:
    from sim.export.i18n import label
    from sim.export.webmap import SWAP_COLOUR, map_html

    r = swap_run()
    page = map_html(r)
    assert label("legend_swap", "en") in page
    swap = r.selected[r.selected["kind"] == "swap"].iloc[0]
    # the swap station is a point of its own layer whose popup has its packs
    assert page.count(SWAP_COLOUR) >= 2  # the legend's diamond and the marker's
    assert f'"f_packs": "{swap["packs"]}"' in page
    assert '"f_swaps_per_day"' in page and '"f_pack_availability"' in page
    # a charge-only run's map has no swap symbol
    plain = map_html(small_run)
    assert label("legend_swap", "en") not in plain and SWAP_COLOUR not in plain
    assert label("legend_swap", "zh") in map_html(r, language="zh")


# --------------------------------------------------------------------------- report


def test_the_report_compares_charge_and_swap_plans(small_run: RunResult) -> None:
    import re

    from sim.export.report import report_html

    r = swap_run()
    page = report_html(r)
    assert 'id="charge-and-swap"' in page and 'href="#charge-and-swap"' in page
    table = page[page.index('id="swap-table"') :]
    table = table[: table.index("</table>")]
    rows = dict(
        re.findall(
            r'<th data-strategy="([^"]+)">.*?</th>\s*<td class="num">(\d+)</td>', table, re.S
        )
    )
    assert rows == {"dc-only": "0", "swap-and-dc": "1"}
    swap = r.selected[r.selected["kind"] == "swap"].iloc[0]
    assert f"{swap['swaps_per_day']:,.1f}" in table
    assert f"{100 * swap['pack_availability']:.1f}%" in table
    taxis = r.typed_summary.strategies["swap-and-dc"].fleets["taxis"]
    lost = taxis["lost_min_per_vehicle_day"].mean
    assert lost is not None and f"taxis: {lost:,.1f} min" in table
    cost = r.typed_summary.strategies["swap-and-dc"].cost_cny
    assert cost is not None and f"{cost:,.0f}" in table
    assert "fleet: " in table and "residential: " in table
    zh = report_html(r, language="zh")
    assert "充电与换电" in zh and "分钟 =" in zh
    # no swap station anywhere: no such section
    assert 'id="charge-and-swap"' not in report_html(small_run)


def test_sites_gpkg_reads_back_as_a_plan_file_with_its_swap_station(tmp_path: Path) -> None:
    from sim.region.plan_file import read_plan_file

    r = swap_run()
    gpkg = tmp_path / "sites.gpkg"
    r.selected.to_file(gpkg, layer="selected", driver="GPKG", engine="pyogrio")
    table = read_plan_file(gpkg, strategy="swap-and-dc")
    mine = r.selected[r.selected["strategy"] == "swap-and-dc"]
    assert list(table.site_id) == list(mine["site_id"])
    assert list(table.kind) == ["swap" if k == "swap" else "charge" for k in mine["kind"]]
    swap = (mine["kind"] == "swap").to_numpy()
    assert table.packs[swap].tolist() == mine["packs"][swap].tolist()
    assert table.bays[swap].tolist() == mine["bays"][swap].tolist()
