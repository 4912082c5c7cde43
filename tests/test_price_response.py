"""Residents answering the time-of-use tariff (issue 15 item 3, ``grid.price_response``):
a share of the public charging trips that would start in a peak hour waits for a cheaper
hour, and the residents then pay less per kWh."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from sim.api import run
from sim.config import parse_config
from sim.demand.price_response import _shift_hours, respond_to_prices
from sim.export.result import RunResult
from sim.study.prepare import prepare
from sim.study.units import demand_for

from .test_grid_run import BASE as GRID_RUN

BASE: dict[str, Any] = {
    **GRID_RUN,
    "strategies": [{"name": "p-median", "model": "p-median", "k": 6}],
    "simulation": {"replications": 2},
}
#: Beijing's bands (the default tariff): valley 23-7, peak 10-15 and 18-21.


def _scenario(response: dict[str, Any] | None) -> Any:
    data = copy.deepcopy(BASE)
    data["grid"] = {} if response is None else {"price_response": response}
    return parse_config(data)


def test_peak_departures_wait_for_the_first_cheaper_hour() -> None:
    bands = parse_config({**BASE, "grid": {}}).grid.tariff.bands  # type: ignore[union-attr]
    wait = _shift_hours(bands, 3.0)
    for h in range(24):
        if bands[h] != "peak":
            assert wait[h] == 0
        elif wait[h]:
            target = bands[(h + wait[h]) % 24]
            assert target in ("valley", "flat") and wait[h] <= 3
            # valley first: no valley hour is skipped for a flat one
            nearer = [bands[(h + d) % 24] for d in range(1, wait[h])]
            assert "valley" not in nearer
            if target == "flat":
                assert "valley" not in [bands[(h + d) % 24] for d in range(1, 4)]


def test_only_residents_in_peak_hours_move_and_by_whole_hours() -> None:
    sc = _scenario({"share": 1.0, "max_shift_h": 3})
    prep = prepare(sc)
    moved = demand_for(prep, 0)
    plain = demand_for(prepare(_scenario(None)), 0)
    assert len(moved) == len(plain)
    np.testing.assert_array_equal(moved.energy_kwh, plain.energy_kwh)
    diff = moved.depart_min - plain.depart_min
    assert (diff >= 0).all() and diff.max() <= 3 * 60
    assert np.allclose(diff % 60.0, 0.0)
    bands = np.array(sc.grid.tariff.bands)  # type: ignore[union-attr]
    hour = (plain.depart_min // 60).astype(int) % 24
    assert (bands[hour[diff > 0]] == "peak").all()
    assert (diff > 0).sum() > 0.5 * (bands[hour] == "peak").sum()  # most of them can move


def test_share_draws_are_common_to_every_strategy_and_off_changes_nothing() -> None:
    plain = demand_for(prepare(_scenario(None)), 0)
    u = np.zeros(len(plain))  # everybody would respond ...
    same = respond_to_prices(plain, bands=["peak"] * 24, share=0.0, max_shift_h=3, uniform=u)
    assert same is plain  # ... but nobody does at share 0
    half = respond_to_prices(
        plain, bands=("peak",) * 12 + ("valley",) * 12, share=0.5, max_shift_h=3,
        uniform=np.linspace(0, 1, len(plain), endpoint=False),
    )  # fmt: skip
    assert 0 < (half.depart_min != plain.depart_min).mean() < 1


@pytest.fixture(scope="module")
def runs() -> tuple[RunResult, RunResult]:
    return run(_scenario(None)), run(_scenario({"share": 1.0, "max_shift_h": 4}))


def test_responding_residents_pay_less(runs: tuple[RunResult, RunResult]) -> None:
    plain, responding = runs

    def price(r: RunResult) -> float:
        g = r.typed_summary.strategies["p-median"].grid
        assert g is not None
        return float(g["mean_price_cny_per_kwh"]["residential"])

    assert price(responding) < price(plain) - 0.05
