"""The Redis check against a real Redis (and a private one whose maxmemory the test may set)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from restart_orchestrator.checks import RedisCheckConfig, build_check
from tests.support import RedisServer, free_port
from tests.support.infra import start_private_redis

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    """A throwaway redis-server: CONFIG SET on it touches nobody else's Redis."""
    server = start_private_redis()
    yield server
    server.stop()


def set_maxmemory(url: str, factor: float) -> None:
    client = redis.Redis.from_url(url)
    try:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", str(int(used * factor)) if factor else "0")
    finally:
        client.close()


async def test_healthy_redis_passes_with_figures(redis_url: str) -> None:
    result = await build_check(RedisCheckConfig(name="redis", url=redis_url)).run()

    assert result.ok, result.reason
    assert result.details["role"] == "master"
    assert result.details["used_memory"] > 0
    assert result.details["latency_ms"] >= 0
    assert "maxmemory" in result.details


async def test_memory_near_maxmemory_fails(private_redis: RedisServer) -> None:
    set_maxmemory(private_redis.url, 1.02)
    try:
        result = await build_check(RedisCheckConfig(name="redis", url=private_redis.url)).run()
    finally:
        set_maxmemory(private_redis.url, 0)

    assert not result.ok
    assert "of maxmemory" in result.reason
    assert "> 90%" in result.reason
    assert result.details["memory_percent"] > 90


async def test_memory_below_threshold_passes(private_redis: RedisServer) -> None:
    set_maxmemory(private_redis.url, 4)
    try:
        result = await build_check(RedisCheckConfig(name="redis", url=private_redis.url)).run()
    finally:
        set_maxmemory(private_redis.url, 0)

    assert result.ok, result.reason
    assert 10 < result.details["memory_percent"] < 40


async def test_unlimited_maxmemory_passes_without_a_percentage(
    private_redis: RedisServer,
) -> None:
    result = await build_check(RedisCheckConfig(name="redis", url=private_redis.url)).run()

    assert result.ok, result.reason
    assert result.details["maxmemory"] == 0
    assert "memory_percent" not in result.details


async def test_unexpected_role_fails(redis_url: str) -> None:
    config = RedisCheckConfig(name="redis", url=redis_url, role="replica")

    result = await build_check(config).run()

    assert not result.ok
    assert result.reason == "role master, expected replica"


async def test_unreachable_redis_fails_without_leaking_the_password() -> None:
    port = free_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"

    result = await build_check(RedisCheckConfig(name="redis", url=url, timeout_s=2)).run()

    assert not result.ok
    assert result.reason.startswith(f"no PING answer from redis://***@127.0.0.1:{port}/0")
    assert "hunter2" not in result.reason


async def test_password_from_an_unset_variable_fails_with_reason(redis_url: str) -> None:
    config = RedisCheckConfig(name="redis", url=redis_url, password_env="REDIS_TEST_UNSET_PASSWORD")

    result = await build_check(config).run()

    assert not result.ok
    assert result.reason == "environment variable REDIS_TEST_UNSET_PASSWORD (password) is not set"


async def test_silent_server_fails_within_the_timeout(silent_port: int) -> None:
    config = RedisCheckConfig(name="redis", url=f"redis://127.0.0.1:{silent_port}/0", timeout_s=0.5)

    started = time.monotonic()
    result = await build_check(config).run()

    assert not result.ok
    assert "imeout" in result.reason or "no answer within" in result.reason
    assert time.monotonic() - started < 5
