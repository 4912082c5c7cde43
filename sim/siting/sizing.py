"""Queue-aware port sizing: how many ports each opened site needs.

Each site is a multi-server queue: charging sessions arrive as a Poisson process
(``lam`` per hour) and occupy one of ``c`` ports for a mean ``1/mu`` hours.

M/M/c (exponential service) is exact by Erlang's formulas:

* probability of waiting ``C(c, a) = c B(c, a) / (c - a (1 - B(c, a)))`` with offered load
  ``a = lam / mu`` (Erlang) and ``B`` the Erlang B blocking probability, computed by the
  stable recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``;
* mean wait in queue ``Wq = C / (c mu - lam)``;
* wait tail ``P(W > t) = C exp(-(c mu - lam) t)``.

M/G/c (general service times with coefficient of variation ``cv``): the Allen-Cunneen
approximation scales the mean wait, ``Wq(M/G/c) ~= Wq(M/M/c) (1 + cv^2) / 2`` (Poisson
arrivals: ``cv_a = 1``).  :func:`size_ports` keeps the probability of waiting at Erlang C
and takes the conditional wait as exponential with that scaled mean:
``P(W > t) ~= C exp(-(c mu - lam) t / k)`` with ``k = (1 + cv^2) / 2``; ``cv = 1`` is exact
M/M/c.  This is an approximation (good for moderate ``cv`` and high load, Whitt 1993).
"""

from __future__ import annotations

import math

import numpy as np

from sim.errors import SolverInputError

__all__ = ["erlang_b", "erlang_c", "mmc_mean_wait", "mmc_wait_exceeds", "size_ports"]


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if x.ndim == 0 else x


def _servers(c: object, name: str) -> np.ndarray:
    arr = np.asarray(c)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))
    ):
        raise SolverInputError(f"{name}: got {c!r}; expected whole numbers of ports >= 0")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise SolverInputError(f"{name}: got {c!r}; expected whole numbers of ports >= 0")
    return arr


def _nonneg(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if np.isnan(arr).any() or (arr < 0).any() or np.isinf(arr).any():
        raise SolverInputError(f"{name}: got {x!r}; expected finite values >= 0")
    return arr


def erlang_b(c: int | np.ndarray, offered_load: float | np.ndarray) -> float | np.ndarray:
    """Erlang B: probability that an arrival finds all ``c`` ports busy (M/M/c/c).

    Parameters
    ----------
    c
        Ports (int >= 0, or an array broadcast against ``offered_load``).
    offered_load
        ``a = lam / mu`` in Erlang (>= 0).

    Returns
    -------
    float or numpy.ndarray
        ``B(c, a)`` by the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, stable for any
        ``c`` (no factorials).
    """
    cc, a = np.broadcast_arrays(_servers(c, "c"), _nonneg(offered_load, "offered_load"))
    b = np.ones(cc.shape)
    for k in range(1, int(cc.max(initial=0)) + 1):
        nxt = a * b / (k + a * b)
        b = np.where(k <= cc, nxt, b)
    return _scalar_or_array(b)


def erlang_c(c: int | np.ndarray, offered_load: float | np.ndarray) -> float | np.ndarray:
    """Erlang C: probability that an arrival has to wait (M/M/c).

    Parameters
    ----------
    c
        Ports (int >= 0, or an array).
    offered_load
        ``a = lam / mu`` in Erlang (>= 0).

    Returns
    -------
    float or numpy.ndarray
        ``C(c, a) = c B / (c - a (1 - B))`` for ``a < c``; 1 when ``a >= c`` (unstable:
        every arrival waits eventually) and 0 when ``a = 0 < c``.  E.g. ``C(2, 1) = 1/3``.
    """
    cc, a = np.broadcast_arrays(_servers(c, "c"), _nonneg(offered_load, "offered_load"))
    b = np.asarray(erlang_b(cc, a))
    stable = a < cc
    with np.errstate(divide="ignore", invalid="ignore"):
        val = cc * b / (cc - a * (1.0 - b))
    out = np.where(stable, np.clip(val, 0.0, 1.0), 1.0)
    return _scalar_or_array(out)


def mmc_mean_wait(
    lam: float | np.ndarray, mu: float | np.ndarray, c: int | np.ndarray
) -> float | np.ndarray:
    """Mean wait in queue of an M/M/c queue.

    Parameters
    ----------
    lam
        Arrival rate (per unit time, e.g. per hour), >= 0.
    mu
        Service rate of one port (same time unit), > 0.
    c
        Ports.

    Returns
    -------
    float or numpy.ndarray
        ``Wq = C(c, lam/mu) / (c mu - lam)`` in the time unit of the rates; ``inf`` when
        ``lam >= c mu``.
    """
    lam_a, mu_a, cc = np.broadcast_arrays(_nonneg(lam, "lam"), _rate(mu), _servers(c, "c"))
    pw = np.asarray(erlang_c(cc, lam_a / mu_a))
    slack = cc * mu_a - lam_a
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(slack > 0, pw / slack, np.inf)
    out = np.where(lam_a == 0, 0.0, out)
    return _scalar_or_array(out)


def mmc_wait_exceeds(
    lam: float | np.ndarray,
    mu: float | np.ndarray,
    c: int | np.ndarray,
    t: float | np.ndarray,
) -> float | np.ndarray:
    """Probability that an arrival waits longer than ``t`` in an M/M/c queue.

    Parameters
    ----------
    lam, mu, c
        As in :func:`mmc_mean_wait`.
    t
        Wait threshold (time unit of the rates), >= 0.

    Returns
    -------
    float or numpy.ndarray
        ``P(W > t) = C(c, lam/mu) exp(-(c mu - lam) t)``; 1 when ``lam >= c mu``.
    """
    return _wait_exceeds(lam, mu, c, t, scale=1.0)


def _rate(mu: object) -> np.ndarray:
    arr = np.asarray(mu, dtype=np.float64)
    if np.isnan(arr).any() or (arr <= 0).any() or np.isinf(arr).any():
        raise SolverInputError(f"mu: got {mu!r}; expected finite service rates > 0")
    return arr


def _wait_exceeds(
    lam: object, mu: object, c: object, t: object, *, scale: float
) -> float | np.ndarray:
    lam_a, mu_a, cc, t_a = np.broadcast_arrays(
        _nonneg(lam, "lam"), _rate(mu), _servers(c, "c"), _nonneg(t, "t")
    )
    pw = np.asarray(erlang_c(cc, lam_a / mu_a))
    slack = cc * mu_a - lam_a
    out = np.where(slack > 0, pw * np.exp(-np.maximum(slack, 0.0) * t_a / scale), 1.0)
    out = np.where(lam_a == 0, 0.0, out)
    return _scalar_or_array(out)


def _check_sizing(
    arrival_rate_per_h: np.ndarray,
    mean_service_h: np.ndarray | float,
    *,
    port_budget: int,
    target_wait_min: float,
    max_prob: float,
    min_ports: int,
    service_cv: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Check :func:`size_ports`' arguments; return the rates and service times as
    ``(n_sites,)`` float64 arrays."""
    lam = np.asarray(arrival_rate_per_h, dtype=np.float64)
    if lam.ndim != 1 or np.isnan(lam).any() or (lam < 0).any() or np.isinf(lam).any():
        raise SolverInputError(
            f"size_ports: arrival_rate_per_h has shape {lam.shape} / bad values; expected a "
            "1-D array of finite rates >= 0 (per hour)"
        )
    n = lam.size
    svc = np.broadcast_to(np.asarray(mean_service_h, dtype=np.float64), (n,)).copy()
    if np.isnan(svc).any() or (svc <= 0).any() or np.isinf(svc).any():
        raise SolverInputError(
            f"size_ports: mean_service_h={mean_service_h!r}; expected finite durations > 0 (h)"
        )
    if isinstance(min_ports, bool) or not isinstance(min_ports, int | np.integer) or min_ports < 0:
        raise SolverInputError(f"size_ports: min_ports={min_ports!r}; expected an integer >= 0")
    if (
        isinstance(port_budget, bool)
        or not isinstance(port_budget, int | np.integer)
        or port_budget < n * min_ports
    ):
        raise SolverInputError(
            f"size_ports: port_budget={port_budget!r}; expected an integer >= "
            f"n_sites * min_ports = {n * min_ports}"
        )
    if not math.isfinite(target_wait_min) or target_wait_min < 0:
        raise SolverInputError(
            f"size_ports: target_wait_min={target_wait_min!r}; expected minutes >= 0"
        )
    if not 0 < max_prob <= 1:
        raise SolverInputError(f"size_ports: max_prob={max_prob!r}; expected a value in (0, 1]")
    if not math.isfinite(service_cv) or service_cv < 0:
        raise SolverInputError(f"size_ports: service_cv={service_cv!r}; expected a value >= 0")
    return lam, svc


def _stabilise(ports: np.ndarray, load: np.ndarray, lam: np.ndarray, left: int, /) -> int:
    """Give unstable sites (offered load ``>= ports``) ports in place, one at a time to
    the most loaded, until all are stable or ``left`` ports are spent; returns the ports
    left."""
    while left > 0:
        unstable = np.flatnonzero((load >= ports) & (lam > 0))
        if unstable.size == 0:
            break
        util = load[unstable] / np.maximum(ports[unstable], 0.5)
        ports[unstable[int(np.argmax(util))]] += 1
        left -= 1
    return left


def size_ports(
    arrival_rate_per_h: np.ndarray,
    mean_service_h: np.ndarray | float,
    *,
    port_budget: int,
    target_wait_min: float,
    max_prob: float,
    min_ports: int = 1,
    service_cv: float = 1.0,
) -> np.ndarray:
    """Share a budget of ports among sites so that few drivers wait long.

    Every site starts at ``min_ports``.  Unstable sites (offered load ``a >= c``) get ports
    first, one at a time to the most loaded (highest ``a / c``), until they are stable.
    Then ports go one at a time to the site, among those still above target, whose
    ``P(W > target_wait_min)`` drops most with one more port, until every site has
    ``P(W > t) <= max_prob`` or the budget is spent.

    Parameters
    ----------
    arrival_rate_per_h
        ``(n_sites,)`` session arrival rate at each site (per hour), >= 0.
    mean_service_h
        Mean port occupation per session (hours), > 0; scalar or ``(n_sites,)``.
    port_budget
        Total ports to share (>= ``n_sites * min_ports``).
    target_wait_min
        Wait threshold ``t`` (minutes), >= 0.
    max_prob
        Acceptable ``P(W > t)`` in (0, 1].
    min_ports
        Ports every site gets (>= 0).
    service_cv
        Coefficient of variation of the session duration (1 = exponential, M/M/c);
        other values use the Allen-Cunneen scaling in the module docstring.

    Returns
    -------
    numpy.ndarray
        ``(n_sites,)`` int64 ports per site.  Sites may stay above target (or unstable)
        when the budget runs out; check with :func:`mmc_wait_exceeds`.

    Raises
    ------
    SolverInputError
        On a malformed argument (named in the message).
    """
    lam, svc = _check_sizing(
        arrival_rate_per_h,
        mean_service_h,
        port_budget=port_budget,
        target_wait_min=target_wait_min,
        max_prob=max_prob,
        min_ports=min_ports,
        service_cv=service_cv,
    )
    n = lam.size
    mu = 1.0 / svc
    load = lam / mu
    t_h = target_wait_min / 60.0
    scale = (1.0 + service_cv**2) / 2.0
    ports = np.full(n, int(min_ports), dtype=np.int64)
    left = _stabilise(ports, load, lam, int(port_budget) - int(ports.sum()))

    def tail(c: np.ndarray) -> np.ndarray:
        return np.asarray(_wait_exceeds(lam, mu, c, t_h, scale=scale), dtype=np.float64).reshape(n)

    now = tail(ports)
    nxt = tail(ports + 1)
    while left > 0:
        over = now > max_prob
        if not over.any():
            break
        drop = np.where(over, now - nxt, -np.inf)
        j = int(np.argmax(drop))
        ports[j] += 1
        left -= 1
        now[j] = nxt[j]
        nxt[j] = float(_wait_exceeds(lam[j], mu[j], ports[j] + 1, t_h, scale=scale))
    return ports
