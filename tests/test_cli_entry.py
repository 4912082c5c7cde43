"""The command line's entry points: ``chargesite``, ``python -m sim`` and ``--version``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
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


def _strategies(tmp_path: Path, strategies: str) -> Path:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "name: s\nregion: {sample: kotka}\ndemand: {days: 1}\ncandidates: {network_nodes: 5}\n"
        f"strategies: {strategies}\n",
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize(
    ("strategies", "message"),
    [
        ("[{name: a, model: p-medain, k: 2}]", "Did you mean 'p-median'?"),
        ("[{name: a, model: p-median}]", "strategies.0"),
        ("[{name: a, model: p-median, k: 2, budget_cny: 1}]", "budget_cny = 1: no site fits"),
    ],
)
def test_validate_makes_the_checks_run_makes(tmp_path: Path, strategies: str, message: str) -> None:
    cfg = _strategies(tmp_path, strategies)
    checked = CliRunner().invoke(app, ["validate", str(cfg)])
    assert checked.exit_code == 2, checked.output
    assert message in checked.output and "Traceback" not in checked.output
    ran = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert ran.exit_code == 2 and message in ran.output  # the same refusal


def test_validate_lists_each_strategy_plan(tmp_path: Path) -> None:
    cfg = _strategies(tmp_path, "[{name: pm, model: p-median, k: 2}, {name: ex, model: existing}]")
    res = CliRunner().invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "strategy pm" in res.output and "p-median: 2 site(s)" in res.output


def _run_cli(args: list[str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def test_ctrl_c_says_what_was_kept_and_how_to_resume(tmp_path: Path) -> None:
    cfg = tmp_path / "long.yaml"
    cfg.write_text(
        "name: long\nregion: {sample: kotka}\ndemand: {days: 2}\n"
        "candidates: {network_nodes: 10}\n"
        "strategies: [{name: a, model: random, k: 3}, {name: b, model: p-median, k: 3}]\n"
        "simulation: {replications: 60}\noutput: {map: false, report: false}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    p = _run_cli(["run", str(cfg), "--out", str(out)])
    units = out / "units"
    deadline = time.monotonic() + 120
    while not (units.is_dir() and len(list(units.glob("*.pkl"))) >= 3):
        assert p.poll() is None and time.monotonic() < deadline, "no unit was finished"
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "interrupted:" in stderr and "to resume" in stderr and str(cfg) in stderr
    assert "Traceback" not in stderr and not (out / "summary.json").exists()
    again = _run_cli(["run", str(cfg), "--out", str(out)])
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert "already done (resumed)" in stderr  # said as a plain line, not only in a bar
    assert (out / "summary.json").exists()


def test_ctrl_c_inside_a_library_that_wraps_it_is_still_an_interrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pydantic's serializer turns a KeyboardInterrupt raised inside it into its own
    # error; the CI run of session 5 was interrupted exactly there (scenario_key).
    import pydantic
    import typer
    from pydantic_core import PydanticSerializationError

    from sim.cli import _resumable

    class Slow(pydantic.BaseModel):
        x: int = 1

        @pydantic.field_serializer("x")
        def _ser(self, value: int) -> int:
            signal.raise_signal(signal.SIGINT)
            return value

    with pytest.raises(typer.Exit) as stopped, _resumable(tmp_path, "chargesite run x.yaml"):
        Slow().model_dump_json()
    assert stopped.value.exit_code == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    with pytest.raises(PydanticSerializationError), _resumable(tmp_path, "c"):

        class Broken(Slow):
            @pydantic.field_serializer("x")
            def _ser(self, value: int) -> int:
                raise ValueError("a real bug is not an interrupt")

        Broken().model_dump_json()
