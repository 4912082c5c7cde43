"""map.html: offline, one layer per strategy, escaped OSM/user strings.

The pages are made from small real runs of the bundled Kotka extract
(``tests/conftest.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.api import RunResult
from sim.export.webmap import map_html, write_map
from tests.conftest import CHINESE_NAMES, EVIL, PWN, cjk_on_page, embedded_fonts, in_language


def _external_resources(html: str) -> list[str]:
    """Script and stylesheet URLs the page would fetch (should be none)."""
    found = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]([^'\"]+)", html, flags=re.I)
    found += re.findall(r"<link[^>]*\bhref\s*=\s*['\"]([^'\"]+)", html, flags=re.I)
    found += re.findall(r"url\(\s*['\"]?(?!data:|#)([^'\")]+)", html)  # #default#VML: IE only
    return found


@pytest.fixture(scope="module")
def page(small_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_map(small_run, tmp_path_factory.mktemp("map") / "map.html")


def test_map_has_a_layer_per_strategy_and_no_external_assets(
    small_run: RunResult, page: Path
) -> None:
    html = page.read_text(encoding="utf-8")
    assert page.stat().st_size < 2_000_000
    assert _external_resources(html) == []
    assert "L.map(" in html and "leafletjs.com" in html  # Leaflet is inlined, not linked
    for s in ("existing", "random", "p-median"):
        assert json.dumps(f"Strategy: {s}") in html  # one layer-control entry each
    assert "Candidate sites" in html and json.dumps("Roads") in html
    assert "© OpenStreetMap contributors" in html
    # a popup shows every score of a site
    for key in ("Utilisation", "Energy (kWh/day)", "Mean wait (min)", "Ports"):
        assert key in html
    # every chosen site of the run is on the map
    for site in small_run.typed_summary.strategies["p-median"].sites:
        assert json.dumps(site) in html


def _shown_layers(html: str) -> list[str]:
    """Layer-control names of the strategy layers that are on when the page opens."""
    names = dict(re.findall(r'"(Strategy: [^"]*)" : (feature_group_\w+)', html))
    return [n for n, var in names.items() if f"{var}.addTo(map_" in html]


def test_map_opens_on_the_strategy_with_the_lowest_difficulty(
    small_run: RunResult, page: Path
) -> None:
    s = small_run.typed_summary
    best = min(s.names, key=lambda n: s.strategies[n].metrics["difficulty_index"].mean or 1e9)
    assert best != "existing"  # the plan without sites is the hardest
    assert _shown_layers(page.read_text(encoding="utf-8")) == [f"Strategy: {best}"]


def test_map_escapes_osm_and_user_strings(hostile_run: RunResult, tmp_path: Path) -> None:
    html = write_map(hostile_run, tmp_path / "map.html").read_text(encoding="utf-8")
    assert EVIL not in html and PWN not in html
    assert "alert(1)</script>" not in html
    # a site and a zone named EVIL: escaped once for HTML, then JSON-encoded with <, >, &
    # as \\u escapes
    assert html.count("\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;") >= 2
    assert "Strategy: \\u0026lt;img src=x onerror=" in html  # the strategy's layer name


def test_map_in_chinese(small_run: RunResult, tmp_path: Path) -> None:
    html = write_map(small_run, tmp_path / "map.html", language="zh").read_text(encoding="utf-8")
    assert "候选站点" in html and "利用率" in html
    assert '<html lang="zh-CN">' in html


def test_map_language_comes_from_the_scenario(small_run: RunResult) -> None:
    assert "候选站点" in map_html(in_language(small_run, "zh"))
    assert "候选站点" not in map_html(small_run)


def test_map_rejects_an_unknown_language(small_run: RunResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language"):
        write_map(small_run, tmp_path / "map.html", language="fr")


def test_map_legend_names_the_quantity_each_colour_shows(page: Path, tmp_path: Path) -> None:
    legend = page.read_text(encoding="utf-8")
    legend = legend[legend.index('id="chargesite-legend"') :]
    legend = legend[: legend.index("</div>\n<style>")]
    for text in (
        "Zone colour: sessions not served",
        "share of the zone&#x27;s charging sessions that found no charger",
        "Site colour: port utilisation",
        "share of port time in use",
        "Circle size: ports",
    ):
        assert text in legend


def test_chinese_map_embeds_a_font_for_every_chinese_character(
    small_run: RunResult, chinese_run: RunResult
) -> None:
    for html in (map_html(in_language(small_run, "zh")), map_html(chinese_run)):
        used = cjk_on_page(html)  # labels, and names in the layers' JSON
        faces = embedded_fonts(html)
        assert used and len(faces) == 2
        for face in faces:
            assert not used - {chr(c) for c in face.getBestCmap()}
    names = map_html(chinese_run)  # an English map of a Chinese town
    assert set("".join(CHINESE_NAMES)) <= cjk_on_page(names)
    assert embedded_fonts(map_html(small_run)) == []  # nothing Chinese, nothing embedded
