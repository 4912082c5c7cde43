"""Plain data produced by the demand stage."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = ["SEGMENTS", "Demand", "merge_demand"]

#: Segment codes used in :attr:`Demand.segment`.
SEGMENTS: tuple[str, ...] = ("residential", "highway", "fleet")


@dataclass(frozen=True)
class Demand:
    """Charging sessions of one replication, sorted by departure time.

    Every array has one entry per session (a vehicle's need to charge).

    Attributes
    ----------
    vehicle_id
        int64, the vehicle (a vehicle may need several sessions over the period).
    segment
        int8 index into :data:`SEGMENTS`.
    origin
        int64 OSM node id where the driver sets off to charge.
    depart_min
        float64, departure time in minutes from the start of day 1 (00:00).
    energy_kwh
        float64, energy the driver wants to charge (kWh).
    patience_min
        float64, longest the driver waits in a queue before leaving (min).
    max_ac_kw, max_dc_kw
        float64, the vehicle's maximum AC and DC charging power (kW).
    battery_kwh
        float64, usable battery capacity (kWh).
    soc_start
        float64, state of charge on arrival at the charger (0-1).
    zone
        int32 index into the region's zones (-1 for highway sessions).
    od
        int32 index of the highway origin-destination pair (-1 for residential).
    kwh_per_km
        float64 the vehicle's consumption (kWh/km).
    exit_need_kwh
        float64 energy a highway vehicle must still have when it leaves the region
        (onward trip to its next charging place plus its reserve; 0 for residential).
    """

    vehicle_id: np.ndarray
    segment: np.ndarray
    origin: np.ndarray
    depart_min: np.ndarray
    energy_kwh: np.ndarray
    patience_min: np.ndarray
    max_ac_kw: np.ndarray
    max_dc_kw: np.ndarray
    battery_kwh: np.ndarray
    soc_start: np.ndarray
    zone: np.ndarray
    od: np.ndarray
    kwh_per_km: np.ndarray
    exit_need_kwh: np.ndarray

    def __len__(self) -> int:
        return int(self.vehicle_id.shape[0])

    @classmethod
    def empty(cls) -> Demand:
        """No sessions."""
        f = np.empty(0)
        i = np.empty(0, np.int64)
        return cls(
            vehicle_id=i, segment=np.empty(0, np.int8), origin=i, depart_min=f,
            energy_kwh=f, patience_min=f, max_ac_kw=f, max_dc_kw=f, battery_kwh=f,
            soc_start=f, zone=np.empty(0, np.int32), od=np.empty(0, np.int32),
            kwh_per_km=f, exit_need_kwh=f,
        )  # fmt: skip


def merge_demand(*parts: Demand) -> Demand:
    """Concatenate demands and sort by departure time (ties by vehicle id)."""
    parts = tuple(p for p in parts if len(p))
    if not parts:
        return Demand.empty()
    if len(parts) == 1:
        return parts[0]
    cols = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Demand)}
    order = np.lexsort((cols["vehicle_id"], cols["depart_min"]))
    return Demand(**{k: v[order] for k, v in cols.items()})
