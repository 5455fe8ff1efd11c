"""The check registry: one line per kind of check."""

from __future__ import annotations

from restart_orchestrator.checks.base import Check, CheckConfig
from restart_orchestrator.checks.http import HttpCheck
from restart_orchestrator.checks.postgres import PostgresCheck
from restart_orchestrator.checks.redis import RedisCheck
from restart_orchestrator.checks.tcp import TcpCheck

CHECKS: dict[str, type[Check]] = {
    "http": HttpCheck,
    "postgres": PostgresCheck,
    "redis": RedisCheck,
    "tcp": TcpCheck,
}


def build_check(config: CheckConfig) -> Check:
    """The check for ``config`` (a validated config model of one of ``CHECKS``)."""
    kind = getattr(config, "kind", None)
    check_class = CHECKS.get(str(kind))
    if check_class is None:
        raise ValueError(f"unknown check kind {kind!r}; known: {', '.join(sorted(CHECKS))}")
    if not isinstance(config, check_class.config_model):
        raise TypeError(
            f"check {config.name!r}: {type(config).__name__} is not "
            f"{check_class.config_model.__name__}"
        )
    return check_class(config)
