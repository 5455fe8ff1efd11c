"""The HTTP check against a real HTTP server and a peer that never answers."""

from __future__ import annotations

import time

import pytest

from restart_orchestrator.checks import HttpCheckConfig, build_check
from tests.support import free_port

pytestmark = pytest.mark.anyio


async def test_2xx_passes_with_status_and_latency(http_server: str) -> None:
    result = await build_check(HttpCheckConfig(name="api", url=f"{http_server}/status/204")).run()

    assert result.ok, result.reason
    assert (result.kind, result.name) == ("http", "api")
    assert result.details["status"] == 204
    assert result.details["latency_ms"] >= 0


async def test_unexpected_status_fails_with_reason(http_server: str) -> None:
    result = await build_check(HttpCheckConfig(name="api", url=f"{http_server}/status/503")).run()

    assert not result.ok
    assert result.reason == "status 503, expected 2xx"
    assert result.details["status"] == 503


async def test_expected_status_list_is_honoured(http_server: str) -> None:
    config = HttpCheckConfig(
        name="api", url=f"{http_server}/status/401", expected_status=(401, 403)
    )
    assert (await build_check(config).run()).ok
    config = HttpCheckConfig(name="api", url=f"{http_server}/status/200", expected_status=(204,))
    assert (await build_check(config).run()).reason == "status 200, expected 204"


async def test_latency_above_the_bound_fails(http_server: str) -> None:
    config = HttpCheckConfig(name="api", url=f"{http_server}/slow?s=0.3", max_latency_ms=50)

    result = await build_check(config).run()

    assert not result.ok
    assert result.reason.startswith("latency ")
    assert result.reason.endswith("> 50 ms")
    assert result.details["latency_ms"] >= 250


async def test_silent_peer_fails_within_the_timeout(silent_port: int) -> None:
    config = HttpCheckConfig(name="api", url=f"http://127.0.0.1:{silent_port}/", timeout_s=0.5)

    started = time.monotonic()
    result = await build_check(config).run()

    assert not result.ok
    assert "ReadTimeout" in result.reason or "no answer within 0.5 s" in result.reason
    assert time.monotonic() - started < 5


async def test_connection_refused_is_reported_not_raised() -> None:
    config = HttpCheckConfig(name="api", url=f"http://127.0.0.1:{free_port()}/")

    result = await build_check(config).run()

    assert not result.ok
    assert "ConnectError" in result.reason
