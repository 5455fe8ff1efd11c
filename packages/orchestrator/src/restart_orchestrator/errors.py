"""The errors ``restartctl`` reports to its user, each with its exit code.

::

    RestartctlError (click.ClickException: one line on stderr, no traceback)
    ├── ConfigError          exit 2: file, field, reason
    ├── GateBlocked          exit 3: the restart gate never cleared
    ├── NotNow               exit 4: outside the window, in a blackout, unrecovered journal
    ├── LockHeld             exit 4: another run holds the fleet lock
    └── RunFailed            exit 1: the run stopped part of the fleet and could not finish
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from restart_orchestrator import exit_codes


class RestartctlError(click.ClickException):
    """Base of every error shown to the user; click prints ``Error: <message>``."""

    exit_code = exit_codes.FAILED


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a fleet file; ``field`` is a dotted path (``services.a.depends_on[1]``)."""

    field: str
    reason: str

    def render(self, path: Path | str) -> str:
        where = f"{path}: {self.field}" if self.field else str(path)
        return f"{where}: {self.reason}"


class ConfigError(RestartctlError):
    """The fleet file (or a file it names) is wrong; every issue is listed, one per line."""

    exit_code = exit_codes.CONFIG_ERROR

    def __init__(self, path: Path | str, issues: list[ConfigIssue]) -> None:
        self.path = path
        self.issues = issues
        super().__init__("\n".join(issue.render(path) for issue in issues))


class GateBlocked(RestartctlError):
    """The restart gate stayed closed for the whole bound; nothing was stopped."""

    exit_code = exit_codes.BLOCKED


class NotNow(RestartctlError):
    """The fleet may not be restarted now (window, blackout, unrecovered journal)."""

    exit_code = exit_codes.OUTSIDE_WINDOW


class LockHeld(RestartctlError):
    """Another run holds the fleet lock."""

    exit_code = exit_codes.LOCK_HELD


class RunFailed(RestartctlError):
    """The run could not finish; the message says what state the fleet was left in."""

    exit_code = exit_codes.FAILED
