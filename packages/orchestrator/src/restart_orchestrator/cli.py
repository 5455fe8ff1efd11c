"""``restartctl``: the command line of the daily restart.

    restartctl validate -c fleet.toml
    restartctl plan
    restartctl run --report /var/log/restartctl/report.json
    restartctl restart execution        # one service, its dependants handled safely
    restartctl recover                  # finish a crashed run from its journal
    restartctl schedule systemd

The fleet file can come from ``RESTARTCTL_CONFIG``; every other option from
``RESTARTCTL_<COMMAND>_<OPTION>`` (click's ``auto_envvar_prefix``), e.g.
``RESTARTCTL_RUN_REPORT=/var/log/restartctl/report.json``.
Exit codes: see :mod:`restart_orchestrator.exit_codes`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from restart_orchestrator import exit_codes
from restart_orchestrator.config import Fleet, load_fleet
from restart_orchestrator.errors import ConfigError, RestartctlError, RunFailed
from restart_orchestrator.plan import describe_plan, render_plan
from restart_orchestrator.progress import Progress, pick_mode
from restart_orchestrator.run import FleetRestart

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# --- shared options (defined once) ---------------------------------------------------------


def config_option(command: F) -> F:
    return click.option(
        "--config",
        "-c",
        "config_path",
        default="fleet.toml",
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="RESTARTCTL_CONFIG",
        help="The fleet file (TOML); env RESTARTCTL_CONFIG.",
    )(command)


def json_option(command: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=False,
        show_default=True,
        help="Print one JSON document instead of text.",
    )(command)


def run_outputs(command: F) -> F:
    """Options of the commands that change the fleet: progress, report, metrics, picture."""
    options = [
        click.option(
            "--output",
            type=click.Choice(["auto", "human", "json"]),
            default="auto",
            show_default=True,
            help="Progress format: human on a terminal, JSON lines otherwise (auto).",
        ),
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            show_default=True,
            help="Write the JSON run report here.",
        ),
        click.option(
            "--metrics-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            show_default=True,
            help="Write Prometheus metrics here (node_exporter textfile format).",
        ),
        click.option(
            "--timeline",
            "timeline_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            show_default=True,
            help="Draw the run's timeline as SVG here.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine``; SIGTERM cancels it like Ctrl-C, so the run stops in a safe state."""

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await coroutine
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(guarded())
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise RunFailed(
            "interrupted; the fleet was left in a safe state (trading paused if "
            "anything was stopped); run `restartctl recover`"
        ) from None


def _load(config_path: Path) -> Fleet:
    return load_fleet(config_path)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


# --- the group ---------------------------------------------------------------------------


@click.group(
    context_settings={"auto_envvar_prefix": "RESTARTCTL", "help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="restart-orchestrator", prog_name="restartctl")
def cli() -> None:
    """Drive a fleet of shutdown-sdk services through a safe daily restart."""


@cli.command("validate", short_help="Check the fleet file (and token files) for mistakes.")
@config_option
@json_option
def validate_command(config_path: Path, as_json: bool) -> None:
    """Validate the fleet file: syntax, fields, dependencies, orders, tokens.

    Exit 0 when valid, 2 with every mistake (file, field, reason) otherwise.
    """
    from restart_orchestrator.config import resolve_token
    from restart_orchestrator.errors import ConfigIssue

    fleet = _load(config_path)
    issues: list[ConfigIssue] = []
    for name in fleet.services:
        try:
            resolve_token(fleet, name)
        except ConfigError as exc:
            issues += exc.issues
    if issues:
        raise ConfigError(config_path, issues)
    if as_json:
        _echo_json(
            {
                "valid": True,
                "fleet": fleet.name,
                "services": list(fleet.services),
                "startup_order": fleet.startup_order,
                "shutdown_order": fleet.shutdown_order,
            }
        )
    else:
        click.echo(f"{config_path}: fleet {fleet.name!r} is valid ({len(fleet.services)} services)")


@cli.command("plan", short_help="Show what a run will do; nothing is touched.")
@config_option
@json_option
def plan_command(config_path: Path, as_json: bool) -> None:
    """Print the orders, levels, timeouts and the steps of every phase."""
    plan = describe_plan(_load(config_path))
    if as_json:
        _echo_json(plan)
    else:
        click.echo(render_plan(plan))


@cli.command("check", short_help="Ask the restart gate and run the infrastructure checks.")
@config_option
@json_option
def check_command(config_path: Path, as_json: bool) -> None:
    """Read-only: /admin/can-restart on every service and every infrastructure check.

    Exit 0 when all is clear, 3 when the gate blocks, 1 when a required check fails.
    """
    fleet = _load(config_path)
    restart = FleetRestart(fleet, Progress("human", quiet=True), command="check")

    async def look() -> tuple[dict[str, list[str]], list[str]]:
        try:
            restart.connect()
            blocked = await restart.poll_restart_gate()
            problems = await restart.run_checks("check")
            return blocked, problems
        finally:
            await restart.aclose()

    blocked, problems = _run_async(look())
    if as_json:
        _echo_json(
            {"gate": {"ok": not blocked, "blocked": blocked}, "checks": restart.report.checks}
        )
    else:
        for name in fleet.startup_order:
            reasons = blocked.get(name)
            click.echo(f"gate  {name:<24} {'BLOCKED: ' + '; '.join(reasons) if reasons else 'ok'}")
        for check in restart.report.checks:
            state = "ok" if check["ok"] else "FAILED"
            click.echo(f"check {check['name']:<24} {state} {check['reason']}".rstrip())
    if blocked:
        sys.exit(exit_codes.BLOCKED)
    if problems:
        sys.exit(exit_codes.FAILED)


@cli.command("status", short_help="Show every service: state, in-flight, work, readiness.")
@config_option
@json_option
def status_command(config_path: Path, as_json: bool) -> None:
    """One line per service from /health, /health/ready and its backend."""
    from restart_orchestrator.status import fleet_status, render_status

    rows = _run_async(fleet_status(_load(config_path)))
    if as_json:
        _echo_json(rows)
    else:
        click.echo(render_status(rows))


def _finish_outputs(
    fleet: Fleet,
    restart: FleetRestart,
    report_path: Path | None,
    metrics_file: Path | None,
    timeline_path: Path | None,
) -> None:
    from restart_orchestrator.metrics import write_metrics
    from restart_orchestrator.timeline import render_timeline

    report = restart.report.to_json()
    if report_path is not None:
        restart.report.write(report_path)
    metrics = fleet.config.metrics
    textfile = metrics_file or (fleet.resolve(metrics.textfile) if metrics.textfile else None)
    if textfile is not None or metrics.pushgateway_url:
        try:
            write_metrics(report, textfile, metrics.pushgateway_url, metrics.job)
        except (OSError, RuntimeError) as exc:  # unwritable path, no push gateway, no extra
            restart.progress.warn(f"metrics not written: {exc}")
    if timeline_path is not None:
        timeline_path.parent.mkdir(parents=True, exist_ok=True)
        timeline_path.write_text(render_timeline(report))


def _execute(
    restart: FleetRestart,
    fleet: Fleet,
    work: Callable[[], Coroutine[Any, Any, Any]],
    report_path: Path | None,
    metrics_file: Path | None,
    timeline_path: Path | None,
) -> None:
    async def body() -> None:
        try:
            await work()
        finally:
            await restart.aclose()

    try:
        _run_async(body())
    except RestartctlError as exc:
        if restart.report.exit_code is None:
            outcomes = {exit_codes.BLOCKED: "blocked", exit_codes.LOCK_HELD: "refused"}
            restart.report.finish(outcomes.get(exc.exit_code, "failed"), exc.exit_code)
        raise
    finally:
        _finish_outputs(fleet, restart, report_path, metrics_file, timeline_path)
        _summary(restart)


def _summary(restart: FleetRestart) -> None:
    report = restart.report
    if restart.progress.mode == "json":
        restart.progress.emit(
            "result",
            "",
            outcome=report.outcome,
            exit_code=report.exit_code,
            duration_s=report.duration_s,
            failures=report.failures,
            alerts=report.alerts,
            orders_lost=report.orders_lost,
        )
        return
    if not report.phases:
        return
    lines = [f"{report.outcome} in {report.duration_s:.1f}s"]
    for phase in report.phases:
        lines.append(
            f"  phase {phase['number']} {phase['name']:<22} "
            f"{phase.get('duration_s', 0):6.1f}s {'ok' if phase['ok'] else 'FAILED'}"
        )
    for name, lost in report.orders_lost.items():
        lines.append(f"  orders lost by {name}: {lost}")
    for alert in report.alerts:
        lines.append(f"  alert: {alert}")
    click.echo("\n".join(lines))


@cli.command("run", short_help="Run the daily restart (window, gate, lock, five phases).")
@config_option
@click.option(
    "--force-window",
    is_flag=True,
    default=False,
    show_default=True,
    help="Run even outside the restart window or in a blackout.",
)
@click.option(
    "--dry-run", is_flag=True, default=False, show_default=True, help="Only print the plan."
)
@run_outputs
def run_command(
    config_path: Path,
    force_window: bool,
    dry_run: bool,
    output: str,
    report_path: Path | None,
    metrics_file: Path | None,
    timeline_path: Path | None,
) -> None:
    """Restart the whole fleet without losing an order.

    Exit 0 done, 1 failed (trading left paused), 2 bad config, 3 blocked by the
    gate (nothing changed), 4 outside the window / lock held / unrecovered journal.
    """
    fleet = _load(config_path)
    if dry_run:
        click.echo(render_plan(describe_plan(fleet)))
        return
    restart = FleetRestart(fleet, Progress(pick_mode(output, sys.stdout)), command="run")
    _execute(
        restart,
        fleet,
        functools.partial(restart.run, force_window=force_window),
        report_path,
        metrics_file,
        timeline_path,
    )


@cli.command("restart", short_help="Restart one service; its dependants are handled safely.")
@config_option
@click.argument("service")
@click.option(
    "--no-gate",
    is_flag=True,
    default=False,
    show_default=True,
    help="Do not wait for /admin/can-restart (emergency only).",
)
@run_outputs
def restart_command(
    config_path: Path,
    service: str,
    no_gate: bool,
    output: str,
    report_path: Path | None,
    metrics_file: Path | None,
    timeline_path: Path | None,
) -> None:
    """The emergency manual restart of SERVICE.

    Its dependants are paused and stopped first and started after it; the
    window is not checked, the lock and journal are used.
    """
    fleet = _load(config_path)
    if service not in fleet.services:
        raise click.BadParameter(
            f"unknown service {service!r}; services: {', '.join(fleet.services)}",
            param_hint="SERVICE",
        )
    dependants = fleet.dependants(service)
    restart = FleetRestart(
        fleet,
        Progress(pick_mode(output, sys.stdout)),
        command="restart",
        scope=sorted({service} | dependants),
        also_pause=sorted(dependants),
    )
    work = functools.partial(restart.run, force_window=True, use_gate=not no_gate)
    _execute(restart, fleet, work, report_path, metrics_file, timeline_path)


@cli.command("recover", short_help="Bring back a fleet left half-restarted by a crashed run.")
@config_option
@run_outputs
def recover_command(
    config_path: Path,
    output: str,
    report_path: Path | None,
    metrics_file: Path | None,
    timeline_path: Path | None,
) -> None:
    """Start whatever the journal says was stopped (in startup order, readiness gated),
    resume whatever was paused, and mark the journal recovered."""
    fleet = _load(config_path)
    restart = FleetRestart(fleet, Progress(pick_mode(output, sys.stdout)), command="recover")
    _execute(restart, fleet, restart.recover, report_path, metrics_file, timeline_path)


@cli.command("schedule", short_help="Print a cron line, systemd units or a CronJob.")
@click.argument("kind", type=click.Choice(["cron", "systemd", "kubernetes"]))
@config_option
@click.option(
    "--restartctl",
    "executable",
    default=None,
    help="Path of restartctl on the target machine [cron: restartctl, "
    "systemd: /usr/local/bin/restartctl].",
)
@click.option(
    "--config-on-target",
    "on_target",
    default=None,
    help="Fleet file path on the target [default: this file's absolute path; "
    "kubernetes: /etc/restartctl/fleet.toml].",
)
@click.option(
    "--image", default="restartctl:latest", show_default=True, help="Container image (kubernetes)."
)
@click.option("--namespace", default="default", show_default=True, help="Namespace (kubernetes).")
@click.option(
    "--token-secret",
    default=None,
    help="Secret holding the admin tokens (kubernetes) [default: <fleet>-admin-tokens].",
)
@click.option(
    "--state-claim",
    default=None,
    help="PersistentVolumeClaim for the journal (kubernetes) [default: restartctl-<fleet>-state].",
)
def schedule_command(
    kind: str,
    config_path: Path,
    executable: str | None,
    on_target: str | None,
    image: str,
    namespace: str,
    token_secret: str | None,
    state_claim: str | None,
) -> None:
    """Print what starts `restartctl run` at the window's start, in its timezone."""
    from restart_orchestrator.schedule import (
        cron_schedule,
        kubernetes_schedule,
        systemd_schedule,
    )

    fleet = _load(config_path)
    if kind == "cron":
        text = cron_schedule(fleet, restartctl=executable or "restartctl", config_path=on_target)
    elif kind == "systemd":
        text = systemd_schedule(
            fleet, restartctl=executable or "/usr/local/bin/restartctl", config_path=on_target
        )
    else:
        text = kubernetes_schedule(
            fleet,
            image=image,
            namespace=namespace,
            config_path=on_target or "/etc/restartctl/fleet.toml",
            token_secret=token_secret,
            state_claim=state_claim,
        )
    click.echo(text, nl=False)


@cli.command("timeline", short_help="Draw a run report's timeline as SVG.")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="timeline.svg",
    show_default=True,
    help="Where to write the SVG.",
)
def timeline_command(report: Path, out: Path) -> None:
    """Render REPORT.json (from `run --report`) as a picture: phases and services over time."""
    from restart_orchestrator.timeline import render_timeline

    try:
        data = json.loads(report.read_text())
        if not isinstance(data, dict) or "spans" not in data:
            raise ValueError("no 'spans'")
        svg = render_timeline(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(
            f"{report} is not a restartctl run report: {exc}", param_hint="REPORT"
        ) from None
    out.write_text(svg)
    click.echo(f"timeline written to {out}")


def main() -> None:
    """Console entry point (``restartctl``)."""
    cli(prog_name="restartctl")
