"""The output folder is checked before any work starts.

``--out`` (or ``output.dir``) must be a folder that can be made and written, and must
not hold another scenario's results or someone's files: refused with one message and
exit 2, nothing written.  A rerun of the same scenario resumes from ``units/``;
``--force`` replaces the folder and reuses nothing of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import UserInputError
from sim.export.writing import UNITS_DIR, check_out_dir

TINY = (
    "name: {name}\nregion: {{sample: kotka}}\ndemand: {{days: 1}}\n"
    "strategies: [{{name: p-median, k: 1}}]\n"
    "simulation: {{replications: 1}}\noutput: {{map: false, report: false{extra}}}\n"
)


def _config(folder: Path, name: str = "tiny", *, out: Path | None = None) -> Path:
    cfg = folder / f"{name}.yaml"
    extra = f", dir: {json.dumps(str(out))}" if out is not None else ""
    cfg.write_text(TINY.format(name=name, extra=extra), encoding="utf-8")
    return cfg


def _cli(*args: str | Path) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output
    return res.exit_code, " ".join(res.output.split())  # rich wraps long lines


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (and its siblings), by relative path, with content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _refused(tmp_path: Path, args: list[str | Path], message: str) -> None:
    """The command exits 2 with ``message`` before any work, and writes nothing."""
    before = _snapshot(tmp_path)
    code, output = _cli(*args)
    assert code == 2, output
    assert message in output
    assert output.count("error:") == 1
    assert _snapshot(tmp_path) == before


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file the user keeps", encoding="utf-8")
    cfg = _config(tmp_path)
    _refused(tmp_path, ["run", cfg, "--out", tmp_path / "results"], "is a file, not a folder")
    _refused(
        tmp_path,
        ["sweep", cfg, "--set", "demand.days=1,2", "--out", tmp_path / "results"],
        "is a file, not a folder",
    )


def test_an_out_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file the user keeps", encoding="utf-8")
    out = tmp_path / "results" / "deeper" / "run"
    _refused(
        tmp_path,
        ["run", _config(tmp_path), "--out", out],
        f"{tmp_path / 'results'} is a file, so no folder can be made under it",
    )


def test_output_dir_from_the_yaml_is_checked_and_named(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("x", encoding="utf-8")
    cfg = _config(tmp_path, out=tmp_path / "results")
    _refused(tmp_path, ["run", cfg], "output.dir")


def test_an_out_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "run"
    elif Path("/sys").is_dir():
        target = Path("/sys/chargesite-out")  # root may write anywhere but in sysfs
    else:  # pragma: no cover - root on a system without sysfs
        pytest.skip("no folder root cannot write in")
    _refused(tmp_path, ["run", _config(tmp_path), "--out", target], "cannot write in")


def test_a_folder_with_the_users_files_is_refused(tmp_path: Path) -> None:
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "plan.docx").write_bytes(b"the user's work")
    _refused(
        tmp_path,
        ["run", _config(tmp_path), "--out", docs],
        "holds files chargesite did not write (plan.docx); pick another folder or pass --force",
    )


def test_rerun_resumes_other_scenario_is_refused_force_replaces(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _config(tmp_path, "tiny")
    code, output = _cli("run", first, "--out", out)
    assert code == 0, output
    units = sorted(p.name for p in (out / UNITS_DIR).iterdir())
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / UNITS_DIR).iterdir()}
    assert units

    # the same scenario again: resumes (its finished units are reused, not redone)
    code, output = _cli("run", first, "--out", out)
    assert code == 0, output
    assert {p.name: p.stat().st_mtime_ns for p in (out / UNITS_DIR).iterdir()} == stamps

    # another scenario into the same folder: refused, the results stay as they were
    other = _config(tmp_path, "other-town")
    _refused(
        tmp_path,
        ["run", other, "--out", out],
        f"--out {out}: holds the run of scenario 'tiny', not the run of 'other-town'; "
        "pick another folder or pass --force to replace it",
    )
    # a sweep into a run's folder: refused too
    _refused(
        tmp_path, ["sweep", first, "--set", "demand.days=1,2", "--out", out], "holds the run of"
    )

    # --force: replaced, nothing of the old folder reused
    code, output = _cli("run", other, "--out", out, "--force")
    assert code == 0, output
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["scenario"] == (
        "other-town"
    )
    assert not set(units) & {p.name for p in (out / UNITS_DIR).iterdir()}


def test_check_out_dir_accepts_new_empty_and_own_folders(tmp_path: Path) -> None:
    check_out_dir(tmp_path / "new" / "deeper", "tiny", force=False)  # made later
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty", "tiny", force=False)
    own = tmp_path / "own"
    (own / UNITS_DIR).mkdir(parents=True)  # an interrupted first run: units only
    check_out_dir(own, "tiny", force=False)
    (own / "summary.json").write_text('{"scenario": "tiny"}', encoding="utf-8")
    check_out_dir(own, "tiny", force=False)
    with pytest.raises(UserInputError, match="not the sweep of 'tiny'"):
        check_out_dir(own, "tiny", force=False, kind="sweep")
    (own / "summary.json").write_text("{not json", encoding="utf-8")
    check_out_dir(own, "tiny", force=False)  # unreadable: only chargesite's file names
    (own / "notes.txt").write_text("the user's", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"did not write \(notes.txt\)"):
        check_out_dir(own, "tiny", force=False)
    check_out_dir(own, "tiny", force=True)
    assert sorted(p.name for p in own.iterdir()) == ["notes.txt", "summary.json", UNITS_DIR]
