"""The check and backend registries: what the fleet config is built from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from restart_orchestrator.backends import (
    BACKENDS,
    CommandBackendConfig,
    ServiceTarget,
    SupervisorBackendConfig,
    build_backend,
)
from restart_orchestrator.checks import CHECKS, CheckConfig, TcpCheckConfig, build_check


def test_every_registered_kind_matches_its_config_model() -> None:
    for kind, check_class in CHECKS.items():
        assert check_class.kind == kind
        assert check_class.config_model.model_fields["kind"].default == kind
    for kind, backend_class in BACKENDS.items():
        assert backend_class.kind == kind
        assert backend_class.config_model.model_fields["kind"].default == kind


def test_config_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="prot"):
        TcpCheckConfig(name="exchange", host="127.0.0.1", port=443, prot=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="stopwait"):
        SupervisorBackendConfig(stopwait=3)  # type: ignore[call-arg]


def test_build_check_refuses_a_config_of_no_known_kind() -> None:
    with pytest.raises(ValueError, match="unknown check kind None"):
        build_check(CheckConfig(name="mystery"))


def test_build_backend_refuses_a_config_of_another_kind() -> None:
    target = ServiceTarget("execution", "http://127.0.0.1:8002", None, shutdown_grace_s=30)
    backend = build_backend(CommandBackendConfig(start="true", stop="true"), target)
    assert backend.kind == "command"
    assert backend.target is target
