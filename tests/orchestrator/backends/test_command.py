"""The command backend with real shell commands and real background processes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from restart_orchestrator.backends import (
    BackendError,
    CommandBackend,
    CommandBackendConfig,
    ProcessState,
    ServiceTarget,
)
from tests.orchestrator.backends.conftest import APPS

pytestmark = pytest.mark.anyio


def command_backend(grace: float = 5.0, **options: object) -> CommandBackend:
    config = CommandBackendConfig(**options)
    target = ServiceTarget("execution", "http://127.0.0.1:1", None, shutdown_grace_s=grace)
    return CommandBackend(config, target)


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "service.pid"
    yield path
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(path.read_text()), signal.SIGKILL)


def daemon_commands(program: str, pid_file: Path, log: Path) -> dict[str, Any]:
    """start/stop/status of ``apps/<program>.py`` as a background process with a pid file."""
    return {
        "start": f"nohup {sys.executable} {APPS / program}.py > {log} 2>&1 & echo $! > {pid_file}",
        "stop": f'kill "$(cat {pid_file})"',
        "status": f'kill -0 "$(cat {pid_file} 2>/dev/null)" 2>/dev/null',
    }


def running(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


async def test_start_status_stop_of_a_background_process(pid_file: Path, tmp_path: Path) -> None:
    backend = command_backend(**daemon_commands("gentle", pid_file, tmp_path / "log"))
    assert await backend.state() == ProcessState.STOPPED

    await backend.start()
    assert await backend.state() == ProcessState.RUNNING
    result = await backend.stop()

    assert (result.graceful, result.forced) == (True, False)
    assert await backend.state() == ProcessState.STOPPED
    assert not running(pid_file)


async def test_process_ignoring_stop_is_killed_with_kill_command(
    pid_file: Path, tmp_path: Path
) -> None:
    commands = daemon_commands("stubborn", pid_file, tmp_path / "log")
    backend = command_backend(grace=0.5, kill_command=f'kill -KILL "$(cat {pid_file})"', **commands)
    await backend.start()
    assert await backend.state() == ProcessState.RUNNING

    result = await backend.stop()

    assert (result.graceful, result.forced) == (False, True)
    assert "still running" in result.detail
    assert not running(pid_file)


async def test_process_ignoring_stop_without_kill_command_is_an_error(
    pid_file: Path, tmp_path: Path
) -> None:
    backend = command_backend(grace=0.3, **daemon_commands("stubborn", pid_file, tmp_path / "l"))
    await backend.start()

    with pytest.raises(BackendError, match="no kill_command is configured"):
        await backend.stop()


async def test_stop_command_outliving_the_grace_is_killed_then_forced(tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    backend = command_backend(
        grace=0.5,
        start="true",
        stop="sleep 30",
        kill_command=f"touch {marker}",
    )

    started = time.monotonic()
    result = await backend.stop()

    assert result.forced
    assert "stop command timed out" in result.detail
    assert marker.exists()
    assert time.monotonic() - started < 10


async def test_failing_start_reports_status_and_output() -> None:
    backend = command_backend(
        start="echo 'Unit trading-execution.service not found.' >&2; exit 5", stop="true"
    )
    with pytest.raises(BackendError) as caught:
        await backend.start()
    assert "exited with status 5" in str(caught.value)
    assert "Unit trading-execution.service not found." in str(caught.value)


async def test_start_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    backend = command_backend(
        start=f"sleep 30 & echo $! > {child}; echo starting; wait",
        stop="true",
        start_timeout_s=0.5,
    )
    with pytest.raises(BackendError, match=r"(?s)timed out after .* killed.*starting"):
        await backend.start()
    deadline = time.monotonic() + 5
    while running(child):
        assert time.monotonic() < deadline, "the command's child survived the timeout"
        await anyio.sleep(0.05)


async def test_status_regex_on_output() -> None:
    active = command_backend(
        start="true", stop="true", status="echo ActiveState=active", running_regex="=active$"
    )
    inactive = command_backend(
        start="true", stop="true", status="echo ActiveState=inactive", running_regex="=active$"
    )
    assert await active.state() == ProcessState.RUNNING
    assert await inactive.state() == ProcessState.STOPPED


async def test_status_exit_codes_follow_lsb() -> None:
    async def state_for(code: int) -> ProcessState:
        return await command_backend(start="true", stop="true", status=f"exit {code}").state()

    assert await state_for(0) == ProcessState.RUNNING
    assert await state_for(3) == ProcessState.STOPPED
    assert await state_for(4) == ProcessState.UNKNOWN
    assert await command_backend(start="true", stop="true").state() == ProcessState.UNKNOWN


async def test_commands_know_the_service_name(tmp_path: Path) -> None:
    out = tmp_path / "name"
    await command_backend(start=f'echo "$RESTARTCTL_SERVICE" > {out}', stop="true").start()
    assert out.read_text().strip() == "execution"


async def test_missing_working_directory_is_a_backend_error(tmp_path: Path) -> None:
    backend = command_backend(start="true", stop="true", cwd=str(tmp_path / "gone"))
    with pytest.raises(BackendError, match="cannot run `true`"):
        await backend.start()


def test_invalid_running_regex_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="running_regex"):
        CommandBackendConfig(start="true", stop="true", running_regex="(unclosed")
