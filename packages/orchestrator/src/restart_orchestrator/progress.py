"""What a run prints while it works: a human view on a terminal, JSON lines otherwise.

Human::

    [   0.0s] phase 1 pre-restart
    [   0.1s]   ai-engine            paused
    [  12.4s]   execution            stopped (graceful, 1.2s)

JSON lines (cron, CronJobs, log shippers), one object per line::

    {"ts": "...", "elapsed_s": 12.4, "event": "service", "phase": "graceful-shutdown",
     "service": "execution", "action": "stopped", "duration_s": 1.2}
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any, Literal, TextIO

OutputMode = Literal["human", "json"]


def pick_mode(choice: str, stream: TextIO) -> OutputMode:
    """``auto`` means human on a terminal and JSON lines otherwise."""
    if choice == "auto":
        return "human" if stream.isatty() else "json"
    return "json" if choice == "json" else "human"


class Progress:
    """Emits progress events in the chosen mode; ``quiet`` keeps stdout for a JSON answer."""

    def __init__(
        self, mode: OutputMode = "human", stream: TextIO | None = None, *, quiet: bool = False
    ) -> None:
        self.mode = mode
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.started = time.monotonic()
        self.phase_name = ""

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def emit(self, event: str, text: str, **fields: Any) -> None:
        if self.quiet and event not in ("warning", "error"):
            return
        elapsed = round(self.elapsed(), 3)
        if self.mode == "json":
            line = {
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "elapsed_s": elapsed,
                "event": event,
                **fields,
            }
            if self.phase_name and "phase" not in line:
                line["phase"] = self.phase_name
            print(json.dumps(line, default=str), file=self.stream, flush=True)
        else:
            target = sys.stderr if event in ("warning", "error") else self.stream
            print(f"[{elapsed:7.1f}s] {text}", file=target, flush=True)

    def phase(self, number: int, name: str) -> None:
        self.phase_name = name
        self.emit("phase", f"phase {number} {name}", number=number, phase=name)

    def service(self, name: str, action: str, detail: str = "", **fields: Any) -> None:
        suffix = f" ({detail})" if detail else ""
        self.emit(
            "service",
            f"  {name:<22} {action}{suffix}",
            service=name,
            action=action,
            detail=detail,
            **fields,
        )

    def info(self, text: str, **fields: Any) -> None:
        self.emit("info", text, message=text, **fields)

    def warn(self, text: str) -> None:
        self.emit("warning", f"warning: {text}", message=text)

    def error(self, text: str) -> None:
        self.emit("error", f"error: {text}", message=text)
