"""The Redis the example fleet runs on: ``REDIS_URL``, the local one, or a throwaway one.

Used by the demo and the fleet benchmark, which must work on a machine that has
``redis-server`` installed but not running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

LOCAL_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url: str) -> bool:
    """True when a Redis at ``url`` answers PING within a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def throwaway_redis(run_dir: Path) -> Iterator[str]:
    """Start ``redis-server`` on a free port (no persistence) for the block; its URL.

    ``SystemExit`` with what to install when there is no ``redis-server``.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "the example fleet's signal bus needs Redis: set REDIS_URL, run one on "
            "127.0.0.1:6379, or install redis-server (e.g. apt-get install redis-server)"
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(run_dir)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(url):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def fleet_redis(run_dir: Path) -> Iterator[str]:
    """``REDIS_URL`` (it must answer), else the local Redis, else a throwaway one."""
    url = os.environ.get("REDIS_URL")
    if url:
        if not redis_answers(url):
            raise SystemExit(f"REDIS_URL={url} does not answer PING")
        yield url
        return
    if redis_answers(LOCAL_URL):
        yield LOCAL_URL
        return
    with throwaway_redis(run_dir) as url:
        print(f"(started a throwaway redis-server: {url})")
        yield url
