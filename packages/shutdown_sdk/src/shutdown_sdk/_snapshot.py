"""The snapshot a service saves at shutdown and restores at startup."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class SnapshotError(Exception):
    """A snapshot could not be read: unparsable, or its checksum does not match its state."""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form the checksum is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def checksum_of(state: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(state).encode()).hexdigest()


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Snapshot:
    """Saved state of one service: hook key -> value, plus what is needed to trust it.

    >>> snap = Snapshot.build("execution", "1.0", {"positions": {"BTC": 1.5}})
    >>> Snapshot.from_json(snap.to_json()).state
    {'positions': {'BTC': 1.5}}
    """

    service: str
    version: str
    saved_at: str
    checksum: str
    state: dict[str, Any]
    paused: bool = False
    shutdown: dict[str, Any] | None = None
    stale: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        service: str,
        version: str,
        state: dict[str, Any],
        *,
        paused: bool = False,
        shutdown: dict[str, Any] | None = None,
        stale: list[str] | None = None,
    ) -> Snapshot:
        return cls(
            service=service,
            version=version,
            saved_at=utc_now_iso(),
            checksum=checksum_of(state),
            state=state,
            paused=paused,
            shutdown=shutdown,
            stale=stale or [],
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "service": self.service,
                "version": self.version,
                "saved_at": self.saved_at,
                "checksum": self.checksum,
                "paused": self.paused,
                "shutdown": self.shutdown,
                "stale": self.stale,
                "state": self.state,
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Snapshot:
        try:
            data = json.loads(raw)
            snapshot = cls(
                service=str(data["service"]),
                version=str(data["version"]),
                saved_at=str(data["saved_at"]),
                checksum=str(data["checksum"]),
                state=dict(data["state"]),
                paused=bool(data.get("paused", False)),
                shutdown=data.get("shutdown"),
                stale=list(data.get("stale") or []),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"unreadable snapshot: {exc}") from exc
        if checksum_of(snapshot.state) != snapshot.checksum:
            raise SnapshotError(
                f"snapshot of {snapshot.service} saved at {snapshot.saved_at} fails its "
                "checksum: refusing to restore it (roll back to the previous snapshot)"
            )
        return snapshot
