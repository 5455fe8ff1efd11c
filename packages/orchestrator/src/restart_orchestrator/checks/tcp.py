"""TCP reachability: a connection to ``host:port`` opens within the timeout.

[[checks]]
kind = "tcp"
name = "exchange-api"
host = "api.exchange.example"
port = 443
max_latency_ms = 500
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any, Literal

from pydantic import Field

from restart_orchestrator.checks.base import Check, CheckConfig, CheckResult
from restart_orchestrator.checks.timing import bounded, elapsed_ms, latency_problem


class TcpCheckConfig(CheckConfig):
    kind: Literal["tcp"] = "tcp"
    host: str
    port: int = Field(gt=0, lt=65536)
    max_latency_ms: float | None = Field(default=None, gt=0)


class TcpCheck(Check):
    """Opens (and closes) one TCP connection."""

    kind = "tcp"
    config_model = TcpCheckConfig
    config: TcpCheckConfig

    async def run(self) -> CheckResult:
        return await bounded(self.kind, self.config, self._connect)

    async def _connect(self, details: dict[str, Any]) -> str | None:
        details.update(host=self.config.host, port=self.config.port)
        started = time.monotonic()
        try:
            _, writer = await asyncio.open_connection(self.config.host, self.config.port)
        except OSError as exc:
            # asyncio's strerror is "Connect call failed (...)"; the errno says why.
            if isinstance(exc, socket.gaierror) or not exc.errno:
                why = exc.strerror or str(exc)
            else:
                why = os.strerror(exc.errno)
            return f"cannot connect to {self.config.host}:{self.config.port}: {why}"
        details["latency_ms"] = elapsed_ms(started)
        writer.close()
        with contextlib.suppress(OSError):  # a reset on close is fine: the connect succeeded
            await writer.wait_closed()
        return latency_problem(details["latency_ms"], self.config.max_latency_ms)
