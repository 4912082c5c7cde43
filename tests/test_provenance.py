"""Provenance replays: ``config.resolved.yaml`` runs as it is and reproduces the run.

The resolved file records every default, the seed and the SHA-256 of each data file;
its data paths are relative to the file, so an output folder moved together with its
inputs still replays; a replay refuses inputs that changed since.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


def _scenario(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "sites.csv").write_text(
        "id,name,lon,lat,ports\nu1,harbour,26.9452,60.5231,2\nu2,centre,26.9304,60.5296,\n",
        encoding="utf-8",
    )
    cfg = project / "scenario.yaml"
    cfg.write_text(
        "name: replay\nseed: 3\nregion: {sample: kotka}\n"
        "demand: {days: 1}\ncandidates: {file: data/sites.csv, network_nodes: 6}\n"
        "strategies: [{name: p-median, k: 2}, {name: random, k: 2}]\n"
        "simulation: {replications: 2}\noutput: {map: false, report: false}\n",
        encoding="utf-8",
    )
    return cfg


def test_the_resolved_config_replays_byte_for_byte(tmp_path: Path) -> None:
    cfg = _scenario(tmp_path)
    first = tmp_path / "project" / "out" / "first"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(first)])
    assert res.exit_code == 0, res.output
    resolved = first / "config.resolved.yaml"
    doc = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    # the data path is written relative to the resolved file, not as an absolute path
    assert doc["candidates"]["file"] == "../../data/sites.csv"
    assert set(doc["provenance"]["data_sha256"]) >= {"candidates.file", "region:sample"}
    again = tmp_path / "project" / "out" / "again"
    res = runner.invoke(app, ["run", str(resolved), "--out", str(again)])
    assert res.exit_code == 0, res.output
    assert (again / "summary.json").read_bytes() == (first / "summary.json").read_bytes()
    # the folder moved with its inputs still replays
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "project", moved)
    res = runner.invoke(
        app,
        [
            "run",
            str(moved / "out" / "first" / "config.resolved.yaml"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "summary.json").read_bytes() == (first / "summary.json").read_bytes()


def test_a_replay_refuses_changed_inputs(tmp_path: Path) -> None:
    cfg = _scenario(tmp_path)
    first = tmp_path / "project" / "out" / "first"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(first)]).exit_code == 0
    sites = tmp_path / "project" / "data" / "sites.csv"
    sites.write_text(sites.read_text(encoding="utf-8").replace("u2,centre", "u2,market"))
    out = tmp_path / "never"
    res = runner.invoke(app, ["run", str(first / "config.resolved.yaml"), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "the data changed since these results were made" in res.output
    assert "candidates.file" in res.output and "Traceback" not in res.output
    assert not (out / "summary.json").exists()
