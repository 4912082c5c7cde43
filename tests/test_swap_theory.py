"""A swap station checked against queueing theory through the public interface (issue 14,
item 6; docs/swap.md, "Queueing limits").

Each scenario is a YAML file and a plan file written here and run by ``chargesite run``;
the tests read the output folder (``sessions.parquet``, ``pack_stock.parquet``,
``sites.gpkg``) as a user would.

Poisson arrivals from the YAML alone: a flat synthetic grid city of 10,000 households,
every one with one EV, none with a home charger, every EV of one class that swaps. The
residents drive 5,000 km a day, so every morning every battery is at the residential
model's floor (5% state of charge, ``sim.demand.residential.MIN_SOC``); no threshold
(``charge_below_soc: [0, 0]``), so an EV sets off to swap only by its daily chance
``opportunistic_prob_per_day`` = 0.05, independently of other EVs and days, at a uniform
time of the day (flat hourly profiles).  A sum of 10,000 independent rare Bernoulli draws
spread uniformly is, to within ``p = 0.05``, a Poisson process at ``10,000 x 0.05 /
1,440`` = 0.347 arrivals a minute (the count of a day has variance ``1 - p`` times its
mean).  The test measures the rate at the station from ``sessions.parquet`` and uses
THAT rate in the formulas, after checking the arrivals look Poisson (inter-arrival CV,
dispersion of counts).  Patience is endless, balking off, one attempt: nobody leaves.

Every returned pack comes in at 5% and is charged to ``full_soc`` = 95% on a flat taper,
so its recharge time is deterministic: ``R = pack_kwh x 0.9 / charger_kw`` (the log's
``energy_kwh`` of a swap is that pack energy, and the test checks it is the same for all).

Tolerances: the per-replication mean waits are independent; the theory value must lie
within ``Z`` standard errors of their mean plus an allowance ``ALLOWANCE`` (relative) for
what separates the simulation from the textbook: the empty start (the first
``WARMUP_MIN`` are dropped; the relaxation time of these queues is about an hour, which
leaves a bias under 1%), the binomial rather than Poisson daily counts (variance 0.95 of
the mean: slightly less waiting), and the rate being measured (0.7% relative standard
error over all replications; the waits' convexity in it adds under 1%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app

#: Households of the synthetic city (one EV each, none with a home charger).
HOUSEHOLDS = 10_000
#: Daily chance that an EV sets off to swap.
P_DAY = 0.05
#: Expected arrivals per minute at the one swap station.
RATE_PER_MIN = HOUSEHOLDS * P_DAY / 1440.0
#: Simulated days per replication.
DAYS = 2
#: Arrivals before this (min) are left out of every estimate (the station starts empty).
WARMUP_MIN = 60.0
#: Standard errors the simulation may lie from the theory.
Z = 3.0
#: Relative allowance for the approximations listed in the module docstring.
ALLOWANCE = 0.05
#: Pack energy (kWh); every pack comes back at 5% and is charged to 95%.
PACK_KWH = 50.0
SOC_IN, FULL_SOC = 0.05, 0.95
#: Where the swap station is (lon, lat): the synthetic city's centre (about Hefei).
CENTRE = (117.2304, 31.8244)

runner = CliRunner()


# --------------------------------------------------------------------------- theory


def erlang_c(c: int, a: float, /) -> float:
    """Probability of waiting in an M/M/c queue with offered load ``a`` (Erlangs)."""
    rho = a / c
    if rho >= 1.0:
        return 1.0
    top = a**c / math.factorial(c) / (1.0 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def mmc_wait(c: int, rate: float, mean_service: float, /) -> tuple[float, float]:
    """M/M/c: mean wait in queue (min) and probability of waiting; ``inf`` if unstable."""
    a = rate * mean_service
    if a >= c:
        return math.inf, 1.0
    p = erlang_c(c, a)
    return p / (c / mean_service - rate), p


def mdc_wait(c: int, rate: float, service: float, /, states: int = 400) -> tuple[float, float]:
    """M/D/c (deterministic service ``service`` min), exactly: mean wait in queue (min) and
    probability of waiting; ``inf`` if unstable.

    Crommelin's embedded chain: every customer in service at ``t`` has left by ``t + D``,
    every customer waiting at ``t`` and every arrival in ``(t, t + D]`` is still there, so
    the number in system obeys ``N(t + D) = max(N(t) - c, 0) + A`` with ``A`` Poisson of
    mean ``rate x D``.  Its stationary law (solved on ``states`` states) is the law of
    ``N`` at any instant, and so, by PASTA, at arrivals: ``P(wait > 0) = P(N >= c)`` and
    ``Wq = E[max(N - c, 0)] / rate`` (Little).
    """
    a = rate * service
    if a >= c:
        return math.inf, 1.0
    k = np.arange(states)
    pmf = np.exp(k * math.log(a) - a - np.array([math.lgamma(i + 1.0) for i in k]))
    trans = np.zeros((states, states))
    for n in range(states):
        base = max(n - c, 0)
        trans[n, base:] = pmf[: states - base]
        trans[n, -1] += 1.0 - trans[n].sum()  # the truncated tail
    lhs = trans.T - np.eye(states)
    lhs[-1, :] = 1.0
    rhs = np.zeros(states)
    rhs[-1] = 1.0
    pi = np.linalg.solve(lhs, rhs)
    return float((np.maximum(k - c, 0) * pi).sum() / rate), float(pi[c:].sum())


def test_the_formulas_agree_with_single_server_results() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda); M/D/1: Pollaczek-Khinchine,
    # Wq = rho D / (2 (1 - rho)), P(wait) = rho
    wq, p = mmc_wait(1, 0.2, 4.0)
    assert (wq, p) == pytest.approx((0.8 / (0.25 - 0.2), 0.8))
    wq, p = mdc_wait(1, 0.2, 4.0)
    assert (wq, p) == pytest.approx((0.8 * 4.0 / (2 * 0.2), 0.8), rel=1e-9)
    # c servers: deterministic service waits less than exponential (about half)
    md, _ = mdc_wait(4, 0.35, 8.0)
    mm, _ = mmc_wait(4, 0.35, 8.0)
    assert 0.4 < md / mm < 0.6


# --------------------------------------------------------------------------- runs


def _scenario(
    folder: Path,
    /,
    *,
    bays: int,
    packs: int,
    charger_kw: float,
    swap_min: float,
    swap_distribution: str,
    replications: int,
) -> Path:
    """The YAML scenario and its plan file (one swap station) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "plan.csv"
    plan.write_text(
        "site_id,lon,lat,kind,charger_class,bays,packs,pack_chargers\n"
        f"swap-1,{CENTRE[0]},{CENTRE[1]},swap,theory,{bays},{packs},{packs}\n",
        encoding="utf-8",
    )
    flat = [1.0] * 24
    scenario: dict[str, Any] = {
        "name": "swap-theory",
        "seed": 2024,
        "region": {
            "synthetic": {
                "layout": "grid", "nodes": 100, "spacing_m": 150.0, "expressway": False,
                "households": HOUSEHOLDS, "candidates": 5,
            }
        },
        "demand": {
            "days": DAYS,
            "residential": {
                "cars_per_household": 1.0, "ev_share": 1.0,
                "no_home_charging_share": {"apartment": 1.0, "house": 1.0},
                "daily_km_weekday_mean": 5000.0, "daily_km_weekend_mean": 5000.0,
                "daily_km_cv": 0.0, "charge_below_soc": [0.0, 0.0],
                "opportunistic_below_soc": 1.0, "opportunistic_prob_per_day": P_DAY,
                "patience_min_mean": 1.0e7, "patience_min_cv": 0.0,
                "hourly_weekday": flat, "hourly_weekend": flat,
            },
            "highway": {"enabled": False},
        },
        "vehicles": {
            "fleet": [
                {"name": "swapper", "share": 1.0, "battery_kwh": PACK_KWH,
                 "consumption_kwh_per_km": 0.15, "max_ac_kw": 7.0, "max_dc_kw": 60.0,
                 "swap_pack": "theory"}
            ],
            "dc_taper": [[0.0, 1.0], [1.0, 1.0]],
        },
        "chargers": {
            "swap_classes": {
                "theory": {
                    "bays": bays, "packs": packs, "pack_chargers": packs,
                    "charger_kw": charger_kw, "pack_kwh": PACK_KWH,
                    "pack_types": ["theory"], "swap_min": swap_min,
                    "swap_distribution": swap_distribution, "full_soc": FULL_SOC,
                }
            }
        },
        "strategies": [{"name": "station", "plan_file": "plan.csv"}],
        "simulation": {
            "replications": replications, "max_access_min": 600.0, "choice": "nearest",
            "balk_queue_per_port": None, "max_attempts": 1,
        },
        "output": {"map": False, "report": False},
    }  # fmt: skip
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    """What ``chargesite run`` wrote, and the station's swaps after the warm-up."""

    sessions: pd.DataFrame
    swaps: pd.DataFrame
    pack_stock: pd.DataFrame
    selected: pd.DataFrame
    replications: int

    @property
    def rate(self) -> float:
        """Measured arrivals per minute at the station (all replications)."""
        return len(self.swaps) / self.replications / (DAYS * 1440.0 - WARMUP_MIN)

    def per_replication(self, values: pd.Series, /) -> tuple[float, float]:
        """Mean over replications of the per-replication mean of ``values`` (indexed as
        :attr:`swaps`) and its standard error."""
        means = values.groupby(self.swaps["replication"]).mean()
        assert len(means) == self.replications
        return float(means.mean()), float(means.std(ddof=1) / math.sqrt(len(means)))


def _run(folder: Path, /, **station: Any) -> Run:
    import geopandas as gpd

    cfg = _scenario(folder, **station)
    out = folder / "out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    sessions = pd.read_parquet(out / "sessions.parquet")
    arrived = sessions["arrival_min"]
    window = (arrived >= WARMUP_MIN) & (arrived < DAYS * 1440.0)
    swaps = sessions[(sessions["service"] == "swap") & window].reset_index(drop=True)
    return Run(
        sessions=sessions,
        swaps=swaps,
        pack_stock=pd.read_parquet(out / "pack_stock.parquet"),
        selected=gpd.read_file(out / "sites.gpkg", layer="selected"),
        replications=station["replications"],
    )


#: Limit (a): 2 bays, exponential swaps of 4 min, 50 packs recharged in 0.54 min.
BAYS, SWAP_MIN = 2, 4.0
#: Limit (b): 4 packs and 4 chargers, 20 bays, instantaneous swaps, 8-min recharges.
PACKS, RECHARGE_MIN = 4, 8.0


@pytest.fixture(scope="module")
def bays_limit(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Ample packs: an M/M/2 queue on the bays (about 5 s)."""
    return _run(
        tmp_path_factory.mktemp("bays"),
        bays=BAYS,
        packs=50,
        charger_kw=PACK_KWH * (FULL_SOC - SOC_IN) / 0.54 * 60.0,
        swap_min=SWAP_MIN,
        swap_distribution="exponential",
        replications=40,
    )


@pytest.fixture(scope="module")
def packs_limit(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Instantaneous swaps, one charger per pack: an M/D/4 queue on the packs (about 4 s)."""
    return _run(
        tmp_path_factory.mktemp("packs"),
        bays=20,
        packs=PACKS,
        charger_kw=PACK_KWH * (FULL_SOC - SOC_IN) / RECHARGE_MIN * 60.0,
        swap_min=0.0,
        swap_distribution="deterministic",
        replications=30,
    )


def _within(sim: tuple[float, float], theory: float, /) -> bool:
    """Whether ``theory`` lies within ``Z`` standard errors plus the allowance of the
    simulated ``(mean, standard error)``."""
    mean, se = sim
    return math.isfinite(theory) and abs(mean - theory) <= Z * se + ALLOWANCE * theory


# --------------------------------------------------------------------------- tests


def test_arrivals_at_the_station_are_poisson_at_the_configured_rate(bays_limit: Run) -> None:
    from scipy.special import chdtrc

    r = bays_limit
    # nobody leaves, nobody is out of reach: every session swaps once
    assert set(r.sessions["outcome"]) == {"charged"}
    assert set(r.sessions["service"]) == {"swap"}
    assert r.rate == pytest.approx(RATE_PER_MIN, rel=0.03)
    gaps, counts = [], []
    edges = np.arange(WARMUP_MIN, DAYS * 1440.0 + 1e-9, 10.0)
    for _, g in r.swaps.groupby("replication"):
        t = np.sort(g["arrival_min"].to_numpy())
        gaps.append(np.diff(t))
        counts.append(np.histogram(t, bins=edges)[0])
    gap = np.concatenate(gaps)
    assert gap.std() / gap.mean() == pytest.approx(1.0, abs=0.03)  # exponential gaps
    # counts per 10 minutes: index of dispersion 1 (Poisson); chi-square dispersion test
    n = np.concatenate(counts)
    assert n.var() / n.mean() == pytest.approx(1.0, abs=0.1)
    stat = ((n - n.mean()) ** 2).sum() / n.mean()
    assert 0.001 < chdtrc(n.size - 1, stat) < 0.999


def test_with_ample_packs_the_wait_for_a_bay_is_erlang_c(bays_limit: Run) -> None:
    r = bays_limit
    s = r.swaps
    swap_time = s["end_min"] - s["start_min"]
    # exponential swap times around the class's mean
    mean_swap, se_swap = r.per_replication(swap_time)
    assert abs(mean_swap - SWAP_MIN) < Z * se_swap
    assert swap_time.std() / swap_time.mean() == pytest.approx(1.0, abs=0.05)
    assert (s["pack_wait_min"] == 0.0).all()  # ample packs: nobody waits for one
    # the measured rate and swap time in the M/M/2 formulas
    wq, p_wait = mmc_wait(BAYS, r.rate, mean_swap)
    sim_wq = r.per_replication(s["wait_min"])
    sim_p = r.per_replication(s["wait_min"] > 0)
    assert _within(sim_wq, wq), (sim_wq, wq)
    assert _within(sim_p, p_wait), (sim_p, p_wait)
    # The test can fail. At seed 2024 (40 replications, 0.345 arrivals/min, mean swap
    # 3.97 min) the simulation gave Wq = 3.38 min (standard error 0.13) against Erlang
    # C's 3.53, so the band is 3.53 +- 0.55 min; P(wait > 0) 0.554 (0.007) against 0.558.
    # One bay fewer (M/M/1 at load 1.4) is unstable (inf), one bay more (M/M/3) gives
    # 0.47 min, deterministic swaps (M/D/2, exact) 1.82 min: all outside the band.
    # (Seeds 1-12 pass too, at z-scores from -0.8 to 1.6.)
    assert not _within(sim_wq, mmc_wait(BAYS - 1, r.rate, mean_swap)[0])
    assert not _within(sim_wq, mmc_wait(BAYS + 1, r.rate, mean_swap)[0])
    assert not _within(sim_wq, mdc_wait(BAYS, r.rate, mean_swap)[0])


def test_with_instant_swaps_the_wait_for_a_pack_is_md_n(packs_limit: Run) -> None:
    r = packs_limit
    s = r.swaps
    # every pack comes back at 5% and takes the same energy, on a flat taper, so its
    # recharge time is deterministic: R = energy / charger power
    kw = PACK_KWH * (FULL_SOC - SOC_IN) / RECHARGE_MIN * 60.0
    assert s["energy_kwh"].to_numpy() == pytest.approx(PACK_KWH * (FULL_SOC - SOC_IN))
    recharge_min = float(s["energy_kwh"].iloc[0]) / kw * 60.0
    assert recharge_min == pytest.approx(RECHARGE_MIN)
    # 20 bays for at most a few drivers waiting: every wait is a wait for a pack
    assert (s["end_min"] == s["start_min"]).all()
    np.testing.assert_allclose(s["wait_min"], s["pack_wait_min"], atol=1e-9)
    wq, p_wait = mdc_wait(PACKS, r.rate, recharge_min)
    sim_wq = r.per_replication(s["wait_min"])
    sim_p = r.per_replication(s["wait_min"] > 0)
    assert _within(sim_wq, wq), (sim_wq, wq)
    assert _within(sim_p, p_wait), (sim_p, p_wait)
    # The test can fail. At seed 2024 (30 replications, 0.346 arrivals/min) the
    # simulation gave Wq = 1.37 min (standard error 0.05) against the exact M/D/4 1.43,
    # a band of 1.43 +- 0.22 min; P(wait > 0) 0.389 (0.006) against 0.397.  Erlang C
    # (exponential recharges, M/M/4) gives 2.69 min and one pack fewer (M/D/3) 14.7
    # min: both outside.  Allen-Cunneen's approximation (half of Erlang C here, 1.34)
    # lies inside: 6% below the exact value, the test cannot tell the two apart.
    # (Seeds 1-12 pass too, at z-scores from -1.9 to 1.0.)
    assert not _within(sim_wq, mmc_wait(PACKS, r.rate, recharge_min)[0])
    assert not _within(sim_wq, mdc_wait(PACKS - 1, r.rate, recharge_min)[0])


def test_pack_stock_follows_littles_law(packs_limit: Run) -> None:
    r = packs_limit
    stock = r.pack_stock
    assert stock["charged_packs"].between(0, PACKS).all()
    stock = stock[stock["bin_start_min"] >= WARMUP_MIN]
    by_rep = stock.groupby("replication")
    # one charger per pack: a pack not in stock is on charge, each for R minutes after
    # its swap, so the mean number on charge is rate x R (Little's law)
    on_charge = (PACKS - stock["charged_packs"]).groupby(stock["replication"]).mean()
    se = on_charge.std(ddof=1) / math.sqrt(len(on_charge))
    theory = r.rate * RECHARGE_MIN
    assert abs(on_charge.mean() - theory) <= Z * se + 0.02 * theory
    # the stock is empty exactly when a driver would wait (all N servers busy): the
    # share of time is P(wait > 0) by PASTA, and the selected layer's pack availability
    # is the rest
    _, p_wait = mdc_wait(PACKS, r.rate, RECHARGE_MIN)
    empty = by_rep["charged_packs"].apply(lambda c: float((c == 0).mean()))
    se = empty.std(ddof=1) / math.sqrt(len(empty))
    assert abs(empty.mean() - p_wait) <= Z * se + 0.01
    (availability,) = r.selected.loc[r.selected["kind"] == "swap", "pack_availability"]
    assert abs(availability - (1.0 - p_wait)) <= Z * se + 0.01
