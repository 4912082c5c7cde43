"""Compound policy levers in plans (issue 15 item 4): transformer upgrades, compound
chargers (统建统服) and shared private chargers (私桩共享), bought alongside public sites.

A strategy's ``transformer_upgrades`` add kVA to chosen compounds for its own grid
result; its ``compound_chargers`` become charging sites inside chosen compounds (at a
candidate inside the compound, else at a candidate added at the compound's centroid
node, :func:`lever_candidates`); its ``shared_private`` chargers become one station per
chosen compound whose ports follow the shared home chargers free over time
(:func:`shared_profile`).  Every item's cost enters the plan's ``cost_cny``; with a
``budget_cny`` the items are bought first and the siting model places public sites with
what is left (:func:`budget_left`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.config import Scenario, StrategyConfig
from sim.config.schema import CompoundChargersConfig, SharedPrivateConfig
from sim.demand.home import HomeSessions
from sim.demand.residential import HomeTable
from sim.des.inputs import PortProfile
from sim.errors import ConfigError
from sim.grid.compounds import STEP_MIN
from sim.siting.plan import Plan

if TYPE_CHECKING:
    from sim.grid import GridResult
    from sim.study.prepare import Prepared

__all__ = [
    "SHARED_CLASS",
    "LeverSites",
    "away_free",
    "budget_left",
    "check_levers",
    "check_plan",
    "extra_kva",
    "lever_candidates",
    "lever_cost",
    "lever_zones",
    "shared_chargers",
    "shared_profile",
    "strategy_of",
    "with_levers",
]

#: ``charger_class`` of a shared-private-chargers station in a plan.
SHARED_CLASS = "shared-home"


def strategy_of(scenario: Scenario, name: str, /) -> StrategyConfig | None:
    """The strategy named ``name`` (a refined plan ``NAME+simopt`` keeps its base's)."""
    base = name.removesuffix("+simopt")
    return next((s for s in scenario.strategies if s.name == base), None)


def _where(strategy: StrategyConfig, key: str, /) -> str:
    return f"strategies ({strategy.name!r}).{key}"


def _zone_index(zones: pd.DataFrame, ids: list[str], /, *, where: str) -> np.ndarray:
    """int64 index into ``zones`` of each id; unknown ids are one ConfigError."""
    known = {z: i for i, z in enumerate(zones["zone_id"].astype(str).tolist())}
    unknown = [z for z in ids if z not in known]
    if unknown:
        sample = ", ".join(list(known)[:5])
        raise ConfigError(
            f"{where}: unknown zone id(s) {unknown[:5]}; the region's zones are "
            f"{sample}, ... ({len(known)} in all; sites.gpkg layer zones lists them)"
        )
    return np.array([known[z] for z in ids], dtype=np.int64)


def _need_grid(scenario: Scenario, strategy: StrategyConfig, key: str, /) -> None:
    if scenario.grid is None:
        raise ConfigError(
            f"{_where(strategy, key)}: compound levers need a grid section (transformers "
            "and home charging); add `grid: {}` for the defaults"
        )


def lever_zones(
    scenario: Scenario,
    zones: pd.DataFrame,
    homes: HomeTable,
    strategy: StrategyConfig,
    /,
    *,
    key: str,
) -> np.ndarray:
    """int64 compounds (index into ``zones``) of the strategy's ``compound_chargers`` or
    ``shared_private`` (``key``): the ids given, or with ``auto`` the ``count``
    compounds with the most EVs without home charging (ties: zones order)."""
    cfg: CompoundChargersConfig | SharedPrivateConfig | None = getattr(strategy, key)
    assert cfg is not None
    _need_grid(scenario, strategy, key)
    where = _where(strategy, f"{key}.zones")
    if cfg.zones != "auto":
        if len(set(cfg.zones)) != len(cfg.zones):
            raise ConfigError(f"{where}: a zone id is given twice ({list(cfg.zones)})")
        return _zone_index(zones, list(cfg.zones), where=where)
    if cfg.count > len(zones):
        raise ConfigError(
            f"{_where(strategy, key)}.count = {cfg.count}: the region has {len(zones)} zones"
        )
    evs = np.bincount(
        homes.zone.astype(np.int64),
        weights=homes.evs_without_home_charging(scenario.demand.residential),
        minlength=len(zones),
    )
    order = np.argsort(-evs, kind="stable")
    return np.sort(order[: cfg.count]).astype(np.int64)


@dataclass(frozen=True)
class LeverSites:
    """Where each strategy's compound sites go.

    Attributes
    ----------
    candidate
        By strategy name and key (``compound_chargers`` / ``shared_private``): int64
        candidate per chosen compound (in :func:`lever_zones` order).
    zone
        The same, the compound (index into ``region.zones``).
    added
        int64 candidates added for the levers (none of them a public siting option).
    """

    candidate: dict[tuple[str, str], np.ndarray]
    zone: dict[tuple[str, str], np.ndarray]
    added: np.ndarray


def lever_candidates(
    scenario: Scenario,
    candidates: pd.DataFrame,
    zones: pd.DataFrame,
    homes: HomeTable,
    cand_zone: np.ndarray,
    /,
    *,
    node_xy: dict[int, tuple[float, float]],
) -> tuple[pd.DataFrame, np.ndarray, LeverSites]:
    """Candidates for the compound sites of every strategy.

    A chosen compound with candidates inside uses the one nearest its centroid; one
    without gets a new candidate (kind ``compound``, id ``compound-<zone_id>``) at its
    centroid node (``zones["node"]``, at ``node_xy``), counted in that compound.

    Returns
    -------
    candidates, cand_zone, sites
        The candidates with the new ones appended, their compounds, and the sites.
    """
    import geopandas as gpd
    from shapely.geometry import Point

    picks: dict[tuple[str, str], np.ndarray] = {}
    zone_of: dict[tuple[str, str], np.ndarray] = {}
    new_zone: list[int] = []
    cz = cand_zone.copy()
    for s in scenario.strategies:
        for key in ("compound_chargers", "shared_private"):
            if getattr(s, key) is None:
                continue
            zs = lever_zones(scenario, zones, homes, s, key=key)
            out = []
            for z in zs.tolist():
                inside = np.flatnonzero(cz[: len(candidates)] == z)
                if inside.size:
                    c = zones.geometry.iloc[z].centroid
                    d = candidates.geometry.iloc[inside].distance(c).to_numpy()
                    out.append(int(inside[np.argmin(d)]))
                elif z in new_zone:
                    out.append(len(candidates) + new_zone.index(z))
                else:
                    new_zone.append(z)
                    out.append(len(candidates) + len(new_zone) - 1)
            picks[(s.name, key)] = np.array(out, dtype=np.int64)
            zone_of[(s.name, key)] = zs
    added = np.arange(len(candidates), len(candidates) + len(new_zone), dtype=np.int64)
    if not new_zone:
        return candidates, cz, LeverSites(picks, zone_of, added)
    nodes = [int(zones["node"].iloc[z]) for z in new_zone]
    rows = gpd.GeoDataFrame(
        {
            "site_id": [f"compound-{zones['zone_id'].iloc[z]}" for z in new_zone],
            "kind": "compound",
            "name": [str(zones["name"].iloc[z]) if "name" in zones else "" for z in new_zone],
            "osm_id": "",
            "existing_ports": 0,
            "node": np.array(nodes, dtype=np.int64),
            "snap_dist_m": 0.0,
        },
        geometry=[Point(*node_xy[n]) for n in nodes],
        crs=candidates.crs,
    )
    merged = gpd.GeoDataFrame(
        pd.concat([candidates, rows[list(candidates.columns)]], ignore_index=True),
        geometry="geometry",
        crs=candidates.crs,
    )
    cz = np.concatenate([cz, np.array(new_zone, dtype=np.int64)])
    return merged, cz, LeverSites(picks, zone_of, added)


def check_levers(scenario: Scenario, zones: pd.DataFrame, /) -> None:
    """Refuse, before anything is computed, levers without a ``grid`` section or with
    ``refine``, and upgrades of unknown zones (the zones of compound sites are checked
    where they are placed, :func:`lever_candidates`)."""
    for s in scenario.strategies:
        for key in ("transformer_upgrades", "compound_chargers", "shared_private"):
            if getattr(s, key) is not None:
                _refuse(scenario, s, key)
        if s.transformer_upgrades is not None:
            where = _where(s, "transformer_upgrades.kva_added")
            _zone_index(zones, list(s.transformer_upgrades.kva_added), where=where)


def _refuse(scenario: Scenario, strategy: StrategyConfig, key: str, /) -> None:
    _need_grid(scenario, strategy, key)
    if strategy.refine is not None:
        raise ConfigError(
            f"{_where(strategy, key)}: not supported with refine yet (the refined plan "
            "would lose the compound levers); use a strategy of its own for each"
        )


def lever_cost(prep: Prepared, strategy: StrategyConfig, /) -> float:
    """CNY of the strategy's compound levers: kVA added x cost per kVA, compound sites
    and their ports, and the shared chargers opened (:func:`shared_chargers`)."""
    cost = 0.0
    up = strategy.transformer_upgrades
    if up is not None:
        cost += sum(up.kva_added.values()) * up.cost_per_kva_cny
    cc = strategy.compound_chargers
    if cc is not None:
        n = prep.levers.candidate[(strategy.name, "compound_chargers")].shape[0]
        cost += n * (cc.site_cost_cny + cc.ports * _port_cost(prep.scenario, cc))
    sp = strategy.shared_private
    if sp is not None:
        cost += float(shared_chargers(prep, strategy).sum()) * sp.cost_per_charger_cny
    return cost


def _port_cost(scenario: Scenario, cfg: CompoundChargersConfig, /) -> float:
    if cfg.cost_per_port_cny is not None:
        return cfg.cost_per_port_cny
    return scenario.chargers.classes[_klass(scenario, cfg)].cost_per_port_cny


def _klass(scenario: Scenario, cfg: CompoundChargersConfig, /) -> str:
    return cfg.charger_class or scenario.chargers.default_class


def shared_chargers(prep: Prepared, strategy: StrategyConfig, /) -> np.ndarray:
    """int64 per chosen compound of ``shared_private``: home chargers shared,
    ``floor(share x expected EVs with home charging)``."""
    sp = strategy.shared_private
    assert sp is not None
    zs = prep.levers.zone[(strategy.name, "shared_private")]
    evs = np.bincount(
        prep.homes.zone.astype(np.int64),
        weights=prep.homes.evs_with_home_charging(prep.scenario.demand.residential),
        minlength=len(prep.region.zones),
    )
    return np.floor(sp.share * evs[zs] + 1e-9).astype(np.int64)


def budget_left(prep: Prepared, strategy: StrategyConfig, /) -> StrategyConfig:
    """``strategy`` with its ``budget_cny`` less its levers' cost (the levers are bought
    first; the siting model places public sites with the rest); unchanged without a
    budget or levers.

    Raises
    ------
    ConfigError
        The levers cost the whole budget or more.
    """
    if strategy.budget_cny is None or not has_levers(strategy):
        return strategy
    _check(prep, strategy)
    cost = lever_cost(prep, strategy)
    left = strategy.budget_cny - cost
    if left <= 0:
        raise ConfigError(
            f"{_where(strategy, 'budget_cny')} = {strategy.budget_cny:,.0f}: its compound "
            f"levers cost {cost:,.0f} CNY, nothing is left for public sites; raise the budget "
            "or give k instead"
        )
    return strategy.model_copy(update={"budget_cny": left})


def _check(prep: Prepared, strategy: StrategyConfig, /) -> None:
    """Refuse levers without a ``grid`` section, or with ``refine`` (the refined plan
    is made from the public plan alone and would lose the compound sites)."""
    for key in ("transformer_upgrades", "compound_chargers", "shared_private"):
        if getattr(strategy, key) is not None:
            _refuse(prep.scenario, strategy, key)


def has_levers(strategy: StrategyConfig, /) -> bool:
    """Whether the strategy has any compound lever."""
    keys = ("transformer_upgrades", "compound_chargers", "shared_private")
    return any(getattr(strategy, k) is not None for k in keys)


def with_levers(prep: Prepared, strategy: StrategyConfig, plan: Plan, /) -> Plan:
    """``plan`` with the strategy's compound sites as rows (ports added where the plan
    already has a charging site at the candidate) and every lever's cost added."""
    if not has_levers(strategy):
        return plan
    _check(prep, strategy)
    if strategy.transformer_upgrades is not None:
        extra_kva(prep, plan.strategy)  # unknown zones refused here, before any run
    out = plan
    cc = strategy.compound_chargers
    if cc is not None:
        klass = _klass(prep.scenario, cc)
        if klass not in prep.scenario.chargers.classes:
            raise ConfigError(
                f"{_where(strategy, 'compound_chargers.charger_class')}: unknown class "
                f"{klass!r}; chargers.classes has {sorted(prep.scenario.chargers.classes)}"
            )
        k = prep.scenario.chargers.classes[klass]
        cand = prep.levers.candidate[(strategy.name, "compound_chargers")]
        out = _add_rows(out, cand, ports=cc.ports, kw=k.power_kw, dc=k.current == "dc",
                        klass=klass)  # fmt: skip
    if strategy.shared_private is not None:
        cand = prep.levers.candidate[(strategy.name, "shared_private")]
        n = shared_chargers(prep, strategy)
        if (n <= 0).any():
            zs = prep.levers.zone[(strategy.name, "shared_private")]
            zid = prep.region.zones["zone_id"].iloc[int(zs[np.argmin(n)])]
            raise ConfigError(
                f"{_where(strategy, 'shared_private.share')}: share x the EVs with a home "
                f"charger in compound {zid} gives no charger to share; raise share or "
                "choose other zones"
            )
        kw = prep.scenario.grid.home.charger_kw if prep.scenario.grid is not None else 7.0
        out = _add_rows(out, cand, ports=n, kw=kw, dc=False, klass=SHARED_CLASS, new=True)
    return replace(out, cost_cny=plan.cost_cny + lever_cost(prep, strategy))


def _add_rows(
    plan: Plan,
    cand: np.ndarray,
    /,
    *,
    ports: int | np.ndarray,
    kw: float,
    dc: bool,
    klass: str,
    new: bool = False,
) -> Plan:
    """``plan`` with ``ports`` at each of ``cand``: added to a charging row of the same
    class already there, else a new row (rows stay sorted by candidate; ``new``: always
    a row of its own)."""
    n_ports = np.broadcast_to(np.asarray(ports, dtype=np.int64), cand.shape)
    p = plan
    for c, n in zip(cand.tolist(), n_ports.tolist(), strict=True):
        rows = np.flatnonzero(p.candidate == c)
        same = [r for r in rows.tolist() if p.kind[r] == "charge" and p.charger_class[r] == klass]
        if same and not new:
            ports_ = p.ports.copy()
            ports_[same[0]] += n
            p = replace(p, ports=ports_)
            continue
        at = int(np.searchsorted(p.candidate, c, side="right"))

        def ins(a: np.ndarray, v: float, at: int = at) -> np.ndarray:
            return np.insert(a, at, v)

        p = replace(
            p,
            candidate=ins(p.candidate, c),
            ports=ins(p.ports, n),
            power_kw=ins(p.power_kw, kw),
            dc=ins(p.dc, dc),
            charger_class=(*p.charger_class[:at], klass, *p.charger_class[at:]),
            existing=ins(p.existing, False),
            kind=(*p.kind[:at], "charge", *p.kind[at:]),
            bays=ins(p.bays, 0),
            packs=ins(p.packs, 0),
            pack_chargers=ins(p.pack_chargers, 0),
        )
    return p


def check_plan(prep: Prepared, plan: Plan, /) -> None:
    """Refuse to simulate a plan of a strategy with levers that was made without
    :func:`with_levers` (a programming error: every plan maker must call it).

    Raises
    ------
    RuntimeError
        The plan lacks the strategy's compound sites or the levers' cost.
    """
    s = strategy_of(prep.scenario, plan.strategy)
    if s is None or not has_levers(s):
        return
    classes = set(plan.charger_class)
    need = []
    if s.shared_private is not None:
        need.append(SHARED_CLASS)
    if s.compound_chargers is not None:
        need.append(_klass(prep.scenario, s.compound_chargers))
    if any(c not in classes for c in need) or plan.cost_cny < lever_cost(prep, s) - 1e-6:
        raise RuntimeError(
            f"the plan of strategy {plan.strategy!r} was made without its compound levers "
            "(sim.study.levers.with_levers and budget_left); every plan maker must call them"
        )


def extra_kva(prep: Prepared, strategy: str, /) -> np.ndarray | None:
    """float64 kVA the strategy named ``strategy`` adds per compound (``region.zones``
    order), ``None`` without ``transformer_upgrades``.

    Raises
    ------
    ConfigError
        An unknown zone id.
    """
    s = strategy_of(prep.scenario, strategy)
    if s is None or s.transformer_upgrades is None:
        return None
    zones = prep.region.zones
    ids = list(s.transformer_upgrades.kva_added)
    idx = _zone_index(zones, ids, where=_where(s, "transformer_upgrades.kva_added"))
    out = np.zeros(len(zones))
    np.add.at(out, idx, np.array(list(s.transformer_upgrades.kva_added.values()), float))
    return out


def away_free(
    sessions: HomeSessions, evs: np.ndarray, /, *, n_steps: int, step_min: float, hold_min: float
) -> np.ndarray:
    """bool ``(len(evs), n_steps)``: EV ``evs[r]``'s owner is away (not plugged in at
    home) from the start of step ``k`` until ``hold_min`` after its end, so a neighbour
    who starts charging on its charger in step ``k`` and charges at most ``hold_min``
    is done before the owner is back.  The horizon repeats (a stay past its end wraps
    onto its start)."""
    h = round(sessions.horizon_min)
    home = np.zeros((evs.size, h + 1), dtype=np.int64)
    row = {int(e): r for r, e in enumerate(evs.tolist())}
    for e, a, d in zip(sessions.ev.tolist(), sessions.arrive_min.tolist(),
                       sessions.depart_min.tolist(), strict=True):  # fmt: skip
        r = row.get(int(e))
        if r is None:
            continue
        a0, d0 = int(np.floor(a)), int(np.ceil(d))
        if d0 <= h:
            home[r, a0] += 1
            home[r, d0] -= 1
        else:  # wraps onto the start
            home[r, a0] += 1
            home[r, h] -= 1
            home[r, 0] += 1
            home[r, min(d0 - h, h)] -= 1
    at_home = np.cumsum(home[:, :h], axis=1) > 0  # (n, minutes)
    twice = np.concatenate([at_home, at_home, at_home], axis=1).astype(np.int64)
    csum = np.concatenate([np.zeros((evs.size, 1), np.int64), np.cumsum(twice, axis=1)], axis=1)
    start = (np.arange(n_steps) * step_min).astype(np.int64)
    end = start + int(step_min + hold_min)
    return (csum[:, end] - csum[:, start]) == 0


def shared_profile(prep: Prepared, plan: Plan, grid: GridResult, /) -> PortProfile | None:
    """The plan's shared-chargers stations as a :class:`~sim.des.inputs.PortProfile`
    for one replication (``None``: the strategy shares none).

    The chargers shared in a compound are its first ``min(n, EVs)`` home EVs (EV
    order of the replication's plug-ins, ``n`` the plan's chargers); in each step
    the open ports are those whose owner is away from the step's start until
    ``max_session_h`` after its end (:func:`away_free`), and no session there charges
    longer than ``max_session_h``: a neighbour is done before the owner is back.
    """
    s = strategy_of(prep.scenario, plan.strategy)
    if s is None or s.shared_private is None:
        return None
    rows = np.flatnonzero(np.array(plan.charger_class) == SHARED_CLASS)
    zone = prep.levers.zone[(s.name, "shared_private")]
    cand = prep.levers.candidate[(s.name, "shared_private")]
    sess = grid.sessions
    hold = s.shared_private.max_session_h * 60.0
    n_steps = grid.compounds.n_steps
    ports = np.zeros((rows.size, n_steps), dtype=np.int64)
    for k, r in enumerate(rows.tolist()):
        z = int(zone[np.flatnonzero(cand == plan.candidate[r])[0]])
        evs = np.unique(sess.ev[sess.zone == z])[: int(plan.ports[r])]
        free = away_free(sess, evs, n_steps=n_steps, step_min=float(STEP_MIN), hold_min=hold)
        ports[k] = free.sum(axis=0)
    return PortProfile(
        station=rows.astype(np.int64),
        ports=ports,
        max_session_min=np.full(rows.size, hold),
        step_min=float(STEP_MIN),
    )
