"""Replications, paired comparisons, workers, Dask, resume and sweeps (offline, Kotka)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.api import run
from sim.cli import app
from sim.config import load_config
from sim.study.executors import UnitStore, run_units

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _config(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["demand"]["days"] = 2
    data["simulation"]["replications"] = 3
    data["output"] = {"map": False, "report": False}
    data.update(changes)
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def _summary(out: Path) -> bytes:
    return (out / "summary.json").read_bytes()


def test_paired_differences_name_the_better_strategy(tmp_path: Path) -> None:
    r = run(_config(tmp_path))
    pairs = {(c["a"], c["b"]): c["metrics"] for c in r.summary["comparisons"]}
    assert len(pairs) == 6  # every pair of 4 strategies
    d = pairs[("existing", "p-median")]["difficulty_index"]
    # no charger at all is much harder than 4 well-placed sites, in every replication
    assert d["mean_diff"] > 0 and d["ci95"][0] > 0
    assert d["significant"] and d["better"] == "p-median"
    for c in r.summary["comparisons"]:
        for m in c["metrics"].values():
            if m["better"] is not None:
                assert m["significant"]


def test_workers_give_identical_results(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    one = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "w1")])
    two = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "w2"), "--workers", "2"])
    assert one.exit_code == 0, one.output
    assert two.exit_code == 0, two.output
    assert _summary(tmp_path / "w1") == _summary(tmp_path / "w2")
    a = pd.read_parquet(tmp_path / "w1" / "sessions.parquet")
    b = pd.read_parquet(tmp_path / "w2" / "sessions.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_interrupted_run_resumes_with_only_the_missing_units(tmp_path: Path) -> None:
    sc = load_config(_config(tmp_path))
    store = UnitStore(tmp_path / "units")
    total = 3 * len(sc.strategies)

    class Stop(Exception):
        pass

    def stop_after_five(label: str, done: int, _total: int) -> None:
        if done >= 5 and label.startswith("simulated"):
            raise Stop

    with pytest.raises(Stop):
        run_units([sc], replications=3, store=store, progress=stop_after_five)
    assert len(list(store.folder.glob("*.pkl"))) == 5

    computed: list[str] = []

    def count(label: str, _done: int, _total: int) -> None:
        if label.startswith("simulated"):
            computed.append(label)

    resumed = run_units([sc], replications=3, store=store, progress=count)
    assert len(computed) == total - 5
    fresh = run_units([sc], replications=3)
    assert {k: u.metrics for k, u in resumed.items()} == {k: u.metrics for k, u in fresh.items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_units_of_a_replication_share_one_demand(tmp_path: Path, workers: int) -> None:
    sc = load_config(_config(tmp_path))
    units = run_units([sc], replications=2, workers=workers)
    for rep in (0, 1):
        mine = [u for k, u in units.items() if k.replication == rep]
        assert len(mine) == len(sc.strategies) > 1
        assert all(u.demand is mine[0].demand for u in mine)  # one copy kept
        # the same sessions every strategy simulated: each log's sessions are its rows
        assert all(u.log.session.max() < len(u.demand) for u in mine)
    assert units[next(iter(units))].demand is not units[max(units)].demand


def test_rerun_of_the_cli_uses_the_store(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    first = _summary(out)
    units = sorted((out / "units").glob("*.pkl"))
    assert len(units) == 12
    for p in units[:4]:
        p.unlink()
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    assert _summary(out) == first and len(list((out / "units").glob("*.pkl"))) == 12


def test_sweep_writes_table_and_figure(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    out = tmp_path / "sweep"
    res = runner.invoke(
        app,
        [
            "sweep",
            str(cfg),
            "--set",
            "demand.residential.ev_share=0.2,0.4",
            "--set",
            "strategies.1.k=2,3",
            "--replications",
            "2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2 * 2 * 4  # points x strategies
    assert {
        "demand.residential.ev_share",
        "strategies.1.k",
        "difficulty_index",
        "difficulty_index_lo",
        "difficulty_index_hi",
    } <= set(table.columns)
    # more EVs on the same chargers: harder, for every placed strategy
    placed = table[table["strategy"] != "existing"]
    piv = placed.pivot_table(
        index=["strategy", "strategies.1.k"],
        columns="demand.residential.ev_share",
        values="wait_mean_min",
    )
    assert (piv[0.4] > piv[0.2]).all()
    assert (out / "sweep.png").stat().st_size > 10_000
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report and "sweep-table" in report
    assert report.count("<tr>") >= 1 + 2 * 2 * 4  # header + every point x strategy
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sweep"]["keys"] == ["demand.residential.ev_share", "strategies.1.k"]


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("demand.residential.ev_share", "expected KEY=V1,V2"),
        ("demand.residential.ev_share=0.2,1.5", "ev_share = 1.5"),
        ("demand.residentail.ev_share=0.2", "did you mean 'residential'"),
        ("strategies.9.k=2", "not an index"),
    ],
)
def test_bad_sweep_arguments(tmp_path: Path, arg: str, message: str) -> None:
    out = tmp_path / "never"
    res = runner.invoke(app, ["sweep", str(_config(tmp_path)), "--set", arg, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_bad_scheduler_address_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "run",
            str(_config(tmp_path)),
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            "tcp://127.0.0.1:1",
        ],
    )
    assert res.exit_code == 2
    assert "cannot connect to a Dask scheduler" in res.output
    assert not (tmp_path / "o" / "summary.json").exists()


@pytest.fixture()
def dask_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real scheduler and two single-threaded workers on loopback."""
    if shutil.which("dask") is None:
        pytest.skip("the dask command is not installed")
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if time.monotonic() > deadline:
                pytest.fail("dask scheduler did not start within 60 s")
            time.sleep(0.2)
        time.sleep(0.5)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from dask.distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_gives_the_in_process_results(tmp_path: Path, dask_cluster: str) -> None:
    cfg = _config(tmp_path)
    local = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "local")])
    remote = runner.invoke(
        app, ["run", str(cfg), "--out", str(tmp_path / "dask"), "--scheduler", dask_cluster]
    )
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert _summary(tmp_path / "local") == _summary(tmp_path / "dask")
