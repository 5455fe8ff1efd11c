"""The fleet lock: a second run is refused, stale locks are detected (file and Redis)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from restart_orchestrator.config import load_fleet
from restart_orchestrator.errors import LockHeld
from restart_orchestrator.lock import hold_fleet_lock

pytestmark = pytest.mark.anyio


def fleet_file(tmp_path: Path, location: str, key: str = "") -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(
        f'name = "trading"\nstate_store = "state"\n[lock]\nlocation = "{location}"\n'
        f'key = "{key}"\n'
        '[services.a]\nurl = "http://127.0.0.1:1"\ntoken_env = "T"\n'
        'backend = { kind = "command", start = "true", stop = "true" }\n'
    )
    return path


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_second_run_is_refused_with_the_owner(tmp_path: Path) -> None:
    fleet = load_fleet(fleet_file(tmp_path, "run.lock"))
    async with hold_fleet_lock(fleet, "run-1", "run") as notes:
        assert notes == []
        with pytest.raises(LockHeld) as caught:
            async with hold_fleet_lock(fleet, "run-2", "run"):
                pass
        message = str(caught.value.message)
        assert f"lock held by pid {os.getpid()} on host {socket.gethostname()} since " in message
        assert caught.value.exit_code == 4
    async with hold_fleet_lock(fleet, "run-3", "run") as notes:
        assert notes == []  # released cleanly: nothing stale


async def test_file_lock_left_by_a_dead_owner_is_reported(tmp_path: Path) -> None:
    fleet = load_fleet(fleet_file(tmp_path, "run.lock"))
    pid = dead_pid()
    (tmp_path / "run.lock").write_text(owner_record(pid))
    async with hold_fleet_lock(fleet, "run-1", "run") as notes:
        assert len(notes) == 1
        assert f"stale lock of pid {pid}" in notes[0]


async def test_redis_lock_refuses_a_second_run(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=f"{key_prefix}:lock"))
    async with hold_fleet_lock(fleet, "run-1", "run"):
        with pytest.raises(LockHeld, match=f"lock held by pid {os.getpid()} on host"):
            async with hold_fleet_lock(fleet, "run-2", "run"):
                pass
    async with hold_fleet_lock(fleet, "run-3", "run") as notes:
        assert notes == []


async def test_redis_lock_of_a_dead_process_on_this_host_is_broken(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    key = f"{key_prefix}:lock"
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=key))
    pid = dead_pid()
    client = redis.Redis.from_url(redis_url)
    client.set(key, "old-token", ex=3600)
    client.set(f"{key}:owner", owner_record(pid, token="old-token"))
    client.close()
    async with hold_fleet_lock(fleet, "run-1", "run") as notes:
        assert notes == [
            f"stale lock of pid {pid} on host {socket.gethostname()} since "
            "2026-12-04T04:00:00+00:00 broken (the process is gone)"
        ]


def owner_record(pid: int, *, host: str | None = None, token: str | None = None) -> str:
    """The owner record a run of 2026-12-04 04:00 left (this host unless ``host``)."""
    record: dict[str, object] = {
        "pid": pid,
        "host": host or socket.gethostname(),
        "started_at": "2026-12-04T04:00:00+00:00",
        "run_id": "old",
    }
    if token is not None:
        record["token"] = token
    return json.dumps(record)


async def test_stale_redis_lock_is_not_broken_under_a_contender_that_just_took_it(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    """1. the owner record still names a dead run (token A)
    2. a live contender has just taken the key (token B) and not yet written its record
    Result: the lock is refused and the contender's key is left alone (never two holders)."""
    key = f"{key_prefix}:lock"
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=key))
    client = redis.Redis.from_url(redis_url)
    client.set(key, "contender-token", ex=3600)
    client.set(f"{key}:owner", owner_record(dead_pid(), token="dead-token"))
    try:
        with pytest.raises(LockHeld, match="was taken while breaking a stale lock"):
            async with hold_fleet_lock(fleet, "run-1", "run"):
                pass
        assert client.get(key) == b"contender-token"
    finally:
        client.close()


async def test_redis_lock_owner_record_carries_the_lock_token(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    key = f"{key_prefix}:lock"
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=key))
    client = redis.Redis.from_url(redis_url)
    try:
        async with hold_fleet_lock(fleet, "run-1", "run"):
            record = json.loads(client.get(f"{key}:owner") or b"")
            assert record["token"].encode() == client.get(key)
            assert record["pid"] == os.getpid()
    finally:
        client.close()


async def test_redis_lock_expired_by_its_ttl_is_reported(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    key = f"{key_prefix}:lock"
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=key))
    client = redis.Redis.from_url(redis_url)
    client.set(f"{key}:owner", owner_record(1, host="other-host"))
    client.close()
    async with hold_fleet_lock(fleet, "run-1", "run") as notes:
        assert "had expired (TTL) without being released" in notes[0]


async def test_redis_lock_held_on_another_host_is_respected(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    key = f"{key_prefix}:lock"
    fleet = load_fleet(fleet_file(tmp_path, redis_url, key=key))
    client = redis.Redis.from_url(redis_url)
    client.set(key, "someone", ex=3600)
    client.set(f"{key}:owner", owner_record(1, host="other-host"))
    client.close()
    with pytest.raises(LockHeld, match=r"lock held by pid 1 on host other-host since .*expires in"):
        async with hold_fleet_lock(fleet, "run-1", "run"):
            pass
