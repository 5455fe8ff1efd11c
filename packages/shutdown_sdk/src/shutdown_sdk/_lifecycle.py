"""The lifecycle of one service: hooks, the drain, save and exit, in the order they run."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from shutdown_sdk._checks import CheckFn, DependencyCheck
from shutdown_sdk._events import RedisBus
from shutdown_sdk._exit import ExitSignals
from shutdown_sdk._hooks import Hook, HookResult, hook_name, run_hook, run_hooks
from shutdown_sdk._settings import ShutdownSettings
from shutdown_sdk._snapshot import Snapshot, SnapshotError, canonical_json, utc_now_iso
from shutdown_sdk._state import LifecycleState
from shutdown_sdk._stores import StateStore, open_state_store
from shutdown_sdk._work import WorkTracker, WorkUnit

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp

logger = logging.getLogger("shutdown_sdk")

P = ParamSpec("P")
R = TypeVar("R")
H = TypeVar("H", bound=Hook)


class LifecycleConflict(Exception):
    """An action that the current state does not allow (e.g. resume while draining)."""


class RestoreError(RuntimeError):
    """Saved state could not be restored; the service refuses to start without it."""


@dataclass
class Closer:
    name: str
    fn: Hook
    timeout: float | None


class Lifecycle:
    """Makes a FastAPI service pausable, drainable, restartable, with its state kept.

    >>> from fastapi import FastAPI
    >>> from shutdown_sdk import Lifecycle, admin_router
    >>> lifecycle = Lifecycle("execution", version="1.4.0")
    >>> app = FastAPI(lifespan=lifecycle.lifespan)
    >>> lifecycle.install(app)
    >>> app.include_router(admin_router)
    >>> lifecycle.state.value
    'starting'
    """

    def __init__(
        self,
        service: str,
        *,
        version: str = "0.0.0",
        settings: ShutdownSettings | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.service = service
        self.version = version
        self.settings = settings if settings is not None else ShutdownSettings()
        self.work = WorkTracker()
        self.stopping = asyncio.Event()
        self.refusing = False  # read by the middleware on every request
        self.retry_after_header = str(self.settings.retry_after).encode()
        self._state = LifecycleState.STARTING
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._store = store
        self._bus: RedisBus | None = None
        self._exit: ExitSignals | None = None
        self._metrics: Any = None
        #: The admin router on its own; the middleware sends control paths to it.
        self.control_app: ASGIApp | None = None
        self._started_at = time.monotonic()
        self._pause_hooks: list[Hook] = []
        self._resume_hooks: list[Hook] = []
        self._flush_hooks: list[Hook] = []
        self._save_hooks: dict[str, Hook] = {}
        self._restore_hooks: dict[str, Hook] = {}
        self._blockers: list[Hook] = []
        self._closers: list[Closer] = []
        self._checks: dict[str, DependencyCheck] = {}
        self._hook_results: dict[str, list[dict[str, Any]]] = {}
        self._save_lock = asyncio.Lock()
        self._drain_task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._shutdown_reply: dict[str, Any] | None = None
        self._drain_started = 0.0
        self.last_save: dict[str, Any] | None = None
        self.last_restore: dict[str, Any] | None = None
        self.previous_shutdown: dict[str, Any] | None = None
        self.drain_report: dict[str, Any] | None = None
        #: Called instead of signalling when no server runs this app (in-process tests).
        self.on_exit_requested: Callable[[], None] | None = None

    # -- state ---------------------------------------------------------------------

    @property
    def state(self) -> LifecycleState:
        return self._state

    @property
    def paused(self) -> bool:
        """Whether an operator paused the service (kept across a restart, in the snapshot)."""
        return self._paused

    async def wait_until_resumed(self) -> None:
        """Return at once when not paused, else when resumed or when the service stops.

        Loops should check :attr:`stopping` after it returns.
        """
        await self._resumed.wait()

    @property
    def server_pid(self) -> int:
        """The pid whose exit means the service stopped: the multi-worker supervisor, or us."""
        parent = self._exit.parent_pid if self._exit is not None else None
        return parent if parent is not None else os.getpid()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started_at

    def _set_state(self, state: LifecycleState, **data: Any) -> None:
        previous, self._state = self._state, state
        if previous is state:
            return
        logger.info("%s: %s -> %s", self.service, previous.value, state.value)
        if self._metrics is not None:
            self._metrics.state_changed(state)
        self._publish("lifecycle.state", {"from": previous.value, "to": state.value, **data})

    def _publish(self, type_: str, data: dict[str, Any]) -> None:
        if self._bus is not None:
            # Fire and forget: events must never slow the drain down.
            task = asyncio.get_running_loop().create_task(self._bus.publish(type_, data))
            task.add_done_callback(_discard)

    # -- registration --------------------------------------------------------------

    def on_pause(self, fn: H) -> H:
        """Register a hook run on pause (stop intake, stop the signal loop).

        >>> lifecycle = Lifecycle("doc")
        >>> @lifecycle.on_pause
        ... async def stop_signals() -> None: ...
        """
        self._pause_hooks.append(fn)
        return fn

    def on_resume(self, fn: H) -> H:
        """Register a hook run on resume."""
        self._resume_hooks.append(fn)
        return fn

    def on_flush(self, fn: H) -> H:
        """Register a flush hook: process what is queued; return a JSON-able report."""
        self._flush_hooks.append(fn)
        return fn

    def on_save_state(self, key: str) -> Callable[[H], H]:
        """Register the hook whose JSON-able return value is saved under ``key``.

        >>> lifecycle = Lifecycle("doc")
        >>> @lifecycle.on_save_state("positions")
        ... async def save_positions() -> dict[str, float]:
        ...     return {"BTCUSDT": 0.5}
        """

        def register(fn: H) -> H:
            if key in self._save_hooks:
                raise ValueError(f"a save hook for {key!r} is already registered")
            self._save_hooks[key] = fn
            return fn

        return register

    def on_restore_state(self, key: str) -> Callable[[H], H]:
        """Register the hook called at startup, before ready, with the value saved under ``key``.

        >>> lifecycle = Lifecycle("doc")
        >>> @lifecycle.on_restore_state("positions")
        ... async def restore_positions(saved: dict[str, float]) -> None: ...
        """

        def register(fn: H) -> H:
            if key in self._restore_hooks:
                raise ValueError(f"a restore hook for {key!r} is already registered")
            self._restore_hooks[key] = fn
            return fn

        return register

    def restart_blocker(self, fn: H) -> H:
        """Register a blocker: return a reason (``"2 active orders"``) to block, else ``None``."""
        self._blockers.append(fn)
        return fn

    def add_closer(
        self, fn: Hook, *, name: str | None = None, timeout: float | None = None
    ) -> None:
        """Run ``fn`` at exit, after the save; closers run in reverse order of registration.

        >>> lifecycle = Lifecycle("doc")
        >>> lifecycle.add_closer(lambda: None, name="exchange-session")
        """
        self._closers.append(Closer(name or hook_name(fn), fn, timeout))

    def add_check(
        self,
        name: str,
        fn: CheckFn,
        *,
        timeout: float = 2.0,
        ttl: float = 5.0,
        critical: bool = False,
    ) -> None:
        """Add a dependency check to ``/health`` (cached ``ttl`` s, bounded by ``timeout``).

        A failing ``critical`` check also makes ``/health/ready`` answer 503.
        """
        self._checks[name] = DependencyCheck(name, fn, timeout=timeout, ttl=ttl, critical=critical)

    def track(self, kind: str, id: object = None) -> AbstractAsyncContextManager[WorkUnit]:
        """Track a unit of work the drain must wait for (a beacon).

        >>> import asyncio
        >>> lifecycle = Lifecycle("doc")
        >>> async def place_order() -> None:
        ...     async with lifecycle.track("order", id="o-1"):
        ...         await asyncio.sleep(0)
        >>> asyncio.run(place_order())
        """
        return self.work.track(kind, id)

    def tracked(
        self, kind: str, *, id_from: str | None = None
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Decorator form of :meth:`track`; ``id_from`` names the argument holding the id."""

        def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            signature = inspect.signature(fn)

            @functools.wraps(fn)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                unit_id = None
                if id_from is not None:
                    bound = signature.bind_partial(*args, **kwargs)
                    unit_id = bound.arguments.get(id_from)
                async with self.work.track(kind, unit_id):
                    return await fn(*args, **kwargs)

            return wrapper

        return decorate

    # -- wiring ----------------------------------------------------------------------

    def install(self, app: FastAPI, *, metrics: bool | None = None) -> None:
        """Add the pure-ASGI middleware and make this lifecycle reachable from the routes.

        ``metrics``: serve Prometheus metrics at ``/metrics`` (default: when the
        ``metrics`` extra, prometheus-client, is installed).
        """
        from shutdown_sdk._metrics import LifecycleMetrics, metrics_available
        from shutdown_sdk._middleware import LifecycleMiddleware
        from shutdown_sdk._routes import control_app

        if metrics is None:
            metrics = metrics_available()
        if metrics:
            self._metrics = LifecycleMetrics(self)
        self.control_app = control_app(self._metrics)
        app.state.lifecycle = self
        app.add_middleware(LifecycleMiddleware, lifecycle=self)

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """The app's lifespan: restore before ready; drain, save and close at exit.

        With a lifespan of your own, enter this one inside it::

            @asynccontextmanager
            async def lifespan(app):
                async with lifecycle.lifespan(app):
                    yield
        """
        await self.startup(app)
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self, app: Any = None) -> None:
        """Restore state, learn how to exit, then report ready (or paused)."""
        self._started_at = time.monotonic()
        _ensure_log_output()
        if app is not None:
            _move_sdk_routes_last(app)
        settings = self.settings
        if settings.admin_token is None and settings.allow_insecure_admin:
            logger.warning(
                "%s: admin API open WITHOUT a token (SHUTDOWN_ALLOW_INSECURE_ADMIN): "
                "local development only",
                self.service,
            )
        if self._store is None:
            self._store = open_state_store(
                settings.state_store,
                self.service,
                key_prefix=settings.key_prefix,
                fallback_dir=settings.state_fallback_dir,
            )
        if settings.redis_url:
            self._bus = RedisBus(
                settings.redis_url,
                service=self.service,
                stream=settings.events_stream,
                key_prefix=settings.key_prefix,
            )
        paused = await self._restore()
        if self._bus is not None:
            shared = await self._bus.shared_pause()
            if shared is not None:
                paused = shared
            self._bus.listen(self._apply_shared_pause)
        self._exit = ExitSignals(self._sigterm_received, settings.exit_signal_target)
        self._exit.install()
        if paused:
            self._paused = True
            self._resumed.clear()
        self._set_state(LifecycleState.PAUSED if paused else LifecycleState.READY)

    async def _restore(self) -> bool:
        """Call the restore hooks with the saved snapshot; return whether it was paused."""
        assert self._store is not None
        started = time.perf_counter()
        source = self._store.kind
        try:
            async with asyncio.timeout(self.settings.save_timeout):
                snapshot = await self._store.load()
        except (SnapshotError, TimeoutError, OSError, Exception) as exc:
            self.last_restore = {"ok": False, "source": source, "error": _describe(exc)}
            if self.settings.fail_on_restore_error:
                raise RestoreError(
                    f"{self.service}: cannot read saved state ({_describe(exc)}); refusing to "
                    "start without it. Roll back the snapshot (restartctl does) or set "
                    "SHUTDOWN_FAIL_ON_RESTORE_ERROR=false to start empty."
                ) from exc
            logger.error("%s: starting WITHOUT saved state: %s", self.service, _describe(exc))
            return False
        results: list[HookResult] = []
        if snapshot is not None:
            for key, fn in self._restore_hooks.items():
                if key in snapshot.state:
                    result, _ = await run_hook(
                        fn, snapshot.state[key], timeout=self.settings.hook_timeout, name=key
                    )
                    results.append(result)
            self.previous_shutdown = snapshot.shutdown
        self._record("restore_state", results)
        failed = [r for r in results if not r.ok]
        self.last_restore = {
            "ok": not failed,
            "source": source,
            "found": snapshot is not None,
            "saved_at": snapshot.saved_at if snapshot else None,
            "checksum": snapshot.checksum if snapshot else None,
            "keys": sorted(snapshot.state) if snapshot else [],
            "paused": snapshot.paused if snapshot else False,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        self._publish("lifecycle.restored", self.last_restore)
        if failed and self.settings.fail_on_restore_error:
            reasons = "; ".join(f"{r.name}: {r.error}" for r in failed)
            raise RestoreError(f"{self.service}: restore hooks failed ({reasons}); not starting")
        return bool(snapshot and snapshot.paused and self.settings.restore_paused)

    # -- pause, resume, flush, save, gate --------------------------------------------

    async def pause(self, reason: str | None = None) -> dict[str, Any]:
        """Stop taking new background work; HTTP keeps being served. Idempotent."""
        self._refuse_if_stopping("pause")
        changed = await self._apply_pause(True, reason=reason)
        if changed and self._bus is not None:
            await self._bus.share_pause(True)
        return self._pause_reply(changed, "pause")

    async def resume(self, reason: str | None = None) -> dict[str, Any]:
        """Take new background work again. Idempotent."""
        self._refuse_if_stopping("resume")
        changed = await self._apply_pause(False, reason=reason)
        if changed and self._bus is not None:
            await self._bus.share_pause(False)
        return self._pause_reply(changed, "resume")

    def _refuse_if_stopping(self, action: str) -> None:
        if self._state.stopping:
            raise LifecycleConflict(f"cannot {action}: {self.service} is {self._state.value}")

    def _pause_reply(self, changed: bool, kind: str) -> dict[str, Any]:
        return {
            "service": self.service,
            "state": self._state.value,
            "paused": self.paused,
            "changed": changed,
            "hooks": self._hook_results.get(kind, []) if changed else [],
        }

    async def _apply_pause(self, paused: bool, *, reason: str | None = None) -> bool:
        if paused == self.paused or self._state.stopping:
            return False
        self._paused = paused
        if paused:
            self._resumed.clear()  # loops see it before the hooks run
            self._set_state(LifecycleState.PAUSED, reason=reason)
            self._record("pause", await run_hooks(self._pause_hooks, timeout=self._hook_timeout))
        else:
            self._record("resume", await run_hooks(self._resume_hooks, timeout=self._hook_timeout))
            self._resumed.set()
            self._set_state(LifecycleState.READY, reason=reason)
        return True

    async def _apply_shared_pause(self, paused: bool) -> None:
        await self._apply_pause(paused, reason="shared by another worker")

    async def flush(self) -> dict[str, Any]:
        """Run the flush hooks in order; report each one's returned value."""
        flushed: dict[str, Any] = {}
        results = []
        for fn in self._flush_hooks:
            result, value = await run_hook(fn, timeout=self._hook_timeout)
            results.append(result)
            if result.ok:
                flushed[result.name] = value
        self._record("flush", results)
        return {
            "ok": all(r.ok for r in results),
            "service": self.service,
            "flushed": flushed,
            "hooks": [r.as_dict() for r in results],
        }

    async def save_state(self, reason: str = "admin") -> dict[str, Any]:
        """Run the save hooks and write one snapshot; a failed hook keeps its last good value."""
        async with self._save_lock:
            return await self._save_locked(reason)

    async def _save_locked(self, reason: str) -> dict[str, Any]:
        assert self._store is not None, "save_state() before startup()"
        started = time.perf_counter()
        state: dict[str, Any] = {}
        results: list[HookResult] = []
        stale: list[str] = []
        for key, fn in self._save_hooks.items():
            result, value = await run_hook(fn, timeout=self._hook_timeout, name=key)
            if result.ok:
                try:
                    canonical_json(value)
                except (TypeError, ValueError) as exc:
                    result = HookResult(key, False, result.duration_ms, f"not JSON-able: {exc}")
            results.append(result)
            if result.ok:
                state[key] = value
            else:
                stale.append(key)
        if stale:
            await self._carry_forward(state, stale)
        self._record("save_state", results)
        snapshot = Snapshot.build(
            self.service,
            self.version,
            state,
            paused=self.paused,
            shutdown=self.drain_report if reason == "shutdown" else None,
            stale=stale,
        )
        report: dict[str, Any] = {
            "ok": False,
            "service": self.service,
            "reason": reason,
            "saved_at": snapshot.saved_at,
            "checksum": snapshot.checksum,
            "stale": stale,
            "hooks": [r.as_dict() for r in results],
        }
        try:
            async with asyncio.timeout(self.settings.save_timeout):
                receipt = await self._store.save(snapshot)
        except Exception as exc:
            report["error"] = _describe(exc)
            logger.error("%s: snapshot NOT written: %s", self.service, report["error"])
        else:
            report.update(
                ok=not stale,
                store=receipt.store,
                key=receipt.key,
                size_bytes=receipt.size_bytes,
                fallback=receipt.fallback,
            )
            if receipt.fallback:
                report["error"] = f"primary store failed, wrote the fallback: {receipt.error}"
        duration = time.perf_counter() - started
        report["duration_ms"] = round(duration * 1000, 3)
        self.last_save = report
        if self._metrics is not None:
            self._metrics.saved(duration, report["ok"])
        self._publish("lifecycle.saved", {k: v for k, v in report.items() if k != "hooks"})
        return report

    async def _carry_forward(self, state: dict[str, Any], stale: list[str]) -> None:
        assert self._store is not None
        try:
            previous = await self._store.load()
        except Exception as exc:
            logger.error("%s: cannot read the last snapshot: %s", self.service, exc)
            return
        if previous is not None:
            for key in stale:
                if key in previous.state:
                    state[key] = previous.state[key]

    async def can_restart(self) -> dict[str, Any]:
        """Ask every restart blocker; a blocker that fails or hangs blocks (fail closed)."""
        reasons: list[str] = []
        blockers = []
        for fn in self._blockers:
            result, reason = await run_hook(fn, timeout=self._hook_timeout)
            if not result.ok:
                reason = f"blocker {result.name} failed: {result.error}"
            if reason:
                reasons.append(str(reason))
            blockers.append({**result.as_dict(), "reason": reason or None})
        self._hook_results["restart_blockers"] = blockers
        return {
            "ok": not reasons,
            "service": self.service,
            "reasons": reasons,
            "blockers": blockers,
        }

    # -- the exit sequence -------------------------------------------------------------

    def request_shutdown(
        self, timeout: float | None = None, reason: str = "admin"
    ) -> dict[str, Any]:
        """Begin the exit sequence and return at once; later calls return the first reply."""
        if self._shutdown_reply is not None:
            return {**self._shutdown_reply, "already": True, "state": self._state.value}
        deadline = timeout if timeout is not None else self.settings.drain_deadline
        self._drain_started = time.monotonic()
        # Readiness fails and new requests are refused from this line on.
        self.refusing = True
        self.stopping.set()
        self._resumed.set()  # loops waiting to be resumed must wake up and see `stopping`
        self._set_state(LifecycleState.DRAINING, reason=reason, drain_deadline_s=deadline)
        self._shutdown_reply = {
            "service": self.service,
            "state": self._state.value,
            "accepted": True,
            "already": False,
            "reason": reason,
            "drain_deadline_s": deadline,
            "deadline_at": _iso_in(deadline),
            "pid": os.getpid(),
            "server_pid": self.server_pid,
        }
        whole_service = reason != "sigterm"
        if whole_service and self._exit is not None and self._exit.parent_pid is not None:
            # Several workers: the supervisor stops them all, each draining its own requests.
            self._exit.request_exit(whole_service=True)
        self._drain_task = asyncio.get_running_loop().create_task(
            self._drain_then_exit(deadline, reason), name="shutdown-sdk-drain"
        )
        return dict(self._shutdown_reply)

    def _sigterm_received(self) -> None:
        if self._drain_task is None:
            logger.info("%s: SIGTERM received; draining", self.service)
            self.request_shutdown(reason="sigterm")
        elif self._exit is not None and self._exit.sigterm_count > 1:
            logger.warning("%s: second SIGTERM: cutting the drain short", self.service)
            self.cut_drain_short()

    def cut_drain_short(self) -> None:
        """Stop waiting (pre-drain delay, requests, work) and go on to save and close now."""
        self._hurry.set()
        self.work.interrupt()

    async def _drain_then_exit(self, deadline: float, reason: str) -> None:
        # 1. (done) readiness answers 503, new requests get 503 + Retry-After.
        # 2. Listeners stay open for the pre-drain delay: load balancers stop routing here.
        await self._sleep_unless_hurried(self.settings.pre_drain_delay)
        # 3. Wait for in-flight requests and tracked work, up to the deadline.
        await self._wait_for_work(deadline)
        # 4. Ask the server to exit; lifespan shutdown then saves and closes.
        exiting = self._exit is not None and self._exit.request_exit(whole_service=False)
        if not exiting and self.on_exit_requested is not None:
            self.on_exit_requested()

    async def _sleep_unless_hurried(self, seconds: float) -> None:
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._hurry.wait()
            except TimeoutError:
                pass

    async def _wait_for_work(self, deadline: float) -> None:
        remaining = max(0.0, deadline - (time.monotonic() - self._drain_started))
        drained = await self.work.wait_quiet(remaining)
        abandoned = [
            {"kind": u.kind, "id": u.id, "age_s": round(time.monotonic() - u.started, 3)}
            for u in self.work.open_units
        ]
        self.drain_report = {
            "reason": self._shutdown_reply["reason"] if self._shutdown_reply else "server",
            "drained": drained,
            "in_flight_left": self.work.in_flight,
            "abandoned": abandoned,
            "duration_s": round(time.monotonic() - self._drain_started, 3),
            "at": utc_now_iso(),
        }
        if self._metrics is not None:
            self._metrics.drained(self.drain_report["duration_s"])
        if drained:
            logger.info("%s: drained in %.3f s", self.service, self.drain_report["duration_s"])
        else:
            logger.error(
                "%s: drain deadline passed: %d request(s) and %d work unit(s) abandoned: %s",
                self.service,
                self.work.in_flight,
                len(abandoned),
                abandoned,
            )
            if self.work.in_flight and self._exit is not None:
                self._exit.bound_server_wait()
        self._publish("lifecycle.drained", self.drain_report)

    async def shutdown(self) -> None:
        """Lifespan shutdown: the server has stopped serving; finish the drain, save, close."""
        if self._drain_task is None:
            # Stopped another way (Ctrl-C, a server without a chainable handler, tests).
            self.request_shutdown(reason="server")
        assert self._drain_task is not None
        try:
            await self._drain_task
        except Exception:
            logger.exception("%s: drain failed; saving anyway", self.service)
        # 5. Save state while nothing runs any more.
        self._set_state(LifecycleState.SAVING)
        await self.save_state(reason="shutdown")
        # 6. Close what the service opened, newest first.
        self._set_state(LifecycleState.CLOSING)
        await self._close()
        # 7. Stopped: the server exits (uvicorn re-raises the signal: exit code 143).
        self._set_state(LifecycleState.STOPPED)
        await self._release()

    async def _close(self) -> None:
        results = []
        for closer in reversed(self._closers):
            result, _ = await run_hook(
                closer.fn, timeout=closer.timeout or self._hook_timeout, name=closer.name
            )
            results.append(result)
        self._record("close", results)

    async def _release(self) -> None:
        if self._exit is not None:
            self._exit.uninstall()
        if self._bus is not None:
            await asyncio.sleep(0)  # let the last events go out
            await self._bus.aclose()
            self._bus = None
        if self._store is not None:
            await self._store.aclose()

    # -- reports -------------------------------------------------------------------

    @property
    def _hook_timeout(self) -> float:
        return self.settings.hook_timeout

    def _record(self, kind: str, results: list[HookResult]) -> None:
        self._hook_results[kind] = [r.as_dict() for r in results]

    async def check_results(self) -> dict[str, dict[str, Any]]:
        if not self._checks:
            return {}
        names = list(self._checks)
        results = await asyncio.gather(*(self._checks[n].result() for n in names))
        return dict(zip(names, results, strict=True))

    async def ready(self) -> bool:
        """Whether the service should receive traffic now."""
        if not self._state.serving:
            return False
        checks = await self.check_results()
        return all(c["ok"] for c in checks.values() if c["critical"])

    async def health(self) -> dict[str, Any]:
        checks = await self.check_results()
        return {
            "service": self.service,
            "version": self.version,
            "state": self._state.value,
            "paused": self.paused,
            "ready": self._state.serving and all(c["ok"] for c in checks.values() if c["critical"]),
            "uptime_s": round(self.uptime_s, 3),
            "in_flight": self.work.in_flight,
            "work": self.work.counts_by_kind(),
            "checks": checks,
        }

    async def status(self) -> dict[str, Any]:
        body = await self.health()
        body.update(
            pid=os.getpid(),
            server_pid=self.server_pid,
            work=self.work.units_by_kind(),
            hooks=dict(self._hook_results),
            last_save=self.last_save,
            last_restore=self.last_restore,
            previous_shutdown=self.previous_shutdown,
            drain=self.drain_report or self._shutdown_reply,
            settings={
                "drain_deadline_s": self.settings.drain_deadline,
                "pre_drain_delay_s": self.settings.pre_drain_delay,
                "hook_timeout_s": self.settings.hook_timeout,
                "state_store": self._store.kind if self._store else None,
                "admin_token_configured": self.settings.admin_token is not None,
            },
        )
        return body


def _move_sdk_routes_last(app: Any) -> None:
    """Put the SDK's routes after the app's own: user requests then never test them."""
    from shutdown_sdk._routes import SDK_ENDPOINTS, admin_router

    router = getattr(app, "router", None)
    routes = getattr(router, "routes", None)
    if not isinstance(routes, list):
        return

    def is_sdk(route: Any) -> bool:
        # Older FastAPI copies an included router's routes; newer keeps it as one
        # route that points at the router (``original_router``).
        return (
            getattr(route, "endpoint", None) in SDK_ENDPOINTS
            or getattr(route, "original_router", None) is admin_router
        )

    sdk = [r for r in routes if is_sdk(r)]
    if sdk:
        routes[:] = [r for r in routes if not is_sdk(r)] + sdk


def _ensure_log_output() -> None:
    """Show lifecycle logs when the app configured no logging (uvicorn configures only its own).

    An operator must see the drain and the save in the service's output.
    """
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     [shutdown_sdk] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _iso_in(seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _discard(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
