"""Plain data produced by the demand stage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SEGMENTS", "Demand"]

#: Segment codes used in :attr:`Demand.segment`.
SEGMENTS: tuple[str, ...] = ("residential", "highway")


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

    def __len__(self) -> int:
        return int(self.vehicle_id.shape[0])

    @property
    def n_sessions(self) -> int:
        """Number of sessions."""
        return len(self)
