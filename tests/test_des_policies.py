"""The driver policies on their own: hand-made stations and queues, no SimPy run.

A resident weighs driving time against the wait a charging app shows; a through driver
weighs its detour, its reserve and the wait at each station along its route, where the
wait counts its own charging time there.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.demand.model import Demand
from sim.des import DriverRules, Stations, TaperCurves, charge_minutes_one
from sim.des.charging import ChargeTimes
from sim.des.highway import FULL_SOC, ChargeStop, Leg, ThroughChoice, Trip
from sim.des.resident import ResidentChoice

INF = float("inf")
SMART = DriverRules(choice="time_plus_wait", wait_weight=1.0)
NEAREST = DriverRules(choice="nearest")


def resident_choice(
    rules: DriverRules, *, present: list[int], ports: list[int], minutes: float = 30.0
) -> ResidentChoice:
    """Stations of one port type; session 0 charges ``minutes`` at any of them."""
    return ResidentChoice(
        rules,
        ports=ports,
        present=present,
        type_of=[0] * len(ports),
        minutes=[[minutes]],
    )


def test_resident_picks_least_time_plus_expected_wait() -> None:
    # station 0: 2 min away, 1 port, 1 car charging -> wait 1 x 30 min; station 1: 10 min
    choice = resident_choice(SMART, present=[1, 0], ports=[1, 1])
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 1
    # with 2 ports the same car leaves one free: no wait, the nearer wins
    choice = resident_choice(SMART, present=[1, 0], ports=[2, 1])
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 0
    # the wait scales with the driver's own charging time: a 5-minute top-up queues
    choice = resident_choice(SMART, present=[1, 0], ports=[1, 1], minutes=5.0)
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 0


def test_resident_expected_wait_counts_vehicles_beyond_the_ports() -> None:
    # 4 ports, 5 present: 2 ahead of the driver for the next free port -> 2 x 40 / 4 = 20
    choice = resident_choice(SMART, present=[5, 0], ports=[4, 1], minutes=40.0)
    assert choice.choose(0, [0, 1], [1.0, 21.5], set()) == 0  # 1 + 20 < 21.5
    assert choice.choose(0, [0, 1], [1.0, 20.5], set()) == 1  # 1 + 20 > 20.5


def test_resident_judges_a_station_by_its_ports_open_now() -> None:
    # a shared-chargers station (0) with 1 of its 2 chargers open and one car there:
    # the driver would wait for it; with none open it is passed over altogether
    ports, below, present = [1, 1], [0, 0], [1, 0]
    choice = ResidentChoice(
        SMART, ports=ports, present=present, type_of=[0, 0], minutes=[[30.0]], below=below
    )
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 1
    ports[0], below[0] = 2, 1  # the other owner leaves: both chargers open
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 0
    assert choice.choose_ordered(0, [0, 1], [2.0, 10.0], set()) == 0
    ports[0], below[0], present[0] = 0, -1, 0  # both owners home: closed
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 1
    assert choice.choose_ordered(0, [0, 1], [2.0, 10.0], set()) == 1
    assert choice.choose(0, [0], [2.0], set()) == -1  # nowhere open within reach


def test_resident_skips_tried_and_unreachable_stations() -> None:
    choice = resident_choice(SMART, present=[0, 0, 0], ports=[1, 1, 1])
    assert choice.choose(0, [0, 1, 2], [1.0, 2.0, 3.0], {0}) == 1
    assert choice.choose(0, [0, 1, 2], [1.0, 2.0, 3.0], {0, 1}) == 2
    assert choice.choose(0, [0, 1, 2], [1.0, 2.0, 3.0], {0, 1, 2}) == -1
    assert choice.choose(0, [0, 1, -1], [INF, INF, INF], set()) == -1
    assert choice.choose(0, [-1, -1], [INF, INF], set()) == -1  # nothing within reach


def test_nearest_resident_ignores_queues() -> None:
    choice = resident_choice(NEAREST, present=[9, 0], ports=[1, 1])
    assert choice.choose(0, [0, 1], [2.0, 10.0], set()) == 0
    assert choice.choose(0, [0, 1], [2.0, 10.0], {0}) == 1


def test_resident_tie_goes_to_the_first_listed() -> None:
    choice = resident_choice(SMART, present=[0, 0], ports=[1, 1])
    assert choice.choose(0, [1, 0], [5.0, 5.0], set()) == 0


def trip(*, soc: float = 0.3, battery: float = 60.0, per_km: float = 0.2) -> Trip:
    return Trip(
        0,
        exit=0,
        battery_kwh=battery,
        soc=soc,
        kwh_per_km=per_km,
        exit_need_kwh=6.0,
        target_soc=0.8,
        reserve_soc=0.1,
    )


def through_choice(
    *,
    present: list[int],
    ports: list[int],
    minutes: list[float] | None = None,
    detour_max: float = 10.0,
    rules: DriverRules = SMART,
) -> ThroughChoice:
    """``minutes[j]``: the trip's own charging time at station ``j`` (default 30)."""
    own = minutes if minutes is not None else [30.0] * len(ports)
    return ThroughChoice(
        rules,
        ports=ports,
        present=present,
        detour_max_min=detour_max,
        expected_min=lambda t, j, have_kwh: own[j],
    )


def leg(km: list[float], detour: list[float]) -> Leg:
    n = len(km)
    return Leg(
        station=list(range(n)), drive_min=[0.6 * k for k in km], drive_km=km, detour_min=detour
    )


def test_through_driver_prefers_a_station_within_the_detour_limit() -> None:
    # 0: detour 12 (beyond the 10-minute limit), idle; 1: detour 6, two cars ahead
    choice = through_choice(present=[0, 3], ports=[2, 1])
    assert choice.choose(trip(), leg([30.0, 30.0], [12.0, 6.0]), set()) == 1
    # ... and falls back beyond it only when nothing within it can be reached
    assert choice.choose(trip(), leg([30.0, 30.0], [12.0, 6.0]), {1}) == 0
    far = leg([30.0, 200.0], [12.0, 6.0])  # station 1 needs 40 kWh, 18 on board
    assert choice.choose(trip(), far, set()) == 0


def test_through_driver_keeps_its_reserve_when_it_can() -> None:
    # 18 kWh on board, reserve 6 kWh: station 1 (70 km, 14 kWh) leaves only 4 kWh
    choice = through_choice(present=[0, 0], ports=[1, 1])
    route = leg([20.0, 70.0], [8.0, 1.0])
    assert choice.choose(trip(), route, set()) == 0
    assert choice.choose(trip(), route, {0}) == 1  # the last resort is still a station
    # out of reach altogether: nothing to choose
    assert choice.choose(trip(), leg([95.0], [1.0]), set()) == -1


def test_through_driver_on_equal_score_goes_farthest_along_the_route() -> None:
    choice = through_choice(present=[0, 0, 0], ports=[1, 1, 1])
    assert choice.choose(trip(), leg([10.0, 40.0, 25.0], [3.0, 3.0, 3.0]), set()) == 1


def test_through_driver_waits_by_its_own_charging_time() -> None:
    # both stations have one car charging on their one port; at 0 (nearer, less detour)
    # this driver would charge 40 min, at 1 only 12 min: 5 + 40 > 8 + 12
    choice = through_choice(present=[1, 1], ports=[1, 1], minutes=[40.0, 12.0])
    assert choice.choose(trip(), leg([20.0, 30.0], [5.0, 8.0]), set()) == 1
    # an idle station needs no estimate: the least detour wins
    choice = through_choice(present=[0, 0], ports=[1, 1], minutes=[40.0, 12.0])
    assert choice.choose(trip(), leg([20.0, 30.0], [5.0, 8.0]), set()) == 0
    # the nearest-only rule ignores queues altogether
    choice = through_choice(present=[1, 1], ports=[1, 1], minutes=[40.0, 12.0], rules=NEAREST)
    assert choice.choose(trip(), leg([20.0, 30.0], [5.0, 8.0]), set()) == 0


def test_trip_charges_to_target_or_what_the_onward_trip_needs() -> None:
    t = trip(soc=0.3, battery=60.0)  # target 48 kWh, at most 57 kWh (95%)
    assert t.charge_kwh(12.0, 20.0) == pytest.approx(36.0)  # to the 80% target
    assert t.charge_kwh(12.0, 52.0) == pytest.approx(40.0)  # more: the trip needs 52
    assert t.charge_kwh(12.0, 80.0) == pytest.approx(FULL_SOC * 60.0 - 12.0)  # at most 95%
    assert t.charge_kwh(50.0, 20.0) == 0.0  # already above the target


def test_trip_leaves_when_it_carries_enough_for_the_exit_and_beyond() -> None:
    t = trip(soc=0.3, battery=60.0, per_km=0.2)  # 18 kWh; the exit needs 6 kWh more
    assert t.can_leave(50.0)  # 10 + 6 <= 18
    assert not t.can_leave(70.0)  # 14 + 6 > 18
    big = trip(soc=0.9, battery=60.0)  # 54 kWh
    assert not big.can_leave(250.0)  # 50 + 6 > 54, and it could still charge to 57
    full = trip(soc=FULL_SOC, battery=60.0)
    assert full.can_leave(260.0)  # 52 + 6 > 57, but 57 is all the chargers give


def demand_one(*, soc: float, battery: float, max_dc_kw: float) -> Demand:
    one = np.ones(1)
    return Demand(
        vehicle_id=np.zeros(1, np.int64),
        segment=np.ones(1, np.int8),
        origin=np.zeros(1, np.int64),
        depart_min=np.zeros(1),
        energy_kwh=one * 30.0,
        patience_min=one * 60.0,
        max_ac_kw=one * 11.0,
        max_dc_kw=one * max_dc_kw,
        battery_kwh=one * battery,
        soc_start=one * soc,
        zone=np.full(1, -1, np.int32),
        od=np.zeros(1, np.int32),
        kwh_per_km=one * 0.2,
        exit_need_kwh=one * 6.0,
    )


def test_expected_charging_time_is_the_charge_it_would_make_on_arrival() -> None:
    curves = TaperCurves.from_points(
        dc=[[0, 1], [0.5, 1], [0.8, 0.45], [1, 0.1]], ac=[[0, 1], [1, 1]]
    )
    stations = Stations(
        site_id=("slow", "fast"),
        ports=np.array([2, 2]),
        power_kw=np.array([50.0, 150.0]),
        dc=np.array([True, True]),
    )
    d = demand_one(soc=0.3, battery=60.0, max_dc_kw=120.0)
    charging = ChargeTimes(d, stations, taper=curves)
    stop = ChargeStop(to_exit_km=[[40.0], [40.0]], charging=charging)
    t = trip(soc=0.3, battery=60.0)
    # arriving with 12 kWh, it charges to 80% (48 kWh): 36 kWh from 20% state of charge
    for j, port in enumerate((50.0, 150.0)):
        kwh, minutes = stop.plan(t, j, 12.0)
        assert kwh == pytest.approx(36.0)
        exact = charge_minutes_one(0.2, 36.0, 60.0, 120.0, port, *curves.dc)
        assert minutes == pytest.approx(exact, rel=1e-9)
        assert stop.minutes(t, j, 12.0) == minutes
    assert stop.minutes(t, 0, 12.0) > 1.5 * stop.minutes(t, 1, 12.0)  # 50 kW vs 120 kW


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    m=st.integers(1, 6),
    rules=st.sampled_from([SMART, NEAREST, DriverRules(wait_weight=0.0)]),
)
def test_resident_early_stop_on_ordered_times_gives_the_same_choice(
    data: st.DataObject, m: int, rules: DriverRules
) -> None:
    # the search that stops early on non-decreasing driving times (the simulation's
    # fast path) chooses what the full search does, ties and padding included
    ports = data.draw(st.lists(st.integers(1, 3), min_size=m, max_size=m))
    present = data.draw(st.lists(st.integers(0, 8), min_size=m, max_size=m))
    minutes = [data.draw(st.sampled_from([0.0, 5.0, 30.0, 45.5]))]
    choice = ResidentChoice(rules, ports=ports, present=present, type_of=[0] * m, minutes=[minutes])
    k = data.draw(st.integers(0, m))
    options = data.draw(st.permutations(range(m)))[:k]
    steps = data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.25, INF]), min_size=k, max_size=k))
    times = np.cumsum(steps).tolist() if k else []
    pad = data.draw(st.integers(0, 2))
    options, times = [*options, *[-1] * pad], [*times, *[INF] * pad]
    tried = set(data.draw(st.lists(st.sampled_from(range(m)), max_size=m)))
    full = choice.choose(0, options, times, tried)
    assert choice.choose_ordered(0, options, times, tried) == full
    assert choice.choose(0, options, times, tried, True) == full
