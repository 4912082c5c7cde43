"""p-median branch-and-cut: its proofs against enumeration of every p-subset."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sim.siting import SitingProblem, solve
from sim.siting.pmedian import (
    _branch_and_cut,
    _improvement,
    _instance,
    _Master,
    _SortedRows,
    _total,
    _TreeStart,
)


def _random(seed: int, m: int = 20, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Points and candidates in a square; integral costs for even seeds, fractional for
    odd; integral weights for seeds not divisible by 3, fractional otherwise; about 15 %
    of the pairs unreachable (``inf``)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0.0, 10.0, size=(m, 2))
    cands = rng.uniform(0.0, 10.0, size=(n, 2))
    cost = np.linalg.norm(pts[:, None, :] - cands[None, :, :], axis=2)
    if seed % 2 == 0:
        cost = np.round(cost * 3.0)
    weight = rng.integers(1, 6, size=m).astype(float) if seed % 3 else rng.uniform(0.5, 3.0, m)
    cost[rng.random((m, n)) < 0.15] = np.inf
    return cost, weight


def _enumerate(cost: np.ndarray, weight: np.ndarray, p: int) -> tuple[float, int]:
    """Least ``sum_i w_i min_{j in S} c_ij`` over every ``|S| = p`` (``inf`` allowed),
    ranked first by the weight left unserved; returns the value and that weight."""
    best = (math.inf, math.inf)
    for combo in itertools.combinations(range(cost.shape[1]), p):
        served = cost[:, combo].min(axis=1)
        reach = np.isfinite(served)
        key = (float(weight[~reach].sum()), float(weight[reach] @ served[reach]))
        best = min(best, key)
    return best[1], int(best[0] > 0)


@pytest.mark.parametrize("seed", range(12))
def test_tree_alone_proves_the_enumerated_optimum(seed: int) -> None:
    """Start the tree from the worst p-subset, with no Lagrangian fixing: the proof and
    the optimum must come from the branching itself."""
    cost, weight = _random(seed)
    p = 3
    inst = _instance(SitingProblem(cost=cost, weight=weight))
    combos = [np.array(c) for c in itertools.combinations(range(cost.shape[1]), p)]
    values = [_total(inst, c) for c in combos]
    worst = combos[int(np.argmax(values))]
    ub = _total(inst, worst)
    n = cost.shape[1]
    start = _TreeStart(
        sites=worst,
        ub=ub,
        allowed=np.ones(n, dtype=bool),
        opened=np.zeros(n, dtype=bool),
        lam=inst.weight * inst.cost.min(axis=1),
    )
    tree = _branch_and_cut(
        inst,
        _SortedRows(inst.cost, inst.weight),
        start,
        p=p,
        delta=_improvement(inst, ub, 1e-9),
        deadline=math.inf,
    )
    assert tree is not None
    assert tree.lower == tree.ub  # proven
    assert tree.ub == pytest.approx(min(values), rel=1e-9)
    assert _total(inst, tree.sites) == tree.ub and tree.sites.size == p
    nodes = tree.info["bc_nodes"]
    assert isinstance(nodes, int) and nodes >= 1


def test_tree_respects_sites_fixed_open() -> None:
    cost, weight = _random(5)
    inst = _instance(SitingProblem(cost=cost, weight=weight))
    n, p = cost.shape[1], 3
    opened = np.zeros(n, dtype=bool)
    opened[7] = True
    start = np.array([0, 1, 7])
    ub = _total(inst, start)
    tree = _branch_and_cut(
        inst,
        _SortedRows(inst.cost, inst.weight),
        _TreeStart(
            sites=start,
            ub=ub,
            allowed=np.ones(n, dtype=bool),
            opened=opened,
            lam=inst.weight * inst.cost.min(axis=1),
        ),
        p=p,
        delta=_improvement(inst, ub, 1e-9),
        deadline=math.inf,
    )
    assert tree is not None and tree.lower == tree.ub
    best = min(_total(inst, np.array(c)) for c in itertools.combinations(range(n), p) if 7 in c)
    assert 7 in tree.sites.tolist() and tree.ub == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_master_bound_is_a_lower_bound_at_every_node(seed: int) -> None:
    """The bound recomputed from HiGHS's duals never exceeds the best completion."""
    cost, weight = _random(seed + 40)
    inst = _instance(SitingProblem(cost=cost, weight=weight))
    n, p = cost.shape[1], 3
    master = _Master(inst.cost, inst.weight, p)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        ylo, yhi = np.zeros(n), np.ones(n)
        pick = rng.permutation(n)
        ylo[pick[:1]] = 1.0
        yhi[pick[1:4]] = 0.0
        while True:
            node = master.solve(ylo, yhi, basis=None, cutoff=math.inf)
            assert node is not None
            point, level = master.separate(node.y, node.theta)
            if point.size == 0:
                break
            master.add(point, level)
        best = min(
            _total(inst, np.array(c))
            for c in itertools.combinations(range(n), p)
            if set(np.flatnonzero(ylo)) <= set(c) and not set(np.flatnonzero(yhi < 0.5)) & set(c)
        )
        assert node.bound <= best * (1 + 1e-9)
        assert node.bound == pytest.approx(float(inst.weight @ node.theta), rel=1e-6)


def test_public_solve_matches_enumeration_and_reaches_the_tree() -> None:
    """Unequal weights and ``inf`` costs through ``solve``; some instances must need the
    branch-and-cut (the Lagrangian bound alone does not close them)."""
    paths = []
    for seed in range(40):
        cost, weight = _random(seed)
        res = solve(SitingProblem(cost=cost, weight=weight), "p-median", p=3)
        value, unserved = _enumerate(cost, weight, 3)
        assert res.optimal and res.gap == 0.0 and res.sites.size == 3
        if unserved:
            assert math.isinf(res.objective)
        else:
            assert res.objective == pytest.approx(value, rel=1e-9)
        paths.append(res.params.get("closed_by"))
    assert "branch-and-cut" in paths


def test_same_input_same_output() -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(0.0, 100.0, size=(150, 2))
    cost = np.round(np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2))
    weight = rng.integers(1, 4, size=150).astype(float)
    problem = SitingProblem(cost=cost, weight=weight)
    runs = [solve(problem, "p-median", p=4) for _ in range(2)]
    assert runs[0].optimal
    assert runs[0].sites.tolist() == runs[1].sites.tolist()
    assert runs[0].objective == runs[1].objective
    drop = {"lagrangian_s", "bc_s"}
    assert {k: v for k, v in runs[0].params.items() if k not in drop} == {
        k: v for k, v in runs[1].params.items() if k not in drop
    }


def test_time_limit_never_claims_a_proof() -> None:
    rng = np.random.default_rng(11)
    pts = rng.uniform(0.0, 100.0, size=(300, 2))
    cost = np.round(np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2))
    problem = SitingProblem(cost=cost, weight=np.ones(300))
    res = solve(problem, "p-median", p=5, time_limit=1e-3)
    full = solve(problem, "p-median", p=5)
    assert full.optimal
    if res.optimal:
        assert res.objective == full.objective
    else:
        assert res.objective >= full.objective
        assert math.isnan(res.gap) or res.gap >= 0.0
        assert "time limit" in str(res.params["unproven"])
    assert "unproven" not in full.params
