"""The on-disk cache of built objects (:func:`sim.study.cache.cached_on_disk`), and the
region it keeps: read back from disk it is the region that was built."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.api import run
from sim.config import parse_config
from sim.region import Region
from sim.region.build import build_region
from sim.study import cache
from sim.study.cache import MEMORY, cached_on_disk, content_key, disk_path
from tests.conftest import SMALL


class Counter:
    """A build function that counts its calls."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return copy.deepcopy(self.value)


def test_miss_builds_and_stores_hit_reads(tmp_path: Path) -> None:
    build = Counter({"a": np.arange(5), "b": "text"})
    first = cached_on_disk("thing", "k1", build, directory=tmp_path)
    path = disk_path("thing", "k1", directory=tmp_path)
    assert build.calls == 1 and path.is_file() and path.parent == tmp_path / "things"
    second = cached_on_disk("thing", "k1", build, directory=tmp_path)
    assert build.calls == 1  # read from disk, not built
    assert second["b"] == first["b"] and np.array_equal(second["a"], first["a"])
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_other_key_or_kind_is_another_file(tmp_path: Path) -> None:
    paths = {
        disk_path("thing", "k1", directory=tmp_path),
        disk_path("thing", "k2", directory=tmp_path),
        disk_path("other", "k1", directory=tmp_path),
    }
    assert len(paths) == 3
    build = Counter(1)
    cached_on_disk("thing", "k1", build, directory=tmp_path)
    cached_on_disk("thing", "k2", build, directory=tmp_path)
    assert build.calls == 2


def test_format_version_is_part_of_the_name(tmp_path: Path, monkeypatch: Any) -> None:
    before = disk_path("region", "k", directory=tmp_path)
    monkeypatch.setattr(cache, "DISK_FORMAT", cache.DISK_FORMAT + 1)
    assert disk_path("region", "k", directory=tmp_path) != before


def test_code_of_the_stage_is_part_of_the_name(tmp_path: Path) -> None:
    # the region's name hashes the region and config packages' source, not the export's
    region_parts = cache.DISK_CODE["region"]
    assert "sim/region" in region_parts and "sim/config" in region_parts
    assert not any(p.startswith("sim/export") for p in region_parts)
    assert cache._code_hash(("sim/region",)) != cache._code_hash(("sim/config",))


@pytest.mark.parametrize(
    "damage",
    [
        b"",  # empty
        b"not a pickle at all",
        pickle.dumps({"format": -1, "kind": "thing", "key": "k1", "value": 0}),  # old format
        pickle.dumps([1, 2, 3]),  # not an entry
    ],
)
def test_unreadable_file_is_built_again(tmp_path: Path, damage: bytes) -> None:
    build = Counter({"x": 7})
    path = disk_path("thing", "k1", directory=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(damage)
    assert cached_on_disk("thing", "k1", build, directory=tmp_path) == {"x": 7}
    assert build.calls == 1
    assert cached_on_disk("thing", "k1", build, directory=tmp_path) == {"x": 7}
    assert build.calls == 1  # the damaged file was replaced


def test_truncated_file_is_built_again(tmp_path: Path) -> None:
    build = Counter({"x": np.zeros(1000)})
    cached_on_disk("thing", "k1", build, directory=tmp_path)
    path = disk_path("thing", "k1", directory=tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    value = cached_on_disk("thing", "k1", build, directory=tmp_path)
    assert build.calls == 2 and value["x"].shape == (1000,)


def test_unwritable_folder_only_costs_a_build(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    build = Counter(3)
    assert cached_on_disk("thing", "k", build, directory=blocker) == 3
    assert cached_on_disk("thing", "k", build, directory=blocker) == 3
    assert build.calls == 2


def test_no_directory_builds_every_time() -> None:
    build = Counter(3)
    cached_on_disk("thing", "k", build, directory=None)
    cached_on_disk("thing", "k", build, directory=None)
    assert build.calls == 2


def _same_region(a: Region, b: Region) -> None:
    assert list(a.graph.nodes(data=True)) == list(b.graph.nodes(data=True))
    ea = list(a.graph.edges(keys=True, data=True))
    eb = list(b.graph.edges(keys=True, data=True))
    assert [e[:3] for e in ea] == [e[:3] for e in eb]
    for (_, _, _, da), (_, _, _, db) in zip(ea, eb, strict=True):
        assert list(da) == list(db)
        for k in ("length", "speed_kph", "travel_time", "highway"):
            assert da[k] == db[k]
    assert a.graph.graph["crs"] == b.graph.graph["crs"]
    for name in ("zones", "buildings", "candidates"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).crs == getattr(b, name).crs
    assert a.notes == b.notes and a.provenance == b.provenance and a.crs == b.crs
    assert np.array_equal(a.core_nodes, b.core_nodes)


def test_region_read_back_is_the_region_built(tmp_path: Path) -> None:
    sc = parse_config(SMALL)

    def build() -> tuple[Region, dict[str, str]]:
        return build_region(sc.region, candidates=sc.candidates, cars_per_household=0.5, seed=0)

    key = content_key("region", sc.region, sc.candidates, 0.5, None, [None, None, None])
    built, sums = cached_on_disk("region", key, build, directory=tmp_path)
    read, read_sums = cached_on_disk(
        "region", key, lambda: pytest.fail("read from disk"), directory=tmp_path
    )
    assert read_sums == sums
    _same_region(built, read)


def test_second_run_reads_the_region_from_disk_and_gives_the_same_results(
    tmp_path: Path,
) -> None:
    """End to end: ``sim.study.prepare._region`` keeps regions with
    :func:`cached_on_disk` under ``region.cache_dir``."""
    config = copy.deepcopy(SMALL)
    config["region"]["cache_dir"] = str(tmp_path / "cache")
    config["simulation"]["replications"] = 1
    sc = parse_config(config)
    MEMORY.clear()
    first = run(sc)
    files = list((tmp_path / "cache" / "regions").glob("*.pkl"))
    assert len(files) == 1
    MEMORY.clear()  # a new process: only the disk cache is left
    stamp = files[0].stat().st_mtime_ns
    second = run(sc)
    assert files[0].stat().st_mtime_ns == stamp  # read, not written again
    assert second.summary == first.summary
    pd.testing.assert_frame_equal(second.sessions, first.sessions)
    pd.testing.assert_frame_equal(
        pd.DataFrame(second.selected.drop(columns="geometry")),
        pd.DataFrame(first.selected.drop(columns="geometry")),
    )
    MEMORY.clear()
