"""Writing the output folder of a run or a sweep, all or nothing.

Everything is written into a temporary sibling folder first; only when every file is
complete does it replace the output folder.  A failed run leaves the previous results
untouched and no partial folder behind.  :func:`write_outputs` writes a run's folder,
:func:`write_sweep` a sweep's.

:func:`check_out_dir` checks the folder before any work starts (the command line calls
it right after the config loads): it must be a folder that can be made and written, and
it must not hold someone else's files.  A folder belongs to the scenario named in its
``summary.json`` (``"scenario"``; a sweep's also has a ``"sweep"`` entry): a rerun of
the same scenario (same name, same command) replaces it and resumes from its ``units/``
(finished units are keyed by the content of the config, so units of an edited config
are simply not reused); results of another scenario, or of a sweep where a run would go
(or the reverse), and a non-empty folder with files chargesite did not write, are
refused unless ``force`` is given (an unreadable ``summary.json`` is judged by the
folder's file names alone).  :func:`discard_units` is what ``--force`` does
first: the old folder's units are not reused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Literal

from sim.config import dump_resolved
from sim.errors import UserInputError
from sim.export.forked import LONG_TIMEOUT_S, Forked
from sim.export.result import RunResult, SweepResult

__all__ = [
    "OUTPUT_NAMES",
    "UNITS_DIR",
    "atomic_folder",
    "check_out_dir",
    "discard_units",
    "summary_json",
    "write_outputs",
    "write_sweep",
]

#: Sub-folder of an output folder where finished units are kept (resume).
UNITS_DIR = "units"
#: Every name chargesite writes at the top of a run's or a sweep's output folder.
OUTPUT_NAMES = frozenset(
    {
        UNITS_DIR, "summary.json", "per_replication.csv", "sessions.parquet",
        "site_load.parquet", "queue_by_hour.csv", "candidate_scores.csv", "sites.gpkg",
        "layers", "config.resolved.yaml", "map.html", "report.html", "sweep.csv",
        "sweep.png", "pack_stock.parquet", "zone_load.parquet",
    }
)  # fmt: skip

Kind = Literal["run", "sweep"]


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(target: Path, *, what: str) -> None:
    """``target`` can be made (or replaced) and written: raise otherwise."""
    anchor = _nearest_existing(target)
    if anchor == target and not target.is_dir():
        raise UserInputError(f"{what} {target}: is a file, not a folder; pick a folder")
    if anchor != target and not anchor.is_dir():
        raise UserInputError(
            f"{what} {target}: {anchor} is a file, so no folder can be made under it; "
            "pick another folder"
        )
    # The results are written in a sibling of the target, then swapped in: try that.
    where = _nearest_existing(target.parent) if anchor == target else anchor
    try:
        Path(tempfile.mkdtemp(prefix=f".{target.name}.check-", dir=where)).rmdir()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserInputError(
            f"{what} {target}: cannot write in {where} ({reason}); pick another folder"
        ) from None


def _owner(target: Path) -> tuple[Kind, str] | None:
    """What ``target/summary.json`` says the folder holds; ``None`` without one or when
    it cannot be read (then only the names of the folder's files tell)."""
    summary = target / "summary.json"
    if not summary.is_file():
        return None
    try:
        doc = json.loads(summary.read_text(encoding="utf-8"))
        name = str(doc["scenario"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ("sweep" if "sweep" in doc else "run", name)


def check_out_dir(
    target: Path,
    scenario: str,
    /,
    *,
    force: bool,
    kind: Kind = "run",
    what: str = "--out",
) -> None:
    """Refuse an output folder that cannot take this run's results, before any work.

    Parameters
    ----------
    target
        The output folder (``--out`` or ``output.dir``).
    scenario
        Name of the scenario about to run (a sweep: of its base scenario).
    force
        Replace the folder whatever it holds (``--force``); it must still be a folder
        that can be written.
    kind
        ``"run"`` or ``"sweep"``: what will be written there.
    what
        How the user named the folder, for the message (``"--out"``, ``"output.dir"``).

    Raises
    ------
    UserInputError
        ``target`` is a file, lies under a file or cannot be written; or (without
        ``force``) it holds another scenario's results, a sweep's where a run's would
        go (or the reverse), or files chargesite did not write.
    """
    target = Path(target)
    _check_writable(target, what=what)
    if force or not target.is_dir():
        return
    again = "pick another folder or pass --force to replace it"
    owner = _owner(target)
    if owner is not None and owner != (kind, scenario):
        raise UserInputError(
            f"{what} {target}: holds the {owner[0]} of scenario {owner[1]!r}, "
            f"not the {kind} of {scenario!r}; {again}"
        )
    foreign = sorted(p.name for p in target.iterdir() if p.name not in OUTPUT_NAMES)
    if owner is None and foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise UserInputError(
            f"{what} {target}: holds files chargesite did not write ({shown}); {again}"
        )


def discard_units(target: Path, /) -> None:
    """Remove ``target/units`` (``--force``: a replaced folder's units are not reused)."""
    shutil.rmtree(Path(target) / UNITS_DIR, ignore_errors=True)


@contextmanager
def atomic_folder(target: Path, /, *, carry: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``target`` when the block succeeds.

    On an exception the temporary folder is removed and ``target`` is left as it was.
    Entries of ``target`` named in ``carry`` (and not written anew) are moved into the
    new folder just before the swap (the unit store of a resumable run).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are ordinary files
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name in carry:
        if (target / name).exists() and not (tmp / name).exists():
            (target / name).rename(tmp / name)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def summary_json(result: RunResult, /) -> str:
    """``summary.json`` text (stable key order, no wall-clock times)."""
    return result.typed_summary.to_json()


def write_outputs(
    result: RunResult,
    out_dir: Path,
    /,
    *,
    on_file: Callable[[str], None] | None = None,
) -> Path:
    """Write the output folder of a run.

    Files: ``summary.json``, ``per_replication.csv``, ``sessions.parquet``,
    ``site_load.parquet`` (15-minute load per site), ``queue_by_hour.csv``,
    ``pack_stock.parquet`` (charged packs per swap station; only with swap stations),
    ``zone_load.parquet`` (each compound's 15-minute load; only with ``grid``),
    ``sites.gpkg`` (layers ``candidates``, ``selected``, ``zones``, ``roads``;
    EPSG:4326), ``config.resolved.yaml``, and ``map.html`` / ``report.html`` unless
    disabled in ``output``.

    Parameters
    ----------
    result
        From :func:`sim.api.run`.
    out_dir
        The output folder (replaced as a whole).
    on_file
        Called with each file name as it is written.

    Returns
    -------
    Path
        ``out_dir``.
    """
    note = on_file or (lambda _name: None)
    sc = result.scenario
    with (
        atomic_folder(out_dir, carry=(UNITS_DIR,)) as tmp,
        # the map is made in a forked copy while this process writes the rest
        Forked(lambda: _map_text(result), timeout_s=LONG_TIMEOUT_S)
        if sc.output.map
        else nullcontext() as mapping,
    ):
        (tmp / "summary.json").write_text(summary_json(result), encoding="utf-8")
        note("summary.json")
        _write_tables(result, tmp, note)
        _write_layers(result, tmp, note)
        resolved = dump_resolved(sc, checksums=result.prepared.checksums, relative_to=out_dir)
        (tmp / "config.resolved.yaml").write_text(resolved, encoding="utf-8")
        note("config.resolved.yaml")
        if sc.output.report:
            from sim.export.report import write_report

            write_report(result, tmp / "report.html")
            note("report.html")
        if mapping is not None:
            (tmp / "map.html").write_text(mapping.result(), encoding="utf-8")
            note("map.html")
    return out_dir


def _map_text(result: RunResult, /) -> str:
    """``map.html``'s text (folium is imported here, in the process that draws it)."""
    from sim.export.webmap import map_html

    return map_html(result)


def _write_tables(result: RunResult, tmp: Path, note: Callable[[str], None], /) -> None:
    """The csv and parquet tables of a run."""
    result.per_replication.to_csv(tmp / "per_replication.csv", index=False)
    note("per_replication.csv")
    if result.scenario.output.sessions:
        result.sessions.to_parquet(tmp / "sessions.parquet", index=False)
        note("sessions.parquet")
    result.site_load.to_parquet(tmp / "site_load.parquet", index=False)
    note("site_load.parquet")
    result.queues.to_csv(tmp / "queue_by_hour.csv", index=False)
    note("queue_by_hour.csv")
    if result.pack_stock is not None:
        result.pack_stock.to_parquet(tmp / "pack_stock.parquet", index=False)
        note("pack_stock.parquet")
    if result.zone_load is not None:
        result.zone_load.to_parquet(tmp / "zone_load.parquet", index=False)
        note("zone_load.parquet")
    if result.candidate_scores is not None:
        result.candidate_scores.to_csv(tmp / "candidate_scores.csv", index=False)
        note("candidate_scores.csv")


def _write_layers(result: RunResult, tmp: Path, note: Callable[[str], None], /) -> None:
    """``sites.gpkg`` (layers ``candidates``, ``selected``, ``zones``, ``roads``) and,
    with ``output.formats``, the same layers under ``layers/``."""
    layers = (
        ("candidates", result.candidates),
        ("selected", result.selected),
        ("zones", result.zones),
        ("roads", result.roads),
    )
    with warnings.catch_warnings():
        # pyogrio warns about mixed Polygon/MultiPolygon zones; the layer is written as
        # MultiPolygon-compatible "Unknown" geometry, which QGIS reads.
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, layer in layers:
            layer.to_file(tmp / "sites.gpkg", layer=name, driver="GPKG", engine="pyogrio")
    note("sites.gpkg")
    formats = result.scenario.output.formats
    if not formats:
        return
    (tmp / "layers").mkdir()
    for name, layer in layers:
        if "geojson" in formats:
            layer.to_file(tmp / "layers" / f"{name}.geojson", driver="GeoJSON", engine="pyogrio")
        if "geoparquet" in formats:
            layer.to_parquet(tmp / "layers" / f"{name}.parquet", index=False)
    note("layers/")


def write_sweep(
    result: SweepResult,
    out_dir: Path,
    /,
    *,
    language: str | None = None,
    on_file: Callable[[str], None] | None = None,
) -> Path:
    """Write the output folder of a sweep.

    Files: ``sweep.csv`` (one row per point and strategy), ``per_replication.csv`` (one
    row per point, strategy and replication), ``summary.json``, ``sweep.png`` (the
    difficulty index against the first swept value; left out when no point has one) and
    ``report.html``.  The unit store (``units/``) of the previous folder is kept, so an
    interrupted sweep resumes.

    Parameters
    ----------
    result
        From :func:`sim.export.result.sweep_result`.
    out_dir
        The output folder (replaced as a whole).
    language
        ``"en"`` or ``"zh"``; default the scenario's ``output.language``.
    on_file
        Called with each file name as it is written.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from sim.export import figures
    from sim.export.i18n import resolve_language
    from sim.export.report import sweep_report_html, sweep_text

    note = on_file or (lambda _name: None)
    lang = resolve_language(language, default=result.scenario.output.language)
    with atomic_folder(out_dir, carry=(UNITS_DIR,)) as tmp:
        result.table.to_csv(tmp / "sweep.csv", index=False)
        note("sweep.csv")
        result.per_replication.to_csv(tmp / "per_replication.csv", index=False)
        note("per_replication.csv")
        (tmp / "summary.json").write_text(result.typed_summary.to_json(), encoding="utf-8")
        note("summary.json")
        frame = figures.sweep_frame(result.typed_summary)
        if frame is not None:
            with figures.figure_style(lang, text=sweep_text(result.typed_summary)) as flang:
                png = figures.png(figures.sweep_figure(frame, language=flang))
            (tmp / "sweep.png").write_bytes(png)
            note("sweep.png")
        html = sweep_report_html(result.typed_summary, language=lang)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        note("report.html")
    return out_dir
