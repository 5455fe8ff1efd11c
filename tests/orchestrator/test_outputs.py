"""Events (Redis stream + webhook), Prometheus metrics and the report's timeline."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import redis

from restart_orchestrator.config import NotificationsConfig
from restart_orchestrator.events import Notifier
from restart_orchestrator.metrics import write_metrics
from restart_orchestrator.report import RunReport
from restart_orchestrator.timeline import render_timeline

pytestmark = pytest.mark.anyio


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


async def test_events_go_to_the_stream_and_the_webhook(redis_url: str, key_prefix: str,
                                                       webhook: str) -> None:  # fmt: skip
    stream = f"{key_prefix}:events"
    config = NotificationsConfig(redis_url=redis_url, stream=stream, webhook_url=webhook)
    warnings: list[str] = []
    notifier = Notifier("trading", config, warnings.append)
    await notifier.publish("restart.scheduled", run_id="r1", services=["a"])
    await notifier.aclose()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries: Any = client.xrange(stream)
    [(_, fields)] = entries
    client.close()
    assert fields["type"] == "restart.scheduled"
    assert fields["fleet"] == "trading"
    assert json.loads(fields["data"]) == {"run_id": "r1", "services": ["a"]}
    assert Receiver.received[0]["type"] == "restart.scheduled"
    assert warnings == []


async def test_unreachable_webhook_is_logged_not_fatal(redis_url: str, key_prefix: str) -> None:
    from tests.support import free_port

    config = NotificationsConfig(webhook_url=f"http://127.0.0.1:{free_port()}/hook",
                                 webhook_timeout=1)  # fmt: skip
    warnings: list[str] = []
    notifier = Notifier("trading", config, warnings.append)
    await notifier.publish("alert", reason="x")
    await notifier.aclose()
    assert len(warnings) == 1
    assert "event alert not delivered to the webhook" in warnings[0]


def sample_report() -> dict[str, Any]:
    report = RunReport(fleet="trading", run_id="r1", command="run", scope=["a", "b"])
    with report.timed("phase", "2 graceful-shutdown"), report.timed("a", "stop"):
        pass
    report.phases.append({"number": 2, "name": "graceful-shutdown", "ok": True,
                          "duration_s": 1.5, "start_s": 0.0})  # fmt: skip
    report.service("a").stop = {"graceful": True, "forced": False, "duration_s": 1.2, "detail": ""}
    report.service("b").start = {"attempts": [{"ok": False, "duration_s": 2.0},
                                              {"ok": True, "duration_s": 1.0}]}  # fmt: skip
    report.service("b").orders_lost = [{"kind": "order", "id": "o-1"}]
    report.finish("completed", 0)
    return report.to_json()


def test_metrics_textfile_has_run_phase_and_service_figures(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "restartctl.prom"
    write_metrics(sample_report(), path, None)
    text = path.read_text()
    assert 'restartctl_run_success{fleet="trading"} 1.0' in text
    assert 'restartctl_phase_duration_seconds{fleet="trading",phase="graceful-shutdown"} 1.5' in (
        text
    )
    assert 'restartctl_service_start_attempts{fleet="trading",service="b"} 2.0' in text
    assert 'restartctl_orders_lost{fleet="trading",service="b"} 1.0' in text


def test_timeline_has_a_lane_per_service_and_phase() -> None:
    svg = render_timeline(sample_report())
    root = ElementTree.fromstring(svg)  # well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for lane in (">phases<", ">a<", ">b<"):
        assert lane in svg
    assert "restartctl run of fleet trading: completed" in svg
