"""The http backend against real uvicorn processes: the SDK app and a server that never exits."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from restart_orchestrator.backends import (
    BackendError,
    HttpBackend,
    HttpBackendConfig,
    ProcessState,
    ServiceTarget,
)
from tests.orchestrator.backends.conftest import ADMIN_TOKEN, APPS, sdk_env, uvicorn_argv
from tests.orchestrator.backends.servers import silent_listener
from tests.support import ServerProcess, free_port, wait_for_http
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.anyio


def http_backend(
    url: str, *, grace: float = 5.0, token: str | None = ADMIN_TOKEN, **options: object
) -> HttpBackend:
    config = HttpBackendConfig(exit_margin_s=1.0, **options)
    return HttpBackend(config, ServiceTarget("backend-probe", url, token, shutdown_grace_s=grace))


@pytest.fixture
def sdk_server(tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    server = ServerProcess(
        uvicorn_argv("sdk_app:app", port),
        port=port,
        env=sdk_env(tmp_path / "state"),
        log_path=tmp_path / "sdk.log",
    )
    server.wait_ready("/health/ready")
    yield server
    server.stop()


def stubborn_server(tmp_path: Path, **env: str) -> ServerProcess:
    port = free_port()
    server = ServerProcess(
        uvicorn_argv("stubborn_app:app", port), port=port, env=env, log_path=tmp_path / "s.log"
    )
    server.wait_ready()
    return server


def end(server: ServerProcess) -> None:
    """Stop a server that ignores SIGTERM without waiting for it to give in."""
    if server.process.poll() is None:
        server.process.kill()
    server.stop()


async def test_stop_asks_admin_shutdown_and_waits_for_the_process_to_exit(
    sdk_server: ServerProcess, tmp_path: Path
) -> None:
    """1. the SDK app serves 2. the backend posts /admin/shutdown 3. it waits for the pid
    Result: stop returns once the process has exited, gracefully, with its state saved."""
    backend = http_backend(sdk_server.base_url)
    assert await backend.state() == ProcessState.RUNNING

    result = await backend.stop()

    assert (result.graceful, result.forced) == (True, False), result
    assert sdk_server.process.poll() is not None, "stop returned before the process exited"
    assert (tmp_path / "state" / "backend-probe.snapshot.json").exists()
    assert await backend.state() == ProcessState.STOPPED


async def test_start_launches_the_command_detached_and_stop_ends_it(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    backend = http_backend(
        base,
        start_command=[sys.executable, "-m", *uvicorn_argv("sdk_app:app", port)],
        env={**sdk_env(tmp_path / "state"), "PYTHONPATH": str(REPO_ROOT)},
        cwd=str(tmp_path),
        log_file=str(tmp_path / "logs" / "probe.log"),
        pid_file=str(tmp_path / "run" / "probe.pid"),
    )
    assert await backend.state() == ProcessState.STOPPED

    await backend.start()
    try:
        wait_for_http(f"{base}/health/ready", timeout=30)
        assert await backend.state() == ProcessState.RUNNING
        await backend.start()  # already running: nothing launched
        pid = int(await anyio.Path(tmp_path / "run" / "probe.pid").read_text())

        result = await backend.stop()

        assert (result.graceful, result.forced) == (True, False), result
        assert not process_alive(pid)
        assert (tmp_path / "logs" / "probe.log").exists()
    finally:
        await _kill_pid_file(tmp_path / "run" / "probe.pid")


async def test_server_ignoring_shutdown_is_killed_after_the_grace(tmp_path: Path) -> None:
    server = stubborn_server(tmp_path)
    try:
        result = await http_backend(server.base_url, grace=0.5).stop()

        assert (result.graceful, result.forced) == (False, True)
        assert "killed" in result.detail
        assert server.wait_exit(timeout=10) == -signal.SIGKILL
    finally:
        end(server)


async def test_kill_command_forces_a_server_whose_pid_is_not_known(tmp_path: Path) -> None:
    server = stubborn_server(tmp_path, STUBBORN_HIDE_PID="1")
    try:
        backend = http_backend(server.base_url, grace=0.3, kill_command=f"kill -KILL {server.pid}")
        result = await backend.stop()

        assert result.forced
        assert server.wait_exit(timeout=10) == -signal.SIGKILL
    finally:
        end(server)


async def test_without_pid_or_kill_command_a_hung_server_is_an_error(tmp_path: Path) -> None:
    server = stubborn_server(tmp_path, STUBBORN_HIDE_PID="1")
    try:
        with pytest.raises(BackendError, match="set pid_file or kill_command"):
            await http_backend(server.base_url, grace=0.3).stop()
    finally:
        end(server)


async def test_process_not_serving_gets_sigterm_through_its_pid_file(tmp_path: Path) -> None:
    server = ServerProcess(
        [f"{APPS.name}.gentle"], port=0, log_path=tmp_path / "g.log", cwd=APPS.parent
    )
    pid_file = tmp_path / "gentle.pid"
    pid_file.write_text(f"{server.pid}\n")
    try:
        wait_until_up(server)
        backend = http_backend(f"http://127.0.0.1:{free_port()}", pid_file=str(pid_file))
        result = await backend.stop()

        assert result.graceful

        assert "SIGTERM" in result.detail
        assert server.wait_exit(timeout=10) == 0
    finally:
        server.stop()


def wait_until_up(server: ServerProcess) -> None:
    """Until the program has its SIGTERM handler (it says so), a SIGTERM would kill it."""
    deadline = time.monotonic() + 10
    while "gentle up" not in server.output():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.02)


async def test_hung_server_gets_sigterm_through_its_pid_file(tmp_path: Path) -> None:
    """1. the port accepts but never answers (a blocked event loop) 2. the pid file names
    a live process Result: the backend sends SIGTERM instead of judging it stopped."""
    server = ServerProcess(
        [f"{APPS.name}.gentle"], port=0, log_path=tmp_path / "g.log", cwd=APPS.parent
    )
    pid_file = tmp_path / "gentle.pid"
    pid_file.write_text(f"{server.pid}\n")
    try:
        wait_until_up(server)
        with silent_listener() as port:
            backend = http_backend(
                f"http://127.0.0.1:{port}", pid_file=str(pid_file), request_timeout_s=0.3
            )
            assert await backend.state() == ProcessState.UNKNOWN
            result = await backend.stop()

        assert result.graceful
        assert "admin API not answering; sent SIGTERM" in result.detail
        assert server.wait_exit(timeout=10) == 0
    finally:
        server.stop()


async def test_nothing_listening_and_no_pid_means_already_stopped() -> None:
    result = await http_backend(f"http://127.0.0.1:{free_port()}").stop()
    assert result.graceful
    assert result.detail == "already stopped"


async def test_wrong_or_missing_admin_token_is_refused_clearly(
    sdk_server: ServerProcess,
) -> None:
    with pytest.raises(BackendError, match=r"admin token refused .*403 invalid admin token"):
        await http_backend(sdk_server.base_url, token="wrong").stop()
    with pytest.raises(BackendError, match="no admin token configured"):
        await http_backend(sdk_server.base_url, token=None).stop()
    assert sdk_server.process.poll() is None


async def test_start_command_failing_at_once_reports_its_log(tmp_path: Path) -> None:
    backend = http_backend(
        f"http://127.0.0.1:{free_port()}",
        start_command="echo 'port already in use' >&2; exit 4",
        log_file=str(tmp_path / "fail.log"),
        start_check_s=2.0,
    )
    with pytest.raises(BackendError, match=r"(?s)status 4.*port already in use"):
        await backend.start()


async def test_start_without_a_start_command_says_what_to_configure() -> None:
    with pytest.raises(BackendError, match="needs start_command"):
        await http_backend(f"http://127.0.0.1:{free_port()}").start()


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _kill_pid_file(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(await anyio.Path(path).read_text()), signal.SIGKILL)
