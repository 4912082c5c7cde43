"""The local search's nearest-two bookkeeping: updated after each opening and closing,
it equals what a from-scratch computation over the open sites gives, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.siting.pmedian import _closed, _Instance, _nearest_two, _opened


@settings(max_examples=200, deadline=None)
@given(
    m=st.integers(1, 30),
    n=st.integers(2, 12),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
    steps=st.integers(1, 20),
)
def test_updates_equal_a_fresh_computation(
    m: int, n: int, ties: bool, seed: int, steps: int
) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 4, (m, n)).astype(float) if ties else rng.random((m, n))
    inst = _Instance(cost, np.ones(m), np.arange(m), np.zeros(0, np.int64), 10.0)
    is_open = rng.random(n) < 0.5
    s = np.flatnonzero(is_open)
    c1, d1, d2 = _nearest_two(cost, s, inst.big)
    nearest = s[c1] if s.size else np.zeros(m, dtype=np.int64)
    for _ in range(steps):
        j = int(rng.integers(n))
        if is_open[j]:
            is_open[j] = False
            nearest, d1, d2 = _closed(inst, j, np.flatnonzero(is_open), nearest, d1, d2)
        else:
            is_open[j] = True
            nearest, d1, d2 = _opened(cost, j, nearest, d1, d2)
        s = np.flatnonzero(is_open)
        c1, e1, e2 = _nearest_two(cost, s, inst.big)
        assert np.array_equal(d1, e1) and np.array_equal(d2, e2)
        if s.size:
            assert np.array_equal(nearest, s[c1])  # a tie goes to the smaller site id
