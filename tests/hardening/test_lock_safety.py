"""Lock safety with real ``restartctl`` processes, for the file lock and the Redis lock.

``tests/orchestrator/test_lock.py`` covers the lock in-process (a second holder is
refused, a dead owner's record is reported). Here the contenders are real
processes started at the same moment against one live fleet, and the stale lock
is one a real run left when it was SIGKILLed while holding it.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import TOKEN
from tests.hardening.fleets import TOKEN_ENV, MiniFleet, json_lines

pytestmark = pytest.mark.slow

HOST = socket.gethostname()
ROUNDS = 3  # races per lock kind: which process wins, and when the loser looks, varies


@pytest.fixture(params=["file", "redis"])
def lock_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def fleet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lock_kind: str,
    redis_url: str,
    key_prefix: str,
) -> Iterator[MiniFleet]:
    """One live service; ``write()`` puts the lock in a file or under this test's Redis prefix."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    mini = MiniFleet(tmp_path)
    original = mini.write

    def write(**kwargs: Any) -> Path:
        if lock_kind == "redis":
            lock = {"location": redis_url, "key": f"{key_prefix}:lock", "ttl": "1h"}
            kwargs["extra"] = {**kwargs.get("extra", {}), "lock": lock}
        return original(**kwargs)

    mini.write = write  # type: ignore[method-assign]
    try:
        yield mini
    finally:
        mini.kill_all()


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def read_until(process: subprocess.Popen[str], wanted: str, timeout: float = 60) -> list[str]:
    """Lines of ``process`` up to the first containing ``wanted``."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if wanted in line:
            return lines
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError(f"{wanted!r} never came:\n{''.join(lines)}")


def test_two_runs_started_at_once_one_wins_the_other_exits_4_naming_it(
    fleet: MiniFleet, lock_kind: str
) -> None:
    """1. one live service; the gate is closed for the first 2 s of each round, so the
    winner holds the lock while the other looks
    2. two ``restartctl run`` processes started at the same moment, 3 rounds
    Result: each round one exits 0 (the service restarted once) and the other exits 4
    having changed nothing, refused by the lock (naming the winner's pid and host)
    or by the winner's open journal (naming its run id); the journal ends completed."""
    fleet.write(gate_wait="30s")
    fleet.start_all()
    refusals: list[str] = []
    for round_number in range(1, ROUNDS + 1):
        pid_before = fleet.pid("svc")
        fleet.block_gate("svc")
        reports = [fleet.root / f"race-{round_number}-{n}.json" for n in (1, 2)]
        first, second = (
            fleet.spawn("run", "--output", "json", "--report", str(r)) for r in reports
        )
        time.sleep(2)
        fleet.block_gate("svc", blocked=False)
        results = {first.pid: finish(first), second.pid: finish(second)}
        run_ids = {json.loads(r.read_text())["run_id"]: r for r in reports}

        codes = sorted(code for code, _ in results.values())
        assert codes == [0, 4], (round_number, results)
        winner = next(pid for pid, (code, _) in results.items() if code == 0)
        loser_output = next(output for code, output in results.values() if code == 4)
        if "lock held by" in loser_output:
            refusals.append("lock")
            assert f"lock held by pid {winner} on host {HOST} since " in loser_output
        else:  # the winner's journal was open already: named as a live run, not a crashed one
            refusals.append("journal")
            winner_run = next(
                run_id
                for run_id, report in run_ids.items()
                if json.loads(report.read_text())["exit_code"] == 0
            )
            assert f"the run {winner_run} (pid {winner} on host {HOST}, since " in loser_output
            assert "is still running" in loser_output
            assert "recover" not in loser_output
        assert "phase" not in {line.get("event") for line in json_lines(loser_output)}
        assert fleet.pid("svc") != pid_before
        fleet.wait_ready("svc")
        assert json.loads(fleet.journal.read_text())["status"] == "completed"
    print(f"\n{lock_kind} lock, {ROUNDS} races: the loser was refused by {refusals}")


#: Phase 3's backup outlasts the test's kill: the run dies with the service stopped.
SLOW_BACKUP = {"backup": {"command": "sleep 20", "timeout_s": 60}}


def kill_a_run_holding_the_lock(fleet: MiniFleet) -> tuple[int, str, dt.datetime]:
    """Start a run, SIGKILL it once it has stopped the service (lock held, journal open)."""
    started = dt.datetime.now(dt.UTC)
    run = fleet.spawn("run", "--output", "json")
    lines = read_until(run, '"action": "stopped"')
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=10)
    assert '"phase": "graceful-shutdown"' in lines[-1], lines
    run_id = json.loads(fleet.journal.read_text())["run_id"]
    return run.pid, run_id, started


def answers(fleet: MiniFleet) -> bool:
    try:
        httpx.get(fleet.url("svc") + "/health/live", timeout=2)
    except httpx.HTTPError:
        return False
    return True


def stale_since(note: str) -> dt.datetime:
    """The start time a stale-lock note gives its dead holder."""
    text = note.split(" since ", 1)[1].split()[0]
    return dt.datetime.fromisoformat(text)


def test_a_lock_left_by_a_killed_run_is_reported_stale_and_recovered_without_a_race(
    fleet: MiniFleet, lock_kind: str
) -> None:
    """1. a run is SIGKILLed holding the lock, with the service stopped (phase 3)
    2. ``restartctl run``
    3. ``restartctl recover`` and ``restartctl run`` started at the same moment
    4. ``restartctl run``
    Result: (2) exits 4 naming the killed run and ``restartctl recover``, starts
    nothing; (3) the recover reports the stale lock with the dead holder's pid,
    host and start time, starts the service and exits 0 (journal recovered); the
    run raced against it exits 4 (lock held by the recover, or the journal not yet
    recovered) and touches nothing; (4) runs normally, exit 0, no stale lock left."""
    fleet.write(gate_wait="5s", extra=SLOW_BACKUP)
    fleet.start_all()
    killed_pid, killed_run, killed_at = kill_a_run_holding_the_lock(fleet)
    journal = json.loads(fleet.journal.read_text())
    assert journal["status"] == "running"
    assert journal["stopped"] == ["svc"], journal

    refused = fleet.spawn("run", "--output", "json")
    code, output = finish(refused)
    assert code == 4, output
    assert f"the run {killed_run} of " in output
    assert "run `restartctl recover` first" in output
    assert not answers(fleet), "the refused run started the service"

    recover = fleet.spawn("recover", "--output", "json", "--report", str(fleet.root / "r.json"))
    racer = fleet.spawn("run", "--output", "json")
    (recover_code, recover_output), (racer_code, racer_output) = finish(recover), finish(racer)

    assert recover_code == 0, recover_output
    notes = json.loads((fleet.root / "r.json").read_text())["notes"]
    stale = [note for note in notes if note.startswith("stale lock of")]
    assert len(stale) == 1, notes
    assert f"stale lock of pid {killed_pid} on host {HOST} since " in stale[0]
    assert abs((stale_since(stale[0]) - killed_at).total_seconds()) < 30, (stale[0], killed_at)
    assert "process is gone" in stale[0] or "no longer running" in stale[0]
    assert f"recovering run {killed_run}" in recover_output
    assert racer_code == 4, racer_output
    assert "lock held by" in racer_output or "run `restartctl recover` first" in racer_output
    assert "phase" not in {line.get("event") for line in json_lines(racer_output)}
    assert json.loads(fleet.journal.read_text())["status"] == "recovered"
    fleet.wait_ready("svc")
    pid = fleet.pid("svc")

    fleet.write(gate_wait="5s")  # the same fleet without the slow backup
    after = fleet.spawn("run", "--output", "json", "--report", str(fleet.root / "after.json"))
    code, output = finish(after)
    assert code == 0, output
    assert json.loads((fleet.root / "after.json").read_text())["notes"] == []
    assert fleet.pid("svc") != pid


def test_two_recovers_at_once_after_a_killed_run_recover_once(
    fleet: MiniFleet, lock_kind: str
) -> None:
    """1. a run is SIGKILLed holding the lock, with the service stopped (phase 3)
    2. two ``restartctl recover`` processes started at the same moment
    Result: exactly one breaks the stale lock and recovers the run (exit 0, its
    report notes the stale lock, the service is started once); the other exits 4
    (lock held) or, arriving after the first finished, 0 with "nothing to
    recover"; never both recover."""
    fleet.write(gate_wait="5s", extra=SLOW_BACKUP)
    fleet.start_all()
    killed_pid, killed_run, _ = kill_a_run_holding_the_lock(fleet)

    reports = [fleet.root / "r1.json", fleet.root / "r2.json"]
    processes = [fleet.spawn("recover", "--output", "json", "--report", str(r)) for r in reports]
    results = [finish(process) for process in processes]

    recovered = [output for code, output in results if f"recovering run {killed_run}" in output]
    assert len(recovered) == 1, results
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 4]), results
    other = next(output for output in (o for _, o in results) if output not in recovered)
    assert "lock held by" in other or "nothing to recover" in other, other
    stale_notes = [
        note
        for report in reports
        if report.exists()
        for note in json.loads(report.read_text())["notes"]
        if note.startswith("stale lock of")
    ]
    assert len(stale_notes) == 1, stale_notes
    assert f"pid {killed_pid} on host {HOST}" in stale_notes[0]
    assert json.loads(fleet.journal.read_text())["status"] == "recovered"
    fleet.wait_ready("svc")
