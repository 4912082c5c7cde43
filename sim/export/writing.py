"""Writing a run's output folder, all or nothing.

Everything is written into a temporary sibling folder first; only when every file is
complete does it replace the output folder.  A failed run leaves the previous results
untouched and no partial folder behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.config import dump_resolved
from sim.export.result import RunResult

__all__ = ["UNITS_DIR", "atomic_folder", "write_outputs"]

#: Sub-folder of an output folder where finished units are kept (resume).
UNITS_DIR = "units"


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
    return json.dumps(result.summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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
    with atomic_folder(out_dir, carry=(UNITS_DIR,)) as tmp:
        (tmp / "summary.json").write_text(summary_json(result), encoding="utf-8")
        note("summary.json")
        result.per_replication.to_csv(tmp / "per_replication.csv", index=False)
        note("per_replication.csv")
        if sc.output.sessions:
            result.sessions.to_parquet(tmp / "sessions.parquet", index=False)
            note("sessions.parquet")
        result.site_load.to_parquet(tmp / "site_load.parquet", index=False)
        note("site_load.parquet")
        result.queues.to_csv(tmp / "queue_by_hour.csv", index=False)
        note("queue_by_hour.csv")
        if result.candidate_scores is not None:
            result.candidate_scores.to_csv(tmp / "candidate_scores.csv", index=False)
            note("candidate_scores.csv")
        gpkg = tmp / "sites.gpkg"
        with warnings.catch_warnings():
            # pyogrio warns about mixed Polygon/MultiPolygon zones; the layer is
            # written as MultiPolygon-compatible "Unknown" geometry, which QGIS reads.
            warnings.simplefilter("ignore", RuntimeWarning)
            for name, layer in (
                ("candidates", result.candidates),
                ("selected", result.selected),
                ("zones", result.zones),
                ("roads", result.roads),
            ):
                layer.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
        note("sites.gpkg")
        if sc.output.formats:
            (tmp / "layers").mkdir()
            for name, layer in (
                ("candidates", result.candidates),
                ("selected", result.selected),
                ("zones", result.zones),
                ("roads", result.roads),
            ):
                if "geojson" in sc.output.formats:
                    layer.to_file(
                        tmp / "layers" / f"{name}.geojson", driver="GeoJSON", engine="pyogrio"
                    )
                if "geoparquet" in sc.output.formats:
                    layer.to_parquet(tmp / "layers" / f"{name}.parquet", index=False)
            note("layers/")
        resolved = dump_resolved(sc, checksums=result.prepared.checksums)
        (tmp / "config.resolved.yaml").write_text(resolved, encoding="utf-8")
        note("config.resolved.yaml")
        if sc.output.map:
            from sim.export.webmap import write_map

            write_map(result, tmp / "map.html")
            note("map.html")
        if sc.output.report:
            from sim.export.report import write_report

            write_report(result, tmp / "report.html")
            note("report.html")
    return out_dir
