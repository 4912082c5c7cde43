"""Home charging demand: the EVs that charge on their own charger in their compound.

Model (docs/grid.md):

1. EVs with a home charger per home point: ``households x cars_per_household x ev_share
   x (1 - no_home_charging_share)`` (:meth:`HomeTable.evs_with_home_charging`, the
   complement of the residential model's count), realised per replication by stochastic
   rounding.  Each draws its class from the fleet mix.
2. Day by day each EV drives a lognormal distance (the residential model's weekday /
   weekend means and coefficient of variation) and uses ``km x consumption``; on an
   evening it plugs in (chance ``grid.home.plug_in_prob_per_day``) it needs the energy
   driven since its last charge (at most the battery above the residential model's
   minimum state of charge).  It gets home at an hour drawn from the weekday / weekend
   arrival profile and leaves the next morning at an hour drawn from the departure
   profile, and draws ``min(grid.home.charger_kw, max_ac_kw)``.
3. The horizon repeats (a periodic week): a plug-in that ends after the last simulated
   minute wraps onto the first morning, so the first night is not empty.  A stay is cut
   at the same EV's next arrival.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.schema import HomeChargingConfig, ResidentialDemandConfig, VehicleClassConfig
from sim.demand.residential import MIN_SOC, HomeTable, _lognormal, _stochastic_round

__all__ = ["HomeSessions", "home_sessions"]


@dataclass(frozen=True)
class HomeSessions:
    """One row per plug-in at a home charger.

    Attributes
    ----------
    ev
        int64 index of the EV (0 .. ``n_ev - 1``).
    zone
        int32 index into ``region.zones`` (the compound).
    arrive_min
        float64 minute the EV plugs in, from 00:00 of day 1, in ``[0, horizon_min)``.
    depart_min
        float64 minute it leaves (``> arrive_min``; past ``horizon_min`` it wraps onto
        the start of the horizon).
    energy_kwh
        float64 energy it needs (kWh).
    power_kw
        float64 the most it can draw (kW): the home charger or the car's AC limit.
    horizon_min
        Length of the simulated horizon (min).
    n_ev
        EVs with a home charger (some may never plug in).
    """

    ev: np.ndarray
    zone: np.ndarray
    arrive_min: np.ndarray
    depart_min: np.ndarray
    energy_kwh: np.ndarray
    power_kw: np.ndarray
    horizon_min: float
    n_ev: int

    def __len__(self) -> int:
        return int(self.ev.shape[0])


def _profile(weights: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return p / p.sum()


def home_sessions(
    homes: HomeTable,
    /,
    *,
    residential: ResidentialDemandConfig,
    home: HomeChargingConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    start_weekday: int,
    rng: np.random.Generator,
) -> HomeSessions:
    """Draw one replication of home plug-ins (the module's model).

    Parameters
    ----------
    homes
        From :func:`sim.demand.residential.home_table`.
    residential
        ``demand.residential``: households' cars, EV share, home-charger shares and the
        trip model (daily km).
    home
        ``grid.home``: charger power, plug-in chance, arrival and departure hours.
    fleet
        ``vehicles.fleet``; each EV draws its class by share.
    days
        Simulated days; times are minutes from 00:00 of day 1.
    start_weekday
        Weekday of day 1 (0 = Monday); days 5 and 6 of the week are weekend days.
    rng
        The replication's home-charging stream, e.g. ``stream(seed, rep, "home-charging")``.

    Returns
    -------
    HomeSessions
        Sorted by EV, then arrival.
    """
    n_ev = _stochastic_round(homes.evs_with_home_charging(residential), rng)
    home_of_ev = np.repeat(np.arange(homes.node.shape[0]), n_ev)
    nv = int(home_of_ev.shape[0])
    shares = np.array([c.share for c in fleet], dtype=float)
    klass = rng.choice(len(fleet), size=nv, p=shares / shares.sum())
    battery = np.array([c.battery_kwh for c in fleet])[klass]
    cons = np.array([c.consumption_kwh_per_km for c in fleet])[klass]
    power = np.minimum(np.array([c.max_ac_kw for c in fleet])[klass], home.charger_kw)
    dep_p = _profile(home.departure_hourly)
    need = np.zeros(nv)
    ev_parts, arr_parts, dep_parts, e_parts = [], [], [], []
    for day in range(days):
        weekend = (start_weekday + day) % 7 >= 5
        mean_km = (
            residential.daily_km_weekend_mean if weekend else residential.daily_km_weekday_mean
        )
        km = _lognormal(mean_km, residential.daily_km_cv, nv, rng)
        need = np.minimum(need + km * cons, battery * (1.0 - MIN_SOC))
        plug = np.flatnonzero(rng.random(nv) < home.plug_in_prob_per_day)
        arr_p = _profile(home.arrival_hourly_weekend if weekend else home.arrival_hourly_weekday)
        arr_h = rng.choice(24, size=plug.shape[0], p=arr_p)
        dep_h = rng.choice(24, size=plug.shape[0], p=dep_p)
        u = rng.random((2, plug.shape[0])) * 60.0
        ev_parts.append(plug)
        arr_parts.append(day * 1440.0 + arr_h * 60.0 + u[0])
        dep_parts.append((day + 1) * 1440.0 + dep_h * 60.0 + u[1])
        e_parts.append(need[plug].copy())
        need[plug] = 0.0
    horizon = days * 1440.0
    ev = np.concatenate(ev_parts) if ev_parts else np.empty(0, np.int64)
    arrive = np.concatenate(arr_parts) if arr_parts else np.empty(0)
    depart = np.concatenate(dep_parts) if dep_parts else np.empty(0)
    energy = np.concatenate(e_parts) if e_parts else np.empty(0)
    order = np.lexsort((arrive, ev))
    ev, arrive, depart, energy = ev[order], arrive[order], depart[order], energy[order]
    depart = np.minimum(depart, _next_arrival(ev, arrive, horizon))
    return HomeSessions(
        ev=ev.astype(np.int64),
        zone=homes.zone[home_of_ev[ev]].astype(np.int32),
        arrive_min=arrive,
        depart_min=depart,
        energy_kwh=energy,
        power_kw=power[ev],
        horizon_min=horizon,
        n_ev=nv,
    )


def _next_arrival(ev: np.ndarray, arrive: np.ndarray, horizon: float) -> np.ndarray:
    """The same EV's next arrival after each plug-in (sorted by EV, then arrival); after
    its last one, its first arrival in the next repetition of the horizon."""
    n = ev.shape[0]
    if n == 0:
        return np.empty(0)
    nxt = np.empty(n)
    nxt[:-1] = arrive[1:]
    last = np.ones(n, dtype=bool)
    last[:-1] = ev[1:] != ev[:-1]
    first_idx = np.flatnonzero(np.r_[True, ev[1:] != ev[:-1]])
    first_of = np.repeat(first_idx, np.diff(np.r_[first_idx, n]))
    nxt[last] = arrive[first_of[last]] + horizon
    return nxt
