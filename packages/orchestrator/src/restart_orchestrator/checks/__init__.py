"""Infrastructure checks of phase 3: one module per kind, listed once in ``CHECKS``.

>>> check = build_check(RedisCheckConfig(name="redis", url="redis://127.0.0.1:6379/0"))
>>> result = await check.run()  # doctest: +SKIP
>>> result.ok, result.details["memory_percent"]  # doctest: +SKIP
(True, 12.5)
"""

from restart_orchestrator.checks.backup import BackupConfig, run_backup
from restart_orchestrator.checks.base import Check, CheckConfig, CheckResult
from restart_orchestrator.checks.http import HttpCheck, HttpCheckConfig
from restart_orchestrator.checks.postgres import PostgresCheck, PostgresCheckConfig
from restart_orchestrator.checks.redis import RedisCheck, RedisCheckConfig
from restart_orchestrator.checks.registry import CHECKS, build_check
from restart_orchestrator.checks.tcp import TcpCheck, TcpCheckConfig

__all__ = [
    "CHECKS",
    "BackupConfig",
    "Check",
    "CheckConfig",
    "CheckResult",
    "HttpCheck",
    "HttpCheckConfig",
    "PostgresCheck",
    "PostgresCheckConfig",
    "RedisCheck",
    "RedisCheckConfig",
    "TcpCheck",
    "TcpCheckConfig",
    "build_check",
    "run_backup",
]
