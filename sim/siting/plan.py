"""From a scenario's strategy to a plan: which sites, how many ports, what power.

:func:`make_plan` reads the strategy's model entry in the registry
(:func:`sim.siting.registry.model_spec`) to know what the model needs (a count, a budget,
a radius, a range, flows, capacities, a fixed site list), builds the siting problem from
the prepared :class:`SitingInputs` (demand rows x candidate sites, travel time in
minutes, expected sessions per day as weights, money per site), solves it through
:func:`sim.siting.solve` and equips the chosen sites: ports (fixed, from a plan file or
sized for the peak hour), charger classes and cost.  No model is named here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sim.config import Scenario, StrategyConfig
from sim.errors import ConfigError, DataError, SolverError, SolverFailure
from sim.region.plan_file import PlanTable, check_charger_classes
from sim.rng import stream
from sim.siting.frlm import FlowProblem
from sim.siting.problem import SitingProblem
from sim.siting.registry import ModelSpec, model_spec, solve

__all__ = ["Plan", "SitingInputs", "default_range_km", "make_plan", "strategy_model"]


@dataclass(frozen=True, eq=False)
class SitingInputs:
    """The prepared inputs every strategy's plan is made from (one scenario).

    Built in one place, :func:`sim.study.plans.plan_of`.

    Attributes
    ----------
    cost_min
        ``(n_rows, n_candidates)`` travel time (min) from each demand row (residential
        node, then through-traffic origin-destination pair) to each candidate; ``inf``
        beyond the access limit.
    weight
        ``(n_rows,)`` expected public sessions per day.
    existing
        int64 indices of candidates that are existing charging stations.
    existing_ports
        ``(n_candidates,)`` int64 ports of existing stations (0 elsewhere).
    site_ids
        Candidate ids, for plans given by id and error messages.
    session_kwh
        Mean energy per session (kWh), for capacities and the queue-aware port sizing.
    flows
        Through-traffic routes over the candidates, for the models whose entry needs
        flows; ``None`` without highway demand.
    swap_weight
        By pack type, ``(n_rows,)`` expected sessions per day of vehicles that can swap
        that pack (a part of :attr:`weight`); empty when no vehicle can swap.
    """

    cost_min: np.ndarray
    weight: np.ndarray
    existing: np.ndarray
    existing_ports: np.ndarray
    site_ids: tuple[str, ...]
    session_kwh: float = 28.0
    flows: FlowProblem | None = None
    swap_weight: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns of :attr:`cost_min`)."""
        return int(self.cost_min.shape[1])

    def is_existing(self) -> np.ndarray:
        """``(n_candidates,)`` bool: the candidate is an existing station."""
        mask = np.zeros(self.n_candidates, dtype=bool)
        mask[self.existing] = True
        return mask


@dataclass(frozen=True)
class Plan:
    """A siting plan of one strategy.

    Attributes
    ----------
    strategy, model
        The strategy's label and the siting model that produced it.
    candidate
        int64 indices into the region's candidates, sorted.
    ports
        int64 ports per site.
    power_kw
        float64 rated power per port (kW).
    dc
        bool per site, DC ports.
    charger_class
        Charger class name per site.
    existing
        bool per site: an existing station (not built by the plan).
    cost_cny
        Money spent on new sites and ports (CNY).
    objective, optimal, gap, solve_time_s
        What the solver reported.
    kind
        ``"charge"`` (charging ports), ``"swap"`` (a battery-swap station of the class
        ``charger_class`` names) or ``"mobile"`` (a mobile charging unit sent to the
        candidate on its days; its connectors are its ``ports``) per site.
    bays, packs, pack_chargers
        int64 swap bays, packs and pack chargers per site (0 at charging sites; a swap
        station's ``ports`` are 0).
    """

    strategy: str
    model: str
    candidate: np.ndarray
    ports: np.ndarray
    power_kw: np.ndarray
    dc: np.ndarray
    charger_class: tuple[str, ...]
    existing: np.ndarray
    cost_cny: float
    objective: float
    optimal: bool
    gap: float
    solve_time_s: float
    kind: tuple[str, ...]
    bays: np.ndarray
    packs: np.ndarray
    pack_chargers: np.ndarray

    def __len__(self) -> int:
        return int(self.candidate.shape[0])

    @property
    def swap(self) -> np.ndarray:
        """bool per site: a battery-swap station."""
        return np.array([k == "swap" for k in self.kind], dtype=bool)

    @property
    def mobile(self) -> np.ndarray:
        """bool per site: a mobile charging unit."""
        return np.array([k == "mobile" for k in self.kind], dtype=bool)


def default_range_km(scenario: Scenario, /) -> float:
    """Highway range of the fleet's mean vehicle between the charging target and the
    reserve (km): what the flow-refuelling models use unless ``range_km`` is given."""
    from sim.demand.highway import HIGHWAY_CONSUMPTION_FACTOR

    hw = scenario.demand.highway
    fleet = scenario.vehicles.fleet
    w = np.array([c.share for c in fleet], dtype=float)
    km = np.array(
        [
            c.battery_kwh
            * (hw.target_soc - hw.reserve_soc)
            / (c.consumption_kwh_per_km * HIGHWAY_CONSUMPTION_FACTOR)
            for c in fleet
        ]
    )
    return float((w * km).sum() / w.sum())


def strategy_model(strategy: StrategyConfig, /, *, index: int) -> ModelSpec:
    """The registry entry of a strategy's model.

    Raises
    ------
    ConfigError
        Unknown model name: the message names the strategy, suggests the closest name and
        lists the available ones.
    """
    try:
        return model_spec(strategy.model_name)
    except SolverError as exc:
        raise ConfigError(f"{_where(strategy, index)}: {exc}") from None


def _where(strategy: StrategyConfig, index: int) -> str:
    return f"strategies.{index} ({strategy.name!r})"


#: Share of the day a port can be kept busy when capacity is planned (queues grow
#: quickly above it).
PORT_DAY_UTILISATION = 0.6


def _service_hours(scenario: Scenario, /, *, port_kw: float, session_kwh: float) -> float:
    """Mean port occupation of a session (h) on a port of ``port_kw``, over the fleet."""
    fleet = scenario.vehicles.fleet
    shares = np.array([c.share for c in fleet])
    veh_kw = np.array([c.max_dc_kw for c in fleet])
    mean_kw = float((shares * np.minimum(veh_kw, port_kw)).sum() / shares.sum())
    return session_kwh / mean_kw


@dataclass(frozen=True)
class _Equipment:
    """What a new site of the strategy gets: charger class, ports, money (CNY), and for
    a swap station the sessions a day it can serve (capacitated models)."""

    klass: str
    ports: int
    site_cost_cny: float
    capacity_per_day: float | None = None


def _equipment(scenario: Scenario, strategy: StrategyConfig, /) -> _Equipment:
    ch = scenario.chargers
    klass = strategy.charger_class or ch.default_class
    ports = strategy.ports or ch.ports_per_site
    cost = ch.site_cost_cny + ports * ch.classes[klass].cost_per_port_cny
    return _Equipment(klass=klass, ports=ports, site_cost_cny=cost)


class SwapRow(NamedTuple):
    """A plan file's swap station: its class (``""``: the default) and the bays, packs
    and pack chargers the file gives (0: the class's)."""

    klass: str
    bays: int
    packs: int
    pack_chargers: int


@dataclass(frozen=True)
class _FixedSites:
    """A plan given by site ids (YAML ``sites`` or a plan file).

    ``rows`` are candidate indices (``None``: the strategy gives no sites); ``ports`` and
    ``klass`` the plan file's per-site ports and charger classes, by candidate index;
    ``swap`` its swap stations: class (``""``: the default) and the bays, packs and
    pack chargers it gives (0: the class's).
    """

    rows: list[int] | None = None
    ports: dict[int, int] = field(default_factory=dict)
    klass: dict[int, str] = field(default_factory=dict)
    swap: dict[int, SwapRow] = field(default_factory=dict)


def _fixed_sites(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    plan_table: PlanTable | None,
    where: str,
) -> _FixedSites:
    """The sites of a fixed plan, and a plan file's ports and charger classes."""
    given = strategy.sites if plan_table is None else list(plan_table.site_id)
    if given is None:
        return _FixedSites()
    lookup = {s: i for i, s in enumerate(inputs.site_ids)}
    unknown = [s for s in given if s not in lookup]
    if unknown:
        raise ConfigError(f"{where}.sites: unknown candidate site ids {unknown[:5]}")
    rows = [lookup[s] for s in given]
    if plan_table is None:
        return _FixedSites(rows=rows)
    ch = scenario.chargers
    check_charger_classes(plan_table, ch.classes, swap_classes=ch.swap_classes)
    file_ports: dict[int, int] = {}
    file_class: dict[int, str] = {}
    file_swap: dict[int, SwapRow] = {}
    existing = inputs.is_existing()
    for k, (c, klass, ports, kind, at) in enumerate(zip(
        rows, plan_table.charger_class, plan_table.ports, plan_table.kind, plan_table.where,
        strict=True,
    )):  # fmt: skip
        if kind == "swap":
            if existing[c]:
                raise DataError(f"{at}: kind = swap at an existing charging station")
            file_swap[c] = SwapRow(
                klass,
                int(plan_table.bays[k]),
                int(plan_table.packs[k]),
                int(plan_table.pack_chargers[k]),
            )
            continue
        if klass:
            file_class[c] = klass
        if ports > 0:
            file_ports[c] = int(ports)
    if strategy.sizing is not None and file_ports:
        raise DataError(
            f"{plan_table.source}: gives ports, and {where}.sizing would size them; "
            "remove one of the two"
        )
    return _FixedSites(rows=rows, ports=file_ports, klass=file_class, swap=file_swap)


def _check_budget(strategy: StrategyConfig, equipment: _Equipment, /, *, where: str) -> None:
    """Refuse a budget that no new site fits (a plan that could only ever be empty)."""
    budget = strategy.budget_cny
    if budget is not None and budget < equipment.site_cost_cny:
        raise ConfigError(
            f"{where}.budget_cny = {budget:,.0f}: no site fits it; one new site with its "
            f"{equipment.ports} {equipment.klass} port(s) costs {equipment.site_cost_cny:,.0f} "
            "CNY (chargers.site_cost_cny + ports x cost_per_port_cny)"
        )


def _count_params(
    strategy: StrategyConfig, spec: ModelSpec, /, *, n_existing: int, where: str
) -> dict[str, object]:
    """``p`` and ``budget`` from the strategy's ``k`` and ``budget_cny``, as the entry
    reads them, with the entry's strategy defaults."""
    needs = spec.needs
    model = strategy.model_name
    params: dict[str, object] = {}
    if strategy.k is not None:
        if needs.count == "no":
            raise ConfigError(f"{where}.k: model {model!r} takes no number of sites")
        # k counts new sites; a model that keeps the existing sites counts every open one
        kept = n_existing if strategy.keep_existing and needs.keep_existing else 0
        params["p"] = strategy.k + kept
    if strategy.budget_cny is not None:
        if not needs.budget:
            raise ConfigError(f"{where}.budget_cny: model {model!r} takes no budget")
        params["budget"] = strategy.budget_cny
    for key, value in spec.defaults.items():
        params.setdefault(key, value)
    if needs.count == "required" and "p" not in params and "budget" not in params:
        if needs.budget:
            raise ConfigError(f"{where}: model {model!r} needs k (new sites) or budget_cny (CNY)")
        raise ConfigError(f"{where}.k: model {model!r} needs k (stations to add)")
    return params


#: Solver parameters a strategy sets with its own keys, not with ``options``.
_OWN_KEYS = {
    "p": "k",
    "budget": "budget_cny",
    "radius": "radius_min",
    "range_km": "range_km",
    "sites": "sites or plan_file",
    "keep_existing": "keep_existing",
}


def _options(strategy: StrategyConfig, spec: ModelSpec, /, *, where: str) -> dict[str, object]:
    """``strategy.options``, each key checked against the keys the entry accepts."""
    accepted = sorted(spec.options)
    for key in strategy.options:
        if key in _OWN_KEYS:
            raise ConfigError(f"{where}.options.{key}: set it with the strategy's {_OWN_KEYS[key]}")
        if key not in spec.options:
            hint = difflib.get_close_matches(key, accepted, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            takes = f"it takes {', '.join(accepted)}" if accepted else "it takes no options"
            raise ConfigError(
                f"{where}.options.{key}: unknown parameter {key!r}{suggestion} for model "
                f"{strategy.model_name!r}; {takes}"
            )
    return dict(strategy.options)


def _solver_params(
    strategy: StrategyConfig,
    spec: ModelSpec,
    /,
    *,
    scenario: Scenario,
    fixed: _FixedSites,
    n_existing: int,
    where: str,
) -> dict[str, object]:
    """The keyword parameters of the model's call, from the strategy and the entry."""
    needs = spec.needs
    params = _count_params(strategy, spec, n_existing=n_existing, where=where)
    if needs.radius:
        params["radius"] = strategy.radius_min or scenario.simulation.radius_min
    if needs.range_km:
        params["range_km"] = strategy.range_km or default_range_km(scenario)
    if strategy.keep_existing and needs.keep_existing:
        params["keep_existing"] = True
    if fixed.rows is not None:
        if not needs.sites:
            raise ConfigError(
                f"{where}.sites: model {strategy.model_name!r} takes no list of sites "
                "(model 'fixed' does)"
            )
        params["sites"] = fixed.rows
    params.update(_options(strategy, spec, where=where))
    return params


def _problem(
    spec: ModelSpec, inputs: SitingInputs, /, *, scenario: Scenario, equipment: _Equipment
) -> SitingProblem:
    """The siting problem, with capacities and flows only where the entry reads them."""
    is_existing = inputs.is_existing()
    capacity = None
    if spec.needs.capacity and equipment.capacity_per_day is not None:
        capacity = np.full(inputs.n_candidates, equipment.capacity_per_day)
    elif spec.needs.capacity:
        port_kw = scenario.chargers.classes[equipment.klass].power_kw
        service_h = _service_hours(scenario, port_kw=port_kw, session_kwh=inputs.session_kwh)
        # sessions per day a site can serve: its ports, busy PORT_DAY_UTILISATION of the day
        per_port_day = PORT_DAY_UTILISATION * 24.0 / service_h
        capacity = np.where(is_existing, inputs.existing_ports, equipment.ports) * per_port_day
    return SitingProblem(
        cost=np.where(np.isfinite(inputs.cost_min), inputs.cost_min, np.inf),
        weight=inputs.weight,
        site_cost=np.where(is_existing, 0.0, equipment.site_cost_cny),
        capacity=capacity,
        existing=inputs.existing if inputs.existing.size else None,
        flows=inputs.flows if spec.needs.flows else None,
    )


@dataclass(frozen=True)
class _Solved:
    """The chosen candidates (sorted int64) and what the solver reported."""

    chosen: np.ndarray
    objective: float
    optimal: bool
    gap: float
    time_s: float


def _solve(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    spec: ModelSpec,
    scenario: Scenario,
    index: int,
    params: dict[str, object],
    equipment: _Equipment,
) -> _Solved:
    """Solve the strategy's problem; the kept existing sites are added to the choice."""
    where = _where(strategy, index)
    model = strategy.model_name
    if inputs.n_candidates == 0:
        return _Solved(np.empty(0, dtype=np.int64), float("nan"), True, 0.0, 0.0)
    if spec.needs.flows and inputs.flows is None:
        raise ConfigError(
            f"{where}: model {model!r} places stations on through-traffic routes; enable "
            "demand.highway (with routes that pass at least two candidate sites)"
        )
    problem = _problem(spec, inputs, scenario=scenario, equipment=equipment)
    rng = stream(scenario.seed, "siting", index)
    try:
        result = solve(problem, model, rng=rng, **params)
    except SolverFailure as exc:  # not the input's fault: said as a failure, not exit 2
        raise SolverFailure(f"{where}: the solver failed: {exc}") from None
    except SolverError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    chosen = np.asarray(result.sites, dtype=np.int64)
    if strategy.keep_existing and inputs.existing.size:
        chosen = np.union1d(chosen, inputs.existing)
    return _Solved(
        chosen=np.sort(chosen),
        objective=float(result.objective),
        optimal=bool(result.optimal),
        gap=float(result.gap),
        time_s=float(result.time_s),
    )


def _size_ports(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    chosen: np.ndarray,
    is_existing: np.ndarray,
    port_kw: float,
    where: str,
) -> np.ndarray:
    """Ports of the new sites from the queue-aware sizing (peak-hour Erlang C)."""
    from sim.siting.sizing import size_ports

    sz = strategy.sizing
    assert sz is not None and sz.port_budget is not None  # the schema requires it here
    new = chosen[~is_existing]
    if sz.port_budget < new.size:
        raise ConfigError(
            f"{where}.sizing.port_budget = {sz.port_budget}: at least one port per new site "
            f"is needed ({new.size} sites)"
        )
    # Demand goes to its nearest chosen site; the peak hour carries the largest share of
    # the day in the weekday profile.
    t = inputs.cost_min[:, chosen]
    reach = np.isfinite(t).any(axis=1)
    nearest = np.argmin(np.where(np.isfinite(t), t, np.inf), axis=1)
    per_day = np.bincount(nearest[reach], weights=inputs.weight[reach], minlength=chosen.size)
    prof = np.asarray(scenario.demand.residential.hourly_weekday, float)
    peak_share = float(prof.max() / prof.sum())
    lam = per_day[~is_existing] * peak_share
    service_h = _service_hours(scenario, port_kw=port_kw, session_kwh=inputs.session_kwh)
    return size_ports(
        lam,
        service_h,
        port_budget=sz.port_budget,
        target_wait_min=sz.target_wait_min,
        max_prob=sz.max_prob,
        service_cv=sz.service_cv,
    )


def _site_ports(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    chosen: np.ndarray,
    equipment: _Equipment,
    fixed: _FixedSites,
    where: str,
) -> np.ndarray:
    """Ports per chosen site: existing stations keep theirs, new sites get the
    strategy's (or the sized) ports, a plan file's ports override both."""
    ex = inputs.is_existing()[chosen]
    new_ports = np.full(chosen.shape[0], equipment.ports, dtype=np.int64)
    if strategy.sizing is not None and (~ex).any():
        new_ports[~ex] = _size_ports(
            strategy,
            inputs,
            scenario=scenario,
            chosen=chosen,
            is_existing=ex,
            port_kw=scenario.chargers.classes[equipment.klass].power_kw,
            where=where,
        )
    site_ports = np.where(ex, inputs.existing_ports[chosen], new_ports).astype(np.int64)
    for pos, c in enumerate(chosen.tolist()):
        site_ports[pos] = fixed.ports.get(c, site_ports[pos])
    return site_ports


def _equip(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    solved: _Solved,
    /,
    *,
    scenario: Scenario,
    equipment: _Equipment,
    fixed: _FixedSites,
    where: str,
) -> Plan:
    """The plan of the chosen sites: ports, charger classes, power and cost."""
    chosen = solved.chosen
    ex = inputs.is_existing()[chosen]
    ch = scenario.chargers
    klass_of = [
        fixed.klass.get(int(c), ch.default_class if e else equipment.klass)
        for c, e in zip(chosen, ex, strict=True)
    ]
    site_ports = _site_ports(
        strategy,
        inputs,
        scenario=scenario,
        chosen=chosen,
        equipment=equipment,
        fixed=fixed,
        where=where,
    )
    # new sites pay the site cost and their ports; existing stations pay the ports they gain
    per_port = np.array([ch.classes[k].cost_per_port_cny for k in klass_of], dtype=float)
    gained = np.maximum(site_ports - inputs.existing_ports[chosen], 0)
    added_ports = np.where(ex, gained, site_ports)
    return Plan(
        strategy=strategy.name,
        model=strategy.model_name,
        candidate=chosen,
        ports=site_ports,
        power_kw=np.array([ch.classes[k].power_kw for k in klass_of], dtype=float),
        dc=np.array([ch.classes[k].current == "dc" for k in klass_of], dtype=bool),
        charger_class=tuple(klass_of),
        existing=ex,
        cost_cny=float(ch.site_cost_cny * (~ex).sum() + (added_ports * per_port).sum()),
        objective=solved.objective,
        optimal=solved.optimal,
        gap=solved.gap,
        solve_time_s=solved.time_s,
        kind=("charge",) * chosen.shape[0],
        bays=np.zeros(chosen.shape[0], np.int64),
        packs=np.zeros(chosen.shape[0], np.int64),
        pack_chargers=np.zeros(chosen.shape[0], np.int64),
    )


def make_plan(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    index: int,
    plan_table: PlanTable | None = None,
) -> Plan:
    """Solve one strategy's siting problem and equip the chosen sites.

    What the model is given follows its registry entry
    (:class:`sim.siting.registry.Needs`): ``p`` from ``k`` (plus the kept existing sites
    when the model keeps them), ``budget`` from ``budget_cny``, ``radius`` from
    ``radius_min`` (default ``simulation.radius_min``), ``range_km`` (default
    :func:`default_range_km`), the through-traffic flows, site capacities (ports busy
    :data:`PORT_DAY_UTILISATION` of the day), a fixed site list, the entry's defaults and
    the strategy's ``options`` (only keys the entry accepts).

    Parameters
    ----------
    strategy
        The strategy's config.
    inputs
        The scenario's prepared arrays (:class:`SitingInputs`).
    scenario
        The scenario (charger classes, radius, fleet, seed).
    index
        Position of the strategy in ``strategies`` (error messages, RNG stream).
    plan_table
        The strategy's plan file (``strategy.plan_file``), its ids already matched to
        ``inputs.site_ids`` by :func:`sim.region.plan_file.add_plan_sites`; its ``ports``
        and ``charger_class`` override the strategy's where given.

    Returns
    -------
    Plan
        The equipped plan, sites sorted.

    Raises
    ------
    ConfigError
        Unknown model; a strategy key or option the model's entry does not take; a
        missing count; flows needed without highway demand; the solver refused the
        parameters.  The message names the strategy (``strategies.N ('name')``).
    DataError
        The plan file names a charger class the scenario does not define, or gives
        ports together with the strategy's sizing.
    """
    if strategy.service != "charge":
        from sim.siting.services import service_plan

        return service_plan(strategy, inputs, scenario=scenario, index=index, plan_table=plan_table)
    return _charge_plan(strategy, inputs, scenario=scenario, index=index, plan_table=plan_table)


def _charge_plan(
    strategy: StrategyConfig,
    inputs: SitingInputs,
    /,
    *,
    scenario: Scenario,
    index: int,
    plan_table: PlanTable | None,
) -> Plan:
    """:func:`make_plan` for charging sites (a plan file's swap rows made swap stations)."""
    where = _where(strategy, index)
    spec = strategy_model(strategy, index=index)
    equipment = _equipment(scenario, strategy)
    _check_budget(strategy, equipment, where=where)
    fixed = _fixed_sites(strategy, inputs, scenario=scenario, plan_table=plan_table, where=where)
    params = _solver_params(
        strategy,
        spec,
        scenario=scenario,
        fixed=fixed,
        n_existing=int(inputs.existing.size),
        where=where,
    )
    solved = _solve(
        strategy,
        inputs,
        spec=spec,
        scenario=scenario,
        index=index,
        params=params,
        equipment=equipment,
    )
    plan = _equip(
        strategy, inputs, solved, scenario=scenario, equipment=equipment, fixed=fixed, where=where
    )
    if fixed.swap:
        from sim.siting.services import with_swap_sites

        plan = with_swap_sites(plan, fixed.swap, scenario=scenario, replaced_cost=equipment)
    return plan
