"""Shell commands with a time bound and captured output, shared by the backends and backups.

A command runs in its own process group so that a timeout ends the whole tree
it started (``sh -c "a | b"``), not just the shell.

    >>> result = asyncio.run(run_shell("echo hello", timeout_s=5))
    >>> result.ok, result.output
    (True, 'hello\\n')
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

OUTPUT_LIMIT = 64 * 1024  # bytes of output kept (the tail: errors come last)
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class ShellResult:
    """How a command ended: ``returncode`` is ``None`` when it was killed on timeout."""

    command: str
    returncode: int | None
    output: str  # stdout and stderr interleaved, the last OUTPUT_LIMIT bytes
    duration_s: float
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of output, for error messages."""
        return "\n".join(self.output.rstrip().splitlines()[-lines:])

    def describe(self) -> str:
        """One line saying how it ended, plus the output's tail when there is one."""
        if self.timed_out:
            head = f"`{self.command}` timed out after {self.duration_s:.1f} s and was killed"
        else:
            head = f"`{self.command}` exited with status {self.returncode}"
        tail = self.tail()
        return f"{head}; output:\n{tail}" if tail else f"{head} (no output)"


async def run_shell(
    command: str,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> ShellResult:
    """Run ``command`` with ``/bin/sh -c``, killing its process group after ``timeout_s``."""
    started = time.monotonic()
    # Output goes to a file, not a pipe: a command that starts a daemon without
    # redirecting its output would otherwise hold the pipe open after it exits.
    # Popen polled from the loop (not asyncio's subprocess transport) makes a
    # cancellation safe at any point: the group is killed and reaped at once.
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: ASYNC220 - fork+exec is quick; the wait is polled
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        try:
            async with asyncio.timeout(timeout_s):
                await _exited(process)
        except TimeoutError:
            timed_out = True
        finally:
            if process.poll() is None:  # timed out or cancelled: leave nothing behind
                _kill_group(process.pid)
                process.wait()
        text = _tail_of(output)
    return ShellResult(
        command=command,
        returncode=None if timed_out else process.returncode,
        output=text,
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
    )


async def _exited(process: subprocess.Popen[bytes]) -> None:
    delay = 0.005
    while process.poll() is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, _POLL_INTERVAL_S)


def _tail_of(output: IO[bytes]) -> str:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - OUTPUT_LIMIT))
    return output.read().decode(errors="replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
