"""Prometheus metrics (the ``metrics`` extra): in-flight, state, open work, drain and save times.

Each lifecycle has its own registry, so several apps in one process do not collide;
values that change per request are read when scraped, never updated on the hot path.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from shutdown_sdk._state import LifecycleState

if TYPE_CHECKING:
    from shutdown_sdk._lifecycle import Lifecycle


def metrics_available() -> bool:
    return importlib.util.find_spec("prometheus_client") is not None


class LifecycleMetrics:
    """The lifecycle's metrics, served at ``/metrics``."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError(
                "metrics need prometheus-client: pip install 'shutdown-sdk[metrics]'"
            ) from exc
        self.registry = prom.CollectorRegistry()
        labels = {"service": lifecycle.service}
        work = lifecycle.work
        in_flight = prom.Gauge(
            "shutdown_sdk_in_flight_requests",
            "HTTP requests and websocket sessions in flight.",
            labelnames=list(labels),
            registry=self.registry,
        )
        in_flight.labels(**labels).set_function(lambda: work.in_flight)
        self._work = prom.Gauge(
            "shutdown_sdk_open_work_units",
            "Tracked work units open, by kind.",
            labelnames=["service", "kind"],
            registry=self.registry,
        )
        self._state = prom.Enum(
            "shutdown_sdk_state",
            "Lifecycle state.",
            labelnames=list(labels),
            states=[s.value for s in LifecycleState],
            registry=self.registry,
        )
        self._drain = prom.Histogram(
            "shutdown_sdk_drain_seconds",
            "Time from the shutdown request to no work left (or the deadline).",
            labelnames=list(labels),
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self._save = prom.Histogram(
            "shutdown_sdk_save_seconds",
            "Time to run the save hooks and write the snapshot.",
            labelnames=[*labels, "ok"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
        )
        self._labels = labels
        self._lifecycle = lifecycle
        self._generate = prom.generate_latest
        self._content_type = prom.CONTENT_TYPE_LATEST
        self.state_changed(lifecycle.state)

    def state_changed(self, state: LifecycleState) -> None:
        self._state.labels(**self._labels).state(state.value)

    def drained(self, seconds: float) -> None:
        self._drain.labels(**self._labels).observe(seconds)

    def saved(self, seconds: float, ok: bool) -> None:
        self._save.labels(**self._labels, ok=str(ok).lower()).observe(seconds)

    def render(self) -> bytes:
        self._work.clear()
        for kind, count in self._lifecycle.work.counts_by_kind().items():
            self._work.labels(service=self._lifecycle.service, kind=kind).set(count)
        payload: bytes = self._generate(self.registry)
        return payload

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Serve ``GET /metrics`` in front of ``app``."""

        async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/metrics":
                body = self.render()
                headers = [
                    (b"content-type", self._content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)

        return metrics_app
