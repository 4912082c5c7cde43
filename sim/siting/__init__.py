"""Siting strategies: choose where chargers go.

Takes a siting problem: demand points x candidate sites with access costs (minutes) and
demand weights (sessions per day), optional site costs (CNY), capacities, existing sites
and through-traffic flows; in a scenario, a strategy and the prepared
:class:`~sim.siting.plan.SitingInputs`.  Gives the chosen sites
(:class:`SitingResult`) and, for a scenario, an equipped :class:`~sim.siting.plan.Plan`
(ports, power, charger class, cost).

The solver-level API, usable on any instance::

    from sim.siting import SitingProblem, solve
    problem = SitingProblem(cost=C, weight=w)  # C: (n_demand, n_candidates), w: (n_demand,)
    result = solve(problem, "p-median", p=5)   # result.sites, result.objective, result.optimal

Models are listed by :func:`available_models` and documented in ``docs/siting.md``; a
new model is one module and one :func:`register` call whose :class:`Needs` declare what
it reads.
"""

from __future__ import annotations

from sim.siting.problem import SitingProblem, SitingResult
from sim.siting.registry import Needs, available_models, register, solve

__all__ = ["Needs", "SitingProblem", "SitingResult", "available_models", "register", "solve"]
