"""The daily restart, written as its runbook.

    window -> gate (read-only look: tokens accepted, services answer) -> lock -> journal
    -> phase 1 pre-restart:    pause, restart gate, flush, save state, restart.scheduled
    -> phase 2 graceful-shutdown: reverse order, level by level, grace then force
    -> phase 3 infrastructure-checks: Redis, Postgres, HTTP, TCP, optional backup
    -> phase 4 startup:        in order, each after what it depends on is ready
    -> phase 5 verify:         /health, checks again, orders lost, resume, restart.completed
    -> report

Failure rules:

* before anything is stopped (gate blocked, flush or save failed): resume what
  was paused, change nothing else (exit 3 when blocked, else 1);
* a service that does not come back is retried once, then its previous state
  snapshot is restored and it is retried again; if it still fails, the run
  ends failed with every service that is up left paused (exit 1), and the
  journal tells ``restartctl recover`` what to bring back.

The same engine restarts one service and its dependants (``restartctl restart``)
and finishes a crashed run (``restartctl recover``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from restart_orchestrator.admin import AdminClient, AdminError
from restart_orchestrator.backends.base import (
    Backend,
    BackendError,
    ProcessState,
    ServiceTarget,
)
from restart_orchestrator.config import Fleet, resolve_token
from restart_orchestrator.durations import format_duration
from restart_orchestrator.errors import (
    ConfigError,
    ConfigIssue,
    GateBlocked,
    LockHeld,
    NotNow,
    RunFailed,
)
from restart_orchestrator.events import Notifier
from restart_orchestrator.journal import Journal, needs_recovery, read_journal
from restart_orchestrator.lock import hold_fleet_lock, journal_owner_alive
from restart_orchestrator.progress import Progress
from restart_orchestrator.report import RunReport
from restart_orchestrator.window import window_decision

READY_POLL_S = 0.2
PROCESS_POLL_S = 1.0
EXITED_AFTER_S = 2.0  # a process seen stopped this long after its start has exited


class PreRestartFailed(Exception):
    """Phase 1 failed: nothing was stopped."""


class ServiceFailed(Exception):
    """A service did not stop, did not come back or failed verification."""


def build_backend(fleet: Fleet, name: str, token: str | None) -> Backend:
    """The backend of service ``name`` from its validated config."""
    from restart_orchestrator.backends import build_backend as backend_for

    service = fleet.services[name]
    target = ServiceTarget(
        name=name, url=service.url, admin_token=token, shutdown_grace_s=service.shutdown_grace
    )
    return backend_for(service.backend, target)


class FleetRestart:
    """One run over (part of) a fleet; ``report`` records it as it goes."""

    def __init__(
        self,
        fleet: Fleet,
        progress: Progress,
        *,
        command: str = "run",
        scope: Sequence[str] | None = None,
        also_pause: Sequence[str] = (),
    ) -> None:
        self.fleet = fleet
        self.progress = progress
        self.command = command
        wanted = set(scope) if scope is not None else set(fleet.services)
        self.startup_levels = [[n for n in lv if n in wanted] for lv in fleet.startup_levels]
        self.startup_levels = [level for level in self.startup_levels if level]
        self.shutdown_levels = [[n for n in lv if n in wanted] for lv in fleet.shutdown_levels]
        self.shutdown_levels = [level for level in self.shutdown_levels if level]
        self.scope = [name for level in self.startup_levels for name in level]
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.report = RunReport(
            fleet=fleet.name, run_id=self.run_id, command=command, scope=list(self.scope)
        )
        self.notifier = Notifier(fleet.name, fleet.config.notifications, progress.warn)
        self.journal: Journal | None = None
        self.also_pause = set(also_pause)  # paused in phase 1 besides the pause_first ones
        self.paused: list[str] = []  # paused by this run (or the crashed run), to resume
        self.stopping_started = False  # from here on a failure leaves trading paused
        self.failed: set[str] = set()
        self.down: set[str] = set()  # did not answer before the run (emergency restart only)
        self.unhealthy_infrastructure: list[str] = []
        self.clients: dict[str, AdminClient] = {}
        self.backends: dict[str, Backend] = {}

    # --- resources ------------------------------------------------------------------------

    def connect(self) -> None:
        """Admin clients and backends for the services in scope (tokens resolved here)."""
        for name in self.scope:
            service = self.fleet.services[name]
            token = resolve_token(self.fleet, name)
            self.clients[name] = AdminClient(
                name, service.url, token, timeout_s=service.request_timeout
            )
            self.backends[name] = build_backend(self.fleet, name, token)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        for backend in self.backends.values():
            await backend.aclose()
        await self.notifier.aclose()

    # --- the daily restart ----------------------------------------------------------------

    async def run(self, *, force_window: bool = False, use_gate: bool = True) -> None:
        """window -> gate -> lock -> journal -> phases 1-5; raises what sets the exit code."""
        if not force_window:
            self.check_window()
        self.connect()
        # A fleet left half-restarted needs `recover`, whatever its gates say now.
        self.refuse_unfinished_run()
        await self.preflight_restart_gate(use_gate=use_gate)
        async with hold_fleet_lock(self.fleet, self.run_id, self.command) as notes:
            for note in notes:
                self.progress.warn(note)
                self.report.notes.append(note)
            self.open_journal()
            try:
                await self.phase_1_pre_restart(use_gate=use_gate)
                await self.phase_2_graceful_shutdown()
                await self.phase_3_infrastructure_checks()
                await self.phase_4_startup()
                await self.phase_5_verify()
                assert self.journal is not None
                self.journal.finish("completed")
            except GateBlocked as blocked:
                await self.abandon_before_shutdown("blocked", str(blocked))
                raise
            except PreRestartFailed as failure:
                await self.abandon_before_shutdown("aborted", str(failure))
                raise RunFailed(
                    f"{failure}; nothing was stopped, paused services resumed"
                ) from None
            except (ServiceFailed, BackendError, AdminError) as failure:
                await self.fail_with_trading_paused(str(failure))
                raise RunFailed(self.failure_message(str(failure))) from None
            except BaseException as failure:  # interrupted (SIGTERM, Ctrl-C) or a bug
                reason = f"interrupted: {type(failure).__name__} {failure}".strip()
                await asyncio.shield(self.stop_in_safe_state(reason))
                raise
            finally:
                await self.alert_if_too_long()
        self.report.finish("completed", 0)

    def check_window(self) -> None:
        decision = window_decision(self.fleet.config.window, dt.datetime.now(dt.UTC))
        if not decision.open:
            self.report.finish("refused", 4)
            raise NotNow(f"{decision.reason}; use --force-window to run anyway")

    def open_journal(self) -> None:
        """Start this run's journal; checked again under the lock, where it cannot race."""
        self.refuse_unfinished_run()
        self.journal = Journal.begin(
            self.fleet.journal_path,
            fleet=self.fleet.name,
            run_id=self.run_id,
            command=self.command,
            scope=self.scope,
        )

    def refuse_unfinished_run(self) -> None:
        path = self.fleet.journal_path
        previous = read_journal(path)
        if needs_recovery(previous):
            assert previous is not None
            self.report.finish("refused", 4)
            if previous.get("status") == "running" and journal_owner_alive(previous):
                raise LockHeld(
                    f"the run {previous.get('run_id')} (pid {previous.get('pid')} on host "
                    f"{previous.get('host')}, since {previous.get('started_at')}) is still "
                    f"running (journal {path})"
                )
            raise NotNow(
                f"the run {previous.get('run_id')} of {previous.get('started_at')} was "
                f"not finished (journal {path}, status {previous.get('status')}, phase "
                f"{previous.get('phase')}); run `restartctl recover` first"
            )

    async def preflight_restart_gate(self, *, use_gate: bool = True) -> None:
        """A read-only look at every gate before the lock: a refused token or a service that
        does not answer stops the run here, before anything is paused.

        A gate that is merely closed is shown, not fatal: phase 1 pauses intake first,
        which is what lets active orders finish. With ``use_gate`` off (the emergency
        restart), a service that does not answer is taken as down: it is not paused,
        flushed or saved, only stopped (if need be) and started.
        """

        async def look(name: str) -> tuple[str, AdminError | None, list[str]]:
            try:
                answer = await self.clients[name].can_restart()
            except AdminError as exc:
                return name, exc, []
            reasons = (
                [] if answer.get("ok") is True else [str(r) for r in answer.get("reasons") or []]
            )
            return name, None, reasons

        refused, silent = [], []
        for name, error, reasons in await asyncio.gather(*(look(n) for n in self.scope)):
            if error is not None and error.status in (401, 403):
                source = "token_env" if self.fleet.services[name].token_env else "token_file"
                refused.append(
                    ConfigIssue(
                        f"services.{name}.{source}",
                        f"the service refused the admin token ({error})",
                    )
                )
            elif error is not None:
                silent.append((name, str(error)))
            elif reasons:
                self.progress.service(name, "gate closed for now", "; ".join(reasons))
        if refused:
            self.report.finish("refused", 2)
            raise ConfigError(self.fleet.path, refused)
        if silent and use_gate:
            self.report.finish("blocked", 3)
            raise GateBlocked(
                "restart gate: "
                + "; ".join(reason for _, reason in silent)
                + "; nothing was changed"
            )
        for name, reason in silent:
            self.down.add(name)
            self.progress.warn(f"{name} does not answer ({reason}); restarting it as down")
            self.report.notes.append(f"{name} was down before the restart")

    # --- phase 1 ----------------------------------------------------------------------------

    async def phase_1_pre_restart(self, *, use_gate: bool = True) -> None:
        """Stop taking new work, wait for the gate, flush, save, announce."""
        with self.phase(1, "pre-restart"):
            # 1. Stop accepting new signals.
            up = [name for name in self.scope if name not in self.down]
            to_pause = [
                name
                for name in up
                if self.fleet.services[name].pause_first or name in self.also_pause
            ]
            failures = await self.each(to_pause, self.pause)
            if failures:
                raise PreRestartFailed("pause failed: " + "; ".join(failures.values()))
            # 2. The restart gate: no active orders, pending fills, queue lag.
            if use_gate:
                await self.wait_for_restart_gate()
            # 3. Flush the event-bus queues, then 4. save every service's state.
            for step, action in (("flush", self.flush), ("save-state", self.save_state)):
                failures = await self.each(up, action)
                if failures:
                    raise PreRestartFailed(f"{step} failed: " + "; ".join(failures.values()))
            # 5. Notify monitoring.
            await self.notifier.publish(
                "restart.scheduled", run_id=self.run_id, services=self.scope, command=self.command
            )

    async def wait_for_restart_gate(self) -> None:
        """Poll ``/admin/can-restart`` everywhere with backoff; fail closed after the bound."""
        gate = self.fleet.config.gate
        started = time.monotonic()
        deadline = started + gate.max_wait
        interval = gate.poll_interval
        last_shown: dict[str, list[str]] = {}
        with self.report.timed("gate", "restart gate"):
            while True:
                blocked = await self.poll_restart_gate()
                self.report.gate["polls"] += 1
                self.report.gate["waited_s"] = round(time.monotonic() - started, 3)
                if not blocked:
                    self.progress.info(
                        f"restart gate open after {format_duration(time.monotonic() - started)}"
                    )
                    return
                self.report.gate["blocked"] = blocked
                if blocked != last_shown:
                    for name, reasons in blocked.items():
                        self.progress.service(name, "blocks the restart", "; ".join(reasons))
                    last_shown = blocked
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    summary = "; ".join(f"{n}: {', '.join(r)}" for n, r in blocked.items())
                    raise GateBlocked(
                        f"restart gate still closed after "
                        f"{format_duration(gate.max_wait)} ({summary}); nothing "
                        "was stopped"
                    )
                await asyncio.sleep(min(interval, remaining))
                interval = min(interval * 2, gate.max_poll_interval)

    async def poll_restart_gate(self) -> dict[str, list[str]]:
        """One look at every service's gate: {service: reasons} of those that block."""

        async def ask(name: str) -> list[str]:
            try:
                answer = await self.clients[name].can_restart()
            except AdminError as exc:
                return [f"no answer from the gate ({exc})"]  # fail closed
            if answer.get("ok") is True:
                return []
            return [str(r) for r in answer.get("reasons") or ["not ok (no reason given)"]]

        names = [name for name in self.scope if name not in self.down]
        answers = await asyncio.gather(*(ask(name) for name in names))
        return {name: reasons for name, reasons in zip(names, answers, strict=True) if reasons}

    # --- phase 2 ----------------------------------------------------------------------------

    async def phase_2_graceful_shutdown(self) -> None:
        """Stop in reverse dependency order; the services of one level stop together."""
        with self.phase(2, "graceful-shutdown"):
            self.stopping_started = True
            for level in self.shutdown_levels:
                failures = await self.each(level, self.stop_service)
                if failures:
                    raise ServiceFailed("stop failed: " + "; ".join(failures.values()))

    async def stop_service(self, name: str) -> None:
        assert self.journal is not None
        self.journal.add("stopping", name)
        self.progress.service(
            name, "stopping", f"grace {format_duration(self.fleet.services[name].shutdown_grace)}"
        )
        with self.report.timed(name, "stop"):
            result = await self.backends[name].stop()
        self.journal.add("stopped", name)
        how = "forced" if result.forced else "graceful"
        self.report.service(name).stop = {
            "graceful": result.graceful,
            "forced": result.forced,
            "duration_s": round(result.duration_s, 3),
            "detail": result.detail,
        }
        self.progress.service(
            name,
            "stopped",
            f"{how}, {result.duration_s:.1f}s",
            forced=result.forced,
            duration_s=result.duration_s,
        )
        if result.forced:
            self.report.alerts.append(f"{name} did not stop within its grace and was forced")
        await self.notifier.publish(
            "service.stopped", service=name, forced=result.forced, duration_s=result.duration_s
        )

    # --- phase 3 ----------------------------------------------------------------------------

    async def phase_3_infrastructure_checks(self) -> None:
        """Redis, Postgres, HTTP/TCP reachability, then the optional backup.

        A failed required check does not keep the fleet down: the services are
        started, but trading stays paused and the run ends failed.
        """
        with self.phase(3, "infrastructure-checks"):
            self.unhealthy_infrastructure += await self.run_checks("infrastructure-checks")
            backup = self.fleet.config.backup
            if backup is not None:
                from restart_orchestrator.checks import run_backup

                with self.report.timed("backup", "backup") as span:
                    result = await run_backup(backup)
                    span.ok = result.ok
                self.report.add_check(result, "infrastructure-checks")
                self.progress.service("backup", "ok" if result.ok else "FAILED", result.reason)
                if not result.ok and backup.required:
                    self.unhealthy_infrastructure.append(f"backup: {result.reason}")

    async def run_checks(self, phase: str) -> list[str]:
        """Run every infrastructure check; the reasons of the failed required ones."""
        from restart_orchestrator.checks import build_check

        checks = [build_check(config) for config in self.fleet.config.checks]
        results = await asyncio.gather(*(check.run() for check in checks))
        problems = []
        for result, config in zip(results, self.fleet.config.checks, strict=True):
            self.report.add_check(result, phase)
            self.progress.service(
                result.name,
                "ok" if result.ok else "FAILED",
                f"{result.duration_s * 1000:.0f} ms" if result.ok else result.reason,
                check=result.kind,
                ok=result.ok,
            )
            if not result.ok and config.required:
                problems.append(f"{result.kind} check {result.name}: {result.reason}")
        return problems

    # --- phase 4 ----------------------------------------------------------------------------

    async def phase_4_startup(self) -> None:
        """Start in dependency order; a service starts once all it depends on is ready.

        Services whose dependencies failed are not started; independent ones are.
        """
        with self.phase(4, "startup"):
            reasons: dict[str, str] = {}
            for level in self.startup_levels:
                startable = []
                for name in level:
                    blocked_by = [
                        d for d in self.fleet.services[name].depends_on if d in self.failed
                    ]
                    if blocked_by:
                        self.failed.add(name)
                        self.progress.service(
                            name, "not started", f"depends on {', '.join(blocked_by)}, which failed"
                        )
                    else:
                        startable.append(name)
                failures = await self.each(startable, self.start_service)
                self.failed.update(failures)
                reasons.update(failures)
            if self.failed:
                not_started = [n for n in self.scope if n in self.failed and n not in reasons]
                message = "; ".join(reasons.values())
                if not_started:
                    message += f"; not started (a dependency failed): {', '.join(not_started)}"
                raise ServiceFailed(message)

    async def start_service(self, name: str) -> None:
        """Start; retry once; restore the previous snapshot and retry; else fail."""
        assert self.journal is not None
        service = self.fleet.services[name]
        reasons: list[str] = []
        attempts: list[dict[str, Any]] = []
        self.report.service(name).start = {"attempts": attempts, "rolled_back": False}
        for attempt, how in enumerate(("start", "retry", "retry after rollback"), start=1):
            if attempt > 1:
                await self.stop_quietly(name)
            if how == "retry after rollback":
                await self.rollback_snapshot(name)
            self.journal.add("starting", name)
            self.progress.service(
                name, how, f"deadline {format_duration(service.startup_deadline)}"
            )
            started = time.monotonic()
            with self.report.timed(name, f"start #{attempt}") as span:
                try:
                    await self.backends[name].start()
                    reason = await self.wait_until_healthy(name)
                except BackendError as exc:
                    reason = str(exc)
                span.ok = reason is None
            attempts.append(
                {
                    "attempt": attempt,
                    "how": how,
                    "ok": reason is None,
                    "duration_s": round(time.monotonic() - started, 3),
                    "reason": reason,
                }
            )
            if reason is None:
                self.journal.add("ready", name)
                self.progress.service(
                    name, "ready", f"{time.monotonic() - started:.1f}s", attempt=attempt
                )
                await self.notifier.publish("service.started", service=name, attempt=attempt)
                return
            reasons.append(f"{how}: {reason}")
            self.progress.service(name, "not ready", reason, attempt=attempt)
        # Left to itself, a process manager's own retries could bring it up later,
        # unpaused, after the run has reported trading paused.
        await self.stop_quietly(name)
        self.journal.add("failed", name)
        raise ServiceFailed(f"{name} did not come back ({'; '.join(reasons)})")

    async def wait_until_healthy(self, name: str) -> str | None:
        """None once ``/health/ready`` has passed for ``min_healthy``; else the reason."""
        service = self.fleet.services[name]
        client, backend = self.clients[name], self.backends[name]
        started = time.monotonic()
        ready_by = started + service.startup_deadline
        healthy_since: float | None = None
        flaps = stopped_looks = 0
        next_process_look = started + PROCESS_POLL_S
        while True:
            now = time.monotonic()
            if await client.ready():
                if healthy_since is None:
                    healthy_since = now
                    if name in self.paused:  # came up unpaused: hold trading until verify
                        await self.pause(name)
                if now - healthy_since >= service.min_healthy:
                    return None
            elif healthy_since is not None:
                healthy_since, flaps = None, flaps + 1
            if healthy_since is None and now >= ready_by:
                extra = f" (readiness flapped {flaps} times)" if flaps else ""
                return f"not ready within {format_duration(service.startup_deadline)}{extra}"
            if now >= next_process_look:
                next_process_look = now + PROCESS_POLL_S
                try:
                    state = await backend.state()
                except BackendError:
                    state = ProcessState.UNKNOWN
                if state == ProcessState.FAILED:
                    return "its process failed"
                # Stopped on two looks in a row, well after the start: it exited.
                stopped_looks = stopped_looks + 1 if state == ProcessState.STOPPED else 0
                if stopped_looks >= 2 and now - started >= EXITED_AFTER_S:
                    return "its process exited"
            delay = READY_POLL_S
            if healthy_since is not None:  # look again right when the dwell ends
                delay = min(delay, max(0.0, healthy_since + service.min_healthy - now))
            await asyncio.sleep(delay)

    async def stop_quietly(self, name: str) -> None:
        """Stop a service that did not come up, before starting it again."""
        try:
            with self.report.timed(name, "stop failed start"):
                await self.backends[name].stop()
        except BackendError as exc:
            self.progress.warn(f"{name}: stopping the failed start: {exc}")

    async def settle_interrupted_stop(self, name: str) -> None:
        """Let a stop that a killed run left going finish before starting the service again:
        the old process may still be draining and writing its snapshot."""
        backend = self.backends[name]
        deadline = time.monotonic() + self.fleet.services[name].shutdown_grace + 5
        while time.monotonic() < deadline:
            try:
                if await backend.state() != ProcessState.STOPPING:
                    return
            except BackendError:
                return
            await asyncio.sleep(READY_POLL_S)
        await self.stop_quietly(name)

    async def rollback_snapshot(self, name: str) -> None:
        """Make the previous state snapshot current again (the SDK restores it at startup)."""
        from shutdown_sdk import open_state_store

        store = open_state_store(
            self.fleet.state_store, name, key_prefix=self.fleet.config.state_key_prefix
        )
        try:
            rolled = await store.rollback()
        except Exception as exc:  # a broken store must not hide the start failure
            rolled = False
            self.progress.warn(f"{name}: snapshot rollback failed: {exc}")
        finally:
            await store.aclose()
        start = self.report.service(name).start
        if start is not None:
            start["rolled_back"] = rolled
        note = "previous state snapshot restored" if rolled else "no previous snapshot to restore"
        self.report.notes.append(f"{name}: {note}")
        self.progress.service(name, "rollback", note, rolled_back=rolled)

    # --- phase 5 ----------------------------------------------------------------------------

    async def phase_5_verify(self) -> None:
        """Health everywhere, dependencies again, orders lost, then resume trading."""
        with self.phase(5, "verify"):
            # 1. Every service answers /health.
            problems = await self.verify_health()
            # 2. Redis, Postgres, the exchange: reachable.
            problems += await self.run_checks("verify") + self.unhealthy_infrastructure
            # 3. What the previous processes could not finish.
            await self.collect_orders_lost()
            if problems:
                raise ServiceFailed("verification failed: " + "; ".join(problems))
            # 4. Resume trading.
            failures = await self.each(list(self.paused), self.resume)
            if failures:
                raise ServiceFailed("resume failed: " + "; ".join(failures.values()))
            # 5. Notify monitoring.
            await self.notifier.publish(
                "restart.completed",
                run_id=self.run_id,
                duration_s=round(self.report.now_s(), 3),
                orders_lost=self.report.orders_lost,
            )

    async def verify_health(self) -> list[str]:
        async def look(name: str) -> str | None:
            try:
                status, body = await self.clients[name].health()
            except AdminError as exc:
                return str(exc)
            self.report.service(name).health = body
            if status != 200:
                return f"{name}: /health answered {status} (state {body.get('state')})"
            return None

        answers = await asyncio.gather(*(look(name) for name in self.scope))
        problems = [answer for answer in answers if answer]
        for problem in problems:
            self.report.alerts.append(f"verification: {problem}")
            await self.notifier.publish("alert", reason=f"verification failed: {problem}")
        return problems

    async def collect_orders_lost(self) -> None:
        for name in self.scope:
            try:
                status = await self.clients[name].status()
            except AdminError as exc:
                self.progress.warn(f"{name}: cannot read /admin/status: {exc}")
                continue
            abandoned = (status.get("previous_shutdown") or {}).get("abandoned") or []
            self.report.service(name).orders_lost = list(abandoned)
            if abandoned:
                self.report.orders_lost[name] = list(abandoned)
                self.progress.service(
                    name, "lost work", f"{len(abandoned)} abandoned units", abandoned=abandoned
                )
                self.report.alerts.append(f"{name}: {len(abandoned)} work units abandoned")

    # --- failure handling -------------------------------------------------------------------

    async def abandon_before_shutdown(self, status: str, reason: str) -> None:
        """Nothing was stopped: resume what this run paused, close the journal."""
        assert self.journal is not None
        self.report.failures.append(reason)
        failures = await self.each(list(self.paused), self.resume)
        if failures:  # cannot resume: the journal stays open so `recover` retries
            self.journal.finish("failed", reason=reason)
            self.report.finish("failed", 1)
            await self.notifier.publish("restart.failed", run_id=self.run_id, reason=reason)
            raise RunFailed(
                f"{reason}; and resuming failed: {'; '.join(failures.values())}; "
                "run `restartctl recover`"
            )
        self.journal.finish(status, reason=reason)
        code = 3 if status == "blocked" else 1
        self.report.finish(status if status == "blocked" else "failed", code)
        event = "restart.blocked" if status == "blocked" else "restart.failed"
        await self.notifier.publish(
            event, run_id=self.run_id, reason=reason, resumed=list(self.paused)
        )
        self.progress.error(reason)

    async def fail_with_trading_paused(self, reason: str) -> None:
        """Something was stopped and the run cannot finish: keep every running service paused."""
        assert self.journal is not None
        self.report.failures.append(reason)
        self.progress.error(reason)
        held = await self.hold_trading_paused()
        self.journal.finish("failed", reason=reason)
        self.report.finish("failed", 1)
        self.report.notes.append("left paused: " + (", ".join(held) or "(no service is up)"))
        await self.notifier.publish(
            "restart.failed", run_id=self.run_id, reason=reason, paused=held
        )
        await self.notifier.publish(
            "alert", reason=f"daily restart failed: {reason}", run_id=self.run_id
        )

    async def stop_in_safe_state(self, reason: str) -> None:
        if self.journal is None:
            return
        if self.stopping_started:
            await self.fail_with_trading_paused(reason)
        else:
            await self.abandon_before_shutdown("aborted", reason)

    async def hold_trading_paused(self) -> list[str]:
        """Pause every service in scope that answers; the paused ones, for the journal."""

        async def hold(name: str) -> str | None:
            if not await self.clients[name].ready():
                return None
            try:
                await self.pause(name)
            except AdminError as exc:
                self.progress.warn(f"{name}: could not pause it: {exc}")
                return None
            return name

        held = await asyncio.gather(*(hold(name) for name in self.scope))
        return [name for name in held if name]

    def failure_message(self, reason: str) -> str:
        return (
            f"{reason}; trading left paused; fix the cause, then run `restartctl recover` "
            f"(journal {self.fleet.journal_path})"
        )

    async def alert_if_too_long(self) -> None:
        limit = self.fleet.config.alerts.max_run_duration
        took = self.report.now_s()
        if took > limit:
            reason = (
                f"restart took {format_duration(took)}, over the {format_duration(limit)} threshold"
            )
            self.report.alerts.append(reason)
            self.progress.warn(reason)
            await self.notifier.publish("alert", reason=reason, run_id=self.run_id)

    # --- service actions ------------------------------------------------------------------

    async def pause(self, name: str) -> None:
        if self.journal is not None:
            self.journal.add("paused", name)  # before the call: a crash must still resume it
        if name not in self.paused:
            self.paused.append(name)
        await self.clients[name].pause()
        self.report.service(name).paused = True
        self.progress.service(name, "paused")

    async def resume(self, name: str) -> None:
        await self.clients[name].resume()
        if self.journal is not None:
            self.journal.add("resumed", name)
        self.report.service(name).resumed = True
        self.progress.service(name, "resumed")

    async def flush(self, name: str) -> None:
        answer = await self.clients[name].flush()
        self.progress.service(name, "flushed", str(answer.get("flushed") or ""))

    async def save_state(self, name: str) -> None:
        answer = await self.clients[name].save_state()
        detail = f"{answer.get('size_bytes', '?')} bytes to {answer.get('store', '?')}"
        if answer.get("fallback"):
            self.report.alerts.append(f"{name}: state saved to the fallback store")
        self.progress.service(name, "state saved", detail)

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def phase(self, number: int, name: str) -> Iterator[None]:
        """Time a phase, journal it and show it."""
        self.progress.phase(number, name)
        if self.journal is not None:
            self.journal.phase(name)
        entry: dict[str, Any] = {
            "number": number,
            "name": name,
            "ok": False,
            "start_s": round(self.report.now_s(), 3),
        }
        self.report.phases.append(entry)
        try:
            with self.report.timed("phase", f"{number} {name}"):
                yield
                entry["ok"] = True
        finally:
            entry["duration_s"] = round(self.report.now_s() - entry["start_s"], 3)

    async def each(
        self, names: Sequence[str], action: Callable[[str], Awaitable[None]]
    ) -> dict[str, str]:
        """Run ``action`` on every service at once; {service: error} of those that failed."""
        results = await asyncio.gather(*(action(name) for name in names), return_exceptions=True)
        failures: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, AdminError | BackendError | ServiceFailed):
                failures[name] = str(result)
            elif isinstance(result, BaseException):
                raise result
        return failures

    # --- recovery ---------------------------------------------------------------------------

    async def recover(self) -> bool:
        """Finish a crashed or failed run from its journal; False when there was nothing to do."""
        self.connect()
        async with hold_fleet_lock(self.fleet, self.run_id, "recover") as notes:
            self.report.notes += notes
            path = self.fleet.journal_path
            data = read_journal(path)
            if data is None or not needs_recovery(data):
                self.report.finish("completed", 0)
                self.progress.info(f"nothing to recover ({path})")
                return False
            self.journal = Journal(path, data)
            self.report.notes.append(
                f"recovering run {data.get('run_id')} "
                f"(status {data.get('status')}, phase {data.get('phase')})"
            )
            touched = set(data["stopping"]) | set(data["stopped"]) | set(data["starting"])
            self.paused = [n for n in data["paused"] if n in self.clients]
            self.progress.info(
                f"recovering run {data.get('run_id')}: "
                f"start {', '.join(sorted(touched)) or 'nothing'}, "
                f"resume {', '.join(self.paused) or 'nothing'}"
            )
            with self.phase(4, "startup"):
                for level in self.startup_levels:
                    todo = [n for n in level if n in touched and not await self.clients[n].ready()]
                    for name in todo:
                        if name in data["stopping"]:
                            await self.settle_interrupted_stop(name)
                    failures = await self.each(todo, self.start_service)
                    self.failed.update(failures)
            if self.failed:
                reason = "recovery could not start: " + ", ".join(sorted(self.failed))
                await self.hold_trading_paused()
                self.journal.data["recovery_failed"] = reason
                self.journal.save()
                self.report.finish("failed", 1)
                raise RunFailed(reason + "; trading left paused, the journal stays open")
            with self.phase(5, "resume"):
                failures = await self.each(list(self.paused), self.resume)
                if failures:
                    self.report.finish("failed", 1)
                    raise RunFailed("resume failed: " + "; ".join(failures.values()))
            self.journal.finish(
                "recovered",
                recovered_by=self.run_id,
                recovered_at=dt.datetime.now(dt.UTC).isoformat(),
            )
            self.report.finish("recovered", 0)
            await self.notifier.publish(
                "restart.completed", run_id=self.run_id, recovered=data.get("run_id")
            )
            return True
