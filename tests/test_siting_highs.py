"""HiGHS failures never pass for solves: the exact models check every HiGHS status.

HiGHS starts one task scheduler per process with the thread count of its first run; a
later run asking for another count fails with model status "Not Set".  chargesite asks
for one thread, so a researcher who solved any HiGHS model with the default threads
first used to get heuristic plans back from the exact models (and an empty plan from
``capacitated-coverage``).  The first test reproduces that in a fresh process and checks
every exact model still returns the brute-force optimum, proven; the others make HiGHS
fail on purpose and check the failure is retried once, then named.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

import sim.siting.frlm as frlm_module
import sim.siting.mclp as mclp_module
import sim.siting.pmedian as pmedian_module
import sim.siting.problem as problem_module
from sim.errors import SolverError
from sim.siting import SitingProblem, solve
from sim.siting.frlm import FlowProblem, build_flow_problem, covered_paths

ROOT = Path(__file__).resolve().parents[1]


def _points(seed: int, m: int, n: int, *, scale: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.0, 10.0, size=(m, 2))
    s = rng.uniform(0.0, 10.0, size=(n, 2))
    cost = np.round(np.linalg.norm(d[:, None, :] - s[None, :, :], axis=2) * scale) / scale
    return cost, rng.integers(1, 6, size=m).astype(float)


def _flows() -> FlowProblem:
    """A 7-node tree with a cross edge and integer OD flows."""
    edges = [(0, 1, 3.0), (1, 2, 2.0), (2, 3, 4.0), (1, 4, 3.0), (4, 5, 2.0), (5, 6, 3.0)]
    edges.append((3, 6, 5.0))
    flows = np.arange(49, dtype=float).reshape(7, 7) % 5
    return build_flow_problem(edges=edges, flows=flows, n_nodes=7)


#: name -> (model, problem builder arguments, solve parameters).  Each reaches HiGHS:
#: p-median closes in the branch-and-cut (node LPs) or the radius MILP, MCLP needs its
#: branch-and-bound (the LP bound is fractional), the others are one MILP each.
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "p-median branch-and-cut": ("p-median", {"seed": 11, "m": 40, "n": 12}, {"p": 3}),
    "p-median radius MILP": (
        "p-median",
        {"seed": 11, "m": 40, "n": 12},
        {"p": 3, "lagrangian": False},
    ),
    "p-median budget": ("p-median", {"seed": 5, "m": 16, "n": 9, "priced": True}, {"budget": 7.0}),
    "mclp": ("mclp", {"seed": 38, "m": 30, "n": 12, "scale": 100.0}, {"p": 3, "quantile": 0.15}),
    "lscp": ("lscp", {"seed": 7, "m": 25, "n": 10}, {"quantile": 0.2}),
    "capacitated-coverage": (
        "capacitated-coverage",
        {"seed": 9, "m": 18, "n": 8, "capacity": 12.0},
        {"p": 2, "quantile": 0.25},
    ),
    "frlm": ("frlm", {"flows": True}, {"p": 2, "range_km": 8.0}),
}


def _case(name: str) -> tuple[str, SitingProblem, dict[str, Any]]:
    model, build, params = CASES[name]
    params = dict(params)
    if build.get("flows"):
        flows = _flows()
        n = flows.n_candidates
        problem = SitingProblem(cost=np.zeros((1, n)), weight=np.zeros(1), flows=flows)
        return model, problem, params
    cost, weight = _points(build["seed"], build["m"], build["n"], scale=build.get("scale", 3.0))
    n = cost.shape[1]
    problem = SitingProblem(
        cost=cost,
        weight=weight,
        site_cost=np.arange(1.0, n + 1.0) % 4 + 1.0 if build.get("priced") else None,
        capacity=np.full(n, build["capacity"]) if "capacity" in build else None,
    )
    if "quantile" in params:
        params["radius"] = float(np.quantile(cost, params.pop("quantile")))
    return model, problem, params


def _solve_all() -> dict[str, dict[str, Any]]:
    out = {}
    for name in CASES:
        model, problem, params = _case(name)
        res = solve(problem, model, **params)
        out[name] = {
            "sites": res.sites.tolist(),
            "objective": res.objective,
            "optimal": bool(res.optimal),
            "gap": res.gap,
            "closed_by": res.params.get("closed_by"),
        }
    return out


def _clash() -> str:
    """Solve a small MILP with HiGHS's default threads, then return the status a plain
    ``threads=1`` run gets in this process."""
    import scipy.sparse as sp

    one = problem_module.MilpModel(
        np.ones(4),
        sp.csr_array(np.ones((1, 4))),
        np.ones(1),
        np.full(1, np.inf),
        np.zeros(4),
        np.ones(4),
        np.ones(4, dtype=bool),
    )
    assert problem_module.solve_milp(one, threads=None).optimal
    h = problem_module.new_highs()
    h.passModel(problem_module.highs_lp(one))
    h.setOptionValue("threads", 1)
    h.run()
    return problem_module.status_text(h)


# -- brute force (shares no code with the models) ----------------------------------------


def _brute(name: str) -> float:
    model, problem, params = _case(name)
    n = problem.n_candidates
    if model == "frlm":
        assert problem.flows is not None
        return max(
            float(problem.flows.flow[covered_paths(problem.flows, combo, range_km=8.0)].sum())
            for combo in itertools.combinations(range(n), params["p"])
        )
    cost, w = problem.cost, problem.weight
    within = cost <= params.get("radius", math.inf)
    if model == "p-median":
        sizes = [params["p"]] if "p" in params else range(1, n + 1)
        price = problem.site_cost if problem.site_cost is not None else np.zeros(n)
        return min(
            float(w @ cost[:, combo].min(axis=1))
            for k in sizes
            for combo in itertools.combinations(range(n), k)
            if price[list(combo)].sum() <= params.get("budget", math.inf) + 1e-9
        )
    if model == "mclp":
        combos = itertools.combinations(range(n), params["p"])
        return max(float(w[within[:, combo].any(axis=1)].sum()) for combo in combos)
    if model == "lscp":
        need = within.any(axis=1)
        return float(
            next(
                k
                for k in range(1, n + 1)
                if any(
                    within[:, combo].any(axis=1)[need].all()
                    for combo in itertools.combinations(range(n), k)
                )
            )
        )
    assert problem.capacity is not None
    return max(
        _served(within, w, problem.capacity, combo)
        for combo in itertools.combinations(range(n), params["p"])
    )


def _served(within: np.ndarray, w: np.ndarray, cap: np.ndarray, combo: tuple[int, ...]) -> float:
    """Most weight ``combo`` serves within capacity (split demand: a transport LP)."""
    i, j = np.nonzero(within[:, list(combo)])
    if i.size == 0:
        return 0.0
    m, k = within.shape[0], len(combo)
    a = np.zeros((m + k, i.size))
    a[i, np.arange(i.size)] = 1.0  # each point at most once
    a[m + j, np.arange(i.size)] = w[i]  # each site at most its capacity
    b = np.concatenate((np.ones(m), cap[list(combo)]))
    res = linprog(-w[i], A_ub=a, b_ub=b, bounds=(0.0, 1.0), method="highs")
    assert res.status == 0
    return float(-res.fun)


# -- tests -------------------------------------------------------------------------------


def test_exact_models_stay_exact_after_a_default_threads_highs_run() -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.test_siting_highs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    # The clash is real in that process: a plain threads=1 run fails there.  (If a
    # HiGHS release stops refusing, this test no longer exercises the retry: update it.)
    assert report["plain_threads_1"] == "Not Set"
    for name, got in report["results"].items():
        assert got["optimal"] and got["gap"] == 0.0, (name, got)
        assert got["objective"] == pytest.approx(_brute(name), rel=1e-9), name
    assert report["results"]["p-median branch-and-cut"]["closed_by"] == "branch-and-cut"
    assert report["results"]["mclp"]["closed_by"] == "branch-and-bound"


class _Refusing:
    """A HiGHS instance whose ``run`` fails without solving (model status "Not Set"),
    as HiGHS does when its scheduler was started with another thread count."""

    def __init__(self, h: Any) -> None:
        self._h = h

    def __getattr__(self, name: str) -> Any:
        return getattr(self._h, name)

    def run(self) -> Any:
        import highspy

        return highspy.HighsStatus.kError


def _refuse(monkeypatch: pytest.MonkeyPatch, *, times: int) -> list[int]:
    """Make the next ``times`` HiGHS instances refuse to run; returns a call counter."""
    real = problem_module.new_highs
    made = [0]

    def new_highs() -> Any:
        made[0] += 1
        h = real()
        return _Refusing(h) if made[0] <= times else h

    for module in (problem_module, pmedian_module, mclp_module):
        monkeypatch.setattr(module, "new_highs", new_highs)
    return made


HIGHSPY_CASES = ["p-median radius MILP", "mclp", "lscp", "capacitated-coverage"]


@pytest.mark.parametrize("name", HIGHSPY_CASES)
def test_a_refused_run_is_retried_on_a_fresh_instance(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, problem, params = _case(name)
    expected = solve(problem, model, **params)
    made = _refuse(monkeypatch, times=1)
    again = solve(problem, model, **params)
    assert made[0] >= 2  # the refused instance and its fresh replacement
    assert again.optimal and again.objective == pytest.approx(expected.objective)
    assert again.sites.tolist() == expected.sites.tolist()


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("p-median radius MILP", "p-median radius MILP"),
        ("mclp", "mclp MILP"),  # after the LP bound and the tree's node LP failed
        ("lscp", "lscp"),
        ("capacitated-coverage", "capacitated-coverage"),
    ],
)
def test_a_failure_that_persists_is_named_not_returned_as_a_plan(
    name: str, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, problem, params = _case(name)
    _refuse(monkeypatch, times=10**9)
    with pytest.raises(SolverError, match=rf"{what}: HiGHS returned model status 'Not Set'"):
        solve(problem, model, **params)


def test_branch_and_cut_node_lps_survive_a_refused_run(monkeypatch: pytest.MonkeyPatch) -> None:
    model, problem, params = _case("p-median branch-and-cut")
    expected = solve(problem, model, **params)
    assert expected.params["closed_by"] == "branch-and-cut"
    real = pmedian_module.new_highs
    made = [0]

    def first_refuses() -> Any:
        made[0] += 1
        return _Refusing(real()) if made[0] == 1 else real()

    monkeypatch.setattr(pmedian_module, "new_highs", first_refuses)
    again = solve(problem, model, **params)
    assert again.params["closed_by"] == "branch-and-cut"  # not handed to the MILP
    assert again.params["bc_lp_retries"] == ["Not Set"]
    assert again.optimal and again.sites.tolist() == expected.sites.tolist()


def test_frlm_milp_failure_is_retried_then_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.optimize import OptimizeResult

    model, problem, params = _case("frlm")
    expected = solve(problem, model, **params)
    real = frlm_module.milp
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= fail_first:
            return OptimizeResult(x=None, status=4, message="HiGHS solve error")
        return real(*args, **kwargs)

    monkeypatch.setattr(frlm_module, "milp", failing)
    fail_first = 1
    again = solve(problem, model, **params)
    assert again.optimal and again.sites.tolist() == expected.sites.tolist()
    calls[0], fail_first = 0, 2
    with pytest.raises(SolverError, match=r"frlm: HiGHS .* failed twice .*status 4"):
        solve(problem, model, **params)


def test_a_misspelt_highs_option_is_an_error_not_ignored() -> None:
    model = problem_module.MilpModel(
        np.ones(3),
        problem_module.sp.csr_array(np.ones((1, 3))),
        np.ones(1),
        np.full(1, np.inf),
        np.zeros(3),
        np.ones(3),
        np.ones(3, dtype=bool),
    )
    with pytest.raises(SolverError, match="lscp: HiGHS rejects the option mip_alow_restart"):
        problem_module.solve_milp(model, name="lscp", options={"mip_alow_restart": False})


if __name__ == "__main__":
    status = _clash()
    print(json.dumps({"plain_threads_1": status, "results": _solve_all()}))
