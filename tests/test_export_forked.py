"""Work done in a forked child (``sim.export.forked``): the parent's value either way."""

from __future__ import annotations

import os
import time

import pytest

from sim.export import forked
from sim.export.forked import Forked

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="needs fork and two cores")


@needs_fork
def test_the_child_computes_the_value_in_another_process() -> None:
    parent = os.getpid()
    with Forked(lambda: (os.getpid(), [1.5, "two"])) as pending:
        pid, value = pending.result()
    assert pid != parent and value == [1.5, "two"]


@needs_fork
def test_a_failing_or_refused_child_is_redone_here() -> None:
    parent = os.getpid()

    def fails_there() -> int:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return 7

    with Forked(fails_there) as pending:
        assert pending.result() == 7
    with Forked(os.getpid, accept=lambda value: value == parent) as pending:
        assert pending.result() == parent  # the child's pid was refused


@needs_fork
def test_a_slow_child_is_stopped_and_redone_here() -> None:
    parent = os.getpid()

    def slow_there() -> str:
        if os.getpid() != parent:
            time.sleep(60)
        return "here"

    started = time.monotonic()
    with Forked(slow_there, timeout_s=0.3) as pending:
        assert pending.result() == "here"
    assert time.monotonic() - started < 30


@needs_fork
def test_a_parent_failure_stops_the_child() -> None:
    with pytest.raises(ValueError), Forked(lambda: time.sleep(60)) as pending:
        pid = pending._pid
        raise ValueError("the parent fails meanwhile")
    assert pid is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already: no zombie left behind


def test_without_fork_the_work_is_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    with Forked(os.getpid) as pending:
        assert pending.result() == os.getpid()
