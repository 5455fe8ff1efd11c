"""What the service is busy with: in-flight HTTP requests and tracked work units (beacons).

The middleware touches only two attributes here (``in_flight`` and ``quiet``)
so the per-request cost stays a couple of integer operations.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkUnit:
    """One open piece of work, e.g. an order between acceptance and exchange ack."""

    kind: str
    id: str | None
    started: float  # time.monotonic()

    def as_dict(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "age_s": round(now - self.started, 3)}


class WorkTracker:
    """Counts in-flight requests and open work units; wakes the drain when both reach zero."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._units: dict[int, WorkUnit] = {}
        self._ids = itertools.count()
        # Set by the drain while it waits; the middleware pokes it when a request ends.
        self.quiet: asyncio.Event | None = None
        self._interrupted = False

    @property
    def open_units(self) -> list[WorkUnit]:
        return list(self._units.values())

    @property
    def busy(self) -> bool:
        return self.in_flight > 0 or bool(self._units)

    def counts_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for unit in self._units.values():
            counts[unit.kind] = counts.get(unit.kind, 0) + 1
        return counts

    def units_by_kind(self) -> dict[str, list[dict[str, Any]]]:
        now = time.monotonic()
        listing: dict[str, list[dict[str, Any]]] = {}
        for unit in self._units.values():
            listing.setdefault(unit.kind, []).append(unit.as_dict(now))
        return listing

    def poke(self) -> None:
        """Wake a waiting drain if there is nothing left to wait for."""
        if self.quiet is not None and not self.busy:
            self.quiet.set()

    def interrupt(self) -> None:
        """Stop a waiting drain now (a second SIGTERM: the operator wants out)."""
        self._interrupted = True
        if self.quiet is not None:
            self.quiet.set()

    @asynccontextmanager
    async def track(self, kind: str, id: object = None) -> AsyncIterator[WorkUnit]:
        token = next(self._ids)
        unit = WorkUnit(kind, None if id is None else str(id), time.monotonic())
        self._units[token] = unit
        try:
            yield unit
        finally:
            del self._units[token]
            self.poke()

    async def wait_quiet(self, timeout: float) -> bool:
        """Wait until no request is in flight and no unit is open; ``False`` at the deadline."""
        if not self.busy or self._interrupted:
            return not self.busy
        quiet = self.quiet = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                while self.busy and not self._interrupted:
                    quiet.clear()
                    await quiet.wait()
        except TimeoutError:
            pass
        finally:
            self.quiet = None
        return not self.busy
