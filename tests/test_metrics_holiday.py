"""The holiday operations figures (issue 16 item 5): the wait at the busiest service area
on the peak day and the vehicles that ran flat, on a log built by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.demand.model import Demand
from sim.des import SessionLog
from sim.des.log import BALKED, CHARGED, RENEGED, STRANDED, new_row
from sim.metrics.holiday import holiday_figures, peak_day


def _demand(depart_min: list[float], segment: list[int]) -> Demand:
    n = len(depart_min)
    f = np.zeros(n)
    return Demand(
        vehicle_id=np.arange(n, dtype=np.int64), segment=np.array(segment, np.int8),
        origin=np.zeros(n, np.int64), depart_min=np.array(depart_min, float),
        energy_kwh=f + 10, patience_min=f + 30, max_ac_kw=f + 7, max_dc_kw=f + 60,
        battery_kwh=f + 60, soc_start=f + 0.2, zone=np.zeros(n, np.int32),
        od=np.zeros(n, np.int32), kwh_per_km=f + 0.15, exit_need_kwh=f,
    )  # fmt: skip


def test_peak_day_is_the_day_most_through_vehicles_enter() -> None:
    # day 1: 2 through vehicles; day 2: 3 through and 5 residents; day 3: 1
    departs = [10, 900, 1500, 1600, 2000, 3000, *[1500] * 5]
    segments = [1, 1, 1, 1, 1, 1, *[0] * 5]
    assert peak_day(_demand(departs, segments)) == 2
    assert peak_day(_demand([10.0], [0])) == 1  # no through-traffic


def test_busiest_area_merges_its_stations_and_counts_queues_not_balks() -> None:
    """Stations 0 and 1 are both at SA-1 (its chargers and a mobile unit), station 2 at
    SA-2.  On day 2 SA-1 has 3 arrivals (one balked), SA-2 two: SA-1 is the busiest and
    its waits are the two queued attempts', 10 and 30 min."""
    demand = _demand([1440.0, 1450.0, 1460.0, 1470.0, 1480.0, 100.0], [1, 1, 1, 1, 1, 1])
    rows = [
        new_row(session=0, attempt=0, station=0, outcome=CHARGED, arrival_min=1500.0,
                wait_min=10.0),
        new_row(session=1, attempt=0, station=1, outcome=RENEGED, arrival_min=1510.0,
                wait_min=30.0),
        new_row(session=2, attempt=0, station=0, outcome=BALKED, arrival_min=1520.0,
                wait_min=0.0),
        new_row(session=3, attempt=0, station=2, outcome=CHARGED, arrival_min=1530.0,
                wait_min=90.0),
        new_row(session=4, attempt=0, station=2, outcome=CHARGED, arrival_min=1540.0,
                wait_min=50.0),
        new_row(session=4, attempt=1, station=2, outcome=STRANDED, arrival_min=1700.0),
        new_row(session=5, attempt=0, station=2, outcome=STRANDED, arrival_min=200.0),
    ]  # fmt: skip
    out = holiday_figures(
        SessionLog.from_rows(rows), demand, site_ids=["SA-1", "SA-1", "SA-2"], day=2
    )
    assert out["busiest_site"] == "SA-1"
    assert out["busiest_arrivals"] == 3
    assert out["busiest_wait_mean_min"] == pytest.approx(20.0)
    assert out["busiest_wait_p95_min"] == pytest.approx(np.percentile([10.0, 30.0], 95))
    assert out["stranded_vehicles"] == 2
    assert out["stranded_peak_day"] == 1  # session 4 set off on day 2, session 5 on day 1


def test_nobody_arriving_gives_no_busiest_area() -> None:
    demand = _demand([10.0], [1])
    log = SessionLog.from_rows([new_row(session=0, attempt=0, station=-1, outcome=STRANDED)])
    out = holiday_figures(log, demand, site_ids=["SA-1"], day=1)
    assert out["busiest_site"] == ""
    assert math.isnan(float(out["busiest_wait_mean_min"]))
    assert out["stranded_vehicles"] == 1
