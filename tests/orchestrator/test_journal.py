"""The run journal: atomic, step by step, and what counts as unrecovered."""

from __future__ import annotations

import json
from pathlib import Path

from restart_orchestrator.journal import Journal, needs_recovery, read_journal


def test_journal_records_every_step_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "j" / "trading.journal.json"
    journal = Journal.begin(path, fleet="trading", run_id="r1", command="run", scope=["a", "b"])
    journal.phase("pre-restart")
    journal.add("paused", "a")
    journal.add("stopping", "b")
    data = json.loads(path.read_text())
    assert data["paused"] == ["a"]
    assert data["stopping"] == ["b"]
    assert data["phase"] == "pre-restart"
    assert needs_recovery(data)
    journal.finish("completed")
    assert not needs_recovery(read_journal(path))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_missing_journal_needs_no_recovery(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.json") is None
    assert not needs_recovery(None)


def test_blocked_and_recovered_runs_are_closed(tmp_path: Path) -> None:
    for status, open_ in [
        ("blocked", False),
        ("recovered", False),
        ("failed", True),
        ("running", True),
    ]:
        assert needs_recovery({"status": status}) is open_
