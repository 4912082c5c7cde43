"""Time-of-use tariffs: the price of each step, the cost of a charging session, the mean
price per kWh by segment.

A session's energy is assumed spread evenly over its charging interval ``[start_min,
end_min)`` (constant power: the taper near a full battery is ignored), so its energy cost
is ``energy x`` the time-mean price over the interval.  Public sessions also pay the
service fee per kWh; home sessions pay the energy price only.  The tariff repeats every
day (``grid.tariff.bands``: one band per hour).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.schema import TariffConfig
from sim.grid.compounds import STEP_MIN

__all__ = ["hourly_prices", "mean_price_per_kwh", "session_cost", "step_prices"]


def hourly_prices(tariff: TariffConfig, /) -> np.ndarray:
    """float64 ``(24,)`` energy price of each hour of the day (CNY/kWh)."""
    by_band = {
        "peak": tariff.peak_cny_per_kwh,
        "flat": tariff.flat_cny_per_kwh,
        "valley": tariff.valley_cny_per_kwh,
    }
    return np.array([by_band[b] for b in tariff.bands], dtype=float)


def step_prices(tariff: TariffConfig, /, *, n_steps: int) -> np.ndarray:
    """float64 ``(n_steps,)`` energy price of each 15-minute step from 00:00 of day 1
    (CNY/kWh)."""
    hour = (np.arange(n_steps) * STEP_MIN // 60) % 24
    return hourly_prices(tariff)[hour]


def _price_integral(t_min: np.ndarray, hourly: np.ndarray) -> np.ndarray:
    """``integral_0^t price(tau) dtau`` (CNY/kWh x min) of the daily-periodic tariff."""
    per_hour = hourly * 60.0
    cum = np.r_[0.0, np.cumsum(per_hour)]  # at the start of each hour
    day, within = np.divmod(t_min, 1440.0)
    hour = np.minimum((within // 60).astype(np.int64), 23)
    return day * cum[-1] + cum[hour] + hourly[hour] * (within - hour * 60.0)


def session_cost(
    start_min: np.ndarray,
    end_min: np.ndarray,
    /,
    *,
    energy_kwh: np.ndarray,
    tariff: TariffConfig,
    public: bool | np.ndarray = True,
) -> np.ndarray:
    """Cost of each charging session (CNY), vectorised.

    Parameters
    ----------
    start_min, end_min
        float64 charging interval (min from 00:00 of day 1; ``end >= start``).
    energy_kwh
        float64 energy charged (kWh), spread evenly over the interval.
    tariff
        ``grid.tariff``.
    public
        Whether each session pays the service fee (bool or bool array): public chargers
        do, home chargers do not.

    Returns
    -------
    numpy.ndarray
        float64 cost (CNY): energy x mean price over the interval, plus
        ``service_fee_cny_per_kwh x energy`` for public sessions.  A session of zero
        length pays the price of the hour it starts in.
    """
    start = np.asarray(start_min, dtype=float)
    end = np.asarray(end_min, dtype=float)
    energy = np.asarray(energy_kwh, dtype=float)
    hourly = hourly_prices(tariff)
    span = end - start
    at_start = hourly[((start % 1440.0) // 60).astype(np.int64) % 24]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(
            span > 0,
            (_price_integral(end, hourly) - _price_integral(start, hourly)) / span,
            at_start,
        )
    fee = np.where(np.asarray(public, dtype=bool), tariff.service_fee_cny_per_kwh, 0.0)
    return energy * (mean + fee)


def mean_price_per_kwh(
    cost_cny: np.ndarray, energy_kwh: np.ndarray, /, *, segment: np.ndarray
) -> dict[str, float]:
    """Mean price paid per kWh by each segment: its total cost over its total energy
    (CNY/kWh; NaN for a segment that charged no energy).

    ``segment`` holds one label per session (e.g. ``residential``, ``highway``,
    ``fleet``, ``home``); the keys are its distinct labels, sorted.
    """
    frame = pd.DataFrame(
        {"segment": np.asarray(segment).astype(str), "cost": cost_cny, "energy": energy_kwh}
    )
    sums = frame.groupby("segment", sort=True)[["cost", "energy"]].sum()
    out: dict[str, float] = {}
    for name, r in sums.iterrows():
        out[str(name)] = float(r["cost"] / r["energy"]) if r["energy"] > 0 else float("nan")
    return out
