"""Queue-aware sizing of a battery-swap station: bays, packs and pack chargers.

Drivers arrive as a Poisson process (``lam`` per hour).  A driver waits for a bay, then
in the bay for a charged pack, then is swapped; its own pack goes to the station's
chargers (see :mod:`sim.des.swap` and docs/swap.md).

**Packs (ample bays, instant swaps).**  Let ``T`` be the packs out of stock (waiting
for a charger or charging) plus the drivers waiting for a pack.  An arrival adds one
to ``T``; a pack finishing its charge removes one (it goes back to the stock or to the
first waiting driver, whose own pack then takes its place).  With ``m`` chargers
(``m <= N``, the packs) and exponential recharge times of mean ``1/mu``, ``T`` is
therefore exactly the number in an M/M/m queue, and a driver waits for a pack when it
finds ``T >= N``.  From the M/M/m stationary law, with ``a = lam/mu``, ``rho = a/m``::

    P(wait for a pack) = C(m, a) rho^(N - m)
    P(pack wait > t)   = C(m, a) rho^(N - m) exp(-(m mu - lam) t)
    E[pack wait]       = C(m, a) rho^(N - m) / (m mu - lam)

(``m = N`` is the M/G/N limit of docs/swap.md; more chargers than packs act as ``N``.)
General recharge times scale the conditional wait by ``k = (1 + cv^2) / 2`` as in
:mod:`sim.siting.sizing` (Allen-Cunneen), an approximation.

**Bays.**  A driver holds its bay while it waits for a pack and while it is swapped,
so the bays are an M/G/c queue whose service is the swap time plus the pack wait; the
sizing takes its mean and the swap time's variability (an approximation).

**Target.**  A driver's wait is its bay wait plus its pack wait; the sizing keeps each
tail at ``t/2`` below ``p/2``, so ``P(wait > t) <= p`` holds by the union bound.  The
simulation reports the achieved figure per station.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.errors import SolverInputError
from sim.siting.sizing import erlang_c

__all__ = ["SwapSize", "bay_wait_exceeds", "pack_wait", "size_swap_station"]


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not math.isfinite(v) or v <= 0:
            raise SolverInputError(f"{name}={v!r}: expected a finite value > 0")


def pack_wait(
    lam_per_h: float,
    recharge_h: float,
    /,
    *,
    packs: int,
    chargers: int,
    t_h: float = 0.0,
    cv: float = 1.0,
) -> tuple[float, float]:
    """Pack waits at a swap station with ample bays and instant swaps.

    Parameters
    ----------
    lam_per_h
        Swap arrivals (per hour), >= 0.
    recharge_h
        Mean time to recharge a returned pack on one charger (h), > 0.
    packs, chargers
        ``N`` packs and ``m`` pack chargers (>= 1).
    t_h
        Wait threshold (h).
    cv
        Coefficient of variation of recharge times (1: exponential, exact).

    Returns
    -------
    tuple of float
        ``P(pack wait > t_h)`` and the mean pack wait (h); ``(1, inf)`` when the
        chargers cannot keep up (``lam >= m mu``).
    """
    if lam_per_h <= 0:
        return 0.0, 0.0
    m = min(int(chargers), int(packs))
    mu = 1.0 / recharge_h
    a = lam_per_h / mu
    slack = m * mu - lam_per_h
    if slack <= 0:
        return 1.0, math.inf
    k = (1.0 + cv * cv) / 2.0
    p_wait = float(erlang_c(m, a)) * (a / m) ** (int(packs) - m)
    return p_wait * math.exp(-slack * t_h / k), p_wait * k / slack


def bay_wait_exceeds(
    lam_per_h: float, bay_h: float, /, *, bays: int, t_h: float, cv: float = 1.0
) -> float:
    """``P(bay wait > t_h)`` of an M/G/c queue on the bays (Allen-Cunneen tail).

    Parameters
    ----------
    lam_per_h
        Arrivals (per hour).
    bay_h
        Mean bay occupation per driver (h): its swap time plus its mean pack wait.
    bays
        Swap bays (>= 1).
    t_h
        Wait threshold (h).
    cv
        Coefficient of variation of the bay occupation.
    """
    if lam_per_h <= 0:
        return 0.0
    slack = bays / bay_h - lam_per_h
    if slack <= 0:
        return 1.0
    k = (1.0 + cv * cv) / 2.0
    return float(erlang_c(int(bays), lam_per_h * bay_h)) * math.exp(-slack * t_h / k)


@dataclass(frozen=True)
class SwapSize:
    """A sized swap station.

    Attributes
    ----------
    bays, packs, chargers
        The equipment chosen.
    cost_cny
        Its variable cost: packs, chargers and bays at their unit costs (CNY).
    p_exceed
        The union bound on ``P(wait > target)`` it achieves.
    feasible
        ``False`` when no station within the limits meets the target (the largest is
        returned).
    """

    bays: int
    packs: int
    chargers: int
    cost_cny: float
    p_exceed: float
    feasible: bool


def size_swap_station(
    lam_per_h: float,
    /,
    *,
    swap_min: float,
    recharge_min: float,
    target: tuple[float, float],
    unit_cost_cny: tuple[float, float, float],
    limits: tuple[int, int, int],
    swap_cv: float = 0.2,
    recharge_cv: float = 1.0,
) -> SwapSize:
    """The cheapest bays, packs and chargers that keep ``P(wait > t) <= p`` at a rate.

    Parameters
    ----------
    lam_per_h
        Swap arrivals at the peak hour (per hour), >= 0.
    swap_min, recharge_min
        Mean swap time and mean recharge time of a returned pack on one charger (min).
    target
        ``(t, p)``: the wait ``t`` (min) that at most a share ``p`` in (0, 1] of drivers
        may exceed.
    unit_cost_cny
        Cost of one ``(bay, pack, charger)`` (CNY, >= 0).
    limits
        Most ``(bays, packs, chargers)`` a station may have.
    swap_cv, recharge_cv
        Coefficients of variation of swap and recharge times.

    Returns
    -------
    SwapSize
        Ties in cost go to fewer packs, then fewer bays.
    """
    target_wait_min, max_prob = target
    _check_positive(recharge_min=recharge_min, max_prob=max_prob)
    if not 0 < max_prob <= 1 or target_wait_min < 0 or swap_min < 0 or lam_per_h < 0:
        raise SolverInputError(
            "size_swap_station: expected lam_per_h >= 0, swap_min >= 0, "
            "a target wait >= 0 and a share in (0, 1]"
        )
    if min(limits) < 1:
        raise SolverInputError(f"size_swap_station: limits={limits!r}; expected each >= 1")
    c_bay, c_pack, c_chg = unit_cost_cny
    max_bays, max_packs, max_chargers = limits
    half_t = target_wait_min / 120.0  # half the target, in hours
    best: SwapSize | None = None
    closest: SwapSize | None = None
    for m in range(1, min(max_chargers, max_packs) + 1):
        for n in range(m, max_packs + 1):
            if best is not None and c_bay + n * c_pack + m * c_chg > best.cost_cny:
                break  # more packs only cost more
            p_pack, w_pack = pack_wait(
                lam_per_h, recharge_min / 60.0, packs=n, chargers=m, t_h=half_t, cv=recharge_cv
            )
            bay_h = swap_min / 60.0 + w_pack
            for b in range(1, max_bays + 1):
                p_bay = bay_wait_exceeds(lam_per_h, bay_h, bays=b, t_h=half_t, cv=swap_cv)
                size = SwapSize(
                    bays=b, packs=n, chargers=m,
                    cost_cny=b * c_bay + n * c_pack + m * c_chg,
                    p_exceed=min(p_pack + p_bay, 1.0),
                    feasible=p_pack <= max_prob / 2 and p_bay <= max_prob / 2,
                )  # fmt: skip
                if size.feasible:
                    if best is None or (size.cost_cny, n, b) < (
                        best.cost_cny,
                        best.packs,
                        best.bays,
                    ):
                        best = size
                    break
                if closest is None or size.p_exceed < closest.p_exceed:
                    closest = size
    if best is not None:
        return best
    assert closest is not None  # the limits are >= 1
    return closest
