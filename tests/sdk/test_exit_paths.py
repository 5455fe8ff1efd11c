"""SIGTERM, state across restarts, Redis failures and multi-worker servers, in real processes."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.sdk.conftest import AUTH, StartService
from tests.support import RedisServer, free_port
from tests.support.infra import start_private_redis


def _bump(base_url: str, n: int) -> None:
    for _ in range(n):
        assert httpx.get(f"{base_url}/slow", params={"seconds": 0}).status_code == 200


def test_sigterm_runs_the_same_sequence_as_the_admin_call(
    start_service: StartService, tmp_path: Path
) -> None:
    """
    1. Two identical services count 3 requests each; each has an order in flight.
    2. One gets POST /admin/shutdown, the other SIGTERM.
    Result: both wait for the order, save the same state, and exit the same way.
    """
    snapshots = {}
    for way in ("admin", "sigterm"):
        state_dir = tmp_path / way
        server = start_service(state_dir=state_dir)
        _bump(server.base_url, 3)
        httpx.post(f"{server.base_url}/orders/o-{way}", params={"seconds": 1}, timeout=5)
        if way == "admin":
            httpx.post(f"{server.base_url}/admin/shutdown", headers=AUTH)
        else:
            server.signal(signal.SIGTERM)
        code = server.wait_exit(30)
        assert code in (-15, 143), server.output()
        assert "draining -> saving" in server.output()
        snapshots[way] = json.loads((state_dir / "slow-service.snapshot.json").read_text())
    admin, sigterm = snapshots["admin"], snapshots["sigterm"]
    assert admin["state"]["counter"]["requests"] == sigterm["state"]["counter"]["requests"] == 3
    assert admin["state"]["counter"]["orders"] == ["o-admin"]
    assert sigterm["state"]["counter"]["orders"] == ["o-sigterm"]
    assert admin["shutdown"]["reason"] == "admin"
    assert sigterm["shutdown"]["reason"] == "sigterm"
    assert admin["shutdown"]["drained"]
    assert sigterm["shutdown"]["drained"]


def test_file_store_state_is_restored_on_next_start(
    start_service: StartService, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    server = start_service(state_dir=state_dir)
    _bump(server.base_url, 4)
    server.signal(signal.SIGTERM)
    server.wait_exit(30)
    again = start_service(state_dir=state_dir)
    assert httpx.get(f"{again.base_url}/counter").json()["requests"] == 4
    status = httpx.get(f"{again.base_url}/admin/status", headers=AUTH).json()
    assert status["last_restore"]["source"] == "file"
    assert status["last_restore"]["keys"] == ["counter"]


def test_redis_store_state_is_restored_on_next_start(
    start_service: StartService, redis_url: str, key_prefix: str
) -> None:
    env = {"SHUTDOWN_STATE_STORE": redis_url, "SHUTDOWN_KEY_PREFIX": key_prefix}
    server = start_service(env=env)
    _bump(server.base_url, 2)
    httpx.post(f"{server.base_url}/admin/shutdown", headers=AUTH)
    server.wait_exit(30)
    client = redis.Redis.from_url(redis_url)
    stored = json.loads(client.get(f"{key_prefix}:slow-service:snapshot") or b"{}")
    client.close()
    assert stored["state"]["counter"]["requests"] == 2
    again = start_service(env=env)
    assert httpx.get(f"{again.base_url}/counter").json()["requests"] == 2
    status = httpx.get(f"{again.base_url}/admin/status", headers=AUTH).json()
    assert status["last_restore"]["source"] == "redis"


def test_redis_down_during_save_falls_back_to_files_and_says_so(
    start_service: StartService, tmp_path: Path
) -> None:
    """
    1. A service stores its state in a Redis of its own.
    2. That Redis stops; the service is shut down.
    Result: the save retries, then writes the file fallback and logs it; with Redis
    back (and empty), the next start restores the fallback snapshot.
    """
    private: RedisServer = start_private_redis()
    try:
        env = {"SHUTDOWN_STATE_STORE": private.url}
        server = start_service(env=env)
        _bump(server.base_url, 5)
        private.stop()
        saved = httpx.post(f"{server.base_url}/admin/save-state", headers=AUTH, timeout=30)
        assert saved.status_code == 200, saved.text
        assert saved.json()["fallback"] is True
        assert saved.json()["store"] == "file"
        assert "primary store failed" in saved.json()["error"]
        server.signal(signal.SIGTERM)
        server.wait_exit(60)
        assert "redis save failed" in server.output()
        assert (tmp_path / "fallback" / "slow-service.snapshot.json").exists()
        private.start_again()
        again = start_service(env=env)
        assert httpx.get(f"{again.base_url}/counter").json()["requests"] == 5
    finally:
        private.stop()


def two_uvicorn_workers(port: int) -> list[str]:
    """The test app under ``uvicorn --workers 2``."""
    app = "tests.sdk.apps.slow_service:app"
    return ["uvicorn", app, "--workers", "2", "--port", str(port), "--host", "127.0.0.1"]


def test_one_shutdown_stops_every_uvicorn_worker(
    start_service: StartService, figures: dict[str, Any]
) -> None:
    """
    1. uvicorn --workers 2 serves the app.
    2. One POST /admin/shutdown reaches one worker.
    Result: the whole server exits (the supervisor is told), not one worker that
    would be replaced.
    """
    port = free_port()
    server = start_service(
        server_argv=two_uvicorn_workers(port),
        port=port,
    )
    pids = set()
    server_pids = set()
    for _ in range(40):
        status = httpx.get(f"{server.base_url}/admin/status", headers=AUTH).json()
        pids.add(status["pid"])
        server_pids.add(status["server_pid"])
        if len(pids) == 2:
            break
    assert server_pids == {server.pid}  # the uvicorn supervisor, whatever worker answers
    reply = httpx.post(f"{server.base_url}/admin/shutdown", headers=AUTH)
    assert reply.status_code == 202
    assert reply.json()["server_pid"] == server.pid
    started = time.monotonic()
    code = server.wait_exit(60)
    figures["whole_server_exit_after_shutdown_s"] = round(time.monotonic() - started, 2)
    assert code is not None
    assert server.output().count("closing -> stopped") == 2, server.output()


def test_pause_reaches_every_worker_through_redis(
    start_service: StartService, redis_url: str, key_prefix: str
) -> None:
    port = free_port()
    env = {
        "SHUTDOWN_REDIS_URL": redis_url,
        "SHUTDOWN_KEY_PREFIX": key_prefix,
        "SHUTDOWN_EVENTS_STREAM": f"{key_prefix}:events",
    }
    server = start_service(
        env=env,
        server_argv=two_uvicorn_workers(port),
        port=port,
    )
    assert httpx.post(f"{server.base_url}/admin/pause", headers=AUTH).status_code == 200
    seen: dict[int, bool] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (len(seen) < 2 or not all(seen.values())):
        status = httpx.get(f"{server.base_url}/admin/status", headers=AUTH).json()
        seen[status["pid"]] = status["paused"]
    assert len(seen) == 2, seen
    assert all(seen.values()), seen
    client = redis.Redis.from_url(redis_url)
    events = client.xrange(f"{key_prefix}:events", "-", "+")
    client.close()
    assert {fields[b"service"] for _, fields in events} == {b"slow-service"}
    assert any(b"paused" in fields[b"data"] for _, fields in events)
