"""The TCP check against an open and a closed port."""

from __future__ import annotations

import pytest

from restart_orchestrator.checks import TcpCheckConfig, build_check
from tests.support import free_port

pytestmark = pytest.mark.anyio


async def test_open_port_passes_with_latency(silent_port: int) -> None:
    result = await build_check(
        TcpCheckConfig(name="exchange", host="127.0.0.1", port=silent_port)
    ).run()

    assert result.ok, result.reason
    assert result.details["latency_ms"] >= 0
    assert result.details["port"] == silent_port


async def test_closed_port_fails_with_reason() -> None:
    port = free_port()
    result = await build_check(TcpCheckConfig(name="exchange", host="127.0.0.1", port=port)).run()

    assert not result.ok
    assert result.reason.startswith(f"cannot connect to 127.0.0.1:{port}")
    assert "refused" in result.reason.lower()


async def test_unknown_host_fails_with_reason() -> None:
    config = TcpCheckConfig(name="exchange", host="no-such-host.invalid", port=443, timeout_s=3)
    result = await build_check(config).run()

    assert not result.ok
    assert "cannot connect to no-such-host.invalid:443" in result.reason
