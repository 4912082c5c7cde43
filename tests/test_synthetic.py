"""The synthetic city generator: the region contract, size, connectivity, determinism,
and a whole run on a generated city."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from types import SimpleNamespace
from typing import Any

import networkx as nx
import numpy as np
import pytest
from pyproj import Transformer

from sim.config import parse_config
from sim.export.layers import roads_layer
from sim.metrics.scores import METRICS
from sim.region.gates import find_gates
from sim.region.model import BUILDING_COLUMNS, CANDIDATE_COLUMNS, ZONE_COLUMNS, Region, RoadEdges
from sim.region.synthetic import synthetic_region

LAYOUTS = ("grid", "rings")


def _city(layout: str = "grid", *, seed: int = 7, **kw: object) -> Region:
    args: dict[str, object] = {
        "layout": layout,
        "nodes": 900,
        "spacing_m": 150.0,
        "expressway": True,
        "households": 5000.0,
        "candidates": 25,
    }
    args.update(kw)
    return synthetic_region(**args, rng=np.random.default_rng(seed))  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=LAYOUTS)
def city(request: pytest.FixtureRequest) -> Region:
    return _city(request.param)


def test_region_follows_the_contract(city: Region) -> None:
    assert city.crs == "EPSG:32650" and city.graph.graph["crs"] == city.crs
    assert tuple(city.zones.columns) == ZONE_COLUMNS
    assert tuple(city.buildings.columns) == BUILDING_COLUMNS and len(city.buildings) == 0
    assert tuple(city.candidates.columns) == CANDIDATE_COLUMNS
    for frame in (city.zones, city.buildings, city.candidates):
        assert frame.crs == city.crs
    assert city.zones.geometry.is_valid.all() and (city.zones["area_m2"] > 0).all()
    assert city.zones["zone_id"].is_unique and city.candidates["site_id"].is_unique
    nodes = set(city.graph.nodes)
    assert set(city.zones["node"]) <= nodes and set(city.candidates["node"]) <= nodes
    assert (city.candidates["existing_ports"] == 0).all()
    for _, _, d in city.graph.edges(data=True):
        assert d["length"] > 0 and d["speed_kph"] > 0 and isinstance(d["highway"], str)
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    assert city.provenance["kind"] == "synthetic" and len(city.provenance["sha256"]) == 64
    assert len(city.notes) == 1 and "synthetic" in city.notes[0].lower()


def test_the_city_s_arrays_are_its_graph_s(city: Region) -> None:
    # what the travel-time network and the roads layer read instead of the graph: the
    # graph's nodes and edges, in its edge order, with the same values
    assert city.road_edges is not None and city.roads is city.road_edges
    read = RoadEdges.of_graph(city.graph)
    for f in fields(RoadEdges):
        got, want = getattr(city.road_edges, f.name), getattr(read, f.name)
        if want is None or isinstance(want, dict):
            assert got == want, f.name
            continue
        assert got.dtype == want.dtype and np.array_equal(got, want), f.name
    assert city.roads.u.size == city.graph.number_of_edges()


def test_a_generated_city_builds_its_graph_only_when_asked() -> None:
    # the travel times, the candidates and the roads layer read the arrays: a run on a
    # generated city never pays for a networkx graph it does not use
    city = _city("grid", nodes=400)
    assert city.road_graph is None and "graph" not in city.__dict__
    roads_layer(SimpleNamespace(region=city))  # type: ignore[arg-type]
    assert "graph" not in city.__dict__
    graph = city.graph  # built now, once, from the arrays
    assert graph is city.graph and graph.number_of_edges() == city.roads.u.size
    with pytest.raises(ValueError, match="road_graph"):
        replace(city, road_edges=None)


def test_the_roads_layer_is_the_same_from_the_arrays_as_from_the_graph(city: Region) -> None:
    def layer(region: Region) -> Any:
        return roads_layer(SimpleNamespace(region=region))  # type: ignore[arg-type]

    from_graph = layer(replace(city, road_graph=city.graph, road_edges=None))
    from_arrays = layer(city)
    assert len(from_arrays) == city.graph.number_of_edges()
    assert from_arrays.drop(columns="geometry").equals(from_graph.drop(columns="geometry"))
    assert (from_arrays.geometry.to_wkb() == from_graph.geometry.to_wkb()).all()


def test_city_lands_near_hefei_in_wgs84(city: Region) -> None:
    lon, lat = Transformer.from_crs(city.crs, "EPSG:4326", always_xy=True).transform(
        *city.zones.union_all().centroid.coords[0]
    )
    assert 116.5 < lon < 118.0 and 31.0 < lat < 32.5


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nodes", [400, 3000])
@pytest.mark.parametrize("expressway", [True, False])
def test_node_count_is_near_the_request(layout: str, nodes: int, expressway: bool) -> None:
    region = _city(layout, nodes=nodes, expressway=expressway, candidates=5)
    assert abs(region.graph.number_of_nodes() - nodes) <= 0.1 * nodes


def test_core_is_strongly_connected_and_holds_every_home_and_site(city: Region) -> None:
    g = city.graph
    assert nx.is_weakly_connected(g)
    assert city.core_nodes is not None
    core = set(city.core_nodes.tolist())
    assert np.array_equal(city.core_nodes, np.sort(city.core_nodes))
    assert core == max(nx.strongly_connected_components(g), key=len)
    assert set(city.zones["node"]) <= core and set(city.candidates["node"]) <= core
    # Only the motorway's stubs beyond the outermost interchanges are left out.
    streets = {n for n in g.nodes if _is_street(g, n)}
    assert streets <= core
    assert all(_on_motorway(g, n) for n in set(g.nodes) - core)


def test_without_motorway_every_node_reaches_every_other() -> None:
    region = _city("rings", expressway=False)
    assert nx.is_strongly_connected(region.graph)
    assert region.core_nodes is not None
    assert np.array_equal(region.core_nodes, np.array(sorted(region.graph.nodes)))


def test_motorway_is_faster_and_its_ends_are_gates(city: Region) -> None:
    g = city.graph
    kinds = {d["highway"] for _, _, d in g.edges(data=True)}
    assert {"motorway", "motorway_link", "primary", "residential"} <= kinds
    speed = {d["highway"]: d["speed_kph"] for _, _, d in g.edges(data=True)}
    assert speed["motorway"] == 100.0 > speed["primary"] > speed["residential"]
    # Two one-way carriageways: no motorway edge has its reverse.
    mw = {(u, v) for u, v, d in g.edges(data=True) if d["highway"] == "motorway"}
    assert mw and not any((v, u) in mw for u, v in mw)
    # Their loose ends lie outside the streets: the highway stage's gates.
    gates = find_gates(g, highways=("motorway", "trunk"))
    assert int(gates.entry.sum()) == 2 and int(gates.exit.sum()) == 2
    streets = [n for n in g.nodes if _is_street(g, n)]
    street_x = [g.nodes[n]["x"] for n in streets]
    assert all(x < min(street_x) - 1000 or x > max(street_x) + 1000 for x in gates.x)
    for entry in gates.node[gates.entry]:
        far_exit = max(
            gates.node[gates.exit], key=lambda n: abs(g.nodes[n]["x"] - g.nodes[entry]["x"])
        )
        assert nx.has_path(g, int(entry), int(far_exit))
    # Across the city, taking the motorway is quicker than the streets alone.
    west = min(streets, key=lambda n: (g.nodes[n]["x"], abs(g.nodes[n]["y"] - 3_521_000)))
    east = max(streets, key=lambda n: (g.nodes[n]["x"], -abs(g.nodes[n]["y"] - 3_521_000)))
    with_mw = nx.shortest_path_length(g, west, east, weight="travel_time")
    without = nx.shortest_path_length(g.subgraph(streets), west, east, weight="travel_time")
    assert with_mw < 0.9 * without
    services = city.candidates[city.candidates["kind"] == "services"]
    assert 1 <= len(services) <= 2


def _is_street(g: nx.MultiDiGraph, n: int) -> bool:
    return not _on_motorway(g, n)


def _on_motorway(g: nx.MultiDiGraph, n: int) -> bool:
    edges = [*g.in_edges(n, data=True), *g.out_edges(n, data=True)]
    return all(d["highway"] in ("motorway", "motorway_link") for *_, d in edges)


def test_no_expressway_means_no_motorway() -> None:
    region = _city(expressway=False)
    kinds = {d["highway"] for _, _, d in region.graph.edges(data=True)}
    assert not kinds & {"motorway", "motorway_link"}
    assert set(region.candidates["kind"]) == {"node"} and len(region.candidates) == 25


def test_households_sum_and_thin_out_from_the_centre(city: Region) -> None:
    z = city.zones
    assert z["households"].sum() == pytest.approx(5000.0)
    assert np.allclose(z["households_apartment"] + z["households_house"], z["households"])
    centre = city.zones.union_all().centroid
    dist = z.geometry.centroid.distance(centre).to_numpy()
    density = (z["households"] / z["area_m2"]).to_numpy()
    apt = (z["households_apartment"] / z["households"]).to_numpy()
    near, far = dist <= np.median(dist), dist > np.median(dist)
    assert density[near].mean() > density[far].mean()
    assert apt[near].mean() > apt[far].mean()


def test_same_seed_same_region_other_seed_other_households() -> None:
    a, b, c = _city("rings", seed=3), _city("rings", seed=3), _city("rings", seed=4)
    assert a.provenance == b.provenance and a.notes == b.notes
    assert a.zones.equals(b.zones) and a.candidates.equals(b.candidates)
    assert nx.utils.graphs_equal(a.graph, b.graph)
    assert list(a.graph.edges(keys=True, data=True)) == list(b.graph.edges(keys=True, data=True))
    assert not np.allclose(a.zones["households"], c.zones["households"])
    assert a.provenance["sha256"] != c.provenance["sha256"]


def test_end_to_end_run_on_a_tiny_synthetic_city() -> None:
    from sim.api import run

    scenario = parse_config(
        {
            "name": "synthetic-tiny",
            "seed": 11,
            "region": {"synthetic": {"nodes": 400, "households": 3000, "candidates": 30}},
            "demand": {"days": 2},
            "chargers": {"ports_per_site": 2},
            "strategies": [
                {"name": "random", "k": 5},
                {"name": "coverage-greedy", "k": 5},
            ],
            "simulation": {"replications": 2, "radius_min": 5},
            "output": {"map": False, "report": False},
        }
    )
    result = run(scenario)
    strategies = result.summary["strategies"]
    assert set(strategies) == {"random", "coverage-greedy"}
    for s in strategies.values():
        assert len(s["sites"]) == 5 and set(s["metrics"]) == set(METRICS)
        served = 1.0 - s["metrics"]["unserved_share"]["mean"]
        assert 0.0 < served <= 1.0
        assert 0.0 <= s["metrics"]["difficulty_index"]["mean"] <= 100.0
    cov = {k: v["metrics"]["coverage_share"]["mean"] for k, v in strategies.items()}
    assert cov["coverage-greedy"] >= cov["random"]
    assert len(result.sessions) > 0 and set(result.sessions["replication"]) == {0, 1}
    assert math.isfinite(result.summary["strategies"]["random"]["metrics"]["wait_mean_min"]["mean"])
    lon = result.candidates.geometry.x
    assert ((lon > 116.5) & (lon < 118.0)).all()
    # the generated city's own hash is recorded, so a changed generator shows in outputs
    recorded = result.summary["provenance"]["data_sha256"]["region:synthetic"]
    assert recorded == result.prepared.region.provenance["sha256"] and len(recorded) == 64
    # nothing of the run needed the networkx graph of the generated city
    assert "graph" not in result.prepared.region.__dict__


def test_through_traffic_enters_and_leaves_by_the_motorway_gates() -> None:
    from sim.api import run

    scenario = parse_config(
        {
            "name": "synthetic-highway",
            "seed": 5,
            "region": {"synthetic": {"nodes": 400, "households": 2000, "candidates": 20}},
            "demand": {"days": 1, "highway": {"enabled": True, "vehicles_per_hour": 500}},
            "strategies": [{"name": "coverage-greedy", "k": 4}],
            "simulation": {"replications": 1},
            "output": {"map": False, "report": False},
        }
    )
    result = run(scenario)
    gates = result.prepared.highway.ods.gates
    assert sorted(gates.name) == ["in-E-1", "in-W-1", "out-E-1", "out-W-1"]
    hw = result.sessions[result.sessions["segment"] == "highway"]
    assert len(hw) > 0 and (hw["outcome"] == "charged").any()
