"""Output work done in a forked copy of this process while this one goes on.

Writing a run's outputs is several independent pieces of CPU work (the report's
figures, the interactive map); on a machine with a spare core a forked child does one
while the parent does the others.  The child is a copy of the parent (the result, the
matplotlib settings, the imported modules), so what it makes is what the parent would
have made; it sends the pickled value through a pipe and leaves with ``os._exit`` (no
exit handlers, no flushing of the parent's streams).  If fork is unavailable (not
Linux, one core), or the child fails or runs past its time limit, the parent does the
work itself, so a failure there shows the parent's own error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Generic, NoReturn, TypeVar

__all__ = ["FORK_TIMEOUT_S", "LONG_TIMEOUT_S", "Forked", "can_fork"]

T = TypeVar("T")

#: Default seconds to wait for a child before doing its work here.
FORK_TIMEOUT_S = 120.0

#: Seconds to wait for a child whose work may be long (a large map or roads layer):
#: generous, but bounded, so that a child stuck on a lock another thread held at the
#: fork is stopped and its work done here.
LONG_TIMEOUT_S = 600.0


def can_fork() -> bool:
    """Work may go to a forked process: on Linux, with more than one core."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def _child(task: Callable[[], object], fd: int) -> NoReturn:
    """In the forked process: send the pickled value of ``task()`` through ``fd`` and
    leave at once."""
    status = 1
    try:
        data = memoryview(pickle.dumps(task(), protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(fd, data) :]
        status = 0
    finally:
        os._exit(status)


def _receive(fd: int, *, timeout_s: float | None) -> bytes | None:
    """Everything written to ``fd`` until the writer closes it, or ``None`` on a
    timeout."""
    chunks: list[bytes] = []
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and (left <= 0 or not select.select([fd], [], [], left)[0]):
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Forked(Generic[T]):
    """``task()`` computed in a forked child from now on; :meth:`result` collects it.

    Use it as a context manager, so that a child whose result is never collected
    (the parent failed meanwhile) is stopped and reaped::

        with Forked(lambda: figures(result)) as there:
            mine = other_figures(result)
            theirs = there.result()

    Parameters
    ----------
    task
        The work; its value must pickle.  It runs here instead when fork is
        unavailable, the child fails, or ``accept`` refuses its value.
    timeout_s
        Seconds to wait for the child (``None``: as long as it takes).
    accept
        Checks the child's value (for example its length) before it is used.
    fork
        ``False``: no child; :meth:`result` computes ``task()`` here (for work too
        small to be worth a fork).
    """

    def __init__(
        self,
        task: Callable[[], T],
        /,
        *,
        timeout_s: float | None = FORK_TIMEOUT_S,
        accept: Callable[[object], bool] | None = None,
        fork: bool = True,
    ) -> None:
        self._task, self._timeout_s, self._accept = task, timeout_s, accept
        self._pid: int | None = None
        self._fd: int | None = None
        if not (fork and can_fork()):
            return
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns on fork with threads alive (library pools); the child
            # only computes and writes to the pipe, taking none of their locks
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child leaves through os._exit
            os.close(read_fd)
            _child(task, write_fd)
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def result(self) -> T:
        """The child's value, or ``task()`` computed here."""
        raw = self._collect()
        if raw is not None:
            with contextlib.suppress(pickle.UnpicklingError, EOFError, ValueError):
                value = pickle.loads(raw)
                if self._accept is None or self._accept(value):
                    return value
        return self._task()

    def _collect(self) -> bytes | None:
        """The child's bytes if it finished well, else ``None``; the child is reaped."""
        if self._pid is None or self._fd is None:
            return None
        pid, fd = self._pid, self._fd
        self._pid = self._fd = None
        raw: bytes | None = None
        try:
            raw = _receive(fd, timeout_s=self._timeout_s)
        finally:
            os.close(fd)
            if raw is None:  # too slow, or the parent failed: do not leave it running
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        return raw if status == 0 else None

    def cancel(self) -> None:
        """Stop the child, if any, without its value."""
        if self._pid is not None and self._fd is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.close(self._fd)
            os.waitpid(self._pid, 0)
            self._pid = self._fd = None

    def __enter__(self) -> Forked[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
