"""Figures of the report (matplotlib, Agg backend, PNG bytes).

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`; :func:`png` turns
one into PNG bytes.  Figures are made without :mod:`matplotlib.pyplot` (no global
figure manager to register with and close, no backend switch for a notebook that
imports this module, and a lighter import); ``savefig`` draws them on the Agg canvas.
The statistics behind the time-of-day figures are separate functions
(:func:`queue_by_hour`, :func:`utilisation_by_hour`) so that they can be tested and
reused.

Chinese labels and names are drawn with the CJK font that comes with the program
(:mod:`sim.export.fonts`), never a system font, inside :func:`figure_style`; without the
font package :func:`figure_language` falls back to English labels, so that a figure
never shows empty boxes in place of characters.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath

from sim.export import fonts, forked
from sim.export.forked import Forked, can_fork
from sim.export.i18n import Language, all_labels, label
from sim.export.summary import Summary, SweepSummary

__all__ = [
    "figure_language",
    "figure_style",
    "phase_figure",
    "phase_frame",
    "png",
    "pngs",
    "queue_by_hour",
    "queue_figure",
    "queue_timeline_figure",
    "static_map_figure",
    "sweep_figure",
    "sweep_frame",
    "utilisation_by_hour",
    "utilisation_figure",
    "wait_figure",
]

DPI = 100
DIFFICULTY_CMAP = "YlOrRd"
UTILISATION_CMAP = "viridis"
NO_DATA_COLOUR = "#bdbdbd"
#: zlib level of the PNGs: the same pixels; level 1 encodes the report's figures about
#: twice as fast as the default 6, and as small (their large flat areas compress well).
PNG_COMPRESS_LEVEL = 1


# --------------------------------------------------------------------------- fonts


def figure_language(language: Language, /) -> Language:
    """The language figures can be labelled in: ``"zh"`` only if the packaged CJK font
    is installed (:func:`sim.export.fonts.font_path`)."""
    if language == "zh" and fonts.font_path() is None:
        return "en"
    return language


@contextmanager
def figure_style(language: Language, /, *, text: str = "") -> Iterator[Language]:
    """Matplotlib settings for the report's figures; yields the figure language.

    The packaged CJK font (:func:`sim.export.fonts.matplotlib_family`), cut down to the
    Chinese labels (in ``"zh"``) and the CJK characters of ``text``, follows DejaVu Sans
    in ``font.family``: matplotlib takes each glyph from the first font that has it, so
    Latin text looks as before and Chinese labels and names render, in either language.

    Parameters
    ----------
    language
        ``"en"`` or ``"zh"``.
    text
        Every user string the figures will draw (strategy, site and zone names).
    """
    lang = figure_language(language)
    rc: dict[Any, Any] = {
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    chars = fonts.cjk_chars(text, all_labels(lang))
    family = fonts.matplotlib_family(chars) if chars else None
    if family is not None:
        rc["font.family"] = ["DejaVu Sans", family]
    with matplotlib.rc_context(rc):
        yield lang


def plain(text: object, /) -> str:
    """A user string safe for matplotlib text (``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def png(fig: Figure, /) -> bytes:
    """PNG bytes of ``fig`` (drawn on the Agg canvas; nothing to close)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None},
                pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})  # fmt: skip
    return buf.getvalue()


#: Seconds to wait for the forked process of :func:`pngs` before drawing its figures here.
FORK_TIMEOUT_S = forked.FORK_TIMEOUT_S


def _can_fork() -> bool:
    """Figures may be drawn in a forked process: on Linux, with more than one core."""
    return can_fork()


def pngs(
    here: Sequence[Callable[[], Figure]], there: Sequence[Callable[[], Figure]], /
) -> tuple[list[bytes], list[bytes]]:
    """PNG bytes of the figures of ``here`` and ``there`` (each a function that makes one
    figure), in order: ``there`` is drawn in a forked copy of this process while this
    one draws ``here``, when the machine has a spare core (:class:`Forked`).

    The bytes are those of :func:`png` of each figure drawn in turn (the child is a copy
    of this process, matplotlib settings included: call it inside
    :func:`figure_style`).  Without fork (not Linux, one core), or if the child fails
    or takes longer than :data:`FORK_TIMEOUT_S`, ``there`` is drawn here.
    """

    def draw(makers: Sequence[Callable[[], Figure]]) -> list[bytes]:
        return [png(make()) for make in makers]

    if not there or not _can_fork():
        return draw(here), draw(there)

    def whole(value: object) -> bool:
        return isinstance(value, list) and len(value) == len(there)

    with Forked(lambda: draw(there), timeout_s=FORK_TIMEOUT_S, accept=whole) as pending:
        mine = draw(here)
        return mine, pending.result()


def _figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained layout (as pyplot makes
    it: the dpi and colours of the rc settings in force)."""
    return Figure(figsize=(width, height), layout="constrained")


def _new(width: float, height: float) -> tuple[Figure, Any]:
    fig = _figure(width, height)
    return fig, fig.subplots()


def _message(fig: Figure, ax: Any, text: str) -> Figure:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    return fig


# --------------------------------------------------------------------------- statistics


def _occupancy(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Integral (min) of the number of open intervals over each bin of ``edges``.

    Intervals are ``[start, end)``; O(n log n) by sorted cumulative sums.
    """
    ok = np.isfinite(start) & np.isfinite(end) & (end > start)
    a = np.sort(start[ok])
    b = np.sort(end[ok])
    ca = np.concatenate([[0.0], np.cumsum(a)])
    cb = np.concatenate([[0.0], np.cumsum(b)])
    na = np.searchsorted(a, edges, side="right")
    nb = np.searchsorted(b, edges, side="right")
    g = (na * edges - ca[na]) - (nb * edges - cb[nb])  # cumulative occupancy at each edge
    return np.diff(g)


def _by_hour(start: np.ndarray, end: np.ndarray, *, days: int, replications: int) -> np.ndarray:
    """Mean number of open intervals in each hour of the day (24 values)."""
    horizon = days * 1440.0
    edges = np.arange(0.0, horizon + 1.0, 60.0)
    occ = _occupancy(np.clip(start, 0, horizon), np.clip(end, 0, horizon), edges)
    per_hour = occ.reshape(days, 24).sum(axis=0)
    return per_hour / (60.0 * days * max(replications, 1))


def _station_groups(sessions: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    if sessions.empty or "station_id" not in sessions:
        return
    st = sessions["station_id"].astype(str)
    frame = sessions.assign(_strategy=sessions["strategy"].astype(str), _station=st)
    frame = frame[frame["_station"] != ""]
    for (strategy, station), g in frame.groupby(["_strategy", "_station"], sort=False):
        yield str(strategy), str(station), g


def queue_by_hour(sessions: pd.DataFrame, /, *, days: int, replications: int) -> pd.DataFrame:
    """Mean queue length of each station by hour of day.

    The queue is rebuilt from the session log: an attempt that joined a station's queue
    (``wait_min`` finite) waits from ``arrival_min`` to ``arrival_min + wait_min``
    (charging start, or leaving for a reneged attempt); balked attempts never queue.

    Parameters
    ----------
    sessions
        The ``sessions`` table (:func:`sim.api.run`).
    days, replications
        Simulated days per replication and number of replications.

    Returns
    -------
    DataFrame
        Columns ``strategy``, ``station_id``, ``hour`` (0-23), ``queue_mean``
        (vehicles waiting, mean over days and replications).
    """
    rows: list[dict[str, Any]] = []
    for strategy, station, g in _station_groups(sessions):
        a = g["arrival_min"].to_numpy(dtype=float)
        w = g["wait_min"].to_numpy(dtype=float)
        q = _by_hour(a, a + w, days=days, replications=replications)
        rows.extend(
            {"strategy": strategy, "station_id": station, "hour": h, "queue_mean": q[h]}
            for h in range(24)
        )
    return pd.DataFrame(rows, columns=["strategy", "station_id", "hour", "queue_mean"])


def utilisation_by_hour(
    sessions: pd.DataFrame,
    selected: pd.DataFrame,
    /,
    *,
    days: int,
    replications: int,
) -> pd.DataFrame:
    """Port utilisation of each station by hour of day.

    Parameters
    ----------
    sessions
        The ``sessions`` table; charging runs from ``start_min`` to ``end_min``.
    selected
        The ``selected`` layer (``strategy``, ``site_id``, ``ports``).
    days, replications
        Simulated days per replication and number of replications.

    Returns
    -------
    DataFrame
        Columns ``strategy``, ``station_id``, ``hour``, ``utilization`` (0-1, busy
        ports / ports, mean over days and replications).
    """
    ports: dict[tuple[str, str], float] = {}
    if selected is not None and not selected.empty:
        for s, site, p in zip(
            selected["strategy"].astype(str),
            selected["site_id"].astype(str),
            selected["ports"].astype(float),
            strict=True,
        ):
            ports[(s, site)] = p
    busy: dict[tuple[str, str], np.ndarray] = {}
    for strategy, station, g in _station_groups(sessions):
        charged = g["outcome"].astype(str) == "charged"
        busy[(strategy, station)] = _by_hour(
            g.loc[charged, "start_min"].to_numpy(dtype=float),
            g.loc[charged, "end_min"].to_numpy(dtype=float),
            days=days,
            replications=replications,
        )
    rows: list[dict[str, Any]] = []
    for key in ports or busy:
        b = busy.get(key, np.zeros(24))
        p = ports.get(key, math.nan)
        u = b / p if p and math.isfinite(p) else np.full(24, math.nan)
        rows.extend(
            {"strategy": key[0], "station_id": key[1], "hour": h, "utilization": u[h]}
            for h in range(24)
        )
    return pd.DataFrame(rows, columns=["strategy", "station_id", "hour", "utilization"])


def sweep_frame(summary: SweepSummary | Mapping[str, Any], /) -> pd.DataFrame | None:
    """The difficulty index against the first swept value, or ``None`` without one.

    ``summary`` is :attr:`sim.export.result.SweepResult.typed_summary` (or the sweep's
    ``summary.json`` content, read with :meth:`SweepSummary.from_dict`).

    A second (third, ...) swept key is folded into the strategy label
    (``"p-median (strategies.1.k=2)"``), so each line of :func:`sweep_figure` is one
    strategy at fixed other values.

    Returns
    -------
    DataFrame or None
        Columns ``key`` (the first swept key), ``value``, ``strategy``, ``mean``,
        ``lo``, ``hi`` (difficulty index, 0-100, and its 95% interval; NaN where
        missing), ``no_chargers`` (the plan has no public chargers at that point); rows
        without a mean are left out.
    """
    if not isinstance(summary, SweepSummary):
        summary = SweepSummary.from_dict(summary)
    if not summary.keys:
        return None
    key, facets = summary.keys[0], summary.keys[1:]
    records = []
    for r in summary.rows:
        d = r.metrics["difficulty_index"]
        if d.mean is None:
            continue
        lo, hi = d.ci95
        records.append(
            {
                "key": key,
                "value": r.values[key],
                "strategy": r.strategy + "".join(f" ({f}={r.values[f]})" for f in facets),
                "mean": d.mean,
                "lo": math.nan if lo is None else lo,
                "hi": math.nan if hi is None else hi,
                "no_chargers": r.sites == 0,
            }
        )
    return pd.DataFrame(records) if records else None


# --------------------------------------------------------------------------- figures


def _horizontal() -> dict[str, Any]:
    """Keyword for a horizontal box plot (``vert`` is deprecated from matplotlib 3.10)."""
    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _colours(names: Sequence[str]) -> dict[str, Any]:
    cmap = matplotlib.colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _strategy_label(name: str, *, bare: Collection[str], language: Language) -> str:
    """A strategy's name, tagged when its plan has no public chargers."""
    if name in bare:
        return f"{plain(name)} ({label('no_public_chargers', language)})"
    return plain(name)


def wait_figure(
    sessions: pd.DataFrame,
    strategies: Sequence[str],
    /,
    *,
    no_chargers: Collection[str] = (),
    language: Language,
) -> Figure:
    """Box plot of queue waits (min) per strategy (attempts that joined a queue).

    Strategies in ``no_chargers`` (plans without public chargers, where nobody queues)
    are labelled so.
    """
    fig, ax = _new(7.5, 0.6 + 0.45 * max(len(strategies), 1))
    if sessions.empty:
        return _message(fig, ax, label("no_data", language))
    queued = sessions[np.isfinite(sessions["wait_min"].to_numpy(dtype=float))]
    queued = queued[queued["station_id"].astype(str) != ""]
    data = [
        queued.loc[queued["strategy"].astype(str) == s, "wait_min"].to_numpy(dtype=float)
        for s in strategies
    ]
    pos = np.arange(len(strategies))[::-1]
    have = [i for i, d in enumerate(data) if d.size]
    if have:
        ax.boxplot(
            [data[i] for i in have],
            positions=pos[have],
            **_horizontal(),
            whis=(5, 95),
            showfliers=False,
            showmeans=True,
            widths=0.6,
            patch_artist=True,
            boxprops={"facecolor": "#c6dbef", "edgecolor": "#08519c"},
            medianprops={"color": "#08519c"},
            meanprops={"marker": "D", "markerfacecolor": "#d94801", "markeredgecolor": "none",
                       "markersize": 5},
        )  # fmt: skip
    for i, d in enumerate(data):
        if not d.size:
            ax.text(0, pos[i], "  –", va="center", color="#777")
    ticks = [_strategy_label(s, bare=no_chargers, language=language) for s in strategies]
    ax.set_yticks(pos, ticks)
    ax.set_ylim(-0.6, len(strategies) - 0.4)
    ax.set_xlim(left=0)
    ax.set_xlabel(label("axis_wait_min", language))
    ax.grid(axis="x", color="#eee")
    return fig


def queue_figure(
    queue: pd.DataFrame, strategies: Sequence[str], /, *, language: Language
) -> Figure:
    """Mean queue length by hour of day: all stations (solid), busiest station (dashed)."""
    fig, ax = _new(7.5, 3.2)
    if queue.empty:
        return _message(fig, ax, label("no_data", language))
    colours = _colours(strategies)
    hours = np.arange(24)
    for s in strategies:
        q = queue[queue["strategy"] == s]
        if q.empty:
            continue
        table = q.pivot_table(index="hour", columns="station_id", values="queue_mean")
        table = table.reindex(hours, fill_value=0.0)
        total = table.sum(axis=1).to_numpy()
        busiest = table[table.sum(axis=0).idxmax()].to_numpy()
        ax.plot(hours, total, color=colours[s], lw=1.8, label=plain(s))
        ax.plot(hours, busiest, color=colours[s], lw=1.0, ls="--")
    ax.plot([], [], color="#555", lw=1.8, label=label("all_stations", language))
    ax.plot([], [], color="#555", lw=1.0, ls="--", label=label("busiest_station", language))
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(0, 23)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(label("axis_hour", language))
    ax.set_ylabel(label("axis_queue", language))
    ax.grid(color="#eee")
    ax.legend(fontsize=8, frameon=False, ncols=2)
    return fig


def queue_timeline_figure(
    queues: pd.DataFrame,
    strategies: Sequence[str],
    /,
    *,
    holidays: Sequence[int] = (),
    language: Language,
) -> Figure:
    """Queue length over the whole simulated period at each strategy's busiest site.

    Parameters
    ----------
    queues
        ``RunResult.queues``: ``strategy``, ``site_id``, ``hour`` (from the start of day
        1), ``queue_peak`` and ``queue_mean`` (vehicles, mean over replications).
    strategies
        Strategies in display order.
    holidays
        Holiday days (1 = the first), shaded.
    """
    fig, ax = _new(7.5, 3.2)
    if queues.empty or float(queues["queue_peak"].max()) <= 0:
        return _message(fig, ax, label("no_data", language))
    colours = _colours(strategies)
    for d in holidays:
        ax.axvspan((d - 1) * 24, d * 24, color="#fde2c8", lw=0)
    for s in strategies:
        q = queues[queues["strategy"] == s]
        if q.empty:
            continue
        busiest = q.groupby("site_id", observed=True)["queue_peak"].max().idxmax()
        b = q[q["site_id"] == busiest].sort_values("hour")
        ax.step(
            b["hour"],
            b["queue_peak"],
            where="post",
            color=colours[s],
            lw=1.6,
            label=f"{plain(s)}: {plain(busiest)}",
        )
        ax.plot(b["hour"] + 0.5, b["queue_mean"], color=colours[s], lw=0.8, ls=":")
    ax.set_xlim(0, float(queues["hour"].max()) + 1)
    ax.set_ylim(bottom=0)
    ax.set_xticks(np.arange(0, float(queues["hour"].max()) + 2, 24))
    ax.set_xlabel(label("axis_hours_from_start", language))
    ax.set_ylabel(label("axis_queue", language))
    ax.grid(color="#eee")
    ax.legend(fontsize=7, frameon=False)
    return fig


def _site_label(site_id: str, name: object, *, cjk: bool) -> str:
    text = str(name or "").strip()
    if text and not cjk and fonts.cjk_chars(text):
        text = ""  # no font has glyphs for it: show the id only
    if len(text) > 22:
        text = text[:21] + "…"
    return plain(f"{site_id} {text}".strip())


def utilisation_figure(
    util: pd.DataFrame,
    selected: pd.DataFrame,
    strategies: Sequence[str],
    /,
    *,
    language: Language,
) -> Figure:
    """Heat map of utilisation by site (rows) and hour of day, one panel per strategy."""
    panels = [s for s in strategies if not util[util["strategy"] == s].empty]
    if not panels:
        fig, ax = _new(7.5, 1.0)
        return _message(fig, ax, label("no_data", language))
    names: dict[tuple[str, str], object] = {}
    if selected is not None and not selected.empty and "name" in selected:
        for s, site, n in zip(
            selected["strategy"].astype(str), selected["site_id"].astype(str),
            selected["name"], strict=True,
        ):  # fmt: skip
            names[(s, site)] = n
    heights = [max(util[util["strategy"] == s]["station_id"].nunique(), 1) for s in panels]
    fig = _figure(7.5, 0.8 + 0.22 * sum(heights) + 0.35 * len(panels))
    axes = fig.subplots(len(panels), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    image = None
    cjk = fonts.font_path() is not None  # figure_style registered the names' glyphs
    for ax, s in zip(axes, panels, strict=True):
        table = util[util["strategy"] == s].pivot_table(
            index="station_id", columns="hour", values="utilization", sort=False
        )
        table = table.reindex(columns=range(24))
        image = ax.imshow(
            table.to_numpy(dtype=float), aspect="auto", cmap=UTILISATION_CMAP, vmin=0, vmax=1,
            interpolation="nearest",
        )  # fmt: skip
        ax.set_yticks(
            range(len(table)),
            [_site_label(str(i), names.get((s, str(i))), cjk=cjk) for i in table.index],
            fontsize=7,
        )
        ax.set_title(plain(s), loc="left", fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
    axes[-1].set_xticks(range(0, 24, 2))
    axes[-1].set_xlabel(label("axis_hour", language))
    if image is not None:
        fig.colorbar(image, ax=list(axes), label=label("utilization", language), shrink=0.8)
    return fig


def _sweep_lines(
    ax: Any,
    frame: pd.DataFrame,
    strategies: Sequence[str],
    *,
    colours: Mapping[str, Any],
    bare: Collection[str],
    language: Language,
) -> None:
    """One line per strategy with 95% bars on ``ax`` (categorical values as 0, 1, ...)."""
    numeric = pd.to_numeric(frame["value"], errors="coerce").notna().all()
    cats = list(dict.fromkeys(frame["value"].astype(str)))
    for s in strategies:
        g = frame[frame["strategy"] == s]
        x = (
            pd.to_numeric(g["value"]).to_numpy(dtype=float)
            if numeric
            else np.array([cats.index(str(v)) for v in g["value"]], dtype=float)
        )
        order = np.argsort(x)
        y = g["mean"].to_numpy(dtype=float)[order]
        lo = g["lo"].to_numpy(dtype=float)[order]
        hi = g["hi"].to_numpy(dtype=float)[order]
        err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])
        ax.errorbar(x[order], y, yerr=err, color=colours[s], marker="o", ms=4, lw=1.5,
                    capsize=3, label=_strategy_label(s, bare=bare, language=language))  # fmt: skip
    if not numeric:
        ax.set_xticks(range(len(cats)), [plain(c) for c in cats])
    ax.grid(color="#eee")
    ax.legend(fontsize=8, frameon=False)


def sweep_figure(frame: pd.DataFrame, /, *, language: Language) -> Figure:
    """Difficulty index against the swept value, one line per strategy with 95% bars.

    Plans with no public chargers at any point (``frame["no_chargers"]``) are labelled
    so and drawn in a panel of their own above the others, so that their high
    difficulty does not squash the other lines into the bottom of the axis.
    """
    strategies = list(dict.fromkeys(frame["strategy"]))
    colours = _colours(strategies)
    bare = {s for s in strategies if frame.loc[frame["strategy"] == s, "no_chargers"].all()}
    rest = [s for s in strategies if s not in bare]
    if bare and rest:
        fig = _figure(7.5, 4.4)
        top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 3])
        shown = [s for s in strategies if s in bare]
        _sweep_lines(top, frame, shown, colours=colours, bare=bare, language=language)
        top.set_title(label("plans_without_chargers", language), loc="left", fontsize=9)
    else:
        fig, ax = _new(7.5, 3.4)
    _sweep_lines(ax, frame, rest or strategies, colours=colours, bare=bare, language=language)
    key = next((k for k in frame["key"] if k), "")
    ax.set_xlabel(plain(key) if key else "")
    ax.set_ylabel(label("axis_difficulty", language))
    return fig


def phase_frame(summary: Summary, /) -> pd.DataFrame | None:
    """The difficulty index per (strategy, phase) of a phased plan: ``strategy``,
    ``value`` (the year), ``mean``, ``lo``, ``hi``, ``no_chargers``; ``None`` without
    phases."""
    rows = [
        {
            "strategy": name,
            "key": "",
            "value": ph.year,
            "mean": ph.metrics["difficulty_index"].mean,
            "lo": ph.metrics["difficulty_index"].ci95[0],
            "hi": ph.metrics["difficulty_index"].ci95[1],
            "no_chargers": not ph.sites,
        }
        for name, st in summary.strategies.items()
        for ph in st.phases
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    for col in ("mean", "lo", "hi"):
        frame[col] = frame[col].astype(float)
    return frame


def phase_figure(frame: pd.DataFrame, /, *, language: Language) -> Figure:
    """Difficulty index over the years of a phased plan, one line per strategy with 95%
    bars (:func:`phase_frame`); plans without chargers in a panel of their own."""
    fig = sweep_figure(frame, language=language)
    fig.axes[-1].set_xlabel(label("axis_year", language))
    years = sorted(set(frame["value"].astype(int)))
    fig.axes[-1].set_xticks(years, [str(y) for y in years])
    return fig


def _polygon_paths(geoms: Sequence[Any]) -> list[MplPath]:
    """Matplotlib paths (holes included) of polygon geometries."""
    paths = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            paths.append(MplPath(np.zeros((1, 2))))
            continue
        parts = getattr(geom, "geoms", [geom])
        rings = []
        for poly in parts:
            if not hasattr(poly, "exterior"):
                continue
            rings.append(MplPath(np.asarray(poly.exterior.coords)[:, :2], closed=True))
            rings.extend(MplPath(np.asarray(r.coords)[:, :2], closed=True)
                         for r in poly.interiors)  # fmt: skip
        paths.append(MplPath.make_compound_path(*rings) if rings else MplPath(np.zeros((1, 2))))
    return paths


def _line_segments(geoms: Iterable[Any]) -> list[np.ndarray]:
    out = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        for part in getattr(geom, "geoms", [geom]):
            out.append(np.asarray(part.coords)[:, :2])
    return out


def static_map_figure(
    *,
    title: str,
    zones: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
    language: Language,
) -> Figure:
    """A static map of one strategy (EPSG:4326 layers).

    Zones are shaded by the share of their sessions not served (0-1, grey without
    sessions), roads drawn thin, candidates as small dots, chosen sites as circles sized
    by ports and coloured by port utilisation; a colour bar for each names its quantity.
    Drawn with matplotlib collections (fast for thousands of road edges).
    """
    fig, ax = _new(5.6, 4.8)
    if zones is not None and not zones.empty:
        diff = 1.0 - pd.to_numeric(zones["served_share"], errors="coerce").to_numpy(dtype=float)
        cmap = matplotlib.colormaps[DIFFICULTY_CMAP]
        faces = [cmap(d) if math.isfinite(d) else NO_DATA_COLOUR for d in diff]
        ax.add_collection(
            PathCollection(_polygon_paths(list(zones.geometry)), facecolors=faces,
                           edgecolors="#777777", linewidths=0.3, alpha=0.85, zorder=1)
        )  # fmt: skip
    if roads is not None and not roads.empty:
        hw = roads["highway"].astype(str) if "highway" in roads else pd.Series("", roads.index)
        major = hw.str.match(r"(motorway|trunk|primary|secondary)").to_numpy()
        geoms = np.asarray(roads.geometry)
        ax.add_collection(LineCollection(_line_segments(geoms[~major]), colors="#9e9e9e",
                                         linewidths=0.3, zorder=2))  # fmt: skip
        ax.add_collection(LineCollection(_line_segments(geoms[major]), colors="#616161",
                                         linewidths=0.9, zorder=2))  # fmt: skip
    if candidates is not None and not candidates.empty:
        xy = np.array([(g.x, g.y) for g in candidates.geometry])
        ax.scatter(xy[:, 0], xy[:, 1], s=7, c="white", edgecolors="#636363", linewidths=0.6,
                   zorder=3)  # fmt: skip
    norm = Normalize(0.0, 1.0)
    if sites is not None and not sites.empty:
        ports = pd.to_numeric(sites["ports"], errors="coerce").fillna(1).to_numpy(dtype=float)
        util = pd.to_numeric(sites["utilization"], errors="coerce").to_numpy(dtype=float)
        xy = np.array([(g.x, g.y) for g in sites.geometry])
        ax.scatter(xy[:, 0], xy[:, 1], s=25 + 18 * ports, c=util, cmap=UTILISATION_CMAP,
                   norm=norm, edgecolors="black", linewidths=0.8, zorder=5)  # fmt: skip
    else:
        title = f"{title} – {label('no_sites', language)}"
    # Each colour bar names the quantity it colours (zones and sites differ).
    fig.colorbar(ScalarMappable(norm=norm, cmap=DIFFICULTY_CMAP), ax=ax, shrink=0.6,
                 label=label("axis_unserved", language), location="left", pad=0.01)  # fmt: skip
    fig.colorbar(ScalarMappable(norm=norm, cmap=UTILISATION_CMAP), ax=ax, shrink=0.6,
                 label=label("axis_utilisation", language))  # fmt: skip
    ax.set_title(plain(title), loc="left")
    ax.set_axis_off()
    frames = [f for f in (zones, candidates, sites) if f is not None and not f.empty]
    if frames:
        b = np.array([f.total_bounds for f in frames])
        w, s, e, n = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
        pad_x, pad_y = 0.03 * (e - w) + 1e-4, 0.03 * (n - s) + 1e-4
        ax.set_xlim(w - pad_x, e + pad_x)
        ax.set_ylim(s - pad_y, n + pad_y)
        ax.set_aspect(1.0 / max(math.cos(math.radians((s + n) / 2.0)), 0.1))
    ax.text(1.0, 0.0, "© OpenStreetMap contributors", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=6, color="#555")  # fmt: skip
    return fig
