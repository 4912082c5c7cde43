"""OR-Library p-median instances: the reader and the exact solver against proven optima."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.errors import DataError, InputFileNotFoundError
from sim.siting import SitingProblem, solve
from sim.siting.orlib import read_pmed, read_pmed_optima

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "orlib-pmed"
needs_data = pytest.mark.skipif(
    not (DATA / "pmedopt.txt").is_file(), reason=f"OR-Library files not found at {DATA}"
)


def test_reader_keeps_the_last_duplicate_edge(tmp_path: Path) -> None:
    f = tmp_path / "tiny.txt"
    # Edge 1-2 listed twice: 5 then 9 (last wins), 2-3 cost 1; also 3-1 cost 20.
    f.write_text(" 3 4 1\n 1 2 5\n 2 3 1\n 2 1 9\n 3 1 20\n")
    cost, p = read_pmed(f)
    assert p == 1
    assert cost[0, 1] == 9 and cost[1, 2] == 1 and cost[0, 2] == 10
    assert np.array_equal(cost, cost.T) and np.all(np.diag(cost) == 0)


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError):
        read_pmed(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("3 2 1\n1 2 5\n")
    with pytest.raises(DataError, match="header"):
        read_pmed(bad)
    bad.write_text("3 1 1\n1 7 5\n")
    with pytest.raises(DataError, match=r"1\.\.3"):
        read_pmed(bad)


@needs_data
def test_optima_file() -> None:
    optima = read_pmed_optima(DATA / "pmedopt.txt")
    assert len(optima) == 40 and optima["pmed1"] == 5819 and optima["pmed40"] == 5128


@needs_data
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 8])
def test_exact_pmedian_hits_the_proven_optimum(k: int) -> None:
    optima = read_pmed_optima(DATA / "pmedopt.txt")
    cost, p = read_pmed(DATA / f"pmed{k}.txt")
    problem = SitingProblem(cost=cost, weight=np.ones(cost.shape[0]))
    res = solve(problem, "p-median", p=p)
    assert res.optimal and res.sites.size == p
    assert res.objective == optima[f"pmed{k}"]
    heur = solve(problem, "p-median-heuristic", p=p, rng=np.random.default_rng(k))
    assert optima[f"pmed{k}"] <= heur.objective <= 1.01 * optima[f"pmed{k}"]
