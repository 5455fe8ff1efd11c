"""How the SDK hears SIGTERM and how it asks the server to exit.

The server's SIGTERM handler is chained, never replaced: the SDK's handler runs
the drain first and then hands the signal to the server's handler, so uvicorn
still closes its listeners, waits for connections, runs lifespan shutdown and
re-raises the signal (exit 143) exactly as it would have.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal

logger = logging.getLogger("shutdown_sdk")

SignalHandler = Callable[[int, FrameType | None], Any]


def _is_python_handler(handler: Any) -> bool:
    if handler in (signal.SIG_DFL, signal.SIG_IGN, None, signal.default_int_handler):
        return False
    # asyncio's loop.add_signal_handler installs a no-op and dispatches through the
    # wakeup fd: chaining to it would do nothing (hypercorn runs this way).
    return getattr(handler, "__module__", "") != "asyncio.unix_events"


def supervisor_pid(target: Literal["auto", "self", "parent"]) -> int | None:
    """The pid of a multi-worker server's supervisor, when this process is one of its workers.

    uvicorn ``--workers``/``--reload`` and hypercorn ``--workers`` spawn workers with
    multiprocessing; gunicorn forks them from its arbiter. Signalling that parent
    stops every worker, so one ``/admin/shutdown`` stops the service, not one worker
    that the supervisor would replace.
    """
    if target == "parent":
        return os.getppid()
    if target == "self":
        return None
    if multiprocessing.parent_process() is not None or "gunicorn.arbiter" in sys.modules:
        return os.getppid()
    return None


class ExitSignals:
    """Chains SIGTERM to the server's handler and knows how to make the server exit."""

    def __init__(self, on_sigterm: Callable[[], None], target: Literal["auto", "self", "parent"]):
        self._on_sigterm = on_sigterm
        self._server_handler: SignalHandler | None = None
        self._installed = False
        self._loop_dispatched = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.parent_pid = supervisor_pid(target)
        self.sigterm_count = 0
        self.exit_requested = False

    @property
    def server_known(self) -> bool:
        """Whether a server exists that an exit request can reach (not in-process tests)."""
        return (
            self._server_handler is not None or self.parent_pid is not None or self._loop_dispatched
        )

    def install(self) -> None:
        """Chain to the current SIGTERM handler if it belongs to a server (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(signal.SIGTERM)
        self._loop = asyncio.get_running_loop()
        if _is_python_handler(current):
            self._server_handler = current  # type: ignore[assignment]
            signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        elif current not in (signal.SIG_DFL, signal.SIG_IGN, None):
            self._loop_dispatched = True  # os.kill(own pid) reaches the server's handler

    def uninstall(self) -> None:
        if self._installed and signal.getsignal(signal.SIGTERM) == self._handle:
            signal.signal(signal.SIGTERM, self._server_handler)
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Runs between bytecodes of the event loop: do nothing here but schedule.
        self.sigterm_count += 1
        if self.exit_requested or self.sigterm_count > 1:
            self._pass_to_server(frame)
            if self.sigterm_count > 1 and self._loop is not None:
                self._loop.call_soon_threadsafe(self._on_sigterm)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_sigterm)

    def _pass_to_server(self, frame: FrameType | None = None) -> None:
        if self._server_handler is not None:
            self._server_handler(signal.SIGTERM, frame)

    def bound_server_wait(self, seconds: float = 1.0) -> None:
        """After an abandoned drain, stop uvicorn from waiting forever for the requests left.

        uvicorn waits for open connections without limit unless
        ``timeout_graceful_shutdown`` is set; past it, it cancels them and still runs
        lifespan shutdown (so the state is saved). Other servers are left alone.
        """
        server = getattr(self._server_handler, "__self__", None)
        config = getattr(server, "config", None)
        if config is not None and getattr(config, "timeout_graceful_shutdown", 0) is None:
            config.timeout_graceful_shutdown = seconds

    def request_exit(self, *, whole_service: bool) -> bool:
        """Ask the server to exit; ``whole_service`` signals a multi-worker supervisor.

        The supervisor then sends SIGTERM to every worker, this one included: that
        signal finds this worker's drain already running and waits for it.
        """
        if whole_service and self.parent_pid is not None:
            logger.info("signalling the server supervisor (pid %d) to stop", self.parent_pid)
            os.kill(self.parent_pid, signal.SIGTERM)
            return True
        self.exit_requested = True
        if self._server_handler is not None:
            self._pass_to_server()
            return True
        if self._loop_dispatched:
            os.kill(os.getpid(), signal.SIGTERM)
            return True
        if self.parent_pid is not None:
            os.kill(self.parent_pid, signal.SIGTERM)
            return True
        logger.warning("no server to stop in this process; run the lifespan shutdown instead")
        return False
