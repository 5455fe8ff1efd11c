"""Local process facts: is a pid alive (not a zombie, not a reused pid), detached launches."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# Processes this orchestrator launched, so that their exit can be reaped (a
# zombie still answers kill(pid, 0)) and Popen never warns about them.
_LAUNCHED: dict[int, subprocess.Popen[bytes]] = {}


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def is_alive(pid: int, started_at: int | None = None) -> bool:
    """Whether ``pid`` runs (zombies count as gone; ``started_at`` guards against reuse)."""
    launched = _LAUNCHED.get(pid)
    if launched is not None and launched.poll() is not None:
        del _LAUNCHED[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc (not Linux): kill(pid, 0) is all we know
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    return started_at is None or start_time(pid) == started_at


def launch_detached(
    command: str | Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (it outlives us), output appended to ``log_path``.

    A string runs with ``/bin/sh -c``; a list runs as is (its pid is the server's).
    """
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    _LAUNCHED[process.pid] = process
    return process


def read_pid_file(path: str) -> int | None:
    """The pid in ``path``, or ``None`` when the file is missing or does not hold one."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(path).read_text().split()[0])
    return None


def write_pid_file(path: str, pid: int) -> None:
    """Write ``pid`` to ``path`` (creating its directory), replaced atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(f"{pid}\n")
    partial.replace(target)


def tail_of_file(path: Path, limit: int = 4096) -> str:
    """The last ``limit`` bytes of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit))
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""
