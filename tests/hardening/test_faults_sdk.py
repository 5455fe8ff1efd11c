"""Faults inside one service: its Redis restarted or hung during a save, its disk full.

Real uvicorn processes of the fuzz app; a private Redis (stopped, restarted,
frozen with SIGSTOP); a 64 KiB tmpfs as the file store's disk.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import TOKEN, break_disk, repair_disk, sdk_service
from tests.support.infra import RedisServer

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def save_state(base_url: str, timeout: float = 60) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.post(base_url + "/admin/save-state", headers=AUTH, timeout=timeout)
    return response.status_code, response.json(), time.monotonic() - started


def redis_env(redis: RedisServer, root: Path) -> dict[str, str]:
    return {
        "SHUTDOWN_ADMIN_TOKEN": TOKEN,
        "SHUTDOWN_STATE_STORE": redis.url,
        "SHUTDOWN_STATE_FALLBACK_DIR": str(root / "fallback"),
    }


def later(seconds: float, action: Any) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_redis_restarted_within_a_save_is_retried_into_redis(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    """1. a save whose hook takes 1.5 s; Redis is stopped 0.3 s in, back 0.6 s in
    Result: 200, written to Redis (the pool's dead connection retried), no fallback."""
    env = {**redis_env(private_redis, tmp_path), "TEST_SAVE_DELAY": "1.5"}
    with sdk_service(tmp_path, env=env) as server:
        timers = [later(0.3, private_redis.stop), later(0.6, private_redis.start_again)]
        code, body, _ = save_state(server.base_url)
        for timer in timers:
            timer.join()
    assert code == 200, body
    assert (body["store"], body["fallback"], body["ok"]) == ("redis", False, True)


def test_redis_down_through_a_save_falls_back_and_the_next_start_restores_it(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    """1. a position changes; Redis stops during the save and stays down past its retries
    2. Redis comes back; the service is killed (no shutdown save) and started again
    Result: the save answers 200 with fallback true and says why; the new process
    restores the fallback snapshot (newer than Redis's), the position included."""
    env = {**redis_env(private_redis, tmp_path), "TEST_SAVE_DELAY": "0.5"}
    with sdk_service(tmp_path, env=env) as server:
        assert save_state(server.base_url)[0] == 200  # an older snapshot in Redis
        httpx.put(server.base_url + "/positions/ETHUSDT", params={"quantity": 4}, timeout=5)
        later(0.2, private_redis.stop).join()
        code, body, took = save_state(server.base_url)
        private_redis.start_again()
        server.signal(signal.SIGKILL)
        server.wait_exit()
    assert code == 200, body
    assert (body["store"], body["fallback"]) == ("file", True)
    assert "primary store failed" in body["error"]
    assert took < 15
    with sdk_service(tmp_path, env=env) as server:
        status = httpx.get(server.base_url + "/admin/status", headers=AUTH, timeout=5).json()
        positions = httpx.get(server.base_url + "/positions", timeout=5).json()
    assert status["last_restore"]["ok"] is True
    assert status["last_restore"]["checksum"] == body["checksum"]
    assert positions["ETHUSDT"] == 4


def test_hung_redis_never_hangs_the_service(tmp_path: Path, private_redis: RedisServer) -> None:
    """1. Redis is the state store and the events bus; it freezes (SIGSTOP): it accepts
    connections and never answers
    2. pause, status, a save, then SIGTERM
    Result: pause and status answer within seconds; the save falls back to files
    within the save timeout (200, fallback true); SIGTERM drains, saves (fallback)
    and exits within its bounds."""
    env = {**redis_env(private_redis, tmp_path), "SHUTDOWN_REDIS_URL": private_redis.url}
    assert private_redis.process is not None
    with sdk_service(tmp_path, env=env) as server:
        os.kill(private_redis.process.pid, signal.SIGSTOP)
        try:
            timings = {}
            started = time.monotonic()
            pause = httpx.post(server.base_url + "/admin/pause", headers=AUTH, timeout=30)
            timings["pause"] = time.monotonic() - started
            started = time.monotonic()
            status = httpx.get(server.base_url + "/admin/status", headers=AUTH, timeout=30)
            timings["status"] = time.monotonic() - started
            code, body, timings["save"] = save_state(server.base_url)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            exit_code = server.wait_exit(timeout=60)
            timings["sigterm-to-exit"] = time.monotonic() - started
        finally:
            os.kill(private_redis.process.pid, signal.SIGCONT)
        output = server.output()
    print(f"\nhung redis, seconds: { {k: round(v, 1) for k, v in timings.items()} }")
    assert pause.status_code == 200, pause.text
    assert status.status_code == 200, status.text
    assert code == 200, body
    assert body["fallback"] is True
    assert exit_code in (-15, 143), output
    assert timings["pause"] < 5
    assert timings["status"] < 5
    assert timings["save"] < 20  # save_timeout (15 s) is the bound
    assert timings["sigterm-to-exit"] < 30
    assert list((tmp_path / "fallback").glob("svc.snapshot*.json"))


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_full_or_read_only_disk_answers_500_and_keeps_the_last_good_snapshot(
    tmp_path: Path, small_disk: Path, fault: str
) -> None:
    """1. the file store's disk fills up (ENOSPC) or turns read-only (EROFS) after a good save
    2. a save; then SIGTERM
    Result: the save answers 500 with the OS reason; no temp file left; the last
    good snapshot is intact; SIGTERM still exits (143) saying the snapshot was NOT
    written; the next start restores the last good snapshot."""
    state = small_disk / "state"
    env = {"SHUTDOWN_ADMIN_TOKEN": TOKEN, "SHUTDOWN_STATE_STORE": str(state)}
    with sdk_service(tmp_path, env=env) as server:
        good = save_state(server.base_url)[1]
        httpx.put(server.base_url + "/positions/ETHUSDT", params={"quantity": 9}, timeout=5)
        break_disk(small_disk, fault)
        code, body, _ = save_state(server.base_url)
        server.signal(signal.SIGTERM)
        exit_code = server.wait_exit(timeout=30)
        output = server.output()
    reason = "No space left on device" if fault == "full" else "Read-only file system"
    assert code == 500, body
    assert body["ok"] is False
    assert reason in body["error"]
    assert exit_code in (-15, 143), output
    assert "snapshot NOT written" in output
    assert sorted(p.name for p in state.iterdir()) == ["svc.snapshot.json"]
    snapshot = json.loads((state / "svc.snapshot.json").read_text())
    assert snapshot["checksum"] == good["checksum"]
    repair_disk(small_disk, fault)
    with sdk_service(tmp_path, env=env, name="svc") as server:
        status = httpx.get(server.base_url + "/admin/status", headers=AUTH, timeout=5).json()
        positions = httpx.get(server.base_url + "/positions", timeout=5).json()
    assert status["last_restore"]["checksum"] == good["checksum"]
    assert "ETHUSDT" not in positions  # the change after the last good save is lost: known
