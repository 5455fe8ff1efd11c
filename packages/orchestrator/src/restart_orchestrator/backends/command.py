"""Start, stop and inspect a service with shell commands (systemd, docker compose, scripts).

    [services.execution.backend]
    kind = "command"
    start = "systemctl start trading-execution"
    stop = "systemctl stop trading-execution"
    status = "systemctl is-active --quiet trading-execution"
    kill_command = "systemctl kill --signal=SIGKILL trading-execution"

Every command runs with ``/bin/sh -c`` in its own process group, with
``RESTARTCTL_SERVICE`` set to the service name, and is killed (the whole
group) when it outlives its timeout. A failing command's exit status and the
tail of its output are in the error.

Status: exit status 0 means running and one of ``stopped_exit_codes`` (LSB:
1-3, as ``systemctl is-active`` and ``kill -0`` answer) means stopped; with
``running_regex`` set, the output decides instead (a match means running).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Literal

from pydantic import Field, field_validator

from restart_orchestrator.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    ProcessState,
    StopResult,
)
from restart_orchestrator.backends.shell import ShellResult, run_shell


class CommandBackendConfig(BackendConfig):
    """Shell commands that start, stop and report on the service."""

    kind: Literal["command"] = "command"
    start: str = Field(description="Shell command that starts the service.")
    stop: str = Field(description="Shell command that asks the service to stop gracefully.")
    status: str | None = Field(
        default=None,
        description="Shell command whose exit status (or output) tells whether it runs.",
    )
    kill_command: str | None = Field(
        default=None, description="Shell command that kills the service when the grace passed."
    )
    running_regex: str | None = Field(
        default=None, description="When set, status output matching it means running."
    )
    stopped_exit_codes: tuple[int, ...] = Field(
        default=(1, 2, 3), description="Status exit codes that mean stopped (LSB: 1, 2, 3)."
    )
    start_timeout_s: float = Field(default=60.0, gt=0)
    status_timeout_s: float = Field(default=10.0, gt=0)
    kill_timeout_s: float = Field(default=15.0, gt=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("running_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class CommandBackend(Backend):
    """Runs the configured commands; ``stop`` forces with ``kill_command`` after the grace."""

    kind = "command"
    config_model = CommandBackendConfig
    config: CommandBackendConfig

    async def stop(self) -> StopResult:
        started = time.monotonic()
        grace = self.target.shutdown_grace_s
        if self.config.status is not None and await self.state() == ProcessState.STOPPED:
            return StopResult(True, False, time.monotonic() - started, "already stopped")
        result = await self._run(self.config.stop, timeout_s=grace)
        if result.ok and await self._stopped_within(started + grace):
            return StopResult(True, False, time.monotonic() - started, _said(result))
        if not result.ok and not result.timed_out:
            raise BackendError(f"{self.target.name}: stop command failed: {result.describe()}")
        why = (
            "stop command timed out"
            if result.timed_out
            else f"still running {grace:.1f} s after the stop command"
        )
        if self.config.kill_command is None:
            raise BackendError(
                f"{self.target.name}: {why} and no kill_command is configured to force it"
            )
        killed = await self._run(self.config.kill_command, timeout_s=self.config.kill_timeout_s)
        if not killed.ok:
            raise BackendError(f"{self.target.name}: {why}; kill failed: {killed.describe()}")
        if not await self._stopped_within(time.monotonic() + self.config.kill_timeout_s):
            raise BackendError(f"{self.target.name}: {why}; still running after kill_command")
        return StopResult(False, True, time.monotonic() - started, f"{why}; killed")

    async def start(self) -> None:
        result = await self._run(self.config.start, timeout_s=self.config.start_timeout_s)
        if not result.ok:
            raise BackendError(f"{self.target.name}: start command failed: {result.describe()}")

    async def state(self) -> ProcessState:
        if self.config.status is None:
            return ProcessState.UNKNOWN
        result = await self._run(self.config.status, timeout_s=self.config.status_timeout_s)
        if result.timed_out:
            raise BackendError(f"{self.target.name}: status command {result.describe()}")
        if self.config.running_regex is not None:
            found = re.search(self.config.running_regex, result.output, re.MULTILINE)
            return ProcessState.RUNNING if found else ProcessState.STOPPED
        if result.returncode == 0:
            return ProcessState.RUNNING
        if result.returncode in self.config.stopped_exit_codes:
            return ProcessState.STOPPED
        return ProcessState.UNKNOWN

    async def _stopped_within(self, deadline: float) -> bool:
        """Poll ``status`` until stopped or ``deadline``; without one, trust the stop command."""
        if self.config.status is None:
            return True
        while True:
            if await self.state() == ProcessState.STOPPED:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.config.poll_interval_s)

    async def _run(self, command: str, *, timeout_s: float) -> ShellResult:
        try:
            return await run_shell(
                command,
                timeout_s=timeout_s,
                env={**self.config.env, "RESTARTCTL_SERVICE": self.target.name},
                cwd=self.config.cwd,
            )
        except OSError as exc:  # e.g. cwd missing
            raise BackendError(f"{self.target.name}: cannot run `{command}`: {exc}") from exc


def _said(result: ShellResult) -> str:
    return result.tail(lines=3)
