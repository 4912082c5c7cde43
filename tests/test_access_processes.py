"""Travel times searched on several forked processes: the same bits as one process, the
blocks really searched elsewhere, and one process for few sources or inside a worker."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import sim.access.network as network_module
from sim.access.network import build_network, search_processes, travel_time_matrix


def _grid(n: int = 30) -> nx.MultiDiGraph:
    """An n x n street grid with random travel times (s), some streets one-way."""
    rng = np.random.default_rng(11)
    g = nx.MultiDiGraph()
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j + 1, (i + di) * n + j + dj + 1
                    g.add_edge(a, b, travel_time=float(rng.uniform(5.0, 40.0)))
                    if rng.random() < 0.9:
                        g.add_edge(b, a, travel_time=float(rng.uniform(5.0, 40.0)))
    return g


@pytest.mark.parametrize(("n_src", "n_dst"), [(130, 400), (400, 90)])  # forward, backward
def test_processes_give_the_same_bits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, n_src: int, n_dst: int
) -> None:
    net = build_network(_grid())
    nodes = np.array(sorted(net.node_ids), dtype=np.int64)
    rng = np.random.default_rng(2)
    src, dst = rng.choice(nodes, n_src), rng.choice(nodes, n_dst)
    monkeypatch.setattr(network_module, "search_processes", lambda *_a, **_k: 1)
    one = travel_time_matrix(net, src, dst, cutoff_s=400.0)
    assert np.isfinite(one).mean() > 0.05 and (~np.isfinite(one)).any()  # the cutoff bites
    real = network_module._block

    def noted(*args: Any) -> Any:
        (tmp_path / f"pid-{os.getpid()}").touch()
        return real(*args)

    monkeypatch.setattr(network_module, "_block", noted)
    monkeypatch.setattr(network_module, "search_processes", lambda *_a, **_k: 3)
    monkeypatch.setattr(network_module, "_BLOCK_BYTES", 8 * net.n_nodes * 30)  # 10 a block
    many = travel_time_matrix(net, src, dst, cutoff_s=400.0)
    pids = {p.name for p in tmp_path.glob("pid-*")}
    assert len(pids) > 1 and f"pid-{os.getpid()}" not in pids  # searched in the children
    assert np.array_equal(one, many)


def test_few_sources_or_a_worker_search_in_one_process() -> None:
    assert search_processes(3, nodes=200_000) == 1
    assert search_processes(200, nodes=1_115) == 1  # porto: a fork costs more
    assert 1 <= search_processes(800, nodes=200_000) <= network_module._MAX_PROCESSES
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        assert pool.submit(search_processes, 800, nodes=200_000).result() == 1
