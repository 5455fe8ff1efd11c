"""How services are stopped and started: one module per backend, listed once in ``BACKENDS``.

>>> backend = build_backend(
...     SupervisorBackendConfig(url="unix:///run/supervisor.sock", program="fleet:execution"),
...     ServiceTarget("execution", "http://127.0.0.1:8002", admin_token=None, shutdown_grace_s=30),
... )
>>> result = await backend.stop()  # doctest: +SKIP
>>> result.forced  # doctest: +SKIP
False
"""

from restart_orchestrator.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    ProcessState,
    ServiceTarget,
    StopResult,
)
from restart_orchestrator.backends.command import CommandBackend, CommandBackendConfig
from restart_orchestrator.backends.http import HttpBackend, HttpBackendConfig
from restart_orchestrator.backends.kubernetes import (
    KubernetesBackend,
    KubernetesBackendConfig,
    RolloutFailed,
    rollout_status,
)
from restart_orchestrator.backends.registry import BACKENDS, build_backend
from restart_orchestrator.backends.supervisor import SupervisorBackend, SupervisorBackendConfig

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "BackendError",
    "CommandBackend",
    "CommandBackendConfig",
    "HttpBackend",
    "HttpBackendConfig",
    "KubernetesBackend",
    "KubernetesBackendConfig",
    "ProcessState",
    "RolloutFailed",
    "ServiceTarget",
    "StopResult",
    "SupervisorBackend",
    "SupervisorBackendConfig",
    "build_backend",
    "rollout_status",
]
