"""Stage 4, grid: compounds' power and prices.

Takes the region's zones (households, an optional ``kva`` from the zones file), the
home points of :func:`sim.demand.residential.home_table`, the ``grid`` section and the
trip model of ``demand.residential``; gives a :class:`~sim.grid.stage.GridResult`: per
compound (zone) and 15-minute step the household base load, the home charging load
(uncontrolled, or ordered within the transformer's headroom), the headroom left for
public chargers, and per compound the energy needed, delivered and not delivered, the
peak loading and the hours above 80% and 100% of the transformer's kVA.
:mod:`sim.grid.tariff` prices charging sessions by time of use.

Use::

    from sim.grid import grid_load
    result = grid_load(region.zones, home_table(region), grid=scenario.grid, ...)
"""

from __future__ import annotations

from sim.grid.compounds import STEP_MIN, Compounds, compounds
from sim.grid.control import Schedule, ordered, uncontrolled
from sim.grid.stage import GridResult, grid_load
from sim.grid.tariff import mean_price_per_kwh, session_cost, step_prices

__all__ = [
    "STEP_MIN",
    "Compounds",
    "GridResult",
    "Schedule",
    "compounds",
    "grid_load",
    "mean_price_per_kwh",
    "ordered",
    "session_cost",
    "step_prices",
    "uncontrolled",
]
