"""The supervisor backend against a real supervisord (see conftest.py for its programs)."""

from __future__ import annotations

import json
import time

import anyio
import anyio.to_thread
import httpx
import pytest

from restart_orchestrator.backends import (
    BackendError,
    ProcessState,
    ServiceTarget,
    SupervisorBackend,
    SupervisorBackendConfig,
    build_backend,
)
from tests.orchestrator.backends.conftest import ADMIN_TOKEN, Supervisord
from tests.support import free_port, wait_for_http

pytestmark = pytest.mark.anyio


def backend(
    server: Supervisord, program: str, *, grace: float = 5.0, **options: object
) -> SupervisorBackend:
    config = SupervisorBackendConfig(url=server.socket_url, program=program, **options)
    target = ServiceTarget(program, "http://127.0.0.1:1", ADMIN_TOKEN, shutdown_grace_s=grace)
    built = build_backend(config, target)
    assert isinstance(built, SupervisorBackend)
    return built


async def wait_state(backend: SupervisorBackend, wanted: ProcessState, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (state := await backend.state()) != wanted:
        assert time.monotonic() < deadline, f"still {state}, wanted {wanted}"
        await anyio.sleep(0.1)


async def test_stop_and_start_a_program_that_exits_on_sigterm(supervisord: Supervisord) -> None:
    gentle = backend(supervisord, "gentle")
    await wait_state(gentle, ProcessState.RUNNING)

    result = await gentle.stop()

    assert (result.graceful, result.forced) == (True, False)
    assert "exit status 0" in result.detail
    assert await gentle.state() == ProcessState.STOPPED
    await gentle.start()
    assert await gentle.state() == ProcessState.RUNNING


async def test_stopping_a_stopped_program_is_fine(supervisord: Supervisord) -> None:
    worker = backend(supervisord, "fleet:worker")
    assert await worker.state() == ProcessState.STOPPED

    result = await worker.stop()

    assert (result.graceful, result.forced) == (True, False)
    assert "already stopped" in result.detail


async def test_starting_a_running_program_is_fine(supervisord: Supervisord) -> None:
    worker = backend(supervisord, "fleet:worker")
    await worker.start()
    await worker.start()
    assert await worker.state() == ProcessState.RUNNING
    assert (await worker.stop()).graceful


async def test_program_ignoring_sigterm_is_killed_and_reported_forced(
    supervisord: Supervisord,
) -> None:
    """``stubborn`` has stopwaitsecs=1, shorter than the service's grace: the detail says so."""
    stubborn = backend(supervisord, "stubborn", grace=3.0)
    await wait_state(stubborn, ProcessState.RUNNING)

    result = await stubborn.stop()

    assert (result.graceful, result.forced) == (False, True)
    assert "killed with SIGKILL after stopwaitsecs" in result.detail
    assert "stopwaitsecs (1 s) is shorter than the grace (3 s)" in result.detail
    assert result.duration_s >= 0.9
    assert await stubborn.state() == ProcessState.STOPPED


async def test_backend_kills_when_supervisord_would_wait_longer_than_the_grace(
    supervisord: Supervisord,
) -> None:
    """``patient`` has stopwaitsecs=60; the service's grace (0.5 s + 1 s margin) wins."""
    patient = backend(supervisord, "patient", grace=0.5, rpc_margin_s=1.0)
    await wait_state(patient, ProcessState.RUNNING)

    started = time.monotonic()
    result = await patient.stop()

    assert result.forced
    assert "SIGKILL" in result.detail
    assert time.monotonic() - started < 30
    assert await patient.state() == ProcessState.STOPPED


async def test_without_log_lines_the_stop_is_judged_by_its_duration(
    quiet_supervisord: Supervisord,
) -> None:
    """supervisord at loglevel=error writes neither "killing ..." nor "stopped: ..."."""
    stubborn = backend(quiet_supervisord, "stubborn", grace=1.0)
    gentle = backend(quiet_supervisord, "gentle", grace=1.0)
    await wait_state(stubborn, ProcessState.RUNNING)
    await wait_state(gentle, ProcessState.RUNNING)

    forced = await stubborn.stop()
    graceful = await gentle.stop()

    assert (forced.graceful, forced.forced) == (False, True)
    assert "judged by time" in forced.detail
    assert (graceful.graceful, graceful.forced) == (True, False)
    assert "log does not say how" in graceful.detail


async def test_program_failing_at_start_reports_its_stderr(supervisord: Supervisord) -> None:
    crasher = backend(supervisord, "crasher")

    with pytest.raises(BackendError) as caught:
        await crasher.start()

    message = str(caught.value)
    assert "crasher" in message
    assert "cannot read /etc/trading/execution.toml" in message
    assert await crasher.state() == ProcessState.FAILED


async def test_program_with_missing_command_says_so(supervisord: Supervisord) -> None:
    with pytest.raises(BackendError, match="command not found"):
        await backend(supervisord, "missing").start()


async def test_unknown_program_is_a_clear_error(supervisord: Supervisord) -> None:
    unknown = backend(supervisord, "risk-safety")
    with pytest.raises(BackendError, match=r"no program risk-safety in supervisord at unix://"):
        await unknown.state()
    with pytest.raises(BackendError, match="no program risk-safety"):
        await unknown.stop()
    with pytest.raises(BackendError, match="no program risk-safety"):
        await unknown.start()


async def test_supervisord_not_running_is_a_clear_error(tmp_path: object) -> None:
    target = ServiceTarget("execution", "http://127.0.0.1:1", None, shutdown_grace_s=1)
    for url in ("unix:///tmp/no-such-dir/supervisor.sock", f"http://127.0.0.1:{free_port()}/RPC2"):
        gone = SupervisorBackend(SupervisorBackendConfig(url=url), target)
        with pytest.raises(BackendError, match=f"supervisord not running at {url}"):
            await gone.state()
        with pytest.raises(BackendError, match="supervisord not running"):
            await gone.stop()


async def test_inet_server_with_credentials(supervisord: Supervisord) -> None:
    target = ServiceTarget("gentle", "http://127.0.0.1:1", None, shutdown_grace_s=5)
    good = SupervisorBackend(
        SupervisorBackendConfig(
            url=supervisord.http_url,
            username="ops",
            password="s3cret",
        ),
        target,
    )
    assert await good.state() in (ProcessState.RUNNING, ProcessState.STARTING)
    wrong = SupervisorBackend(
        SupervisorBackendConfig(
            url=supervisord.http_url,
            username="ops",
            password="guess",
        ),
        target,
    )
    with pytest.raises(BackendError, match="refused the credentials"):
        await wrong.state()


async def test_password_from_the_environment(
    supervisord: Supervisord, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = ServiceTarget("gentle", "http://127.0.0.1:1", None, shutdown_grace_s=5)
    config = SupervisorBackendConfig(
        url=supervisord.http_url, username="ops", password_env="SUPERVISOR_TEST_PASSWORD"
    )
    with pytest.raises(BackendError, match=r"SUPERVISOR_TEST_PASSWORD .* is not set"):
        await SupervisorBackend(config, target).state()
    monkeypatch.setenv("SUPERVISOR_TEST_PASSWORD", "s3cret")
    assert await SupervisorBackend(config, target).state() != ProcessState.UNKNOWN


async def test_sdk_service_drains_and_saves_state_when_supervisord_stops_it(
    supervisord: Supervisord,
) -> None:
    """1. an SDK app runs under supervisord and serves a request
    2. the backend stops it: supervisord sends SIGTERM, the SDK drains and saves
    3. the backend starts it again and the saved state is restored
    Result: a graceful (not forced) stop, the snapshot on disk, the counter restored."""
    base = f"http://127.0.0.1:{supervisord.sdk_port}"
    sdk = backend(supervisord, "sdk", grace=15)
    await anyio.to_thread.run_sync(lambda: wait_for_http(f"{base}/health/ready", timeout=30))
    async with httpx.AsyncClient(base_url=base) as client:
        (await client.get("/work")).raise_for_status()

    result = await sdk.stop()

    assert (result.graceful, result.forced) == (True, False), result
    assert "SIGTERM" in result.detail
    snapshot = json.loads((supervisord.state_dir / "backend-probe.snapshot.json").read_text())
    assert snapshot["state"]["counter"]["requests"] >= 1
    await sdk.start()
    assert await sdk.state() == ProcessState.RUNNING
    await anyio.to_thread.run_sync(lambda: wait_for_http(f"{base}/health/ready", timeout=30))
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/work")).json()["requests"] >= 2
