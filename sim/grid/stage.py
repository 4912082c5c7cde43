"""The grid stage in one call: home plug-ins, transformers, control, loading statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config.schema import GridConfig, ResidentialDemandConfig, VehicleClassConfig
from sim.demand.home import HomeSessions, home_sessions
from sim.demand.residential import HomeTable
from sim.grid.compounds import STEP_MIN, Compounds, compounds
from sim.grid.control import DT_H, Schedule, ordered, uncontrolled
from sim.grid.tariff import step_prices

__all__ = ["GridResult", "grid_load"]


@dataclass(frozen=True)
class GridResult:
    """Per compound and 15-minute step: base load, home charging, headroom left.

    Attributes
    ----------
    compounds
        Transformers and base load (:class:`~sim.grid.compounds.Compounds`).
    sessions
        The home plug-ins scheduled.
    schedule
        Home charging load and energy delivered per plug-in.
    control
        ``uncontrolled`` or ``ordered``.
    prices
        float64 ``(n_steps,)`` energy price of each step (CNY/kWh).
    """

    compounds: Compounds
    sessions: HomeSessions
    schedule: Schedule
    control: str
    prices: np.ndarray

    @property
    def base_kw(self) -> np.ndarray:
        """``(n_compounds, n_steps)`` household base load (kW)."""
        return self.compounds.base_kw

    @property
    def home_kw(self) -> np.ndarray:
        """``(n_compounds, n_steps)`` home charging load (kW)."""
        return self.schedule.home_kw

    @property
    def headroom_kw(self) -> np.ndarray:
        """``(n_compounds, n_steps)`` power left under the limit (kW, >= 0): what public
        chargers in the compound may draw (a time-varying site cap)."""
        c = self.compounds
        return np.maximum(c.limit_kw[:, None] - c.base_kw - self.home_kw, 0.0)

    @property
    def loading_pct(self) -> np.ndarray:
        """``(n_compounds, n_steps)`` transformer loading: (base + home) kW / power
        factor / kVA x 100 (%)."""
        c = self.compounds
        return (c.base_kw + self.home_kw) / c.power_factor / c.kva[:, None] * 100.0

    @property
    def not_delivered_kwh(self) -> np.ndarray:
        """Per plug-in: energy needed but not delivered before it left (kWh, >= 0)."""
        return np.maximum(self.sessions.energy_kwh - self.schedule.delivered_kwh, 0.0)

    def compound_table(self) -> pd.DataFrame:
        """One row per compound: ``zone_id``, ``households``, ``kva``, ``limit_kw``,
        ``home_evs``, ``energy_needed_kwh``, ``energy_delivered_kwh``,
        ``energy_not_delivered_kwh``, ``peak_kw`` (base + home), ``peak_loading_pct``,
        ``hours_above_80pct`` and ``hours_above_100pct`` (over the horizon, h),
        ``home_cost_cny`` (delivered home energy at the tariff) and
        ``valley_share`` (share of the home energy delivered in valley-price steps)."""
        c, s = self.compounds, self.sessions
        n = len(c)
        zone = s.zone.astype(np.int64)
        evs = np.zeros(n)
        if len(s):
            first = np.r_[True, s.ev[1:] != s.ev[:-1]]
            evs = np.bincount(zone[first], minlength=n).astype(float)
        load = c.base_kw + self.home_kw
        loading = self.loading_pct
        home_e = self.home_kw * DT_H
        valley = self.prices <= self.prices.min()
        total_home = home_e.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            valley_share = np.where(
                total_home > 0, home_e[:, valley].sum(axis=1) / total_home, np.nan
            )
        return pd.DataFrame(
            {
                "zone_id": c.zone_id,
                "households": c.households,
                "kva": c.kva,
                "limit_kw": c.limit_kw,
                "home_evs": evs,
                "energy_needed_kwh": np.bincount(zone, s.energy_kwh, minlength=n),
                "energy_delivered_kwh": np.bincount(zone, self.schedule.delivered_kwh, minlength=n),
                "energy_not_delivered_kwh": np.bincount(zone, self.not_delivered_kwh, minlength=n),
                "peak_kw": load.max(axis=1),
                "peak_loading_pct": loading.max(axis=1),
                "hours_above_80pct": (loading > 80.0).sum(axis=1) * DT_H,
                "hours_above_100pct": (loading > 100.0).sum(axis=1) * DT_H,
                "home_cost_cny": (home_e * self.prices[None, :]).sum(axis=1),
                "valley_share": valley_share,
            }
        )

    def zone_load(self) -> pd.DataFrame:
        """Long table, one row per compound and step: ``zone_id``, ``step``, ``t_min``
        (start of the step, min from 00:00 of day 1), ``base_kw``, ``home_kw``,
        ``headroom_kw`` (the rows of a future ``zone_load.parquet``; public charging is
        added by the simulation)."""
        c = self.compounds
        n, t = len(c), c.n_steps
        return pd.DataFrame(
            {
                "zone_id": np.repeat(c.zone_id, t),
                "step": np.tile(np.arange(t), n),
                "t_min": np.tile(np.arange(t) * float(STEP_MIN), n),
                "base_kw": c.base_kw.ravel(),
                "home_kw": self.home_kw.ravel(),
                "headroom_kw": self.headroom_kw.ravel(),
            }
        )


def grid_load(
    zones: pd.DataFrame,
    homes: HomeTable,
    /,
    *,
    grid: GridConfig,
    residential: ResidentialDemandConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
) -> GridResult:
    """Run the grid stage for one replication.

    Parameters
    ----------
    zones
        ``region.zones`` (``zone_id``, ``households``, optional ``kva``).
    homes
        :func:`sim.demand.residential.home_table` of the same region.
    grid
        The ``grid`` section.
    residential
        ``demand.residential`` (EV counts and the trip model).
    fleet
        ``vehicles.fleet``.
    days, start_weekday
        ``demand.days`` and ``demand.start_weekday``.
    rng
        The replication's home-charging stream: ``stream(seed, replication,
        "home-charging")`` (its own purpose, so that public demand is unchanged).
    """
    sessions = home_sessions(
        homes,
        residential=residential,
        home=grid.home,
        fleet=fleet,
        days=days,
        start_weekday=start_weekday,
        rng=rng,
    )
    comp = compounds(zones, grid=grid, days=days, start_weekday=start_weekday)
    prices = step_prices(grid.tariff, n_steps=comp.n_steps)
    if grid.control == "ordered":
        schedule = ordered(sessions, comp, prices=prices)
    else:
        schedule = uncontrolled(sessions, n_compounds=len(comp), n_steps=comp.n_steps)
    return GridResult(
        compounds=comp, sessions=sessions, schedule=schedule, control=grid.control, prices=prices
    )
