"""The command line's entry points: ``chargesite``, ``python -m sim`` and ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app


def test_version_is_printed() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"chargesite {metadata.version('chargesite')}"


def test_python_dash_m_sim_is_the_same_cli() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    for command in ("run", "sweep", "validate", "reference"):
        assert command in res.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "sim", "run", "no-such-file.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "no-such-file.yaml" in bad.stderr


def _tiny(tmp_path: Path) -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "name: tiny\nregion: {sample: kotka}\ndemand: {days: 1}\n"
        "strategies: [{name: p-median, k: 1}]\n"
        "simulation: {replications: 1}\noutput: {map: false, report: false}\n",
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed -1: Input should be greater than or equal to 0"),
        (["--seed", str(2**63)], "(as the YAML key seed)"),
        (["--seed", "abc"], "--seed 'abc'"),
        (["--seed", "1.5"], "fractional part"),
        (["--replications", "0"], "(as the YAML key simulation.replications)"),
        (["--replications", "10001"], "less than or equal to 10000"),
    ],
)
def test_cli_overrides_accept_what_the_yaml_accepts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(_tiny(tmp_path)), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not out.exists()  # refused before any work


def test_cli_seed_is_the_yaml_seed(tmp_path: Path) -> None:
    cfg = _tiny(tmp_path)
    text = cfg.read_text(encoding="utf-8").replace("name: tiny\n", "name: tiny\nseed: 7\n")
    with_seed = tmp_path / "seeded.yaml"
    with_seed.write_text(text, encoding="utf-8")
    a, b = tmp_path / "a", tmp_path / "b"
    assert CliRunner().invoke(app, ["run", str(cfg), "--out", str(a), "--seed", "7"]).exit_code == 0
    assert CliRunner().invoke(app, ["run", str(with_seed), "--out", str(b)]).exit_code == 0
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    assert sa["seed"] == sb["seed"] == 7 and sa["strategies"] == sb["strategies"]
