"""Strategies that place swap stations (service: swap) or both kinds (service: both)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.config import StrategyConfig, parse_config
from sim.errors import ConfigError, DataError
from sim.region.plan_file import read_plan_file
from sim.siting.plan import SitingInputs, make_plan

# five candidates on a line, 10 minutes apart; six demand rows at candidates 0,0,1,2,3,4
POS = np.array([0.0, 0.0, 1.0, 2.0, 3.0, 4.0])
COST = np.abs(POS[:, None] - np.arange(5.0)[None, :]) * 10.0
WEIGHT = np.array([5.0, 5.0, 1.0, 1.0, 4.0, 6.0])
SWAP = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 6.0])  # the taxis work at the far end
SCENARIO = parse_config({"name": "x", "region": {"sample": "kotka"}})


def inputs(swap: dict[str, np.ndarray] | None = None) -> SitingInputs:
    return SitingInputs(
        cost_min=COST,
        weight=WEIGHT,
        existing=np.empty(0, np.int64),
        existing_ports=np.zeros(5, np.int64),
        site_ids=tuple(f"c{i}" for i in range(5)),
        swap_weight={"nio": SWAP} if swap is None else swap,
    )


def plan(**strategy: object):  # type: ignore[no-untyped-def]
    cfg = StrategyConfig.model_validate({"name": "p-median", **strategy})
    return make_plan(cfg, inputs(), scenario=SCENARIO, index=0)


def test_swap_stations_go_where_the_swapping_demand_is() -> None:
    p = plan(k=1, service="swap")
    nio = SCENARIO.chargers.swap_classes["nio-pss3"]
    assert p.candidate.tolist() == [4]
    assert p.kind == ("swap",)
    assert p.charger_class == ("nio-pss3",)
    assert p.ports.tolist() == [0]
    assert (p.bays.tolist(), p.packs.tolist(), p.pack_chargers.tolist()) == (
        [nio.bays],
        [nio.packs],
        [nio.pack_chargers],
    )
    assert p.cost_cny == pytest.approx(nio.cost_cny)
    # the same model for charging sites serves everybody: the weighted median
    assert plan(k=1).candidate.tolist() == [1]


def test_both_places_swap_stations_then_chargers_on_the_other_sites() -> None:
    p = plan(k=3, service="both", swap_k=1)
    assert p.candidate.tolist() == sorted(p.candidate.tolist())
    kinds = dict(zip(p.candidate.tolist(), p.kind, strict=True))
    assert kinds[4] == "swap"
    assert sorted(k for k in kinds.values()) == ["charge", "charge", "swap"]
    charge_only = plan(k=2)
    swap_only = plan(k=1, service="swap")
    # the charging part is a 2-site p-median on the other four candidates
    assert 4 not in [c for c, k in kinds.items() if k == "charge"]
    assert p.cost_cny == pytest.approx(charge_only.cost_cny + swap_only.cost_cny)
    assert p.ports[p.swap].tolist() == [0]
    assert (p.ports[~p.swap] == SCENARIO.chargers.ports_per_site).all()


def test_a_budget_pays_the_swap_stations_first() -> None:
    nio = SCENARIO.chargers.swap_classes["nio-pss3"].cost_cny
    site = SCENARIO.chargers.site_cost_cny + 4 * 30_000.0
    p = plan(model="p-median", budget_cny=nio + 2 * site + 1.0, service="both", swap_k=1)
    assert sorted(p.kind) == ["charge", "charge", "swap"]
    with pytest.raises(ConfigError, match="leave nothing for chargers"):
        plan(budget_cny=nio, service="both", swap_k=1)
    with pytest.raises(ConfigError, match="more swap stations than the k = 1"):
        plan(k=1, service="both", swap_k=2)


def test_no_swapping_demand_is_refused_with_the_reason() -> None:
    cfg = StrategyConfig(name="p-median", k=1, service="swap")
    with pytest.raises(ConfigError, match=r"no demand can swap at a 'nio-pss3' station"):
        make_plan(cfg, inputs(swap={}), scenario=SCENARIO, index=0)
    cfg = StrategyConfig(name="p-median", k=1, service="swap", swap_class="catl-choco-seb")
    with pytest.raises(ConfigError, match=r"pack types \['choco'\]"):
        make_plan(cfg, inputs(), scenario=SCENARIO, index=0)


def test_sizing_sizes_each_swap_station_for_its_peak_hour() -> None:
    sized = plan(k=2, service="swap", sizing={"target_wait_min": 10, "max_prob": 0.05})
    nio = SCENARIO.chargers.swap_classes["nio-pss3"]
    # light demand: fewer packs and chargers than the class's 21, and they cost less
    assert (sized.packs < nio.packs).all()
    assert sized.cost_cny < 2 * nio.cost_cny
    expected = sum(
        nio.equipment_cost_cny(bays=int(b), packs=int(n), pack_chargers=int(c))
        for b, n, c in zip(sized.bays, sized.packs, sized.pack_chargers, strict=True)
    )
    assert sized.cost_cny == pytest.approx(expected)


def test_a_plan_file_marks_swap_stations(tmp_path: Path) -> None:
    f = tmp_path / "plan.csv"
    f.write_text("site_id,kind,charger_class,ports\nc1,,,\nc4,swap,catl-choco-seb,\nc2,SWAP,,\n")
    table = read_plan_file(f)
    assert table.kind == ("charge", "swap", "swap")
    cfg = StrategyConfig(name="mine", plan_file=f)
    p = make_plan(cfg, inputs(), scenario=SCENARIO, index=0, plan_table=table)
    assert p.candidate.tolist() == [1, 2, 4]
    assert p.kind == ("charge", "swap", "swap")
    assert p.charger_class == ("dc60", "nio-pss3", "catl-choco-seb")
    assert p.ports.tolist() == [SCENARIO.chargers.ports_per_site, 0, 0]
    classes = SCENARIO.chargers.swap_classes
    assert p.packs.tolist() == [0, classes["nio-pss3"].packs, classes["catl-choco-seb"].packs]
    site = SCENARIO.chargers.site_cost_cny + 4 * 30_000.0
    expected = site + classes["nio-pss3"].cost_cny + classes["catl-choco-seb"].cost_cny
    assert p.cost_cny == pytest.approx(expected)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c4,swop,,", r"plan.csv row 2: kind = 'swop'; expected one of charge, swap \(or a"),
        ("c4,swap,,2", r"plan.csv row 2: ports = 2 at a swap station"),
        ("c4,swap,dc60,", r"row 2: charger_class = 'dc60' is not one of .*chargers.swap_classes"),
        ("c4,,nio-pss3,", r"row 2: charger_class = 'nio-pss3' is not one of .*chargers.classes"),
    ],
)
def test_bad_swap_rows_are_named(tmp_path: Path, row: str, message: str) -> None:
    f = tmp_path / "plan.csv"
    f.write_text(f"site_id,kind,charger_class,ports\n{row}\n")
    with pytest.raises(DataError, match=message):
        table = read_plan_file(f)
        cfg = StrategyConfig(name="mine", plan_file=f)
        make_plan(cfg, inputs(), scenario=SCENARIO, index=0, plan_table=table)


def test_the_simulation_sees_the_swap_stations_of_a_plan() -> None:
    from sim.siting.plan import _equipment
    from sim.siting.services import with_swap_sites
    from sim.study.plans import make_plans, stations_of, swap_sites_of
    from sim.study.prepare import prepare

    sc = parse_config(
        {"name": "x", "region": {"sample": "kotka"}, "strategies": [{"name": "p-median", "k": 3}]}
    )
    prep = prepare(sc)
    plan = make_plans(prep)["p-median"]
    assert swap_sites_of(prep, plan) is None
    equipment = _equipment(sc, sc.strategies[0])
    mixed = with_swap_sites(
        plan, {int(plan.candidate[1]): "catl-choco-seb"}, scenario=sc, replaced_cost=equipment
    )
    sites = swap_sites_of(prep, mixed)
    assert sites is not None and len(sites) == 1
    assert sites.site.tolist() == [1]
    choco = sc.chargers.swap_classes["catl-choco-seb"]
    assert (sites.packs[0], sites.bays[0], sites.swap_min[0]) == (
        choco.packs,
        choco.bays,
        choco.swap_min,
    )
    assert sites.pack_types == (frozenset({"choco"}),)
    assert stations_of(prep, mixed).ports.tolist()[1] == 0


def test_a_plan_file_may_give_a_swap_stations_equipment(tmp_path: Path) -> None:
    f = tmp_path / "plan.csv"
    f.write_text("site_id,kind,ports,bays,packs,pack_chargers\nc4,swap,0,1,9,6\nc2,swap,,,,\n")
    table = read_plan_file(f)
    p = make_plan(StrategyConfig(name="mine", plan_file=f), inputs(), scenario=SCENARIO,
                  index=0, plan_table=table)  # fmt: skip
    nio = SCENARIO.chargers.swap_classes["nio-pss3"]
    assert p.candidate.tolist() == [2, 4]
    assert (p.bays.tolist(), p.packs.tolist(), p.pack_chargers.tolist()) == (
        [nio.bays, 1],
        [nio.packs, 9],
        [nio.pack_chargers, 6],
    )
    assert p.cost_cny == pytest.approx(
        nio.cost_cny + nio.equipment_cost_cny(bays=1, packs=9, pack_chargers=6)
    )
