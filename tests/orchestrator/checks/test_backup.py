"""The backup command helper of phase 3 with real shell commands."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from restart_orchestrator.checks import BackupConfig, run_backup

pytestmark = pytest.mark.anyio


async def test_successful_backup_reports_its_output(tmp_path: Path) -> None:
    dump = tmp_path / "trading.dump"
    config = BackupConfig(command=f"echo 'rows: 42' | tee {dump}", cwd=str(tmp_path))

    result = await run_backup(config)

    assert result.ok, result.reason
    assert (result.kind, result.name) == ("backup", "backup")
    assert result.details["returncode"] == 0
    assert result.details["output_tail"] == "rows: 42"
    assert dump.read_text() == "rows: 42\n"


async def test_failing_backup_carries_status_and_output() -> None:
    config = BackupConfig(command="echo 'pg_dump: error: connection refused' >&2; exit 1")

    result = await run_backup(config)

    assert not result.ok
    assert "exited with status 1" in result.reason
    assert "pg_dump: error: connection refused" in result.reason
    assert result.details["returncode"] == 1


async def test_backup_outliving_its_timeout_is_killed() -> None:
    started = time.monotonic()
    result = await run_backup(BackupConfig(command="echo started; sleep 30", timeout_s=0.5))

    assert not result.ok
    assert "timed out after" in result.reason
    assert result.details["timed_out"] is True
    assert result.details["output_tail"] == "started"
    assert time.monotonic() - started < 10


async def test_backup_in_a_missing_directory_fails_with_reason(tmp_path: Path) -> None:
    result = await run_backup(BackupConfig(command="true", cwd=str(tmp_path / "missing")))

    assert not result.ok
    assert result.reason.startswith("cannot run `true`")
