"""The fleet lock: one run at a time, across cron, timers and operators.

A ``redis://`` location uses redis-py's :class:`redis.asyncio.lock.Lock`
(expires after ``lock.ttl``, longer than the worst-case run) plus an owner
record; anything else is a file locked with ``fcntl.flock`` (released by the
kernel when its owner dies) holding the owner's pid, host and start time.
Stale locks (owner dead on this host, TTL expired) are detected and reported.

    async with hold_fleet_lock(fleet, run_id) as notes:
        ...  # notes: stale locks taken over, for the report
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from restart_orchestrator.config import Fleet
from restart_orchestrator.errors import LockHeld


@dataclass(frozen=True)
class LockOwner:
    """Who holds (or held) the lock."""

    pid: int
    host: str
    started_at: str
    run_id: str
    command: str

    @classmethod
    def me(cls, run_id: str, command: str) -> LockOwner:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), now, run_id, command)

    @classmethod
    def parse(cls, raw: bytes | str | None) -> LockOwner | None:
        try:
            data: dict[str, Any] = json.loads(raw or "")
            return cls(
                int(data["pid"]),
                str(data["host"]),
                str(data["started_at"]),
                str(data.get("run_id", "")),
                str(data.get("command", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} since {self.started_at}"

    def dead_here(self) -> bool:
        """True when the owner ran on this host and its process is gone."""
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def alive_here(self) -> bool:
        """True when the owner runs on this host and its process is still there."""
        return self.host == socket.gethostname() and _pid_alive(self.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def journal_owner_alive(journal: dict[str, Any]) -> bool:
    """True when the process that wrote a run journal still runs on this host."""
    try:
        pid = int(journal["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    return journal.get("host") == socket.gethostname() and _pid_alive(pid)


class FileLock:
    """``fcntl.flock`` on a file holding the owner record (same host only)."""

    def __init__(self, path: Path, owner: LockOwner) -> None:
        self.path = path
        self.owner = owner
        self._fd: int | None = None

    async def acquire(self) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockOwner.parse(_read_fd(fd))
            os.close(fd)
            # Read without the lock: a winner between its flock and its write still shows
            # the previous (dead) owner's record, or none.
            fresh = holder is not None and not holder.dead_here()
            who = holder.describe() if fresh and holder else "a run that is just starting"
            raise LockHeld(f"lock held by {who} ({self.path})") from None
        notes: list[str] = []
        previous = LockOwner.parse(_read_fd(fd))
        if previous is not None:
            notes.append(
                f"stale lock of {previous.describe()} found in {self.path} (its owner "
                "is no longer running); taken over"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.owner)).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return notes

    async def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_fd(fd: int) -> bytes:
    return os.pread(fd, 4096, 0)


#: Delete the lock key only if it still holds the given token: breaking a stale lock must
#: never delete a lock that a live contender took meanwhile.
_DELETE_IF_TOKEN = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisFleetLock:
    """redis-py's Lock with a TTL, plus an owner record (with the lock's token) kept until
    released."""

    def __init__(self, url: str, key: str, ttl_s: float, owner: LockOwner) -> None:
        from redis.asyncio import Redis

        self.client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key = key
        self.owner_key = f"{key}:owner"
        self.owner = owner
        self.lock = self.client.lock(key, timeout=ttl_s, blocking=False)

    async def acquire(self) -> list[str]:
        from redis.exceptions import RedisError

        notes: list[str] = []
        try:
            acquired = await self.lock.acquire()
            raw = await self.client.get(self.owner_key)
            holder = LockOwner.parse(raw)
            if not acquired:
                ttl_ms = await self.client.pttl(self.key)
                who = holder.describe() if holder else "an unknown owner"
                expiry = f", expires in {ttl_ms // 1000} s" if ttl_ms > 0 else ""
                held = LockHeld(f"lock held by {who} (redis key {self.key}{expiry})")
                if holder is None or not holder.dead_here():
                    raise held
                # The record may be a dead owner's while a live contender has just taken
                # the key: delete the key only if it is still the dead owner's.
                token = _owner_token(raw)
                if not token or not await self.client.eval(_DELETE_IF_TOKEN, 1, self.key, token):
                    raise LockHeld(f"lock {self.key} was taken while breaking a stale lock")
                if not await self.lock.acquire():
                    raise LockHeld(f"lock {self.key} was taken while breaking a stale lock")
                notes.append(f"stale lock of {holder.describe()} broken (the process is gone)")
            elif holder is not None:
                notes.append(
                    f"stale lock of {holder.describe()} had expired (TTL) without "
                    "being released; taken over"
                )
            token = self.lock.local.token
            record = {
                **asdict(self.owner),
                "token": token.decode() if isinstance(token, bytes) else str(token),
            }
            await self.client.set(self.owner_key, json.dumps(record))
        except RedisError as exc:
            await self.client.aclose()
            raise LockHeld(f"cannot take the lock {self.key}: Redis error: {exc}") from exc
        except BaseException:
            await self.client.aclose()
            raise
        return notes

    async def release(self) -> None:
        from redis.exceptions import LockError, RedisError

        try:
            with contextlib.suppress(LockError):  # expired: the TTL was too short
                await self.lock.release()
            holder = LockOwner.parse(await self.client.get(self.owner_key))
            if holder is not None and holder.run_id == self.owner.run_id:
                await self.client.delete(self.owner_key)
        except RedisError:
            pass  # the TTL frees the lock; the owner record then reads as stale
        finally:
            await self.client.aclose()


def _owner_token(raw: bytes | str | None) -> str | None:
    try:
        token = json.loads(raw or "").get("token")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def open_fleet_lock(fleet: Fleet, run_id: str, command: str) -> FileLock | RedisFleetLock:
    """The lock configured for ``fleet``."""
    owner = LockOwner.me(run_id, command)
    location = fleet.lock_location
    if location.startswith(("redis://", "rediss://", "unix://")):
        key = fleet.config.lock.key or f"restartctl:{fleet.name}:lock"
        return RedisFleetLock(location, key, fleet.config.lock.ttl, owner)
    return FileLock(Path(location), owner)


@contextlib.asynccontextmanager
async def hold_fleet_lock(fleet: Fleet, run_id: str, command: str) -> AsyncIterator[list[str]]:
    """Hold the fleet lock for the block; ``LockHeld`` (exit 4) when another run has it."""
    lock = open_fleet_lock(fleet, run_id, command)
    notes = await lock.acquire()
    try:
        yield notes
    finally:
        await lock.release()
