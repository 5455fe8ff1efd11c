"""A light service for the scale run: the admin contract on the standard library alone.

Fifty SDK services would spend the machine's two cores importing FastAPI; this
process starts in ~50 ms and answers the health and admin routes of
docs/admin-api.md the way the SDK does, with a known boot time and drain time,
so a run over many of them measures the orchestrator, not the services.

    python -m benchmarks.apps.light --port 9001 --boot 0.5 --drain 0.3

``--boot``: seconds before it listens (restoring state, loading models).
``--drain``: seconds from ``/admin/shutdown`` or SIGTERM to exit (in-flight work).
The admin token comes from ``BENCH_ADMIN_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from typing import Any

READY_ROUTES = {"/health", "/health/live", "/health/ready"}


class LightService:
    def __init__(self, name: str, drain_s: float, token: str) -> None:
        self.name = name
        self.drain_s = drain_s
        self.token = token
        self.state = "ready"
        self.paused = False
        self.exit = asyncio.Event()

    def shutdown(self) -> None:
        if self.state == "ready":
            self.state = "draining"
            asyncio.get_running_loop().call_later(self.drain_s, self.exit.set)

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        serving = self.state == "ready"
        if path in READY_ROUTES:
            if path == "/health/live":
                return 200, {"alive": True, "state": self.state}
            body = {"service": self.name, "state": self.state, "paused": self.paused}
            return (200 if serving else 503), {**body, "ready": serving, "in_flight": 0}
        if not path.startswith("/admin/"):
            return 404, {"detail": "Not Found"}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"detail": "missing bearer token"}
        routes = {
            ("GET", "/admin/can-restart"): lambda: (200, {"ok": True, "reasons": []}),
            ("GET", "/admin/status"): lambda: (200, {"state": self.state, "pid": os.getpid()}),
            ("POST", "/admin/pause"): lambda: self._pause(True),
            ("POST", "/admin/resume"): lambda: self._pause(False),
            ("POST", "/admin/flush"): lambda: (200, {"ok": True, "flushed": {}}),
            ("POST", "/admin/save-state"): lambda: (200, {"ok": True, "service": self.name}),
            ("POST", "/admin/shutdown"): self._shutdown,
        }
        route = routes.get((method, path))
        return route() if route else (404, {"detail": "Not Found"})

    def _pause(self, paused: bool) -> tuple[int, Any]:
        self.paused = paused
        return 200, {"service": self.name, "state": "paused" if paused else "ready"}

    def _shutdown(self) -> tuple[int, Any]:
        self.shutdown()
        return 202, {"accepted": True, "pid": os.getpid(), "drain_deadline_s": self.drain_s}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            if int(headers.get("content-length", "0")):
                await reader.readexactly(int(headers["content-length"]))
            status, body = self.answer(method, target.split("?", 1)[0], headers)
            payload = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def serve(port: int, name: str, boot_s: float, drain_s: float) -> None:
    service = LightService(name, drain_s, os.environ.get("BENCH_ADMIN_TOKEN", ""))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, service.shutdown)
    await asyncio.sleep(boot_s)
    server = await asyncio.start_server(service.handle, "127.0.0.1", port)
    async with server:
        await service.exit.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.apps.light", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="light")
    parser.add_argument("--boot", type=float, default=0.0, help="seconds before listening")
    parser.add_argument("--drain", type=float, default=0.0, help="seconds from stop to exit")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.name, args.boot, args.drain))


if __name__ == "__main__":
    main()
