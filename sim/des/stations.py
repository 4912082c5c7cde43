"""Stations and their ports in SimPy: one :class:`PortPool` (``simpy.Resource``'s
semantics on SimPy events, lighter) per station with a slot per port, the vehicles
present at each (what a charging app shows), balking thresholds, and the visit every
driver policy uses to queue and charge.

A visit: the driver charges at once if a port is free; *balks* if at least
``balk_queue_per_port x ports`` vehicles are already waiting; otherwise queues, and
*reneges* when its patience runs out first.  It charges for the minutes its policy
worked out, or, at a site with a grid cap, for as long as its share of the cap takes
(:class:`~sim.des.charging.CappedSite`).  Every visit is one row of the log.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from sim.des.charging import CappedSite, ChargeTimes
from sim.des.inputs import DriverRules, PortProfile, Stations
from sim.des.log import BALKED, CHARGED, RENEGED, LogRow, new_row

__all__ = ["EnergyStores", "Later", "PortPool", "Ports", "Urgent", "Visit", "first_of"]

_INF = float("inf")
_NAN = float("nan")
#: ``_row(LogRow, fields)``: a row from all its fields in :class:`LogRow` order, for the
#: hot paths: 0.3 us instead of the 0.75 us of :data:`~sim.des.log.new_row` (measured).
_row = tuple.__new__


def first_of(env: simpy.Environment, a: simpy.Event, b: simpy.Event, /) -> simpy.Event:
    """An event that fires (at the same step) when the first of ``a`` and ``b`` has.

    The same as ``a | b`` in the order of events, for two events that cannot fail, at
    a fraction of the cost of a ``simpy.AnyOf`` (it sits in the hot loop of every
    queueing driver).
    """
    wake = env.event()

    def fire(_: simpy.Event) -> None:
        if not wake.triggered:
            wake.succeed()

    for ev in (a, b):
        assert ev.callbacks is not None  # neither has been processed
        ev.callbacks.append(fire)
    return wake


class Urgent(simpy.Event):
    """An event processed at the current time before any normal event, calling
    ``callback``: where a process's start (``simpy.events.Initialize``) would be, at a
    fraction of the cost of a process when the work needs no generator.

    Parameters
    ----------
    env
        The simulation's environment.
    callback
        Called with this event when it is processed.
    """

    def __init__(self, env: simpy.Environment, callback: Callable[[simpy.Event], None]) -> None:
        # what Initialize does, with the callback of our choosing (Event.__init__ inlined)
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self, URGENT)


class Later(simpy.Event):
    """``env.timeout(delay)`` with ``callback`` as its first callback (the same event,
    scheduled the same way, without appending the callback after).

    Parameters
    ----------
    env
        The simulation's environment.
    delay
        Minutes from now (>= 0).
    callback
        Called with this event when it is processed.
    """

    def __init__(
        self, env: simpy.Environment, delay: float, callback: Callable[[simpy.Event], None]
    ) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")  # simpy.Timeout's check
        # what simpy.Timeout.__init__ does, with the callback of our choosing
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self, NORMAL, delay)


class _Step(simpy.Event):
    """A triggered event processed after the events scheduled before it (at the current
    time), calling ``callback`` (``Event.__init__`` and ``succeed`` inlined)."""

    def __init__(self, env: simpy.Environment, callback: Callable[[simpy.Event], None]) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        env.schedule(self)


class PortPool:
    """A station's ports: the semantics of a ``simpy.Resource`` of ``capacity`` slots,
    event for event, with less work per request.

    As in SimPy, a request joins the back of the queue and the request at its front is
    tried (one request per try); a release frees its slot at once and tries the front
    of the queue when its release event is processed (here a :class:`_Step` in its
    place); a granted request is triggered (``succeed``) when granted.  What is left
    out: a request granted as it is made is not scheduled (nobody can be waiting for it,
    and a processed ``simpy.Request`` would do nothing but look for release events to
    serve, of which there are none), and no release event object beyond the step.

    Parameters
    ----------
    env
        The simulation's environment.
    capacity
        Slots (ports, >= 1).
    """

    __slots__ = ("_env", "_free", "_granted", "_serve_cb", "capacity", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError('"capacity" must be > 0.')  # simpy.Resource's check
        self._env = env
        self.capacity = capacity
        self._free = capacity
        self.queue: list[simpy.Event] = []  # requests waiting, first come first
        self._serve_cb = self._serve
        # what a request granted as it is made returns: triggered, never scheduled
        self._granted = simpy.Event(env)
        self._granted._ok = True
        self._granted._value = None

    @property
    def count(self) -> int:
        """Slots in use."""
        return self.capacity - self._free

    def request(self) -> simpy.Event:
        """A request for a slot: triggered when granted.  Granted at once, it is the
        pool's one triggered event that is never processed (nobody may wait for it:
        see the class docstring)."""
        if not self.queue and self._free > 0:  # it is the front of the queue, and served
            self._free -= 1
            return self._granted
        req = simpy.Event(self._env)
        self.queue.append(req)
        self._serve(None)
        return req

    def release(self, req: simpy.Event, /) -> None:
        """Give back ``req``'s slot (a granted request); the queue's front is tried when
        the release's step is processed."""
        self._free += 1
        _Step(self._env, self._serve_cb)

    def cancel(self, req: simpy.Event, /) -> None:
        """Withdraw ``req`` from the queue if it has not been granted."""
        if not req.triggered:
            self.queue.remove(req)

    def set_capacity(self, capacity: int, /) -> None:
        """Open ``capacity`` slots from now (>= 0): fewer grant nobody new until the
        slots in use fall below it (they finish as they are); more grant the queue's
        front at once."""
        self._free += capacity - self.capacity
        self.capacity = capacity
        while self.queue and self._free > 0:
            self._free -= 1
            self.queue.pop(0).succeed()

    def hold(self) -> None:
        """Grant nobody until :meth:`resume` (the slots in use finish as they are)."""
        self._free -= self.capacity

    def resume(self) -> None:
        """Grant again after :meth:`hold`, from the front of the queue."""
        self._free += self.capacity
        while self.queue and self._free > 0:
            self._free -= 1
            self.queue.pop(0).succeed()

    def _serve(self, _: simpy.Event | None) -> None:
        """Try the front of the queue: grant it if a slot is free."""
        if self.queue and self._free > 0:
            self._free -= 1
            self.queue.pop(0).succeed()


def _open_ports(
    env: simpy.Environment,
    profile: PortProfile,
    set_open: Callable[[int, int], None],
    ports: list[int],
    /,
) -> list[float]:
    """Open the profiled stations' ports at every change of ``profile`` (the profile
    once and repeated once, then held) with ``set_open(station, ports)``, and return
    each station's longest session (min; ``inf`` elsewhere)."""
    top = [_INF] * len(ports)
    n_steps = profile.ports.shape[1]
    for row, j in enumerate(profile.station.tolist()):
        top[j] = float(profile.max_session_min[row])
        seq = np.minimum(np.tile(profile.ports[row], 2), ports[j]).astype(np.int64)
        set_open(j, int(seq[0]))
        change = np.flatnonzero(np.diff(seq) != 0) + 1
        if change.size:
            times = (change * profile.step_min).tolist()
            env.process(_step_ports(env, set_open, j, times, seq[change].tolist()))
    assert n_steps > 0
    return top


def _step_ports(
    env: simpy.Environment,
    set_open: Callable[[int, int], None],
    j: int,
    times: list[float],
    counts: list[int],
    /,
) -> Generator[simpy.Event, object, None]:
    """Process: open ``counts[k]`` ports of station ``j`` at minute ``times[k]``."""
    for t, n in zip(times, counts, strict=True):
        yield env.timeout(t - env.now)
        set_open(j, n)


def _group_sites(
    env: simpy.Environment, stations: Stations, capped: list[CappedSite | None], /
) -> list[CappedSite | None]:
    """One :class:`CappedSite` per group of ``stations.cap_profile`` whose cap can bind
    (:meth:`~sim.des.inputs.CapProfile.binding`; set in ``capped`` for each of its
    stations, a station's own constant cap kept inside it, its draw recorded in the
    profile's ``traces``); ``None`` for the other groups."""
    prof = stations.cap_profile
    assert prof is not None
    caps = stations.cap()
    rated = stations.ports * stations.power_kw
    binding = prof.binding(rated, caps)
    sites: list[CappedSite | None] = []
    for g in range(prof.kw.shape[0]):
        if not binding[g]:
            sites.append(None)
            continue
        members = np.flatnonzero(prof.group == g)
        site = CappedSite(
            env,
            float("inf"),
            profile_kw=prof.kw[g],
            step_min=prof.step_min,
            station_cap_kw={int(j): float(caps[j]) for j in members if caps[j] < rated[j]},
            trace=None if prof.traces is None else prof.traces[g],
        )
        for j in members.tolist():
            capped[j] = site
        sites.append(site)
    return sites


class EnergyStores(Protocol):
    """What :meth:`Ports.visit` asks of the mobile units' energy stores."""

    def holds(self, j: int, /) -> bool:
        """Whether station ``j`` charges from a store."""
        ...

    def draw(
        self, i: int, j: int, kwh: float, soc: float, minutes: float, /
    ) -> tuple[float, float]:
        """Session ``i`` starts charging ``kwh`` (kWh) at station ``j`` from state of
        charge ``soc`` for ``minutes``: the energy the store gives and its minutes."""
        ...


class Ports:
    """The plan's stations as SimPy resources, with their occupancy and balking rules.

    Parameters
    ----------
    env
        The simulation's environment.
    stations
        The plan's stations.
    rules
        Balking threshold (``balk_queue_per_port``).
    charging
        Session charging times and power limits (for capped sites).
    patience_min
        float64 ``(n_sessions,)`` longest wait in a queue of each session (min).
    log
        The log the visits append their rows to.

    Attributes
    ----------
    ports
        Ports per station.
    present
        Vehicles at each station now (charging and waiting), kept by :meth:`visit`.
    balk_at
        Vehicles waiting beyond the ports at which a newcomer balks, per station
        (``inf``: never).
    """

    __slots__ = (
        "_capped",
        "_charging",
        "_env",
        "_log",
        "_max_min",
        "_patience",
        "_resources",
        "balk_at",
        "groups",
        "open",
        "open_below",
        "ports",
        "present",
        "stores",
    )

    def __init__(
        self,
        env: simpy.Environment,
        stations: Stations,
        /,
        *,
        rules: DriverRules,
        charging: ChargeTimes,
        patience_min: np.ndarray,
        log: list[LogRow],
    ) -> None:
        self._env = env
        self.ports: list[int] = [int(c) for c in stations.ports]
        # a battery-swap site has no charging ports; simulate() never offers it to a
        # charging driver, so its pool is a placeholder of one slot nobody requests
        self._resources = [PortPool(env, max(c, 1)) for c in self.ports]
        caps = stations.cap()
        rated = stations.ports * stations.power_kw
        self._capped: list[CappedSite | None] = [
            CappedSite(env, float(cap)) if cap < full else None
            for cap, full in zip(caps.tolist(), rated.tolist(), strict=True)
        ]
        #: Per group of :attr:`Stations.cap_profile`, its shared site (``None`` where
        #: its cap never binds).
        self.groups: list[CappedSite | None] = []
        if stations.cap_profile is not None:
            self.groups = _group_sites(env, stations, self._capped)
        self.present: list[int] = [0] * len(self.ports)
        #: Ports open now, and one less (live lists the residents' choice reads): the
        #: ports, except at shared-charger stations, whose open ports follow their
        #: owners' absences (:attr:`Stations.port_profile`).
        self.open: list[int] = list(self.ports)
        self.open_below: list[int] = [c - 1 for c in self.ports]
        per_port = rules.balk_queue_per_port
        self.balk_at: list[float] = [_INF if per_port is None else per_port * c for c in self.ports]
        self._charging = charging
        self._patience: list[float] = patience_min.tolist()
        self._log = log
        #: Energy stores of mobile units (``None``: the plan has none), asked for the
        #: energy of every session that starts at one (:meth:`EnergyStores.draw`).
        self.stores: EnergyStores | None = None
        #: Longest session per station (min; ``None``: no station has one).
        self._max_min: list[float] | None = None
        if stations.port_profile is not None:
            self._max_min = _open_ports(env, stations.port_profile, self._set_open, self.ports)

    def _set_open(self, j: int, n: int, /) -> None:
        """Open ``n`` ports of station ``j`` from now."""
        self._resources[j].set_capacity(n)
        self.open[j] = n
        self.open_below[j] = n - 1

    def closed(self, j: int, /) -> bool:
        """Whether station ``j`` has no port open now (a shared-chargers station at a
        time no owner is away): a driver arriving then balks."""
        return self._max_min is not None and self._resources[j].capacity == 0

    def cut(self, j: int, kwh: float, minutes: float, /) -> tuple[float, float]:
        """Energy (kWh) and minutes of a session of ``kwh`` taking ``minutes`` at station
        ``j`` within its longest session (the energy of that time at constant power)."""
        top = self._max_min
        if top is None or minutes <= top[j]:
            return kwh, minutes
        return kwh * top[j] / minutes, top[j]

    def pool(self, j: int, /) -> PortPool:
        """Station ``j``'s ports."""
        return self._resources[j]

    def visit(
        self,
        i: int,
        j: int,
        attempt: int,
        drive_min: float,
        kwh: float,
        soc: float,
        minutes: float,
        detour_min: float,
        /,
    ) -> Generator[simpy.Event, object, bool]:
        """Process step: session ``i`` arrives at station ``j``; queue, charge, log.

        Parameters
        ----------
        i, j
            Session and station.
        attempt
            The session's attempt number (its row in the log).
        drive_min
            The drive that brought it here (min).
        kwh, soc
            Energy it charges (kWh) and its state of charge on arrival.
        minutes
            Charging time on a port of its own (min); a capped site takes as long as
            its share of the cap needs.
        detour_min
            Its detour against the direct route (min; NaN for residents).

        Returns
        -------
        bool
            ``True`` if it charged.
        """
        env = self._env
        t0 = env.now
        present = self.present
        here, c = present[j], self.ports[j]
        if (here >= c and here - c >= self.balk_at[j]) or self.closed(j):
            self._log.append(
                new_row(
                    session=i,
                    attempt=attempt,
                    station=j,
                    outcome=BALKED,
                    access_min=drive_min,
                    arrival_min=t0,
                    wait_min=0.0,
                )
            )
            return False
        present[j] = here + 1
        res = self._resources[j]
        req = res.request()
        if not req.triggered:
            patience = self._patience[i]
            if patience < _INF:
                yield first_of(env, req, env.timeout(patience))
                if not req.processed and not req.triggered:
                    res.cancel(req)
                    present[j] -= 1
                    self._log.append(
                        new_row(
                            session=i,
                            attempt=attempt,
                            station=j,
                            outcome=RENEGED,
                            access_min=drive_min,
                            arrival_min=t0,
                            wait_min=env.now - t0,
                        )
                    )
                    return False
            else:
                yield req
        t1 = env.now
        if self.stores is not None and self.stores.holds(j):
            kwh, minutes = self.stores.draw(i, j, kwh, soc, minutes)
        if self._max_min is not None:
            kwh, minutes = self.cut(j, kwh, minutes)
        site = self._capped[j]
        if site is None:
            yield env.timeout(minutes)
        else:
            want = self._charging.want_kw(i, j, soc)
            yield env.process(site.charge(i, kwh, want=want, station=j))
        res.release(req)
        present[j] -= 1
        t2 = env.now
        self._log.append(
            new_row(
                session=i,
                attempt=attempt,
                station=j,
                outcome=CHARGED,
                access_min=drive_min,
                arrival_min=t0,
                start_min=t1,
                end_min=t2,
                wait_min=t1 - t0,
                energy_kwh=kwh,
                power_kw=kwh / ((t2 - t1) / 60.0) if t2 > t1 else _NAN,
                detour_min=detour_min,
            )
        )
        return True


class Visit:
    """Visits of stations driven by event callbacks instead of a process: the same
    steps as :meth:`Ports.visit`, at the same events in the same order, so the same log
    (a process would cost a generator, its start and end events and a resumption per
    step; residents, who need nothing else, visit this way).

    A driver policy subclasses it: it sets the attempt's station ``_j``, ``_attempt``,
    ``_drive`` (the drive there, min) and ``_minutes`` (its charging time on a port of
    its own, min), calls :meth:`start` at the arrival, and gets :meth:`visited` where
    :meth:`Ports.visit` returns.

    Parameters
    ----------
    ports
        The stations.
    i
        The session.
    kwh, soc
        Energy it charges (kWh) and its state of charge on arrival.
    """

    __slots__ = (
        "_attempt",
        "_drive",
        "_i",
        "_j",
        "_kwh",
        "_minutes",
        "_ports",
        "_req",
        "_soc",
        "_t0",
        "_t1",
    )

    def __init__(self, ports: Ports, i: int, /, *, kwh: float, soc: float) -> None:
        self._ports = ports
        self._i, self._kwh, self._soc = i, kwh, soc
        self._j, self._attempt, self._drive, self._minutes = -1, 0, _NAN, _NAN

    def visited(self, charged: bool, /) -> None:
        """Called where :meth:`Ports.visit` returns, with ``True`` if it charged."""
        raise NotImplementedError

    def start(self) -> None:
        """Arrive now: balk, charge at once, or queue until a port frees or patience
        runs out."""
        ports, j = self._ports, self._j
        env = ports._env
        self._t0 = env.now
        present = ports.present
        here, c = present[j], ports.ports[j]
        if (here >= c and here - c >= ports.balk_at[j]) or ports.closed(j):
            self._fail(BALKED, 0.0)
            return
        present[j] = here + 1
        req = self._req = ports._resources[j].request()
        if req.triggered:
            self._charge()
            return
        patience = ports._patience[self._i]
        if patience < _INF:
            wake = first_of(env, req, env.timeout(patience))
            assert wake.callbacks is not None
            wake.callbacks.append(self._woken)
        else:
            assert req.callbacks is not None
            req.callbacks.append(self._granted)

    def _woken(self, _: simpy.Event) -> None:
        """The port came free or patience ran out, whichever first."""
        req = self._req
        if not req.processed and not req.triggered:
            self._ports._resources[self._j].cancel(req)
            self._ports.present[self._j] -= 1
            self._fail(RENEGED, self._ports._env.now - self._t0)
        else:
            self._charge()

    def _granted(self, _: simpy.Event) -> None:
        self._charge()

    def _charge(self) -> None:
        """Take the port now; charge for the minutes worked out, or, at a capped site,
        for as long as the share of the cap takes."""
        ports, j = self._ports, self._j
        env = ports._env
        self._t1 = env.now
        if ports._max_min is not None:
            self._kwh, self._minutes = ports.cut(j, self._kwh, self._minutes)
        site = ports._capped[j]
        if site is None:
            Later(env, self._minutes, self._charged)
            return
        want = ports._charging.want_kw(self._i, j, self._soc)
        ev = env.process(site.charge(self._i, self._kwh, want=want, station=j))
        assert ev.callbacks is not None
        ev.callbacks.append(self._charged)

    def _charged(self, _: simpy.Event) -> None:
        """Done charging: free the port, log, go on."""
        ports, j = self._ports, self._j
        ports._resources[j].release(self._req)
        ports.present[j] -= 1
        t0, t1, t2 = self._t0, self._t1, ports._env.now
        kwh = self._kwh
        power = kwh / ((t2 - t1) / 60.0) if t2 > t1 else _NAN
        ports._log.append(
            _row(
                LogRow,
                (
                    self._i,
                    self._attempt,
                    j,
                    CHARGED,
                    self._drive,
                    t0,
                    t1,
                    t2,
                    t1 - t0,
                    kwh,
                    power,
                    _NAN,
                    0,
                    _NAN,
                ),
            )
        )
        self.visited(True)

    def _fail(self, outcome: int, wait_min: float, /) -> None:
        """Log a balked or reneged attempt and go on."""
        i, attempt, j, drive, t0 = self._i, self._attempt, self._j, self._drive, self._t0
        row = (i, attempt, j, outcome, drive, t0, _NAN, _NAN, wait_min, 0.0, _NAN, _NAN, 0, _NAN)
        self._ports._log.append(_row(LogRow, row))
        self.visited(False)
