"""Siting strategies: choose where chargers go.

The solver-level API, usable on any instance::

    from sim.siting import SitingProblem, solve
    problem = SitingProblem(cost=C, weight=w)  # C: (n_demand, n_candidates), w: (n_demand,)
    result = solve(problem, "p-median", p=5)   # result.sites, result.objective, result.optimal

Models are listed by :func:`available_models` and documented in ``docs/siting.md``.
"""

from __future__ import annotations

from sim.siting.problem import SitingProblem, SitingResult
from sim.siting.registry import available_models, register, solve

__all__ = ["SitingProblem", "SitingResult", "available_models", "register", "solve"]
