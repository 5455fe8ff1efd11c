"""The checked-in deployment files (``examples/deploy/``): rendered, valid, consistent.

Fast (no fleet is started): the files equal their rendering by
``fleet_services.deploy``; every fleet file passes ``restartctl validate`` and its
``plan`` has the runbook's orders; what ``restartctl schedule`` prints is what is
checked in; every process manager's stop bound is above restartctl's grace, itself
above the drain deadline; the Kubernetes manifests probe the SDK's routes.
"""

from __future__ import annotations

import configparser
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # comes with lightkube (the kubernetes extra)
from click.testing import CliRunner, Result

from fleet_services import deploy
from fleet_services.layout import SERVICES, SHUTDOWN_ORDER, STARTUP_ORDER, FleetLayout
from restart_orchestrator.cli import cli
from restart_orchestrator.config import load_fleet

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
FLEET_FILES = ["fleet.toml", "systemd/fleet.toml", "kubernetes/fleet.toml"]
TOKENS = {FleetLayout.token_env(name): f"token-{name}" for name in SERVICES}


def restartctl(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=TOKENS, catch_exceptions=False)


def manifests(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if doc]


def test_the_checked_in_files_are_their_rendering() -> None:
    """Run ``python -m fleet_services.deploy`` after changing the fleet or restartctl."""
    assert deploy.differences(DEPLOY, deploy.render()) == []


@pytest.fixture(params=FLEET_FILES)
def fleet_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A committed fleet file; the systemd one beside its token files (0600), as on a host."""
    name: str = request.param
    path = DEPLOY / name
    if name.startswith("systemd/"):
        path = tmp_path / "fleet.toml"
        shutil.copy(DEPLOY / name, path)
        (tmp_path / "tokens").mkdir()
        for service in SERVICES:
            token = tmp_path / "tokens" / service
            token.write_text(f"token-{service}\n")
            token.chmod(0o600)
    return path


def test_every_fleet_file_validates_and_plans_the_runbook_orders(fleet_file: Path) -> None:
    validated = restartctl("validate", "-c", str(fleet_file), "--json")
    assert validated.exit_code == 0, validated.output
    assert json.loads(validated.output)["valid"] is True

    planned = restartctl("plan", "-c", str(fleet_file), "--json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    assert plan["shutdown_order"] == SHUTDOWN_ORDER
    assert plan["startup_order"] == STARTUP_ORDER
    assert plan["shutdown_levels"] == [[name] for name in SHUTDOWN_ORDER]
    assert plan["startup_levels"] == [[name] for name in STARTUP_ORDER]


def test_the_timing_chain_holds_in_every_fleet_file() -> None:
    for name in FLEET_FILES:
        fleet = load_fleet(DEPLOY / name)
        for service, config in fleet.services.items():
            assert config.shutdown_grace > deploy.DRAIN_DEADLINE, (name, service)


def test_the_schedules_are_what_restartctl_prints() -> None:
    systemd = restartctl(
        "schedule", "systemd", "-c", str(DEPLOY / "systemd" / "fleet.toml"),
        "--restartctl", deploy.HOST_RESTARTCTL, "--config-on-target", "/etc/trading/fleet.toml",
    )  # fmt: skip
    assert systemd.exit_code == 0, systemd.output
    units = DEPLOY / "systemd"
    checked_in = (units / "restartctl-trading.service").read_text()
    checked_in += (units / "restartctl-trading.timer").read_text()
    assert systemd.output == checked_in

    kubernetes = restartctl(
        "schedule", "kubernetes", "-c", str(DEPLOY / "kubernetes" / "fleet.toml"),
        "--namespace", deploy.NAMESPACE, "--image", deploy.IMAGE,
    )  # fmt: skip
    assert kubernetes.exit_code == 0, kubernetes.output
    assert kubernetes.output == (DEPLOY / "kubernetes" / "cronjob.yaml").read_text()


def test_supervisord_stops_within_its_bound_and_never_fights_restartctl() -> None:
    conf = configparser.RawConfigParser()
    conf.read_string((DEPLOY / "supervisord.conf").read_text())
    fleet = load_fleet(DEPLOY / "fleet.toml")
    programs = {s.removeprefix("program:") for s in conf.sections() if s.startswith("program:")}
    assert programs == set(SERVICES)
    for service in SERVICES:
        program = conf[f"program:{service}"]
        grace = fleet.services[service].shutdown_grace
        assert int(program["stopwaitsecs"]) > grace > deploy.DRAIN_DEADLINE
        assert program["stopsignal"] == "TERM"
        assert program["autorestart"] == "unexpected"
        assert "3" in program["exitcodes"].split(","), "a broken start would be retried"
        assert f'SHUTDOWN_DRAIN_DEADLINE="{deploy.DRAIN_DEADLINE:g}"' in program["environment"]


def systemd_unit(name: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit file (continuation lines joined), by key."""
    text = (DEPLOY / "systemd" / name).read_text().replace("\\\n", " ")
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


def test_systemd_units_stop_within_their_bound_and_never_fight_restartctl() -> None:
    fleet = load_fleet(DEPLOY / "systemd" / "fleet.toml")
    for service in SERVICES:
        unit = systemd_unit(f"trading-{service}.service")
        grace = fleet.services[service].shutdown_grace
        assert int(unit["TimeoutStopSec"][0]) > grace > deploy.DRAIN_DEADLINE
        assert unit["KillSignal"] == ["SIGTERM"]
        assert unit["Restart"] == ["on-failure"]
        assert unit["RestartPreventExitStatus"] == ["3"]
        assert not {"Requires", "BindsTo"} & set(unit), "stopping one unit would stop others"
        assert f"--port {SERVICES[service][1]} " in unit["ExecStart"][0]
        assert unit["LoadCredential"] == [f"admin-token:/etc/trading/tokens/{service}"]
        backend = fleet.services[service].backend.model_dump()
        assert backend["stop"] == f"systemctl stop trading-{service}.service"
    timer = systemd_unit("restartctl-trading.timer")
    assert timer["OnCalendar"] == ["*-*-* 04:00:00 UTC"]
    assert timer["Persistent"] == ["false"]


def test_kubernetes_deployments_probe_the_sdk_and_outlast_the_drain() -> None:
    secret = manifests("secret.yaml")[0]
    for service in SERVICES:
        deployment, svc = manifests(f"{service}.yaml")
        assert (deployment["kind"], svc["kind"]) == ("Deployment", "Service")
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        drain = float(env["SHUTDOWN_DRAIN_DEADLINE"]["value"])
        assert drain == deploy.DRAIN_DEADLINE
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        # Kubernetes counts the preStop hook inside the grace period.
        grace = fleet_grace("kubernetes/fleet.toml", service)
        assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + grace > drain
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        token = env["SHUTDOWN_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert token["name"] == secret["metadata"]["name"]
        assert token["key"] in secret["stringData"]
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert svc["spec"]["ports"][0]["port"] == SERVICES[service][1]


def fleet_grace(name: str, service: str) -> float:
    return load_fleet(DEPLOY / name).services[service].shutdown_grace


def test_kubernetes_restartctl_gets_its_tokens_journal_and_config() -> None:
    (cronjob,) = manifests("cronjob.yaml")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    secret = manifests("secret.yaml")[0]
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    fleet = load_fleet(DEPLOY / "kubernetes" / "fleet.toml")
    assert {fleet.services[s].token_env for s in SERVICES} == set(secret["stringData"])
    assert str(fleet.journal_path.parent) == container["volumeMounts"][1]["mountPath"]
    state_volume = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][1]
    assert state_volume["persistentVolumeClaim"]["claimName"] in {
        m["metadata"]["name"] for m in manifests("restartctl.yaml")
    }

    kustomization = manifests("kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (DEPLOY / "kubernetes" / resource).is_file(), resource
    assert {f"{s}.yaml" for s in SERVICES} <= set(kustomization["resources"])
    (generated,) = kustomization["configMapGenerator"]
    config_volume = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][0]
    assert generated["name"] == config_volume["configMap"]["name"]
    assert generated["files"] == ["fleet.toml"]

    (job,) = manifests("recover-job.yaml")
    (recover,) = job["spec"]["template"]["spec"]["containers"]
    assert recover["args"][0] == "recover"
    assert recover["envFrom"] == container["envFrom"]
