"""map.html: offline, one layer per strategy, escaped OSM/user strings.

The tests render a small synthetic run (built in code, shaped like
:class:`sim.api.RunResult`) so that they are fast and need no region data.
``make_result`` is shared with ``test_report.py`` and ``test_browser.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from sim.export.webmap import write_map
from sim.metrics.scores import METRICS

EVIL = "<script>alert(1)</script>"
STRATEGIES = ("existing", "random", "p-median")


def make_result(
    *,
    strategies: tuple[str, ...] = STRATEGIES,
    language: str = "en",
    replications: int = 3,
    days: int = 2,
    site_name: str = "Parking Kotka",
    zone_name: str = "Karhula",
    seed: int = 7,
) -> Any:
    """A small RunResult-like object: 12 zones, 20 candidates, a road grid.

    The first strategy has no sites (like ``existing`` where OSM maps no charging
    station); the others choose 4 sites each.  Candidate 0 and zone 0 are named
    ``site_name`` / ``zone_name`` so a test can inject hostile strings.
    """
    rng = np.random.default_rng(seed)
    x0, y0 = 26.90, 60.45
    zones = [box(x0 + 0.01 * i, y0 + 0.01 * j, x0 + 0.01 * i + 0.009, y0 + 0.01 * j + 0.009)
             for i in range(4) for j in range(3)]  # fmt: skip
    n_c = 20
    cx = x0 + rng.uniform(0, 0.04, n_c)
    cy = y0 + rng.uniform(0, 0.03, n_c)
    kinds = ["parking", "fuel", "node", "node"]
    candidates = gpd.GeoDataFrame(
        {
            "site_id": [f"node-{i}" for i in range(n_c)],
            "kind": [kinds[i % 4] for i in range(n_c)],
            "name": [site_name if i == 0 else ("" if i % 3 else f"Site {i}") for i in range(n_c)],
            "osm_id": ["" for _ in range(n_c)],
            "existing_ports": np.zeros(n_c, dtype=np.int64),
            "node": np.arange(n_c, dtype=np.int64),
            "snap_dist_m": rng.uniform(0, 50, n_c),
            "households_in_radius": rng.uniform(0, 900, n_c),
            "evs_no_home_in_radius": rng.uniform(0, 50, n_c),
            "sessions_per_day_in_radius": rng.uniform(0, 12, n_c),
            "access_saved_min_per_day": rng.uniform(0, 60, n_c),
            "rank": np.arange(1, n_c + 1),
            "selected_by": ["" for _ in range(n_c)],
        },
        geometry=[Point(a, b) for a, b in zip(cx, cy, strict=True)],
        crs="EPSG:4326",
    )
    chosen = {s: ([] if k == 0 else sorted(rng.choice(n_c, 4, replace=False).tolist()))
              for k, s in enumerate(strategies)}  # fmt: skip
    chosen[strategies[-1]] = sorted({0, *chosen[strategies[-1]][:3]})  # the named site
    for s, idx in chosen.items():
        for i in idx:
            prev = candidates.at[i, "selected_by"]
            candidates.at[i, "selected_by"] = f"{prev},{s}" if prev else s
    sel_rows = []
    for s, idx in chosen.items():
        for i in idx:
            sel_rows.append(
                {
                    "strategy": s,
                    "site_id": candidates.at[i, "site_id"],
                    "kind": candidates.at[i, "kind"],
                    "name": candidates.at[i, "name"],
                    "ports": int(rng.integers(2, 9)),
                    "power_kw": 60.0,
                    "charger_class": "dc60",
                    "existing": False,
                    "utilization": float(rng.uniform(0.05, 0.9)),
                    "energy_kwh_per_day": float(rng.uniform(50, 900)),
                    "sessions_charged_per_day": float(rng.uniform(2, 30)),
                    "wait_mean_min": float(rng.uniform(0, 20)),
                    "wait_p95_min": float(rng.uniform(10, 60)),
                    "geometry": candidates.geometry.iloc[i],
                }
            )
    selected = gpd.GeoDataFrame(sel_rows, geometry="geometry", crs="EPSG:4326")
    zone_rows = []
    for s in strategies:
        for z, g in enumerate(zones):
            served = np.nan if z == 5 else (0.0 if s == strategies[0] else rng.uniform(0.3, 1))
            zone_rows.append(
                {
                    "strategy": s,
                    "zone_id": f"z{z:04d}",
                    "name": zone_name if z == 0 else ("" if z % 2 else f"Zone {z}"),
                    "source": "landuse",
                    "households": 100.0 + 10 * z,
                    "evs": 15.0 + z,
                    "evs_no_home": 10.0 + z,
                    "demand_kwh_per_day": 40.0 + z,
                    "access_min": np.nan if s == strategies[0] else float(rng.uniform(1, 15)),
                    "served_share": served,
                    "geometry": g,
                }
            )
    zones_gdf = gpd.GeoDataFrame(zone_rows, geometry="geometry", crs="EPSG:4326")
    lines = [LineString([(x0, y0 + 0.005 * j), (x0 + 0.04, y0 + 0.005 * j)]) for j in range(7)]
    lines += [LineString([(x0 + 0.005 * i, y0), (x0 + 0.005 * i, y0 + 0.03)]) for i in range(9)]
    roads = gpd.GeoDataFrame(
        {
            "u": np.arange(len(lines)),
            "v": np.arange(len(lines)) + 1,
            "highway": ["primary" if k % 4 == 0 else "residential" for k in range(len(lines))],
            "length_m": 1000.0,
            "speed_kph": 50.0,
            "travel_time_s": 72.0,
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    # Sessions: per replication the same demand, per strategy a different outcome.
    horizon = days * 1440.0
    frames = []
    n_s = 150
    for r in range(replications):
        arrive = np.sort(rng.uniform(0, horizon, n_s))
        for s in strategies:
            idx = chosen[s]
            if not idx:
                station = np.array([""] * n_s, dtype=object)
                outcome = np.array(["no_station"] * n_s, dtype=object)
                wait = np.full(n_s, np.nan)
            else:
                ids = np.array([candidates.at[i, "site_id"] for i in idx], dtype=object)
                station = ids[rng.integers(0, len(ids), n_s)]
                outcome = rng.choice(["charged", "reneged", "balked"], n_s, p=[0.8, 0.15, 0.05])
                wait = np.where(outcome == "balked", np.nan, rng.exponential(8.0, n_s))
            charged = outcome == "charged"
            start = np.where(charged, arrive + np.nan_to_num(wait), np.nan)
            end = np.where(charged, start + rng.uniform(20, 60, n_s), np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "replication": r,
                        "strategy": s,
                        "vehicle_id": np.arange(n_s),
                        "segment": "residential",
                        "station_id": station,
                        "arrival_min": arrive,
                        "start_min": start,
                        "end_min": end,
                        "wait_min": wait,
                        "energy_kwh": rng.uniform(10, 40, n_s),
                        "power_kw": 60.0,
                        "outcome": outcome,
                        "session": np.arange(n_s),
                        "attempt": 0,
                        "depart_min": arrive - 5,
                        "access_min": rng.uniform(1, 10, n_s),
                    }
                )
            )
    sessions = pd.concat(frames, ignore_index=True)
    per_rep = pd.DataFrame(
        [
            {"strategy": s, "replication": r, **{m: float(rng.uniform(0, 50)) for m in METRICS}}
            for r in range(replications)
            for s in strategies
        ]
    )
    per_rep.loc[per_rep["strategy"] == strategies[0], "detour_mean_min"] = np.nan
    metrics_summary = {}
    for s in strategies:
        g = per_rep[per_rep["strategy"] == s]
        metrics_summary[s] = {
            m: (
                {"mean": None, "ci95": [None, None]}
                if g[m].isna().all()
                else {"mean": float(g[m].mean()), "ci95": [float(g[m].min()), float(g[m].max())]}
            )
            for m in METRICS
        }
    comparisons = []
    for i, a in enumerate(strategies):
        for b in strategies[i + 1 :]:
            d = (
                per_rep[per_rep["strategy"] == a].set_index("replication")[list(METRICS)]
                - per_rep[per_rep["strategy"] == b].set_index("replication")[list(METRICS)]
            )
            comparisons.append(
                {
                    "a": a,
                    "b": b,
                    "metrics": {
                        m: {
                            "mean_diff": float(d[m].mean()),
                            "ci95": [float(d[m].min()), float(d[m].max())],
                            "significant": bool(d[m].min() > 0 or d[m].max() < 0),
                            "better": (b if d[m].max() < 0 else None),
                        }
                        for m in METRICS
                    },
                }
            )
    summary = {
        "scenario": "synthetic",
        "seed": seed,
        "replications": replications,
        "days": days,
        "strategies": {
            s: {
                "model": s,
                "sites": [candidates.at[i, "site_id"] for i in chosen[s]],
                "ports": [4] * len(chosen[s]),
                "cost_cny": 250000.0 * len(chosen[s]),
                "solver": {"objective": 1.0, "optimal": True, "gap": 0.0},
                "metrics": metrics_summary[s],
            }
            for s in strategies
        },
        "comparisons": comparisons,
        "provenance": {
            "python": "3.11.7",
            "versions": {"chargesite": "0.1.0", "numpy": np.__version__},
            "data_sha256": {"region:sample": "ab" * 32},
            "region": f"synthetic {zone_name}",
            "region_notes": ["No charging stations are mapped in this extract.", zone_name],
            "crs": "EPSG:32635",
        },
    }
    scenario = SimpleNamespace(
        name="synthetic",
        seed=seed,
        output=SimpleNamespace(language=language),
        demand=SimpleNamespace(days=days, highway=SimpleNamespace(enabled=False, holiday=None)),
    )
    return SimpleNamespace(
        scenario=scenario,
        summary=summary,
        per_replication=per_rep,
        sessions=sessions,
        candidates=candidates,
        selected=selected,
        zones=zones_gdf,
        roads=roads,
        queues=pd.DataFrame(
            columns=["strategy", "site_id", "hour", "queue_peak", "queue_mean", "queue_peak_max"]
        ),
        plans={},
        prepared=None,
        units=[],
    )


def _external_resources(html: str) -> list[str]:
    """Script and stylesheet URLs the page would fetch (should be none)."""
    found = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]([^'\"]+)", html, flags=re.I)
    found += re.findall(r"<link[^>]*\bhref\s*=\s*['\"]([^'\"]+)", html, flags=re.I)
    found += re.findall(r"url\(\s*['\"]?(?!data:|#)([^'\")]+)", html)  # #default#VML: IE only
    return found


@pytest.fixture(scope="module")
def result() -> Any:
    return make_result()


def test_map_has_a_layer_per_strategy_and_no_external_assets(result: Any, tmp_path: Path) -> None:
    path = write_map(result, tmp_path / "map.html")
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 2_000_000
    assert _external_resources(html) == []
    assert "L.map(" in html and "leafletjs.com" in html  # Leaflet is inlined, not linked
    for s in STRATEGIES:
        assert json.dumps(f"Strategy: {s}") in html  # one layer-control entry each
    assert "Candidate sites" in html
    assert "© OpenStreetMap contributors" in html
    # a popup shows every score of a site
    for key in ("Utilisation", "Energy (kWh/day)", "Mean wait (min)", "Ports"):
        assert key in html


def test_map_escapes_osm_and_user_strings(tmp_path: Path) -> None:
    bad = make_result(site_name=EVIL, zone_name=EVIL, strategies=("existing", EVIL, "p-median"))
    html = write_map(bad, tmp_path / "map.html").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "alert(1)</script>" not in html
    # escaped once for HTML, then JSON-encoded with <, >, & as \\u escapes
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in html


def test_map_in_chinese(result: Any, tmp_path: Path) -> None:
    html = write_map(result, tmp_path / "map.html", language="zh").read_text(encoding="utf-8")
    assert "候选站点" in html and "利用率" in html
    assert '<html lang="zh-CN">' in html


def test_map_language_comes_from_the_scenario(tmp_path: Path) -> None:
    html = write_map(make_result(language="zh"), tmp_path / "m.html").read_text(encoding="utf-8")
    assert "候选站点" in html


def test_map_rejects_an_unknown_language(result: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language"):
        write_map(result, tmp_path / "map.html", language="fr")
