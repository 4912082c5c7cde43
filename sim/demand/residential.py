"""Residential charging demand: residents whose EV cannot charge at home.

Model (documented in docs/model.md):

1. Homes: every residential building is a home point at its nearest road node with its
   estimated households (apartment / house); zone households not placed in mapped
   buildings (density fallbacks) sit at the zone's node.
2. EVs without home charging per home point:
   ``households x cars_per_household x ev_share x no_home_charging_share[housing]``,
   realised per replication by stochastic rounding (the expectation is kept exactly).
   Each draws its class from the fleet mix, a starting state of charge and its own
   charging threshold.
3. Day by day, each EV drives a lognormal distance (weekday / weekend means), its state
   of charge falls by ``km x consumption / battery``; when it falls below the EV's
   threshold (or, with a small daily chance, below the opportunistic level) the driver
   sets off to charge up to ``target_soc`` at an hour drawn from the weekday or weekend
   profile.  The state of charge is carried to the next day.  Demand assumes a planned
   charge happens; a session that ends unserved in the simulation is counted as
   unserved (the driver is assumed to make do elsewhere, e.g. a slow charger at work).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import ResidentialDemandConfig, VehicleClassConfig
from sim.demand.model import Demand, swap_codes
from sim.region.model import Region

__all__ = ["HomeTable", "home_table", "planning_draw", "residential_demand", "sessions_per_ev_day"]

#: Lowest state of charge a resident lets the battery reach; trips that would drain it
#: further are cut short (0-1).
MIN_SOC = 0.05


@dataclass(frozen=True)
class HomeTable:
    """Static home points of a region (one row per residential building or zone rest).

    Attributes
    ----------
    zone
        int32 index into ``region.zones``.
    node
        int64 OSM node id of the home point.
    households_apartment, households_house
        float64 households by housing type.
    no_home_share
        float64 share of EVs without a home charger where the planner's zones file gives
        it (NaN: the default for the housing type).
    """

    zone: np.ndarray
    node: np.ndarray
    households_apartment: np.ndarray
    households_house: np.ndarray
    no_home_share: np.ndarray | None = None

    def evs_without_home_charging(self, cfg: ResidentialDemandConfig, /) -> np.ndarray:
        """Expected EVs without a home charger per home point (float64)."""
        per_hh = cfg.cars_per_household * cfg.ev_share
        share = cfg.no_home_charging_share
        default = per_hh * (
            self.households_apartment * share.get("apartment", 0.0)
            + self.households_house * share.get("house", 0.0)
        )
        if self.no_home_share is None:
            return default
        given = (
            per_hh
            * (self.households_apartment + self.households_house)
            * np.nan_to_num(self.no_home_share)
        )
        return np.where(np.isnan(self.no_home_share), default, given)

    def evs_with_home_charging(self, cfg: ResidentialDemandConfig, /) -> np.ndarray:
        """Expected EVs with a home charger per home point (float64): every EV of
        ``households x cars_per_household x ev_share`` that
        :meth:`evs_without_home_charging` does not count."""
        total = (
            cfg.cars_per_household
            * cfg.ev_share
            * (self.households_apartment + self.households_house)
        )
        return np.maximum(total - self.evs_without_home_charging(cfg), 0.0)

    def sessions_per_day(
        self, cfg: ResidentialDemandConfig, /, *, sessions_per_ev_day: float
    ) -> np.ndarray:
        """Expected public sessions per day per home point.

        ``sessions_per_ev_day`` comes from :func:`sessions_per_ev_day`.
        """
        if not cfg.enabled:
            return np.zeros(self.node.shape[0])
        return self.evs_without_home_charging(cfg) * sessions_per_ev_day


def home_table(region: Region, /) -> HomeTable:
    """Home points of a region from its buildings and zones.

    Households of a zone that are not in any mapped building (zones estimated from
    density, roads or user data) are placed at the zone's node.
    """
    zones = region.zones
    zone_index = {zid: i for i, zid in enumerate(zones["zone_id"].astype(str))}
    b = region.buildings
    if len(b):
        in_zone = b["zone_id"].astype(str).map(zone_index)
        ok = in_zone.notna().to_numpy()
        bz = in_zone[ok].to_numpy(dtype=np.int32)
        bnode = b["node"].to_numpy(dtype=np.int64)[ok]
        hh = b["households"].to_numpy(dtype=np.float64)[ok]
        is_house = (b["housing"].astype(str) == "house").to_numpy()[ok]
        b_apt = np.where(is_house, 0.0, hh)
        b_house = np.where(is_house, hh, 0.0)
    else:
        bz = np.empty(0, np.int32)
        bnode = np.empty(0, np.int64)
        b_apt = b_house = np.empty(0)
    n_z = len(zones)
    placed_apt = np.bincount(bz, weights=b_apt, minlength=n_z)
    placed_house = np.bincount(bz, weights=b_house, minlength=n_z)
    rest_apt = np.maximum(zones["households_apartment"].to_numpy(float) - placed_apt, 0.0)
    rest_house = np.maximum(zones["households_house"].to_numpy(float) - placed_house, 0.0)
    keep = (rest_apt + rest_house) > 1e-9
    zone = np.concatenate([bz, np.flatnonzero(keep).astype(np.int32)])
    share = None
    if "no_home_share" in zones.columns:
        share = zones["no_home_share"].to_numpy(dtype=float)[zone]
    return HomeTable(
        zone=zone,
        node=np.concatenate([bnode, zones["node"].to_numpy(dtype=np.int64)[keep]]),
        households_apartment=np.concatenate([b_apt, rest_apt[keep]]),
        households_house=np.concatenate([b_house, rest_house[keep]]),
        no_home_share=share,
    )


def _stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = np.floor(x)
    return (base + (rng.random(x.shape[0]) < (x - base))).astype(np.int64)


def _lognormal(mean: float, cv: float, size: int, rng: np.random.Generator) -> np.ndarray:
    if cv <= 0:
        return np.full(size, mean)
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def planning_draw(
    *,
    cfg: ResidentialDemandConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
    n_ev: int = 4000,
) -> Demand:
    """The trip model run on ``n_ev`` EVs of one home, none with home charging (the
    planning estimate's draw, from its own random stream so that the siting models do
    not see the evaluation replications)."""
    homes = HomeTable(
        zone=np.zeros(1, np.int32),
        node=np.zeros(1, np.int64),
        households_apartment=np.ones(1),
        households_house=np.zeros(1),
    )
    probe = cfg.model_copy(
        update={
            "cars_per_household": 1.0,
            "ev_share": 1.0,
            "no_home_charging_share": {"apartment": 1.0, "house": 1.0},
        }
    )
    return residential_demand(
        homes,
        cfg=probe,
        fleet=fleet,
        days=days,
        start_weekday=start_weekday,
        rng=rng,
        n_ev_override=n_ev,
    )


def sessions_per_ev_day(
    *,
    cfg: ResidentialDemandConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
    n_ev: int = 4000,
) -> tuple[float, float]:
    """Expected public sessions per EV and day, and mean energy per session (kWh), from
    :func:`planning_draw`."""
    d = planning_draw(
        cfg=cfg, fleet=fleet, days=days, start_weekday=start_weekday, rng=rng, n_ev=n_ev
    )
    if len(d) == 0:
        return 0.0, 0.0
    return len(d) / (n_ev * days), float(d.energy_kwh.mean())


def residential_demand(
    homes: HomeTable,
    /,
    *,
    cfg: ResidentialDemandConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
    first_vehicle_id: int = 0,
    n_ev_override: int | None = None,
) -> Demand:
    """Draw one replication of residential charging sessions.

    Parameters
    ----------
    homes
        From :func:`home_table`.
    cfg
        ``demand.residential`` of the scenario.
    fleet
        ``vehicles.fleet``; each EV draws its class by share.
    days
        Simulated days; times are minutes from 00:00 of day 1.
    start_weekday
        Weekday of day 1 (0 = Monday); days 5 and 6 of the week are weekend days.
    rng
        The replication's demand stream.
    first_vehicle_id
        Vehicle ids start here (so segments do not collide).
    n_ev_override
        Put exactly this many EVs at the first home point (for planning estimates).

    Returns
    -------
    Demand
        Sessions sorted by departure time (ties by vehicle id).
    """
    n_homes = homes.node.shape[0]
    if n_ev_override is not None:
        n_ev = np.zeros(n_homes, dtype=np.int64)
        n_ev[0] = n_ev_override
    elif cfg.enabled:
        n_ev = _stochastic_round(homes.evs_without_home_charging(cfg), rng)
    else:
        n_ev = np.zeros(n_homes, dtype=np.int64)
    home_of_ev = np.repeat(np.arange(n_homes), n_ev)
    nv = home_of_ev.shape[0]
    shares = np.array([c.share for c in fleet], dtype=float)
    klass = rng.choice(len(fleet), size=nv, p=shares / shares.sum())
    battery = np.array([c.battery_kwh for c in fleet])[klass]
    cons = np.array([c.consumption_kwh_per_km for c in fleet])[klass]
    vehicle, depart, soc_start = _daily_needs(
        cfg, battery=battery, cons=cons, days=days, start_weekday=start_weekday, rng=rng
    )
    n = vehicle.shape[0]
    patience = _lognormal(cfg.patience_min_mean, cfg.patience_min_cv, n, rng)

    order = np.lexsort((vehicle, depart))
    vehicle = vehicle[order]
    depart, soc_start, patience = depart[order], soc_start[order], patience[order]
    home = home_of_ev[vehicle]
    k = klass[vehicle]
    codes = swap_codes(fleet)
    b = battery[vehicle]
    return Demand(
        vehicle_id=(vehicle + first_vehicle_id).astype(np.int64),
        segment=np.zeros(n, dtype=np.int8),
        origin=homes.node[home],
        depart_min=depart,
        energy_kwh=(cfg.target_soc - soc_start) * b,
        patience_min=patience,
        max_ac_kw=np.array([c.max_ac_kw for c in fleet])[k],
        max_dc_kw=np.array([c.max_dc_kw for c in fleet])[k],
        battery_kwh=b,
        soc_start=soc_start,
        zone=homes.zone[home].astype(np.int32),
        od=np.full(n, -1, dtype=np.int32),
        kwh_per_km=cons[vehicle],
        exit_need_kwh=np.zeros(n),
        swap_pack=None if codes is None else codes[k],
    )


def _daily_needs(
    cfg: ResidentialDemandConfig,
    *,
    battery: np.ndarray,
    cons: np.ndarray,
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day by day, which EVs set off to charge, when (min) and at what state of charge
    (step 3 of the module's model), in day order."""
    nv = battery.shape[0]
    lo, hi = cfg.charge_below_soc
    threshold = rng.uniform(lo, hi, nv)
    soc = rng.uniform(*cfg.initial_soc, nv)
    p_wd = np.asarray(cfg.hourly_weekday, float)
    p_we = np.asarray(cfg.hourly_weekend, float)
    ev_parts, t_parts, soc_parts = [], [], []
    for day in range(days):
        weekend = (start_weekday + day) % 7 >= 5
        mean_km = cfg.daily_km_weekend_mean if weekend else cfg.daily_km_weekday_mean
        km = _lognormal(mean_km, cfg.daily_km_cv, nv, rng)
        soc = np.maximum(soc - km * cons / battery, MIN_SOC)
        opportunistic = (soc < cfg.opportunistic_below_soc) & (
            rng.random(nv) < cfg.opportunistic_prob_per_day
        )
        need = np.flatnonzero((soc < threshold) | opportunistic)
        profile = p_we if weekend else p_wd
        hour = rng.choice(24, size=need.shape[0], p=profile / profile.sum())
        minute = rng.random(need.shape[0]) * 60.0
        ev_parts.append(need)
        t_parts.append(day * 1440.0 + hour * 60.0 + minute)
        soc_parts.append(soc[need])
        soc[need] = cfg.target_soc
    if not ev_parts:
        return np.empty(0, np.int64), np.empty(0), np.empty(0)
    return np.concatenate(ev_parts), np.concatenate(t_parts), np.concatenate(soc_parts)
