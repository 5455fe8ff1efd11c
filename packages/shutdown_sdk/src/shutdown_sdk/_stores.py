"""Where snapshots live: a Redis store for production, an atomic file store as the default.

Both keep the snapshot before the current one, so a bad restart can be rolled
back (``rollback()``, used by the orchestrator while the service is down).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shutdown_sdk._snapshot import Snapshot

logger = logging.getLogger("shutdown_sdk")


@dataclass(frozen=True)
class SaveReceipt:
    """Where and how a snapshot was written."""

    store: str  # "redis" or "file"
    key: str
    size_bytes: int
    fallback: bool = False
    error: str | None = None  # why the primary store was not used, when fallback


@runtime_checkable
class StateStore(Protocol):
    """The interface both stores implement."""

    kind: str

    async def save(self, snapshot: Snapshot) -> SaveReceipt: ...

    async def load(self) -> Snapshot | None: ...

    async def load_previous(self) -> Snapshot | None: ...

    async def rollback(self) -> bool: ...

    async def aclose(self) -> None: ...


class FileStateStore:
    """Snapshots as JSON files, written atomically (temp file, fsync, rename, fsync dir).

    >>> import asyncio, tempfile
    >>> store = FileStateStore(tempfile.mkdtemp(), "risk-safety")
    >>> _ = asyncio.run(store.save(Snapshot.build("risk-safety", "1", {"ess": "armed"})))
    >>> asyncio.run(store.load()).state
    {'ess': 'armed'}
    """

    kind = "file"

    def __init__(self, directory: str | os.PathLike[str], service: str) -> None:
        self.directory = Path(directory)
        self.service = service
        self.current = self.directory / f"{service}.snapshot.json"
        self.previous = self.directory / f"{service}.snapshot.previous.json"

    async def save(self, snapshot: Snapshot) -> SaveReceipt:
        return await asyncio.to_thread(self._save_sync, snapshot.to_json().encode())

    def _save_sync(self, payload: bytes) -> SaveReceipt:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.service}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            if self.current.exists():
                os.replace(self.current, self.previous)
            os.replace(tmp, self.current)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._fsync_directory()
        return SaveReceipt(store="file", key=str(self.current), size_bytes=len(payload))

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def load(self) -> Snapshot | None:
        snapshot = await asyncio.to_thread(self._read, self.current)
        if snapshot is None and self.previous.exists():
            # A crash between the two renames of a save leaves only the previous file.
            return await self.load_previous()
        return snapshot

    async def load_previous(self) -> Snapshot | None:
        return await asyncio.to_thread(self._read, self.previous)

    @staticmethod
    def _read(path: Path) -> Snapshot | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        return Snapshot.from_json(raw)

    async def rollback(self) -> bool:
        return await asyncio.to_thread(self._rollback_sync)

    def _rollback_sync(self) -> bool:
        if not self.previous.exists():
            return False
        if self.current.exists():
            os.replace(self.current, self.directory / f"{self.service}.snapshot.rolled-back.json")
        os.replace(self.previous, self.current)
        self._fsync_directory()
        return True

    async def aclose(self) -> None:
        return None


class RedisStateStore:
    """Snapshots in Redis; on failure during a save, retry with backoff, then fall back.

    The fallback is a :class:`FileStateStore`; ``load()`` reads both and returns the
    newer, so a snapshot written to the fallback while Redis was down is not forgotten.
    """

    kind = "redis"

    def __init__(
        self,
        url: str,
        service: str,
        *,
        key_prefix: str = "shutdown-sdk",
        fallback: FileStateStore | None = None,
        attempts: int = 4,
        backoff: float = 0.1,
        socket_timeout: float = 2.0,
    ) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.service = service
        self.current = f"{key_prefix}:{service}:snapshot"
        self.previous = f"{self.current}:previous"
        self.fallback = fallback
        self.attempts = attempts
        self.backoff = backoff
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )

    async def _with_retries(self, operation: str, call: Any) -> Any:
        from redis.exceptions import RedisError

        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except (RedisError, OSError) as exc:
                if attempt == self.attempts:
                    raise
                logger.warning(
                    "redis %s failed (attempt %d/%d): %s", operation, attempt, self.attempts, exc
                )
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def save(self, snapshot: Snapshot) -> SaveReceipt:
        from redis.exceptions import RedisError

        payload = snapshot.to_json()

        async def write() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.copy(self.current, self.previous, replace=True)
                pipe.set(self.current, payload)
                await pipe.execute()

        try:
            await self._with_retries("save", write)
        except (RedisError, OSError) as exc:
            if self.fallback is None:
                raise
            receipt = await self.fallback.save(snapshot)
            logger.error("redis save failed (%s); snapshot written to %s", exc, receipt.key)
            return SaveReceipt(
                store="file",
                key=receipt.key,
                size_bytes=receipt.size_bytes,
                fallback=True,
                error=f"{type(exc).__name__}: {exc}",
            )
        return SaveReceipt(store="redis", key=self.current, size_bytes=len(payload.encode()))

    async def _get(self, key: str) -> Snapshot | None:
        raw = await self._with_retries("load", lambda: self._redis.get(key))
        return None if raw is None else Snapshot.from_json(raw)

    async def load(self) -> Snapshot | None:
        from redis.exceptions import RedisError

        try:
            primary = await self._get(self.current)
        except (RedisError, OSError):
            if self.fallback is None:
                raise
            logger.error("redis unavailable at restore; reading the fallback file store")
            return await self.fallback.load()
        secondary = await self.fallback.load() if self.fallback is not None else None
        if secondary is not None and (primary is None or secondary.saved_at > primary.saved_at):
            logger.warning("restoring the fallback file snapshot: it is newer than redis's")
            return secondary
        return primary

    async def load_previous(self) -> Snapshot | None:
        return await self._get(self.previous)

    async def rollback(self) -> bool:
        async def swap() -> bool:
            if not await self._redis.exists(self.previous):
                return False
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.copy(self.current, f"{self.current}:rolled-back", replace=True)
                pipe.rename(self.previous, self.current)
                await pipe.execute()
            return True

        rolled: bool = await self._with_retries("rollback", swap)
        if self.fallback is not None:
            # The fallback may hold a newer snapshot that load() would prefer: roll it back too.
            await self.fallback.rollback()
        return rolled

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_state_store(
    location: str,
    service: str,
    *,
    key_prefix: str = "shutdown-sdk",
    fallback_dir: str | os.PathLike[str] | None = None,
) -> StateStore:
    """Open the store a location names: ``redis://``/``rediss://``/``unix://`` URL, or a directory.

    >>> open_state_store("/var/lib/fleet/state", "execution").kind
    'file'
    """
    if location.startswith(("redis://", "rediss://", "unix://")):
        fallback = FileStateStore(fallback_dir, service) if fallback_dir is not None else None
        return RedisStateStore(location, service, key_prefix=key_prefix, fallback=fallback)
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    return FileStateStore(location, service)
