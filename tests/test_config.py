"""Scenario YAML: validation messages a user reads, defaults, resolved output, reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.config import dump_resolved, load_config, parse_config, reference_markdown
from sim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    return str(exc.value)


def test_default_config_loads_with_every_section() -> None:
    sc = load_config(ROOT / "configs" / "default.yaml")
    assert sc.region.sample == "kotka"
    assert [s.name for s in sc.strategies][:3] == ["existing", "random", "coverage-greedy"]
    assert sc.simulation.replications >= 2


def test_misspelt_key_names_path_and_suggests(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nregion: {sample: kotka}\ndemand:\n  residentail: {}\n")
    assert "demand" in msg and "'residentail'" in msg and "did you mean 'residential'" in msg
    assert str(tmp_path / "s.yaml") in msg


def test_out_of_range_value_names_key_value_and_bound(tmp_path: Path) -> None:
    msg = _error(
        tmp_path, "name: x\nregion: {sample: kotka}\ndemand: {residential: {ev_share: 1.5}}\n"
    )
    assert "demand.residential.ev_share = 1.5" in msg and "less than or equal to 1" in msg


def test_wrong_type_in_a_list_entry(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nregion: {sample: kotka}\nstrategies: [{name: a, k: five}]\n")
    assert "strategies.0.k = 'five'" in msg and "integer" in msg


def test_region_needs_exactly_one_source(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nregion: {sample: kotka, place: Kotka}\n")
    assert "region" in msg and "exactly one of sample, file, place, bbox" in msg
    msg = _error(tmp_path, "name: x\nregion: {}\n")
    assert "got none" in msg


def test_missing_region_file_is_reported_with_key(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nregion: {file: nowhere.osm.pbf}\n")
    assert "region.file = 'nowhere.osm.pbf'" in msg and "file not found" in msg


def test_relative_file_resolved_against_yaml_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.osm").write_text("<osm/>")
    sc = load_config(_write(tmp_path, "name: x\nregion: {file: data/x.osm}\n"))
    assert sc.region.file == (tmp_path / "data" / "x.osm").resolve()


def test_duplicate_key_and_bad_yaml(tmp_path: Path) -> None:
    msg = _error(tmp_path, "name: x\nname: y\nregion: {sample: kotka}\n")
    assert "given twice" in msg and "line 2" in msg
    msg = _error(tmp_path, "name: [unclosed\n")
    assert "not valid YAML" in msg


def test_unknown_charger_class_and_duplicate_strategy(tmp_path: Path) -> None:
    msg = _error(
        tmp_path,
        "name: x\nregion: {sample: kotka}\nstrategies: [{name: a, charger_class: dc999}]\n",
    )
    assert "strategies.0.charger_class" in msg and "'dc999'" in msg
    msg = _error(tmp_path, "name: x\nregion: {sample: kotka}\nstrategies: [{name: a}, {name: a}]\n")
    assert "repeated" in msg and "'a'" in msg


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")


def test_resolved_yaml_has_every_default_and_round_trips(tmp_path: Path) -> None:
    sc = parse_config({"name": "x", "seed": 7, "region": {"sample": "kotka"}})
    text = dump_resolved(sc, checksums={"region:sample": "abc"})
    data = yaml.safe_load(text)
    assert data["seed"] == 7
    assert data["demand"]["residential"]["ev_share"] == sc.demand.residential.ev_share
    assert data["provenance"]["data_sha256"] == {"region:sample": "abc"}
    data.pop("provenance")
    again = parse_config(data)
    assert again == sc


def test_reference_is_generated_from_the_model_and_committed() -> None:
    text = reference_markdown()
    for key in ("demand.residential.ev_share", "simulation.replications", "region.sample"):
        assert f"`{key}`" in text
    committed = (ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    assert committed == text + "\n", "docs/config-reference.md is stale: run `chargesite reference`"
