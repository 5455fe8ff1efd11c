"""The backend registry: one line per backend."""

from __future__ import annotations

from restart_orchestrator.backends.base import Backend, BackendConfig, ServiceTarget
from restart_orchestrator.backends.command import CommandBackend
from restart_orchestrator.backends.http import HttpBackend
from restart_orchestrator.backends.kubernetes import KubernetesBackend
from restart_orchestrator.backends.supervisor import SupervisorBackend

BACKENDS: dict[str, type[Backend]] = {
    "command": CommandBackend,
    "http": HttpBackend,
    "kubernetes": KubernetesBackend,
    "supervisor": SupervisorBackend,
}


def build_backend(config: BackendConfig, target: ServiceTarget) -> Backend:
    """The backend for ``config`` (a validated config model of one of ``BACKENDS``).

    >>> sorted(BACKENDS)
    ['command', 'http', 'kubernetes', 'supervisor']
    """
    kind = getattr(config, "kind", None)
    backend_class = BACKENDS.get(str(kind))
    if backend_class is None:
        raise ValueError(f"unknown backend kind {kind!r}; known: {', '.join(sorted(BACKENDS))}")
    if not isinstance(config, backend_class.config_model):
        raise TypeError(
            f"{target.name}: {type(config).__name__} is not {backend_class.config_model.__name__}"
        )
    return backend_class(config, target)
