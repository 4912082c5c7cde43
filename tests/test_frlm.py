"""Flow-refuelling location model (sim.siting.frlm).

The brute force here does not share code with the model: it simulates the Kuby-Lim
round trip directly (start at the origin with a full tank if it has a station, else half a
tank; fill up at every open station; never run below zero) for every subset of each path's
nodes, then enumerates every station set of the 25-node network.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InputFileNotFoundError, SolverInputError
from sim.siting.frlm import (
    FlowProblem,
    build_flow_problem,
    covered_paths,
    read_frlm_25node,
    refuelable_combinations,
    solve_frlm,
)

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "frlm-25node"
needs_bench = pytest.mark.skipif(not BENCH.is_dir(), reason=f"benchmark folder {BENCH} absent")

#: Ranges on the 25-node network (path lengths 2..38, median 13.5): at p = 1 they cover
#: roughly 10 %, 13 % and 20 % of the flow.
RANGES = (6.0, 10.0, 15.0)
#: Brute force enumerates all C(25, p) sets up to this p (C(25, 6) = 177,100).
BRUTE_MAX_P = 6


def kuby_lim_table(cum: np.ndarray, range_km: float) -> np.ndarray:
    """Feasibility of the round trip for every subset (bitmask over path positions)."""
    n = cum.size
    masks = np.arange(1 << n)
    station = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    visits = list(range(n)) + list(range(n - 2, -1, -1))  # O .. D .. O
    fuel = np.where(station[:, 0], range_km, range_km / 2)
    ok = station.any(axis=1)  # a path without any station is never covered
    for a, b in itertools.pairwise(visits):
        fuel = fuel - abs(cum[b] - cum[a])
        ok &= fuel >= -1e-9
        fuel = np.where(station[:, b], range_km, fuel)
    # Kuby-Lim's half-tank start is repeatable: a feasible trip ends with >= R/2.
    assert np.all(fuel[ok] >= range_km / 2 - 1e-9)
    return np.asarray(ok)


def brute_force(problem: FlowProblem, range_km: float, p: int) -> float:
    """Largest covered flow over all C(n, p) station sets."""
    n = problem.n_candidates
    combos = np.array(list(itertools.combinations(range(n), p)), dtype=np.int64)
    sets = np.bitwise_or.reduce(np.int64(1) << combos, axis=1)
    total = np.zeros(sets.size)
    for nodes, cum, f in zip(problem.paths, problem.path_lengths, problem.flow, strict=True):
        table = kuby_lim_table(cum, range_km)
        if not table.any():
            continue
        local = np.zeros(sets.size, dtype=np.int64)
        for b, v in enumerate(nodes):
            local |= ((sets >> v) & 1) << b
        total += f * table[local]
    return float(total.max())


@pytest.fixture(scope="module")
def net25() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not BENCH.is_dir():
        pytest.skip(f"benchmark folder {BENCH} absent")
    return read_frlm_25node(BENCH)


@pytest.fixture(scope="module")
def problem25(net25: tuple[np.ndarray, np.ndarray, np.ndarray]) -> FlowProblem:
    edges, flows, _ = net25
    return build_flow_problem(edges=edges, flows=flows, n_nodes=25)


@pytest.fixture(scope="module")
def solved25(problem25: FlowProblem) -> dict[tuple[float, int, str], float]:
    out = {}
    for r in RANGES:
        for p in range(1, 9):
            for method in ("exact", "greedy"):
                res = solve_frlm(problem25, p=p, range_km=r, method=method)
                assert res.sites.size == p
                assert res.optimal == (method == "exact")
                out[r, p, method] = res.covered_flow
    return out


# ------------------------------------------------------------------ 25-node network


@needs_bench
def test_reader_handles_bom_and_gravity_flows(net25, problem25) -> None:
    edges, flows, weights = net25
    assert edges.shape == (86, 3) and flows.shape == (25, 25) and weights.shape == (25,)
    assert weights[0] == 50 and weights[24] == 2  # the first row follows the BOM
    assert np.allclose(flows, flows.T)
    # Each pair routed once (i < j) with both directions' flow, on a shortest path whose
    # length reproduces the file's gravity flows W_i W_j / d_ij^1.5.
    assert problem25.n_od == 300
    graph = nx.Graph()
    graph.add_weighted_edges_from((int(i), int(j), w) for i, j, w in edges)
    for nodes, cum, f in zip(problem25.paths, problem25.path_lengths, problem25.flow, strict=True):
        i, j = int(nodes[0]), int(nodes[-1])
        d = nx.dijkstra_path_length(graph, i, j)
        assert cum[-1] == d
        assert nx.path_weight(graph, nodes.tolist(), "weight") == d
        assert f == pytest.approx(2 * weights[i] * weights[j] / d**1.5, rel=1e-6)


@needs_bench
@pytest.mark.parametrize("range_km", RANGES)
def test_exact_equals_brute_force(problem25, solved25, range_km) -> None:
    for p in range(1, BRUTE_MAX_P + 1):
        best = brute_force(problem25, range_km, p)
        assert solved25[range_km, p, "exact"] == pytest.approx(best, rel=1e-12), p


@needs_bench
def test_exact_beats_greedy_and_is_monotone(solved25) -> None:
    for r in RANGES:
        for p in range(1, 9):
            assert solved25[r, p, "exact"] >= solved25[r, p, "greedy"] - 1e-9
            if p > 1:
                assert solved25[r, p, "exact"] >= solved25[r, p - 1, "exact"] - 1e-9
    for r_lo, r_hi in itertools.pairwise(RANGES):
        for p in range(1, 9):
            assert solved25[r_hi, p, "exact"] >= solved25[r_lo, p, "exact"] - 1e-9


@needs_bench
def test_combinations_match_round_trip_simulation(problem25) -> None:
    for r in (4.0, *RANGES):
        combos = refuelable_combinations(problem25, range_km=r)
        for nodes, cum, mins in zip(problem25.paths, problem25.path_lengths, combos, strict=True):
            table = kuby_lim_table(cum, r)
            for mask in range(table.size):
                chosen = {int(nodes[b]) for b in range(nodes.size) if (mask >> b) & 1}
                assert table[mask] == any(c <= chosen for c in mins), (nodes, mask)
            for c in mins:  # inclusion-minimal
                assert all(not c2 < c for c2 in mins)


@needs_bench
def test_result_is_consistent(problem25) -> None:
    res = solve_frlm(problem25, p=4, range_km=10.0)
    assert res.sites.dtype == np.int64 and np.all(np.diff(res.sites) > 0)
    cov = covered_paths(problem25, res.sites, range_km=10.0)
    assert res.covered_flow == pytest.approx(problem25.flow[cov].sum())
    assert res.covered_share == pytest.approx(res.covered_flow / problem25.flow.sum())
    assert res.gap == 0.0 and res.method == "exact" and res.time_s > 0
    greedy = solve_frlm(problem25, p=4, range_km=10.0, method="greedy")
    assert math.isnan(greedy.gap) and not greedy.optimal


# ---------------------------------------------------------------- hand-checkable lines


def line(lengths: list[float], pairs: dict[tuple[int, int], float]) -> FlowProblem:
    n = len(lengths) + 1
    edges = [(k, k + 1, w) for k, w in enumerate(lengths)]
    flows = np.zeros((n, n))
    for (i, j), f in pairs.items():
        flows[i, j] = f
    return build_flow_problem(edges=edges, flows=flows, n_nodes=n)


def test_three_node_line_combinations() -> None:
    # 0 --4-- 1 --4-- 2, round trip 0 -> 2 -> 0 of 16.
    prob = line([4.0, 4.0], {(0, 2): 1.0})
    # R = 8: the middle node alone (reached on the half tank, 4 <= 8/2), or both ends.
    assert refuelable_combinations(prob, range_km=8.0) == [[frozenset({1}), frozenset({0, 2})]]
    # R = 7: 4 > 7/2 and 8 > 7, so every node is needed.
    assert refuelable_combinations(prob, range_km=7.0) == [[frozenset({0, 1, 2})]]
    # R = 3.9: the 4-long arcs can never be driven.
    assert refuelable_combinations(prob, range_km=3.9) == [[]]


def test_line_exact_finds_the_pair_greedy_misses() -> None:
    # 0 - 1 - 2 - 3 - 4, unit edges, R = 2.  The long trip 0..4 (flow 10) needs {1, 3};
    # no single station serves it, so greedy takes node 0 then node 3 and misses it.
    prob = line([1.0] * 4, {(0, 4): 10.0, (0, 1): 1.0, (3, 4): 1.0})
    exact = solve_frlm(prob, p=2, range_km=2.0)
    assert exact.sites.tolist() == [1, 3]
    assert exact.covered_flow == 12.0 and exact.covered_share == 1.0 and exact.optimal
    greedy = solve_frlm(prob, p=2, range_km=2.0, method="greedy")
    assert greedy.sites.tolist() == [0, 3]
    assert greedy.covered_flow == 2.0
    assert solve_frlm(prob, p=1, range_km=2.0).covered_flow == 1.0


def test_station_at_origin_gives_a_full_tank() -> None:
    # 0 --3-- 1: with a station at 0 the 6-long round trip fits R = 6; without, the
    # vehicle would need 3 <= 6/2 to reach node 1 -- also fine; at R = 5 only node 0 fails.
    prob = line([3.0], {(0, 1): 1.0})
    assert covered_paths(prob, [0], range_km=6.0).tolist() == [True]
    assert covered_paths(prob, [1], range_km=6.0).tolist() == [True]
    assert covered_paths(prob, [0], range_km=5.0).tolist() == [False]
    assert covered_paths(prob, [1], range_km=5.0).tolist() == [False]
    assert covered_paths(prob, [0, 1], range_km=5.0).tolist() == [True]
    assert covered_paths(prob, [], range_km=100.0).tolist() == [False]


def test_shortest_path_ties_go_to_the_lowest_index_independent_of_edge_order() -> None:
    # Square 0-1-3, 0-2-3 with equal lengths: the path 0 -> 3 runs through 1.
    edges = [(0, 1, 1.0), (1, 3, 1.0), (0, 2, 1.0), (2, 3, 1.0)]
    flows = np.zeros((4, 4))
    flows[3, 0] = 5.0
    for order in itertools.permutations(range(4)):
        prob = build_flow_problem(edges=[edges[k] for k in order], flows=flows, n_nodes=4)
        assert prob.paths[0].tolist() == [0, 1, 3]
        assert prob.path_lengths[0].tolist() == [0.0, 1.0, 2.0]
        assert prob.flow.tolist() == [5.0]


# ------------------------------------------------------------------------ properties


@st.composite
def small_networks(draw: st.DrawFn) -> tuple[FlowProblem, float, int]:
    n = draw(st.integers(3, 7))
    lengths = st.integers(1, 6).map(float)
    edges = [(k, draw(st.integers(0, k - 1)), draw(lengths)) for k in range(1, n)]  # a tree
    for _ in range(draw(st.integers(0, n))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if i != j and not any({i, j} == {a, b} for a, b, _ in edges):
            edges.append((i, j, draw(lengths)))
    flows = np.array(draw(st.lists(st.integers(0, 9), min_size=n * n, max_size=n * n)))
    flows = flows.reshape(n, n).astype(float)
    flows[0, n - 1] += 1.0  # at least one positive pair
    prob = build_flow_problem(edges=edges, flows=flows, n_nodes=n)
    return prob, float(draw(st.integers(2, 16))), draw(st.integers(1, n))


@settings(max_examples=60, deadline=None)
@given(small_networks())
def test_exact_equals_brute_force_on_random_networks(case) -> None:
    prob, r, p = case
    exact = solve_frlm(prob, p=p, range_km=r)
    greedy = solve_frlm(prob, p=p, range_km=r, method="greedy")
    assert exact.covered_flow == pytest.approx(brute_force(prob, r, p), abs=1e-9)
    assert exact.covered_flow >= greedy.covered_flow - 1e-9
    assert 0.0 <= greedy.covered_share <= exact.covered_share <= 1.0 + 1e-12


# --------------------------------------------------------------------------- errors


def test_bad_solver_parameters_raise() -> None:
    prob = line([1.0, 1.0], {(0, 2): 1.0})
    for kwargs in (
        {"p": 0, "range_km": 2.0},
        {"p": 4, "range_km": 2.0},
        {"p": True, "range_km": 2.0},
        {"p": 1.5, "range_km": 2.0},
        {"p": 1, "range_km": 0.0},
        {"p": 1, "range_km": -1.0},
        {"p": 1, "range_km": math.inf},
        {"p": 1, "range_km": math.nan},
        {"p": 1, "range_km": 2.0, "method": "lagrangian"},
        {"p": 1, "range_km": 2.0, "time_limit_s": 0.0},
    ):
        with pytest.raises(SolverInputError):
            solve_frlm(prob, **kwargs)
    with pytest.raises(SolverInputError, match="sites"):
        covered_paths(prob, [3], range_km=2.0)


def test_bad_problems_raise() -> None:
    ok: dict[str, Any] = {
        "paths": (np.array([0, 1]),),
        "path_lengths": (np.array([0.0, 1.0]),),
        "flow": np.array([1.0]),
        "n_candidates": 2,
    }
    FlowProblem(**ok)
    for field, value, message in (
        ("paths", (np.array([0, 2]),), "paths\\[0\\]"),
        ("paths", (np.array([0, 0]),), "simple path"),
        ("paths", (np.array([0.0, 1.0]),), "integer"),
        ("paths", (np.array([1]),), "paths\\[0\\]"),
        ("path_lengths", (np.array([0.0, 0.0]),), "strictly increasing"),
        ("path_lengths", (np.array([0.0, 1.0, 2.0]),), "path_lengths\\[0\\]"),
        ("path_lengths", (), "path_lengths has 0"),
        ("flow", np.array([-1.0]), "flow\\[0\\]"),
        ("flow", np.array([0.0]), "positive total"),
        ("flow", np.array([1.0, 1.0]), "flow has shape"),
        ("n_candidates", 0, "n_candidates"),
    ):
        with pytest.raises(SolverInputError, match=message):
            FlowProblem(**{**ok, field: value})


def test_bad_networks_raise(tmp_path: Path) -> None:
    flows = np.ones((3, 3))
    for edges, message in (
        ([(0, 1, 1.0), (1, 3, 1.0)], "edges\\[1\\]"),
        ([(0, 1, 1.0), (1, 2, 0.0)], "length"),
        ([(0, 1, 1.0), (1, 0, 2.0)], "listed with lengths"),
        ([(0, 1, 1.0), (1, 1, 2.0)], "different nodes"),
        ([(0, 1, 1.0)], "cannot be reached"),
    ):
        with pytest.raises(SolverInputError, match=message):
            build_flow_problem(edges=edges, flows=flows, n_nodes=3)
    with pytest.raises(SolverInputError, match="flows has shape"):
        build_flow_problem(edges=[(0, 1, 1.0)], flows=np.ones((2, 3)), n_nodes=3)
    with pytest.raises(SolverInputError, match="positive entry"):
        build_flow_problem(edges=[(0, 1, 1.0)], flows=np.eye(2), n_nodes=2)
    with pytest.raises(InputFileNotFoundError):
        read_frlm_25node(tmp_path)
