"""Drawing the report's figures: the forked path gives the bytes of the plain one, and
falls back to drawing here when the child fails."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.export import figures


def _maker(seed: int) -> Any:
    def make() -> Figure:
        fig = Figure(figsize=(3, 2), layout="constrained")
        ax = fig.subplots()
        x = np.random.default_rng(seed).random(50)
        ax.plot(x, label=f"line {seed}")
        ax.set_title(f"figure {seed}")
        ax.legend()
        return fig

    return make


def _plain(makers: list[Any]) -> list[bytes]:
    return [figures.png(make()) for make in makers]


@pytest.mark.skipif(not figures._can_fork(), reason="needs fork and two cores")
def test_forked_figures_are_the_plain_bytes_in_order() -> None:
    here, there = [_maker(1), _maker(2)], [_maker(3), _maker(4), _maker(5)]
    with figures.figure_style("en"):
        mine, theirs = figures.pngs(here, there)
        assert mine == _plain(here)
        assert theirs == _plain(there)
    assert len(set(theirs)) == 3  # three different figures, not one repeated


def test_without_fork_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "_can_fork", lambda: False)
    here, there = [_maker(1)], [_maker(2), _maker(3)]
    with figures.figure_style("en"):
        assert figures.pngs(here, there) == (_plain(here), _plain(there))


@pytest.mark.skipif(not figures._can_fork(), reason="needs fork and two cores")
def test_a_failing_child_is_replaced_by_drawing_here() -> None:
    parent = os.getpid()

    def only_here() -> Figure:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return _maker(7)()

    with figures.figure_style("en"):
        mine, theirs = figures.pngs([_maker(6)], [only_here])
        assert theirs == _plain([_maker(7)]) and mine == _plain([_maker(6)])


@pytest.mark.skipif(not figures._can_fork(), reason="needs fork and two cores")
def test_a_slow_child_is_stopped_and_its_figures_drawn_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent = os.getpid()

    def slow_there() -> Figure:
        if os.getpid() != parent:
            import time

            time.sleep(60)
        return _maker(8)()

    monkeypatch.setattr(figures, "FORK_TIMEOUT_S", 0.5)
    with figures.figure_style("en"):
        _, theirs = figures.pngs([], [slow_there])
        assert theirs == _plain([_maker(8)])
