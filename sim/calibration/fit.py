"""Fit what a scenario needs from an observed session log.

From a :class:`~sim.calibration.log.SessionLog`: the arrival (connection) profile by hour
for weekdays and weekend days; the energy per session with lognormal, gamma and Weibull
fits compared by AIC, each with its Kolmogorov-Smirnov distance, and the empirical
quantiles; the charging and dwell durations the same way; sessions per station per
calendar day; sessions per user per month where the log has user ids; busy hours per
station and day; the mean wait where the log has arrival times.  Then the residential
model's own keys are solved for (:func:`fit_residential`): the charging threshold that
reproduces the observed mean energy per session and the daily distance that reproduces
the observed sessions per user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibration.log import SessionLog
from sim.config import Scenario
from sim.errors import DataError

__all__ = [
    "QUANTILES",
    "Calibration",
    "DistributionFit",
    "ResidentialFit",
    "Sample",
    "fit_distributions",
    "fit_log",
    "fit_residential",
    "hourly_counts",
    "sample",
]

#: Empirical quantiles reported for every distribution.
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)

#: Parametric forms compared (scipy.stats names; location fixed at 0).
FORMS: tuple[str, ...] = ("lognorm", "gamma", "weibull_min")

#: Mean days per month (365.25 / 12).
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class DistributionFit:
    """A parametric form fitted by maximum likelihood (location 0).

    ``params`` are scipy's ``(shape, 0, scale)``; ``aic`` = 2 k - 2 log L with k = 2;
    ``ks_distance`` the one-sample Kolmogorov-Smirnov statistic against the data and
    ``ks_pvalue`` its p-value (optimistic: the parameters come from the same data).
    """

    form: str
    params: tuple[float, ...]
    aic: float
    ks_distance: float
    ks_pvalue: float
    mean: float

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted distribution function at ``x``."""
        from scipy import stats

        return np.asarray(getattr(stats, self.form).cdf(x, *self.params), dtype=float)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted density at ``x``."""
        from scipy import stats

        return np.asarray(getattr(stats, self.form).pdf(x, *self.params), dtype=float)


@dataclass(frozen=True)
class Sample:
    """A positive quantity observed per session (or per station-day, user-month).

    ``values`` are the observations; ``quantiles`` maps each of :data:`QUANTILES` to its
    empirical value; ``fits`` the parametric forms, best (lowest AIC) first (empty when
    the quantity is a count or has fewer than 10 positive values); ``excluded`` the
    values left out of the fits (zero or missing).
    """

    values: np.ndarray
    mean: float
    std: float
    quantiles: dict[float, float]
    fits: tuple[DistributionFit, ...] = ()
    excluded: int = 0

    @property
    def best(self) -> DistributionFit | None:
        """The fit with the lowest AIC."""
        return self.fits[0] if self.fits else None


@dataclass(frozen=True)
class ResidentialFit:
    """``demand.residential`` keys solved so that the trip model reproduces the log.

    ``charge_below_soc`` is the scenario's range shifted so the model's mean energy per
    session equals the log's; ``daily_km_*`` are the scenario's means scaled by one
    factor so the model's public sessions per EV and day equal the log's sessions per
    user and day (``None`` without user ids).  ``model_*`` are what the trip model gives
    with the fitted keys; ``notes`` say where a bound was hit.
    """

    charge_below_soc: tuple[float, float]
    daily_km_weekday_mean: float | None
    daily_km_weekend_mean: float | None
    target_energy_kwh: float
    model_energy_kwh: float
    target_sessions_per_ev_day: float | None
    model_sessions_per_ev_day: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Calibration:
    """Everything fitted from one log (see the module docstring)."""

    source: str
    sessions: int
    days: int
    stations: int
    first_day: str
    last_day: str
    hourly_weekday: np.ndarray
    hourly_weekend: np.ndarray
    weekday_days: int
    weekend_days: int
    energy_kwh: Sample
    charge_min: Sample | None
    dwell_min: Sample | None
    per_station_day: Sample
    busy_hours_per_station_day: Sample
    per_user_month: Sample | None
    wait_mean_min: float | None
    residential: ResidentialFit
    power_kw: Sample | None = None
    skipped_rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def fit_distributions(x: np.ndarray, /) -> tuple[DistributionFit, ...]:
    """Lognormal, gamma and Weibull fits of positive values, lowest AIC first."""
    from scipy import stats

    fits = []
    for form in FORMS:
        dist = getattr(stats, form)
        params = tuple(float(p) for p in dist.fit(x, floc=0.0))
        loglik = float(np.sum(dist.logpdf(x, *params)))
        ks = stats.kstest(x, dist.cdf, args=params)
        fits.append(
            DistributionFit(
                form=form,
                params=params,
                aic=2 * 2 - 2 * loglik,
                ks_distance=float(ks.statistic),
                ks_pvalue=float(ks.pvalue),
                mean=float(dist.mean(*params)),
            )
        )
    return tuple(sorted(fits, key=lambda f: f.aic))


def sample(values: np.ndarray, /, *, fit: bool = True) -> Sample:
    """Mean, spread, empirical quantiles and (``fit``) the parametric fits of values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    q = {p: float(np.quantile(v, p)) for p in QUANTILES} if v.size else {}
    pos = v[v > 0]
    fits = fit_distributions(pos) if fit and pos.size >= 10 else ()
    return Sample(
        values=v,
        mean=float(v.mean()) if v.size else float("nan"),
        std=float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        quantiles=q,
        fits=fits,
        excluded=int(np.asarray(values).size - pos.size) if fit else 0,
    )


def hourly_counts(start_local: np.ndarray, /) -> tuple[np.ndarray, np.ndarray]:
    """Sessions starting in each hour (0-23) of weekdays and of weekend days."""
    t = pd.DatetimeIndex(start_local)
    weekend = np.asarray(t.day_of_week >= 5)
    hours = np.asarray(t.hour)
    return (
        np.bincount(hours[~weekend], minlength=24).astype(float),
        np.bincount(hours[weekend], minlength=24).astype(float),
    )


def _per_station_day(log: SessionLog, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Sessions and busy hours per station and calendar day (zeros included)."""
    date = pd.DatetimeIndex(log.start_local).normalize()
    frame = pd.DataFrame({"station": log.station_id, "date": date, "busy_h": log.busy_min / 60.0})
    grid = pd.MultiIndex.from_product(
        [sorted(set(log.station_id)), days], names=["station", "date"]
    )
    grouped = frame.groupby(["station", "date"])
    count = grouped.size().reindex(grid, fill_value=0).to_numpy(dtype=float)
    busy = grouped["busy_h"].sum(min_count=1).reindex(grid).fillna(0.0).to_numpy(dtype=float)
    return count, busy


def _per_user_month(log: SessionLog, span_days: int) -> np.ndarray | None:
    """Sessions per user and month over the log's span (users with an id)."""
    if log.user_id is None:
        return None
    users = pd.Series(log.user_id).dropna()
    if users.empty:
        return None
    return users.value_counts().to_numpy(dtype=float) / (span_days / DAYS_PER_MONTH)


def fit_log(log: SessionLog, /, *, scenario: Scenario) -> Calibration:
    """Fit every quantity of the module docstring.

    Parameters
    ----------
    log
        The observed sessions.
    scenario
        The scenario to calibrate: its fleet, state-of-charge keys and daily distances
        are the starting point of :func:`fit_residential`.

    Raises
    ------
    DataError
        No session with energy above zero.
    """
    t = pd.DatetimeIndex(log.start_local)
    days = pd.date_range(t.min().normalize(), t.max().normalize(), freq="D")
    wd, we = hourly_counts(log.start_local)
    energy = sample(log.energy_kwh)
    if energy.best is None:
        raise DataError(f"{log.source}: fewer than 10 sessions with energy above 0 kWh")
    count, busy = _per_station_day(log, days)
    per_user = _per_user_month(log, len(days))
    waits = log.wait_min[np.isfinite(log.wait_min)]
    rate = None if per_user is None else float(per_user.mean()) / DAYS_PER_MONTH
    return Calibration(
        source=log.source,
        sessions=len(log),
        days=len(days),
        stations=len(set(log.station_id)),
        first_day=str(days[0].date()),
        last_day=str(days[-1].date()),
        hourly_weekday=wd,
        hourly_weekend=we,
        weekday_days=int(np.sum(days.day_of_week < 5)),
        weekend_days=int(np.sum(days.day_of_week >= 5)),
        energy_kwh=energy,
        charge_min=sample(log.charge_min) if np.isfinite(log.charge_min).any() else None,
        dwell_min=sample(log.dwell_min) if np.isfinite(log.dwell_min).any() else None,
        per_station_day=sample(count, fit=False),
        busy_hours_per_station_day=sample(busy, fit=False),
        per_user_month=None if per_user is None else sample(per_user, fit=False),
        wait_mean_min=float(waits.mean()) if waits.size else None,
        residential=fit_residential(
            scenario, energy_kwh=energy.mean, sessions_per_ev_day=rate, days=len(days)
        ),
        skipped_rows=len({b.row for b in log.skipped}),
        power_kw=sample(log.power_kw, fit=False) if np.isfinite(log.power_kw).any() else None,
    )


def _model(scenario: Scenario, *, shift: float, km_factor: float, days: int) -> tuple[float, float]:
    """(sessions per charging EV and day, mean kWh per session) of the trip model over
    ``days`` with the threshold range shifted by ``shift`` and the daily distances scaled
    by ``km_factor``.  Like a log, it counts only EVs that charged at least once in the
    span.  The same random stream every call (common random numbers keep the search
    monotone)."""
    from sim.demand.residential import planning_draw
    from sim.rng import stream

    res = scenario.demand.residential
    lo, hi = res.charge_below_soc
    cfg = res.model_copy(
        update={
            "charge_below_soc": (lo + shift, hi + shift),
            "daily_km_weekday_mean": res.daily_km_weekday_mean * km_factor,
            "daily_km_weekend_mean": res.daily_km_weekend_mean * km_factor,
        }
    )
    d = planning_draw(
        cfg=cfg,
        fleet=scenario.vehicles.fleet,
        days=days,
        start_weekday=scenario.demand.start_weekday,
        rng=stream(scenario.seed, "calibration"),
        n_ev=2000,
    )
    if len(d) == 0:
        return 0.0, 0.0
    return len(d) / (np.unique(d.vehicle_id).size * days), float(d.energy_kwh.mean())


def _bisect(
    f: Callable[[float], float], lo: float, hi: float, *, increasing: bool, steps: int = 30
) -> float:
    """The root of ``f`` (monotone) in [lo, hi], or the bound nearest to it."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == increasing:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def fit_residential(
    scenario: Scenario, /, *, energy_kwh: float, sessions_per_ev_day: float | None, days: int
) -> ResidentialFit:
    """Solve ``charge_below_soc`` (a shift of the scenario's range) for the observed
    mean energy per session (kWh), and a common factor on ``daily_km_*_mean`` for the
    observed public sessions per EV and day (``None``: distances kept), both as the
    trip model gives them over a span of ``days`` (at most 91) counting only EVs that
    charge in it, as a log does.  Three rounds of alternating bisection; the shift keeps
    the range within [0, target_soc)."""
    days = max(1, min(days, 91))
    res = scenario.demand.residential
    lo, hi = res.charge_below_soc
    smin, smax = -lo, res.target_soc - hi - 0.005
    state = {"shift": 0.0, "factor": 1.0}
    notes: list[str] = []

    def energy_gap(s: float) -> float:
        return _model(scenario, shift=s, km_factor=state["factor"], days=days)[1] - energy_kwh

    def rate_gap(f: float) -> float:
        rate = _model(scenario, shift=state["shift"], km_factor=f, days=days)[0]
        return rate - float(sessions_per_ev_day or 0.0)

    for _ in range(3 if sessions_per_ev_day is not None else 1):
        state["shift"] = _bisect(energy_gap, smin, smax, increasing=False)
        if sessions_per_ev_day is not None:
            state["factor"] = _bisect(rate_gap, 0.1, 10.0, increasing=True)
    shift, factor = state["shift"], state["factor"]
    rate, energy = _model(scenario, shift=shift, km_factor=factor, days=days)
    if abs(energy - energy_kwh) > 0.05 * energy_kwh:
        notes.append(
            f"the trip model reaches {energy:.1f} kWh per session at best, the log "
            f"{energy_kwh:.1f} kWh: the fleet's batteries or target_soc differ from the log's"
        )
    if sessions_per_ev_day is not None and abs(rate - sessions_per_ev_day) > 0.05 * rate:
        notes.append(
            f"the trip model reaches {rate:.3f} sessions per EV-day, the log "
            f"{sessions_per_ev_day:.3f}"
        )
    km = sessions_per_ev_day is not None
    return ResidentialFit(
        charge_below_soc=(round(lo + shift, 4), round(hi + shift, 4)),
        daily_km_weekday_mean=round(res.daily_km_weekday_mean * factor, 2) if km else None,
        daily_km_weekend_mean=round(res.daily_km_weekend_mean * factor, 2) if km else None,
        target_energy_kwh=energy_kwh,
        model_energy_kwh=energy,
        target_sessions_per_ev_day=sessions_per_ev_day,
        model_sessions_per_ev_day=rate,
        notes=tuple(notes),
    )
