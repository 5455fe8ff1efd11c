"""The check registry: what the fleet file's ``checks`` entries are built from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from restart_orchestrator.checks import (
    CHECKS,
    CheckConfig,
    HttpCheckConfig,
    TcpCheckConfig,
    build_check,
)


def test_every_registered_kind_matches_its_config_model() -> None:
    for kind, check_class in CHECKS.items():
        assert check_class.kind == kind
        assert check_class.config_model.model_fields["kind"].default == kind


def test_config_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="prot"):
        TcpCheckConfig(name="exchange", host="127.0.0.1", port=443, prot=1)  # type: ignore[call-arg]


def test_http_check_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="expected an http"):
        HttpCheckConfig(name="exchange", url="ftp://exchange.example")


def test_build_check_refuses_a_config_of_no_known_kind() -> None:
    with pytest.raises(ValueError, match="unknown check kind None"):
        build_check(CheckConfig(name="mystery"))
