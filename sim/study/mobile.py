"""Mobile charging units in plans: where a strategy's ``mobile_units`` go, and the plan
rows and simulation inputs they become.

A unit is a plan row of kind ``"mobile"`` at the candidate it is sent to (beside the
service area's own chargers, if any), with its connectors as ports and the cost of its
days out.  The planner names the sites, or the strategy sends the units to the service
areas with the longest waits its plan without units has on the days deployed, in a pilot
simulation on a replication of its own (:data:`PILOT_REPLICATION`, never one a run
scores), one unit per area from the longest wait down (round again if there are more
units than areas with a wait).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.config import Scenario, StrategyConfig
from sim.config.schema import MobileUnitsConfig
from sim.des import MobileUnits, SessionLog
from sim.des.log import CHARGED, RENEGED
from sim.errors import ConfigError
from sim.siting.plan import Plan
from sim.study.prepare import Prepared

__all__ = [
    "PILOT_REPLICATION",
    "deployed_days",
    "mobile_energy_cost",
    "mobile_units_of",
    "with_mobile_units",
]

#: Replication number of the pilot simulation that places mobile units by their
#: predicted waits (far from the replications a run scores and from refinement's).
PILOT_REPLICATION = 3_000_000
_DAY_MIN = 1440.0


def deployed_days(scenario: Scenario, days: str | tuple[int, ...], /) -> frozenset[int] | None:
    """The 1-based days a rule of ``days`` (``"holiday"``, ``"all"`` or a list) covers
    (``None``: every day)."""
    if days == "all":
        return None
    if days == "holiday":
        hol = scenario.demand.highway.holiday
        return frozenset(hol.days) if hol is not None else frozenset()
    assert not isinstance(days, str)
    return frozenset(days)


def with_mobile_units(prep: Prepared, strategy: StrategyConfig, plan: Plan, /) -> Plan:
    """``plan`` with the strategy's mobile units as rows of kind ``"mobile"`` (sorted by
    candidate, each after the rows already there) and their days' cost added.

    Raises
    ------
    ConfigError
        A site id that is no candidate.
    """
    cfg = strategy.mobile_units
    if cfg is None:
        return plan
    sites = _sites(prep, strategy, plan, cfg)
    n = sites.shape[0]
    days = deployed_days(prep.scenario, cfg.days)
    n_days = prep.scenario.demand.days if days is None else len(days)
    cand = np.concatenate([plan.candidate, sites])
    order = np.argsort(cand, kind="stable")

    def cat(old: np.ndarray, new: object, dtype: type) -> np.ndarray:
        return np.concatenate([old, np.full(n, new, dtype=dtype)])[order]

    kinds = (*plan.kind, *("mobile",) * n)
    classes = (*plan.charger_class, *("mobile",) * n)
    return replace(
        plan,
        candidate=cand[order],
        ports=cat(plan.ports, cfg.connectors, np.int64),
        power_kw=cat(plan.power_kw, cfg.connector_kw, np.float64),
        dc=cat(plan.dc, True, bool),
        charger_class=tuple(classes[i] for i in order.tolist()),
        existing=cat(plan.existing, False, bool),
        cost_cny=plan.cost_cny + n * n_days * cfg.cost_per_unit_day_cny,
        kind=tuple(kinds[i] for i in order.tolist()),
        bays=cat(plan.bays, 0, np.int64),
        packs=cat(plan.packs, 0, np.int64),
        pack_chargers=cat(plan.pack_chargers, 0, np.int64),
    )


def mobile_units_of(prep: Prepared, plan: Plan, /) -> MobileUnits | None:
    """The simulation's view of the plan's mobile units (``None``: it has none)."""
    where = np.flatnonzero(plan.mobile)
    if where.size == 0:
        return None
    base = plan.strategy.removesuffix("+simopt")
    cfg = next(s.mobile_units for s in prep.scenario.strategies if s.name == base)
    assert cfg is not None  # only its strategy's mobile_units make mobile rows
    return MobileUnits(
        station=where.astype(np.int64),
        store_kwh=np.full(where.size, cfg.store_kwh),
        refill_min=np.full(where.size, cfg.refill_min),
        days=deployed_days(prep.scenario, cfg.days),
    )


def mobile_energy_cost(prep: Prepared, plan: Plan, log: SessionLog, /) -> float:
    """What the energy the plan's mobile units delivered in ``log`` costs (CNY): kWh
    charged at them x ``mobile_units.cost_per_kwh_cny`` (0 without units)."""
    where = plan.mobile
    if not where.any():
        return 0.0
    base = plan.strategy.removesuffix("+simopt")
    cfg = next(s.mobile_units for s in prep.scenario.strategies if s.name == base)
    assert cfg is not None
    at = (log.station >= 0) & (log.outcome == CHARGED)
    at[at] = where[log.station[at]]
    return float(log.energy_kwh[at].sum()) * cfg.cost_per_kwh_cny


def _sites(
    prep: Prepared, strategy: StrategyConfig, plan: Plan, cfg: MobileUnitsConfig, /
) -> np.ndarray:
    """int64 candidate of each unit: the given site ids, or the longest waits."""
    if cfg.sites is not None:
        ids = prep.region.candidates["site_id"].astype(str).tolist()
        index = {s: k for k, s in enumerate(ids)}
        unknown = [s for s in cfg.sites if s not in index]
        if unknown:
            raise ConfigError(
                f"strategies ({strategy.name!r}).mobile_units.sites: unknown candidate site "
                f"ids {unknown[:5]}"
            )
        return np.array([index[s] for s in cfg.sites], dtype=np.int64)
    return plan.candidate[_busiest(prep, plan, cfg)]


def _busiest(prep: Prepared, plan: Plan, cfg: MobileUnitsConfig, /) -> np.ndarray:
    """Positions in ``plan`` of the sites for ``cfg.units`` units: by the minutes
    through-traffic waited there (charged or gave up) on the days deployed, in a pilot
    simulation of ``plan``; one unit per site, longest first, round after round."""
    from sim.study.units import demand_for, simulate_plan

    demand = demand_for(prep, PILOT_REPLICATION)
    log = simulate_plan(prep, plan, demand, replication=PILOT_REPLICATION)
    days = deployed_days(prep.scenario, cfg.days)
    day = (log.arrival_min // _DAY_MIN).astype(np.int64) + 1
    on = np.ones(day.shape, bool) if days is None else np.isin(day, sorted(days))
    keep = on & np.isin(log.outcome, (CHARGED, RENEGED)) & (log.station >= 0)
    keep &= demand.segment[log.session] == 1
    waited = np.bincount(
        log.station[keep], weights=np.nan_to_num(log.wait_min[keep]), minlength=len(plan)
    )
    waited[plan.ports <= 0] = -1.0  # swap stations: no chargers to relieve
    order = np.argsort(-waited, kind="stable")
    ranked = order[waited[order] > 0]
    if ranked.size == 0:
        ranked = order[waited[order] >= 0]
    if ranked.size == 0:
        raise ConfigError(
            f"strategies ({plan.strategy!r}).mobile_units: the plan has no charging site to "
            "send units to; give mobile_units.sites"
        )
    return np.resize(ranked, cfg.units)
