"""The run report: phases, services, timings, gate waits, failures, orders lost, checks.

Written as JSON to ``--report PATH``; the timeline picture and the metrics are
drawn from it. Times in ``spans`` are seconds since the run started.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restart_orchestrator.checks.base import CheckResult
from restart_orchestrator.journal import write_atomically


@dataclass
class Span:
    """One timed thing on the timeline: a phase, or a service's stop/start/pause."""

    lane: str  # "phase" or the service name
    label: str
    start_s: float
    end_s: float
    ok: bool = True


@dataclass
class ServiceReport:
    """What happened to one service."""

    paused: bool = False
    resumed: bool = False
    stop: dict[str, Any] | None = None
    start: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    orders_lost: list[Any] = field(default_factory=list)


@dataclass
class RunReport:
    """Everything a run did, as it goes; ``to_json`` is the file format."""

    fleet: str
    run_id: str
    command: str
    scope: list[str]
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    finished_at: str | None = None
    outcome: str = "running"  # completed | failed | blocked | recovered | refused
    exit_code: int | None = None
    duration_s: float = 0.0
    phases: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, ServiceReport] = field(default_factory=dict)
    gate: dict[str, Any] = field(
        default_factory=lambda: {"waited_s": 0.0, "polls": 0, "blocked": {}}
    )
    checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    orders_lost: dict[str, list[Any]] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def now_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._t0

    def service(self, name: str) -> ServiceReport:
        return self.services.setdefault(name, ServiceReport())

    @contextmanager
    def timed(self, lane: str, label: str) -> Iterator[Span]:
        """Record a span around the block; it is marked failed when the block raises."""
        span = Span(lane, label, self.now_s(), self.now_s())
        self.spans.append(span)
        try:
            yield span
        except BaseException:
            span.ok = False
            raise
        finally:
            span.end_s = self.now_s()

    def add_check(self, result: CheckResult, phase: str) -> None:
        self.checks.append({**dataclasses.asdict(result), "phase": phase})

    def finish(self, outcome: str, exit_code: int) -> None:
        self.outcome = outcome
        self.exit_code = exit_code
        self.duration_s = round(self.now_s(), 3)
        self.finished_at = dt.datetime.now(dt.UTC).isoformat()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("_t0")
        return data

    def write(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.to_json(), indent=2, default=str).encode())
