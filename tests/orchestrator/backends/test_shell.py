"""Shell commands with a time bound: output capture, timeouts and cancellation kill the group."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from restart_orchestrator.backends.shell import OUTPUT_LIMIT, run_shell

pytestmark = pytest.mark.anyio


def alive(pid_file: Path) -> bool:
    try:
        stat = Path(f"/proc/{int(pid_file.read_text())}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_gone(pid_file: Path) -> None:
    deadline = time.monotonic() + 5
    while alive(pid_file):
        assert time.monotonic() < deadline, "a process the command started survived"
        await anyio.sleep(0.05)


async def test_output_interleaves_stdout_and_stderr() -> None:
    result = await run_shell("echo out; echo err >&2; exit 2", timeout_s=5)

    assert (result.returncode, result.timed_out, result.ok) == (2, False, False)
    assert result.output == "out\nerr\n"
    assert (
        result.describe()
        == "`echo out; echo err >&2; exit 2` exited with status 2; output:\nout\nerr"
    )


async def test_only_the_tail_of_long_output_is_kept() -> None:
    result = await run_shell("yes line | head -n 100000; echo last", timeout_s=10)

    assert result.ok
    assert len(result.output.encode()) <= OUTPUT_LIMIT
    assert result.output.endswith("line\nlast\n")


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"

    result = await run_shell(f"sleep 30 & echo $! > {child}; echo waiting; wait", timeout_s=0.3)

    assert (result.returncode, result.timed_out) == (None, True)
    assert result.output == "waiting\n"
    await wait_gone(child)


async def test_cancellation_kills_the_whole_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    with anyio.move_on_after(0.5):
        await run_shell(f"sleep 30 & echo $! > {child}; wait", timeout_s=60)
    await wait_gone(child)


async def test_a_daemon_left_behind_does_not_hold_the_command(tmp_path: Path) -> None:
    """A start command backgrounding a server without redirecting its output returns at once."""
    child = tmp_path / "daemon.pid"
    started = time.monotonic()
    result = await run_shell(f"sleep 30 & echo $! > {child}; echo launched", timeout_s=10)
    try:
        assert result.ok
        assert result.output == "launched\n"
        assert time.monotonic() - started < 5
        assert alive(child)
    finally:
        os.kill(int(child.read_text()), 9)


async def test_environment_and_working_directory(tmp_path: Path) -> None:
    result = await run_shell(
        'echo "$FLEET $(pwd)"', timeout_s=5, env={"FLEET": "demo"}, cwd=str(tmp_path)
    )
    assert result.output == f"demo {tmp_path}\n"
