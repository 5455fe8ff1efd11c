"""Render ``examples/deploy/``: the example fleet under supervisord, systemd and Kubernetes.

Every file there is this module's output, so the three deployments cannot drift
from the fleet (:mod:`fleet_services.layout`) or from what ``restartctl schedule``
prints; ``tests/e2e/test_deploy_configs.py`` renders them again and compares::

    python -m fleet_services.deploy            # rewrite examples/deploy/
    python -m fleet_services.deploy --check    # exit 1 and list the files that differ

The three share one timing chain: the SDK drains for ``DRAIN_DEADLINE`` s; restartctl
allows ``shutdown_grace`` (drain + 10 s to save and close) before it forces a stop; the
process manager's own bound (supervisord ``stopwaitsecs``, systemd ``TimeoutStopSec``,
Kubernetes ``terminationGracePeriodSeconds`` minus the preStop sleep) is above that, so
restartctl, not the process manager, decides when a stop is forced.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fleet_services.layout import DEPENDS_ON, SERVICES, STARTUP_ORDER, FleetLayout
from restart_orchestrator.schedule import KUBERNETES_STATE_DIR

DRAIN_DEADLINE = 30.0
HOST_DIR = Path("/var/lib/trading")
HOST_PYTHON = "/opt/trading/venv/bin/python"
HOST_RESTARTCTL = "/opt/trading/venv/bin/restartctl"
SYSTEMD_CONFIG_DIR = "/etc/trading"  # fleet.toml and tokens/<service> (root, 0600)

NAMESPACE = "trading"
IMAGE = "trading-fleet:0.1.0"  # the workspace installed; its entrypoint is restartctl
K8S_REDIS = f"redis://redis.{NAMESPACE}.svc.cluster.local:6379/0"
K8S_JOURNAL_DIR = KUBERNETES_STATE_DIR
TOKENS_SECRET = "trading-admin-tokens"
PRE_STOP_SLEEP = 5  # seconds: the endpoint leaves the Service before listeners close

RENDERED = "rendered by fleet_services.deploy; edit that module, not this file"


def host_layout() -> FleetLayout:
    """One machine (supervisord or systemd): ports 8001-8005, state in files."""
    return FleetLayout(run_dir=HOST_DIR, python=HOST_PYTHON, drain_deadline=DRAIN_DEADLINE)


def kubernetes_layout() -> FleetLayout:
    """The cluster: services reached by their Service names, state, lock and bus in Redis."""
    return FleetLayout(
        run_dir=HOST_DIR,
        python="python",
        drain_deadline=DRAIN_DEADLINE,
        redis_url=K8S_REDIS,
        state_store=K8S_REDIS,
        lock=K8S_REDIS,
        journal=f"{K8S_JOURNAL_DIR}/trading.journal.json",
        url_template="http://{service}." + NAMESPACE + ".svc.cluster.local:{port}",
    )


def render() -> dict[str, str]:
    """Every file of ``examples/deploy/``: path relative to it -> content."""
    return {**supervisord_files(), **systemd_files(), **kubernetes_files()}


# --- supervisord ----------------------------------------------------------------------------


def supervisord_files() -> dict[str, str]:
    layout = host_layout()
    return {"supervisord.conf": layout.supervisord_conf(), "fleet.toml": layout.fleet_toml()}


# --- systemd --------------------------------------------------------------------------------


def unit_name(service: str) -> str:
    return f"trading-{service}.service"


def systemd_files() -> dict[str, str]:
    layout = host_layout()
    files = {f"systemd/{unit_name(s)}": service_unit(layout, s) for s in SERVICES}
    files["systemd/trading.target"] = TARGET_UNIT.format(rendered=RENDERED)
    fleet = layout.fleet_toml(
        backend=systemd_backend,
        token=lambda service: f'token_file = "tokens/{service}"',
        comments=[
            f"systemd variant: install as {SYSTEMD_CONFIG_DIR}/fleet.toml; each admin token in "
            f"{SYSTEMD_CONFIG_DIR}/tokens/<service>",
            "(root, mode 0600), read by restartctl here and by the unit (LoadCredential).",
        ],
    )
    files["systemd/fleet.toml"] = fleet
    schedule = restartctl_schedule(
        fleet, "systemd", "--restartctl", HOST_RESTARTCTL, "--config-on-target",
        f"{SYSTEMD_CONFIG_DIR}/fleet.toml",
    )  # fmt: skip
    service_part, timer_part = split_units(schedule)
    files["systemd/restartctl-trading.service"] = service_part
    files["systemd/restartctl-trading.timer"] = timer_part
    return files


def systemd_backend(service: str) -> str:
    unit = unit_name(service)
    return (
        f'{{ kind = "command", start = "systemctl start {unit}", '
        f'stop = "systemctl stop {unit}", status = "systemctl is-active --quiet {unit}", '
        f'kill_command = "systemctl kill --signal=SIGKILL {unit}" }}'
    )


def split_units(text: str) -> tuple[str, str]:
    """``restartctl schedule systemd`` prints the service then the timer, each headed by
    its path; returns them apart (their concatenation is the printed text)."""
    marker = "\n# /etc/systemd/system/"
    cut = text.index(marker, 1) + 1
    return text[:cut], text[cut:]


TARGET_UNIT = """\
# /etc/systemd/system/trading.target ({rendered})
# `systemctl start trading.target` starts the whole fleet at boot; the daily restart
# stops and starts each unit itself, in the runbook's orders (restartctl).
[Unit]
Description=The example trading fleet

[Install]
WantedBy=multi-user.target
"""

SERVICE_UNIT = """\
# /etc/systemd/system/{unit} ({rendered})
[Unit]
Description=Trading fleet: {service} (shutdown-sdk)
Wants=network-online.target
After=network-online.target redis-server.service{after}
PartOf=trading.target

[Service]
Type=exec
User=trading
Group=trading
StateDirectory=trading
WorkingDirectory={run_dir}
# The admin token: {config_dir}/tokens/{service} (root, 0600), which restartctl reads too.
LoadCredential=admin-token:{config_dir}/tokens/{service}
{environment}
ExecStart=/bin/sh -c 'SHUTDOWN_ADMIN_TOKEN="$$(cat "$$CREDENTIALS_DIRECTORY/admin-token")" \\
    exec {python} -m uvicorn {target} --host 127.0.0.1 --port {port} --no-access-log \\
    --timeout-graceful-shutdown {server_timeout}'
# SIGTERM to the server (the SDK drains, saves its state and closes), SIGKILL to the rest
# only at the end. TimeoutStopSec is above restartctl's grace ({grace:g} s), itself above the
# drain deadline ({drain:g} s): restartctl decides when a stop is forced.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={stop_timeout}
TimeoutStartSec=60
# A crash is restarted; a stop restartctl asked for is not (systemctl stop); a broken
# start (uvicorn exits 3) is not restarted in a loop: restartctl rolls back and reports.
Restart=on-failure
RestartSec=2
RestartPreventExitStatus=3

[Install]
WantedBy=trading.target
"""


def service_unit(layout: FleetLayout, service: str) -> str:
    env = {k: v for k, v in layout.program_env(service).items() if k != "SHUTDOWN_ADMIN_TOKEN"}
    # Boot ordering only: After= (never Requires=/BindsTo=) so that stopping one unit
    # never stops its dependants behind restartctl's back.
    after = "".join(f" {unit_name(d)}" for d in DEPENDS_ON[service])
    return SERVICE_UNIT.format(
        unit=unit_name(service),
        rendered=RENDERED,
        service=service,
        after=after,
        run_dir=layout.run_dir,
        config_dir=SYSTEMD_CONFIG_DIR,
        environment="\n".join(f'Environment="{k}={v}"' for k, v in env.items()),
        python=layout.python,
        target=SERVICES[service][0],
        port=layout.ports[service],
        server_timeout=layout.server_timeout,
        grace=layout.shutdown_grace,
        drain=layout.drain_deadline,
        stop_timeout=layout.stop_timeout,
    )


# --- Kubernetes -----------------------------------------------------------------------------


def kubernetes_files() -> dict[str, str]:
    layout = kubernetes_layout()
    files = {f"kubernetes/{s}.yaml": deployment(layout, s) for s in STARTUP_ORDER}
    fleet = layout.fleet_toml(
        backend=lambda service: (
            f'{{ kind = "kubernetes", namespace = "{NAMESPACE}", deployment = "{service}", '
            'stop_mode = "scale" }'
        ),
        comments=[
            "Kubernetes variant: the ConfigMap restartctl-trading (kustomization.yaml); tokens",
            f"from the Secret {TOKENS_SECRET}; stop_mode scale keeps the runbook's stop order.",
        ],
    )
    files["kubernetes/fleet.toml"] = fleet
    files["kubernetes/cronjob.yaml"] = restartctl_schedule(
        fleet,
        "kubernetes",
        "--namespace",
        NAMESPACE,
        "--image",
        IMAGE,
    )  # its defaults name the Secret (TOKENS_SECRET) and the claim this module renders
    files["kubernetes/namespace.yaml"] = NAMESPACE_YAML.format(rendered=RENDERED, ns=NAMESPACE)
    files["kubernetes/secret.yaml"] = secret(layout)
    files["kubernetes/restartctl.yaml"] = RESTARTCTL_YAML.format(
        rendered=RENDERED, ns=NAMESPACE, journal_dir=K8S_JOURNAL_DIR
    )
    files["kubernetes/recover-job.yaml"] = RECOVER_JOB.format(
        rendered=RENDERED,
        ns=NAMESPACE,
        image=IMAGE,
        secret=TOKENS_SECRET,
        journal_dir=K8S_JOURNAL_DIR,
    )
    files["kubernetes/kustomization.yaml"] = KUSTOMIZATION.format(
        rendered=RENDERED,
        ns=NAMESPACE,
        deployments="".join(f"  - {s}.yaml\n" for s in STARTUP_ORDER),
    )
    return files


def termination_grace(layout: FleetLayout) -> int:
    """The pod's whole bound: the preStop sleep, then restartctl's grace, plus a margin."""
    return PRE_STOP_SLEEP + layout.stop_timeout


DEPLOYMENT = """\
# The example trading fleet: {service} ({rendered}).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {service}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {service}
    app.kubernetes.io/part-of: trading
spec:
  # One instance: it owns its state snapshot (and for execution, its consumer name).
  replicas: 1
  # The old pod drains and saves its state before the new one restores it.
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/name: {service}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {service}
        app.kubernetes.io/part-of: trading
    spec:
      # preStop ({pre_stop} s) + restartctl's grace ({grace:g} s: drain {drain:g} s, then save
      # and close) + a margin: Kubernetes never kills a pod that is still draining.
      terminationGracePeriodSeconds: {termination_grace}
      containers:
        - name: {service}
          image: {image}
          command: {command}
          ports:
            - name: http
              containerPort: {port}
          env:
            - name: SHUTDOWN_ADMIN_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {secret}
                  key: {token_key}
{env}
          lifecycle:
            preStop:
              # A terminating pod leaves the Service's endpoints at once; the sleep gives
              # proxies time to notice before SIGTERM starts the drain.
              exec:
                command: ["sleep", "{pre_stop}"]
          startupProbe:
            httpGet:
              path: /health/live
              port: http
            periodSeconds: 2
            failureThreshold: 30
          readinessProbe:
            httpGet:
              path: /health/ready
              port: http
            periodSeconds: 2
            failureThreshold: 1
          livenessProbe:
            httpGet:
              path: /health/live
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          volumeMounts:
            - name: state-fallback
              mountPath: {fallback_dir}
      volumes:
        # Where a save goes when Redis fails during it (lost with the pod: an alert says so).
        - name: state-fallback
          emptyDir: {{}}
---
apiVersion: v1
kind: Service
metadata:
  name: {service}
  namespace: {ns}
  labels:
    app.kubernetes.io/name: {service}
    app.kubernetes.io/part-of: trading
spec:
  selector:
    app.kubernetes.io/name: {service}
  ports:
    - name: http
      port: {port}
      targetPort: http
"""


def deployment(layout: FleetLayout, service: str) -> str:
    env = {k: v for k, v in layout.program_env(service).items() if k != "SHUTDOWN_ADMIN_TOKEN"}
    port = layout.ports[service]
    command = [
        "python", "-m", "uvicorn", SERVICES[service][0], "--host", "0.0.0.0",
        "--port", str(port), "--no-access-log",
        "--timeout-graceful-shutdown", str(layout.server_timeout),
    ]  # fmt: skip
    return DEPLOYMENT.format(
        service=service,
        rendered=RENDERED,
        ns=NAMESPACE,
        pre_stop=PRE_STOP_SLEEP,
        grace=layout.shutdown_grace,
        drain=layout.drain_deadline,
        termination_grace=termination_grace(layout),
        image=IMAGE,
        command=json.dumps(command),
        port=port,
        secret=TOKENS_SECRET,
        token_key=layout.token_env(service),
        env="\n".join(
            f"            - name: {k}\n              value: {json.dumps(v)}" for k, v in env.items()
        ),
        fallback_dir=env["SHUTDOWN_STATE_FALLBACK_DIR"],
    )


NAMESPACE_YAML = """\
# {rendered}
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
"""


def secret(layout: FleetLayout) -> str:
    keys = "".join(f'  {layout.token_env(s)}: ""\n' for s in STARTUP_ORDER)
    return f"""\
# The admin tokens ({RENDERED}).
# One per service: the service reads its own (SHUTDOWN_ADMIN_TOKEN), restartctl all of
# them (token_env). Fill them in before applying, e.g. with `openssl rand -hex 32`; while
# they are empty the admin API refuses every call and restartctl refuses to run.
apiVersion: v1
kind: Secret
metadata:
  name: {TOKENS_SECRET}
  namespace: {NAMESPACE}
type: Opaque
stringData:
{keys}"""


RESTARTCTL_YAML = """\
# What the restartctl CronJob runs as ({rendered}).
# The kubernetes backend reads Deployments and scales them (stop_mode scale).
apiVersion: v1
kind: ServiceAccount
metadata:
  name: restartctl-trading
  namespace: {ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: restartctl-trading
  namespace: {ns}
rules:
  - apiGroups: ["apps"]
    resources: ["deployments", "deployments/scale"]
    verbs: ["get", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: restartctl-trading
  namespace: {ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: restartctl-trading
subjects:
  - kind: ServiceAccount
    name: restartctl-trading
    namespace: {ns}
---
# The run journal outlives the Job's pod, so `restartctl recover` (recover-job.yaml)
# knows what a failed or killed run left stopped or paused.
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: restartctl-trading-state
  namespace: {ns}
spec:
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 16Mi
"""

RECOVER_JOB = """\
# `restartctl recover` after a failed or interrupted run ({rendered}).
# Not part of kustomization.yaml: apply it by hand once the cause is fixed:
#   kubectl -n {ns} delete job restartctl-trading-recover --ignore-not-found
#   kubectl apply -f recover-job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: restartctl-trading-recover
  namespace: {ns}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: restartctl-trading
      containers:
        - name: restartctl
          image: {image}
          args: ["recover", "--config", "/etc/restartctl/fleet.toml", "--output", "json"]
          envFrom:
            - secretRef:
                name: {secret}
          volumeMounts:
            - name: fleet-config
              mountPath: /etc/restartctl
              readOnly: true
            - name: journal
              mountPath: {journal_dir}
      volumes:
        - name: fleet-config
          configMap:
            name: restartctl-trading
        - name: journal
          persistentVolumeClaim:
            claimName: restartctl-trading-state
"""

KUSTOMIZATION = """\
# The example fleet on Kubernetes: `kubectl apply -k .` ({rendered}).
# Redis is expected at redis.{ns}.svc.cluster.local:6379 (not included).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {ns}
resources:
  - namespace.yaml
  - secret.yaml
{deployments}  - restartctl.yaml
  - cronjob.yaml
configMapGenerator:
  # The fleet file, at /etc/restartctl/fleet.toml in the CronJob (its name is fixed there).
  - name: restartctl-trading
    files:
      - fleet.toml
generatorOptions:
  disableNameSuffixHash: true
"""


# --- restartctl schedule ------------------------------------------------------------------------


def restartctl_schedule(fleet_toml: str, kind: str, *options: str) -> str:
    """What ``restartctl schedule KIND -c <fleet file> OPTIONS`` prints for ``fleet_toml``."""
    from click.testing import CliRunner

    from restart_orchestrator.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.toml"
        path.write_text(fleet_toml)
        result = CliRunner().invoke(cli, ["schedule", kind, "-c", str(path), *options])
    if result.exit_code != 0:
        raise RuntimeError(f"restartctl schedule {kind} failed: {result.output}")
    return result.output


# --- the command ----------------------------------------------------------------------------


def default_out() -> Path | None:
    """``examples/deploy`` when this module runs from the source tree."""
    examples = Path(__file__).resolve().parents[2]
    return examples / "deploy" if examples.name == "examples" else None


def differences(out: Path, files: dict[str, str]) -> list[str]:
    """Files under ``out`` that are missing, stale or not rendered (relative paths)."""
    present = (
        {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} if out.exists() else set()
    )
    stale = [
        path
        for path, text in files.items()
        if path not in present or (out / path).read_text() != text
    ]
    return sorted(stale + sorted(present - set(files)))


def write(out: Path, files: dict[str, str], *, log: Callable[[str], None] = print) -> None:
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            log(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=default_out(), help="default: examples/deploy")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required outside the source tree")
    files = render()
    if args.check:
        drift = differences(args.out, files)
        for path in drift:
            print(f"differs from its rendering: {args.out / path}", file=sys.stderr)
        return 1 if drift else 0
    write(args.out, files)
    extra = sorted(set(differences(args.out, files)) - set(files))
    for path in extra:
        print(f"not rendered (remove it?): {args.out / path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
