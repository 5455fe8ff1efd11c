"""The command line: exit codes, messages, JSON answers, options from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from restart_orchestrator import exit_codes
from restart_orchestrator.cli import cli

DATA = Path(__file__).parent / "data"
FLEET = str(DATA / "fleet.toml")
TOKENS = {
    f"{name}_ADMIN_TOKEN": "t"
    for name in (
        "RISK_SAFETY",
        "EXECUTION",
        "AI_ENGINE",
        "PORTFOLIO_INTELLIGENCE",
        "MONITORING_HEALTH",
    )
}


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_exit_codes_are_distinct_where_they_mean_different_things() -> None:
    assert (exit_codes.OK, exit_codes.FAILED, exit_codes.CONFIG_ERROR, exit_codes.BLOCKED) == (
        0,
        1,
        2,
        3,
    )
    assert exit_codes.OUTSIDE_WINDOW == exit_codes.LOCK_HELD == 4


def test_validate_answers_in_json() -> None:
    code, output = invoke("validate", "-c", FLEET, "--json", env=TOKENS)
    assert code == 0, output
    answer = json.loads(output)
    assert answer["valid"] is True
    assert answer["startup_order"][0] == "risk-safety"


def test_plan_shows_orders_and_phases_without_tokens() -> None:
    code, output = invoke("plan", "-c", FLEET)
    assert code == 0, output
    assert "shutdown order: ai-engine -> portfolio-intelligence -> execution -> risk-safety" in (
        output
    )
    assert "phase 3 infrastructure-checks" in output
    assert "pause ai-engine" in output


def test_plan_in_json_has_levels_and_worst_case() -> None:
    _code, output = invoke("plan", "-c", FLEET, "--json")
    plan = json.loads(output)
    assert plan["startup_levels"] == [
        ["risk-safety"],
        ["execution"],
        ["ai-engine"],
        ["portfolio-intelligence"],
        ["monitoring-health"],
    ]
    assert 0 < plan["worst_case_s"] < plan["lock"]["ttl_s"]
    assert [phase["phase"] for phase in plan["phases"]] == [
        "pre-restart",
        "graceful-shutdown",
        "infrastructure-checks",
        "startup",
        "verify",
    ]


def test_dry_run_prints_the_plan_and_touches_nothing() -> None:
    code, output = invoke("run", "-c", FLEET, "--dry-run")
    assert code == 0
    assert "startup order:  risk-safety -> execution" in output


def test_config_option_comes_from_the_environment() -> None:
    code, output = invoke("plan", env={"RESTARTCTL_CONFIG": FLEET})
    assert code == 0, output
    assert "fleet trading" in output


def test_default_config_is_fleet_toml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan"])
    assert result.exit_code == 2
    assert "fleet.toml: cannot read the file" in result.output


def test_bad_config_on_run_is_exit_2_before_anything_happens() -> None:
    code, output = invoke("run", "-c", str(DATA / "bad" / "cycle.toml"), "--force-window")
    assert code == 2
    assert "dependency cycle" in output


def test_restart_of_an_unknown_service_is_a_usage_error() -> None:
    code, output = invoke("restart", "-c", FLEET, "nonesuch", env=TOKENS)
    assert code == 2
    assert "unknown service 'nonesuch'" in output


def test_timeline_command_draws_a_report(tmp_path: Path) -> None:
    report = {
        "fleet": "trading",
        "command": "run",
        "outcome": "completed",
        "duration_s": 12.0,
        "started_at": "2026-12-04T04:00:00Z",
        "scope": ["risk", "ai"],
        "spans": [
            {
                "lane": "phase",
                "label": "2 graceful-shutdown",
                "start_s": 0.5,
                "end_s": 4.0,
                "ok": True,
            },
            {"lane": "ai", "label": "stop", "start_s": 0.5, "end_s": 2.0, "ok": True},
            {"lane": "risk", "label": "start #1", "start_s": 5.0, "end_s": 9.0, "ok": False},
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    out = tmp_path / "timeline.svg"
    code, output = invoke("timeline", str(path), "-o", str(out))
    assert code == 0, output
    svg = out.read_text()
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "2 graceful-shutdown 3.5s" in svg
    assert "#e03131" in svg  # the failed start is drawn in red


def test_timeline_of_a_file_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    code, output = invoke("timeline", str(path))
    assert code == 2
    assert "is not a restartctl run report" in output


def test_every_command_has_a_short_help() -> None:
    group = cli
    assert isinstance(group, click.Group)
    names = set(group.commands)
    assert names >= {
        "validate",
        "plan",
        "check",
        "status",
        "run",
        "restart",
        "recover",
        "schedule",
        "timeline",
    }
    for command in group.commands.values():
        assert command.short_help, command.name
    code, output = invoke("--help")
    assert code == 0
    assert "Run the daily restart" in output
