"""The interactive map of a run (``map.html``): folium, working offline.

One page shows, on top of a thinned road layer:

- one toggleable layer per strategy: its residential zones shaded by charging
  difficulty (share of the zone's sessions not served) and its sites as circles sized
  by ports and coloured by utilisation, with a popup of each site's scores;
- every candidate site (small hollow circles);
- a legend, the layer control, a scale bar and the OpenStreetMap attribution.

Offline by construction: folium normally links Leaflet, jQuery, Bootstrap and icon
fonts from CDNs, and without network such a page is blank.  Here every CDN link is
removed and Leaflet 1.9.3 (the version folium 0.20 targets) is inlined from the
``xstatic-leaflet`` package (Leaflet is BSD-2-Clause); nothing on the page needs
jQuery or Bootstrap (popups are folium's ``GeoJsonPopup``, which uses plain DOM calls).
Base tiles are an optional overlay that is off by default, so no request is made
unless the reader switches it on.

Every string that comes from OpenStreetMap or the user (site, zone and strategy names,
kinds, ids) is HTML-escaped before it is handed to folium: Leaflet writes layer-control
labels, popups and tooltips with ``innerHTML``, so the escaped text is shown as text.
folium's JSON embedding additionally escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from matplotlib import colormaps
from matplotlib.colors import Colormap, to_hex

from sim.export import fonts
from sim.export.i18n import Language, label, resolve_language

if TYPE_CHECKING:
    from sim.export.result import RunResult

__all__ = [
    "DIFFICULTY_CMAP",
    "UTILISATION_CMAP",
    "build_map",
    "leaflet_assets",
    "map_html",
    "strategy_names",
    "write_map",
]

#: Colour map of zone difficulty (share of sessions not served, 0-1).
DIFFICULTY_CMAP = "YlOrRd"
#: Colour map of compounds' peak transformer loading, 0 to :data:`LOADING_FULL_SCALE` %.
LOADING_CMAP = "RdYlGn_r"
#: Peak loading (% of kVA) at the top of :data:`LOADING_CMAP` (100% sits at two thirds).
LOADING_FULL_SCALE = 150.0
#: Colour map of site utilisation (0-1).
UTILISATION_CMAP = "viridis"
#: Fill of sites by the phase they were built in (0: an existing station first),
#: a qualitative palette (matplotlib's tab10) told apart in print.
PHASE_COLOURS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#bcbd22", "#17becf")  # fmt: skip
NO_DATA_COLOUR = "#bdbdbd"
CANDIDATE_COLOUR = "#636363"

#: Decimal places of coordinates in the page (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
#: Simplification tolerance (degrees) of zone outlines and roads; ~1-2 m.
SIMPLIFY_DEG = 1.5e-5
#: Road classes, most important first.  The map draws whole classes in this order while
#: the road layer stays under :data:`ROAD_COORD_BUDGET` coordinates (it always has the
#: first class present); classes not listed come last.
ROAD_ORDER = (
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "living_street", "service",
)  # fmt: skip
ROAD_COORD_BUDGET = 30_000
ROAD_WEIGHT = {"motorway": 3.0, "trunk": 2.5, "primary": 2.2, "secondary": 1.8, "tertiary": 1.4}
#: Map panes (name, z-index, receives clicks): roads under zones under candidates under
#: sites, whatever order the layers are listed in the layer control.
PANES = (("cs-roads", 380, False), ("cs-zones", 410, True), ("cs-candidates", 430, True),
         ("cs-sites", 450, True))  # fmt: skip

_OSM_ATTRIBUTION = (
    '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


# --------------------------------------------------------------------------- assets


def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and CSS, ready to inline.

    The CSS's image references (layer-control icon, default marker) are replaced by
    ``data:`` URIs so that the page requests nothing.

    Returns
    -------
    js, css : str

    Raises
    ------
    RuntimeError
        ``xstatic-leaflet`` is not installed.
    """
    try:
        from xstatic.pkg import leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - guarded by the package's dependencies
        raise RuntimeError(
            "map.html needs Leaflet's files for offline use: pip install xstatic-leaflet"
        ) from exc
    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        file = base / match.group(1)
        if not file.is_file():
            return "url(data:,)"
        data = base64.b64encode(file.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(\s*['\"]?(images/[^'\")]+)['\"]?\s*\)", inline, css)
    return js, css


def _strip_cdn_links(root: Any) -> None:
    """Remove folium's default CDN scripts and stylesheets from every element."""
    stack = [root]
    while stack:
        el = stack.pop()
        if hasattr(el, "default_js"):
            el.default_js = []
        if hasattr(el, "default_css"):
            el.default_css = []
        stack.extend(getattr(el, "_children", {}).values())


#: Leaflet's licence, kept with the inlined copy (Leaflet is BSD-2-Clause).
LEAFLET_LICENSE = """Leaflet 1.9.3 - https://leafletjs.com
Copyright (c) 2010-2022, Vladimir Agafonkin
Copyright (c) 2010-2011, CloudMade
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:

   1. Redistributions of source code must retain the above copyright notice, this list of
      conditions and the following disclaimer.

   2. Redistributions in binary form must reproduce the above copyright notice, this list
      of conditions and the following disclaimer in the documentation and/or other materials
      provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE
GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED
AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF
ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""

_EXTERNAL = re.compile(
    r"<script[^>]*\bsrc\s*=|<link[^>]*\bhref\s*=\s*['\"](?!data:)|url\(\s*['\"]?(?!data:)",
    flags=re.IGNORECASE,
)


# --------------------------------------------------------------------------- helpers


def _esc(value: object) -> str:
    """HTML-escape a string from OSM or the user (``None``/NaN become "")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def _num(value: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return x


def _fmt(value: object, kind: str) -> str:
    """Format a number for a popup: share -> %, int, 1 or 0 decimals."""
    x = _num(value)
    if not math.isfinite(x):
        return "–"
    if kind == "share":
        return f"{100.0 * x:.0f}%"
    if kind == "int":
        return f"{round(x):,d}"
    if kind == "big":
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, COORD_DECIMALS)
    if isinstance(obj, list | tuple):
        return [_round_coords(v) for v in obj]
    if isinstance(obj, dict):  # a GeometryCollection's members
        return {k: _round_coords(v) for k, v in obj.items()}
    return obj


def _geometry(geom: Any, *, simplified: Any = None) -> dict[str, Any] | None:
    """GeoJSON of ``geom`` (``None`` when missing or empty), drawn as ``simplified``
    when given (the same geometry simplified, see :func:`_feature_collection`)."""
    if geom is None or geom.is_empty:
        return None
    shown = geom if simplified is None else simplified
    rounded: dict[str, Any] = _round_coords(dict(shown.__geo_interface__))
    return rounded


@lru_cache(maxsize=8)
def _cmap(name: str) -> Colormap:
    """The colormap ``name`` (``matplotlib.colormaps[name]`` makes a copy each time,
    and a copy builds its lookup table on first use: keep one)."""
    return colormaps[name]


def _colour(cmap: str, x: float) -> str:
    if not math.isfinite(x):
        return NO_DATA_COLOUR
    return str(to_hex(_cmap(cmap)(min(max(x, 0.0), 1.0))))


def _gradient(cmap: str, n: int = 6) -> str:
    stops = ", ".join(_colour(cmap, i / (n - 1)) for i in range(n))
    return f"linear-gradient(to right, {stops})"


def _site_radius(ports: object) -> float:
    p = _num(ports)
    return round(4.0 + 2.5 * math.sqrt(p if math.isfinite(p) and p > 0 else 1.0), 1)


def _feature_collection(
    frame: gpd.GeoDataFrame,
    props: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    simplify: bool,
) -> dict[str, Any]:
    features = []
    rows = frame.to_dict("records")
    simplified: list[Any] = [None] * len(rows)
    if simplify and len(rows):
        # one vectorised call: the same geometries as one call per row
        geoms = np.array([row.get("geometry") for row in rows], dtype=object)
        simplified = list(shapely.simplify(geoms, SIMPLIFY_DEG, preserve_topology=True))
    for i, row in enumerate(rows):
        geom = _geometry(row.get("geometry"), simplified=simplified[i])
        if geom is None:
            continue
        features.append(
            {"type": "Feature", "id": str(i), "properties": props(row), "geometry": geom}
        )
    return {"type": "FeatureCollection", "features": features}


def _popup(fields: Iterable[tuple[str, str]], language: Language) -> folium.GeoJsonPopup:
    fields = list(fields)
    return folium.GeoJsonPopup(
        fields=[f"f_{k}" for k, _ in fields],
        aliases=[_esc(label(lbl, language)) for _, lbl in fields],
        labels=True,
        localize=False,
        style="font-size: 12px;",
    )


def _difficulty(row: Mapping[str, Any]) -> float:
    """A zone's charging difficulty: share of its sessions not served (0-1)."""
    served = _num(row.get("served_share"))
    return 1.0 - served if math.isfinite(served) else math.nan


# --------------------------------------------------------------------------- layers


def _roads_layer(roads: gpd.GeoDataFrame, language: Language) -> folium.GeoJson | None:
    if roads.empty:
        return None
    hw = roads["highway"].astype(str) if "highway" in roads else pd.Series("", index=roads.index)
    cls = hw.str.removesuffix("_link").to_numpy()
    rank = {c: i for i, c in enumerate(ROAD_ORDER)}
    geoms = shapely.simplify(roads.geometry.to_numpy(), SIMPLIFY_DEG)
    merged: list[dict[str, Any]] = []
    used = 0
    for c in sorted(set(cls), key=lambda c: (rank.get(c, len(rank)), c)):
        lines = shapely.line_merge(shapely.union_all(geoms[cls == c]))
        n = int(shapely.get_num_coordinates(lines))
        if merged and used + n > ROAD_COORD_BUDGET:
            break
        merged.append({"highway": c, "geometry": lines})
        used += n
    frame = gpd.GeoDataFrame(merged, geometry="geometry", crs=roads.crs)
    data = _feature_collection(frame, lambda r: {"c": str(r["highway"])}, simplify=False)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        w = ROAD_WEIGHT.get(feature["properties"]["c"], 0.8)
        return {"color": "#8d8d8d" if w > 1 else "#b0b0b0", "weight": w, "opacity": 0.9}

    return folium.GeoJson(
        data,
        name=_esc(label("roads_layer", language)),
        style_function=style,
        interactive=False,
        smooth_factor=1.5,
        pane="cs-roads",
        control=True,
        show=True,
    )


def _candidates_layer(cands: gpd.GeoDataFrame, language: Language) -> folium.GeoJson | None:
    if cands.empty:
        return None
    fields = [
        ("site_id", "site_id"),
        ("name", "site_name"),
        ("kind", "site_kind"),
        ("rank", "rank"),
        ("sessions_per_day_in_radius", "sessions_per_day_in_radius"),
        ("households_in_radius", "households_in_radius"),
        ("selected_by", "selected_by"),
    ]
    fields = [(k, lbl) for k, lbl in fields if k in cands.columns]

    def props(row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, _ in fields:
            v = row.get(k)
            if k in ("sessions_per_day_in_radius",):
                out[f"f_{k}"] = _fmt(v, "one")
            elif k in ("households_in_radius", "rank"):
                out[f"f_{k}"] = _fmt(v, "int")
            elif k == "selected_by":
                out[f"f_{k}"] = _esc(str(v).replace(",", ", ")) if v else label("none", language)
            else:
                out[f"f_{k}"] = _esc(v) if v not in (None, "") else label("unnamed", language)
        return out

    data = _feature_collection(cands, props, simplify=False)
    return folium.GeoJson(
        data,
        name=_esc(label("candidates_layer", language)),
        marker=folium.CircleMarker(radius=3.5, weight=1.2, fill=True),
        style_function=lambda _f: {
            "color": CANDIDATE_COLOUR,
            "fillColor": "#ffffff",
            "fillOpacity": 0.9,
            "weight": 1.2,
            "radius": 3.5,
            "pane": "cs-candidates",  # folium drops a marker's pane; the style keeps it
        },
        popup=_popup(fields, language),
        tooltip=folium.GeoJsonTooltip(fields=["f_site_id"], labels=False),
        control=True,
        show=True,
    )


def _zones_geojson(zones: gpd.GeoDataFrame, language: Language) -> folium.GeoJson | None:
    if zones.empty:
        return None
    fields = [
        ("name", "zone_name"),
        ("zone_id", "zone_id"),
        ("households", "households"),
        ("evs_no_home", "evs_no_home"),
        ("demand_kwh_per_day", "demand_kwh_per_day"),
        ("access_min", "access_min"),
        ("served_share", "served_share"),
    ]
    fields = [(k, lbl) for k, lbl in fields if k in zones.columns]
    kinds = {
        "households": "int",
        "evs_no_home": "int",
        "demand_kwh_per_day": "big",
        "access_min": "one",
        "served_share": "share",
    }

    def props(row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "_fill": _colour(DIFFICULTY_CMAP, _difficulty(row)),
            "_label": _esc(row.get("name") or row.get("zone_id")),
        }
        for k, _ in fields:
            v = row.get(k)
            if k in kinds:
                out[f"f_{k}"] = _fmt(v, kinds[k])
            else:
                out[f"f_{k}"] = _esc(v) if v not in (None, "") else label("unnamed", language)
        return out

    return _zone_shapes(zones, props, fields, language, fill_opacity=0.55)


def _zone_shapes(
    zones: gpd.GeoDataFrame,
    props: Callable[[Mapping[str, Any]], dict[str, Any]],
    fields: list[tuple[str, str]],
    language: Language,
    /,
    *,
    fill_opacity: float,
) -> folium.GeoJson:
    """Zone outlines filled by each feature's ``_fill``, with a popup of ``fields`` and
    the ``_label`` as tooltip, in the zones' pane."""
    return folium.GeoJson(
        _feature_collection(zones, props, simplify=True),
        style_function=lambda f: {
            "color": "#555555",
            "weight": 0.6,
            "fillColor": f["properties"]["_fill"],
            "fillOpacity": fill_opacity,
        },
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        popup=_popup(fields, language),
        tooltip=folium.GeoJsonTooltip(fields=["_label"], labels=False),
        control=False,
        smooth_factor=1.0,
        pane="cs-zones",
    )


def _loading_geojson(zones: gpd.GeoDataFrame, language: Language) -> folium.GeoJson | None:
    """A strategy's compounds coloured by their peak transformer loading (with ``grid``:
    the zones layer has ``peak_loading_pct``); ``None`` otherwise."""
    if zones.empty or "peak_loading_pct" not in zones.columns:
        return None
    fields = [
        ("name", "zone_name"),
        ("kva", "kva"),
        ("peak_loading_pct", "peak_loading_pct"),
        ("hours_above_100pct", "hours_above_100pct"),
        ("home_energy_not_delivered_kwh", "home_energy_not_delivered_kwh"),
    ]
    fields = [(k, lbl) for k, lbl in fields if k in zones.columns]

    def props(row: Mapping[str, Any]) -> dict[str, Any]:
        peak = _num(row.get("peak_loading_pct"))
        out: dict[str, Any] = {
            "_fill": _colour(LOADING_CMAP, peak / LOADING_FULL_SCALE),
            "_label": f"{_esc(row.get('name') or row.get('zone_id'))}: {_fmt(peak, 'one')}%",
        }
        for k, _ in fields:
            v = row.get(k)
            out[f"f_{k}"] = _fmt(v, "one") if k != "name" else _esc(v or row.get("zone_id"))
        return out

    return _zone_shapes(zones, props, fields, language, fill_opacity=0.6)


#: Colour of the battery-swap stations' diamonds.
SWAP_COLOUR = "#7b1fa2"
#: A battery-swap station's symbol: a diamond (Leaflet's own div icon, no image).
_SWAP_ICON = (
    f'<div style="width:12px;height:12px;margin:2px;background:{SWAP_COLOUR};'
    'border:2px solid #000;transform:rotate(45deg);box-sizing:border-box"></div>'
)


def _swap_geojson(sites: gpd.GeoDataFrame, language: Language) -> folium.GeoJson | None:
    """A plan's battery-swap stations as diamonds, with their equipment and simulated
    swaps and pack availability in the popup."""
    if sites.empty:
        return None
    fields = [
        ("strategy", "strategy"),
        ("name", "site_name"),
        ("site_id", "site_id"),
        ("charger_class", "swap_station"),
        ("bays", "bays"),
        ("packs", "packs"),
        ("pack_chargers", "pack_chargers"),
        ("swaps_per_day", "swaps_per_day"),
        ("pack_availability", "pack_availability"),
        ("wait_mean_min", "wait_mean_min"),
    ]
    kinds = {"bays": "int", "packs": "int", "pack_chargers": "int", "swaps_per_day": "one",
             "pack_availability": "share", "wait_mean_min": "one"}  # fmt: skip

    def props(row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"_label": _esc(row.get("name") or row.get("site_id"))}
        for k, _ in fields:
            v = row.get(k)
            if k in kinds:
                out[f"f_{k}"] = _fmt(v, kinds[k])
            else:
                out[f"f_{k}"] = _esc(v) if v not in (None, "") else label("unnamed", language)
        return out

    return folium.GeoJson(
        _feature_collection(sites, props, simplify=False),
        marker=folium.Marker(icon=folium.DivIcon(html=_SWAP_ICON, icon_size=(16, 16))),
        popup=_popup(fields, language),
        tooltip=folium.GeoJsonTooltip(fields=["_label"], labels=False),
        control=False,
    )


def phase_colour(year: int, years: Sequence[int], /) -> str:
    """Fill of a site built in ``year`` among the plan's ``years`` (0: existing)."""
    built = [y for y in sorted(set(years)) if y != 0]
    if year == 0:
        return PHASE_COLOURS[0]
    return PHASE_COLOURS[1 + built.index(year) % (len(PHASE_COLOURS) - 1)]


def _sites_geojson(
    sites: gpd.GeoDataFrame, language: Language, *, years: Sequence[int] = ()
) -> folium.GeoJson | None:
    """The strategy's charging sites; with a phased plan's ``years`` (``phase_built``
    of every site), coloured by the year each was built instead of by utilisation."""
    if sites.empty:
        return None
    fields = [
        ("strategy", "strategy"),
        ("name", "site_name"),
        ("site_id", "site_id"),
        ("kind", "site_kind"),
        ("ports", "ports"),
        ("power_kw", "power_kw"),
        ("utilization", "utilization"),
        ("energy_kwh_per_day", "energy_kwh_per_day"),
        ("sessions_charged_per_day", "sessions_charged_per_day"),
        ("wait_mean_min", "wait_mean_min"),
        ("wait_p95_min", "wait_p95_min"),
        ("existing", "existing"),
        ("phase_built", "phase_built"),
    ]
    fields = [(k, lbl) for k, lbl in fields if k in sites.columns]
    kinds = {
        "ports": "int",
        "power_kw": "big",
        "utilization": "share",
        "energy_kwh_per_day": "big",
        "sessions_charged_per_day": "one",
        "wait_mean_min": "one",
        "wait_p95_min": "one",
        "phase_built": "int",
    }

    def fill(row: Mapping[str, Any]) -> str:
        if years and "phase_built" in row:
            return phase_colour(int(row["phase_built"]), years)
        return _colour(UTILISATION_CMAP, _num(row.get("utilization")))

    def props(row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "_fill": fill(row),
            "_r": _site_radius(row.get("ports")),
            "_label": _esc(row.get("name") or row.get("site_id")),
        }
        for k, _ in fields:
            v = row.get(k)
            if k in kinds:
                out[f"f_{k}"] = _fmt(v, kinds[k])
            elif k == "existing":
                out[f"f_{k}"] = label("yes" if bool(v) else "no", language)
            else:
                out[f"f_{k}"] = _esc(v) if v not in (None, "") else label("unnamed", language)
        return out

    data = _feature_collection(sites, props, simplify=False)
    return folium.GeoJson(
        data,
        marker=folium.CircleMarker(radius=6, weight=1.5, fill=True),
        style_function=lambda f: {
            "color": "#000000",
            "weight": 1.5,
            "fillColor": f["properties"]["_fill"],
            "fillOpacity": 0.95,
            "radius": f["properties"]["_r"],
            "pane": "cs-sites",  # folium drops a marker's pane; the style keeps it
        },
        popup=_popup(fields, language),
        tooltip=folium.GeoJsonTooltip(fields=["_label"], labels=False),
        control=False,
    )


def _shown_strategy(result: RunResult) -> str | None:
    """The strategy shown when the page opens: lowest mean difficulty index (the first
    strategy when none has one)."""
    best, best_v = None, math.inf
    for s in result.typed_summary.strategies.values():
        v = s.metrics["difficulty_index"].mean
        if best is None or (v is not None and v < best_v):
            best, best_v = s.name, (math.inf if v is None else v)
    return best


def strategy_names(result: RunResult, /) -> list[str]:
    """Strategies in config order."""
    return result.typed_summary.names


# --------------------------------------------------------------------------- page


class _Extras(MacroElement):
    """OSM attribution on the map's attribution control, and the page legend."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution(
                {{ this.attribution|tojson }});
            {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12]});
        {% endmacro %}
        """
    )

    def __init__(self, *, attribution: str, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "ChargesiteExtras"
        self.attribution = attribution
        self.bounds = bounds


def _phase_legend(language: Language, years: Sequence[int], /) -> str:
    """The legend's block of site colours by year built."""
    t = lambda key: html.escape(label(key, language))  # noqa: E731
    entries = "".join(
        f'  <div><span class="cs-swatch cs-round" style="background:{phase_colour(y, years)}">'
        f"</span> {t('legend_existing') if y == 0 else y}</div>\n"
        for y in sorted(set(years))
    )
    return (
        f'  <div class="cs-quantity" style="margin-top:6px">{t("legend_phases")}</div>\n'
        f'  <div class="cs-hint">{t("legend_phases_hint")}</div>\n{entries}'
    )


def _legend_html(language: Language, *, swap: bool = False, years: Sequence[int] = ()) -> str:
    """The page legend; with ``swap``, the battery-swap stations' diamond too; with a
    phased plan's ``years``, site colours by year built instead of utilisation."""
    t = lambda key: html.escape(label(key, language))  # noqa: E731
    bar = "display:block;height:10px;border:1px solid #999;margin:2px 0;"
    swap_entry = (
        f"""  <div class="cs-ports"><span style="display:inline-block;width:16px;height:16px">
    {_SWAP_ICON}</span> {t("legend_swap")}</div>
"""
        if swap
        else ""
    )
    sites_entry = (
        _phase_legend(language, years)
        if years
        else f"""  <div class="cs-quantity" style="margin-top:6px">{t("legend_sites")}</div>
  <div class="cs-hint">{t("legend_sites_hint")}</div>
  <span style="{bar}background:{_gradient(UTILISATION_CMAP)}"></span>
  <div class="cs-scale"><span>0%</span><span>100%</span></div>
"""
    )
    return f"""
<div id="chargesite-legend" class="chargesite-legend">
  <div style="font-weight:bold;margin-bottom:4px">{t("legend_title")}</div>
  <div class="cs-quantity">{t("legend_zones")}</div>
  <div class="cs-hint">{t("legend_zones_hint")}</div>
  <span style="{bar}background:{_gradient(DIFFICULTY_CMAP)}"></span>
  <div class="cs-scale"><span>0%</span><span>100%</span></div>
  <div><span class="cs-swatch" style="background:{NO_DATA_COLOUR}"></span>
    {t("legend_no_data")}</div>
{sites_entry}  <div class="cs-quantity" style="margin-top:6px">{t("legend_size")}</div>
  <div class="cs-ports">
    <svg width="90" height="28" aria-hidden="true">
      <circle cx="10" cy="14" r="{_site_radius(2)}" fill="#fff" stroke="#000"/>
      <circle cx="32" cy="14" r="{_site_radius(4)}" fill="#fff" stroke="#000"/>
      <circle cx="62" cy="14" r="{_site_radius(8)}" fill="#fff" stroke="#000"/>
    </svg>
    <span>2 · 4 · 8 {t("ports")}</span>
  </div>
  <div><span class="cs-swatch cs-round"
    style="background:#fff;border-color:{CANDIDATE_COLOUR}"></span>
    {t("legend_candidates")}</div>
{swap_entry}  <div class="cs-toggle">{t("legend_toggle")}</div>
  <div class="cs-credit">{t("map_data_credit")}</div>
</div>
<style>
  .chargesite-legend {{position:absolute;z-index:1000;right:10px;bottom:24px;width:250px;
    background:rgba(255,255,255,0.93);padding:8px 10px;border-radius:6px;font:12px/1.35
    "chargesite CJK",system-ui,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",
    "Microsoft YaHei",sans-serif;box-shadow:0 1px 5px rgba(0,0,0,0.4);}}
  .chargesite-legend .cs-scale {{display:flex;justify-content:space-between;color:#444}}
  .chargesite-legend .cs-swatch {{display:inline-block;width:12px;height:12px;
    vertical-align:middle;border:1px solid #777;margin-right:4px}}
  .chargesite-legend .cs-round {{border-radius:50%}}
  .chargesite-legend .cs-ports {{display:flex;align-items:center;gap:4px}}
  .chargesite-legend .cs-quantity {{font-weight:600}}
  .chargesite-legend .cs-hint {{color:#555;font-size:11px}}
  .chargesite-legend .cs-toggle {{margin-top:6px;color:#555;font-style:italic}}
  .chargesite-legend .cs-credit {{margin-top:4px;color:#555;font-size:11px}}
  .leaflet-container {{font-family:"chargesite CJK",system-ui,"Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",sans-serif;background:#f4f4f0}}
  .leaflet-popup-content table th {{text-align:left;padding-right:8px;font-weight:600}}
</style>
"""


def build_map(result: RunResult, /, *, language: Language = "en") -> folium.Map:
    """The folium map of a run (CDN links still attached; see :func:`map_html`).

    Parameters
    ----------
    result
        From :func:`sim.api.run`; its layers are in EPSG:4326.
    language
        ``"en"`` or ``"zh"``.
    """
    frames = [f for f in (result.zones, result.candidates, result.selected) if not f.empty]
    if frames:
        bounds_xy = np.array([f.total_bounds for f in frames])
        w, s = np.nanmin(bounds_xy[:, 0]), np.nanmin(bounds_xy[:, 1])
        e, n = np.nanmax(bounds_xy[:, 2]), np.nanmax(bounds_xy[:, 3])
    else:
        w, s, e, n = -180.0, -85.0, 180.0, 85.0
    bounds = [[round(float(s), 6), round(float(w), 6)], [round(float(n), 6), round(float(e), 6)]]
    m = folium.Map(
        location=[(s + n) / 2.0, (w + e) / 2.0],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.25,  # fit the study area tightly
    )
    for pane, z, clicks in PANES:
        m.add_child(folium.map.CustomPane(pane, z_index=z, pointer_events=clicks))
    shown = _shown_strategy(result)
    zones, sel = result.zones, result.selected
    years = sorted({int(y) for y in sel["phase_built"]}) if "phase_built" in sel else []
    for name in strategy_names(result):
        group = folium.FeatureGroup(
            name=_esc(label("strategy_layer", language, name=name)),
            show=(name == shown),
            control=True,
        )
        mine = sel[sel["strategy"].astype(str) == name]
        swap = (
            mine["kind"].astype(str) == "swap" if "kind" in mine else pd.Series(False, mine.index)
        )
        for layer in (
            _zones_geojson(zones[zones["strategy"].astype(str) == name], language),
            _sites_geojson(mine[~swap], language, years=years),
            _swap_geojson(mine[swap], language),
        ):
            if layer is not None:
                layer.add_to(group)
        group.add_to(m)
        loading = _loading_geojson(zones[zones["strategy"].astype(str) == name], language)
        if loading is not None:  # with grid: the compounds' transformers, a layer to tick
            power = folium.FeatureGroup(
                name=_esc(label("loading_layer", language, name=name)), show=False, control=True
            )
            loading.add_to(power)
            power.add_to(m)
    cands = _candidates_layer(result.candidates, language)
    if cands is not None:
        cands.add_to(m)
    roads = _roads_layer(result.roads, language)
    if roads is not None:
        roads.add_to(m)
    folium.TileLayer(
        "OpenStreetMap",
        name=_esc(label("osm_tiles", language)),
        overlay=True,
        control=True,
        show=False,
    ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_Extras(attribution=_OSM_ATTRIBUTION, bounds=bounds))
    root = m.get_root()
    any_swap = "kind" in sel and bool((sel["kind"].astype(str) == "swap").any())
    legend = _legend_html(language, swap=any_swap, years=years)
    root.html.add_child(Element(legend), name="chargesite_legend")  # type: ignore[attr-defined]
    return m


def map_html(result: RunResult, /, *, language: str | None = None) -> str:
    """The text of ``map.html``: one self-contained page, no network requests.

    Parameters
    ----------
    result
        From :func:`sim.api.run`.
    language
        ``"en"`` or ``"zh"``; default ``result.scenario.output.language``.

    Raises
    ------
    RuntimeError
        The page would still reference an external script or stylesheet (a folium
        upgrade added a CDN asset this module does not know).
    """
    lang = resolve_language(language, default=result.scenario.output.language)
    m = build_map(result, language=lang)
    root = m.get_root()
    _strip_cdn_links(root)
    js, css = leaflet_assets()
    title = html.escape(label("map_title", lang, scenario=result.typed_summary.scenario))
    root.header.add_child(Element(f"<title>{title}</title>"), name="chargesite_title")  # type: ignore[attr-defined]
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")  # type: ignore[attr-defined]
    notice = f"<!--\n{LEAFLET_LICENSE}\n-->"
    root.header.add_child(Element(f"{notice}\n<script>{js}</script>"), name="leaflet_js")  # type: ignore[attr-defined]
    page: str = root.render()
    page = page.replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', 1)
    page = _with_font(page)
    # The inlined Leaflet itself is trusted; check everything after it.
    rest = page.replace(js, "").replace(css, "")
    bad = _EXTERNAL.search(rest)
    if bad:
        raise RuntimeError(
            f"map.html would load an external resource: {rest[bad.start() : bad.start() + 120]!r}"
        )
    return page


def _with_font(page: str) -> str:
    """``page`` with the CJK font subset for its CJK characters embedded in its head.

    Leaflet writes labels, popups and tooltips from JSON strings, so ``\\uXXXX``
    escapes count as the characters they stand for.
    """
    shown = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    css = fonts.font_face_css(shown)
    if not css:
        return page
    return page.replace("</head>", f"<style>{css}</style>\n</head>", 1)


def write_map(result: RunResult, path: Path | str, /, *, language: str | None = None) -> Path:
    """Write ``map.html``: the interactive, offline map of a run.

    Parameters
    ----------
    result
        From :func:`sim.api.run` (layers in EPSG:4326).
    path
        File to write (UTF-8).
    language
        ``"en"`` or ``"zh"``; default ``result.scenario.output.language``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        ``language`` is not ``"en"`` or ``"zh"``.
    """
    path = Path(path)
    path.write_text(map_html(result, language=language), encoding="utf-8")
    return path
