"""The one interface every backend implements: how a service is stopped and started.

A backend knows the *process*; the service's own readiness is judged by the
orchestrator through ``/health/ready``. Each backend lives in its own module
with its own pydantic config model (``kind`` is the discriminator), and is
listed once in ``backends/__init__.py``'s ``BACKENDS`` registry.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ProcessState(enum.StrEnum):
    """What a backend can tell about a service's process."""

    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"  # exited on its own / crash loop / rollout failed
    UNKNOWN = "unknown"


class BackendError(Exception):
    """A backend could not do what was asked; the message says why and what to check."""


class BackendConfig(BaseModel):
    """Base of every backend's config model (one per backend module)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ServiceTarget:
    """What a backend needs to know about the service it acts on."""

    name: str
    url: str  # base URL of the service's HTTP API (admin + health)
    admin_token: str | None  # already resolved from env/file; never logged
    shutdown_grace_s: float  # graceful stop bound; after it the backend forces
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StopResult:
    """How a stop went: ``forced`` when the grace period passed and the backend killed it."""

    graceful: bool
    forced: bool
    duration_s: float
    detail: str = ""


class Backend(ABC):
    """Stops, starts and inspects one service's process.

    ``stop`` returns once the process is gone (graceful within
    ``target.shutdown_grace_s``, else forced); ``start`` returns once the
    process was launched (readiness is the orchestrator's job); ``state``
    never blocks longer than a few seconds.
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[BackendConfig]]

    def __init__(self, config: BackendConfig, target: ServiceTarget) -> None:
        self.config = config
        self.target = target

    @abstractmethod
    async def stop(self) -> StopResult: ...

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def state(self) -> ProcessState: ...

    async def aclose(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release clients the backend holds."""
