"""Session caps on expressway holidays (issue 16 item 2): a strategy's ``session_cap``
limits through-traffic sessions to a state of charge and/or minutes on the days it names;
its effect on queues and extra stops is simulated."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config import Scenario, parse_config, read_yaml
from sim.des.charging import ChargeCurve
from sim.des.highway import ChargeStop, Trip
from sim.des.inputs import SessionCap
from sim.des.log import CHARGED
from sim.errors import ConfigError
from sim.study.plans import make_plans, session_cap
from sim.study.prepare import Prepared, prepare
from sim.study.units import demand_for, simulate_plan

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "corridor-holiday.yaml"


def _data() -> dict[str, Any]:
    data = read_yaml(CONFIG)
    data["demand"]["days"] = 2
    data["demand"]["highway"]["holiday"]["days"] = [2]
    data["strategies"] = [
        {"name": "existing"},
        {"name": "cap-30min", "model": "existing", "session_cap": {"minutes": 30}},
        {"name": "cap-80", "model": "existing", "session_cap": {"soc": 0.8, "days": "all"}},
    ]
    return data


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepare(parse_config(_data()))


def test_minutes_cap_holds_on_holiday_days_only(prep: Prepared) -> None:
    plans = make_plans(prep)
    demand = demand_for(prep, 0)
    free = simulate_plan(prep, plans["existing"], demand)
    capped = simulate_plan(prep, plans["cap-30min"], demand)

    def minutes(log: Any, day: int) -> np.ndarray:
        done = (log.outcome == CHARGED) & (log.start_min // 1440 + 1 == day)
        return (log.end_min - log.start_min)[done]

    assert (minutes(free, 2) > 30.5).sum() > 20  # uncapped holiday sessions run longer
    assert (minutes(capped, 2) <= 30.0 + 1e-6).all()
    assert (minutes(capped, 1) > 30.5).any()  # day 1 is no holiday: no cap
    # shorter sessions on the holiday: less waiting there
    hol = lambda log: log.arrival_min // 1440 == 1  # noqa: E731
    assert np.nanmean(capped.wait_min[hol(capped)]) < np.nanmean(free.wait_min[hol(free)])


def test_soc_cap_means_more_stops(prep: Prepared) -> None:
    plans = make_plans(prep)
    demand = demand_for(prep, 0)
    free = simulate_plan(prep, plans["existing"], demand)
    capped = simulate_plan(prep, plans["cap-80"], demand)

    def stops_per_session(log: Any) -> float:
        done = log.outcome == CHARGED
        return done.sum() / np.unique(log.session[done]).size

    assert stops_per_session(capped) > stops_per_session(free) + 0.01
    # less energy per stop: nobody charges past 80%
    done_c, done_f = capped.outcome == CHARGED, free.outcome == CHARGED
    assert capped.energy_kwh[done_c].mean() < free.energy_kwh[done_f].mean()


def test_charge_stop_cuts_energy_and_minutes() -> None:
    """The cap's arithmetic on one session: to 80% from 50% of 60 kWh is 18 kWh; a
    10-minute cap gives what the charging curve delivers in 10 minutes."""
    curve = ChargeCurve(
        battery_kwh=60.0, vehicle_max_kw=120.0, port_kw=100.0,
        socs=[0.0, 0.5, 0.8, 1.0], shares=[1.0, 1.0, 0.5, 0.1],
    )  # fmt: skip

    class _Times:
        def curve(self, i: int, j: int) -> ChargeCurve:
            return curve

        def minutes(self, i: int, j: int, kwh: float, soc: float) -> float:
            return curve.minutes(soc, kwh)

    trip = Trip(0, exit=0, battery_kwh=60.0, soc=0.5, kwh_per_km=0.2, exit_need_kwh=40.0,
                target_soc=0.95, reserve_soc=0.1)  # fmt: skip
    stop = ChargeStop(
        to_exit_km=[[150.0]], charging=_Times(),  # type: ignore[arg-type]
        cap=SessionCap(soc=0.8), now=lambda: 0.0,
    )  # fmt: skip
    kwh, minutes = stop.plan(trip, 0, 30.0)
    assert kwh == pytest.approx(18.0)
    assert minutes == pytest.approx(curve.minutes(0.5, 18.0))
    stop = ChargeStop(
        to_exit_km=[[150.0]], charging=_Times(),  # type: ignore[arg-type]
        cap=SessionCap(minutes=10.0, days=frozenset({2})), now=lambda: 1500.0,
    )  # fmt: skip
    kwh, minutes = stop.plan(trip, 0, 30.0)
    assert minutes == pytest.approx(10.0)
    assert kwh == pytest.approx((curve.soc_after(0.5, 10.0) - 0.5) * 60.0)
    assert curve.minutes(0.5, kwh) == pytest.approx(10.0)
    # on day 1 the cap does not apply
    stop = ChargeStop(
        to_exit_km=[[150.0]], charging=_Times(),  # type: ignore[arg-type]
        cap=SessionCap(minutes=10.0, days=frozenset({2})), now=lambda: 100.0,
    )  # fmt: skip
    assert stop.plan(trip, 0, 30.0)[1] > 10.0


def test_holiday_days_resolve_from_the_scenario() -> None:
    sc = parse_config(_data())
    cap = session_cap(sc, "cap-30min")
    assert cap is not None and cap.days == frozenset({2}) and cap.minutes == 30.0
    assert session_cap(sc, "cap-80").days is None  # type: ignore[union-attr]
    assert session_cap(sc, "existing") is None


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        ({}, "give soc, minutes or both"),
        ({"soc": 1.2}, "soc"),
        ({"minutes": 30, "days": [5]}, "beyond the 2 simulated days"),
    ],
)
def test_bad_caps_are_refused(cap: dict[str, Any], message: str) -> None:
    data = _data()
    data["strategies"][1]["session_cap"] = cap
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_holiday_cap_needs_a_holiday() -> None:
    data = copy.deepcopy(_data())
    del data["demand"]["highway"]["holiday"]
    with pytest.raises(ConfigError, match=r"needs demand\.highway\.holiday"):
        parse_config(data)


def test_absent_cap_leaves_the_resolved_config_as_before() -> None:
    sc: Scenario = parse_config(read_yaml(CONFIG))
    assert all("session_cap" not in s for s in sc.model_dump()["strategies"])
