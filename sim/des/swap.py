"""Battery-swap stations in SimPy: swap bays, a stock of charged packs, and the pack
chargers that recharge the packs drivers leave behind.

A swap visit: the driver *balks* if at least ``balk_queue_per_bay x bays`` vehicles
already wait for a bay; otherwise it queues for a bay and, once in the bay, waits for
a charged pack if the stock is empty (the next pack to finish charging goes to the
first driver waiting).  It *reneges* when its patience (counted from its arrival) runs
out first, whether it is still waiting for a bay or for a pack.  The swap itself takes
the station's swap time.  The moment it takes a charged pack, the pack it brought
(depleted to the vehicle's state of charge) joins the station: it goes on charge at
once if a pack charger is free, else it waits for one.  So at every instant

    charged packs in stock + packs charging + packs waiting for a charger = stock size,

which :meth:`SwapStations.pack_count` returns per station and the tests check after
every event.  Pack chargers charge each pack to ``full_soc`` along the pack's taper
curve (:class:`~sim.des.charging.ChargeCurve`), and share an optional site grid cap by
water-filling (:class:`~sim.des.charging.CappedSite`, as public chargers do).

Swap times are ``mean x z`` with ``z`` a unit-mean variate drawn for each session
before the run (deterministic: ``z = 1``; exponential; lognormal with a coefficient of
variation), so every plan sees the same draw for the same driver (common random
numbers).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import simpy
from scipy.special import ndtri

from sim.des.charging import CappedSite, ChargeCurve
from sim.des.inputs import caps_or_none
from sim.des.log import BALKED, CHARGED, RENEGED, SWAP, LogRow, new_row
from sim.des.stations import first_of

__all__ = [
    "SwapDistribution",
    "SwapOutcome",
    "SwapSetup",
    "SwapSites",
    "SwapStations",
    "SwapTrace",
    "swap_time_factors",
]

_INF = float("inf")
#: Log outcome code of each swap outcome.
_SWAP_OUTCOME = {"swapped": CHARGED, "balked": BALKED, "reneged": RENEGED}

#: How swap times vary around their mean.
SwapDistribution = Literal["deterministic", "exponential", "lognormal"]


@dataclass(frozen=True)
class SwapSites:
    """The swap stations of a plan.

    Attributes
    ----------
    site_id
        Candidate site ids, one per station.
    site
        int64 index of each station among the plan's sites (the log's ``station``).
    bays
        int64 swap bays per station (vehicles swapped at once).
    packs
        int64 packs each station owns (its stock when all are charged).
    pack_chargers
        int64 chargers that recharge returned packs, per station.
    charger_kw
        float64 rated power of one pack charger (kW).
    pack_kwh
        float64 usable energy of one pack (kWh).
    swap_min
        float64 mean time of one swap, from entering the bay to leaving it (min).
    swap_distribution
        How swap times vary: one of :data:`SwapDistribution` per station.
    swap_cv
        float64 coefficient of variation of lognormal swap times (ignored otherwise).
    pack_types
        The pack types each station serves.
    taper
        ``(soc_points, shares)``: share of ``charger_kw`` a pack takes by its state of
        charge.
    full_soc
        State of charge a recharged pack is taken off charge at (0-1).
    grid_cap_kw
        float64 site grid limit shared by the pack chargers (kW); ``inf`` = none.
        ``None``: no station has a cap.
    """

    site_id: tuple[str, ...]
    site: np.ndarray
    bays: np.ndarray
    packs: np.ndarray
    pack_chargers: np.ndarray
    charger_kw: np.ndarray
    pack_kwh: np.ndarray
    swap_min: np.ndarray
    swap_distribution: tuple[SwapDistribution, ...]
    swap_cv: np.ndarray
    pack_types: tuple[frozenset[str], ...]
    taper: tuple[np.ndarray, np.ndarray]
    full_soc: float = 1.0
    grid_cap_kw: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.site_id)

    def cap(self) -> np.ndarray:
        """Grid cap per station (kW), ``inf`` where none."""
        return caps_or_none(self.grid_cap_kw, len(self))

    def serves(self, j: int, pack_type: str | None, /) -> bool:
        """Whether station ``j`` swaps packs of ``pack_type`` (``None``: cannot swap)."""
        return pack_type is not None and pack_type in self.pack_types[j]


def swap_time_factors(
    uniform: np.ndarray, /, *, distribution: SwapDistribution, cv: float
) -> np.ndarray:
    """Unit-mean swap-time factors from uniform draws in (0, 1).

    Parameters
    ----------
    uniform
        float64 draws, one per session (the same for every plan).
    distribution
        ``deterministic`` (all 1), ``exponential`` (mean 1) or ``lognormal`` (mean 1,
        coefficient of variation ``cv``).
    cv
        Coefficient of variation of the lognormal.

    Returns
    -------
    numpy.ndarray
        float64 factors; a swap takes ``swap_min x factor`` minutes.
    """
    u = np.asarray(uniform, dtype=float)
    if distribution == "deterministic":
        return np.ones_like(u)
    if distribution == "exponential":
        return -np.log1p(-u)
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.exp(sigma * ndtri(u) - 0.5 * sigma * sigma)


class SwapSetup(NamedTuple):
    """The swap stations of a run and what their drivers need (built once per run by
    :meth:`of`).

    Attributes
    ----------
    sites
        The plan's swap stations.
    stations
        Their SimPy model.
    factor
        ``factor[s][i]``: session ``i``'s unit-mean swap-time factor at station ``s``.
    serves
        ``serves[code][s]``: whether station ``s`` swaps the packs of
        ``Demand.swap_pack`` code ``code``.
    """

    sites: SwapSites
    stations: SwapStations
    factor: list[list[float]]
    serves: list[list[bool]]

    @classmethod
    def of(
        cls,
        sites: SwapSites,
        stations: SwapStations,
        /,
        *,
        uniform: np.ndarray | None,
        pack_names: tuple[str, ...],
        n_sessions: int,
    ) -> SwapSetup:
        """The setup of ``stations``: ``uniform`` are float64 ``(n_sessions,)`` draws
        in (0, 1) each station turns into the session's factor by its distribution
        (``None``: every swap takes its mean); ``pack_names`` names each pack code."""
        n = len(sites)
        serves = [[sites.serves(s, name) for s in range(n)] for name in pack_names]
        if uniform is None:
            return cls(sites, stations, [[1.0] * n_sessions for _ in range(n)], serves)
        cache: dict[tuple[str, float], list[float]] = {}
        factor = []
        for dist, cv in zip(sites.swap_distribution, sites.swap_cv.tolist(), strict=True):
            key = (dist, cv)
            if key not in cache:
                cache[key] = swap_time_factors(uniform, distribution=dist, cv=cv).tolist()
            factor.append(cache[key])
        return cls(sites, stations, factor, serves)

    def can_swap(self, code: int, /) -> bool:
        """Whether any station swaps the packs of code ``code`` (-1: none)."""
        return 0 <= code < len(self.serves) and any(self.serves[code])


class SwapOutcome(NamedTuple):
    """What happened at one swap visit (times in simulation minutes).

    ``outcome`` is ``"swapped"``, ``"balked"`` or ``"reneged"``; ``pack_wait_min`` is
    the time spent in the bay waiting for a charged pack (NaN if it never got a bay).
    """

    outcome: Literal["swapped", "balked", "reneged"]
    arrival_min: float
    start_min: float
    end_min: float
    wait_min: float
    pack_wait_min: float
    energy_kwh: float

    def row(
        self, session: int, attempt: int, station: int, /, *, access_min: float, detour_min: float
    ) -> LogRow:
        """The visit as a row of the log (``service`` swap) at the plan's site
        ``station``, after a drive of ``access_min`` (min; ``detour_min``: NaN off a
        route)."""
        return new_row(
            session=session,
            attempt=attempt,
            station=station,
            outcome=_SWAP_OUTCOME[self.outcome],
            access_min=access_min,
            arrival_min=self.arrival_min,
            start_min=self.start_min,
            end_min=self.end_min,
            wait_min=self.wait_min,
            energy_kwh=self.energy_kwh,
            detour_min=detour_min,
            service=SWAP,
            pack_wait_min=self.pack_wait_min,
        )


class _PackWait:
    """A driver in a bay waiting for a charged pack: its wake-up event and the state
    of charge of the pack it brings."""

    __slots__ = ("event", "soc")

    def __init__(self, event: simpy.Event, soc: float) -> None:
        self.event = event
        self.soc = soc


class SwapStations:
    """The plan's swap stations as SimPy resources: bays, charged-pack stocks, pack
    chargers.

    The stock is kept by hand rather than in a ``simpy.Container`` so that handing a
    charged pack to a driver and taking in the driver's pack happen in one step: the
    pack count holds after every event, not only after the driver's process resumes.

    Parameters
    ----------
    env
        The simulation's environment.
    sites
        The swap stations.
    balk_queue_per_bay
        A driver does not join a queue of at least this many vehicles per bay;
        ``None``: everybody queues.

    Attributes
    ----------
    present
        Vehicles at each station now (in a bay or waiting for one).
    charge_trace
        ``(station, start_min, end_min, energy_kwh)`` of every pack charge that ended,
        in the order they ended.
    pack_trace
        Per station, ``(time_min, charged, charging, waiting)`` packs after every change
        of any of the three, starting with ``(0, packs, 0, 0)``: charged in stock, on a
        charger, and returned but waiting for a charger.
    """

    def __init__(
        self,
        env: simpy.Environment,
        sites: SwapSites,
        /,
        *,
        balk_queue_per_bay: float | None = None,
    ) -> None:
        self._env = env
        self._sites = sites
        n = len(sites)
        self._bays = [simpy.Resource(env, capacity=int(b)) for b in sites.bays]
        packs = [int(p) for p in sites.packs]
        self._charged = list(packs)
        self._pack_queue: list[deque[_PackWait]] = [deque() for _ in range(n)]
        self._chargers = [simpy.Resource(env, capacity=int(c)) for c in sites.pack_chargers]
        caps, rated = sites.cap(), sites.pack_chargers * sites.charger_kw
        self._capped: list[CappedSite | None] = [
            CappedSite(env, float(cap)) if cap < full else None
            for cap, full in zip(caps.tolist(), rated.tolist(), strict=True)
        ]
        socs, shares = sites.taper
        self._curves = [
            ChargeCurve(
                battery_kwh=float(kwh),
                vehicle_max_kw=float(kw),
                port_kw=float(kw),
                socs=socs.tolist(),
                shares=shares.tolist(),
            )
            for kwh, kw in zip(sites.pack_kwh.tolist(), sites.charger_kw.tolist(), strict=True)
        ]
        self._charging = [0] * n
        self._waiting = [0] * n
        self._next_pack = 0
        self.present = [0] * n
        per_bay = balk_queue_per_bay
        self._balk_at = [_INF if per_bay is None else per_bay * int(b) for b in sites.bays]
        self.charge_trace: list[tuple[int, float, float, float]] = []
        self.pack_trace: list[list[tuple[float, int, int, int]]] = [[(0.0, p, 0, 0)] for p in packs]
        # expected end (min) of each pack on charge, per station (what an app shows)
        self._ready: list[list[float]] = [[] for _ in range(n)]
        self._slowdown = [
            max(full / cap, 1.0) for cap, full in zip(caps.tolist(), rated.tolist(), strict=True)
        ]

    @property
    def stock_trace(self) -> list[list[tuple[float, int]]]:
        """Per station, ``(time_min, charged_packs)`` after every change of the stock,
        starting with ``(0, packs)`` (the rows of :attr:`pack_trace` where it changed)."""
        out = []
        for trace in self.pack_trace:
            rows = [(trace[0][0], trace[0][1])]
            for t, charged, _, _ in trace[1:]:
                if charged != rows[-1][1]:
                    rows.append((t, charged))
            out.append(rows)
        return out

    def pack_count(self, j: int, /) -> int:
        """Packs station ``j`` holds now: charged in stock + charging + waiting for a
        charger (always its stock size)."""
        return self._charged[j] + self._charging[j] + self._waiting[j]

    def charged(self, j: int, /) -> int:
        """Charged packs in stock at station ``j`` now."""
        return self._charged[j]

    def expected_pack_wait(self, j: int, /) -> float:
        """Minutes a driver arriving at station ``j`` now expects to wait for a charged
        pack once in a bay: 0 with a charged pack in stock; else until the pack on
        charge that will be its own is expected to be ready (the drivers already waiting
        for packs take the earlier ones).  A pack's expected end is set when it goes on
        charge: exact without a grid cap, at a cap scaled by rated power / cap."""
        if self._charged[j] > 0:
            return 0.0
        ready = sorted(self._ready[j])
        if not ready:
            return 0.0
        nth = min(len(self._pack_queue[j]), len(ready) - 1)
        return max(ready[nth] - self._env.now, 0.0)

    def bays(self, j: int, /) -> int:
        """Swap bays of station ``j``."""
        return int(self._sites.bays[j])

    def queue(self, j: int, /) -> int:
        """Vehicles at station ``j`` beyond its bays (waiting for a bay)."""
        return max(self.present[j] - int(self._sites.bays[j]), 0)

    def visit(
        self,
        j: int,
        /,
        *,
        soc: float,
        patience_min: float,
        swap_factor: float,
    ) -> Generator[simpy.Event, object, SwapOutcome]:
        """Process step: a vehicle arrives at swap station ``j`` to swap its pack.

        Parameters
        ----------
        j
            Station.
        soc
            The state of charge of the pack it brings (0-1).
        patience_min
            Longest it waits, for a bay and a pack together (min; ``inf``: forever).
        swap_factor
            Its unit-mean swap-time factor (:func:`swap_time_factors`).

        Returns
        -------
        SwapOutcome
            What happened; on a swap, ``energy_kwh`` is the energy of the charged pack
            above the one it brought.
        """
        env = self._env
        t0 = env.now
        bays = int(self._sites.bays[j])
        if self.present[j] >= bays and self.queue(j) >= self._balk_at[j]:
            return SwapOutcome("balked", t0, math.nan, math.nan, 0.0, math.nan, 0.0)
        deadline = t0 + patience_min
        self.present[j] += 1
        bay = self._bays[j]
        req = bay.request()
        if not (yield from self._within(req, deadline)):
            req.cancel()
            self.present[j] -= 1
            return SwapOutcome("reneged", t0, math.nan, math.nan, env.now - t0, math.nan, 0.0)
        t_bay = env.now
        full = self._sites.full_soc
        soc_in = min(max(soc, 0.0), full)
        if self._charged[j] > 0:
            self._charged[j] -= 1
            self._take_in(j, soc_in)
        else:
            wait = _PackWait(env.event(), soc_in)
            self._pack_queue[j].append(wait)
            if not (yield from self._within(wait.event, deadline)):
                self._pack_queue[j].remove(wait)
                bay.release(req)
                self.present[j] -= 1
                return SwapOutcome(
                    "reneged", t0, math.nan, math.nan, env.now - t0, env.now - t_bay, 0.0
                )
        t1 = env.now
        yield env.timeout(float(self._sites.swap_min[j]) * swap_factor)
        bay.release(req)
        self.present[j] -= 1
        kwh = float(self._sites.pack_kwh[j]) * (full - soc_in)
        return SwapOutcome("swapped", t0, t1, env.now, t1 - t0, t1 - t_bay, kwh)

    def _within(
        self, event: simpy.Event, deadline: float, /
    ) -> Generator[simpy.Event, object, bool]:
        """Wait for ``event`` until ``deadline`` (min); ``True`` if it came first."""
        if event.triggered:
            return True
        env = self._env
        if deadline == _INF:
            yield event
            return True
        if deadline <= env.now:
            return False
        yield first_of(env, event, env.timeout(deadline - env.now))
        return bool(event.triggered)

    def _take_in(self, j: int, soc: float, /) -> None:
        """A driver's pack (at ``soc``) joins station ``j`` as it takes a charged one."""
        self._waiting[j] += 1
        self._note(j)
        self._env.process(self._recharge(j, soc))

    def _note(self, j: int, /) -> None:
        """Record station ``j``'s packs now (:attr:`pack_trace`)."""
        self.pack_trace[j].append(
            (self._env.now, self._charged[j], self._charging[j], self._waiting[j])
        )

    def _recharge(self, j: int, soc: float, /) -> Generator[simpy.Event, object, None]:
        """Process: a returned pack waits for a charger, charges to ``full_soc``, and
        goes to the first driver waiting for a pack, or back into the stock."""
        env = self._env
        with self._chargers[j].request() as req:
            yield req
            self._waiting[j] -= 1
            self._charging[j] += 1
            self._note(j)
            kwh = float(self._sites.pack_kwh[j]) * max(self._sites.full_soc - soc, 0.0)
            site = self._capped[j]
            t_on = env.now
            minutes = self._curves[j].minutes(soc, kwh)
            ready = t_on + minutes * self._slowdown[j]
            self._ready[j].append(ready)
            if site is None:
                yield env.timeout(minutes)
            else:
                self._next_pack += 1
                want = self._pack_power(j, soc)
                yield env.process(site.charge(self._next_pack, kwh, want=want))
            self._ready[j].remove(ready)
            self.charge_trace.append((j, t_on, env.now, kwh))
            self._charging[j] -= 1
            queue = self._pack_queue[j]
            if queue:
                wait = queue.popleft()
                self._take_in(j, wait.soc)
                wait.event.succeed()
            else:
                self._charged[j] += 1
                self._note(j)

    def _pack_power(self, j: int, soc: float, /) -> Callable[[float], float]:
        """The power (kW) a pack charging from ``soc`` takes, given the kWh delivered."""
        kw = float(self._sites.charger_kw[j])
        kwh = float(self._sites.pack_kwh[j])
        socs, shares = self._sites.taper

        def power(delivered: float) -> float:
            return kw * float(np.interp(soc + delivered / kwh, socs, shares))

        return power


@dataclass(frozen=True)
class SwapTrace:
    """What a run's swap stations did: their charged-pack stock over time and the
    charging of returned packs (for ``pack_stock.parquet`` and the site load).

    Attributes
    ----------
    site
        int64 ``(n_stations,)`` each swap station's index among the plan's sites.
    site_id
        Candidate site id of each swap station.
    stock
        Per station, float64 ``(n_changes, 2)``: time (min) and charged packs in stock
        after each change, from ``(0, packs)``.
    charge_station, charge_start_min, charge_end_min, charge_kwh
        One entry per pack charge: the station (index into :attr:`site`), when the pack
        went on a charger and came off (min), and the energy it took (kWh).
    packs
        Per station, float64 ``(n_changes, 4)``: time (min) and the packs charged in
        stock, on a charger and waiting for one after each change, from
        ``(0, packs, 0, 0)`` (they add up to the station's packs in every row).
    """

    site: np.ndarray
    site_id: tuple[str, ...]
    stock: tuple[np.ndarray, ...]
    charge_station: np.ndarray
    charge_start_min: np.ndarray
    charge_end_min: np.ndarray
    charge_kwh: np.ndarray
    packs: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, stations: SwapStations, sites: SwapSites, /) -> SwapTrace:
        """The trace a run of ``stations`` (the plan's ``sites``) left."""
        rows = stations.charge_trace
        cols = np.array(rows, dtype=float).reshape(len(rows), 4)
        return cls(
            site=np.asarray(sites.site, dtype=np.int64),
            site_id=sites.site_id,
            stock=tuple(np.array(t, dtype=float).reshape(-1, 2) for t in stations.stock_trace),
            charge_station=cols[:, 0].astype(np.int64),
            charge_start_min=cols[:, 1],
            charge_end_min=cols[:, 2],
            charge_kwh=cols[:, 3],
            packs=tuple(np.array(t, dtype=float).reshape(-1, 4) for t in stations.pack_trace),
        )

    def stock_every(self, step_min: float = 15.0, /, *, horizon_min: float) -> np.ndarray:
        """int64 ``(n_stations, n_steps)`` charged packs in stock at ``0, step, 2 step,
        ...`` up to (not including) ``horizon_min`` (the stock after every change made
        at or before that instant)."""
        t = np.arange(0.0, horizon_min, step_min)
        out = np.empty((len(self.stock), t.shape[0]), dtype=np.int64)
        for s, trace in enumerate(self.stock):
            at = np.searchsorted(trace[:, 0], t, side="right") - 1
            out[s] = trace[at, 1].astype(np.int64)
        return out

    def packs_every(self, step_min: float = 15.0, /, *, horizon_min: float) -> np.ndarray:
        """int64 ``(n_stations, n_steps, 3)`` packs charged in stock, on a charger and
        waiting for one at ``0, step, 2 step, ...`` up to (not including)
        ``horizon_min`` (after every change made at or before that instant)."""
        t = np.arange(0.0, horizon_min, step_min)
        out = np.empty((len(self.packs), t.shape[0], 3), dtype=np.int64)
        for s, trace in enumerate(self.packs):
            at = np.searchsorted(trace[:, 0], t, side="right") - 1
            out[s] = trace[at, 1:].astype(np.int64)
        return out

    def charger_load_kw(self, step_min: float = 15.0, /, *, horizon_min: float) -> np.ndarray:
        """float64 ``(n_stations, n_steps)`` mean power (kW) of each station's pack
        chargers in ``[k step, (k + 1) step)``, each charge spread evenly over its
        interval (its mean power: exact at flat power; a taper or a grid cap shapes the
        power within the interval, not the energy in it)."""
        n_steps = int(np.ceil(horizon_min / step_min))
        edges = np.arange(n_steps + 1) * step_min
        kwh = np.zeros((len(self.stock), n_steps))
        for s, a, b, e in zip(
            self.charge_station.tolist(),
            self.charge_start_min.tolist(),
            self.charge_end_min.tolist(),
            self.charge_kwh.tolist(),
            strict=True,
        ):
            if b <= a:
                continue
            overlap = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0.0, None)
            kwh[s] += e * overlap / (b - a)
        return kwh / (step_min / 60.0)
