"""map.html and report.html in a real browser: headless Chromium, no network.

Chromium runs with every host name resolving to nothing, so a page that still needed
a CDN would render without Leaflet here.  Each test checks that no script error was
logged, that the JavaScript-built DOM has what a reader needs (Leaflet's layer control
with one entry per strategy, popups, the comparison table, decoded images), and saves
a screenshot in the test's tmp dir.  The pages come from small real runs of the bundled
Kotka extract (``tests/conftest.py``).  Skipped when Chromium is not installed (Debian:
``apt-get install -y chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sim.api import RunResult
from sim.export.report import write_report
from sim.export.webmap import write_map
from tests.conftest import PWN, cjk_on_page, embedded_fonts, in_language

BROWSER = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium not installed (apt-get install -y chromium)"
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no CDN could answer
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
)


def chromium(page: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Run headless Chromium on ``page``; return stdout and the page's console lines."""
    assert BROWSER is not None
    with tempfile.TemporaryDirectory(prefix="chargesite-chromium-") as profile:
        proc = subprocess.run(
            [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
    # Chromium logs every console message and uncaught error as "...:CONSOLE(...)";
    # D-Bus and GPU noise on stderr is not from the page.
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def with_probe(page: Path, script: str) -> Path:
    """A copy of ``page`` that runs ``script`` after load (to inspect the live DOM)."""
    probe = page.with_name(page.stem + ".probe.html")
    html = page.read_text(encoding="utf-8")
    tag = f"<script>window.addEventListener('load', function () {{ {script} }});</script>"
    probe.write_text(html.replace("</html>", tag + "\n</html>"), encoding="utf-8")
    return probe


def screenshot(
    page: Path, png: Path, *, size: str = "1200,900", env: dict[str, str] | None = None
) -> None:
    _, console = chromium(page, f"--screenshot={png}", f"--window-size={size}", env=env)
    assert console == []
    assert png.is_file() and png.stat().st_size > 5_000
    from PIL import Image

    with Image.open(png) as im:
        colours = im.convert("RGB").resize((120, 90)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 20, "screenshot looks blank"


# Switch every layer on through the layer control, open one site's popup the way a
# click would, and mark the page when done.
OPEN_POPUP = """
document.querySelectorAll('.leaflet-control-layers-selector').forEach(function (box) {
  if (!box.checked && box.parentNode.textContent.indexOf('OpenStreetMap') < 0) box.click();
});
var map = Object.keys(window).map(function (k) { return window[k]; })
  .filter(function (v) { return v instanceof L.Map; })[0];
var done = false;
map.eachLayer(function (layer) {
  if (!done && layer.feature && layer.feature.properties.f_utilization !== undefined) {
    layer.fire('click', {latlng: layer.getLatLng()}, true);  // propagate like a real click
    done = true;
  }
});
document.documentElement.dataset.probe = done ? 'popup' : 'no-site';
"""


def test_map_renders_offline_with_a_layer_per_strategy(
    hostile_run: RunResult, tmp_path: Path
) -> None:
    # strategies: existing, one named PWN (on a site and near a compound named EVIL), p-median
    assert PWN in hostile_run.typed_summary.strategies
    page = write_map(hostile_run, tmp_path / "map.html")
    dom, console = chromium(page, "--dump-dom")
    assert console == [], console
    assert "leaflet-control-layers-overlays" in dom  # Leaflet ran, offline
    overlays = dom[dom.index("leaflet-control-layers-overlays") :]
    labels = re.findall(r"<span> ([^<]*)</span>", overlays)
    for s in ("Strategy: existing", "Strategy: p-median", "Candidate sites", "Roads"):
        assert s in labels
    assert "Strategy: &lt;img src=x onerror=" in dom  # the hostile name shown as text
    assert "data-pwned" not in dom
    assert dom.count('class="leaflet-interactive"') > 10  # zones and markers drawn
    assert "OpenStreetMap</a> contributors" in dom

    probe_dom, console = chromium(with_probe(page, OPEN_POPUP), "--dump-dom")
    assert console == [], console
    assert 'data-probe="popup"' in probe_dom
    popup = probe_dom[probe_dom.index('<div class="leaflet-popup-content"') :]
    popup = popup[: popup.index("</table>")]
    for text in ("Utilisation", "Energy (kWh/day)", "Mean wait (min)", "Ports"):
        assert text in popup
    assert "data-pwned" not in probe_dom and "<script>alert" not in probe_dom
    screenshot(page, tmp_path / "map.png")


def test_map_in_chinese_renders(small_run: RunResult, tmp_path: Path) -> None:
    page = write_map(in_language(small_run, "zh"), tmp_path / "map_zh.html")
    dom, console = chromium(page, "--dump-dom")
    assert console == [], console
    assert "方案：p-median" in dom and "候选站点" in dom
    screenshot(page, tmp_path / "map_zh.png")


IMAGES_OK = """
var imgs = Array.prototype.slice.call(document.images);
var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
document.documentElement.dataset.images = ok + '/' + imgs.length;
"""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_report_renders_offline(hostile_run: RunResult, tmp_path: Path, language: str) -> None:
    page = write_report(in_language(hostile_run, language), tmp_path / f"report_{language}.html")
    dom, console = chromium(with_probe(page, IMAGES_OK), "--dump-dom")
    assert console == [], console
    found = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert found and found.group(1) == found.group(2) != "0"  # every figure decoded
    assert 'id="comparison-table"' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the site named EVIL, as text
    assert "data-pwned" not in dom
    screenshot(page, tmp_path / f"report_{language}.png", size="1200,2400")


# --------------------------------------------------------------------------- no CJK fonts


def without_cjk_fonts(folder: Path) -> dict[str, str]:
    """An environment where Chromium sees only matplotlib's DejaVu fonts (fontconfig
    reads this config and a fresh cache instead of the system's), so Chinese can come
    only from the page."""
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{dejavu}</dir>\n  <cachedir>{folder / 'fc-cache'}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(config), "XDG_CACHE_HOME": str(folder)}
    if shutil.which("fc-list"):
        listed = subprocess.run(
            ["fc-list", ":lang=zh"], env=env, capture_output=True, text=True, timeout=60
        )
        assert listed.stdout.strip() == "", "a CJK system font is still visible"
    return env


# Mark the page with how many embedded CJK faces the browser loaded for its Chinese text.
FONTS_LOADED = """
var han = new RegExp('[' + String.fromCharCode(0x4e00) + '-' + String.fromCharCode(0x9fff)
                     + ']+', 'g');  // no CJK in this script's own text
var text = document.body.innerText.match(han) || [];
document.fonts.load('16px "chargesite CJK"', text.join('')).then(function (faces) {
  var loaded = Array.prototype.filter.call(faces, function (f) {
    return f.status === 'loaded';
  });
  document.documentElement.dataset.cjkFaces = loaded.length + '/' + text.length;
});
"""


def _check_chinese_page(page: Path, env: dict[str, str]) -> str:
    """The page's Chinese is drawn with its embedded font; returns the live DOM."""
    dom, console = chromium(with_probe(page, FONTS_LOADED), "--dump-dom", env=env)
    assert console == [], console
    found = re.search(r'data-cjk-faces="(\d+)/(\d+)"', dom)
    assert found and int(found.group(1)) >= 1 and int(found.group(2)) > 0, found
    used = cjk_on_page(dom)  # after Leaflet built the layer control and legend
    assert len(used) > 20
    faces = embedded_fonts(page.read_text(encoding="utf-8"))
    assert faces
    for face in faces:
        missing = used - {chr(c) for c in face.getBestCmap()}
        assert not missing, "".join(sorted(missing))
    return dom


def test_chinese_report_renders_without_system_cjk_fonts(
    small_run: RunResult, tmp_path: Path
) -> None:
    env = without_cjk_fonts(tmp_path)
    page = write_report(in_language(small_run, "zh"), tmp_path / "report_zh.html")
    _check_chinese_page(page, env)
    shot = tmp_path / "report_zh.png"
    screenshot(page, shot, size="1200,900", env=env)
    # control: the same page without its font shows boxes, a different picture
    html = page.read_text(encoding="utf-8")
    bare = tmp_path / "report_zh_bare.html"
    bare.write_text(re.sub(r"@font-face\{[^}]*\}", "", html), encoding="utf-8")
    assert embedded_fonts(bare.read_text(encoding="utf-8")) == []
    bare_shot = tmp_path / "report_zh_bare.png"
    screenshot(bare, bare_shot, size="1200,900", env=env)
    from PIL import Image, ImageChops

    with Image.open(shot) as a, Image.open(bare_shot) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None


def test_chinese_map_renders_without_system_cjk_fonts(small_run: RunResult, tmp_path: Path) -> None:
    env = without_cjk_fonts(tmp_path)
    page = write_map(in_language(small_run, "zh"), tmp_path / "map_zh.html")
    dom = _check_chinese_page(page, env)
    assert "方案：p-median" in dom
    screenshot(page, tmp_path / "map_zh.png", env=env)
