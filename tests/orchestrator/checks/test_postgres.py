"""The PostgreSQL check against a real PostgreSQL and the local disk."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from restart_orchestrator.checks import PostgresCheckConfig, build_check
from tests.support import free_port

pytestmark = pytest.mark.anyio


async def test_healthy_database_passes_with_figures(postgres_dsn: str, tmp_path: Path) -> None:
    config = PostgresCheckConfig(
        name="pg", dsn=postgres_dsn, disk_path=str(tmp_path), database_size=True,
        min_free_bytes=1024, min_free_percent=0.001,
    )  # fmt: skip

    result = await build_check(config).run()

    assert result.ok, result.reason
    assert result.details["connect_ms"] >= 0
    assert result.details["query_ms"] >= 0
    assert result.details["database_bytes"] > 0
    assert 0 < result.details["disk_free_bytes"] <= result.details["disk_total_bytes"]
    assert 0 <= result.details["disk_free_percent"] <= 100


async def test_failing_query_fails_with_the_server_message(postgres_dsn: str) -> None:
    config = PostgresCheckConfig(name="pg", dsn=postgres_dsn, query="SELECT * FROM no_such_table")

    result = await build_check(config).run()

    assert not result.ok
    assert 'relation "no_such_table" does not exist' in result.reason


async def test_too_little_free_disk_fails(postgres_dsn: str, tmp_path: Path) -> None:
    config = PostgresCheckConfig(
        name="pg", dsn=postgres_dsn, disk_path=str(tmp_path),
        min_free_bytes="1000PB", min_free_percent=100,
    )  # fmt: skip

    result = await build_check(config).run()

    assert not result.ok
    assert f"free disk of {tmp_path}:" in result.reason
    assert "< 1000000000000000000 bytes" in result.reason
    assert "% < 100%" in result.reason


async def test_database_above_its_size_limit_fails(postgres_dsn: str) -> None:
    config = PostgresCheckConfig(name="pg", dsn=postgres_dsn, max_database_bytes="1KB")

    result = await build_check(config).run()

    assert not result.ok
    assert result.reason.endswith("bytes > 1000 bytes")


async def test_missing_disk_path_fails_with_reason(postgres_dsn: str, tmp_path: Path) -> None:
    config = PostgresCheckConfig(name="pg", dsn=postgres_dsn, disk_path=str(tmp_path / "nope"))

    result = await build_check(config).run()

    assert not result.ok
    assert "cannot read free disk" in result.reason


async def test_unreachable_database_fails_with_reason() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"

    result = await build_check(PostgresCheckConfig(name="pg", dsn=dsn, timeout_s=3)).run()

    assert not result.ok
    assert result.reason.startswith("cannot connect:")


async def test_silent_server_fails_within_the_timeout(silent_port: int) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{silent_port}/postgres"

    started = time.monotonic()
    result = await build_check(PostgresCheckConfig(name="pg", dsn=dsn, timeout_s=0.5)).run()

    assert not result.ok
    assert result.reason == "no answer within 0.5 s"
    assert time.monotonic() - started < 5


async def test_missing_psycopg_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)

    result = await build_check(PostgresCheckConfig(name="pg")).run()

    assert not result.ok
    assert "restart-orchestrator[postgres]" in result.reason
