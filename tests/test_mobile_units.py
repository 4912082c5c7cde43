"""Mobile charging units on the holiday expressway (issue 16 item 1): units sent to
service areas on the holiday days, with an energy store that runs down and is refilled;
placed by the planner or at the service areas with the longest predicted waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config import parse_config, read_yaml
from sim.des.log import CHARGED, STRANDED
from sim.errors import ConfigError, DataError
from sim.siting.plan import Plan
from sim.study.mobile import PILOT_REPLICATION
from sim.study.plans import make_plans
from sim.study.prepare import Prepared, prepare
from sim.study.units import demand_for, simulate_plan

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "corridor-holiday.yaml"
SMALL_STORE = {"store_kwh": 50.0, "refill_min": 600.0}


def _data() -> dict[str, Any]:
    data = read_yaml(CONFIG)  # 3 days, days 2 and 3 a holiday
    data["strategies"] = [
        {"name": "existing"},
        {"name": "units", "model": "existing", "mobile_units": {"units": 4}},
        {"name": "small", "model": "existing", "mobile_units": {"units": 4, **SMALL_STORE}},
        {
            "name": "given",
            "model": "existing",
            "mobile_units": {"units": 2, "sites": ["services-4-A", "services-4-A"],
                             "days": [1]},
        },
    ]  # fmt: skip
    return data


@pytest.fixture(scope="module")
def prep() -> Prepared:
    return prepare(parse_config(_data()))


@pytest.fixture(scope="module")
def plans(prep: Prepared) -> dict[str, Plan]:
    return make_plans(prep)


@pytest.fixture(scope="module")
def logs(prep: Prepared, plans: dict[str, Plan]) -> dict[str, Any]:
    demand = demand_for(prep, 0)
    return {name: simulate_plan(prep, plan, demand) for name, plan in plans.items()}


def _ids(prep: Prepared, plan: Plan, rows: np.ndarray) -> list[str]:
    return prep.region.candidates["site_id"].astype(str).to_numpy()[plan.candidate[rows]].tolist()


def test_units_are_plan_rows_beside_the_service_areas(prep: Prepared, plans: dict) -> None:
    base, units = plans["existing"], plans["units"]
    assert int(units.mobile.sum()) == 4
    np.testing.assert_array_equal(units.candidate[~units.mobile], base.candidate)
    assert (units.ports[units.mobile] == 2).all()
    assert np.all(np.diff(units.candidate) >= 0)  # still sorted by candidate
    # 4 units x 2 holiday days x 5,000 CNY
    assert units.cost_cny == pytest.approx(base.cost_cny + 4 * 2 * 5000.0)
    given = plans["given"]
    assert _ids(prep, given, np.flatnonzero(given.mobile)) == ["services-4-A"] * 2
    assert given.cost_cny == pytest.approx(2 * 1 * 5000.0)


def test_auto_deployment_goes_where_the_base_plan_queues(
    prep: Prepared, plans: dict[str, Plan]
) -> None:
    """The units go to the four service areas with the most waiting on the holiday days
    in the pilot replication of the plan without units."""
    base = plans["existing"]
    demand = demand_for(prep, PILOT_REPLICATION)
    log = simulate_plan(prep, base, demand, replication=PILOT_REPLICATION)
    holiday = (log.arrival_min // 1440 + 1) >= 2
    waited = np.bincount(
        log.station[holiday & (log.station >= 0)],
        weights=np.nan_to_num(log.wait_min[holiday & (log.station >= 0)]),
        minlength=len(base),
    )
    top = set(_ids(prep, base, np.argsort(-waited)[:4]))
    units = plans["units"]
    assert set(_ids(prep, units, np.flatnonzero(units.mobile))) == top


def test_units_charge_only_on_their_days(plans: dict[str, Plan], logs: dict) -> None:
    for name, days in (("units", {2, 3}), ("given", {1})):
        plan, log = plans[name], logs[name]
        at_unit = (log.station >= 0) & plan.mobile[log.station.clip(0)]
        done = at_unit & (log.outcome == CHARGED)
        assert done.sum() > 10, name
        # chose the unit on a day out (who is on the way or queueing when it is called
        # back is still served)
        chose = log.arrival_min[done] - log.access_min[done]
        assert set((chose // 1440 + 1).astype(int).tolist()) <= days, name


def test_a_unit_gives_no_more_than_its_store_and_refills(
    plans: dict[str, Plan], logs: dict
) -> None:
    """50 kWh units away 600 min per refill over the two holiday days (2,880 min): at
    most 1 + 2,880 / 600 refills, so at most 50 x 5.8 = 290 kWh each; the same units
    with the default 400 kWh store deliver far more."""
    plan, log = plans["small"], logs["small"]
    done = (log.outcome == CHARGED) & (log.station >= 0)
    for j in np.flatnonzero(plan.mobile):
        kwh = log.energy_kwh[done & (log.station == j)].sum()
        assert kwh <= 50.0 * (1 + 2880.0 / 600.0) + 1e-6
    big = logs["units"]
    big_done = (big.outcome == CHARGED) & (big.station >= 0)
    big_kwh = big.energy_kwh[big_done & plans["units"].mobile[big.station.clip(0)]].sum()
    small_kwh = log.energy_kwh[done & plan.mobile[log.station.clip(0)]].sum()
    assert big_kwh > 3 * small_kwh


def test_units_relieve_the_holiday_queues(logs: dict) -> None:
    base, units = logs["existing"], logs["units"]

    def holiday_wait(log: Any) -> float:
        done = (log.outcome == CHARGED) & (log.arrival_min >= 1440)
        return float(np.mean(log.wait_min[done]))

    assert holiday_wait(units) < holiday_wait(base) - 3.0
    assert (units.outcome == STRANDED).sum() < (base.outcome == STRANDED).sum()


def test_unknown_site_is_refused(prep: Prepared) -> None:
    data = _data()
    data["strategies"] = [
        {"name": "x", "model": "existing", "mobile_units": {"units": 1, "sites": ["nowhere"]}}
    ]
    with pytest.raises(ConfigError, match="unknown candidate site ids"):
        make_plans(prepare(parse_config(data)))


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ({"units": 2, "sites": ["services-1-A"]}, "1 site"),
        ({"units": 1, "days": [9]}, "beyond the 3 simulated days"),
        ({"units": 0}, "units"),
    ],
)
def test_bad_mobile_units_are_refused(units: dict[str, Any], message: str) -> None:
    data = _data()
    data["strategies"][1]["mobile_units"] = units
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_outputs_mark_the_mobile_units(tmp_path: Path) -> None:
    """sessions.parquet gains ``mobile`` (only when a plan has units) and the selected
    layer says ``kind: mobile``; read back as a plan file, such rows are refused."""
    import geopandas as gpd
    import pandas as pd

    from sim.api import run
    from sim.export.writing import write_outputs
    from sim.region.plan_file import read_plan_file

    data = _data()
    data["demand"]["days"] = 2
    data["demand"]["highway"]["holiday"]["days"] = [2]
    data["strategies"] = [data["strategies"][0], data["strategies"][1]]
    data["simulation"]["replications"] = 1
    data["output"] = {"map": False, "report": False}
    result = run(parse_config(data))
    write_outputs(result, tmp_path / "out")
    sessions = pd.read_parquet(tmp_path / "out" / "sessions.parquet")
    assert sessions["mobile"].dtype == bool
    at_units = sessions[sessions["mobile"]]
    assert len(at_units) > 0 and set(at_units["strategy"]) == {"units"}
    sel = gpd.read_file(tmp_path / "out" / "sites.gpkg", layer="selected")
    assert (sel["kind"] == "mobile").sum() == 4
    plan_csv = tmp_path / "plan.csv"
    sel[sel["strategy"] == "units"].drop(columns="geometry").to_csv(plan_csv, index=False)
    with pytest.raises(DataError, match="kind = mobile"):
        read_plan_file(plan_csv)
