"""Fleet demand: taxis, ride-hailing cars, logistics vans and public-sector vehicles that
work in shifts and charge when their battery runs low.

The shift model, per vehicle and duty period (``demand.fleets[].shifts``):

- on duty the vehicle drives its day's distance (lognormal around ``daily_km_mean``)
  spread evenly over the day's duty minutes, so its state of charge falls linearly;
- when it reaches the vehicle's threshold (drawn from ``charge_below_soc``) it sets off
  to charge, from a point of its working area, to ``target_soc``, and drives on (the
  simulation, not this model, says how long the charging takes);
- near the end of a duty period it charges if it would end the period below
  ``between_shifts_below_soc``: it sets off at a uniform time in the period's last
  ``between_shifts_window_min`` minutes (so a fleet's drivers do not all arrive at the
  same minute) and drives the rest of the period after charging.

The working area is the region's road nodes weighted by the households of the zones
around them (where fares and deliveries start), or the points of ``hotspots_file``.
Everything is drawn from the replication's own random stream, vectorised over vehicles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.config.schema import FleetConfig, VehicleClassConfig
from sim.demand.model import SEGMENTS, Demand, merge_demand, swap_codes
from sim.demand.residential import HomeTable

__all__ = [
    "FLEET_SEGMENT",
    "FleetArea",
    "FleetRoster",
    "all_fleets_demand",
    "duty_periods",
    "fleet_demand",
    "fleet_size",
]

#: Segment code of fleet sessions in :attr:`Demand.segment`.
FLEET_SEGMENT = SEGMENTS.index("fleet")


@dataclass(frozen=True)
class FleetArea:
    """Where a fleet's charging needs arise.

    Attributes
    ----------
    node
        int64 OSM road nodes.
    weight
        float64 relative weight of each node (> 0 somewhere).
    zone
        int32 zone index of each node (-1: none).
    """

    node: np.ndarray
    weight: np.ndarray
    zone: np.ndarray

    @classmethod
    def from_homes(cls, homes: HomeTable, /) -> FleetArea:
        """Road nodes weighted by the households living around them."""
        w = homes.households_apartment + homes.households_house
        return cls(node=homes.node, weight=np.asarray(w, float), zone=homes.zone)


@dataclass(frozen=True)
class FleetRoster:
    """Which vehicles of a replication's demand belong to a fleet.

    Attributes
    ----------
    name
        The fleet's name.
    first_vehicle_id
        Its vehicles are ``first_vehicle_id .. first_vehicle_id + vehicles - 1``.
    vehicles
        Its size.
    hourly_earning_cny
        What an hour of its drivers' working time earns (CNY).
    """

    name: str
    first_vehicle_id: int
    vehicles: int
    hourly_earning_cny: float


@dataclass(frozen=True)
class _Vehicles:
    """Per-vehicle attributes of a fleet, from the classes each vehicle drew."""

    battery_kwh: np.ndarray
    kwh_per_km: np.ndarray
    max_ac_kw: np.ndarray
    max_dc_kw: np.ndarray
    swap_pack: np.ndarray | None

    @classmethod
    def draw(
        cls, cfg: FleetConfig, classes: list[VehicleClassConfig], n: int, rng: np.random.Generator
    ) -> _Vehicles:
        by_name = {c.name: c for c in classes}
        mine = [by_name[name] for name in cfg.vehicle_classes]
        shares = np.array(list(cfg.vehicle_classes.values()), float)
        k = rng.choice(len(mine), size=n, p=shares / shares.sum())
        codes = swap_codes(classes)
        packs = None
        if codes is not None:
            index = {c.name: i for i, c in enumerate(classes)}
            packs = codes[[index[c.name] for c in mine]][k]
        return cls(
            battery_kwh=np.array([c.battery_kwh for c in mine])[k],
            kwh_per_km=np.array([c.consumption_kwh_per_km for c in mine])[k],
            max_ac_kw=np.array([c.max_ac_kw for c in mine])[k],
            max_dc_kw=np.array([c.max_dc_kw for c in mine])[k],
            swap_pack=packs,
        )


def fleet_size(cfg: FleetConfig, /, *, private_cars: float) -> int:
    """Vehicles in a fleet: ``vehicles``, or ``share_of_cars`` x the region's cars."""
    if cfg.vehicles is not None:
        return int(cfg.vehicles)
    assert cfg.share_of_cars is not None  # the schema requires one of them
    return round(cfg.share_of_cars * private_cars)


def duty_periods(cfg: FleetConfig, /, *, days: int) -> np.ndarray:
    """Duty periods over the simulated days, in time order.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_periods, 2)`` start and end (min from 00:00 of day 1); a period
        that runs past midnight ends on the next day (or past the horizon).
    """
    starts = np.array([s for s, _ in cfg.shifts], float)
    lengths = np.mod(np.array([e for _, e in cfg.shifts], float) - starts, 24.0)
    order = np.argsort(starts, kind="stable")
    starts, lengths = starts[order], lengths[order]
    day = np.repeat(np.arange(days, dtype=float), starts.shape[0])
    start = day * 1440.0 + np.tile(starts, days) * 60.0
    return np.column_stack([start, start + np.tile(lengths, days) * 60.0])


def _needs_in_period(
    soc: np.ndarray,
    *,
    start: float,
    end: float,
    rate: np.ndarray,
    threshold: np.ndarray,
    target: float,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Charging needs during one duty period; updates ``soc`` to its value at the end.

    ``rate`` is each vehicle's state of charge used per minute on duty.  Returns the
    vehicles, times (min) and states of charge of the needs, in rounds (a vehicle may
    need more than one charge in a long period), and each vehicle's last charge time in
    the period (``start`` if none).
    """
    vehicles, times, socs = [], [], []
    now = np.full(soc.shape[0], start)
    active = np.flatnonzero(rate > 0)
    while active.size:
        hit = now[active] + np.maximum(soc[active] - threshold[active], 0.0) / rate[active]
        due = hit < end
        idx, t = active[due], hit[due]
        if idx.size == 0:
            break
        vehicles.append(idx)
        times.append(t)
        socs.append(np.minimum(soc[idx], threshold[idx]))
        soc[idx] = target
        now[idx] = t
        active = idx
    soc -= rate * (end - now)
    return vehicles, times, socs, now


def fleet_demand(
    cfg: FleetConfig,
    /,
    *,
    area: FleetArea,
    vehicle_classes: list[VehicleClassConfig],
    n_vehicles: int,
    days: int,
    rng: np.random.Generator,
    first_vehicle_id: int = 0,
) -> Demand:
    """Draw one replication of a fleet's charging sessions.

    Parameters
    ----------
    cfg
        One entry of ``demand.fleets``.
    area
        Where its needs arise (:meth:`FleetArea.from_homes` or the hotspots).
    vehicle_classes
        ``vehicles.fleet``; ``cfg.vehicle_classes`` names some of them.
    n_vehicles
        Fleet size (:func:`fleet_size`).
    days
        Simulated days; times are minutes from 00:00 of day 1.
    rng
        The fleet's stream for this replication.
    first_vehicle_id
        Vehicle ids start here (so fleets and segments do not collide).

    Returns
    -------
    Demand
        Sessions (segment ``fleet``) departing within the simulated period, sorted by
        departure time (ties by vehicle id).
    """
    n = n_vehicles
    vehicles = _Vehicles.draw(cfg, vehicle_classes, n, rng)
    threshold = rng.uniform(*cfg.charge_below_soc, n)
    soc = rng.uniform(*cfg.initial_soc, n)
    periods = duty_periods(cfg, days=days)
    per_day = periods.shape[0] // days
    duty_min = float((periods[:per_day, 1] - periods[:per_day, 0]).sum())
    sigma2 = np.log1p(cfg.daily_km_cv**2)
    vehicles_hit: list[np.ndarray] = []
    times: list[np.ndarray] = []
    socs: list[np.ndarray] = []
    for p, (start, end) in enumerate(periods.tolist()):
        if p % per_day == 0:  # a new day: its distance
            km = rng.lognormal(np.log(cfg.daily_km_mean) - sigma2 / 2, np.sqrt(sigma2), n)
            rate = km * vehicles.kwh_per_km / vehicles.battery_kwh / duty_min
        v, t, s, last = _needs_in_period(
            soc, start=start, end=end, rate=rate, threshold=threshold, target=cfg.target_soc
        )
        vehicles_hit += v
        times += t
        socs += s
        # below between_shifts_below_soc at the end: it goes to charge at a uniform time in
        # the period's last between_shifts_window_min (after its last charge), and drives
        # the rest of the period after charging
        low = np.flatnonzero(soc < cfg.between_shifts_below_soc)
        early = rng.random(low.shape[0]) * np.minimum(
            cfg.between_shifts_window_min, end - last[low]
        )
        vehicles_hit.append(low)
        times.append(end - early)
        socs.append(soc[low] + rate[low] * early)
        soc[low] = cfg.target_soc - rate[low] * early
    needs = (np.concatenate(vehicles_hit), np.concatenate(times), np.concatenate(socs))
    return _as_demand(
        cfg,
        needs,
        vehicles=vehicles,
        area=area,
        horizon_min=days * 1440.0,
        rng=rng,
        first_vehicle_id=first_vehicle_id,
    )


def _as_demand(
    cfg: FleetConfig,
    needs: tuple[np.ndarray, np.ndarray, np.ndarray],
    /,
    *,
    vehicles: _Vehicles,
    area: FleetArea,
    horizon_min: float,
    rng: np.random.Generator,
    first_vehicle_id: int,
) -> Demand:
    """The needs ``(vehicle, depart_min, soc)`` as sessions: origins drawn from the
    working area, patience."""
    vehicle, depart, soc_start = needs
    keep = depart < horizon_min
    vehicle, depart, soc_start = vehicle[keep], depart[keep], np.maximum(soc_start[keep], 0.0)
    order = np.lexsort((vehicle, depart))
    vehicle, depart, soc_start = vehicle[order], depart[order], soc_start[order]
    m = vehicle.shape[0]
    where = rng.choice(area.node.shape[0], size=m, p=area.weight / area.weight.sum())
    if cfg.patience_min_cv > 0:
        sigma2 = np.log1p(cfg.patience_min_cv**2)
        mu = np.log(cfg.patience_min_mean) - sigma2 / 2
        patience = rng.lognormal(mu, np.sqrt(sigma2), m)
    else:
        patience = np.full(m, cfg.patience_min_mean)
    battery = vehicles.battery_kwh[vehicle]
    return Demand(
        vehicle_id=(vehicle + first_vehicle_id).astype(np.int64),
        segment=np.full(m, FLEET_SEGMENT, dtype=np.int8),
        origin=area.node[where].astype(np.int64),
        depart_min=depart,
        energy_kwh=(cfg.target_soc - soc_start) * battery,
        patience_min=patience,
        max_ac_kw=vehicles.max_ac_kw[vehicle],
        max_dc_kw=vehicles.max_dc_kw[vehicle],
        battery_kwh=battery,
        soc_start=soc_start,
        zone=area.zone[where].astype(np.int32),
        od=np.full(m, -1, dtype=np.int32),
        kwh_per_km=vehicles.kwh_per_km[vehicle],
        exit_need_kwh=np.zeros(m),
        swap_pack=None if vehicles.swap_pack is None else vehicles.swap_pack[vehicle],
    )


def all_fleets_demand(
    fleets: Sequence[FleetConfig],
    /,
    *,
    area: FleetArea,
    vehicle_classes: list[VehicleClassConfig],
    private_cars: float,
    days: int,
    rngs: Sequence[np.random.Generator],
    first_vehicle_id: int,
) -> tuple[Demand, tuple[FleetRoster, ...]]:
    """Every fleet's sessions of one replication, and which vehicles are whose.

    Parameters
    ----------
    fleets
        ``demand.fleets``.
    area
        Where their needs arise.
    vehicle_classes
        ``vehicles.fleet``.
    private_cars
        The region's private cars (for ``share_of_cars``).
    days
        Simulated days.
    rngs
        One stream per fleet (``fleets`` order).
    first_vehicle_id
        The first fleet's vehicle ids start here; each next fleet's after it.
    """
    parts, rosters = [], []
    first = first_vehicle_id
    for cfg, rng in zip(fleets, rngs, strict=True):
        n = fleet_size(cfg, private_cars=private_cars)
        parts.append(
            fleet_demand(
                cfg,
                area=area,
                vehicle_classes=vehicle_classes,
                n_vehicles=n,
                days=days,
                rng=rng,
                first_vehicle_id=first,
            )
        )
        rosters.append(FleetRoster(cfg.name, first, n, cfg.hourly_earning_cny))
        first += n
    return merge_demand(*parts), tuple(rosters)
