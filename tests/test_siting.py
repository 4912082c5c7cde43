"""Siting models: exact answers on brute-forceable instances, errors a user would meet."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sim.errors import SolverError, SolverInputError
from sim.siting import SitingProblem, SitingResult, available_models, register, solve


def _instance(
    seed: int, m: int = 14, n: int = 9, *, integral: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts_d = rng.uniform(0, 10, size=(m, 2))
    pts_c = rng.uniform(0, 10, size=(n, 2))
    cost = np.linalg.norm(pts_d[:, None, :] - pts_c[None, :, :], axis=2)
    weight = rng.integers(1, 6, size=m).astype(float)
    if integral:
        cost = np.round(cost * 3)
    return cost, weight


def _brute_pmedian(
    cost: np.ndarray,
    weight: np.ndarray,
    p: int | None,
    *,
    site_cost: np.ndarray | None = None,
    budget: float | None = None,
    forced: tuple[int, ...] = (),
) -> float:
    n = cost.shape[1]
    best = math.inf
    sizes = [p] if p is not None and budget is None else range(1, (p or n) + 1)
    for k in sizes:
        for combo in itertools.combinations(range(n), k):
            if not set(forced) <= set(combo):
                continue
            if budget is not None and site_cost is not None:
                if site_cost[list(combo)].sum() > budget + 1e-9:
                    continue
            best = min(best, float(weight @ cost[:, combo].min(axis=1)))
    return best


def _brute_mclp(cost: np.ndarray, weight: np.ndarray, p: int, radius: float) -> float:
    n = cost.shape[1]
    return max(
        float(weight[(cost[:, combo] <= radius).any(axis=1)].sum())
        for combo in itertools.combinations(range(n), p)
    )


# -- p-median -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 4])
def test_exact_pmedian_matches_enumeration(seed: int, p: int) -> None:
    cost, weight = _instance(seed, integral=seed % 2 == 0)
    res = solve(SitingProblem(cost=cost, weight=weight), "p-median", p=p)
    assert res.optimal and res.gap == 0.0
    assert res.sites.size == p and res.sites.dtype == np.int64
    assert np.all(np.diff(res.sites) > 0)
    assert res.objective == pytest.approx(_brute_pmedian(cost, weight, p), rel=1e-9)
    milp = solve(SitingProblem(cost=cost, weight=weight), "p-median", p=p, lagrangian=False)
    assert milp.optimal and milp.objective == pytest.approx(res.objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_heuristic_never_beats_exact(seed: int) -> None:
    cost, weight = _instance(seed + 10, m=30, n=12)
    problem = SitingProblem(cost=cost, weight=weight)
    for p in (2, 3, 5):
        exact = solve(problem, "p-median", p=p)
        heur = solve(problem, "p-median-heuristic", p=p, rng=np.random.default_rng(seed))
        assert heur.objective >= exact.objective - 1e-9
        assert heur.sites.size == p and not heur.optimal and math.isnan(heur.gap)


def test_pmedian_budget_and_keep_existing() -> None:
    cost, weight = _instance(3, m=12, n=8)
    site_cost = np.array([5.0, 1.0, 3.0, 2.0, 8.0, 1.0, 4.0, 2.0])
    problem = SitingProblem(cost=cost, weight=weight, site_cost=site_cost, existing=[4])
    # Existing site 4 costs nothing against the budget (already built).
    charged = site_cost.copy()
    charged[4] = 0.0
    res = solve(problem, "p-median", budget=5.0, p=3)
    assert charged[res.sites].sum() <= 5.0 and res.sites.size <= 3
    assert res.objective == pytest.approx(
        _brute_pmedian(cost, weight, 3, site_cost=charged, budget=5.0)
    )
    kept = solve(problem, "p-median", p=2, keep_existing=True)
    assert 4 in kept.sites and kept.sites.size == 2
    assert kept.objective == pytest.approx(_brute_pmedian(cost, weight, 2, forced=(4,)))
    heur = solve(problem, "p-median-heuristic", budget=5.0)
    assert charged[heur.sites].sum() <= 5.0 + 1e-9


def test_unreachable_pairs_are_avoided_and_isolated_demand_reported() -> None:
    cost = np.array([[1.0, np.inf, 5.0], [np.inf, 1.0, 5.0], [np.inf, np.inf, np.inf]])
    problem = SitingProblem(cost=cost, weight=np.array([1.0, 1.0, 2.0]))
    res = solve(problem, "p-median", p=1)
    assert res.sites.tolist() == [2]  # the only site that reaches both reachable points
    assert res.params["unreachable_demand"] == [2]
    assert math.isinf(res.objective)  # point 2 (weight 2) reaches no site at all
    two = solve(problem, "p-median", p=2)
    assert two.sites.tolist() == [0, 1]


# -- coverage models ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_mclp_exact_matches_enumeration_and_beats_greedy(seed: int) -> None:
    cost, weight = _instance(seed + 20, m=25, n=10, integral=False)
    problem = SitingProblem(cost=cost, weight=weight)
    for p in (1, 2, 3):
        exact = solve(problem, "mclp", p=p, radius=3.0)
        greedy = solve(problem, "mclp-greedy", p=p, radius=3.0)
        alias = solve(problem, "coverage-greedy", p=p, radius=3.0)
        assert exact.optimal
        assert exact.objective == pytest.approx(_brute_mclp(cost, weight, p, 3.0))
        assert exact.objective >= greedy.objective - 1e-9
        assert alias.sites.tolist() == greedy.sites.tolist()
        assert exact.sites.size == p


def test_mclp_budget_respected() -> None:
    cost, weight = _instance(7, m=20, n=10, integral=False)
    site_cost = np.linspace(1.0, 10.0, 10)
    problem = SitingProblem(cost=cost, weight=weight, site_cost=site_cost)
    for model in ("mclp", "mclp-greedy"):
        res = solve(problem, model, budget=12.0, radius=3.0)
        assert site_cost[res.sites].sum() <= 12.0 + 1e-9


def test_lscp_covers_everything_coverable_and_is_minimal() -> None:
    cost, weight = _instance(5, m=20, n=9, integral=False)
    radius = 3.5
    cost[0, :] = 50.0  # demand point 0 cannot be covered by any site
    problem = SitingProblem(cost=cost, weight=weight)
    res = solve(problem, "lscp", radius=radius)
    within = cost <= radius
    coverable = within.any(axis=1)
    assert res.params["uncoverable_demand"] == np.flatnonzero(~coverable).tolist()
    assert 0 in res.params["uncoverable_demand"]  # type: ignore[operator]
    assert within[:, res.sites].any(axis=1)[coverable].all()
    smallest = next(
        k
        for k in range(1, 10)
        if any(
            within[:, combo].any(axis=1)[coverable].all()
            for combo in itertools.combinations(range(9), k)
        )
    )
    assert res.objective == res.sites.size == smallest and res.optimal


def test_lscp_minimises_money_with_site_costs() -> None:
    cost = np.array([[1.0, 1.0, 9.0], [9.0, 1.0, 1.0]])
    problem = SitingProblem(cost=cost, weight=np.ones(2), site_cost=np.array([1.0, 5.0, 1.0]))
    res = solve(problem, "lscp", radius=2.0)
    assert res.sites.tolist() == [0, 2] and res.objective == 2.0
    assert res.params["objective_unit"] == "CNY"


def test_capacitated_coverage_respects_capacity() -> None:
    # Two demand points of weight 10 near site 0 (capacity 12) and one near site 1.
    cost = np.array([[1.0, 9.0], [1.0, 9.0], [9.0, 1.0]])
    weight = np.array([10.0, 10.0, 3.0])
    problem = SitingProblem(cost=cost, weight=weight, capacity=np.array([12.0, 50.0]))
    one = solve(problem, "capacitated-coverage", p=1, radius=2.0)
    assert one.sites.tolist() == [0] and one.objective == pytest.approx(12.0)
    two = solve(problem, "capacitated-coverage", p=2, radius=2.0)
    assert two.objective == pytest.approx(15.0)
    assert two.params["served_by_site"] == pytest.approx([12.0, 3.0])
    with pytest.raises(SolverInputError, match="capacity"):
        solve(SitingProblem(cost=cost, weight=weight), "capacitated-coverage", p=1, radius=2.0)


# -- baselines ----------------------------------------------------------------------------


def test_baselines() -> None:
    cost, weight = _instance(1)
    problem = SitingProblem(cost=cost, weight=weight, existing=[2, 5])
    r1 = solve(problem, "random", p=3, rng=np.random.default_rng(1))
    r2 = solve(problem, "random", p=3, rng=np.random.default_rng(1))
    assert r1.sites.tolist() == r2.sites.tolist() and r1.sites.size == 3
    kept = solve(problem, "random", p=3, keep_existing=True, rng=np.random.default_rng(2))
    assert {2, 5} <= set(kept.sites.tolist())
    with pytest.raises(SolverInputError, match="rng"):
        solve(problem, "random", p=3)
    ex = solve(problem, "existing")
    assert ex.sites.tolist() == [2, 5]
    assert ex.objective == pytest.approx(float(weight @ cost[:, [2, 5]].min(axis=1)))
    assert math.isnan(solve(SitingProblem(cost=cost, weight=weight), "existing").objective)
    fx = solve(problem, "fixed", sites=[7, 1])
    assert fx.sites.tolist() == [1, 7]
    for bad in ([1, 1], [99], ["a"], 3):
        with pytest.raises(SolverInputError, match="sites"):
            solve(problem, "fixed", sites=bad)


# -- errors and registry ------------------------------------------------------------------


def test_problem_validation_names_the_field() -> None:
    cost = np.ones((3, 2))
    with pytest.raises(SolverInputError, match=r"weight.*\(3,\)"):
        SitingProblem(cost=cost, weight=np.ones(4))
    with pytest.raises(SolverInputError, match="cost: NaN"):
        SitingProblem(cost=np.array([[1.0, np.nan]]), weight=np.ones(1))
    with pytest.raises(SolverInputError, match="weight: negative"):
        SitingProblem(cost=cost, weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(SolverInputError, match="cost: got shape"):
        SitingProblem(cost=np.ones(3), weight=np.ones(3))
    with pytest.raises(SolverInputError, match="site_cost"):
        SitingProblem(cost=cost, weight=np.ones(3), site_cost=np.ones(3))
    with pytest.raises(SolverInputError, match="existing: index 5"):
        SitingProblem(cost=cost, weight=np.ones(3), existing=[5])
    with pytest.raises(SolverInputError, match="weight: infinite"):
        SitingProblem(cost=cost, weight=np.array([1.0, np.inf, 1.0]))


def test_bad_parameters_are_named() -> None:
    problem = SitingProblem(cost=np.ones((3, 4)), weight=np.ones(3))
    with pytest.raises(SolverInputError, match="missing parameter p"):
        solve(problem, "p-median")
    with pytest.raises(SolverInputError, match=r"p=5.*1\.\.4"):
        solve(problem, "p-median", p=5)
    with pytest.raises(SolverInputError, match="radius=0"):
        solve(problem, "mclp", p=1, radius=0)
    with pytest.raises(SolverInputError, match="missing parameter radius"):
        solve(problem, "lscp")
    with pytest.raises(SolverInputError, match="site_cost"):
        solve(problem, "p-median", budget=10.0)
    with pytest.raises(SolverInputError, match="'raduis': did you mean 'radius'"):
        solve(problem, "mclp", p=1, raduis=2.0)


def test_unknown_model_lists_names_and_suggests() -> None:
    problem = SitingProblem(cost=np.ones((2, 2)), weight=np.ones(2))
    with pytest.raises(SolverError, match="Did you mean 'p-median'") as info:
        solve(problem, "p-medain", p=1)
    assert "mclp-greedy" in str(info.value)
    assert {
        "p-median",
        "p-median-heuristic",
        "mclp",
        "mclp-greedy",
        "coverage-greedy",
        "lscp",
        "capacitated-coverage",
        "random",
        "existing",
        "fixed",
    } <= set(available_models())


def test_register_a_new_model() -> None:
    @register("test-first-k")
    def first_k(problem: SitingProblem, *, rng: object = None, **params: object) -> SitingResult:
        k = int(params["k"])  # type: ignore[call-overload]
        return SitingResult(np.arange(k), 0.0, False, math.nan, 0.0, "x", {"k": k})

    res = solve(SitingProblem(cost=np.ones((2, 3)), weight=np.ones(2)), "test-first-k", k=2)
    assert res.sites.tolist() == [0, 1] and res.model == "test-first-k" and res.time_s >= 0
