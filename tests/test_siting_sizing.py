"""Queue formulas and port sizing against textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import SolverInputError
from sim.siting.sizing import erlang_b, erlang_c, mmc_mean_wait, mmc_wait_exceeds, size_ports


def test_erlang_textbook_values() -> None:
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    # Classic table value: 10 servers, 8 Erlang -> P(wait) ~= 0.409.
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-4)
    assert erlang_c(2, 2.0) == 1.0 and erlang_c(2, 0.0) == 0.0
    # Large c stays finite and in [0, 1] (no factorial overflow).
    assert 0.0 < erlang_c(500, 480.0) < 1.0
    np.testing.assert_allclose(erlang_c(np.array([2, 3]), np.array([1.0, 2.0])), [1 / 3, 4 / 9])


def test_mmc_wait() -> None:
    # M/M/1: Wq = rho / (mu - lam).
    assert mmc_mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert mmc_mean_wait(2.0, 1.0, 3) == pytest.approx(4 / 9)
    assert math.isinf(mmc_mean_wait(3.0, 1.0, 3))
    assert mmc_wait_exceeds(2.0, 1.0, 3, 0.0) == pytest.approx(4 / 9)
    assert mmc_wait_exceeds(2.0, 1.0, 3, 1.0) == pytest.approx(4 / 9 * math.exp(-1.0))
    with pytest.raises(SolverInputError, match="mu"):
        mmc_mean_wait(1.0, 0.0, 2)


def test_size_ports_meets_target_and_spends_where_it_helps() -> None:
    lam = np.array([1.0, 6.0, 0.2, 12.0])  # sessions per hour
    svc = 0.75  # hours per session
    ports = size_ports(lam, svc, port_budget=60, target_wait_min=10.0, max_prob=0.05)
    tail = mmc_wait_exceeds(lam, 1 / svc, ports, 10 / 60)
    assert np.all(tail <= 0.05)
    assert ports.sum() < 60  # stops once every site meets the target
    assert ports[3] > ports[1] > ports[0] >= ports[2] >= 1
    # One port fewer anywhere breaks the target there (no port wasted).
    for j in range(4):
        if ports[j] > 1:
            fewer = ports.copy()
            fewer[j] -= 1
            assert mmc_wait_exceeds(lam[j], 1 / svc, fewer[j], 10 / 60) > 0.05


def test_size_ports_short_budget_stabilises_overloaded_sites_first() -> None:
    lam = np.array([8.0, 1.0])  # loads 8 and 1 Erlang with 1-hour sessions
    ports = size_ports(lam, 1.0, port_budget=10, target_wait_min=5.0, max_prob=0.01)
    assert ports.sum() == 10 and ports[0] >= 9  # site 0 needs 9 ports to be stable at all
    more_variable = size_ports(
        np.array([3.0]), 1.0, port_budget=30, target_wait_min=10.0, max_prob=0.05, service_cv=2.0
    )
    exponential = size_ports(
        np.array([3.0]), 1.0, port_budget=30, target_wait_min=10.0, max_prob=0.05
    )
    assert more_variable[0] >= exponential[0]


def test_size_ports_errors() -> None:
    with pytest.raises(SolverInputError, match="port_budget"):
        size_ports(np.ones(3), 1.0, port_budget=2, target_wait_min=5, max_prob=0.1)
    with pytest.raises(SolverInputError, match="max_prob"):
        size_ports(np.ones(3), 1.0, port_budget=5, target_wait_min=5, max_prob=0.0)
    with pytest.raises(SolverInputError, match="mean_service_h"):
        size_ports(np.ones(3), 0.0, port_budget=5, target_wait_min=5, max_prob=0.1)
