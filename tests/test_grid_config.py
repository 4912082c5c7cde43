"""The ``grid`` section and the zones file's ``kva`` column: absent changes nothing, bad
values are refused with one message naming the key (or the file, row and column)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config import dump_resolved, parse_config
from sim.errors import ConfigError, DataError
from sim.region.build import build_region
from sim.region.zones_file import read_zones_file

BASE: dict[str, Any] = {"name": "g", "region": {"sample": "kotka"}}


def _with_grid(grid: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "grid": grid}


def test_absent_grid_leaves_dumps_as_before() -> None:
    sc = parse_config(BASE)
    assert sc.grid is None
    assert "grid" not in sc.model_dump() and "grid" not in json.loads(sc.model_dump_json())
    assert "\ngrid:" not in dump_resolved(sc, checksums={})


def test_an_empty_grid_section_takes_the_documented_defaults() -> None:
    g = parse_config(_with_grid({})).grid
    assert g is not None and g.control == "uncontrolled"
    assert g.transformer.loading_limit == 1.0 and g.home.charger_kw == 7.0
    assert (g.tariff.peak_cny_per_kwh, g.tariff.flat_cny_per_kwh) == (1.09, 0.67)
    assert g.tariff.valley_cny_per_kwh == 0.28 and g.tariff.service_fee_cny_per_kwh == 0.8
    # Beijing's valley is 23-7 h
    assert [h for h, b in enumerate(g.tariff.bands) if b == "valley"] == [0, 1, 2, 3, 4, 5, 6, 23]
    text = dump_resolved(parse_config(_with_grid({"control": "ordered"})), checksums={})
    assert "control: ordered" in text and "kva_per_household: 0.8" in text


@pytest.mark.parametrize(
    ("grid", "key"),
    [
        ({"control": "smart"}, "grid.control"),
        ({"transformer": {"loading_limit": 0}}, "grid.transformer.loading_limit"),
        ({"transformer": {"power_factor": 1.2}}, "grid.transformer.power_factor"),
        ({"transformer": {"kva_per_household": -1}}, "grid.transformer.kva_per_household"),
        ({"base_load": {"weekday_kw_per_household": [0.5] * 23}}, "grid.base_load.weekday"),
        ({"base_load": {"weekend_kw_per_household": [-0.1] * 24}}, "grid.base_load.weekend"),
        ({"home": {"charger_kw": 0}}, "grid.home.charger_kw"),
        ({"home": {"plug_in_prob_per_day": 0}}, "grid.home.plug_in_prob_per_day"),
        ({"home": {"departure_hourly": [0] * 24}}, "grid.home.departure_hourly"),
        ({"tariff": {"bands": ["peak"] * 23}}, "grid.tariff.bands"),
        ({"tariff": {"bands": ["cheap"] * 24}}, "grid.tariff.bands"),
        ({"tariff": {"service_fee_cny_per_kwh": -0.1}}, "grid.tariff.service_fee"),
        ({"tariff": {"flat_cny_per_kwh": 1.5}}, "grid.tariff"),
        ({"tarif": {}}, "did you mean 'tariff'"),
    ],
)
def test_bad_grid_values_name_the_key(grid: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(_with_grid(grid))


def test_a_tariff_below_the_national_peak_valley_rule_is_refused_unless_allowed() -> None:
    # Beijing's 2016 public-charger prices: 1.0044 / 0.3946 = 2.55, below 3:1
    beijing_2016 = {
        "peak_cny_per_kwh": 1.0044,
        "flat_cny_per_kwh": 0.695,
        "valley_cny_per_kwh": 0.3946,
    }
    with pytest.raises(ConfigError, match=r"grid\.tariff: .* = 2\.55 is below min_peak_valley"):
        parse_config(_with_grid({"tariff": beijing_2016}))
    allowed = {**beijing_2016, "min_peak_valley_ratio": 2.5}
    assert parse_config(_with_grid({"tariff": allowed})).grid is not None


ZONES = "name,lon,lat,households,kva\nA,26.945,60.528,800,630\nB,26.955,60.532,300,\n"


def test_zones_file_kva_reaches_the_region(tmp_path: Path) -> None:
    (tmp_path / "z.csv").write_text(ZONES, encoding="utf-8")
    sc = parse_config(
        {**BASE, "region": {"sample": "kotka", "zones_file": "z.csv", "zones_mode": "replace"}},
        base_dir=tmp_path,
    )
    region, _ = build_region(
        sc.region, candidates=sc.candidates, cars_per_household=0.5, seed=sc.seed
    )
    kva = region.zones["kva"].to_numpy(float)
    assert kva[0] == 630.0 and np.isnan(kva[1])


def test_zones_file_without_kva_adds_no_column(tmp_path: Path) -> None:
    (tmp_path / "z.csv").write_text("lon,lat,households\n26.945,60.528,800\n", encoding="utf-8")
    sc = parse_config(
        {**BASE, "region": {"sample": "kotka", "zones_file": "z.csv", "zones_mode": "replace"}},
        base_dir=tmp_path,
    )
    region, _ = build_region(
        sc.region, candidates=sc.candidates, cars_per_household=0.5, seed=sc.seed
    )
    assert "kva" not in region.zones.columns


@pytest.mark.parametrize(
    ("cell", "message"),
    [("abc", "row 2: kva = 'abc' is not a number"), ("0", "row 2: kva = 0.0 must be > 0"),
     ("-5", "row 2: kva = -5.0 must be > 0")],
)  # fmt: skip
def test_a_bad_kva_names_the_file_row_and_column(tmp_path: Path, cell: str, message: str) -> None:
    path = tmp_path / "z.csv"
    path.write_text(f"lon,lat,households,kva\n26.9,60.5,10,{cell}\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"z.csv {message}"):
        read_zones_file(path, crs="EPSG:32635")
