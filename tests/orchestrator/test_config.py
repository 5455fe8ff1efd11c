"""The fleet file: the example fleet, the bad-config corpus, durations and token files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from restart_orchestrator.cli import cli
from restart_orchestrator.config import load_fleet, resolve_token
from restart_orchestrator.durations import format_duration, parse_duration
from restart_orchestrator.errors import ConfigError

DATA = Path(__file__).parent / "data"
BAD = sorted((DATA / "bad").glob("*.toml"))


def expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def test_example_fleet_reproduces_the_runbook_orders() -> None:
    fleet = load_fleet(DATA / "fleet.toml")
    assert fleet.shutdown_order == [
        "ai-engine",
        "portfolio-intelligence",
        "execution",
        "risk-safety",
        "monitoring-health",
    ]
    assert fleet.startup_order == [
        "risk-safety",
        "execution",
        "ai-engine",
        "portfolio-intelligence",
        "monitoring-health",
    ]


def test_example_fleet_values_are_read_with_units() -> None:
    fleet = load_fleet(DATA / "fleet.toml")
    assert fleet.config.gate.max_wait == 300
    assert fleet.config.lock.ttl == 7200
    assert fleet.services["execution"].shutdown_grace == 30
    assert fleet.services["ai-engine"].pause_first is True
    assert fleet.config.window.blackouts[0].reason == "exchange maintenance"
    assert [check.name for check in fleet.config.checks] == ["redis", "postgres", "exchange"]


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_bad_config_is_one_clear_message_and_exit_2(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)], env={"T": "token"})
    assert result.exit_code == 2, result.output
    assert expected_message(path) in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output


def test_bad_config_raises_config_error_naming_file_and_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_fleet(DATA / "bad" / "unknown_dependency.toml")
    [issue] = caught.value.issues
    assert issue.field == "services.b.depends_on[1]"
    assert "unknown service 'risk'" in issue.reason


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "-c", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert "missing.toml: cannot read the file: No such file or directory" in result.output


def test_every_mistake_of_a_file_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        'name = "f"\nstate_store = "s"\n[gate]\nmax_wait = "soon"\n'
        '[services.a]\nurl = "http://x"\ntoken_env = "T"\nshutdown_grace = "1x"\n'
        'backend = { kind = "command", start = "true", stop = "true" }\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_fleet(path)
    assert [issue.field for issue in caught.value.issues] == [
        "gate.max_wait",
        "services.a.shutdown_grace",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("45", 45.0),
        ("1m30s", 90.0),
    ],
)
def test_durations_accept_numbers_and_unit_strings(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "1h30", "-1s", True, "1e3"])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_durations_are_shown_short() -> None:
    assert [format_duration(s) for s in (0.25, 30, 90, 5400, 0)] == [
        "250ms",
        "30s",
        "1m30s",
        "1h30m",
        "0s",
    ]


def fleet_with_token_file(tmp_path: Path, mode: int) -> Path:
    token = tmp_path / "execution.token"
    token.write_text("s3cret\n")
    token.chmod(mode)
    path = tmp_path / "fleet.toml"
    path.write_text(
        'name = "f"\nstate_store = "state"\n'
        '[services.execution]\nurl = "http://127.0.0.1:1"\ntoken_file = "execution.token"\n'
        'backend = { kind = "command", start = "true", stop = "true" }\n'
    )
    return path


def test_token_file_relative_to_the_fleet_file_is_read(tmp_path: Path) -> None:
    fleet = load_fleet(fleet_with_token_file(tmp_path, 0o600))
    assert resolve_token(fleet, "execution") == "s3cret"
    assert fleet.state_store == str(tmp_path / "state")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_group_or_world_readable_token_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = fleet_with_token_file(tmp_path, mode)
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2
    assert "services.execution.token_file" in result.output
    assert f"readable by group or others (mode {mode:04o}); run: chmod 600" in result.output


def test_missing_token_env_is_reported_by_validate(tmp_path: Path) -> None:
    path = DATA / "fleet.toml"
    env = {name: "" for name in os.environ if name.endswith("_ADMIN_TOKEN")}
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)], env=env)
    assert result.exit_code == 2
    assert "services.execution.token_env: environment variable EXECUTION_ADMIN_TOKEN" in (
        result.output
    )
