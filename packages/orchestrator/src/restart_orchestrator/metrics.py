"""Prometheus metrics of a run, from its report: a textfile and/or a push gateway.

The textfile suits node_exporter's textfile collector (cron runs leave no
process to scrape). Needs the ``metrics`` extra (``prometheus-client``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _registry(report: dict[str, Any]) -> Any:
    try:
        from prometheus_client import CollectorRegistry, Gauge
    except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
        raise RuntimeError(
            "metrics need prometheus-client: pip install 'restart-orchestrator[metrics]'"
        ) from exc
    registry = CollectorRegistry()
    fleet = report["fleet"]

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
        return Gauge(name, doc, ("fleet", *labels), registry=registry)

    gauge("restartctl_run_duration_seconds", "Duration of the last run.").labels(fleet).set(
        report["duration_s"]
    )
    gauge("restartctl_run_success", "1 when the last run completed.").labels(fleet).set(
        1 if report["outcome"] in ("completed", "recovered") else 0
    )
    gauge("restartctl_run_exit_code", "Exit code of the last run.").labels(fleet).set(
        report.get("exit_code") or 0
    )
    gauge("restartctl_run_finished_timestamp_seconds", "When the last run ended.").labels(
        fleet
    ).set_to_current_time()
    gauge("restartctl_gate_wait_seconds", "Time waited for the restart gate.").labels(fleet).set(
        report["gate"]["waited_s"]
    )
    phase = gauge("restartctl_phase_duration_seconds", "Duration of each phase.", ("phase",))
    for entry in report["phases"]:
        phase.labels(fleet, entry["name"]).set(entry.get("duration_s", 0.0))
    stop = gauge("restartctl_service_stop_seconds", "Time to stop each service.", ("service",))
    start = gauge(
        "restartctl_service_start_seconds", "Time to bring each service back.", ("service",)
    )
    attempts = gauge(
        "restartctl_service_start_attempts", "Start attempts per service.", ("service",)
    )
    lost = gauge(
        "restartctl_orders_lost", "Work units abandoned by the previous process.", ("service",)
    )
    forced = gauge("restartctl_service_forced_stop", "1 when the stop was forced.", ("service",))
    for name, service in report["services"].items():
        if service.get("stop"):
            stop.labels(fleet, name).set(service["stop"]["duration_s"])
            forced.labels(fleet, name).set(1 if service["stop"]["forced"] else 0)
        if service.get("start"):
            tries = service["start"]["attempts"]
            attempts.labels(fleet, name).set(len(tries))
            start.labels(fleet, name).set(sum(t["duration_s"] for t in tries))
        lost.labels(fleet, name).set(len(service.get("orders_lost") or []))
    failed = gauge("restartctl_checks_failed", "Failed infrastructure checks.")
    failed.labels(fleet).set(sum(1 for c in report["checks"] if not c["ok"]))
    return registry


def write_metrics(
    report: dict[str, Any], path: Path | None, pushgateway: str | None, job: str = "restartctl"
) -> None:
    """Write the textfile (atomically, as prometheus_client does) and/or push."""
    from prometheus_client import push_to_gateway, write_to_textfile

    registry = _registry(report)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    if pushgateway:
        push_to_gateway(
            pushgateway,
            job=job,
            registry=registry,
            grouping_key={"fleet": report["fleet"]},
            timeout=10,
        )
