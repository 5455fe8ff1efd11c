"""What a run will do, phase by phase, without touching anything (``restartctl plan``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from restart_orchestrator.durations import format_duration

if TYPE_CHECKING:
    from restart_orchestrator.config import Fleet, FleetConfig

START_ATTEMPTS = 3  # first start, plain retry, retry after the snapshot rollback
_MARGIN_S = 60.0  # client round trips, backend overheads


def worst_case_duration(
    config: FleetConfig, startup: list[list[str]], shutdown: list[list[str]]
) -> float:
    """An upper bound of a run's duration (every bound reached, every retry taken)."""
    services = config.services
    requests = sum(s.request_timeout for s in services.values()) * 4  # pause, flush, save, resume
    stop = sum(max(services[n].shutdown_grace + 10.0 for n in level) for level in shutdown)
    start = sum(
        max(
            START_ATTEMPTS * (services[n].startup_deadline + services[n].min_healthy)
            + (START_ATTEMPTS - 1) * (services[n].shutdown_grace + 10.0)
            for n in level
        )
        for level in startup
    )
    checks = 2 * sum(check.timeout_s for check in config.checks)  # phase 3 and phase 5
    backup = config.backup.timeout_s if config.backup else 0.0
    return config.gate.max_wait + requests + stop + checks + backup + start + _MARGIN_S


def describe_plan(fleet: Fleet) -> dict[str, Any]:
    """The plan as data: orders, levels, bounds and the steps of every phase."""
    config = fleet.config
    services = config.services
    paused = [name for name in fleet.startup_order if services[name].pause_first]
    worst = worst_case_duration(config, fleet.startup_levels, fleet.shutdown_levels)
    return {
        "fleet": fleet.name,
        "config": str(fleet.path),
        "startup_order": fleet.startup_order,
        "shutdown_order": fleet.shutdown_order,
        "startup_levels": fleet.startup_levels,
        "shutdown_levels": fleet.shutdown_levels,
        "window": {
            "start": config.window.start.strftime("%H:%M"),
            "end": config.window.end.strftime("%H:%M"),
            "timezone": config.window.timezone,
            "days": list(config.window.days),
            "blackouts": [
                {
                    "start": b.start.strftime("%H:%M"),
                    "end": b.end.strftime("%H:%M"),
                    "reason": b.reason,
                }
                for b in config.window.blackouts
            ],
        },
        "worst_case_s": worst,
        "lock": {"location": fleet.lock_location, "ttl_s": config.lock.ttl},
        "journal": str(fleet.journal_path),
        "services": {
            name: {
                "url": service.url,
                "backend": getattr(service.backend, "kind", "?"),
                "depends_on": list(service.depends_on),
                "pause_first": service.pause_first,
                "shutdown_grace_s": service.shutdown_grace,
                "startup_deadline_s": service.startup_deadline,
                "min_healthy_s": service.min_healthy,
            }
            for name, service in services.items()
        },
        "phases": [
            {
                "phase": "pre-restart",
                "steps": [
                    f"pause {', '.join(paused) or '(no pause_first services)'}",
                    f"wait up to {format_duration(config.gate.max_wait)} for /admin/can-restart "
                    "ok on every service (blocked: resume, exit 3)",
                    "flush every service",
                    "save every service's state",
                    "publish restart.scheduled",
                ],
            },
            {
                "phase": "graceful-shutdown",
                "steps": [
                    "stop "
                    + " + ".join(level)
                    + " (grace "
                    + format_duration(max(services[n].shutdown_grace for n in level))
                    + ", then forced)"
                    for level in fleet.shutdown_levels
                ],
            },
            {
                "phase": "infrastructure-checks",
                "steps": [
                    f"{getattr(check, 'kind', 'check')} check {check.name!r}"
                    + ("" if check.required else " (not required)")
                    for check in config.checks
                ]
                + ([f"backup: {config.backup.command}"] if config.backup else []),
            },
            {
                "phase": "startup",
                "steps": [
                    "start "
                    + " + ".join(level)
                    + ", ready within "
                    + format_duration(max(services[n].startup_deadline for n in level))
                    + " and healthy for "
                    + format_duration(max(services[n].min_healthy for n in level))
                    for level in fleet.startup_levels
                ],
            },
            {
                "phase": "verify",
                "steps": [
                    "/health on every service",
                    "infrastructure checks again",
                    f"resume {', '.join(paused) or '(nothing paused)'}",
                    "report orders lost (previous_shutdown.abandoned)",
                    "publish restart.completed",
                ],
            },
        ],
    }


def render_plan(plan: dict[str, Any]) -> str:
    """The plan as text for a terminal."""
    lines = [
        f"fleet {plan['fleet']} ({plan['config']})",
        f"window {plan['window']['start']}-{plan['window']['end']} {plan['window']['timezone']}"
        f" on {','.join(plan['window']['days'])}",
    ]
    for blackout in plan["window"]["blackouts"]:
        lines.append(f"  blackout {blackout['start']}-{blackout['end']} {blackout['reason']}")
    lines += [
        "shutdown order: " + " -> ".join(plan["shutdown_order"]),
        "startup order:  " + " -> ".join(plan["startup_order"]),
        f"worst case {format_duration(plan['worst_case_s'])}, lock {plan['lock']['location']} "
        f"(ttl {format_duration(plan['lock']['ttl_s'])}), journal {plan['journal']}",
        "",
    ]
    for number, phase in enumerate(plan["phases"], start=1):
        lines.append(f"phase {number} {phase['phase']}")
        lines += [f"  - {step}" for step in phase["steps"]] or ["  - (nothing)"]
    return "\n".join(lines)
