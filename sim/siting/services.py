"""Plans of battery-swap stations, and of swap stations beside charging sites.

``service: swap``: the strategy's model places swap stations of the strategy's
``swap_class`` (default ``chargers.default_swap_class``) for the demand that can swap
there, i.e. the sessions of vehicles whose ``swap_pack`` the class serves
(:attr:`SitingInputs.swap_weight`).  Existing charging stations are not swap stations,
so the model starts from none.  A site costs the class's station, bays, packs and pack
chargers; with ``sizing``, each new station's packs, chargers and bays are sized for its
peak hour (:func:`sim.siting.swap_sizing.size_swap_station`) and cost what they are.

``service: both``: first ``swap_k`` swap stations as above; then the strategy's model
places charging sites for all demand on the other candidates, ``k - swap_k`` of them, or
with what the swap stations left of ``budget_cny``; with ``keep_existing`` the existing
charging sites stay (also when ``k == swap_k`` adds no charging site).  The plan holds
both, sorted by candidate; a swap station may share a candidate with an existing
charging site (a service area with chargers and a swap station).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from sim.config import Scenario, StrategyConfig, SwapClassConfig
from sim.errors import ConfigError
from sim.region.plan_file import PlanTable
from sim.siting.plan import (
    Plan,
    SitingInputs,
    SwapRow,
    _Equipment,
    _fixed_sites,
    _solve,
    _Solved,
    _solver_params,
    _where,
    make_plan,
    strategy_model,
)

__all__ = ["service_plan", "swap_demand", "with_swap_sites"]


def swap_demand(inputs: SitingInputs, klass: SwapClassConfig, /) -> np.ndarray:
    """``(n_rows,)`` expected sessions per day that can swap at a station of ``klass``."""
    w = np.zeros_like(inputs.weight)
    for pack in klass.pack_types:
        if pack in inputs.swap_weight:
            w = w + inputs.swap_weight[pack]
    return w


def service_plan(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    index: int,
    plan_table: PlanTable | None = None,
) -> Plan:
    """The plan of a strategy with ``service: swap`` or ``service: both``.

    Raises
    ------
    ConfigError
        No demand can swap at the class's stations; ``swap_k`` above ``k``; a budget
        the swap stations already spend.
    """
    if strategy.service == "swap":
        return _swap_plan(strategy, inputs, scenario=scenario, index=index, plan_table=plan_table)
    where = _where(strategy, index)
    assert strategy.swap_k is not None  # the schema requires it with service: both
    swap_part = _swap_plan(
        strategy.model_copy(
            update={"service": "swap", "k": strategy.swap_k, "budget_cny": None, "swap_k": None}
        ),
        inputs,
        scenario=scenario,
        index=index,
        plan_table=None,
    )
    update: dict[str, object] = {"service": "charge", "swap_k": None}
    if strategy.k is not None:
        if strategy.swap_k > strategy.k:
            raise ConfigError(
                f"{where}.swap_k = {strategy.swap_k}: more swap stations than the k = "
                f"{strategy.k} new sites"
            )
        if strategy.k == strategy.swap_k:
            if not (strategy.keep_existing and inputs.existing.size):
                return swap_part
            # no new charging sites: the existing ones stay beside the swap stations
            update.update(model="existing", k=None, budget_cny=None, radius_min=None)
        else:
            update["k"] = strategy.k - strategy.swap_k
    if strategy.budget_cny is not None:
        left = strategy.budget_cny - swap_part.cost_cny
        if left <= 0:
            raise ConfigError(
                f"{where}.budget_cny = {strategy.budget_cny:,.0f}: the {strategy.swap_k} swap "
                f"station(s) cost {swap_part.cost_cny:,.0f} CNY and leave nothing for chargers"
            )
        update["budget_cny"] = left
    cost = inputs.cost_min.copy()
    cost[:, swap_part.candidate] = np.inf  # a site is a swap station or a charging site
    charge_part = make_plan(
        strategy.model_copy(update=update),
        replace(inputs, cost_min=cost),
        scenario=scenario,
        index=index,
        plan_table=plan_table,
    )
    return _merge(swap_part, charge_part, name=strategy.name)


def _swap_class(strategy: StrategyConfig, scenario: Scenario, /) -> tuple[str, SwapClassConfig]:
    name = strategy.swap_class or scenario.chargers.swap_class_name
    assert name is not None  # the schema requires swap classes with service: swap/both
    return name, scenario.chargers.swap_classes[name]


def _recharge_min(klass: SwapClassConfig, /) -> float:
    """Minutes to recharge a returned pack at a typical 20% to ``full_soc`` on one
    charger (flat power: the planning estimate)."""
    return klass.pack_kwh * max(klass.full_soc - 0.2, 0.05) / klass.charger_kw * 60.0


def _swaps_per_day(klass: SwapClassConfig, /) -> float:
    """Swaps a day a station of ``klass`` can serve, for capacitated models: the lesser
    of its bays' and its pack chargers' throughput, busy PORT_DAY_UTILISATION of the day."""
    from sim.siting.plan import PORT_DAY_UTILISATION

    bays = klass.bays * 1440.0 / max(klass.swap_min, 1e-3)
    packs = klass.pack_chargers * 1440.0 / _recharge_min(klass)
    return PORT_DAY_UTILISATION * min(bays, packs)


def _swap_plan(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    index: int,
    plan_table: PlanTable | None,
) -> Plan:
    """Swap stations only, placed for the demand that can swap at them."""
    where = _where(strategy, index)
    name, klass = _swap_class(strategy, scenario)
    weight = swap_demand(inputs, klass)
    if not (weight > 0).any():
        raise ConfigError(
            f"{where}.service: no demand can swap at a {name!r} station (pack types "
            f"{list(klass.pack_types)}); give a vehicle class a swap_pack it serves and a "
            "fleet or share that uses it"
        )
    swap_inputs = replace(
        inputs,
        weight=weight,
        existing=np.empty(0, np.int64),
        existing_ports=np.zeros_like(inputs.existing_ports),
    )
    equipment = _Equipment(
        klass=name, ports=0, site_cost_cny=klass.cost_cny, capacity_per_day=_swaps_per_day(klass)
    )
    if strategy.budget_cny is not None and strategy.budget_cny < klass.cost_cny:
        raise ConfigError(
            f"{where}.budget_cny = {strategy.budget_cny:,.0f}: no swap station fits it; one "
            f"{name!r} station costs {klass.cost_cny:,.0f} CNY"
        )
    spec = strategy_model(strategy, index=index)
    swap_strategy = strategy.model_copy(update={"keep_existing": False})
    fixed = _fixed_sites(
        swap_strategy, swap_inputs, scenario=scenario, plan_table=plan_table, where=where
    )
    params = _solver_params(
        swap_strategy, spec, scenario=scenario, fixed=fixed, n_existing=0, where=where
    )
    solved = _solve(
        swap_strategy,
        swap_inputs,
        spec=spec,
        scenario=scenario,
        index=index,
        params=params,
        equipment=equipment,
    )
    return _equip_swap(strategy, swap_inputs, solved.chosen, solved, name=name, klass=klass,
                       scenario=scenario)  # fmt: skip


def _equip_swap(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    chosen: np.ndarray,
    solved: _Solved,
    /,
    *,
    name: str,
    klass: SwapClassConfig,
    scenario: Scenario,
) -> Plan:
    """The swap stations of the chosen sites, as the class builds them or sized."""
    n = chosen.shape[0]
    bays = np.full(n, klass.bays, np.int64)
    packs = np.full(n, klass.packs, np.int64)
    chargers = np.full(n, klass.pack_chargers, np.int64)
    if strategy.sizing is not None and n:
        bays, packs, chargers = _size(strategy, inputs, chosen, klass=klass, scenario=scenario)
    cost = sum(
        klass.equipment_cost_cny(bays=int(b), packs=int(p), pack_chargers=int(c))
        for b, p, c in zip(bays, packs, chargers, strict=True)
    )
    return Plan(
        strategy=strategy.name,
        model=strategy.model_name,
        candidate=chosen,
        ports=np.zeros(n, np.int64),
        power_kw=np.full(n, klass.charger_kw),
        dc=np.ones(n, dtype=bool),
        charger_class=(name,) * n,
        existing=np.zeros(n, dtype=bool),
        cost_cny=float(cost),
        objective=solved.objective,
        optimal=solved.optimal,
        gap=solved.gap,
        solve_time_s=solved.time_s,
        kind=("swap",) * n,
        bays=bays,
        packs=packs,
        pack_chargers=chargers,
    )


def _size(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    chosen: np.ndarray,
    /,
    *,
    klass: SwapClassConfig,
    scenario: Scenario,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bays, packs and chargers of each station for its peak hour (the swap demand goes
    to its nearest station; the peak hour carries the largest share of the weekday)."""
    from sim.siting.swap_sizing import size_swap_station

    sz = strategy.sizing
    assert sz is not None
    t = inputs.cost_min[:, chosen]
    reach = np.isfinite(t).any(axis=1)
    nearest = np.argmin(np.where(np.isfinite(t), t, np.inf), axis=1)
    per_day = np.bincount(nearest[reach], weights=inputs.weight[reach], minlength=chosen.size)
    prof = np.asarray(scenario.demand.residential.hourly_weekday, float)
    lam = per_day * float(prof.max() / prof.sum())
    recharge_min = _recharge_min(klass)
    out = [
        size_swap_station(
            float(rate),
            swap_min=klass.swap_min,
            recharge_min=recharge_min,
            target=(sz.target_wait_min, sz.max_prob),
            unit_cost_cny=(klass.bay_cost_cny, klass.pack_cost_cny, klass.pack_charger_cost_cny),
            limits=(max(klass.bays, 4), max(klass.packs, 60), max(klass.pack_chargers, 60)),
            swap_cv=klass.swap_cv if klass.swap_distribution == "lognormal" else 1.0,
        )
        for rate in lam.tolist()
    ]
    return (
        np.array([s.bays for s in out], np.int64),
        np.array([s.packs for s in out], np.int64),
        np.array([s.chargers for s in out], np.int64),
    )


def _merge(a: Plan, b: Plan, /, *, name: str) -> Plan:
    """One plan of the sites of ``a`` and ``b`` (disjoint), sorted by candidate."""
    cand = np.concatenate([a.candidate, b.candidate])
    order = np.argsort(cand, kind="stable")

    def cat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.concatenate([x, y])[order]

    kinds = a.kind + b.kind
    classes = a.charger_class + b.charger_class
    return Plan(
        strategy=name,
        model=b.model,
        candidate=cand[order],
        ports=cat(a.ports, b.ports),
        power_kw=cat(a.power_kw, b.power_kw),
        dc=cat(a.dc, b.dc),
        charger_class=tuple(classes[i] for i in order.tolist()),
        existing=cat(a.existing, b.existing),
        cost_cny=a.cost_cny + b.cost_cny,
        objective=a.objective + b.objective,
        optimal=a.optimal and b.optimal,
        gap=max(a.gap, b.gap),
        solve_time_s=a.solve_time_s + b.solve_time_s,
        kind=tuple(kinds[i] for i in order.tolist()),
        bays=cat(a.bays, b.bays),
        packs=cat(a.packs, b.packs),
        pack_chargers=cat(a.pack_chargers, b.pack_chargers),
    )


def with_swap_sites(
    plan: Plan,
    swap: Mapping[int, SwapRow | str],
    /,
    *,
    scenario: Scenario,
    replaced_cost: _Equipment,
) -> Plan:
    """A fixed plan whose sites ``swap`` (candidate -> swap class, ``""``: the default,
    or a plan file's :class:`~sim.siting.plan.SwapRow`) are swap stations: the class's
    (or the file's) bays, packs and chargers, no ports, and their cost instead of the
    new charging site's (``replaced_cost``) that :func:`make_plan` counted."""
    kind = list(plan.kind)
    klass = list(plan.charger_class)
    ports, power = plan.ports.copy(), plan.power_kw.copy()
    bays, packs, chargers = plan.bays.copy(), plan.packs.copy(), plan.pack_chargers.copy()
    cost = plan.cost_cny
    default = scenario.chargers.swap_class_name
    for pos, c in enumerate(plan.candidate.tolist()):
        if c not in swap:
            continue
        given = swap[c]
        row = SwapRow(given, 0, 0, 0) if isinstance(given, str) else given
        name = row.klass or default
        assert name is not None  # the plan file check requires swap classes
        k = scenario.chargers.swap_classes[name]
        kind[pos], klass[pos] = "swap", name
        ports[pos], power[pos] = 0, k.charger_kw
        bays[pos] = row.bays or k.bays
        packs[pos] = row.packs or k.packs
        chargers[pos] = row.pack_chargers or k.pack_chargers
        equipment = k.equipment_cost_cny(
            bays=int(bays[pos]), packs=int(packs[pos]), pack_chargers=int(chargers[pos])
        )
        cost += equipment - replaced_cost.site_cost_cny
    return replace(
        plan,
        kind=tuple(kind),
        charger_class=tuple(klass),
        ports=ports,
        power_kw=power,
        bays=bays,
        packs=packs,
        pack_chargers=chargers,
        cost_cny=cost,
    )
