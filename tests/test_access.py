"""Travel times: the CSR network's Dijkstra against networkx, searches in blocks, and the
plans' access tables read from the candidate matrices ``prepare`` searched once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import yaml
from scipy.sparse import csgraph

import sim.access.network as network_module
from sim.access.network import build_network, network_of, travel_time_matrix, travel_times_to
from sim.access.stations import k_nearest
from sim.config import parse_config
from sim.errors import DataError
from sim.region.model import RoadEdges
from sim.study.plans import make_plans, plan_access, plan_highway_access
from sim.study.prepare import Prepared, prepare

ROOT = Path(__file__).resolve().parents[1]


def _graph(seed: int, n: int = 60) -> nx.MultiDiGraph:
    """A random directed road graph with some parallel edges and one-way streets."""
    rng = np.random.default_rng(seed)
    g = nx.MultiDiGraph()
    g.add_nodes_from(int(x) for x in rng.choice(10**6, n, replace=False))
    nodes = list(g.nodes)
    for _ in range(4 * n):
        a, b = rng.choice(len(nodes), 2, replace=False)
        g.add_edge(nodes[a], nodes[b], travel_time=float(rng.uniform(1.0, 60.0)))
    for a, b, _k in list(g.edges(keys=True))[: n // 4]:
        g.add_edge(a, b, travel_time=float(rng.uniform(1.0, 60.0)))  # a parallel edge
    return g


def _networkx(g: nx.MultiDiGraph, src: list[int], dst: list[int], cutoff: float | None) -> Any:
    out = np.full((len(src), len(dst)), np.inf)
    for i, s in enumerate(src):
        got = nx.single_source_dijkstra_path_length(g, s, cutoff=cutoff, weight="travel_time")
        for j, t in enumerate(dst):
            out[i, j] = got.get(t, np.inf)
    return out


@pytest.mark.parametrize("cutoff", [None, 45.0])
@pytest.mark.parametrize(("n_src", "n_dst"), [(5, 20), (20, 5)])  # forward, then backward
def test_matrix_matches_networkx(cutoff: float | None, n_src: int, n_dst: int) -> None:
    g = _graph(3)
    net = build_network(g)
    rng = np.random.default_rng(1)
    nodes = np.array(list(g.nodes), dtype=np.int64)
    src = rng.choice(nodes, n_src).tolist()  # repeats and any order allowed
    dst = rng.choice(nodes, n_dst).tolist()
    got = travel_time_matrix(net, src, dst, cutoff_s=cutoff)
    ref = _networkx(g, src, dst, cutoff)
    assert got.shape == (n_src, n_dst) and got.flags.c_contiguous
    assert (np.isfinite(got) == np.isfinite(ref)).all()
    assert np.isfinite(ref).sum() > 0
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12)


@pytest.mark.parametrize(("n_src", "n_dst"), [(7, 40), (40, 7)])
def test_blocks_of_sources_give_the_same_bits(
    monkeypatch: pytest.MonkeyPatch, n_src: int, n_dst: int
) -> None:
    g = _graph(5)
    net = build_network(g)
    nodes = np.array(sorted(g.nodes), dtype=np.int64)
    src, dst = nodes[:n_src], nodes[-n_dst:]
    whole = travel_time_matrix(net, src, dst, cutoff_s=80.0)
    monkeypatch.setattr(network_module, "_BLOCK_BYTES", 8 * net.n_nodes * 3)  # 3 per block
    calls: list[int] = []
    real = csgraph.dijkstra

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(kwargs["indices"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(network_module.csgraph, "dijkstra", counted)
    blocks = travel_time_matrix(net, src, dst, cutoff_s=80.0)
    assert max(calls) == 3 and sum(calls) == min(n_src, n_dst)
    assert np.array_equal(whole, blocks)


def test_reversed_matrix_is_the_transpose() -> None:
    net = build_network(_graph(7))
    rev = net.reversed_matrix
    assert rev is net.reversed_matrix  # built once
    assert (rev != net.matrix.T).nnz == 0


@pytest.fixture(scope="module")
def holiday() -> Prepared:
    """A small through-traffic scenario whose access cutoff leaves some pairs out."""
    data = yaml.safe_load((ROOT / "configs" / "kotka-holiday.yaml").read_text())
    data["demand"]["days"] = 2
    del data["demand"]["highway"]["holiday"]
    data["simulation"].update(replications=1, radius_min=2, max_access_min=3)  # cuts off
    data["strategies"] = [{"name": "random", "k": 6}, {"name": "p-median", "k": 5}]
    return prepare(parse_config(data))


@pytest.mark.parametrize("seed", [3, 4])
def test_network_of_the_arrays_is_the_graph_s_network(seed: int) -> None:
    g = _graph(seed)
    for a, b, d in g.edges(data=True):
        d["length"] = d["travel_time"] * 12.5 + (a + b) % 7  # parallel edges differ
    roads = RoadEdges.of_graph(g)
    for weight in ("travel_time", "length"):
        want, got = build_network(g, weight=weight), network_of(roads, weight=weight)
        assert np.array_equal(got.node_ids, want.node_ids)
        assert (got.matrix != want.matrix).nnz == 0
        assert got.matrix.has_canonical_format and want.matrix.has_canonical_format
        # against the graph itself: the fastest of each pair's parallel edges
        fastest: dict[tuple[int, int], float] = {}
        for a, b, d in g.edges(data=True):
            fastest[(a, b)] = min(fastest.get((a, b), np.inf), float(d[weight]))
        assert np.array_equal(got.node_ids, np.array(sorted(g.nodes)))
        assert got.matrix.nnz == len(fastest)
        index = {n: i for i, n in enumerate(got.node_ids.tolist())}
        for (a, b), w in fastest.items():
            assert got.matrix[index[a], index[b]] == w
    del next(iter(g.edges(data=True)))[2]["length"]
    with pytest.raises(DataError, match="'length'"):
        network_of(RoadEdges.of_graph(g), weight="length")
    with pytest.raises(ValueError, match="speed"):
        network_of(roads, weight="speed")


@pytest.mark.parametrize("cutoff", [None, 45.0])
def test_one_backward_search_serves_every_set_of_sources(
    cutoff: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = _graph(5)
    net = build_network(g)
    rng = np.random.default_rng(2)
    nodes = np.array(list(g.nodes), dtype=np.int64)
    targets = rng.choice(nodes, 6)  # repeats allowed
    many, few = rng.choice(nodes, 30), rng.choice(nodes, 2)
    searched: list[int] = []
    dijkstra = csgraph.dijkstra

    def counted(*args: Any, **kwargs: Any) -> Any:
        searched.append(np.atleast_1d(kwargs["indices"]).size)
        return dijkstra(*args, **kwargs)

    monkeypatch.setattr(network_module.csgraph, "dijkstra", counted)
    a, b, c = travel_times_to(net, targets, [many, few, targets], cutoff_s=cutoff)
    assert sum(searched) == np.unique(targets).size  # one search per distinct target
    monkeypatch.setattr(network_module.csgraph, "dijkstra", dijkstra)
    # the set with more nodes than the targets: travel_time_matrix searches backwards too
    assert np.array_equal(a, travel_time_matrix(net, many, targets, cutoff_s=cutoff))
    for got, src in ((a, many), (b, few), (c, targets)):
        assert got.shape == (src.size, targets.size) and got.flags.c_contiguous
        ref = _networkx(g, src.tolist(), targets.tolist(), cutoff)
        assert (np.isfinite(got) == np.isfinite(ref)).all()
        np.testing.assert_allclose(got[np.isfinite(got)], ref[np.isfinite(ref)], rtol=1e-12)


@pytest.mark.parametrize("network_nodes", [20, 400])
def test_prepared_matrices_whichever_side_is_smaller(network_nodes: int) -> None:
    # fewer candidates than demand nodes: both matrices from the backward searches; more:
    # the demand matrix searched forward from the demand nodes, the other backward
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["candidates"] = {"network_nodes": network_nodes}
    data["strategies"] = [{"name": "random", "k": 3}]
    prep = prepare(parse_config(data))
    cand = prep.region.candidates["node"].to_numpy(dtype=np.int64)
    assert (np.unique(cand).size > prep.demand_node.size) == (network_nodes == 400)
    cutoff = prep.scenario.simulation.max_access_min * 60.0
    cost = travel_time_matrix(prep.network, prep.demand_node, cand, cutoff_s=cutoff) / 60.0
    (between,) = travel_times_to(prep.network, cand, [cand], cutoff_s=cutoff)
    assert np.array_equal(prep.cost_min, cost)
    assert np.array_equal(prep.cand_to_cand_min, between / 60.0)


def test_candidate_matrices_are_the_per_plan_searches(holiday: Prepared) -> None:
    # What plan_access and plan_highway_access searched per plan before: the same bits
    # (the residents' station-to-station times: the backward searches from the plan's
    # stations, which equal the forward ones up to the order of the sums).
    prep, hs = holiday, holiday.highway
    assert hs is not None
    nodes = prep.region.candidates["node"].to_numpy(dtype=np.int64)
    n_c = nodes.shape[0]
    cutoff = prep.scenario.simulation.max_access_min * 60.0
    assert prep.cand_to_cand_min.shape == hs.cand_to_cand_km.shape == (n_c, n_c)
    rng = np.random.default_rng(0)
    for size in (1, 5, n_c):
        c = np.sort(rng.choice(n_c, size, replace=False))
        sub = nodes[c]
        near = travel_times_to(prep.network, sub, [sub], cutoff_s=cutoff)[0] / 60.0
        forward = travel_time_matrix(prep.network, sub, sub, cutoff_s=cutoff) / 60.0
        assert np.array_equal(np.isfinite(near), np.isfinite(forward))
        np.testing.assert_allclose(near, forward, rtol=1e-14, atol=0)
        t_min = travel_time_matrix(prep.network, sub, sub) / 60.0
        t_km = travel_time_matrix(hs.length_network, sub, sub) / 1000.0
        assert np.array_equal(prep.cand_to_cand_min[np.ix_(c, c)], near)
        assert np.array_equal(hs.cand_to_cand_min[np.ix_(c, c)], t_min)
        assert np.array_equal(hs.cand_to_cand_km[np.ix_(c, c)], t_km)
    assert np.isinf(prep.cand_to_cand_min).any()  # the cutoff applies
    assert np.isfinite(hs.cand_to_cand_min).sum() > np.isfinite(prep.cand_to_cand_min).sum()


def test_access_tables_run_no_search(holiday: Prepared, monkeypatch: pytest.MonkeyPatch) -> None:
    plans = make_plans(holiday)

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("an access table ran a Dijkstra search")

    monkeypatch.setattr(network_module.csgraph, "dijkstra", refuse)
    sim_cfg = holiday.scenario.simulation
    for plan in plans.values():
        acc = plan_access(holiday, plan)
        hw = plan_highway_access(holiday, plan)
        assert hw is not None and hw.next_station.shape[0] == len(plan)
        between = holiday.cand_to_cand_min[np.ix_(plan.candidate, plan.candidate)]
        np.fill_diagonal(between, np.inf)
        st, t = k_nearest(between, sim_cfg.choice_set, sim_cfg.max_access_min)
        assert np.array_equal(acc.next_station, st) and np.array_equal(acc.next_min, t)
        assert (acc.next_station != np.arange(len(plan))[:, None]).all()  # never itself
