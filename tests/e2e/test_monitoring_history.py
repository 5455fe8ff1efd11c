"""monitoring-health's restart history built from restartctl's events (no server needed)."""

from __future__ import annotations

import json
from typing import Any

from fleet_services.monitoring_health import History


def feed(history: History, *events: tuple[str, dict[str, Any]]) -> None:
    for number, (kind, data) in enumerate(events, start=1):
        fields = {"type": kind, "ts": f"t{number}", "data": json.dumps(data)}
        if "service" in data:
            fields["service"] = data["service"]
        history.record("restart", f"{number}-0", fields)


def test_an_alert_after_a_failed_run_belongs_to_that_run() -> None:
    history = History()
    feed(
        history,
        ("restart.scheduled", {"run_id": "r1"}),
        ("service.stopped", {"service": "execution"}),
        ("restart.failed", {"run_id": "r1", "reason": "execution did not come back"}),
        ("alert", {"run_id": "r1", "reason": "daily restart failed"}),
    )
    assert len(history.runs) == 1
    run = history.runs[0]
    assert run["outcome"] == "failed"
    assert run["stopped"] == ["execution"]
    assert run["alerts"] == ["daily restart failed"]


def test_a_recovery_is_a_run_of_its_own_named_at_its_end() -> None:
    history = History()
    feed(
        history,
        ("restart.scheduled", {"run_id": "r1"}),
        ("restart.failed", {"run_id": "r1", "reason": "x"}),
        ("service.started", {"service": "execution"}),
        ("restart.completed", {"run_id": "r2", "recovered": "r1"}),
        ("alert", {"reason": "unrelated"}),
    )
    assert [(r["run_id"], r["outcome"]) for r in history.runs] == [
        ("r1", "failed"),
        ("r2", "recovered"),
        (None, None),
    ]
    assert history.runs[1]["started"] == ["execution"]


def test_an_event_seen_twice_is_recorded_once() -> None:
    history = History()
    fields = {"type": "restart.scheduled", "ts": "t", "data": json.dumps({"run_id": "r1"})}
    history.record("restart", "5-0", fields)
    history.record("restart", "5-0", fields)
    history.record("restart", "4-9", fields)
    assert len(history.events) == 1
    assert len(history.runs) == 1
