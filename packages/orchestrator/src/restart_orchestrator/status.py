"""``restartctl status``: every service's state, in-flight work and readiness at a glance."""

from __future__ import annotations

import asyncio
from typing import Any

from restart_orchestrator.admin import AdminClient, AdminError
from restart_orchestrator.backends.base import BackendError
from restart_orchestrator.config import Fleet, resolve_token
from restart_orchestrator.errors import ConfigError
from restart_orchestrator.journal import needs_recovery, read_journal


async def service_status(fleet: Fleet, name: str) -> dict[str, Any]:
    """/health, /health/ready and the backend's view of one service (no token needed)."""
    from restart_orchestrator.run import build_backend

    service = fleet.services[name]
    try:
        token: str | None = resolve_token(fleet, name)
    except ConfigError:
        token = None  # health routes need none; the backend may still answer
    row: dict[str, Any] = {
        "service": name,
        "url": service.url,
        "state": "unreachable",
        "paused": None,
        "ready": False,
        "in_flight": None,
        "work": {},
        "process": "unknown",
        "error": None,
    }
    async with AdminClient(name, service.url, None, timeout_s=service.request_timeout) as client:
        try:
            status, body = await client.health()
            row.update(
                state=body.get("state", f"http {status}"),
                paused=body.get("paused"),
                in_flight=body.get("in_flight"),
                work=body.get("work") or {},
                version=body.get("version"),
                uptime_s=body.get("uptime_s"),
            )
        except AdminError as exc:
            row["error"] = str(exc)
        row["ready"] = await client.ready()
    backend = build_backend(fleet, name, token)
    try:
        row["process"] = str(await backend.state())
    except BackendError as exc:
        row["process"] = f"error: {exc}"
    finally:
        await backend.aclose()
    return row


async def fleet_status(fleet: Fleet) -> dict[str, Any]:
    """One row per service (startup order) and the last run as its journal tells it."""
    names = fleet.startup_order
    rows = list(await asyncio.gather(*(service_status(fleet, name) for name in names)))
    journal = read_journal(fleet.journal_path)
    last_run = None
    if journal is not None:
        last_run = {
            key: journal.get(key)
            for key in ("run_id", "command", "status", "phase", "started_at", "finished_at")
        }
        last_run["needs_recovery"] = needs_recovery(journal)
    return {"fleet": fleet.name, "services": rows, "last_run": last_run}


def render_status(status: dict[str, Any]) -> str:
    """The services as an aligned table, then the last run."""
    rows = status["services"]
    header = ("SERVICE", "STATE", "PAUSED", "IN-FLIGHT", "WORK", "READY", "PROCESS")
    table = [header]
    for row in rows:
        work = ",".join(f"{kind}={count}" for kind, count in sorted(row["work"].items())) or "-"
        paused = "-" if row["paused"] is None else ("yes" if row["paused"] else "no")
        in_flight = "-" if row["in_flight"] is None else str(row["in_flight"])
        table.append(
            (
                row["service"],
                str(row["state"]),
                paused,
                in_flight,
                work,
                "yes" if row["ready"] else "no",
                str(row["process"]),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    last = status.get("last_run")
    if last is None:
        lines.append("\nlast run: none recorded")
    else:
        lines.append(
            f"\nlast run: {last['run_id']} ({last['command']}) {last['status']}, "
            f"phase {last['phase']}, started {last['started_at']}"
        )
        if last["needs_recovery"]:
            lines.append("it was not finished: run `restartctl recover`")
    return "\n".join(lines)
