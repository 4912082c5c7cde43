"""Plain data produced by the demand stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from sim.config import VehicleClassConfig

__all__ = ["SEGMENTS", "Demand", "merge_demand", "pack_types", "swap_codes"]

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
    swap_pack
        int16 index into :func:`pack_types` of the pack the vehicle can swap (-1: it
        cannot swap); ``None`` when no vehicle class can swap.
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
    swap_pack: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.vehicle_id.shape[0])

    def take(self, index: np.ndarray, /) -> Demand:
        """The sessions at ``index`` (int positions or a bool mask), in that order."""
        cols: dict[str, np.ndarray] = {
            f.name: getattr(self, f.name)[index] for f in fields(Demand) if f.name != "swap_pack"
        }
        pack = None if self.swap_pack is None else self.swap_pack[index]
        return Demand(**cols, swap_pack=pack)

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


def pack_types(fleet: Sequence[VehicleClassConfig], /) -> tuple[str, ...]:
    """The pack types vehicles can swap (sorted): the codes of :attr:`Demand.swap_pack`."""
    return tuple(sorted({c.swap_pack for c in fleet if c.swap_pack is not None}))


def swap_codes(fleet: Sequence[VehicleClassConfig], /) -> np.ndarray | None:
    """int16 :attr:`Demand.swap_pack` code of each class of ``fleet`` (-1: cannot swap);
    ``None`` when no class can swap."""
    types = pack_types(fleet)
    if not types:
        return None
    return np.array(
        [types.index(c.swap_pack) if c.swap_pack is not None else -1 for c in fleet], np.int16
    )


def merge_demand(*parts: Demand) -> Demand:
    """Concatenate demands and sort by departure time (ties by vehicle id)."""
    parts = tuple(p for p in parts if len(p))
    if not parts:
        return Demand.empty()
    if len(parts) == 1:
        return parts[0]
    if all(p.swap_pack is None for p in parts):
        names = [f.name for f in fields(Demand) if f.name != "swap_pack"]
    else:
        parts = tuple(
            p if p.swap_pack is not None else replace(p, swap_pack=np.full(len(p), -1, np.int16))
            for p in parts
        )
        names = [f.name for f in fields(Demand)]
    cols = {name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
    order = np.lexsort((cols["vehicle_id"], cols["depart_min"]))
    return Demand(**{k: v[order] for k, v in cols.items()})
