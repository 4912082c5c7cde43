"""From a scenario's strategy to a plan: which sites, how many ports, what power.

The scenario's siting problem (demand nodes x candidate sites, travel time in minutes,
expected sessions per day as weights, money per site) is handed to the solver layer
(:func:`sim.siting.solve`); its answer becomes a :class:`Plan` with ports and power per
site from the strategy and the charger classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import Scenario, StrategyConfig
from sim.errors import ConfigError, DataError, SolverError
from sim.region.plan_file import PlanTable, check_charger_classes
from sim.rng import stream
from sim.siting.frlm import FlowProblem, solve_frlm
from sim.siting.problem import SitingProblem
from sim.siting.registry import solve

__all__ = ["Plan", "make_plan"]


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

    def __len__(self) -> int:
        return int(self.candidate.shape[0])


#: Models that place stations on through-traffic routes (need ``flows``).
FLOW_MODELS = frozenset({"frlm", "frlm-greedy"})


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


#: Share of the day a port can be kept busy when capacity is planned (queues grow
#: quickly above it).
PORT_DAY_UTILISATION = 0.6


def _service_hours(scenario: Scenario, port_kw: float, session_kwh: float) -> float:
    """Mean port occupation of a session (h) on a port of ``port_kw``, over the fleet."""
    fleet = scenario.vehicles.fleet
    shares = np.array([c.share for c in fleet])
    veh_kw = np.array([c.max_dc_kw for c in fleet])
    mean_kw = float((shares * np.minimum(veh_kw, port_kw)).sum() / shares.sum())
    return session_kwh / mean_kw


def _size_ports(
    strategy: StrategyConfig,
    scenario: Scenario,
    cost_min: np.ndarray,
    weight: np.ndarray,
    chosen: np.ndarray,
    is_existing: np.ndarray,
    port_kw: float,
    *,
    where: str,
    session_kwh: float,
) -> np.ndarray:
    """Ports of the new sites from the queue-aware sizing (peak-hour Erlang C)."""
    from sim.siting.sizing import size_ports

    sz = strategy.sizing
    assert sz is not None
    new = chosen[~is_existing]
    if sz.port_budget < new.size:
        raise ConfigError(
            f"{where}.sizing.port_budget = {sz.port_budget}: at least one port per new site "
            f"is needed ({new.size} sites)"
        )
    # Demand goes to its nearest chosen site; the peak hour carries the largest share of
    # the day in the weekday profile.
    t = cost_min[:, chosen]
    reach = np.isfinite(t).any(axis=1)
    nearest = np.argmin(np.where(np.isfinite(t), t, np.inf), axis=1)
    per_day = np.bincount(nearest[reach], weights=weight[reach], minlength=chosen.size)
    prof = np.asarray(scenario.demand.residential.hourly_weekday, float)
    peak_share = float(prof.max() / prof.sum())
    lam = per_day[~is_existing] * peak_share
    service_h = _service_hours(scenario, port_kw, session_kwh)
    return size_ports(
        lam,
        service_h,
        port_budget=sz.port_budget,
        target_wait_min=sz.target_wait_min,
        max_prob=sz.max_prob,
        service_cv=sz.service_cv,
    )


def _site_cost(scenario: Scenario, strategy: StrategyConfig) -> tuple[float, str, int]:
    ch = scenario.chargers
    klass = strategy.charger_class or ch.default_class
    ports = strategy.ports or ch.ports_per_site
    return ch.site_cost_cny + ports * ch.classes[klass].cost_per_port_cny, klass, ports


#: Solver parameters a strategy sets with its own keys, not with ``options``.
_OWN_KEYS = {
    "p": "k",
    "budget": "budget_cny",
    "radius": "radius_min",
    "sites": "sites or plan_file",
    "keep_existing": "keep_existing",
}


def _add_options(
    params: dict[str, object], strategy: StrategyConfig, *, where: str, model: str
) -> None:
    """Merge ``strategy.options`` into the solver parameters, refusing clashes."""
    for key, value in strategy.options.items():
        if key in _OWN_KEYS:
            raise ConfigError(f"{where}.options.{key}: set it with the strategy's {_OWN_KEYS[key]}")
        if model in FLOW_MODELS:
            if key != "time_limit":
                raise ConfigError(
                    f"{where}.options.{key}: model {model!r} takes only time_limit (s)"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{where}.options.time_limit = {value!r}: expected seconds > 0")
        params[key] = value


def make_plan(
    strategy: StrategyConfig,
    /,
    *,
    scenario: Scenario,
    cost_min: np.ndarray,
    weight: np.ndarray,
    existing: np.ndarray,
    existing_ports: np.ndarray,
    site_ids: list[str],
    index: int,
    flows: FlowProblem | None = None,
    session_kwh: float = 28.0,
    plan_table: PlanTable | None = None,
) -> Plan:
    """Solve one strategy's siting problem and equip the chosen sites.

    Parameters
    ----------
    strategy
        The strategy's config.
    scenario
        The scenario (charger classes, radius, seed).
    cost_min
        ``(n_demand, n_candidates)`` travel time (min), ``inf`` beyond the access limit.
    weight
        ``(n_demand,)`` expected public sessions per day.
    existing
        Indices of candidates that are existing charging stations.
    existing_ports
        ``(n_candidates,)`` ports of existing stations (0 elsewhere).
    site_ids
        Candidate ids, for plans given by id and error messages.
    index
        Position of the strategy in ``strategies`` (error messages, RNG stream).
    flows
        Through-traffic routes over the candidates, for the flow-refuelling models
        (``frlm``, ``frlm-greedy``).
    session_kwh
        Mean energy per session (kWh), for the queue-aware port sizing.
    plan_table
        The strategy's plan file (``strategy.plan_file``), its ids already matched to
        ``site_ids`` by :func:`sim.region.plan_file.add_plan_sites`; its ``ports`` and
        ``charger_class`` override the strategy's where given.

    Raises
    ------
    ConfigError
        The strategy's parameters do not fit its model or the region.
    DataError
        The plan file names a charger class the scenario does not define, or gives
        ports together with the strategy's sizing.
    """
    where = f"strategies.{index} ({strategy.name!r})"
    per_site, klass, ports = _site_cost(scenario, strategy)
    n_cand = cost_min.shape[1]
    is_existing = np.zeros(n_cand, dtype=bool)
    is_existing[existing] = True
    params: dict[str, object] = {}
    model = strategy.model_name
    if strategy.k is not None:
        # k counts new sites; the solvers' p counts every open site
        params["p"] = strategy.k + (existing.size if strategy.keep_existing else 0)
    if strategy.budget_cny is not None:
        params["budget"] = strategy.budget_cny
    if model in {"mclp", "mclp-greedy", "coverage-greedy", "lscp", "capacitated-coverage"}:
        params["radius"] = strategy.radius_min or scenario.simulation.radius_min
    if strategy.keep_existing:
        params["keep_existing"] = True
    # a fixed plan: ids from the YAML, or from the plan file (matched by add_plan_sites)
    given = strategy.sites if plan_table is None else list(plan_table.site_id)
    fixed_rows: list[int] = []
    if given is not None:
        lookup = {s: i for i, s in enumerate(site_ids)}
        unknown = [s for s in given if s not in lookup]
        if unknown:
            raise ConfigError(f"{where}.sites: unknown candidate site ids {unknown[:5]}")
        fixed_rows = [lookup[s] for s in given]
        params["sites"] = fixed_rows
    file_ports: dict[int, int] = {}
    file_class: dict[int, str] = {}
    if plan_table is not None:
        check_charger_classes(plan_table, scenario.chargers.classes)
        for c, klass_k, ports_k in zip(
            fixed_rows, plan_table.charger_class, plan_table.ports, strict=True
        ):
            if klass_k:
                file_class[c] = klass_k
            if ports_k > 0:
                file_ports[c] = int(ports_k)
        if strategy.sizing is not None and file_ports:
            raise DataError(
                f"{plan_table.source}: gives ports, and {where}.sizing would size them; "
                "remove one of the two"
            )
    if model in {"random"}:
        params.setdefault("p", 1)
    _add_options(params, strategy, where=where, model=model)
    if n_cand == 0:
        chosen = np.empty(0, dtype=np.int64)
        objective, optimal, gap, t = float("nan"), True, 0.0, 0.0
    elif model in FLOW_MODELS:
        if flows is None:
            raise ConfigError(
                f"{where}: model {model!r} places stations on through-traffic routes; "
                "enable demand.highway"
            )
        if strategy.k is None:
            raise ConfigError(f"{where}.k: model {model!r} needs k (stations to add)")
        r = solve_frlm(
            flows,
            p=min(strategy.k, n_cand),
            range_km=strategy.range_km or default_range_km(scenario),
            method="greedy" if model == "frlm-greedy" else "exact",
            time_limit_s=float(strategy.options.get("time_limit", 60.0)),
        )
        chosen = np.asarray(r.sites, dtype=np.int64)
        objective, optimal, gap, t = r.covered_flow, r.optimal, r.gap, r.time_s
    else:
        cost = np.where(np.isfinite(cost_min), cost_min, np.inf)
        port_kw = scenario.chargers.classes[klass].power_kw
        per_port_day = PORT_DAY_UTILISATION * 24.0 / _service_hours(scenario, port_kw, session_kwh)
        problem = SitingProblem(
            cost=cost,
            weight=weight,
            site_cost=np.where(is_existing, 0.0, per_site),
            # sessions per day a site can serve: its ports, busy PORT_DAY_UTILISATION of
            # the day (for capacitated-coverage; the other models ignore it)
            capacity=np.where(is_existing, existing_ports, ports) * per_port_day,
            existing=existing if existing.size else None,
        )
        rng = stream(scenario.seed, "siting", index)
        try:
            result = solve(problem, model, rng=rng, **params)
        except SolverError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        chosen = np.asarray(result.sites, dtype=np.int64)
        objective, optimal, gap, t = (
            float(result.objective),
            bool(result.optimal),
            float(result.gap),
            float(result.time_s),
        )
    if strategy.keep_existing and existing.size:
        chosen = np.union1d(chosen, existing)
    chosen = np.sort(chosen)
    ex = is_existing[chosen]
    ch = scenario.chargers
    klass_of = [
        file_class.get(int(c), ch.default_class if e else klass)
        for c, e in zip(chosen, ex, strict=True)
    ]
    new_ports = np.full(chosen.shape[0], ports, dtype=np.int64)
    if strategy.sizing is not None and (~ex).any():
        new_ports[~ex] = _size_ports(
            strategy, scenario, cost_min, weight, chosen, ex, ch.classes[klass].power_kw,
            where=where, session_kwh=session_kwh,
        )  # fmt: skip
    site_ports = np.where(ex, existing_ports[chosen], new_ports).astype(np.int64)
    for pos, c in enumerate(chosen.tolist()):
        site_ports[pos] = file_ports.get(c, site_ports[pos])
    # new sites pay the site cost and their ports; existing stations pay the ports they gain
    per_port = np.array([ch.classes[k].cost_per_port_cny for k in klass_of], dtype=float)
    added_ports = np.where(ex, np.maximum(site_ports - existing_ports[chosen], 0), site_ports)
    plan_cost = float(ch.site_cost_cny * (~ex).sum() + (added_ports * per_port).sum())
    return Plan(
        strategy=strategy.name,
        model=model,
        candidate=chosen,
        ports=site_ports,
        power_kw=np.array([ch.classes[k].power_kw for k in klass_of], dtype=float),
        dc=np.array([ch.classes[k].current == "dc" for k in klass_of], dtype=bool),
        charger_class=tuple(klass_of),
        existing=ex,
        cost_cny=plan_cost,
        objective=objective,
        optimal=optimal,
        gap=gap,
        solve_time_s=t,
    )
