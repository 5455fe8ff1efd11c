"""The optional backup command of phase 3 (e.g. ``pg_dump`` or a snapshot script).

    [backup]
    command = "pg_dump -Fc trading > /backups/trading-$(date +%F).dump"
    timeout_s = 900

``run_backup`` never raises; its result reads like a check's (kind
``backup``), with ``returncode`` and the tail of the output in ``details``.

    >>> import asyncio
    >>> result = asyncio.run(run_backup(BackupConfig(command="echo dumped", timeout_s=60)))
    >>> result.ok, result.details["output_tail"]
    (True, 'dumped')
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from restart_orchestrator.backends.shell import run_shell
from restart_orchestrator.checks.base import CheckResult


class BackupConfig(BaseModel):
    """A shell command run once between stopping and starting the fleet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "backup"
    command: str
    timeout_s: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    required: bool = True  # a failed required backup fails the run; an optional one is reported
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


async def run_backup(config: BackupConfig) -> CheckResult:
    """Run the backup command; ``ok`` when it exits 0 within ``timeout_s``."""
    started = time.monotonic()
    try:
        result = await run_shell(
            config.command, timeout_s=config.timeout_s, env=config.env, cwd=config.cwd
        )
    except OSError as exc:  # e.g. cwd does not exist
        return CheckResult(
            name=config.name,
            kind="backup",
            ok=False,
            duration_s=time.monotonic() - started,
            reason=f"cannot run `{config.command}`: {exc}",
        )
    return CheckResult(
        name=config.name,
        kind="backup",
        ok=result.ok,
        duration_s=result.duration_s,
        reason="ok" if result.ok else result.describe(),
        details={
            "command": config.command,
            "returncode": result.returncode,
            "timed_out": result.timed_out,
            "output_tail": result.tail(),
        },
    )
