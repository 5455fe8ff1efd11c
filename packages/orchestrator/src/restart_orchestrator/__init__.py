"""restartctl: drive a fleet of shutdown-sdk services through a safe daily restart.

>>> from restart_orchestrator import load_fleet
>>> fleet = load_fleet("fleet.toml")  # doctest: +SKIP
>>> fleet.shutdown_order  # doctest: +SKIP
['ai-engine', 'portfolio-intelligence', 'execution', 'risk-safety', 'monitoring-health']
"""

from restart_orchestrator.admin import AdminClient, AdminError
from restart_orchestrator.config import Fleet, FleetConfig, ServiceConfig, load_fleet
from restart_orchestrator.errors import (
    ConfigError,
    ConfigIssue,
    GateBlocked,
    LockHeld,
    NotNow,
    RestartctlError,
    RunFailed,
)
from restart_orchestrator.plan import describe_plan, worst_case_duration
from restart_orchestrator.report import RunReport
from restart_orchestrator.run import FleetRestart
from restart_orchestrator.timeline import render_timeline
from restart_orchestrator.window import WindowDecision, window_decision

__all__ = [
    "AdminClient",
    "AdminError",
    "ConfigError",
    "ConfigIssue",
    "Fleet",
    "FleetConfig",
    "FleetRestart",
    "GateBlocked",
    "LockHeld",
    "NotNow",
    "RestartctlError",
    "RunFailed",
    "RunReport",
    "ServiceConfig",
    "WindowDecision",
    "describe_plan",
    "load_fleet",
    "render_timeline",
    "window_decision",
    "worst_case_duration",
]
