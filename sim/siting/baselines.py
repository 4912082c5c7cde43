"""Reference plans to compare the optimising models against.

``random``
    ``p`` sites (or sites until the budget is spent) drawn uniformly at random with the
    caller's ``rng`` (required).  ``keep_existing`` puts the existing sites in first.
``existing``
    Exactly the problem's existing sites.
``fixed``
    The sites the user gives (``sites=[...]``, e.g. a plan read from a file), validated.

Every baseline reports ``objective`` = the p-median cost of its sites (weighted cost to
the nearest open site; ``nan`` with no site, ``inf`` if positive demand reaches none), so
it can be set beside ``p-median``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.errors import SolverInputError
from sim.siting.problem import (
    EPS,
    Params,
    SitingProblem,
    SitingResult,
    as_index_array,
    pmedian_objective,
    read_selection,
    resolve_rng,
    sorted_sites,
)
from sim.siting.registry import Needs, register

__all__ = ["existing_sites", "fixed_sites", "random_sites"]


def _baseline(
    problem: SitingProblem, sites: np.ndarray, model: str, params: dict[str, object]
) -> SitingResult:
    chosen = sorted_sites(sites)
    return SitingResult(
        sites=chosen,
        objective=pmedian_objective(problem, chosen),
        optimal=False,
        gap=math.nan,
        time_s=0.0,
        model=model,
        params=params,
    )


@register(
    "random",
    needs=Needs(count="optional", budget=True, keep_existing=True),
    defaults={"p": 1},
)
def random_sites(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """Uniformly random sites.

    Parameters
    ----------
    problem
        The instance.
    rng
        Required: the random stream (e.g. derived from the scenario seed).
    **params
        ``p`` and/or ``budget`` (CNY), ``keep_existing`` (default False).  With a budget,
        candidates are visited in random order and opened while they fit.
    """
    pr = Params("random", params)
    sel = read_selection(problem, pr)
    effective = pr.finish()
    gen = resolve_rng("random", rng, required=True)
    n = problem.n_candidates
    others = np.setdiff1d(np.arange(n), sel.forced)
    p_max = sel.p if sel.p is not None else n
    if sel.budget is None:
        assert sel.p is not None
        pick = gen.choice(others, size=sel.p - sel.forced.size, replace=False)
        return _baseline(problem, np.concatenate((sel.forced, pick)), "random", effective)
    chosen = list(sel.forced.tolist())
    left = sel.budget
    for j in gen.permutation(others):
        if len(chosen) >= p_max:
            break
        if sel.charged[j] <= left + EPS * max(1.0, sel.budget):
            chosen.append(int(j))
            left -= float(sel.charged[j])
    return _baseline(problem, np.array(chosen, dtype=np.int64), "random", effective)


@register("existing")
def existing_sites(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """The problem's existing sites as the plan (no parameters)."""
    effective = Params("existing", params).finish()
    return _baseline(problem, problem.existing_sites(), "existing", effective)


@register("fixed", needs=Needs(sites=True))
def fixed_sites(
    problem: SitingProblem, *, rng: np.random.Generator | None = None, **params: object
) -> SitingResult:
    """A plan given by the user.

    Parameters
    ----------
    problem
        The instance.
    rng
        Unused.
    **params
        ``sites``: candidate indices (unique integers in ``0..n_candidates-1``).

    Raises
    ------
    SolverInputError
        ``sites`` missing, not integers, out of range or repeated.
    """
    pr = Params("fixed", params)
    raw = pr.get("sites")
    if raw is None:
        raise pr.missing("sites", f"candidate indices in 0..{problem.n_candidates - 1}")
    if isinstance(raw, str | bytes) or not hasattr(raw, "__iter__"):
        raise SolverInputError(
            f"fixed: sites={raw!r}; expected a list of candidate indices "
            f"in 0..{problem.n_candidates - 1}"
        )
    effective = pr.finish()
    sites = as_index_array("fixed: sites", raw, problem.n_candidates)
    effective["sites"] = sites.tolist()
    return _baseline(problem, sites, "fixed", effective)
