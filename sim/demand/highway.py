"""Highway through-traffic: EVs entering at a gate, leaving at another, some needing to
charge on the way.

Model (documented in docs/model.md):

1. Origin-destination pairs: every entry gate to every exit gate reachable from it,
   except pairs closer than :data:`MIN_OD_KM` (a U-turn at the same boundary point).
2. Flows: vehicles per hour per pair from ``flows`` (or split evenly from
   ``vehicles_per_hour``), shaped by the ``hourly`` profile, or hour by hour from a CSV
   of counts; multiplied on holiday days; ``ev_share`` of them are EVs.  Arrivals are
   Poisson within each hour.
3. Each EV draws its class from the fleet, a state of charge on entry and the distance
   after the exit to the next place it can charge.  It needs to charge inside the
   region when the energy it has on entry, less the energy of its route through the
   region, is below the energy of that onward trip plus its reserve.  Only those EVs
   become sessions; the simulation decides where they charge, and whether they run flat.
   Highway consumption is the fleet's figure times :data:`HIGHWAY_CONSUMPTION_FACTOR`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.access.network import RoadNetwork, travel_time_matrix
from sim.config import HighwayDemandConfig, VehicleClassConfig
from sim.demand.model import Demand, swap_codes
from sim.errors import DataError
from sim.region.gates import Gates

__all__ = ["HIGHWAY_CONSUMPTION_FACTOR", "HighwayODs", "highway_demand", "highway_ods"]

#: Pairs of gates closer than this (km, straight line) are not a through trip.
MIN_OD_KM = 2.0
#: Energy use at expressway speeds relative to the fleet's (mixed-driving) figure.
HIGHWAY_CONSUMPTION_FACTOR = 1.25


@dataclass(frozen=True)
class HighwayODs:
    """Static origin-destination pairs of through-traffic.

    Attributes
    ----------
    entry, exit
        int64 indices into the gates.
    entry_node, exit_node
        int64 graph nodes.
    route_min, route_km
        float64 fastest route through the region (min, km).
    hourly_vph
        ``(n_od, 24)`` vehicles per hour (all vehicles) on an ordinary day.
    gates
        The gates.
    """

    entry: np.ndarray
    exit: np.ndarray
    entry_node: np.ndarray
    exit_node: np.ndarray
    route_min: np.ndarray
    route_km: np.ndarray
    hourly_vph: np.ndarray
    gates: Gates

    def __len__(self) -> int:
        return int(self.entry.shape[0])

    def label(self, k: int, /) -> str:
        """``"entry -> exit"`` of pair ``k``."""
        return f"{self.gates.name[self.entry[k]]} -> {self.gates.name[self.exit[k]]}"


def _read_counts(path: Path, names: set[str]) -> dict[tuple[str, str], np.ndarray]:
    counts: dict[tuple[str, str], np.ndarray] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            need = {"origin", "destination", "hour", "vehicles"}
            if reader.fieldnames is None or not need <= set(reader.fieldnames):
                raise DataError(
                    f"{path.name}: needs the columns origin,destination,hour,vehicles "
                    f"(found {reader.fieldnames})"
                )
            for row_no, row in enumerate(reader, start=2):
                o, d = row["origin"].strip(), row["destination"].strip()
                for key, gate in (("origin", o), ("destination", d)):
                    if gate not in names:
                        raise DataError(
                            f"{path.name} row {row_no}: {key} = {gate!r} is not a gate "
                            f"({', '.join(sorted(names))})"
                        )
                try:
                    hour = int(row["hour"])
                    vehicles = float(row["vehicles"])
                except (TypeError, ValueError):
                    raise DataError(
                        f"{path.name} row {row_no}: hour = {row['hour']!r}, vehicles = "
                        f"{row['vehicles']!r}: expected an integer hour and a number"
                    ) from None
                if not 0 <= hour <= 23 or not (vehicles >= 0 and np.isfinite(vehicles)):
                    raise DataError(
                        f"{path.name} row {row_no}: hour = {hour} must be 0-23 and "
                        f"vehicles = {vehicles} >= 0"
                    )
                counts.setdefault((o, d), np.zeros(24))[hour] += vehicles
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path.name}: not a UTF-8 text CSV file") from None
    return counts


def highway_ods(
    gates: Gates,
    /,
    *,
    time_net: RoadNetwork,
    length_net: RoadNetwork,
    cfg: HighwayDemandConfig,
) -> HighwayODs:
    """Origin-destination pairs with their routes and hourly flows.

    Parameters
    ----------
    gates
        Entry and exit gates.
    time_net, length_net
        The road network weighted by travel time (s) and by length (m).
    cfg
        ``demand.highway``.

    Raises
    ------
    DataError
        A bad counts file (naming the row).
    """
    ent = np.flatnonzero(gates.entry)
    ext = np.flatnonzero(gates.exit)
    if ent.size == 0 or ext.size == 0:
        return _no_ods(gates)
    t = travel_time_matrix(time_net, gates.node[ent], gates.node[ext]) / 60.0
    km = travel_time_matrix(length_net, gates.node[ent], gates.node[ext]) / 1000.0
    pairs = []
    for a, i in enumerate(ent):
        for b, j in enumerate(ext):
            straight = np.hypot(gates.x[i] - gates.x[j], gates.y[i] - gates.y[j]) / 1000.0
            if i != j and np.isfinite(t[a, b]) and straight >= MIN_OD_KM:
                pairs.append((int(i), int(j), float(t[a, b]), float(km[a, b])))
    if not pairs:
        return _no_ods(gates)
    entry, exit_, route_min, route_km = (np.array(c) for c in zip(*pairs, strict=True))
    shape = np.asarray(cfg.hourly, float)
    shape = shape / shape.sum() * 24.0  # mean 1 over the day
    names = gates.name
    if cfg.flows_file is not None:
        counts = _read_counts(cfg.flows_file, set(names))
        vph = np.array(
            [
                counts.get((names[i], names[j]), np.zeros(24))
                for i, j in zip(entry, exit_, strict=True)
            ]
        )
    elif cfg.flows is not None:
        by_pair = {(f.origin, f.destination): f.vehicles_per_hour for f in cfg.flows}
        vph = (
            np.array(
                [by_pair.get((names[i], names[j]), 0.0) for i, j in zip(entry, exit_, strict=True)]
            )[:, None]
            * shape[None, :]
        )
    else:
        vph = np.full((len(pairs), 24), cfg.vehicles_per_hour / len(pairs)) * shape[None, :]
    return HighwayODs(
        entry=entry.astype(np.int64),
        exit=exit_.astype(np.int64),
        entry_node=gates.node[entry.astype(np.int64)],
        exit_node=gates.node[exit_.astype(np.int64)],
        route_min=route_min.astype(float),
        route_km=route_km.astype(float),
        hourly_vph=vph.astype(float),
        gates=gates,
    )


def _no_ods(gates: Gates) -> HighwayODs:
    e = np.empty(0, np.int64)
    return HighwayODs(e, e, e, e, np.empty(0), np.empty(0), np.empty((0, 24)), gates)


def _lognormal(mean: float, cv: float, size: int, rng: np.random.Generator) -> np.ndarray:
    if cv <= 0:
        return np.full(size, mean)
    s2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size)


def day_multipliers(cfg: HighwayDemandConfig, days: int, /) -> np.ndarray:
    """Flow multiplier of each simulated day (holidays surge)."""
    mult = np.ones(days)
    if cfg.holiday is not None:
        for d in cfg.holiday.days:
            mult[d - 1] = cfg.holiday.multiplier
    return mult


def highway_demand(
    ods: HighwayODs,
    /,
    *,
    cfg: HighwayDemandConfig,
    fleet: list[VehicleClassConfig],
    days: int,
    rng: np.random.Generator,
    first_vehicle_id: int,
) -> tuple[Demand, int]:
    """Draw one replication of through-traffic EVs that must charge in the region.

    Parameters
    ----------
    ods
        From :func:`highway_ods`.
    cfg
        ``demand.highway``.
    fleet
        ``vehicles.fleet``.
    days
        Simulated days.
    rng
        The replication's highway stream.
    first_vehicle_id
        Vehicle ids start here.

    Returns
    -------
    demand, n_through
        The sessions (segment 1, ``od`` set) and the number of EVs that passed through
        in all (those that did not need to charge included).
    """
    if not cfg.enabled or len(ods) == 0:
        return Demand.empty(), 0
    mult = day_multipliers(cfg, days)
    lam = ods.hourly_vph[:, None, :] * mult[None, :, None] * cfg.ev_share  # (od, day, hour)
    counts = rng.poisson(lam)
    od, day, hour = np.nonzero(counts)
    reps = counts[od, day, hour]
    od = np.repeat(od, reps)
    t = np.repeat(day * 1440.0 + hour * 60.0, reps) + rng.random(reps.sum()) * 60.0
    n = od.shape[0]
    shares = np.array([c.share for c in fleet], dtype=float)
    klass = rng.choice(len(fleet), size=n, p=shares / shares.sum())
    battery = np.array([c.battery_kwh for c in fleet])[klass]
    cons = np.array([c.consumption_kwh_per_km for c in fleet])[klass] * HIGHWAY_CONSUMPTION_FACTOR
    soc = rng.uniform(*cfg.soc_entry, n)
    onward = _lognormal(cfg.onward_km_mean, cfg.onward_km_cv, n, rng)
    patience = _lognormal(cfg.patience_min_mean, cfg.patience_min_cv, n, rng)
    exit_need = onward * cons + cfg.reserve_soc * battery
    needs = soc * battery - ods.route_km[od] * cons < exit_need
    keep = np.flatnonzero(needs)
    order = keep[np.lexsort((keep, t[keep]))]
    m = order.shape[0]
    k = klass[order]
    target = np.minimum(
        np.maximum(cfg.target_soc * battery[order], exit_need[order] + 0.0), battery[order]
    )
    demand = Demand(
        vehicle_id=(first_vehicle_id + np.arange(m)).astype(np.int64),
        segment=np.ones(m, dtype=np.int8),
        origin=ods.entry_node[od[order]],
        depart_min=t[order],
        # energy to reach the charging target from the entry state of charge; the
        # simulation charges what is missing on arrival at the charger
        energy_kwh=np.maximum(target - soc[order] * battery[order], 0.0),
        patience_min=patience[order],
        max_ac_kw=np.array([c.max_ac_kw for c in fleet])[k],
        max_dc_kw=np.array([c.max_dc_kw for c in fleet])[k],
        battery_kwh=battery[order],
        soc_start=soc[order],
        zone=np.full(m, -1, dtype=np.int32),
        od=od[order].astype(np.int32),
        kwh_per_km=cons[order],
        exit_need_kwh=exit_need[order],
        swap_pack=_packs(fleet, k),
    )
    return demand, n


def _packs(fleet: list[VehicleClassConfig], klass: np.ndarray, /) -> np.ndarray | None:
    """Swap-pack codes of vehicles of the given classes (``None``: no class swaps)."""
    codes = swap_codes(fleet)
    return None if codes is None else codes[klass]
