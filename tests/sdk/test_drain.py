"""The drain under a real uvicorn: in-flight requests finish, new ones are refused cleanly."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.sdk.conftest import AUTH, StartService


async def _fire_slow(client: httpx.AsyncClient, n: int, seconds: float) -> list[httpx.Response]:
    return await asyncio.gather(
        *(client.get("/slow", params={"seconds": seconds}) for _ in range(n))
    )


def test_twenty_slow_requests_complete_when_shutdown_arrives(
    start_service: StartService, figures: dict[str, Any]
) -> None:
    """
    1. 20 requests of 1.5 s each are in flight.
    2. POST /admin/shutdown arrives: 202 at once.
    3. New requests get 503 (with Retry-After) or a refused connection.
    Result: all 20 answer 200 in full; the process exits soon after the last one.
    """
    server = start_service()

    async def scenario() -> tuple[list[httpx.Response], list[str], float, float]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
            slow = asyncio.create_task(_fire_slow(client, 20, 1.5))
            await asyncio.sleep(0.5)
            reply = await client.post("/admin/shutdown", headers=AUTH)
            assert reply.status_code == 202, reply.text
            assert reply.json()["state"] == "draining"
            late: list[str] = []
            for _ in range(5):
                try:
                    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as fresh:
                        response = await fresh.get("/slow", params={"seconds": 0})
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"]
                    assert response.headers["connection"] == "close"
                    late.append("503")
                except httpx.ConnectError:
                    late.append("refused")
                await asyncio.sleep(0.05)
            responses = await slow
            last_done = time.monotonic()
        exit_code = await asyncio.to_thread(server.wait_exit, 30)
        exited = time.monotonic()
        assert exit_code in (0, -15, 143), server.output()
        return responses, late, last_done, exited

    responses, late, last_done, exited = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * 20
    assert all(len(r.json()["padding"]) == 2048 for r in responses)
    assert set(late) <= {"503", "refused"}
    figures.update(
        in_flight_ok=sum(r.status_code == 200 for r in responses),
        late_requests={kind: late.count(kind) for kind in sorted(set(late))},
        exit_after_last_response_s=round(exited - last_done, 3),
    )
    assert exited - last_done < 5.0, server.output()


def test_stream_is_counted_until_its_last_chunk(start_service: StartService) -> None:
    """
    1. A streaming response of 6 chunks 0.25 s apart starts.
    2. /admin/shutdown arrives after the first chunk.
    Result: the stream arrives whole, and the process exits only after it.
    """
    server = start_service()

    async def scenario() -> tuple[str, float, float]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            async with client.stream("GET", "/stream", params={"chunks": 6, "interval": 0.25}) as r:
                chunks = []
                async for chunk in r.aiter_text():
                    if not chunks:
                        status = await client.get("/admin/status", headers=AUTH)
                        assert status.json()["in_flight"] == 1
                        shutdown = await client.post("/admin/shutdown", headers=AUTH)
                        assert shutdown.status_code == 202
                    chunks.append(chunk)
                finished = time.monotonic()
        await asyncio.to_thread(server.wait_exit, 30)
        return "".join(chunks), finished, time.monotonic()

    body, finished, exited = asyncio.run(scenario())
    assert body == "".join(f"chunk {i}\n" for i in range(6))
    assert exited >= finished


def test_tracked_order_blocks_exit_until_it_ends(
    start_service: StartService, tmp_path: Path
) -> None:
    """
    1. An order is accepted; it completes 2 s later in the background (tracked work).
    2. /admin/shutdown arrives at once.
    Result: the process waits for the order, which is in the saved state; nothing abandoned.
    """
    state_dir = tmp_path / "state"
    server = start_service(state_dir=state_dir)
    accepted = httpx.post(f"{server.base_url}/orders/o-1", params={"seconds": 2}, timeout=5)
    assert accepted.status_code == 200
    status = httpx.get(f"{server.base_url}/admin/status", headers=AUTH).json()
    assert status["work"] == {
        "order": [{"id": "o-1", "age_s": status["work"]["order"][0]["age_s"]}]
    }
    started = time.monotonic()
    assert httpx.post(f"{server.base_url}/admin/shutdown", headers=AUTH).status_code == 202
    server.wait_exit(30)
    assert time.monotonic() - started >= 1.5
    snapshot = json.loads((state_dir / "slow-service.snapshot.json").read_text())
    assert snapshot["state"]["counter"]["orders"] == ["o-1"]
    assert snapshot["shutdown"]["drained"] is True
    assert snapshot["shutdown"]["abandoned"] == []


def test_work_past_the_deadline_is_reported_abandoned(
    start_service: StartService, tmp_path: Path
) -> None:
    """
    1. An order that takes 60 s is accepted.
    2. /admin/shutdown?timeout=1 arrives.
    Result: the process exits after about 1 s; the snapshot lists the order as abandoned,
    and the next start shows it in /admin/status previous_shutdown.
    """
    state_dir = tmp_path / "state"
    server = start_service(state_dir=state_dir)
    httpx.post(f"{server.base_url}/orders/o-stuck", params={"seconds": 60}, timeout=5)
    started = time.monotonic()
    reply = httpx.post(f"{server.base_url}/admin/shutdown?timeout=1", headers=AUTH)
    assert reply.json()["drain_deadline_s"] == 1.0
    server.wait_exit(30)
    assert time.monotonic() - started < 15
    again = start_service(state_dir=state_dir)
    previous = httpx.get(f"{again.base_url}/admin/status", headers=AUTH).json()["previous_shutdown"]
    assert previous["drained"] is False
    assert [(u["kind"], u["id"]) for u in previous["abandoned"]] == [("order", "o-stuck")]


def test_shutdown_is_idempotent(start_service: StartService) -> None:
    server = start_service()
    httpx.post(f"{server.base_url}/orders/o-1", params={"seconds": 1}, timeout=5)
    first = httpx.post(f"{server.base_url}/admin/shutdown", headers=AUTH)
    second = httpx.post(f"{server.base_url}/admin/shutdown?timeout=5", headers=AUTH)
    assert first.status_code == second.status_code == 202
    assert second.json()["already"] is True
    assert second.json()["deadline_at"] == first.json()["deadline_at"]
    server.wait_exit(30)
