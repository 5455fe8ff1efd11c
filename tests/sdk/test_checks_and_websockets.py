"""Dependency checks in /health against real Redis and PostgreSQL; websocket sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from shutdown_sdk import (
    Lifecycle,
    ShutdownSettings,
    admin_router,
    http_check,
    postgres_check,
    redis_check,
)
from shutdown_sdk.testing import MemoryStateStore, run_lifecycle
from tests.support import free_port


def build(**settings: Any) -> tuple[FastAPI, Lifecycle]:
    lifecycle = Lifecycle(
        "checks", settings=ShutdownSettings(admin_token="t", **settings), store=MemoryStateStore()
    )
    app = FastAPI(lifespan=lifecycle.lifespan)
    lifecycle.install(app, metrics=False)
    app.include_router(admin_router)
    return app, lifecycle


def test_checks_appear_in_health_and_critical_ones_gate_readiness(
    redis_url: str, postgres_dsn: str
) -> None:
    async def scenario() -> tuple[dict[str, Any], int, int]:
        app, lifecycle = build()
        client = aioredis.Redis.from_url(redis_url)
        lifecycle.add_check("redis", redis_check(client), critical=True)
        lifecycle.add_check("postgres", postgres_check(postgres_dsn))
        lifecycle.add_check(
            "exchange", http_check(f"http://127.0.0.1:{free_port()}/ping"), critical=False
        )
        lifecycle.add_check("broken-critical", _never_answers, timeout=0.2, critical=True)
        async with run_lifecycle(app) as harness:
            health = (await harness.client.get("/health")).json()
            ready = (await harness.client.get("/health/ready")).status_code
            again = (await harness.client.get("/health")).status_code
        await client.aclose()
        return health, ready, again

    health, ready, health_status = asyncio.run(scenario())
    checks = health["checks"]
    assert checks["redis"]["ok"] is True
    assert checks["postgres"]["ok"] is True
    assert checks["exchange"]["ok"] is False
    assert "ConnectError" in checks["exchange"]["error"]
    assert checks["broken-critical"]["error"] == "timed out after 0.2 s"
    assert ready == 503  # a critical check failing takes the instance out of rotation
    assert health_status == 200  # but the process is healthy: no restart loop
    assert health["ready"] is False


async def _never_answers() -> None:
    await asyncio.sleep(60)


def test_check_results_are_cached_for_their_ttl() -> None:
    calls = {"n": 0}

    async def counted() -> None:
        calls["n"] += 1

    async def scenario() -> None:
        app, lifecycle = build()
        lifecycle.add_check("counted", counted, ttl=60)
        async with run_lifecycle(app) as harness:
            await asyncio.gather(*(harness.client.get("/health") for _ in range(10)))

    asyncio.run(scenario())
    assert calls["n"] == 1


def test_websocket_sessions_are_counted_and_refused_while_draining() -> None:
    app, lifecycle = build(pre_drain_delay=30)
    counts: list[int] = []

    @app.websocket("/ws")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        counts.append(lifecycle.work.in_flight)
        await websocket.send_text("tick")
        await websocket.close()

    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "tick"
        assert counts == [1]
        response = client.post("/admin/shutdown", headers={"Authorization": "Bearer t"})
        assert response.status_code == 202
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws"):
                pass
        assert refused.value.code == 1013
        lifecycle.cut_drain_short()
