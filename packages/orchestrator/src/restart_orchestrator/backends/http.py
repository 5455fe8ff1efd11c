"""Stop a service through its own admin API; start it with a command.

    [services.execution.backend]
    kind = "http"
    start_command = ["uvicorn", "execution.app:app", "--port", "8002"]
    log_file = "/var/log/trading/execution.log"
    pid_file = "/run/trading/execution.pid"     # optional
    kill_command = "pkill -KILL -f execution.app" # optional, when no pid is known locally

``stop``:

1. ``POST /admin/shutdown?timeout=<grace>`` with the admin token: the SDK
   answers 202 at once and drains, saves state, closes and exits.
2. Wait until the process is gone: when its pid is known locally (``pid_file``,
   or the ``pid`` the SDK reports when the URL is on this machine) until that
   pid has exited; otherwise until ``/health/live`` stops answering. The pid
   is the better witness: the server stops listening before it has saved its
   state.
3. Give it ``grace + exit_margin_s`` (the margin covers saving and closing
   after the drain); then force it: SIGKILL to the pid, else ``kill_command``.

If the admin API does not answer but the pid is alive, the process gets
SIGTERM (the SDK runs the same drain on it) and the same bound applies.

``start`` launches ``start_command`` detached (own session, output appended
to ``log_file``) and returns once it has not failed within ``start_check_s``;
readiness is then the orchestrator's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from restart_orchestrator.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    ProcessState,
    StopResult,
)
from restart_orchestrator.backends.process import (
    is_alive,
    launch_detached,
    read_pid_file,
    start_time,
    tail_of_file,
    write_pid_file,
)
from restart_orchestrator.backends.shell import run_shell
from restart_orchestrator.tls import shared_tls_context

_HEALTH_STATES = {
    "starting": ProcessState.STARTING,
    "ready": ProcessState.RUNNING,
    "paused": ProcessState.RUNNING,
    "draining": ProcessState.STOPPING,
    "saving": ProcessState.STOPPING,
    "closing": ProcessState.STOPPING,
    "stopped": ProcessState.STOPPING,
}


class HttpBackendConfig(BackendConfig):
    """How to start the service, and how to find and force its process."""

    kind: Literal["http"] = "http"
    start_command: str | list[str] | None = Field(
        default=None,
        description="Launched detached; a string runs with /bin/sh -c, a list as is.",
    )
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    log_file: str | None = Field(
        default=None, description="Output of start_command; default: <tmp>/restartctl-<name>.log"
    )
    pid_file: str | None = Field(
        default=None,
        description="Where the server's pid is; start writes the launched pid here.",
    )
    kill_command: str | None = Field(
        default=None, description="Shell command forcing the stop when no local pid is known."
    )
    exit_margin_s: float = Field(
        default=5.0, ge=0, description="Time after the drain deadline to save, close and exit."
    )
    kill_wait_s: float = Field(default=10.0, gt=0)
    start_check_s: float = Field(
        default=0.5, ge=0, description="A start command failing within this is an error."
    )
    request_timeout_s: float = Field(default=5.0, gt=0)
    poll_interval_s: float = Field(default=0.1, gt=0)


class HttpBackend(Backend):
    """The SDK's ``/admin/shutdown`` to stop; a launched command to start."""

    kind = "http"
    config_model = HttpBackendConfig
    config: HttpBackendConfig

    @property
    def log_path(self) -> Path:
        if self.config.log_file is not None:
            return Path(self.config.log_file)
        return Path(tempfile.gettempdir()) / f"restartctl-{self.target.name}.log"

    async def stop(self) -> StopResult:
        started = time.monotonic()
        grace = self.target.shutdown_grace_s
        pid = self._local_pid()
        answer, reported = await self._request_shutdown(grace)
        if answer == "accepted":
            pid = pid or reported
            how = "shutdown requested"
        elif pid is not None and pid.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid.pid, signal.SIGTERM)
            how = f"admin API {answer}; sent SIGTERM to pid {pid.pid}"
        elif answer == "not listening":
            return StopResult(True, False, time.monotonic() - started, "already stopped")
        else:
            how = f"admin API {answer}"
        deadline = started + grace + self.config.exit_margin_s
        if await self._gone_by(pid, deadline):
            return StopResult(True, False, time.monotonic() - started, f"{how}; exited")
        await self._force(pid)
        return StopResult(
            False, True, time.monotonic() - started,
            f"{how}; still running after {grace + self.config.exit_margin_s:.1f} s, killed",
        )  # fmt: skip

    async def start(self) -> None:
        if self.config.start_command is None:
            raise BackendError(
                f"{self.target.name}: the http backend needs start_command to start the service"
            )
        if await self._answers_live():
            return  # already running: a second copy could not bind the port anyway
        try:
            process = launch_detached(
                self.config.start_command,
                log_path=self.log_path,
                env={**self.config.env, "RESTARTCTL_SERVICE": self.target.name},
                cwd=self.config.cwd,
            )
        except OSError as exc:
            raise BackendError(
                f"{self.target.name}: cannot launch {self.config.start_command!r}: {exc}"
            ) from exc
        if self.config.pid_file is not None:
            write_pid_file(self.config.pid_file, process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            # A short blocking wait in a thread: a start command failing at once is caught here.
            await asyncio.to_thread(process.wait, self.config.start_check_s)
        if process.returncode not in (None, 0):
            tail = tail_of_file(self.log_path)
            raise BackendError(
                f"{self.target.name}: start command exited with status {process.returncode}; "
                f"log {self.log_path}:\n{tail or '(empty)'}"
            )

    async def state(self) -> ProcessState:
        try:
            async with self._client() as client:
                response = await client.get("/health")
        except httpx.ConnectError:
            pid = self._local_pid()
            if pid is not None and pid.alive():
                return ProcessState.STARTING  # alive but not (yet or any more) serving
            return ProcessState.STOPPED
        except httpx.TransportError:
            return ProcessState.UNKNOWN  # listening but not answering
        try:
            reported = response.json().get("state")
        except (ValueError, AttributeError):
            reported = None
        return _HEALTH_STATES.get(str(reported), ProcessState.RUNNING)

    # -- steps ---------------------------------------------------------------------------

    async def _request_shutdown(self, grace: float) -> tuple[_Answer, _Pid | None]:
        """POST /admin/shutdown: how it answered, and the pid it reported when local."""
        token = self.target.admin_token
        if not token:
            raise BackendError(
                f"{self.target.name}: no admin token configured; the http backend stops the "
                "service through /admin/shutdown, which needs it"
            )
        try:
            async with self._client() as client:
                response = await client.post(
                    "/admin/shutdown",
                    # The SDK accepts 0 < timeout <= 3600.
                    params={"timeout": f"{min(max(grace, 0.001), 3600):g}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.ConnectError:
            return "not listening", None
        except httpx.TransportError:
            return "not answering", None  # e.g. a blocked event loop: alive, not responsive
        if response.status_code in (401, 403):
            raise BackendError(
                f"{self.target.name}: admin token refused by {self.target.url} "
                f"({response.status_code} {_detail(response)})"
            )
        if response.status_code != 202:
            raise BackendError(
                f"{self.target.name}: POST /admin/shutdown answered "
                f"{response.status_code} {_detail(response)}"
            )
        pid = _reported_pid(response)
        if pid is None or not _is_local(self.target.url):
            return "accepted", None
        return "accepted", _Pid.of(pid)

    async def _gone_by(self, pid: _Pid | None, deadline: float) -> bool:
        while True:
            if pid is not None:
                if not pid.alive():
                    return True
            elif not await self._answers_live():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.config.poll_interval_s)

    async def _force(self, pid: _Pid | None) -> None:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid.pid, signal.SIGKILL)
        elif self.config.kill_command is not None:
            try:
                result = await run_shell(
                    self.config.kill_command,
                    timeout_s=self.config.kill_wait_s,
                    env={**self.config.env, "RESTARTCTL_SERVICE": self.target.name},
                )
            except OSError as exc:
                raise BackendError(f"{self.target.name}: cannot run kill_command: {exc}") from exc
            if not result.ok:
                raise BackendError(f"{self.target.name}: kill_command failed: {result.describe()}")
        else:
            raise BackendError(
                f"{self.target.name}: did not exit within its grace period and cannot be "
                "forced: no local pid is known; set pid_file or kill_command"
            )
        if not await self._gone_by(pid, time.monotonic() + self.config.kill_wait_s):
            raise BackendError(f"{self.target.name}: still running after being killed")

    def _local_pid(self) -> _Pid | None:
        if self.config.pid_file is None:
            return None
        pid = read_pid_file(self.config.pid_file)
        return None if pid is None else _Pid.of(pid)

    async def _answers_live(self) -> bool:
        """Whether something listens on the service's port (a refused connection: gone)."""
        try:
            async with self._client() as client:
                await client.get("/health/live")
        except httpx.ConnectError:
            return False
        except httpx.TransportError:
            return True  # accepted the connection, then timed out or hung up: still there
        return True

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.target.url,
            timeout=self.config.request_timeout_s,
            trust_env=False,
            verify=shared_tls_context(),
        )


_Answer = Literal["accepted", "not listening", "not answering"]


@dataclass(frozen=True)
class _Pid:
    """A local pid and its start time, so that a reused pid is not mistaken for it."""

    pid: int
    started_at: int | None

    @classmethod
    def of(cls, pid: int) -> _Pid:
        return cls(pid, start_time(pid))

    def alive(self) -> bool:
        return is_alive(self.pid, self.started_at)


def _reported_pid(response: httpx.Response) -> int | None:
    try:
        body: Any = response.json()
        return int(body["pid"])
    except (ValueError, KeyError, TypeError):
        return None


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except (ValueError, AttributeError):
        return response.text[:200]


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
