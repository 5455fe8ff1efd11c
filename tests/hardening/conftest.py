"""Fixtures of the hardening suite: real SDK services under uvicorn, a private Redis."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, free_port
from tests.support.infra import RedisServer, start_private_redis

#: Distinctive, so that a leak into any output can be searched for.
TOKEN = "hardening-" + secrets.token_hex(16)
FUZZ_APP = "tests.hardening.apps.fuzz_service:app"


@contextlib.contextmanager
def sdk_service(
    root: Path, *, app: str = FUZZ_APP, env: dict[str, str] | None = None, name: str = "svc"
) -> Iterator[ServerProcess]:
    """A real uvicorn process of an SDK app; its output goes to ``root/<name>.log``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = ServerProcess(
        ["uvicorn", app, "--port", str(port), "--log-level", "info"],
        port=port,
        env={"SHUTDOWN_STATE_STORE": str(root / "state"), "TEST_SERVICE": name, **(env or {})},
        log_path=root / f"{name}.log",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis of this test alone: it may be stopped and started again."""
    server = start_private_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: a real ENOSPC for the file store (needs root, as in CI here)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test: {done.stderr}", pytrace=False)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def break_disk(disk: Path, fault: str) -> None:
    """Make the ``small_disk`` tmpfs ``"full"`` (ENOSPC) or ``"read-only"`` (EROFS)."""
    if fault == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        return
    with contextlib.suppress(OSError), (disk / "filler").open("wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()


def repair_disk(disk: Path, fault: str) -> None:
    """Undo :func:`break_disk`."""
    if fault == "read-only":
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    (disk / "filler").unlink(missing_ok=True)
