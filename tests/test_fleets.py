"""Fleet demand: shifts, thresholds and the energy a fleet drives."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from sim.config.schema import FleetConfig, VehicleClassConfig
from sim.demand.fleets import FLEET_SEGMENT, FleetArea, duty_periods, fleet_demand, fleet_size
from sim.demand.model import Demand

TAXI = VehicleClassConfig(
    name="taxi", share=0.0, battery_kwh=60.0, consumption_kwh_per_km=0.15,
    max_ac_kw=7.0, max_dc_kw=100.0,
)  # fmt: skip
VAN = VehicleClassConfig(
    name="van", share=0.0, battery_kwh=80.0, consumption_kwh_per_km=0.22,
    max_ac_kw=11.0, max_dc_kw=80.0,
)  # fmt: skip
AREA = FleetArea(
    node=np.array([10, 20, 30], np.int64),
    weight=np.array([1.0, 0.0, 3.0]),
    zone=np.array([0, 1, 2], np.int32),
)


def taxi(**kw: object) -> FleetConfig:
    base: dict[str, object] = {"name": "taxi", "vehicles": 500, "vehicle_classes": {"taxi": 1.0}}
    base.update(kw)
    return FleetConfig.model_validate(base)


def draw(cfg: FleetConfig, *, days: int = 28, seed: int = 1, n: int | None = None) -> Demand:
    return fleet_demand(
        cfg,
        area=AREA,
        vehicle_classes=[TAXI, VAN],
        n_vehicles=fleet_size(cfg, private_cars=0.0) if n is None else n,
        days=days,
        rng=np.random.default_rng(seed),
    )


def test_a_fleet_charges_the_energy_it_drives() -> None:
    cfg = taxi(daily_km_mean=300.0)
    days = 28
    d = draw(cfg, days=days)
    per_vehicle_day = d.energy_kwh.sum() / (500 * days)
    # 300 km x 0.15 kWh/km = 45 kWh a day; what is left in the batteries at the start
    # and end differs by at most one battery (60 kWh) over 28 days: 2.1 kWh a day
    assert per_vehicle_day == pytest.approx(45.0, abs=2.5)
    assert np.all(d.segment == FLEET_SEGMENT)
    assert np.all(d.energy_kwh > 0)
    assert np.all(np.diff(d.depart_min) >= 0)
    assert set(np.unique(d.origin)) <= {10, 30}  # never the node with no households
    # a 60 kWh taxi driving 300 km a day charges more than once a day
    assert len(d) / (500 * days) > 1.0


def test_charging_happens_on_duty_or_at_its_end() -> None:
    cfg = taxi(shifts=((6.0, 17.0), (17.5, 3.0)))
    d = draw(cfg, days=7)
    minute = np.mod(d.depart_min, 1440.0)
    in_break = (minute > 180.0) & (minute < 360.0)  # 3:00-6:00 nobody is on duty
    in_handover = (minute > 1020.0) & (minute < 1050.0)  # 17:00-17:30
    assert not in_break.any()
    assert not in_handover.any()
    # vehicles above every threshold charge only in the last hour of a duty period,
    # where they go because they would end it below between_shifts_below_soc
    window = ((minute >= 120.0) & (minute <= 180.0)) | ((minute >= 960.0) & (minute <= 1020.0))
    above = d.soc_start > cfg.charge_below_soc[1] + 1e-12
    assert above.any()
    assert np.all(window[above])
    # they spread over that hour rather than all leaving as the shift ends
    assert np.isin(minute, [180.0, 1020.0]).mean() < 0.01


def test_more_driving_means_more_sessions_and_same_seed_same_sessions() -> None:
    a = draw(taxi(daily_km_mean=150.0), days=14)
    b = draw(taxi(daily_km_mean=350.0), days=14)
    assert len(b) > 1.8 * len(a)
    again = draw(taxi(daily_km_mean=150.0), days=14)
    assert np.array_equal(a.depart_min, again.depart_min)
    assert np.array_equal(a.origin, again.origin)


def test_classes_by_share() -> None:
    d = draw(taxi(vehicle_classes={"taxi": 0.25, "van": 0.75}), days=3, n=4000)
    vans = np.unique(d.vehicle_id[d.battery_kwh == 80.0]).shape[0]
    cars = np.unique(d.vehicle_id[d.battery_kwh == 60.0]).shape[0]
    assert vans / (vans + cars) == pytest.approx(0.75, abs=0.03)


def test_duty_periods_run_past_midnight() -> None:
    p = duty_periods(taxi(shifts=((17.5, 3.0), (6.0, 17.0))), days=2)
    assert p.tolist() == [
        [360.0, 1020.0],
        [1050.0, 1620.0],
        [1800.0, 2460.0],
        [2490.0, 3060.0],
    ]


def test_fleet_size_from_a_share_of_cars() -> None:
    cfg = taxi(vehicles=None, share_of_cars=0.01)
    assert fleet_size(cfg, private_cars=123_456.0) == 1235


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"share_of_cars": 0.1}, "exactly one of vehicles and share_of_cars"),
        ({"shifts": ((6.0, 6.0),)}, "shifts.0"),
        ({"charge_below_soc": (0.3, 0.2)}, "charge_below_soc"),
        ({"vehicle_classes": {}}, "vehicle_classes"),
        ({"target_soc": 0.2}, "below target_soc"),
    ],
)
def test_bad_fleets_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        taxi(**change)


def _scenario(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "x", "region": {"sample": "kotka"}}
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"demand": {"fleets": [{"name": "t", "vehicles": 5, "vehicle_classes": {"bus": 1}}]}},
            r"demand.fleets.0.vehicle_classes: \['bus'\] are not classes",
        ),
        (
            {"strategies": [{"name": "p-median", "k": 3, "service": "both"}]},
            "service: both needs swap_k",
        ),
        (
            {"strategies": [{"name": "p-median", "k": 3, "swap_class": "x", "service": "swap"}]},
            "swap_class: 'x' is not one of",
        ),
        (
            {"chargers": {"default_swap_class": "x"}},
            "default_swap_class 'x' is not one of the swap_classes",
        ),
    ],
)
def test_fleet_and_swap_keys_are_checked_against_each_other(
    extra: dict[str, object], message: str
) -> None:
    from sim.config import parse_config
    from sim.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config(_scenario(**extra))


def test_swap_packs_follow_the_vehicle_class_and_fleets_get_their_own_ids() -> None:
    from sim.demand.fleets import all_fleets_demand
    from sim.demand.model import merge_demand, pack_types

    nio = TAXI.model_copy(update={"name": "nio", "swap_pack": "nio"})
    classes = [TAXI, VAN, nio]
    assert pack_types(classes) == ("nio",)
    fleets = [
        taxi(name="cabs", vehicles=300, vehicle_classes={"taxi": 0.5, "nio": 0.5}),
        taxi(name="vans", vehicles=None, share_of_cars=0.001, vehicle_classes={"van": 1.0}),
    ]
    d, rosters = all_fleets_demand(
        fleets,
        area=AREA,
        vehicle_classes=classes,
        private_cars=100_000.0,
        days=3,
        rngs=[np.random.default_rng(1), np.random.default_rng(2)],
        first_vehicle_id=1000,
    )
    assert [(r.name, r.first_vehicle_id, r.vehicles) for r in rosters] == [
        ("cabs", 1000, 300),
        ("vans", 1300, 100),
    ]
    assert d.swap_pack is not None
    vans = d.vehicle_id >= 1300
    assert np.all(d.swap_pack[vans] == -1)
    cabs = ~vans
    # about half the cabs can swap; their sessions carry the pack code 0 ("nio")
    assert set(np.unique(d.swap_pack[cabs]).tolist()) == {-1, 0}
    # merged with demand of classes that cannot swap, those sessions get -1
    plain = draw(taxi(), days=1)
    assert plain.swap_pack is None
    both = merge_demand(d, plain)
    assert both.swap_pack is not None and (both.swap_pack == -1).sum() == (
        (d.swap_pack == -1).sum() + len(plain)
    )
