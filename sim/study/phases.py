"""Phased plans: one scenario per phase, each strategy's sites growing phase by phase.

:func:`phase_scenarios` derives each phase's scenario from ``phases:`` (its EV shares,
fleet sizes and dotted-key changes; the region, candidates and strategies stay).
:func:`plan_phases` makes every strategy's plan of every phase: *myopic* strategies
solve their own model phase by phase with the sites (and ports) built earlier kept as
existing stations; *look-ahead* strategies (``p-median``, ``mclp``) solve one
multi-period model over all phases (:mod:`sim.siting.multiperiod`).  Every phase's plan
is then equipped as a fixed plan of its sites (:func:`unit_scenario`), so the simulation
of a phase is an ordinary scenario the one runner runs (:mod:`sim.study.runner`).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.config import Scenario, StrategyConfig, parse_config
from sim.config.overrides import apply_setting
from sim.errors import ConfigError, SolverError, UserInputError
from sim.siting.multiperiod import (
    PhaseLimits,
    multiperiod_mclp,
    multiperiod_pmedian,
    phase_covered,
    phase_pmedian_cost,
    unreached_cost_of,
)
from sim.siting.plan import Plan, strategy_model
from sim.study.plans import flow_problem, plan_of
from sim.study.prepare import Prepared, prepare
from sim.study.progress import Progress, no_progress

__all__ = [
    "LOOK_AHEAD_MODELS",
    "PhasePlans",
    "check_phases",
    "phase_scenarios",
    "plan_phases",
    "unit_scenario",
]

#: Models a look-ahead strategy may use (one multi-period MILP each).
LOOK_AHEAD_MODELS = ("p-median", "mclp")


@dataclass(frozen=True)
class PhasePlans:
    """One phase, planned.

    Attributes
    ----------
    index, year
        Position in ``phases`` and the phase's year.
    scenario
        The phase's scenario (its fleet; the strategies as given).
    prepared
        Its static inputs.
    plans
        Per strategy, every site open in this phase (built in it or before).
    built
        Per strategy, the year each plan site was built (0: an existing station).
    spent_cny
        Per strategy, the money of this phase's new sites and ports (CNY).
    access_cost
        Per strategy, the phase's demand-weighted access cost of its plan (sessions/day
        x min; :func:`sim.siting.multiperiod.phase_pmedian_cost`): the look-ahead
        p-median's objective term of this phase.
    model_objective
        Per strategy whose model has a multi-period form (:data:`LOOK_AHEAD_MODELS`),
        the phase's term of that model's objective for its plan: the access cost for
        p-median, the demand within the radius (sessions/day) for mclp; ``None`` for
        the other models.
    unit_scenario
        The scenario the units of this phase run (:func:`unit_scenario`).
    """

    index: int
    year: int
    scenario: Scenario
    prepared: Prepared
    plans: dict[str, Plan]
    built: dict[str, np.ndarray]
    spent_cny: dict[str, float]
    access_cost: dict[str, float]
    model_objective: dict[str, float | None]
    unit_scenario: Scenario


def check_phases(scenario: Scenario, /) -> None:
    """Refuse what phases do not support, naming the key.

    Raises
    ------
    ConfigError
        A strategy refined by simulation, sized by peak-hour queues, placing swap
        stations, with extra ports or mobile units; a look-ahead strategy whose model
        has no multi-period form or with options other than ``time_limit`` and
        ``mip_gap``.
    """
    for i, s in enumerate(scenario.strategies):
        where = f"strategies.{i} ({s.name!r})"
        # extra ports, mobile units and compound levers are added by make_plans, which
        # phases do not use
        measures = (
            "extra_ports",
            "mobile_units",
            "transformer_upgrades",
            "compound_chargers",
            "shared_private",
        )
        extra = [(k, getattr(s, k, None) is not None) for k in measures]
        for key, bad in (("refine", s.refine is not None), ("sizing", s.sizing is not None),
                         ("service", s.service != "charge"), *extra):  # fmt: skip
            if bad:
                raise ConfigError(f"{where}.{key}: not supported with phases (docs/phases.md)")
        if s.planning == "look-ahead" and s.model_name not in LOOK_AHEAD_MODELS:
            raise ConfigError(
                f"{where}.planning: look-ahead needs model {' or '.join(LOOK_AHEAD_MODELS)}, "
                f"not {s.model_name!r}"
            )
        unknown = sorted(set(s.options) - {"time_limit", "mip_gap"})
        if s.planning == "look-ahead" and unknown:
            raise ConfigError(
                f"{where}.options.{unknown[0]}: the look-ahead model takes time_limit and "
                "mip_gap only"
            )


def _phase_data(base: dict[str, Any], scenario: Scenario, t: int) -> dict[str, Any]:
    """The YAML mapping of phase ``t``."""
    assert scenario.phases is not None
    ph = scenario.phases[t]
    data = deepcopy(base)
    changes: dict[str, Any] = {}
    if ph.ev_share is not None:
        changes["demand.residential.ev_share"] = ph.ev_share
    if ph.highway_ev_share is not None:
        changes["demand.highway.ev_share"] = ph.highway_ev_share
    if ph.fleet_factor is not None:
        for k, f in enumerate(scenario.demand.fleets):
            if f.vehicles is not None:
                changes[f"demand.fleets.{k}.vehicles"] = round(f.vehicles * ph.fleet_factor)
            elif f.share_of_cars is not None:
                changes[f"demand.fleets.{k}.share_of_cars"] = min(
                    1.0, f.share_of_cars * ph.fleet_factor
                )
    changes.update(ph.set)
    for key, value in changes.items():
        try:
            data = apply_setting(data, key, value)
        except UserInputError as exc:
            raise ConfigError(f"phases.{t}.set.{key}: {exc}") from None
    return data


def phase_scenarios(scenario: Scenario, /) -> list[Scenario]:
    """Each phase's scenario (validated; without ``phases``).

    Raises
    ------
    ConfigError
        A phase's changes do not validate; the message names the phase and the key.
    """
    if scenario.phases is None:
        return [scenario]
    base = scenario.model_dump(mode="python")
    base.pop("phases", None)
    for strategy in base["strategies"]:
        strategy.pop("planning", None)  # a phase's scenario is a plain one
    out = []
    for t, ph in enumerate(scenario.phases):
        data = _phase_data(base, scenario, t)
        try:
            sc = parse_config(data, source=f"phases.{t} (year {ph.year})")
        except ConfigError as exc:
            raise ConfigError(str(exc)) from None
        out.append(sc.model_copy(update={"source_path": scenario.source_path}))
    return out


#: Strategy keys a fixed plan of a phase's sites drops (the sites are given).
_MODEL_KEYS: dict[str, Any] = {
    "model": "fixed",
    "k": None,
    "budget_cny": None,
    "keep_existing": False,
    "options": {},
    "radius_min": None,
    "range_km": None,
    "planning": None,
}


def _fixed(strategy: StrategyConfig, site_ids: list[str], /) -> StrategyConfig:
    """The strategy as a fixed plan of ``site_ids`` (its ports, class and rules kept)."""
    if strategy.model_name == "fixed":
        return strategy
    return strategy.model_copy(update={**_MODEL_KEYS, "sites": site_ids})


def unit_scenario(scenario: Scenario, prep: Prepared, plans: dict[str, Plan], /) -> Scenario:
    """Phase ``scenario`` with every strategy a fixed plan of its phase's sites.

    Its units are the phase's units: a worker that prepares it from its text (Dask),
    and the unit store, see exactly the plans the phase planned.
    """
    ids = _ids(prep)
    strategies = [_fixed(s, ids[plans[s.name].candidate].tolist()) for s in scenario.strategies]
    return scenario.model_copy(update={"strategies": strategies})


@dataclass(frozen=True)
class _Record:
    """What a solver reported for a plan (copied onto the equipped plan)."""

    model: str
    objective: float
    optimal: bool
    gap: float
    solve_time_s: float

    @classmethod
    def of(cls, plan: Plan, /) -> _Record:
        return cls(plan.model, plan.objective, plan.optimal, plan.gap, plan.solve_time_s)


@dataclass(frozen=True)
class _Count:
    """A strategy's count or budget in one phase."""

    k: int | None
    budget_cny: float | None


def _count(scenario: Scenario, t: int, strategy: StrategyConfig, /) -> _Count:
    assert scenario.phases is not None
    entry = scenario.phases[t].strategies.get(strategy.name)
    if entry is None:
        return _Count(strategy.k, strategy.budget_cny)
    return _Count(entry.k, entry.budget_cny)


def _ids(prep: Prepared, /) -> np.ndarray:
    return prep.region.candidates["site_id"].astype(str).to_numpy()


def _equipped(
    prep: Prepared, strategy: StrategyConfig, chosen: np.ndarray, /, *, index: int, record: _Record
) -> Plan:
    """The plan of sites ``chosen`` equipped as a fixed plan (as its units rebuild it),
    with the solver's ``record``."""
    ids = _ids(prep)[np.sort(chosen)].tolist()
    plan = plan_of(prep, _fixed(strategy, ids), index=index)
    return replace(
        plan,
        model=record.model,
        objective=record.objective,
        optimal=record.optimal,
        gap=record.gap,
        solve_time_s=record.solve_time_s,
    )


def _with_built(prep: Prepared, before: Plan | None, *, keep_real: bool) -> Prepared:
    """``prep`` with the sites of ``before`` (and their ports) as existing stations."""
    real = prep.existing if keep_real else np.empty(0, np.int64)
    if before is None or len(before) == 0:
        return replace(prep, existing=real)
    cands = prep.region.candidates.copy()
    ports = cands["existing_ports"].to_numpy(dtype=np.int64).copy()
    ports[before.candidate] = before.ports
    cands["existing_ports"] = ports
    existing = np.union1d(real, before.candidate).astype(np.int64)
    return replace(prep, region=replace(prep.region, candidates=cands), existing=existing)


def _myopic_step(
    prep: Prepared, strategy: StrategyConfig, count: _Count, before: Plan | None, /, *, index: int
) -> Plan:
    """One phase of a myopic strategy: its model adds sites given what exists."""
    spec = strategy_model(strategy, index=index)
    no_new = count.k == 0 or count.budget_cny == 0
    if strategy.model_name == "fixed":
        return plan_of(prep, strategy, index=index)
    if spec.needs.count == "no":
        solved = plan_of(prep, strategy, index=index)
    elif no_new and before is not None:
        return before
    else:
        solve_prep = _with_built(prep, before, keep_real=strategy.keep_existing)
        step = strategy.model_copy(
            update={"k": count.k, "budget_cny": count.budget_cny, "keep_existing": True}
        )
        flows = flow_problem(solve_prep) if spec.needs.flows else None
        solved = plan_of(solve_prep, step, index=index, flows=flows)
    chosen = solved.candidate if before is None else np.union1d(solved.candidate, before.candidate)
    return _equipped(prep, strategy, chosen, index=index, record=_Record.of(solved))


def _site_cost(prep: Prepared, strategy: StrategyConfig, /) -> np.ndarray:
    """Money of a new site of the strategy at each candidate (CNY; existing: 0), as
    :mod:`sim.siting.plan` charges it."""
    ch = prep.scenario.chargers
    klass = strategy.charger_class or ch.default_class
    ports = strategy.ports or ch.ports_per_site
    cost = np.full(
        len(prep.region.candidates), ch.site_cost_cny + ports * ch.classes[klass].cost_per_port_cny
    )
    cost[prep.existing] = 0.0
    return cost


def _look_ahead(
    preps: list[Prepared], scenario: Scenario, strategy: StrategyConfig, /, *, index: int
) -> list[Plan]:
    """Every phase's plan of a look-ahead strategy from one multi-period MILP."""
    assert scenario.phases is not None
    counts = [_count(scenario, t, strategy) for t in range(len(preps))]
    where = f"strategies.{index} ({strategy.name!r})"
    missing = [t for t, c in enumerate(counts) if c.k is None and c.budget_cny is None]
    if missing:
        raise ConfigError(f"phases.{missing[0]}.strategies: give {strategy.name!r} k or budget_cny")
    limits = PhaseLimits(
        new_sites=[c.k for c in counts],
        budgets=[c.budget_cny for c in counts],
        site_cost=_site_cost(preps[0], strategy),
        fixed_open=preps[0].existing if strategy.keep_existing else None,
        phase_weight=[p.weight for p in scenario.phases],
    )
    costs = [np.where(np.isfinite(p.siting_cost), p.siting_cost, np.inf) for p in preps]
    weights = [p.siting_weight for p in preps]
    limit = strategy.options.get("time_limit", 600.0)
    gap = float(strategy.options.get("mip_gap", 1e-6))
    time_limit = None if limit is None else float(limit)
    try:
        if strategy.model_name == "mclp":
            radius = strategy.radius_min or preps[0].scenario.simulation.radius_min
            res = multiperiod_mclp(
                costs, weights, radius=radius, limits=limits, time_limit=time_limit, mip_gap=gap
            )
        else:
            res = multiperiod_pmedian(
                costs, weights, limits=limits, time_limit=time_limit, mip_gap=gap
            )
    except SolverError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    plans = []
    for t, prep in enumerate(preps):
        rec = _Record(strategy.model_name, res.phase_objective[t], res.optimal, res.gap, res.time_s)
        plans.append(_equipped(prep, strategy, res.sites[t], index=index, record=rec))
    return plans


def _model_term(
    prep: Prepared, strategy: StrategyConfig, access: float, plan: Plan, /
) -> float | None:
    """The phase's term of the strategy's model objective (see :class:`PhasePlans`)."""
    if strategy.model_name == "p-median":
        return access
    if strategy.model_name == "mclp":
        radius = strategy.radius_min or prep.scenario.simulation.radius_min
        return phase_covered(prep.siting_cost, prep.siting_weight, plan.candidate, radius=radius)
    return None


def _built_years(plans: list[Plan], years: list[int], /) -> list[np.ndarray]:
    """Per phase, the year each site of its plan was built (0: an existing station)."""
    out: list[np.ndarray] = []
    first: dict[int, int] = {}
    for plan, year in zip(plans, years, strict=True):
        for c, ex in zip(plan.candidate.tolist(), plan.existing.tolist(), strict=True):
            first.setdefault(c, 0 if ex else year)
        out.append(np.array([first[c] for c in plan.candidate.tolist()], dtype=np.int64))
    return out


def _strategy_plans(
    scenario: Scenario, preps: list[Prepared], strategy: StrategyConfig, /, *, index: int
) -> list[Plan]:
    """A strategy's plan in every phase (myopic or look-ahead)."""
    if strategy.planning == "look-ahead":
        return _look_ahead(preps, scenario, strategy, index=index)
    plans: list[Plan] = []
    for t, prep in enumerate(preps):
        before = plans[-1] if plans else None
        count = _count(scenario, t, strategy)
        plans.append(_myopic_step(prep, strategy, count, before, index=index))
    return plans


def plan_phases(scenario: Scenario, /, *, progress: Progress = no_progress) -> list[PhasePlans]:
    """Prepare every phase and make every strategy's plan of every phase.

    Parameters
    ----------
    scenario
        A validated scenario with ``phases``.
    progress
        Called as ``progress(label, done, total)``.

    Raises
    ------
    ConfigError
        What :func:`check_phases` and :func:`phase_scenarios` refuse; a strategy that
        does not fit its model in some phase (the message names it).
    """
    assert scenario.phases is not None
    check_phases(scenario)
    scenarios = phase_scenarios(scenario)
    years = [p.year for p in scenario.phases]
    preps = []
    for t, sc in enumerate(scenarios):
        progress(f"preparing phase {years[t]}", t, len(scenarios))
        preps.append(prepare(sc))
    progress("siting every phase", 0, 1)
    by_strategy = {
        s.name: _strategy_plans(scenario, preps, s, index=i)
        for i, s in enumerate(scenario.strategies)
    }
    built = {n: _built_years(p, years) for n, p in by_strategy.items()}
    big = unreached_cost_of([p.siting_cost for p in preps])
    out = []
    for t, (sc, prep) in enumerate(zip(scenarios, preps, strict=True)):
        plans = {n: p[t] for n, p in by_strategy.items()}
        spent = {
            n: p[t].cost_cny - (p[t - 1].cost_cny if t else 0.0) for n, p in by_strategy.items()
        }
        access = {
            n: phase_pmedian_cost(
                prep.siting_cost, prep.siting_weight, p.candidate, unreached_cost=big
            )
            for n, p in plans.items()
        }
        out.append(
            PhasePlans(
                index=t,
                year=years[t],
                scenario=sc,
                prepared=prep,
                plans=plans,
                built={n: b[t] for n, b in built.items()},
                spent_cny=spent,
                access_cost=access,
                model_objective={
                    s.name: _model_term(prep, s, access[s.name], plans[s.name])
                    for s in scenario.strategies
                },
                unit_scenario=unit_scenario(sc, prep, plans),
            )
        )
    return out
