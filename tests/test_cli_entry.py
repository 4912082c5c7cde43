"""The command line's entry points: ``chargesite``, ``python -m sim`` and ``--version``."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

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
