"""Siting models: exact answers on brute-forceable instances, errors a user would meet."""

from __future__ import annotations

import itertools
import math
from typing import Any

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


def _brute_mclp_general(
    within: np.ndarray,
    weight: np.ndarray,
    *,
    p: int | None,
    budget: float | None,
    charged: np.ndarray,
    forced: tuple[int, ...] = (),
    exact_p: bool = False,
) -> float:
    """Best covered weight over every feasible site set (count, budget, forced)."""
    n = within.shape[1]
    sizes = [p] if exact_p and p is not None else range((p if p is not None else n) + 1)
    best = -math.inf
    for k in sizes:
        for combo in itertools.combinations(range(n), k):
            if not set(forced) <= set(combo):
                continue
            if budget is not None and charged[list(combo)].sum() > budget + 1e-9:
                continue
            hit = within[:, list(combo)].any(axis=1) if combo else np.zeros(len(weight), bool)
            best = max(best, float(weight[hit].sum()))
    return best


def _random_mclp_case(
    rng: np.random.Generator,
) -> tuple[SitingProblem, dict[str, Any], float, int | None, float | None]:
    """A random small MCLP case: problem, solve() params, and its radius, p and budget."""
    m, n = int(rng.integers(3, 22)), int(rng.integers(2, 9))
    cost = rng.uniform(0, 10, size=(m, n))
    if rng.random() < 0.6:
        cost = np.round(cost / 2)  # many equal costs: ties and identical coverage sets
    if rng.random() < 0.2:
        cost[rng.random(cost.shape) < 0.2] = np.inf
    weight = (
        rng.integers(0, 6, size=m).astype(float)
        if rng.random() < 0.5
        else np.round(rng.uniform(0, 3, size=m), 2)
    )
    site_cost = None
    if rng.random() < 0.6:
        site_cost = (
            rng.integers(0, 5, size=n).astype(float)
            if rng.random() < 0.5
            else rng.uniform(0, 5, size=n)
        )
    existing = (
        rng.choice(n, size=int(rng.integers(1, min(n, 3) + 1)), replace=False)
        if rng.random() < 0.5
        else None
    )
    problem = SitingProblem(cost=cost, weight=weight, site_cost=site_cost, existing=existing)
    keep = existing is not None and bool(rng.random() < 0.6)
    n_forced = len(existing) if keep and existing is not None else 0
    radius = float(rng.choice([1.0, 2.0, 3.5]))
    params: dict[str, Any] = {"radius": radius, "keep_existing": keep}
    mode = int(rng.integers(0, 3)) if site_cost is not None else 0
    p = None
    budget = None
    if mode in (0, 2):
        p = int(rng.integers(max(1, n_forced), n + 1))
        params["p"] = p
    if mode in (1, 2):
        budget = float(rng.choice([0.0, 1.0, 3.0, 5.5, 9.0]))
        params["budget"] = budget
    return problem, params, radius, p, budget


@pytest.mark.parametrize("seed", range(8))
def test_mclp_reductions_keep_the_optimum(seed: int) -> None:
    from sim.siting.mclp import reduce_mclp
    from sim.siting.problem import Params, coverage, read_selection

    rng = np.random.default_rng(1000 + seed)
    for _ in range(25):
        problem, params, radius, p, budget = _random_mclp_case(rng)
        within = problem.cost <= radius
        charged = problem.charged_site_cost()
        forced = tuple(problem.existing_sites().tolist()) if params["keep_existing"] else ()
        exact_p = p is not None and budget is None
        best = _brute_mclp_general(
            within,
            problem.weight,
            p=p,
            budget=budget,
            charged=charged,
            forced=forced,
            exact_p=exact_p,
        )
        # The reduced instance alone (every feasible column set) has the same optimum.
        sel = read_selection(problem, Params("mclp", params), need=True)
        red = reduce_mclp(coverage(problem, radius), sel)
        reduced = _brute_mclp_general(
            red.matrix.toarray() > 0,
            red.weight,
            p=red.p,
            budget=red.budget,
            charged=red.charged,
        )
        assert red.base + reduced == pytest.approx(best, abs=1e-9), params
        assert red.matrix.shape[1] <= problem.n_candidates
        # ... and so does the solver, with a feasible plan.
        res = solve(problem, "mclp", **params)
        assert res.optimal and res.gap == 0.0
        assert res.objective == pytest.approx(best, abs=1e-9), params
        assert set(forced) <= set(res.sites.tolist())
        if p is not None:
            assert res.sites.size == p if exact_p else res.sites.size <= p
        if budget is not None:
            assert charged[res.sites].sum() <= budget + 1e-9
        greedy = solve(problem, "mclp-greedy", **params)
        assert greedy.objective <= res.objective + 1e-9


def test_mclp_dominance_keeps_the_cheaper_or_first_site() -> None:
    from sim.siting.mclp import reduce_mclp
    from sim.siting.problem import Params, coverage, read_selection

    # Points 0-3.  Site 0 covers {0, 1}; site 1 covers {0, 1, 2} (dominates 0); sites 2
    # and 3 both cover {3} (identical); site 4 covers nothing.
    cover = np.array(
        [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]], dtype=bool
    )
    cost = np.where(cover, 1.0, 9.0)
    weight = np.array([1.0, 2.0, 3.0, 4.0])
    plain = SitingProblem(cost=cost, weight=weight)
    red = reduce_mclp(coverage(plain, 1.0), read_selection(plain, Params("mclp", {"p": 2})))
    assert red.columns.tolist() == [1, 2]  # 0 dominated by 1, 3 ties with 2, 4 empty
    res = solve(plain, "mclp", p=2, radius=1.0)
    assert res.objective == 10.0 and res.sites.tolist() == [1, 2]
    # Exactly p sites even when fewer than p survive the reductions.
    full = solve(plain, "mclp", p=5, radius=1.0)
    assert full.sites.tolist() == [0, 1, 2, 3, 4] and full.optimal
    # Under a budget a costlier superset does not dominate a cheaper site; an identical
    # but cheaper site dominates a dearer one.
    priced = SitingProblem(cost=cost, weight=weight, site_cost=np.array([1.0, 5.0, 2.0, 1.0, 0.0]))
    red_b = reduce_mclp(
        coverage(priced, 1.0), read_selection(priced, Params("mclp", {"budget": 3.0}))
    )
    assert red_b.columns.tolist() == [0, 3]  # 1 too dear alone, 2 dominated by 3
    best = solve(priced, "mclp", budget=3.0, radius=1.0)
    assert best.sites.tolist() == [0, 3] and best.objective == 7.0 and best.optimal


def test_mclp_milp_fallback_and_trivial_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.siting.mclp as mclp_module

    cost, weight = _instance(31, m=30, n=10, integral=False)
    problem = SitingProblem(cost=cost, weight=weight)
    best = {p: _brute_mclp(cost, weight, p, 3.0) for p in (2, 3)}
    # Force the branch-and-bound (as if neither the LP bound nor the swaps closed the gap).
    monkeypatch.setattr(mclp_module, "_proven", lambda *args, **kwargs: False)
    for p in (2, 3):
        res = solve(problem, "mclp", p=p, radius=3.0)
        assert res.optimal and res.gap == 0.0 and res.sites.size == p
        assert res.objective == pytest.approx(best[p])
        assert res.params["closed_by"] == "branch-and-bound"
    # HiGHS failing on a node LP hands the tree over to the HiGHS MILP, still exact.
    monkeypatch.setattr(mclp_module._TreeLp, "solve", lambda *args, **kwargs: None)
    res = solve(problem, "mclp", p=3, radius=3.0)
    assert res.optimal and res.objective == pytest.approx(best[3])
    assert res.params["closed_by"] == "HiGHS MILP"
    monkeypatch.undo()
    # No LP bound (e.g. the LP hit its time limit): still exact through the MILP.
    from sim.siting.problem import MilpSolution

    real = mclp_module.solve_milp

    def no_lp(*args: Any, **kwargs: Any) -> MilpSolution:
        if not args[0].integer.any():
            return MilpSolution(None, math.nan, False, math.inf, "Time limit reached", math.nan)
        return real(*args, **kwargs)

    monkeypatch.setattr(mclp_module, "solve_milp", no_lp)
    res = solve(problem, "mclp", p=3, radius=3.0)
    assert res.optimal and res.objective == pytest.approx(best[3])
    monkeypatch.undo()
    # A radius covering everything: the greedy plan is optimal without HiGHS.
    whole = solve(problem, "mclp", p=2, radius=100.0)
    assert whole.optimal and whole.objective == pytest.approx(weight.sum())
    # Nothing coverable: any p sites, optimal, all demand reported uncoverable.
    none = solve(problem, "mclp", p=2, radius=1e-9)
    assert none.optimal and none.objective == 0.0 and none.sites.size == 2
    assert none.params["uncoverable_demand"] == list(range(30))


def _tree_case(seed: int) -> tuple[SitingProblem, dict[str, Any], int | None, float | None]:
    """50ish points, 8-12 sites, radius at a low cost quantile (a fractional LP is
    likely); half with budgets, some with kept existing sites, half with weights that
    are not integers."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(25, 60)), int(rng.integers(8, 13))
    pts, sites = rng.uniform(0, 10, (m, 2)), rng.uniform(0, 10, (n, 2))
    cost = np.round(np.linalg.norm(pts[:, None] - sites[None], axis=2), 2)
    if rng.random() < 0.5:
        weight = rng.integers(0, 8, m).astype(float)
    else:
        weight = np.round(rng.uniform(0, 3, m), 2)
    site_cost = rng.integers(1, 5, n).astype(float) if rng.random() < 0.5 else None
    existing = rng.choice(n, 2, replace=False) if rng.random() < 0.3 else None
    problem = SitingProblem(cost=cost, weight=weight, site_cost=site_cost, existing=existing)
    params: dict[str, Any] = {
        "radius": float(np.quantile(cost, rng.choice([0.1, 0.15, 0.2]))),
        "keep_existing": bool(existing is not None and rng.random() < 0.5),
    }
    p: int | None = int(rng.integers(2, 5))
    budget = None
    if site_cost is not None and rng.random() < 0.6:
        budget = params["budget"] = float(rng.choice([4.0, 6.0, 9.0]))
        p = None if rng.random() < 0.5 else p
    if p is not None:
        params["p"] = p
    return problem, params, p, budget


def test_mclp_branch_and_bound_matches_enumeration() -> None:
    """Instances the LP bound does not close: the tree's plan is the enumerated optimum,
    feasible by count, budget and kept sites, with integer and fractional weights."""
    closed_by = []
    for seed in range(120):
        problem, params, p, budget = _tree_case(seed)
        res = solve(problem, "mclp", **params)
        closed_by.append(res.params["closed_by"])
        if res.params["closed_by"] != "branch-and-bound":
            continue
        charged = problem.charged_site_cost()
        forced = tuple(problem.existing_sites().tolist()) if params["keep_existing"] else ()
        exact_p = p is not None and budget is None
        best = _brute_mclp_general(
            problem.cost <= params["radius"],
            problem.weight,
            p=p,
            budget=budget,
            charged=charged,
            forced=forced,
            exact_p=exact_p,
        )
        assert res.optimal and res.gap == 0.0, seed
        assert res.objective == pytest.approx(best, abs=1e-9), (seed, params)
        assert set(forced) <= set(res.sites.tolist())
        if budget is not None:
            assert charged[res.sites].sum() <= budget + 1e-9
        if p is not None:
            assert res.sites.size == p if exact_p else res.sites.size <= p
    assert closed_by.count("branch-and-bound") >= 8  # the tree is really exercised


def test_mclp_time_limit_returns_the_best_plan_marked_unproven() -> None:
    rng = np.random.default_rng(5)
    pts, sites = rng.uniform(0, 100, (600, 2)), rng.uniform(0, 100, (150, 2))
    cost = np.round(np.linalg.norm(pts[:, None] - sites[None], axis=2), 2)
    problem = SitingProblem(cost=cost, weight=rng.integers(1, 20, 600).astype(float))
    radius = float(np.quantile(cost, 0.1))
    full = solve(problem, "mclp", p=8, radius=radius)
    assert full.optimal and full.params["closed_by"] == "branch-and-bound"
    cut = solve(problem, "mclp", p=8, radius=radius, time_limit=1e-4)
    assert not cut.optimal and "time limit" in str(cut.params["unproven"])
    assert "closed_by" not in cut.params
    assert cut.sites.size == 8 and cut.objective <= full.objective
    assert math.isnan(cut.gap) or cut.gap >= (full.objective - cut.objective) / cut.objective


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
    from sim.siting.registry import unregister

    @register("test-first-two")
    def first_k(problem: SitingProblem, *, rng: object = None, **params: object) -> SitingResult:
        k = int(params["k"])  # type: ignore[call-overload]
        return SitingResult(np.arange(k), 0.0, False, math.nan, 0.0, "x", {"k": k})

    try:
        res = solve(SitingProblem(cost=np.ones((2, 3)), weight=np.ones(2)), "test-first-two", k=2)
        assert res.sites.tolist() == [0, 1] and res.model == "test-first-two" and res.time_s >= 0
        with pytest.raises(SolverError, match="'test-first-two' is already registered"):
            register("test-first-two")(lambda problem, *, rng=None, **params: res)
    finally:
        unregister("test-first-two")
    assert "test-first-two" not in available_models()
