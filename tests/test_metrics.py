"""Metrics a researcher can trust: intervals inside each metric's range, one horizon for
energy, utilisation and load, and missing (not zero) waits where nobody reached a station."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.api import RunResult
from sim.metrics.intervals import ci95
from sim.metrics.scores import METRIC_RANGE, METRICS


@given(
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30),
)
def test_a_share_interval_stays_in_zero_one(values: list[float]) -> None:
    lo, hi = ci95(np.array(values), bounds=(0.0, 1.0))
    assert lo is not None and hi is not None
    assert 0.0 <= lo <= float(np.mean(values)) + 1e-12 and hi <= 1.0
    assert hi >= float(np.mean(values)) - 1e-12


def test_the_interval_is_the_t_interval_where_it_fits() -> None:
    v = np.array([0.4, 0.5, 0.6])
    lo, hi = ci95(v, bounds=(0.0, 1.0))
    # t(0.975, 2) = 4.302653; sem = 0.1 / sqrt(3)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert lo == pytest.approx(0.5 - half) and hi == pytest.approx(min(0.5 + half, 1.0))
    lo, hi = ci95(np.array([0.0, 0.0, 0.02]), bounds=(0.0, 1.0))
    assert lo == 0.0 and hi is not None and hi > 0.02  # the t interval dips below 0


def test_every_interval_of_a_run_lies_in_its_metric_range(small_run: RunResult) -> None:
    for s in small_run.typed_summary.strategies.values():
        for m in METRICS:
            ms = s.metrics[m]
            low, high = METRIC_RANGE[m]
            for x in (ms.mean, ms.ci95[0], ms.ci95[1]):
                assert x is None or low <= x <= high, (s.name, m, x)


def test_energy_served_counts_the_horizon_like_the_load_profile(small_run: RunResult) -> None:
    days = small_run.scenario.demand.days
    for name in small_run.plans:
        load = small_run.site_load[small_run.site_load["strategy"] == name]
        reps = small_run.per_replication[small_run.per_replication["strategy"] == name]
        # site_load holds each 15-minute bin's mean load over replications (kW)
        kwh_profile = float(load["load_kw_mean"].sum()) * 0.25
        kwh_metric = float(reps["energy_served_kwh"].mean())
        assert kwh_profile == pytest.approx(kwh_metric, rel=1e-6, abs=1e-6), name
    assert days >= 1


def test_a_plan_that_reaches_no_station_has_missing_waits(small_run: RunResult) -> None:
    none = small_run.typed_summary.strategies["existing"]  # Kotka maps no charging station
    assert len(none.sites) == 0
    assert none.metrics["wait_mean_min"].mean is None
    assert none.metrics["wait_p95_min"].mean is None
    assert none.metrics["unserved_share"].mean == 1.0
    served = small_run.typed_summary.strategies["p-median"]
    assert served.metrics["wait_mean_min"].mean is not None


def test_every_metric_can_be_recomputed_from_the_published_log(small_run: RunResult) -> None:
    s = small_run.sessions
    assert "detour_min" in s.columns
    hw = s[(s["segment"] == "highway") & (s["outcome"] == "charged")]
    assert hw["detour_min"].notna().any()
    for name in ("random", "p-median"):
        rows = s[s["strategy"] == name]
        per_rep = small_run.per_replication.set_index(["strategy", "replication"])
        for rep, g in rows.groupby("replication", observed=True):
            charged = g[(g["outcome"] == "charged") & g["detour_min"].notna()]
            last = charged.groupby("session").tail(1)  # each session's last charge
            want = per_rep.loc[(name, rep), "detour_mean_min"]
            assert float(last["detour_min"].mean()) == pytest.approx(want, rel=1e-9)
