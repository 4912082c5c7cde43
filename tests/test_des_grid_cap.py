"""A time-varying grid cap shared by a group of stations (public sites in a compound)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.des import CHARGED, Access, Stations, TaperCurves, simulate
from sim.des.charging import step_mean_kw
from sim.des.inputs import CapProfile
from tests.test_des import make_access, make_demand


def _stations(ports: list[int], *, power: float = 50.0, cap: float | None = None) -> Stations:
    m = len(ports)
    return Stations(
        site_id=tuple(f"s{i}" for i in range(m)),
        ports=np.array(ports, dtype=np.int64),
        power_kw=np.full(m, power),
        dc=np.ones(m, dtype=bool),
        grid_cap_kw=None if cap is None else np.full(m, cap),
    )


def _one_car(energy: float = 30.0) -> object:
    d = make_demand(1, np.random.default_rng(0), energy=np.array([energy]), depart=np.zeros(1))
    return replace(d, max_dc_kw=np.array([120.0]), soc_start=np.array([0.2]))


def test_one_session_under_a_stepped_cap_takes_the_integral_time() -> None:
    """30 kWh on a 50-kW port under a cap of 10 kW (0-15 min), 40 kW (15-30 min), then
    20 kW: 2.5 + 10 kWh in the first half hour, 17.5 kWh at 20 kW = 52.5 min more, so it
    ends at 82.5 min (flat charging curve)."""
    d = _one_car()
    profile = np.full(96, 20.0)
    profile[0], profile[1] = 10.0, 40.0
    st_ = replace(
        _stations([1]),
        cap_profile=CapProfile(group=np.zeros(1, np.int64), kw=profile[None, :]),
    )
    log = simulate(d, st_, access=make_access(1, [0.0]), taper=TaperCurves.flat())
    assert log.outcome[0] == CHARGED
    assert log.end_min[0] == pytest.approx(82.5, abs=1e-9)
    assert log.energy_kwh[0] == pytest.approx(30.0)
    # without the profile it takes 30 kWh / 50 kW = 36 min
    free = simulate(d, _stations([1]), access=make_access(1, [0.0]), taper=TaperCurves.flat())
    assert free.end_min[0] == pytest.approx(36.0)


def test_the_profile_repeats_after_its_last_step() -> None:
    """A 2-step profile (0 kW, then 30 kW) repeats: 15 kWh take steps 1 and 3 (min 15-30
    and 45-60), ending at 60 min."""
    d = _one_car(15.0)
    st_ = replace(
        _stations([1]),
        cap_profile=CapProfile(group=np.zeros(1, np.int64), kw=np.array([[0.0, 30.0]])),
    )
    log = simulate(d, st_, access=make_access(1, [0.0]), taper=TaperCurves.flat())
    assert log.end_min[0] == pytest.approx(60.0, abs=1e-9)


def test_stations_of_one_group_share_its_cap() -> None:
    """Two stations of one compound, a car at each from minute 0: a shared cap of 40 kW
    gives each 20 kW, so 30 kWh take 90 min; a station's own 15-kW cap holds inside the
    group (that car 15 kW, the other 25 kW)."""
    d = replace(
        make_demand(2, np.random.default_rng(0), energy=np.full(2, 30.0), depart=np.zeros(2)),
        max_dc_kw=np.full(2, 120.0),
        soc_start=np.full(2, 0.2),
    )
    acc = Access(
        origin_row=np.array([0, 1]),
        first_station=np.array([[0], [1]]),
        first_min=np.zeros((2, 1)),
        next_station=np.full((2, 1), -1),
        next_min=np.full((2, 1), np.inf),
    )
    prof = CapProfile(group=np.zeros(2, np.int64), kw=np.full((1, 96), 40.0))
    log = simulate(
        d, replace(_stations([1, 1]), cap_profile=prof), access=acc, taper=TaperCurves.flat()
    )
    assert np.allclose(log.end_min, 90.0)
    own = replace(_stations([1, 1]), grid_cap_kw=np.array([15.0, np.inf]), cap_profile=prof)
    log = simulate(d, own, access=acc, taper=TaperCurves.flat())
    assert log.power_kw[log.station == 0][0] == pytest.approx(15.0)
    # station 1 gets the 25 kW left: 30 kWh in 72 min, while station 0 still charges
    assert log.end_min[log.station == 1][0] == pytest.approx(72.0)


def test_a_profile_that_never_binds_changes_nothing() -> None:
    rng = np.random.default_rng(3)
    d = make_demand(300, rng, rate_per_min=0.5)
    acc = make_access(300, [2.0, 4.0, 6.0])
    base = simulate(d, _stations([2, 1, 2]), access=acc)
    prof = CapProfile(group=np.array([0, 0, -1]), kw=np.full((1, 96), 1000.0))
    with_prof = simulate(d, replace(_stations([2, 1, 2]), cap_profile=prof), access=acc)
    for name in ("session", "station", "outcome", "start_min", "end_min", "energy_kwh"):
        assert np.array_equal(getattr(base, name), getattr(with_prof, name), equal_nan=True)


def test_a_cap_of_zero_in_every_step_is_refused() -> None:
    d = _one_car()
    st_ = replace(
        _stations([1]), cap_profile=CapProfile(group=np.zeros(1, np.int64), kw=np.zeros((1, 4)))
    )
    with pytest.raises(ValueError, match="0 in every step"):
        simulate(d, st_, access=make_access(1, [0.0]))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 120),
    seed=st.integers(0, 2**32 - 1),
    ports=st.lists(st.integers(1, 3), min_size=1, max_size=3),
)
def test_the_group_never_draws_more_than_its_cap(n: int, seed: int, ports: list[int]) -> None:
    """Random cars at the stations of one group under a random cap profile (with the
    charging curves' taper): the group's recorded draw never exceeds the cap at any
    instant, and its energy per step adds up to the sessions' energy."""
    rng = np.random.default_rng(seed)
    d = make_demand(n, rng, rate_per_min=0.3)
    m = len(ports)
    n_steps = 24
    profile = rng.uniform(0.0, 120.0, n_steps)
    profile[rng.integers(0, n_steps)] = 80.0  # at least one step with power
    traces: list[list[tuple[float, float]]] = [[]]
    prof = CapProfile(group=np.zeros(m, np.int64), kw=profile[None, :], traces=traces)
    stations = replace(_stations(ports, power=60.0), cap_profile=prof)
    acc = make_access(n, list(rng.uniform(0, 10, m)))
    taper = TaperCurves.from_points(dc=[[0, 1], [0.8, 1], [1, 0.3]], ac=[[0, 1], [1, 1]])
    log = simulate(d, stations, access=acc, taper=taper)
    ok = log.outcome == CHARGED
    trace = traces[0]
    assert trace and trace[-1][1] == 0.0
    t = np.array([p[0] for p in trace])
    kw = np.array([p[1] for p in trace])
    cap_now = profile[(np.floor((t + 1e-9) / 15.0).astype(int)) % n_steps]
    assert (kw <= cap_now + 1e-9).all()
    per_step = step_mean_kw(trace, n_steps=n_steps)
    assert per_step.sum() * 15.0 / 60.0 == pytest.approx(log.energy_kwh[ok].sum(), rel=1e-9)
    assert np.isclose(log.energy_kwh[ok].sum(), d.energy_kwh[log.session[ok]].sum())
