"""Numbers TOML parses that no field can use: ``inf``, ``nan``, negatives, huge integers.

Each used to reach code downstream of validation (the plan's worst-case sum, a
float conversion) and end ``restartctl validate``/``plan`` with a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from restart_orchestrator.cli import cli

BASE = """\
name = "f"
state_store = "state"
[services.a]
url = "http://127.0.0.1:1"
token_env = "NUMBERS_TOKEN"
backend = { kind = "command", start = "true", stop = "true" }
"""
TCP_CHECK = '[[checks]]\nkind = "tcp"\nname = "t"\nhost = "127.0.0.1"\nport = 1\n'


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        (TCP_CHECK + "timeout_s = inf\n", "checks[0].timeout_s", "inf is not a finite number"),
        (TCP_CHECK + "timeout_s = nan\n", "checks[0].timeout_s", "nan is not a finite number"),
        (TCP_CHECK + "timeout_s = -1\n", "checks[0].timeout_s", "greater than 0"),
        (TCP_CHECK + "timeout_s = 0\n", "checks[0].timeout_s", "greater than 0"),
        (TCP_CHECK + "max_latency_ms = -inf\n", "checks[0].max_latency_ms", "-inf is not a finite"),
        ("[gate]\nmax_wait = 1" + "0" * 400 + "\n", "gate.max_wait", "out of range"),
        ("[gate]\nmax_wait = -1" + "0" * 30 + "\n", "gate.max_wait", "out of range"),
        ("[gate]\nmax_wait = 1e400\n", "gate.max_wait", "inf is not a finite number"),
        ("[lock]\nttl = 0x7fffffffffffffffffff\n", "lock.ttl", "out of range"),
        ('[backup]\ncommand = "true"\ntimeout_s = inf\n', "backup.timeout_s", "not a finite"),
        ('[backup]\ncommand = "true"\ntimeout_s = -5\n', "backup.timeout_s", "greater than 0"),
        ("[services.a.backend]\nstart_timeout_s = nan\n", "services.a.backend.start_timeout_s",
         "nan is not a finite number"),
        ("[notifications]\nstream_maxlen = 99999999999999999999\n", "notifications.stream_maxlen",
         "out of range"),
    ],
    ids=["check-timeout-inf", "check-timeout-nan", "check-timeout-negative", "check-timeout-zero",
         "check-latency-minus-inf", "huge-int-duration", "huge-negative-int-duration",
         "float-overflow-duration", "hex-beyond-64-bits", "backup-timeout-inf",
         "backup-timeout-negative", "backend-timeout-nan", "huge-int-count"],
)  # fmt: skip
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_unusable_numbers_are_exit_2_naming_the_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    field: str,
    reason: str,
    command: str,
) -> None:
    """1. a fleet file with one unusable number  2. restartctl validate / plan
    Result: exit 2; one line ``<file>: <field>: <reason>``; no traceback."""
    monkeypatch.setenv("NUMBERS_TOKEN", "t")
    path = tmp_path / "fleet.toml"
    text = BASE + extra
    if extra.startswith("[services.a.backend]"):  # a table instead of the inline one
        text = BASE.replace('backend = { kind = "command", start = "true", stop = "true" }\n', "")
        text += '[services.a.backend]\nkind = "command"\nstart = "true"\nstop = "true"\n'
        text += extra.split("\n", 1)[1]
    path.write_text(text)
    result = CliRunner().invoke(cli, [command, "-c", str(path)])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    line = next(line for line in result.output.splitlines() if f": {field}: " in line)
    assert str(path) in line
    assert reason in line, line


def test_a_number_too_long_for_python_names_its_line(tmp_path: Path) -> None:
    """1. a fleet file with a 5001-digit integer (beyond int()'s 4300-digit limit)
    Result: exit 2 naming the line and the length, no traceback."""
    path = tmp_path / "fleet.toml"
    path.write_text(BASE + "[gate]\nmax_wait = 1" + "0" * 5000 + "\n")
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"{path}: line 8: a number of 5001 digits is out of range" in result.output


def test_every_unusable_number_is_listed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. a fleet file with four unusable numbers in different tables
    Result: exit 2 and one line for each (the operator fixes them in one go)."""
    monkeypatch.setenv("NUMBERS_TOKEN", "t")
    path = tmp_path / "fleet.toml"
    path.write_text(
        BASE.replace('stop = "true" }', 'stop = "true", kill_timeout_s = inf }')
        + "[gate]\nmax_wait = -inf\npoll_interval = 0x7fffffffffffffffffff\n"
        + TCP_CHECK
        + "max_latency_ms = nan\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    for field in (
        "services.a.backend.kill_timeout_s",
        "gate.max_wait",
        "gate.poll_interval",
        "checks[0].max_latency_ms",
    ):
        assert f"{path}: {field}: " in result.output, (field, result.output)


def test_a_duration_beyond_a_year_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finite but absurd (1e300 s overflows socket timeouts at run time): exit 2 at validate."""
    monkeypatch.setenv("NUMBERS_TOKEN", "t")
    path = tmp_path / "fleet.toml"
    path.write_text(BASE.replace("[services.a]\n", "[services.a]\nshutdown_grace = 1e300\n"))
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "services.a.shutdown_grace" in result.output
    assert "longer than a year" in result.output
