"""Snapshot stores: atomic file writes, previous kept, rollback, checksums, Redis."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from shutdown_sdk import FileStateStore, RedisStateStore, Snapshot, SnapshotError, open_state_store


def snap(value: int) -> Snapshot:
    return Snapshot.build("svc", "1", {"n": value})


def test_file_store_keeps_the_previous_snapshot_and_rolls_back(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "svc")

    async def scenario() -> None:
        assert await store.load() is None
        await store.save(snap(1))
        await store.save(snap(2))
        assert (await store.load()).state == {"n": 2}  # type: ignore[union-attr]
        assert (await store.load_previous()).state == {"n": 1}  # type: ignore[union-attr]
        assert await store.rollback() is True
        assert (await store.load()).state == {"n": 1}  # type: ignore[union-attr]
        assert await store.rollback() is False

    asyncio.run(scenario())
    assert not list(tmp_path.glob("*.tmp")), "no temp file left behind"
    assert json.loads((tmp_path / "svc.snapshot.rolled-back.json").read_text())["state"] == {"n": 2}


def test_a_tampered_snapshot_is_refused(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, "svc")
    asyncio.run(store.save(snap(1)))
    path = tmp_path / "svc.snapshot.json"
    data = json.loads(path.read_text())
    data["state"]["n"] = 999
    path.write_text(json.dumps(data))
    with pytest.raises(SnapshotError, match="checksum"):
        asyncio.run(store.load())


def test_a_save_into_a_read_only_directory_fails_loudly(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores directory permissions: use a path under a regular file instead.
        blocker = tmp_path / "file"
        blocker.write_text("")
        store = FileStateStore(blocker / "state", "svc")
    else:
        tmp_path.chmod(0o500)
        store = FileStateStore(tmp_path, "svc")
    with pytest.raises(OSError, match=r"\S"):
        asyncio.run(store.save(snap(1)))


def test_redis_store_round_trip_and_rollback(redis_url: str, key_prefix: str) -> None:
    async def scenario() -> None:
        store = RedisStateStore(redis_url, "svc", key_prefix=key_prefix)
        try:
            await store.save(snap(1))
            receipt = await store.save(snap(2))
            assert receipt.key == f"{key_prefix}:svc:snapshot"
            assert not receipt.fallback
            assert (await store.load_previous()).state == {"n": 1}  # type: ignore[union-attr]
            assert await store.rollback() is True
            assert (await store.load()).state == {"n": 1}  # type: ignore[union-attr]
        finally:
            await store.aclose()

    asyncio.run(scenario())


def test_redis_unreachable_falls_back_to_files(tmp_path: Path) -> None:
    from tests.support import free_port

    async def scenario() -> None:
        store = open_state_store(f"redis://127.0.0.1:{free_port()}/0", "svc", fallback_dir=tmp_path)
        assert isinstance(store, RedisStateStore)
        store.backoff = 0.01
        receipt = await store.save(snap(3))
        assert receipt.fallback
        assert receipt.store == "file"
        assert receipt.error
        assert (await store.load()).state == {"n": 3}  # type: ignore[union-attr]
        await store.aclose()

    asyncio.run(scenario())


def test_open_state_store_picks_the_kind() -> None:
    assert open_state_store("/tmp/x", "svc").kind == "file"
    assert open_state_store("file:///tmp/x", "svc").kind == "file"
    assert open_state_store("redis://localhost:1/0", "svc").kind == "redis"
