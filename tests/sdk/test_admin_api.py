"""The admin contract in-process: auth, bad input, hooks, pause/resume, gate, save."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shutdown_sdk import Lifecycle, ShutdownSettings, admin_router
from shutdown_sdk.testing import LifecycleHarness, MemoryStateStore, run_lifecycle
from tests.support.admin_contract import ADMIN_ROUTES, SHUTDOWN_ROUTE

pytestmark = pytest.mark.anyio

TOKEN = "right-token-abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def build_app(
    store: MemoryStateStore | None = None, **settings: Any
) -> tuple[FastAPI, Lifecycle, dict[str, Any]]:
    values: dict[str, Any] = {"admin_token": TOKEN, "hook_timeout": 0.5, **settings}
    lifecycle = Lifecycle(
        "unit", settings=ShutdownSettings(**values), store=store or MemoryStateStore()
    )
    app = FastAPI(lifespan=lifecycle.lifespan)
    lifecycle.install(app)
    app.include_router(admin_router)
    calls: dict[str, Any] = {"pause": 0, "resume": 0, "orders": 0}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    @lifecycle.on_pause
    def on_pause() -> None:
        calls["pause"] += 1

    @lifecycle.on_resume
    async def on_resume() -> None:
        calls["resume"] += 1

    @lifecycle.on_flush
    async def drain_bus() -> dict[str, int]:
        return {"messages": 3}

    @lifecycle.on_flush
    async def broken_flush() -> None:
        raise RuntimeError("bus unreachable")

    @lifecycle.on_save_state("orders")
    def save_orders() -> int:
        return int(calls["orders"])

    @lifecycle.restart_blocker
    def active_orders() -> str | None:
        return f"{calls['orders']} active orders" if calls["orders"] else None

    return app, lifecycle, calls


@pytest.fixture
async def harness() -> AsyncIterator[LifecycleHarness]:
    app, _, _ = build_app()
    async with run_lifecycle(app) as running:
        yield running


@pytest.mark.parametrize(("method", "path"), [*ADMIN_ROUTES, SHUTDOWN_ROUTE])
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        (AUTH, None),
    ],
    ids=["missing", "wrong", "not-bearer", "right"],
)
async def test_auth_matrix(
    harness: LifecycleHarness,
    method: str,
    path: str,
    headers: dict[str, str],
    expected: int | None,
) -> None:
    response = await harness.client.request(method, path, headers=headers)
    if expected is None:
        assert response.status_code in (200, 202, 500), response.text
    else:
        assert response.status_code == expected, response.text
        assert "detail" in response.json()
        assert TOKEN not in response.text
        assert harness.lifecycle.state.value == "ready"  # nothing changed


async def test_admin_refuses_without_a_configured_token() -> None:
    app, lifecycle, _ = build_app(admin_token=None)
    async with run_lifecycle(app) as running:
        response = await running.client.post("/admin/pause", headers=AUTH)
        assert response.status_code == 403
        assert "SHUTDOWN_ADMIN_TOKEN" in response.json()["detail"]
        assert not lifecycle.paused


async def test_insecure_flag_opens_admin_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    app, lifecycle, _ = build_app(admin_token=None, allow_insecure_admin=True)
    async with run_lifecycle(app) as running:
        assert (await running.client.post("/admin/pause")).status_code == 200
        assert lifecycle.paused
    assert "WITHOUT a token" in caplog.text


async def test_health_routes_need_no_token(harness: LifecycleHarness) -> None:
    for path in ("/health", "/health/live", "/health/ready"):
        assert (await harness.client.get(path)).status_code == 200


@pytest.mark.parametrize(
    "query",
    ["timeout=abc", "timeout=-1", "timeout=0", "timeout=1e309", "timeout=nan", "timeout=99999"],
)
async def test_bad_shutdown_timeout_is_refused(harness: LifecycleHarness, query: str) -> None:
    response = await harness.client.post(f"/admin/shutdown?{query}", headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert harness.lifecycle.state.value == "ready"


async def test_unknown_query_parameter_is_refused(harness: LifecycleHarness) -> None:
    response = await harness.client.post("/admin/shutdown?timout=5", headers=AUTH)
    assert response.status_code == 400
    assert "timout" in response.json()["detail"]
    assert harness.lifecycle.state.value == "ready"


async def test_unknown_body_field_is_refused(harness: LifecycleHarness) -> None:
    response = await harness.client.post("/admin/pause", headers=AUTH, json={"force": True})
    assert response.status_code == 422
    assert not harness.lifecycle.paused


async def test_pause_and_resume_are_idempotent() -> None:
    app, lifecycle, calls = build_app()
    async with run_lifecycle(app) as running:
        first = (await running.client.post("/admin/pause", headers=AUTH)).json()
        second = (await running.client.post("/admin/pause", headers=AUTH)).json()
        assert (first["state"], first["changed"]) == ("paused", True)
        assert (second["state"], second["changed"]) == ("paused", False)
        assert calls["pause"] == 1
        health = await running.client.get("/health")
        assert health.status_code == 200
        assert health.json()["paused"] is True
        assert (await running.client.get("/health/ready")).status_code == 200
        resumed = (await running.client.post("/admin/resume", headers=AUTH)).json()
        assert (resumed["state"], resumed["changed"]) == ("ready", True)
        assert calls["resume"] == 1
        await asyncio.wait_for(lifecycle.wait_until_resumed(), 1)


async def test_flush_reports_each_hook_and_failure(harness: LifecycleHarness) -> None:
    response = await harness.client.post("/admin/flush", headers=AUTH)
    assert response.status_code == 500
    body = response.json()
    assert body["flushed"] == {"build_app.<locals>.drain_bus": {"messages": 3}}
    assert [h["ok"] for h in body["hooks"]] == [True, False]
    assert "bus unreachable" in body["hooks"][1]["error"]


async def test_can_restart_reports_blockers_and_fails_closed() -> None:
    app, lifecycle, calls = build_app()

    @lifecycle.restart_blocker
    async def hangs() -> None:
        await asyncio.sleep(60)

    async with run_lifecycle(app) as running:
        calls["orders"] = 2
        body = (await running.client.get("/admin/can-restart", headers=AUTH)).json()
        assert body["ok"] is False
        assert "2 active orders" in body["reasons"]
        assert any("timed out" in reason for reason in body["reasons"])


async def test_save_state_writes_a_snapshot() -> None:
    store = MemoryStateStore()
    app, _, calls = build_app(store)
    async with run_lifecycle(app) as running:
        calls["orders"] = 7
        body = (await running.client.post("/admin/save-state", headers=AUTH)).json()
        assert body["ok"] is True
        assert body["store"] == "memory"
        assert body["size_bytes"] > 0
        assert body["checksum"].startswith("sha256:")
        assert store.current is not None
        assert store.current.state == {"orders": 7}


async def test_failing_save_hook_keeps_its_last_good_value() -> None:
    store = MemoryStateStore()
    app, lifecycle, calls = build_app(store)
    broken = {"now": False}

    @lifecycle.on_save_state("risk")
    def save_risk() -> dict[str, str]:
        if broken["now"]:
            raise RuntimeError("risk engine down")
        return {"ess": "armed"}

    async with run_lifecycle(app) as running:
        await running.client.post("/admin/save-state", headers=AUTH)
        broken["now"], calls["orders"] = True, 1
        response = await running.client.post("/admin/save-state", headers=AUTH)
        assert response.status_code == 500
        assert response.json()["stale"] == ["risk"]
    assert store.current is not None
    assert store.current.state["risk"] == {"ess": "armed"}


async def test_hanging_and_raising_hooks_do_not_stop_the_shutdown() -> None:
    store = MemoryStateStore()
    app, lifecycle, _ = build_app(store)

    @lifecycle.on_save_state("slow")
    async def hangs() -> None:
        await asyncio.sleep(60)

    lifecycle.add_closer(lambda: 1 / 0, name="divides")

    async def hang_closer() -> None:
        await asyncio.sleep(60)

    lifecycle.add_closer(hang_closer, name="hangs", timeout=0.2)
    async with run_lifecycle(app) as running:
        status = await asyncio.wait_for(running.shutdown(timeout=1), 10)
    assert status["state"] == "stopped"
    closers = {h["name"]: h for h in status["hooks"]["close"]}
    assert "ZeroDivisionError" in closers["divides"]["error"]
    assert "timed out" in closers["hangs"]["error"]
    assert store.current is not None
    assert "orders" in store.current.state


async def test_draining_refuses_new_requests_but_serves_admin() -> None:
    app, lifecycle, _ = build_app(pre_drain_delay=1, retry_after=5)
    async with run_lifecycle(app) as running:
        reply = await running.client.post("/admin/shutdown", headers=AUTH)
        assert reply.status_code == 202
        refused = await running.client.get("/ping")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers["connection"] == "close"
        assert (await running.client.get("/health/ready")).status_code == 503
        assert (await running.client.get("/health")).status_code == 503
        assert (await running.client.get("/admin/status", headers=AUTH)).status_code == 200
        conflict = await running.client.post("/admin/resume", headers=AUTH)
        assert conflict.status_code == 409
        lifecycle.cut_drain_short()


async def test_tracked_decorator_registers_work(harness: LifecycleHarness) -> None:
    lifecycle = harness.lifecycle
    seen: list[dict[str, int]] = []

    @lifecycle.tracked("fill", id_from="fill_id")
    async def settle(fill_id: str) -> None:
        seen.append(lifecycle.work.counts_by_kind())

    await settle("f-9")
    assert seen == [{"fill": 1}]
    assert lifecycle.work.counts_by_kind() == {}


async def test_metrics_are_served() -> None:
    app, _, _ = build_app()
    async with run_lifecycle(app) as running:
        body = (await running.client.get("/metrics")).text
    assert 'shutdown_sdk_state{service="unit",shutdown_sdk_state="ready"} 1.0' in body
    assert "shutdown_sdk_in_flight_requests" in body


async def test_restore_hook_receives_saved_value_and_state_is_paused_again() -> None:
    store = MemoryStateStore()
    app, _lifecycle, calls = build_app(store)
    async with run_lifecycle(app) as running:
        calls["orders"] = 5
        await running.client.post("/admin/pause", headers=AUTH)
        await running.shutdown()
    restored: list[int] = []
    app2, lifecycle2, _ = build_app(store)
    lifecycle2.on_restore_state("orders")(restored.append)
    async with run_lifecycle(app2) as running:
        assert restored == [5]
        assert lifecycle2.state.value == "paused"
        status = (await running.client.get("/admin/status", headers=AUTH)).json()
        assert status["last_restore"]["keys"] == ["orders"]


async def test_restore_failure_refuses_to_start() -> None:
    store = MemoryStateStore()
    app, _, _ = build_app(store)
    async with run_lifecycle(app) as running:
        await running.shutdown()
    app2, lifecycle2, _ = build_app(store)

    @lifecycle2.on_restore_state("orders")
    def broken(_: int) -> None:
        raise ValueError("schema changed")

    with pytest.raises(Exception, match="restore hooks failed"):
        async with run_lifecycle(app2):
            pass


async def test_stream_counts_until_last_chunk_in_process() -> None:
    from fastapi.responses import StreamingResponse

    app, lifecycle, _ = build_app()
    counts: list[int] = []

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(3):
                counts.append(lifecycle.work.in_flight)
                yield b"x"

        return StreamingResponse(body())

    transport = httpx.ASGITransport(app=app)
    async with run_lifecycle(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/stream")).text == "xxx"
    assert counts == [1, 1, 1]
    assert lifecycle.work.in_flight == 0


async def test_sdk_routes_are_matched_after_the_apps_own() -> None:
    """The app's own routes come first at startup, however FastAPI represents an included
    router, so that its requests never pay for matching the SDK's routes first."""
    app, _, _ = build_app()
    async with run_lifecycle(app) as harness:
        assert (await harness.client.get("/ping")).json() == {"pong": "yes"}
        routes = app.router.routes
        own = [i for i, r in enumerate(routes) if getattr(r, "path", None) == "/ping"]
        sdk = [
            i
            for i, r in enumerate(routes)
            if getattr(r, "original_router", None) is admin_router
            or getattr(r, "path", "").startswith(("/admin", "/health"))
        ]
        assert own
        assert sdk
        assert max(own) < min(sdk), [getattr(r, "path", type(r).__name__) for r in routes]
        assert (await harness.client.get("/health/ready")).status_code == 200
