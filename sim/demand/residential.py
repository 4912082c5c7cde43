"""Residential charging demand: residents whose EV cannot charge at home.

Model (first version, documented in docs/model.md):

1. Homes: every residential building is a home point at its nearest road node with its
   estimated households (apartment / house); zone households not placed in mapped
   buildings (density fallbacks) sit at the zone's node.
2. EVs without home charging per home point:
   ``households x cars_per_household x ev_share x no_home_charging_share[housing]``,
   realised per replication by stochastic rounding (the expectation is kept exactly).
3. Each such EV needs ``Poisson(public_charges_per_week x days / 7)`` public sessions,
   on uniformly drawn days, at an hour drawn from the weekday or weekend profile.
4. Energy per session is gamma distributed (mean, CV), limited so that the vehicle
   arrives with at least 5% state of charge and leaves at 80%; patience is lognormal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import ResidentialDemandConfig, VehicleClassConfig
from sim.demand.model import Demand
from sim.region.model import Region

__all__ = ["HomeTable", "home_table", "residential_demand"]

#: State of charge drivers charge up to at a public charger (0-1).
TARGET_SOC = 0.8
#: Lowest state of charge a resident lets the battery reach before charging (0-1).
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
    """

    zone: np.ndarray
    node: np.ndarray
    households_apartment: np.ndarray
    households_house: np.ndarray

    def evs_without_home_charging(self, cfg: ResidentialDemandConfig, /) -> np.ndarray:
        """Expected EVs without a home charger per home point (float64)."""
        per_hh = cfg.cars_per_household * cfg.ev_share
        share = cfg.no_home_charging_share
        return per_hh * (
            self.households_apartment * share.get("apartment", 0.0)
            + self.households_house * share.get("house", 0.0)
        )

    def sessions_per_day(self, cfg: ResidentialDemandConfig, /) -> np.ndarray:
        """Expected public sessions per day per home point."""
        if not cfg.enabled:
            return np.zeros(self.node.shape[0])
        return self.evs_without_home_charging(cfg) * cfg.public_charges_per_week / 7.0


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
    return HomeTable(
        zone=np.concatenate([bz, np.flatnonzero(keep).astype(np.int32)]),
        node=np.concatenate([bnode, zones["node"].to_numpy(dtype=np.int64)[keep]]),
        households_apartment=np.concatenate([b_apt, rest_apt[keep]]),
        households_house=np.concatenate([b_house, rest_house[keep]]),
    )


def _stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = np.floor(x)
    return (base + (rng.random(x.shape[0]) < (x - base))).astype(np.int64)


def _lognormal(mean: float, cv: float, size: int, rng: np.random.Generator) -> np.ndarray:
    if cv <= 0:
        return np.full(size, mean)
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


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
        Weekday of day 1 (0 = Monday); days 5 and 6 use the weekend profile.
    rng
        The replication's demand stream.
    first_vehicle_id
        Vehicle ids start here (so segments do not collide).

    Returns
    -------
    Demand
        Sessions sorted by departure time (ties by vehicle id).
    """
    n_ev = _stochastic_round(homes.evs_without_home_charging(cfg), rng) if cfg.enabled else (
        np.zeros(homes.node.shape[0], dtype=np.int64)
    )
    home_of_ev = np.repeat(np.arange(homes.node.shape[0]), n_ev)
    n_vehicles = home_of_ev.shape[0]
    shares = np.array([c.share for c in fleet], dtype=float)
    klass = rng.choice(len(fleet), size=n_vehicles, p=shares / shares.sum())
    per_ev = rng.poisson(cfg.public_charges_per_week * days / 7.0, size=n_vehicles)
    vehicle = np.repeat(np.arange(n_vehicles), per_ev)
    n = vehicle.shape[0]

    day = rng.integers(0, days, size=n)
    weekday = (start_weekday + day) % 7
    p_wd = np.asarray(cfg.hourly_weekday, float)
    p_we = np.asarray(cfg.hourly_weekend, float)
    hour = np.where(
        weekday >= 5,
        rng.choice(24, size=n, p=p_we / p_we.sum()),
        rng.choice(24, size=n, p=p_wd / p_wd.sum()),
    )
    depart = day * 1440.0 + hour * 60.0 + rng.random(n) * 60.0

    battery = np.array([c.battery_kwh for c in fleet])[klass][vehicle]
    shape = 1.0 / max(cfg.energy_kwh_cv, 1e-6) ** 2
    energy = rng.gamma(shape, cfg.energy_kwh_mean / shape, size=n)
    energy = np.clip(energy, 1.0, battery * (TARGET_SOC - MIN_SOC))
    patience = _lognormal(cfg.patience_min_mean, cfg.patience_min_cv, n, rng)

    order = np.lexsort((vehicle, depart))
    vehicle, depart, energy, patience, battery = (
        a[order] for a in (vehicle, depart, energy, patience, battery)
    )
    home = home_of_ev[vehicle]
    k = klass[vehicle]
    return Demand(
        vehicle_id=(vehicle + first_vehicle_id).astype(np.int64),
        segment=np.zeros(n, dtype=np.int8),
        origin=homes.node[home],
        depart_min=depart,
        energy_kwh=energy,
        patience_min=patience,
        max_ac_kw=np.array([c.max_ac_kw for c in fleet])[k],
        max_dc_kw=np.array([c.max_dc_kw for c in fleet])[k],
        battery_kwh=battery,
        soc_start=TARGET_SOC - energy / battery,
        zone=homes.zone[home].astype(np.int32),
    )
