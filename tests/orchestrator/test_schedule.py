"""``restartctl schedule``: cron, systemd and Kubernetes, from the window's start and zone."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from restart_orchestrator.cli import cli

DATA = Path(__file__).parent / "data"


def write_fleet(tmp_path: Path, window: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(
        f'name = "trading"\nstate_store = "state"\n[window]\n{window}\n'
        '[services.a]\nurl = "http://127.0.0.1:1"\ntoken_env = "T"\n'
        'backend = { kind = "command", start = "true", stop = "true" }\n'
    )
    return path


def schedule(*args: str) -> str:
    result = CliRunner().invoke(cli, ["schedule", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cron_line_runs_at_the_window_start_in_its_zone(tmp_path: Path) -> None:
    path = write_fleet(
        tmp_path,
        'start = "04:15"\nend = "05:00"\ntimezone = "Europe/London"\n'
        'days = ["mon", "tue", "wed", "thu", "fri"]',
    )
    text = schedule("cron", "-c", str(path), "--config-on-target", "/etc/fleet.toml")
    assert "CRON_TZ=Europe/London\n" in text
    assert "15 4 * * 1,2,3,4,5 restartctl run --config /etc/fleet.toml --output json" in text


def test_cron_every_day_uses_a_star() -> None:
    text = schedule("cron", "-c", str(DATA / "fleet.toml"))
    assert "\n0 4 * * * restartctl run --config " in text


def test_systemd_units_are_a_oneshot_service_and_a_timer(tmp_path: Path) -> None:
    path = write_fleet(
        tmp_path, 'start = "04:00"\ntimezone = "America/New_York"\ndays = ["sat", "sun"]'
    )
    text = schedule("systemd", "-c", str(path))
    assert "# /etc/systemd/system/restartctl-trading.service" in text
    assert "Type=oneshot" in text
    assert f"ExecStart=/usr/local/bin/restartctl run --config {path.resolve()}" in text
    assert "OnCalendar=Sat,Sun *-*-* 04:00:00 America/New_York" in text
    assert "Persistent=false" in text
    assert "EnvironmentFile=-/etc/restartctl/trading.env" in text


def test_kubernetes_cronjob_forbids_concurrent_runs(tmp_path: Path) -> None:
    path = write_fleet(tmp_path, 'start = "23:45"\nend = "00:15"\ntimezone = "Asia/Tokyo"')
    text = schedule("kubernetes", "-c", str(path), "--image", "registry/restartctl:1.0")
    assert "kind: CronJob" in text
    assert 'schedule: "45 23 * * *"' in text
    assert 'timeZone: "Asia/Tokyo"' in text
    assert "concurrencyPolicy: Forbid" in text
    assert "startingDeadlineSeconds: 1800" in text  # the window wraps midnight: 30 min
    assert "backoffLimit: 0" in text
    assert "image: registry/restartctl:1.0" in text


def test_unknown_schedule_kind_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["schedule", "launchd", "-c", str(DATA / "fleet.toml")])
    assert result.exit_code == 2
    assert "'launchd' is not one of" in result.output


def test_kubernetes_cronjob_gets_tokens_and_a_journal_that_outlives_the_pod(
    tmp_path: Path,
) -> None:
    """The printed CronJob reads the admin tokens from a Secret and keeps the journal on a
    PersistentVolumeClaim; a fleet file whose journal or lock would land on the read-only
    config mount is called out."""
    path = write_fleet(tmp_path, 'start = "04:00"\nend = "04:30"\ntimezone = "UTC"')
    text = schedule(
        "kubernetes", "-c", str(path), "--token-secret", "tokens", "--state-claim", "journal"
    )
    assert "secretRef:\n                    name: tokens" in text
    assert "mountPath: /var/lib/restartctl" in text
    assert "claimName: journal" in text
    assert 'WARNING: set journal = "/var/lib/restartctl/trading.journal.json"' in text
    assert "WARNING: set lock.location" in text
