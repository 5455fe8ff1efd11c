"""The backend registry: what the fleet file's ``backend`` tables are built from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from restart_orchestrator.backends import (
    BACKENDS,
    CommandBackendConfig,
    KubernetesBackendConfig,
    ServiceTarget,
    SupervisorBackendConfig,
    build_backend,
)


def test_every_registered_kind_matches_its_config_model() -> None:
    for kind, backend_class in BACKENDS.items():
        assert backend_class.kind == kind
        assert backend_class.config_model.model_fields["kind"].default == kind


def test_config_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="stopwait"):
        SupervisorBackendConfig(stopwait=3)  # type: ignore[call-arg]


def test_supervisor_url_must_be_http_or_unix() -> None:
    with pytest.raises(ValidationError, match=r"unix:///path/to/supervisor\.sock"):
        SupervisorBackendConfig(url="tcp://127.0.0.1:9001")
    assert SupervisorBackendConfig(url="unix:///run/supervisor.sock").url.startswith("unix")


def test_build_backend_gives_the_registered_class() -> None:
    target = ServiceTarget("execution", "http://127.0.0.1:8002", None, shutdown_grace_s=30)
    backend = build_backend(CommandBackendConfig(start="true", stop="true"), target)
    assert backend.kind == "command"
    assert backend.target is target


def test_build_backend_refuses_a_config_of_no_known_kind() -> None:
    from restart_orchestrator.backends import BackendConfig

    target = ServiceTarget("execution", "http://127.0.0.1:8002", None, shutdown_grace_s=30)
    with pytest.raises(ValueError, match="unknown backend kind None"):
        build_backend(BackendConfig(), target)


def test_kubernetes_config_needs_no_lightkube() -> None:
    """The fleet file validates on machines without the kubernetes extra."""
    config = KubernetesBackendConfig(namespace="trading", stop_mode="scale")
    assert (config.kind, config.stop_mode) == ("kubernetes", "scale")
