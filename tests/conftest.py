"""Fixtures shared by every suite: a real Redis with a private key prefix, PostgreSQL, and
the key figures a test reports (printed at the end of the run, so a CI log shows them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.support import RedisServer, postgres_dsn_or_fail, redis_server_or_fail


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = redis_server_or_fail()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix owned by one test; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    return postgres_dsn_or_fail()


def pytest_configure(config: pytest.Config) -> None:
    # httpx logs every request at INFO: the polling in these tests would drown real logs.
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)


FIGURES = pytest.StashKey[list[tuple[str, dict[str, Any]]]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Key figures of this test (durations, counts), printed in the terminal summary."""
    collected: dict[str, Any] = {}
    request.config.stash.setdefault(FIGURES, []).append((request.node.name, collected))
    return collected


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reported = config.stash.get(FIGURES, [])
    if not reported:
        return
    terminalreporter.section("key figures")
    for name, collected in reported:
        terminalreporter.write_line(name)
        for key, value in collected.items():
            terminalreporter.write_line(f"    {key}: {value}")
