"""Exports of the grid stage: ``zone_load.parquet``, the zones layer's transformer
columns, sessions' costs, the summary's compound power and prices, the terminal table.

Everything here reads :attr:`sim.study.units.UnitResult.grid` (``None`` without a
``grid`` section, when every function leaves its input as it was or returns ``None``).
Loading is ``(base + home + public) kW / power factor / kVA x 100`` (%), per compound
and 15-minute step; a compound is *overloaded* when its peak loading is above 100%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.demand.model import SEGMENTS
from sim.des import CHARGED
from sim.grid import STEP_MIN, mean_price_per_kwh, session_cost
from sim.grid.control import DT_H
from sim.metrics.intervals import ci95
from sim.siting.plan import Plan
from sim.study.units import GridUnit, UnitResult

if TYPE_CHECKING:
    from rich.table import Table

    from sim.export.summary import Summary
    from sim.study.runner import StudyResult

__all__ = [
    "ZONE_GRID_COLUMNS",
    "ZONE_LOAD_COLUMNS",
    "compound_stats",
    "grid_summaries",
    "grid_table",
    "per_million",
    "with_costs",
    "with_grid_columns",
    "zone_load_frame",
]

#: Columns of ``zone_load.parquet``: one row per (strategy, replication, compound,
#: 15-minute step); ``t_min`` is the step's start (min from 00:00 of day 1); ``base_kw``
#: the households' load, ``home_kw`` home charging (under the strategy's control),
#: ``public_kw`` the plan's public chargers inside the compound (simulated),
#: ``headroom_kw`` what the limit left after base and home (the public sites' shared
#: cap), ``loading_pct`` (base + home + public) / power factor / kVA x 100.
ZONE_LOAD_COLUMNS = (
    "strategy",
    "replication",
    "zone_id",
    "step",
    "t_min",
    "base_kw",
    "home_kw",
    "public_kw",
    "headroom_kw",
    "loading_pct",
)

#: Columns the zones layer gains with ``grid`` (per strategy and compound, the mean over
#: replications): the transformer's ``kva``, ``peak_load_kw`` (base + home + public),
#: ``peak_loading_pct``, ``hours_above_80pct`` and ``hours_above_100pct`` (over the
#: horizon, h), ``home_evs``, ``home_energy_needed_kwh``,
#: ``home_energy_not_delivered_kwh`` and ``public_energy_kwh`` (drawn by the plan's
#: public sites in the compound).
ZONE_GRID_COLUMNS = (
    "kva",
    "peak_load_kw",
    "peak_loading_pct",
    "hours_above_80pct",
    "hours_above_100pct",
    "home_evs",
    "home_energy_needed_kwh",
    "home_energy_not_delivered_kwh",
    "public_energy_kwh",
)


#: Loading (%) above which a compound counts as overloaded: 100% plus a rounding
#: margin, so that public sites drawing the headroom to exactly the limit (their
#: shared cap's water-filling sums to it within floating-point error) do not count.
OVER_PCT = 100.0 + 1e-6


def _loading(g: GridUnit, /) -> tuple[np.ndarray, np.ndarray]:
    """Total load (kW) and loading (%) per compound and step."""
    c = g.result.compounds
    load = c.base_kw + g.result.home_kw + g.public_kw
    return load, load / c.power_factor / c.kva[:, None] * 100.0


def compound_stats(g: GridUnit, /) -> pd.DataFrame:
    """One row per compound of one unit: ``zone_id`` and :data:`ZONE_GRID_COLUMNS`."""
    load, loading = _loading(g)
    table = g.result.compound_table()
    return pd.DataFrame(
        {
            "zone_id": table["zone_id"].to_numpy(),
            "kva": table["kva"].to_numpy(),
            "peak_load_kw": load.max(axis=1),
            "peak_loading_pct": loading.max(axis=1),
            "hours_above_80pct": (loading > 80.0).sum(axis=1) * DT_H,
            "hours_above_100pct": (loading > OVER_PCT).sum(axis=1) * DT_H,
            "home_evs": table["home_evs"].to_numpy(),
            "home_energy_needed_kwh": table["energy_needed_kwh"].to_numpy(),
            "home_energy_not_delivered_kwh": table["energy_not_delivered_kwh"].to_numpy(),
            "public_energy_kwh": g.public_kw.sum(axis=1) * DT_H,
        }
    )


def zone_load_frame(units: Sequence[UnitResult], /) -> pd.DataFrame | None:
    """``zone_load.parquet`` (:data:`ZONE_LOAD_COLUMNS`); ``None`` without ``grid``."""
    frames = []
    for u in units:
        g = u.grid
        if g is None:
            continue
        r = g.result
        n, t = r.base_kw.shape
        _, loading = _loading(g)
        frames.append(
            pd.DataFrame(
                {
                    "strategy": u.strategy,
                    "replication": np.full(n * t, u.replication, dtype=np.int32),
                    "zone_id": np.repeat(r.compounds.zone_id, t),
                    "step": np.tile(np.arange(t, dtype=np.int32), n),
                    "t_min": np.tile(np.arange(t) * float(STEP_MIN), n),
                    "base_kw": r.base_kw.ravel(),
                    "home_kw": r.home_kw.ravel(),
                    "public_kw": g.public_kw.ravel(),
                    "headroom_kw": r.headroom_kw.ravel(),
                    "loading_pct": loading.ravel(),
                }
            )
        )
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    out["strategy"] = out["strategy"].astype("category")
    out["zone_id"] = out["zone_id"].astype("category")
    return out


def with_grid_columns(
    zones: gpd.GeoDataFrame, plans: Mapping[str, Plan], units: Sequence[UnitResult], /
) -> gpd.GeoDataFrame:
    """The zones layer (one row per strategy and zone) with :data:`ZONE_GRID_COLUMNS`,
    each the mean over the strategy's replications; unchanged without ``grid``."""
    per: dict[str, list[pd.DataFrame]] = {}
    for u in units:
        if u.grid is not None and u.strategy in plans:
            per.setdefault(u.strategy, []).append(compound_stats(u.grid))
    if not per:
        return zones
    rows = []
    for name, frames in per.items():
        mean = pd.concat(frames).groupby("zone_id", sort=False).mean()
        rows.append(mean.assign(strategy=name).reset_index())
    table = pd.concat(rows, ignore_index=True)
    keys = pd.MultiIndex.from_frame(zones[["strategy", "zone_id"]].astype(str))
    table = table.set_index(["strategy", "zone_id"]).reindex(keys)
    out = zones.copy()
    for col in ZONE_GRID_COLUMNS:
        out[col] = table[col].to_numpy()
    return out


def _costs(start: np.ndarray, end: np.ndarray, energy: np.ndarray, sc: Scenario) -> np.ndarray:
    """Cost (CNY) of public charging attempts; 0 for those that charged nothing."""
    assert sc.grid is not None
    ok = np.isfinite(start) & np.isfinite(end) & (energy > 0)
    cost = np.zeros(start.shape[0])
    cost[ok] = session_cost(start[ok], end[ok], energy_kwh=energy[ok], tariff=sc.grid.tariff)
    return cost


def with_costs(sessions: pd.DataFrame, scenario: Scenario, /) -> pd.DataFrame:
    """``sessions.parquet`` with ``cost_cny`` (time-of-use energy price plus the service
    fee, :func:`sim.grid.tariff.session_cost`; 0 for attempts that charged nothing);
    unchanged without ``grid`` or without rows."""
    if scenario.grid is None or sessions.empty:
        return sessions
    out = sessions.copy()
    out["cost_cny"] = _costs(
        out["start_min"].to_numpy(float),
        out["end_min"].to_numpy(float),
        out["energy_kwh"].to_numpy(float),
        scenario,
    )
    return out


def _interval(values: list[float], /, *, bounds: tuple[float, float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if v.size else None, "ci95": list(ci95(v, bounds=bounds))}


def _prices(units: Sequence[UnitResult], sc: Scenario, /) -> dict[str, float]:
    """Mean price per kWh (CNY) by segment over the units' public sessions, and
    ``home`` (the home charging the grid stage delivered, at the energy price)."""
    cost, energy, segment = [], [], []
    home_cost = home_kwh = 0.0
    for u in units:
        log, g = u.log, u.grid
        assert g is not None
        ok = log.outcome == CHARGED
        cost.append(_costs(log.start_min[ok], log.end_min[ok], log.energy_kwh[ok], sc))
        energy.append(log.energy_kwh[ok])
        segment.append(np.asarray(SEGMENTS, dtype=object)[u.demand.segment[log.session[ok]]])
        home_e = g.result.home_kw * DT_H
        home_cost += float((home_e * g.result.prices[None, :]).sum())
        home_kwh += float(home_e.sum())
    out = mean_price_per_kwh(
        np.concatenate(cost), np.concatenate(energy), segment=np.concatenate(segment)
    )
    out["home"] = home_cost / home_kwh if home_kwh > 0 else float("nan")
    return out


def grid_summaries(study: StudyResult, /) -> dict[str, dict[str, Any]]:
    """Per strategy, its ``grid`` entry of ``summary.json`` (empty without ``grid``):
    ``control``; ``mean_price_cny_per_kwh`` by segment and ``home`` (total cost over
    total energy, over replications); and over replications (``{"mean", "ci95"}``)
    ``peak_loading_pct`` (the highest loading of any compound), ``overloaded_share``
    (share of compounds whose peak loading is above 100%),
    ``home_energy_not_delivered_kwh`` and ``public_energy_in_compounds_kwh``."""
    sc = study.prepared.scenario
    if sc.grid is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in study.plans:
        mine = [u for u in study.units if u.strategy == name and u.grid is not None]
        if not mine:
            continue
        stats = [compound_stats(u.grid) for u in mine if u.grid is not None]
        out[name] = {
            "control": mine[0].grid.result.control if mine[0].grid is not None else None,
            "mean_price_cny_per_kwh": _prices(mine, sc),
            "peak_loading_pct": _interval(
                [float(s["peak_loading_pct"].max()) for s in stats], bounds=(0.0, np.inf)
            ),
            "overloaded_share": _interval(
                [float((s["peak_loading_pct"] > OVER_PCT).mean()) for s in stats], bounds=(0.0, 1.0)
            ),
            "home_energy_not_delivered_kwh": _interval(
                [float(s["home_energy_not_delivered_kwh"].sum()) for s in stats],
                bounds=(0.0, np.inf),
            ),
            "public_energy_in_compounds_kwh": _interval(
                [float(s["public_energy_kwh"].sum()) for s in stats], bounds=(0.0, np.inf)
            ),
        }
    return out


def _cell(entry: Mapping[str, Any], key: str, fmt: str, /) -> str:
    m = entry.get(key, {}).get("mean")
    return "-" if m is None else format(m, fmt)


def grid_table(summary: Summary, /) -> Table | None:
    """The terminal's table of compound power: per strategy, its control, difficulty,
    its cost and the difficulty it lowers per million CNY against the first strategy
    (:func:`per_million`), the peak transformer loading, the share of compounds
    overloaded, home energy not delivered and the mean prices paid; ``None`` without
    ``grid``."""
    from rich.table import Table

    rows = [(n, s) for n, s in summary.strategies.items() if s.grid]
    if not rows:
        return None
    base_name, base = rows[0]
    table = Table(
        title=f"{summary.scenario}: compound power (means over replications)",
        caption="loading: (base + home + public) kW / power factor / kVA; overloaded: "
        "compounds whose peak loading is above 100%; lowered per M CNY: difficulty "
        f"below {base_name}'s per million CNY spent beyond its cost",
    )
    for col in ("strategy", "control", "difficulty", "cost M CNY", "lowered per M CNY"):
        table.add_column(col, justify="left" if col in ("strategy", "control") else "right")
    for col in ("peak loading %", "overloaded", "home not delivered kWh"):
        table.add_column(col, justify="right")
    table.add_column("CNY/kWh home / public", justify="right")
    for name, s in rows:
        g = s.grid or {}
        di = s.metrics["difficulty_index"].mean
        price = g.get("mean_price_cny_per_kwh", {})
        public = price.get("residential")
        gain = per_million(base.metrics["difficulty_index"].mean, di, base.cost_cny, s.cost_cny)
        table.add_row(
            name,
            str(g.get("control", "")),
            "-" if di is None else f"{di:.2f}",
            "-" if s.cost_cny is None else f"{s.cost_cny / 1e6:.2f}",
            _gain_cell(gain, same_cost=s.cost_cny == base.cost_cny and name != base_name),
            _cell(g, "peak_loading_pct", ".1f"),
            _cell(g, "overloaded_share", ".0%"),
            _cell(g, "home_energy_not_delivered_kwh", ",.0f"),
            f"{price.get('home', float('nan')):.3f} / "
            + ("-" if public is None else f"{public:.3f}"),
        )
    return table


def _gain_cell(gain: float | None, /, *, same_cost: bool) -> str:
    if gain is not None:
        return f"{gain:+.3f}"
    return "no added cost" if same_cost else "-"


def per_million(
    base_difficulty: float | None,
    difficulty: float | None,
    base_cost_cny: float | None,
    cost_cny: float | None,
    /,
) -> float | None:
    """Difficulty lowered per million CNY: ``(base - difficulty) / ((cost - base cost) /
    1e6)``; ``None`` when a figure is missing or the plan costs no more than the base
    (ordered charging, priced at nothing here)."""
    if None in (base_difficulty, difficulty, base_cost_cny, cost_cny):
        return None
    assert base_difficulty is not None and difficulty is not None
    assert base_cost_cny is not None and cost_cny is not None
    extra = cost_cny - base_cost_cny
    if extra <= 0:
        return None
    return (base_difficulty - difficulty) / (extra / 1e6)
