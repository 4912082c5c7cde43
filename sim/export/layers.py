"""GeoDataFrames of a run's results: candidates, selected sites, zones, roads.

All layers are in EPSG:4326 with unit-carrying column names.  The same frames are
returned to notebook users by :func:`sim.api.run` and written to ``sites.gpkg``.  The
plain tables (sessions, site load, queues) are in :mod:`sim.export.tables`.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from sim.export.summary import plan_site_figures
from sim.metrics.sites import SiteFigures
from sim.siting.plan import Plan
from sim.study.prepare import Prepared
from sim.study.units import UnitResult

__all__ = [
    "WGS84",
    "candidates_layer",
    "roads_layer",
    "selected_layer",
    "with_phase_built",
    "zones_layer",
]

WGS84 = "EPSG:4326"


def _baseline_access(prep: Prepared, /) -> np.ndarray:
    """Access time (min) from each demand node to its nearest existing station,
    capped at ``simulation.max_access_min`` (no station counts as the cap)."""
    cap = prep.scenario.simulation.max_access_min
    if prep.existing.size:
        a = prep.cost_min[:, prep.existing].min(axis=1)
    else:
        a = np.full(prep.cost_min.shape[0], np.inf)
    return np.minimum(a, cap)


def candidates_layer(prep: Prepared, plans: dict[str, Plan], /) -> gpd.GeoDataFrame:
    """Every candidate site, chosen or not, with the demand it could serve.

    Columns added to the region's candidate columns: ``households_in_radius``,
    ``evs_no_home_in_radius`` (EVs without home charging within the radius),
    ``sessions_per_day_in_radius`` (their expected public sessions per day),
    ``access_saved_min_per_day`` (driving minutes per day saved against the existing
    stations, capped at the access limit), ``rank`` (1 = most sessions in radius, then
    most time saved) and ``selected_by`` (strategies that chose it).
    """
    cands = prep.region.candidates.copy()
    radius = prep.scenario.simulation.radius_min
    within = prep.cost_min <= radius  # (n_demand, n_cand)
    homes = prep.homes
    hh = np.bincount(
        prep.home_to_demand,
        weights=homes.households_apartment + homes.households_house,
        minlength=prep.demand_node.shape[0],
    )
    evs = np.bincount(
        prep.home_to_demand,
        weights=homes.evs_without_home_charging(prep.scenario.demand.residential),
        minlength=prep.demand_node.shape[0],
    )
    cands["households_in_radius"] = hh @ within if within.size else 0.0
    cands["evs_no_home_in_radius"] = evs @ within if within.size else 0.0
    cands["sessions_per_day_in_radius"] = prep.weight @ within if within.size else 0.0
    base = _baseline_access(prep)
    saved = np.maximum(
        base[:, None] - np.where(np.isfinite(prep.cost_min), prep.cost_min, np.inf), 0.0
    )
    cands["access_saved_min_per_day"] = prep.weight @ saved if saved.size else 0.0
    order = np.lexsort(
        (
            -cands["access_saved_min_per_day"].to_numpy(),
            -cands["sessions_per_day_in_radius"].to_numpy(),
        )
    )
    rank = np.empty(len(cands), dtype=np.int64)
    rank[order] = np.arange(1, len(cands) + 1)
    cands["rank"] = rank
    chosen: list[list[str]] = [[] for _ in range(len(cands))]
    for name, plan in plans.items():
        for c in plan.candidate.tolist():
            chosen[c].append(name)
    cands["selected_by"] = [",".join(c) for c in chosen]
    return cands.to_crs(WGS84)


def selected_layer(
    prep: Prepared,
    plans: dict[str, Plan],
    units: list[UnitResult],
    /,
    *,
    sites: Mapping[str, SiteFigures] | None = None,
) -> gpd.GeoDataFrame:
    """One row per (strategy, site) with its equipment and simulated scores
    (means over replications): ``utilization``, ``energy_kwh_per_day``,
    ``sessions_charged_per_day``, ``wait_mean_min``, ``wait_p95_min``.

    ``kind`` is the candidate's kind (``parking``, ``node``, ...) at a charging site,
    ``swap`` at a battery-swap station (so the layer reads back as a plan file) and
    ``mobile`` for a mobile charging unit (a plan file refuses those rows); ``bays``,
    ``packs`` and ``pack_chargers`` are 0 at charging sites; ``swaps_per_day`` (swaps
    done), ``pack_availability`` (share of the time with a charged pack in stock),
    ``bay_wait_mean_min`` and ``pack_wait_mean_min`` (of the swaps done) are NaN at
    charging sites.

    The check of the wait target (the strategy's ``sizing``, else that section's
    defaults; docs/swap.md, "Per-station check"), at every site: ``target_wait_min``,
    ``target_max_prob``, ``p_wait_over_target`` (over the whole run, share of queued
    attempts that waited longer than the target), ``peak_hour`` (hour of day with the
    most arrivals; -1: none), ``peak_arrivals_per_day``, ``peak_wait_share`` (share of
    that hour's arrivals that waited longer than the target or balked),
    ``peak_balk_share`` (of them, those that balked) and
    ``target_met`` (``peak_wait_share <= target_max_prob``; null without arrivals).

    Parameters
    ----------
    prep, plans, units
        The study's static inputs, plans and units.
    sites
        :func:`~sim.export.summary.plan_site_figures` of the study, when already computed
        (``summary.json`` reads the same); computed here otherwise.
    """
    cands = prep.region.candidates
    if sites is None:
        sites = plan_site_figures(prep, plans, units)
    rows = [
        _plan_rows(prep, name, plan, [u for u in units if u.strategy == name], sites[name])
        for name, plan in plans.items()
        if len(plan)
    ]
    if rows:
        out = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=cands.crs)
    else:
        out = gpd.GeoDataFrame(
            {"strategy": [], "site_id": [], "ports": [], "power_kw": []},
            geometry=gpd.GeoSeries([], crs=cands.crs),
        )
    return out.to_crs(WGS84)


def _plan_rows(
    prep: Prepared, name: str, plan: Plan, mine: list[UnitResult], fig: SiteFigures, /
) -> pd.DataFrame:
    """The ``selected`` rows of one strategy's plan (:func:`selected_layer`'s columns),
    from its units ``mine`` and its site figures ``fig``."""
    days = prep.scenario.demand.days
    cands = prep.region.candidates

    def mean(key: str) -> np.ndarray:
        return np.mean([u.site_stats[key] for u in mine], axis=0)

    sub = cands.iloc[plan.candidate][["site_id", "kind", "name", "geometry"]].copy()
    sub.insert(0, "strategy", name)
    swap = plan.swap
    sub["kind"] = np.where(swap, "swap", sub["kind"].to_numpy(dtype=object))
    sub["kind"] = np.where(plan.mobile, "mobile", sub["kind"].to_numpy(dtype=object))
    sub["ports"] = plan.ports
    sub["power_kw"] = plan.power_kw
    sub["charger_class"] = list(plan.charger_class)
    sub["existing"] = plan.existing
    sub["bays"] = plan.bays
    sub["packs"] = plan.packs
    sub["pack_chargers"] = plan.pack_chargers
    sub["swaps_per_day"] = fig.swaps_per_day
    sub["pack_availability"] = fig.pack_availability
    sub["utilization"] = mean("utilization")
    sub["energy_kwh_per_day"] = mean("energy_kwh") / days
    sub["sessions_charged_per_day"] = mean("sessions_charged") / days
    sub["wait_mean_min"] = mean("wait_mean_min")
    sub["wait_p95_min"] = mean("wait_p95_min")
    sub["target_wait_min"] = fig.target.wait_min
    sub["p_wait_over_target"] = fig.p_wait_over_target
    sub["bay_wait_mean_min"] = fig.bay_wait_mean_min
    sub["pack_wait_mean_min"] = fig.pack_wait_mean_min
    sub["target_max_prob"] = fig.target.max_prob
    sub["peak_hour"] = fig.peak_hour
    sub["peak_arrivals_per_day"] = fig.peak_arrivals_per_day
    sub["peak_wait_share"] = fig.peak_wait_share
    sub["peak_balk_share"] = fig.peak_balk_share
    sub["target_met"] = pd.array(fig.target_met, dtype="boolean")
    return sub


def with_phase_built(
    selected: gpd.GeoDataFrame, plans: dict[str, Plan], built: Mapping[str, np.ndarray], /
) -> gpd.GeoDataFrame:
    """The ``selected`` layer of a phased plan's last phase with ``phase_built``: the year
    each site was built (0: an existing station, there before the first phase).

    Parameters
    ----------
    selected
        :func:`selected_layer` of the last phase's ``plans``.
    plans
        Those plans (the layer's rows are their sites, strategy by strategy).
    built
        Per strategy, the year each site of its plan was built, in plan order.
    """
    years = [np.asarray(built[n], dtype=np.int64) for n, p in plans.items() if len(p)]
    out = selected.copy()
    out["phase_built"] = np.concatenate(years) if years else np.zeros(0, np.int64)
    return out


def zones_layer(
    prep: Prepared, plans: dict[str, Plan], units: list[UnitResult], /
) -> gpd.GeoDataFrame:
    """One row per (strategy, zone): households, EVs, EVs without home charging, public
    demand (kWh/day), access time to the plan's nearest charger (min) and the share of
    the zone's sessions served (mean over replications)."""
    sc = prep.scenario
    zones = prep.region.zones
    n_z = len(zones)
    homes = prep.homes
    res = sc.demand.residential
    hh = np.bincount(
        homes.zone, weights=homes.households_apartment + homes.households_house, minlength=n_z
    )
    evs = hh * res.cars_per_household * res.ev_share
    nohome = np.bincount(homes.zone, weights=homes.evs_without_home_charging(res), minlength=n_z)
    per_day = homes.sessions_per_day(res, sessions_per_ev_day=prep.sessions_per_ev_day)
    kwh_day = np.bincount(homes.zone, weights=per_day, minlength=n_z) * prep.mean_session_kwh
    frames = []
    for name, plan in plans.items():
        if len(plan) and prep.cost_min.size:
            # access from each zone's own node: travel time from its node row if the
            # node is a demand node, else from its home points' mean.
            t = prep.cost_min[:, plan.candidate].min(axis=1)
            t_home = t[prep.home_to_demand]
            w = homes.households_apartment + homes.households_house
            tt = np.where(np.isfinite(t_home), t_home, np.nan)
            num = np.bincount(homes.zone, weights=np.nan_to_num(tt) * w, minlength=n_z)
            den = np.bincount(homes.zone, weights=np.isfinite(t_home) * w, minlength=n_z)
            access = np.divide(num, den, out=np.full(n_z, np.nan), where=den > 0)
        else:
            access = np.full(n_z, np.nan)
        served = np.full(n_z, np.nan)
        tot = np.zeros(n_z)
        ok = np.zeros(n_z)
        for u in units:
            if u.strategy != name:
                continue
            last = u.log.last_attempt()
            z = u.demand.zone[u.log.session[last]]
            good = z >= 0
            tot += np.bincount(z[good], minlength=n_z)
            ok += np.bincount(z[good], weights=(u.log.outcome[last][good] == 0), minlength=n_z)
        served = np.divide(ok, tot, out=served, where=tot > 0)
        f = zones[["zone_id", "name", "source", "geometry"]].copy()
        f.insert(0, "strategy", name)
        f["households"] = hh
        f["evs"] = evs
        f["evs_no_home"] = nohome
        f["demand_kwh_per_day"] = kwh_day
        f["access_min"] = access
        f["served_share"] = served
        frames.append(f)
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=zones.crs)
    return out.to_crs(WGS84)


def roads_layer(prep: Prepared, /) -> gpd.GeoDataFrame:
    """Road edges: ``highway``, ``length_m``, ``speed_kph``, ``travel_time_s``.

    One row per directed edge in the graph's edge order; an edge without a
    ``geometry`` is drawn straight between its end nodes (as osmnx ``graph_to_gdfs``
    with ``fill_edge_geometry``, without importing osmnx).  Read from the region's
    arrays (:attr:`~sim.region.model.Region.roads`), the straight edges in one
    vectorised call.
    """
    region = prep.region
    roads = region.roads
    crs = roads.attrs["crs"]  # the graph's, without building a generated city's graph
    geoms = np.empty(roads.u.size, dtype=object)
    straight = np.ones(roads.u.size, dtype=bool)
    if roads.geometry is not None:
        straight = np.array([g is None for g in roads.geometry.tolist()], dtype=bool)
        own = gpd.GeoSeries(roads.geometry[~straight], crs=crs).to_crs(WGS84)
        geoms[~straight] = own.to_numpy()
    if straight.any():
        # the nodes projected once (the same transformation GeoSeries.to_crs applies to
        # every vertex), then one vectorised call (per-edge LineString() took seconds at
        # 100k edges, and projecting the finished lines a second pass over them)
        to_wgs84 = pyproj.Transformer.from_crs(
            pyproj.CRS.from_user_input(crs), pyproj.CRS.from_user_input(WGS84), always_xy=True
        )
        lon, lat = to_wgs84.transform(roads.x, roads.y)
        ends = np.empty((int(straight.sum()), 2, 2))
        for k, side in enumerate((roads.u, roads.v)):
            at = np.searchsorted(roads.node_ids, side[straight])
            ends[:, k, 0], ends[:, k, 1] = lon[at], lat[at]
        geoms[straight] = shapely.linestrings(ends)
    return gpd.GeoDataFrame(
        {
            "u": pd.Series(roads.u, dtype="int64"),
            "v": pd.Series(roads.v, dtype="int64"),
            "highway": pd.Series(roads.highway, dtype=object).astype(str),
            "length_m": pd.Series(roads.length_m, dtype=float),
            "speed_kph": pd.Series(roads.speed_kph, dtype=float),
            "travel_time_s": pd.Series(roads.travel_time_s, dtype=float),
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84),
    )
