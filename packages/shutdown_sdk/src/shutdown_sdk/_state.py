"""Lifecycle states: starting -> ready <-> paused -> draining -> saving -> closing -> stopped."""

from __future__ import annotations

import enum


class LifecycleState(enum.StrEnum):
    """Where a service is in its life; shown in status, health, logs, events and metrics."""

    STARTING = "starting"  # restoring state; not ready yet
    READY = "ready"  # serving, background work running
    PAUSED = "paused"  # serving HTTP, background work taking no new work
    DRAINING = "draining"  # refusing new requests, waiting for in-flight ones and work
    SAVING = "saving"  # save hooks run, snapshot written
    CLOSING = "closing"  # closers run in reverse order
    STOPPED = "stopped"  # the server is exiting

    @property
    def serving(self) -> bool:
        """Whether the service should receive traffic in this state."""
        return self in (LifecycleState.READY, LifecycleState.PAUSED)

    @property
    def stopping(self) -> bool:
        """Whether the exit sequence has begun."""
        return self in _STOPPING


_STOPPING = frozenset(
    {
        LifecycleState.DRAINING,
        LifecycleState.SAVING,
        LifecycleState.CLOSING,
        LifecycleState.STOPPED,
    }
)
