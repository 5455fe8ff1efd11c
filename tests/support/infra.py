"""Real infrastructure for tests: Redis and PostgreSQL, never faked.

Redis: ``REDIS_URL`` if set, else the machine's 127.0.0.1:6379 if it answers,
else a throwaway ``redis-server`` on a free port. PostgreSQL: ``POSTGRES_DSN``
if set, else ``postgresql://postgres@127.0.0.1:5432/postgres``. When neither
can be had the tests fail with a message saying what to install.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class RedisServer:
    """A Redis the tests may use; ``process`` is set when the tests started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    workdir: str | None = None
    port: int | None = None
    _argv: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop a Redis the tests started (a machine-wide one is never touched)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def start_again(self) -> None:
        """Start a stopped test-owned Redis on the same port."""
        assert self._argv, "only a Redis the tests started can be restarted"
        self.process = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL)
        _wait_redis(self.url, self.process)


def _wait_redis(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        if _redis_answers(url):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server at {url} did not answer within 10 s")


def start_private_redis() -> RedisServer:
    """Start a throwaway ``redis-server`` on a free port (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "these tests need Redis: set REDIS_URL, run one on 127.0.0.1:6379, "
            "or install redis-server (e.g. `apt-get install redis-server`)",
            pytrace=False,
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="test-redis-")
    argv = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", workdir,
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    server = RedisServer(
        url=f"redis://127.0.0.1:{port}/0", process=process, workdir=workdir, port=port, _argv=argv
    )
    _wait_redis(server.url, process)
    return server


def redis_server_or_fail() -> RedisServer:
    """The Redis to test against (see the module docstring for the order tried)."""
    url = os.environ.get("REDIS_URL")
    if url:
        if not _redis_answers(url):
            pytest.fail(f"REDIS_URL={url} does not answer PING", pytrace=False)
        return RedisServer(url=url)
    if _redis_answers("redis://127.0.0.1:6379/0"):
        return RedisServer(url="redis://127.0.0.1:6379/0")
    return start_private_redis()


def postgres_dsn_or_fail() -> str:
    """A PostgreSQL DSN that accepts a connection, or a failure saying what to do."""
    import psycopg

    dsn = os.environ.get("POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"these tests need PostgreSQL at {dsn} ({exc}); set POSTGRES_DSN or install "
            "and start postgresql (e.g. `apt-get install postgresql`)",
            pytrace=False,
        )
    return dsn
