"""Per-site figures of one plan over its replications: what its swap stations did, and
the simulation's check of the queue-aware sizing at each site's peak hour.

:func:`site_figures` reads the replications' session logs and swap traces of one plan
and gives a :class:`SiteFigures`: per site (plan order) the swaps done per day, the share
of time a charged pack was in stock, the bay and pack waits of the swaps, and the check
of a wait target (:class:`SizingTarget`): in the site's *peak hour* (the hour of the day
with the most arrivals there over all simulated days and replications), the share of
arrivals that waited longer than the target or were turned away (balked), against the
acceptable share.  Both ``summary.json`` and the ``selected`` layer read these arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.config import SizingConfig
from sim.des import BALKED, CHARGED, RENEGED, SWAP, SessionLog, SwapTrace

__all__ = ["SWAP_FIGURES", "SiteFigures", "SizingTarget", "pack_availability", "site_figures"]

#: Plan-level swap figures of :attr:`SiteFigures.per_replication`, one value per
#: replication: swaps done per day over all swap stations, the stations' mean share of
#: time with a charged pack in stock, and the mean bay and pack waits of the swaps (min).
SWAP_FIGURES = ("swaps_per_day", "pack_availability", "bay_wait_mean_min", "pack_wait_mean_min")


@dataclass(frozen=True)
class SizingTarget:
    """The wait target a plan's sites are checked against.

    Attributes
    ----------
    wait_min
        Wait threshold (min).
    max_prob
        Acceptable share of peak-hour arrivals waiting longer than the threshold.
    from_strategy
        ``True``: the strategy's ``sizing`` section set it; ``False``: the documented
        defaults of that section (:class:`~sim.config.SizingConfig`), for a plan that was
        not sized.
    """

    wait_min: float
    max_prob: float
    from_strategy: bool

    @classmethod
    def of(cls, sizing: SizingConfig | None, /) -> SizingTarget:
        """The strategy's ``sizing`` target, or the section's defaults when it has none."""
        if sizing is not None:
            return cls(float(sizing.target_wait_min), float(sizing.max_prob), True)
        fields = SizingConfig.model_fields
        return cls(
            float(fields["target_wait_min"].default), float(fields["max_prob"].default), False
        )


@dataclass(frozen=True)
class SiteFigures:
    """Per site of one plan (arrays in plan order), over its replications.

    Attributes
    ----------
    swap
        bool: the site is a battery-swap station.
    swaps_per_day
        Swaps done per day, mean over replications; NaN at charging sites.
    pack_availability
        Share of the simulated time with a charged pack in stock (0-1), mean over
        replications; NaN at charging sites.
    bay_wait_mean_min, pack_wait_mean_min
        Mean wait of the swaps done for a bay and, in the bay, for a charged pack (min;
        mean over the replications that had swaps there); NaN at charging sites and
        where no swap was done.
    target
        The wait target of the check.
    p_wait_over_target
        Over the whole run, the share of attempts that joined the queue (charged or
        reneged) and waited longer than ``target.wait_min``; NaN with none.
    peak_hour
        Hour of the day (0-23) with the most arrivals at the site (all days and
        replications; the earliest of equal hours); -1 with no arrival.  An arrival is an
        attempt that reached the site: it queued (and charged, swapped or reneged) or
        balked.
    peak_arrivals_per_day
        Arrivals in the peak hour per simulated day (mean over replications).
    peak_wait_share
        Share of the peak hour's arrivals that waited longer than ``target.wait_min`` or
        balked; NaN with no arrival.
    peak_balk_share
        Share of the peak hour's arrivals that balked (part of ``peak_wait_share``).
    per_replication
        The plan's swap figures (:data:`SWAP_FIGURES`), one value per replication in
        the order of the logs; empty when the plan has no swap station.
    """

    swap: np.ndarray
    swaps_per_day: np.ndarray
    pack_availability: np.ndarray
    bay_wait_mean_min: np.ndarray
    pack_wait_mean_min: np.ndarray
    target: SizingTarget
    p_wait_over_target: np.ndarray
    peak_hour: np.ndarray
    peak_arrivals_per_day: np.ndarray
    peak_wait_share: np.ndarray
    peak_balk_share: np.ndarray
    per_replication: Mapping[str, np.ndarray]

    @property
    def target_met(self) -> list[bool | None]:
        """Per site, ``peak_wait_share <= target.max_prob`` (``None``: no arrival)."""
        return [
            None if not np.isfinite(s) else bool(s <= self.target.max_prob)
            for s in self.peak_wait_share.tolist()
        ]


def pack_availability(trace: SwapTrace, n_sites: int, /, *, horizon_min: float) -> np.ndarray:
    """Share of the simulated time each swap station of a run had a charged pack in stock.

    Parameters
    ----------
    trace
        The run's swap trace.
    n_sites
        Sites of the plan.
    horizon_min
        Simulated period (min).

    Returns
    -------
    numpy.ndarray
        ``(n_sites,)`` share (0-1) at the swap stations, NaN at charging sites.
    """
    out = np.full(n_sites, np.nan)
    for site, stock in zip(trace.site.tolist(), trace.stock, strict=True):
        t = np.clip(stock[:, 0], 0.0, horizon_min)
        held = np.diff(np.append(t, horizon_min))  # each stock level lasts until the next
        out[site] = float(held[stock[:, 1] > 0].sum()) / horizon_min
    return out


def _swap_waits(log: SessionLog, n_sites: int, /) -> tuple[np.ndarray, ...]:
    """Per site: swaps done, and the sums of their bay and pack waits (min)."""
    done = (log.service == SWAP) & (log.outcome == CHARGED)
    st = log.station[done]
    pack = np.nan_to_num(log.pack_wait_min[done])
    bay = log.wait_min[done] - pack
    count = np.bincount(st, minlength=n_sites).astype(float)
    return (
        count,
        np.bincount(st, weights=bay, minlength=n_sites),
        np.bincount(st, weights=pack, minlength=n_sites),
    )


def _by_hour(log: SessionLog, n_sites: int, /, *, wait_min: float) -> tuple[np.ndarray, ...]:
    """Per (site, hour of day): arrivals, those that waited over ``wait_min`` or balked,
    and those that balked; per site: queued attempts, and those that waited over
    ``wait_min``."""
    came = (log.station >= 0) & np.isin(log.outcome, (CHARGED, RENEGED, BALKED))
    st = log.station[came]
    hour = (np.floor(log.arrival_min[came] / 60.0).astype(np.int64)) % 24
    over = log.wait_min[came] > wait_min
    queued = log.outcome[came] != BALKED
    cell = st * 24 + hour
    size = n_sites * 24
    arrivals = np.bincount(cell, minlength=size).reshape(n_sites, 24)
    missed = np.bincount(cell, weights=over | ~queued, minlength=size).reshape(n_sites, 24)
    balked = np.bincount(cell, weights=~queued, minlength=size).reshape(n_sites, 24)
    q = np.bincount(st, weights=queued, minlength=n_sites)
    q_over = np.bincount(st, weights=queued & over, minlength=n_sites)
    return arrivals.astype(float), missed, balked, q, q_over


def _ratio(num: np.ndarray, den: np.ndarray, /) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)


def _swap_figures(
    logs: Sequence[SessionLog],
    traces: Sequence[SwapTrace | None],
    swap: np.ndarray,
    /,
    *,
    horizon_min: float,
    days: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per site (mean over replications) and per replication (the plan's) swap figures."""
    n = swap.shape[0]
    per_site = {k: np.full((len(logs), n), np.nan) for k in SWAP_FIGURES}
    per_rep = {k: np.full(len(logs), np.nan) for k in SWAP_FIGURES}
    for r, (log, trace) in enumerate(zip(logs, traces, strict=True)):
        count, bay, pack = _swap_waits(log, n)
        avail = (
            pack_availability(trace, n, horizon_min=horizon_min)
            if trace is not None
            else np.full(n, np.nan)
        )
        per_site["swaps_per_day"][r] = np.where(swap, count / days, np.nan)
        per_site["pack_availability"][r] = avail
        per_site["bay_wait_mean_min"][r] = np.where(swap, _ratio(bay, count), np.nan)
        per_site["pack_wait_mean_min"][r] = np.where(swap, _ratio(pack, count), np.nan)
        total = float(count[swap].sum())
        per_rep["swaps_per_day"][r] = total / days
        per_rep["pack_availability"][r] = float(np.mean(avail[swap]))
        per_rep["bay_wait_mean_min"][r] = float(bay[swap].sum()) / total if total else np.nan
        per_rep["pack_wait_mean_min"][r] = float(pack[swap].sum()) / total if total else np.nan
    means = {}
    for k, v in per_site.items():
        seen = np.isfinite(v).sum(axis=0)
        means[k] = _ratio(np.nansum(v, axis=0), seen.astype(float))
    return means, per_rep


def site_figures(
    logs: Sequence[SessionLog],
    traces: Sequence[SwapTrace | None],
    /,
    *,
    swap: np.ndarray,
    horizon_min: float,
    days: int,
    target: SizingTarget,
) -> SiteFigures:
    """The per-site figures of one plan over its replications.

    Parameters
    ----------
    logs
        One session log per replication of the plan.
    traces
        The same replications' swap traces (``None`` where the plan has no swap station).
    swap
        bool ``(n_sites,)``: which of the plan's sites are swap stations.
    horizon_min
        Simulated period (min).
    days
        Simulated days.
    target
        The wait target to check.

    Returns
    -------
    SiteFigures
        Arrays of ``(n_sites,)`` in plan order.
    """
    swap = np.asarray(swap, dtype=bool)
    n = swap.shape[0]
    arrivals, missed, balked = np.zeros((n, 24)), np.zeros((n, 24)), np.zeros((n, 24))
    queued, q_over = np.zeros(n), np.zeros(n)
    for log in logs:
        a, m, b, q, o = _by_hour(log, n, wait_min=target.wait_min)
        arrivals, missed, balked = arrivals + a, missed + m, balked + b
        queued, q_over = queued + q, q_over + o
    peak = np.argmax(arrivals, axis=1) if n else np.zeros(0, np.int64)
    rows = np.arange(n)
    peak_n = arrivals[rows, peak]
    if swap.any():
        means, per_rep = _swap_figures(logs, traces, swap, horizon_min=horizon_min, days=days)
    else:
        means, per_rep = {k: np.full(n, np.nan) for k in SWAP_FIGURES}, {}
    return SiteFigures(
        swap=swap,
        swaps_per_day=means["swaps_per_day"],
        pack_availability=means["pack_availability"],
        bay_wait_mean_min=means["bay_wait_mean_min"],
        pack_wait_mean_min=means["pack_wait_mean_min"],
        target=target,
        p_wait_over_target=_ratio(q_over, queued),
        peak_hour=np.where(peak_n > 0, peak, -1).astype(np.int64),
        peak_arrivals_per_day=peak_n / max(days * len(logs), 1),
        peak_wait_share=_ratio(missed[rows, peak], peak_n),
        peak_balk_share=_ratio(balked[rows, peak], peak_n),
        per_replication=per_rep,
    )
