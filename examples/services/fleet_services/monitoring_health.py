"""monitoring-health (port 8005): the fleet's restart history.

It follows two Redis streams: the SDK's lifecycle events (``SHUTDOWN_EVENTS_STREAM``,
every service's state changes, saves, restores, drains) and restartctl's run events
(``FLEET_RESTART_EVENTS_STREAM``: ``restart.scheduled``, ``service.stopped``,
``service.started``, ``restart.completed`` / ``failed`` / ``blocked``, ``alert``). The
position read in each stream is part of its saved state, so after its own restart it
picks up the events published while it was down: its history has no gap.

    uvicorn fleet_services.monitoring_health:app --port 8005
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import FastAPI, Query

from fleet_services import __version__
from fleet_services._common import FleetSettings, connect_redis, fleet_lifespan
from shutdown_sdk import Lifecycle, admin_router

logger = logging.getLogger("fleet_services.monitoring_health")

HISTORY_LIMIT = 5_000
RUNS_LIMIT = 200
RUN_ENDS = {"restart.completed", "restart.failed", "restart.blocked"}

settings = FleetSettings()
lifecycle = Lifecycle("monitoring-health", version=__version__)
redis = connect_redis(settings, lifecycle)
streams = {
    "lifecycle": lifecycle.settings.events_stream,
    "restart": settings.restart_events_stream,
}


class History:
    """Every event seen, in stream order, and the restart runs made of them."""

    def __init__(self) -> None:
        self.last_ids = dict.fromkeys(streams, "0")
        self.events: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def record(self, source: str, entry_id: str, fields: dict[str, str]) -> None:
        if _stream_id(entry_id) <= _stream_id(self.last_ids[source]):
            return  # already seen (the save hook and the reader may both fetch it)
        self.last_ids[source] = entry_id
        try:
            data = json.loads(fields.get("data") or "{}")
        except ValueError:
            data = {"raw": fields.get("data")}
        event = {
            "source": source,
            "id": entry_id,
            "type": fields.get("type"),
            "service": fields.get("service") or data.get("service"),
            "ts": fields.get("ts"),
            "data": data,
        }
        self.events.append(event)
        del self.events[:-HISTORY_LIMIT]
        if source == "restart":
            self._follow_run(event)

    def _follow_run(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        run_id = event["data"].get("run_id")
        run = self.runs[-1] if self.runs and self.runs[-1]["outcome"] is None else None
        if run is None and kind == "alert" and self.runs and self.runs[-1]["run_id"] == run_id:
            run = self.runs[-1]  # published after its end (restart failed, took too long)
        if run is None or kind == "restart.scheduled":
            run = {
                "run_id": run_id,
                "started_at": event["ts"],
                "ended_at": None,
                "outcome": None,
                "stopped": [],
                "started": [],
                "alerts": [],
                "reason": None,
            }
            self.runs.append(run)
            del self.runs[:-RUNS_LIMIT]
        if kind == "service.stopped":
            run["stopped"].append(event["service"])
        elif kind == "service.started":
            run["started"].append(event["service"])
        elif kind == "alert":
            run["alerts"].append(event["data"].get("reason"))
        elif kind in RUN_ENDS:
            run["run_id"] = run["run_id"] or run_id  # a recovery announces itself at its end
            run["outcome"] = kind.removeprefix("restart.")
            run["ended_at"] = event["ts"]
            run["reason"] = event["data"].get("reason")
            if event["data"].get("recovered"):
                run["outcome"] = "recovered"

    def state(self) -> dict[str, Any]:
        return {"last_ids": self.last_ids, "events": self.events, "runs": self.runs}

    def restore(self, saved: dict[str, Any]) -> None:
        self.last_ids.update(saved.get("last_ids", {}))
        self.events = list(saved.get("events", []))
        self.runs = list(saved.get("runs", []))


def _stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


history = History()


async def follow_streams() -> None:
    """Read both streams from where the last run of this service stopped, until it stops."""
    names = {stream: source for source, stream in streams.items()}
    while not lifecycle.stopping.is_set():
        try:
            batches: Any = await redis.xread(
                {stream: history.last_ids[source] for source, stream in streams.items()},
                count=200,
                block=300,
            )
        except Exception:
            logger.exception("monitoring-health: reading the event streams failed")
            await asyncio.sleep(1)
            continue
        for stream, entries in batches or []:
            for entry_id, fields in entries:
                history.record(names[stream], entry_id, fields)


@lifecycle.on_save_state("history")
async def save_history() -> dict[str, Any]:
    # Read what was published up to now (the fleet's last stops) before saving.
    for source, stream in streams.items():
        entries: Any = await redis.xrange(stream, min=f"({history.last_ids[source]}")
        for entry_id, fields in entries:
            history.record(source, entry_id, fields)
    return history.state()


@lifecycle.on_restore_state("history")
def restore_history(saved: dict[str, Any]) -> None:
    history.restore(saved)


app = FastAPI(
    title="monitoring-health",
    version=__version__,
    lifespan=lambda app: fleet_lifespan(lifecycle, settings, app, follow_streams),
)
lifecycle.install(app)
app.include_router(admin_router)


@app.get("/history")
async def get_history(
    limit: int = Query(default=500, gt=0, le=HISTORY_LIMIT),
    source: str | None = Query(default=None, pattern="^(lifecycle|restart)$"),
) -> dict[str, Any]:
    """The latest events, oldest first (``source``: lifecycle or restart)."""
    events = [e for e in history.events if source is None or e["source"] == source]
    return {"events": events[-limit:], "streams": streams, "last_ids": history.last_ids}


@app.get("/restarts")
async def get_restarts() -> dict[str, Any]:
    """Each restart run: which services stopped and started, in which order, and how it ended."""
    return {"runs": history.runs}
