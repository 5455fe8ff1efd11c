"""The one interface every infrastructure check implements (phase 3, ``check``).

One module per kind of check with its own pydantic config model (``kind`` is
the discriminator), listed once in ``checks/__init__.py``'s ``CHECKS`` registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class CheckConfig(BaseModel):
    """Base of every check's config model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    timeout_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    required: bool = True  # a failing non-required check is reported, not fatal


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``details`` are figures (latency, memory, free disk)."""

    name: str
    kind: str
    ok: bool
    duration_s: float
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Check(ABC):
    """Runs one infrastructure check; ``run`` never raises and never outlives ``timeout_s``."""

    kind: ClassVar[str]
    config_model: ClassVar[type[CheckConfig]]

    def __init__(self, config: CheckConfig) -> None:
        self.config = config

    @abstractmethod
    async def run(self) -> CheckResult: ...
