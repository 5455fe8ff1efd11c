"""The run journal: what a run has done so far, so a crashed run can be recovered.

Rewritten atomically (temp file, fsync, rename) after every step. ``run``
refuses to start while a journal is unrecovered; ``restartctl recover`` starts
whatever was stopped, resumes whatever was paused and marks it recovered.

    journal = Journal.begin(path, fleet="trading", run_id="...", command="run")
    journal.add("paused", "ai-engine")
    journal.finish("completed")
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Literal

Step = Literal["paused", "resumed", "stopping", "stopped", "starting", "ready", "failed"]
CLOSED = ("completed", "blocked", "recovered", "aborted")  # nothing left to undo


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so a reader sees the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_journal(path: Path) -> dict[str, Any] | None:
    """The journal at ``path``, or None when there is none."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data


def needs_recovery(data: dict[str, Any] | None) -> bool:
    """True when a journal records a run that left something to undo."""
    return data is not None and data.get("status") not in CLOSED


class Journal:
    """The journal of the current run (or recovery)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def begin(
        cls, path: Path, *, fleet: str, run_id: str, command: str, scope: list[str]
    ) -> Journal:
        data: dict[str, Any] = {
            "version": 1,
            "fleet": fleet,
            "run_id": run_id,
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": _now(),
            "updated_at": _now(),
            "status": "running",
            "phase": "starting",
            "scope": scope,
            "paused": [],
            "resumed": [],
            "stopping": [],
            "stopped": [],
            "starting": [],
            "ready": [],
            "failed": [],
            "steps": [],
        }
        journal = cls(path, data)
        journal.save()
        return journal

    def save(self) -> None:
        self.data["updated_at"] = _now()
        write_atomically(self.path, json.dumps(self.data, indent=2).encode())

    def phase(self, name: str) -> None:
        self.data["phase"] = name
        self.data["steps"].append({"at": _now(), "phase": name})
        self.save()

    def add(self, step: Step, service: str) -> None:
        if service not in self.data[step]:
            self.data[step].append(service)
        self.data["steps"].append({"at": _now(), "step": step, "service": service})
        self.save()

    def has(self, step: Step, service: str) -> bool:
        return service in self.data[step]

    def finish(self, status: str, **fields: Any) -> None:
        self.data["status"] = status
        self.data["finished_at"] = _now()
        self.data.update(fields)
        self.save()
