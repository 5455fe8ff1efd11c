"""Schedules that start ``restartctl run`` at the window's start: cron, systemd, Kubernetes.

Each is computed from ``window.start``, ``window.days`` and ``window.timezone``
so the wall-clock time holds across DST changes. None of them retries a
failed run: recovering a half-restarted fleet is an operator's decision.
"""

from __future__ import annotations

import datetime as dt
import shlex

from restart_orchestrator.config import WEEKDAYS, Fleet

_CRON_DAY = {"sun": "0", "mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6"}


def _window_seconds(fleet: Fleet) -> int:
    window = fleet.config.window
    start = dt.datetime.combine(dt.date(2000, 1, 1), window.start)
    end = dt.datetime.combine(dt.date(2000, 1, 1), window.end)
    if end <= start:
        end += dt.timedelta(days=1)
    return int((end - start).total_seconds())


def _run_argv(fleet: Fleet, restartctl: str, config_path: str | None) -> list[str]:
    return [restartctl, "run", "--config", config_path or str(fleet.path.resolve())]


def cron_schedule(
    fleet: Fleet,
    *,
    restartctl: str = "restartctl",
    config_path: str | None = None,
    log: str | None = None,
) -> str:
    """A crontab entry (CRON_TZ keeps it on the window's wall clock)."""
    window = fleet.config.window
    days = list(window.days)
    dow = "*" if len(days) == 7 else ",".join(_CRON_DAY[d] for d in WEEKDAYS if d in days)
    log = log or f"/var/log/restartctl-{fleet.name}.log"
    command = shlex.join(_run_argv(fleet, restartctl, config_path)) + " --output json"
    return (
        f"# restartctl: daily restart of fleet {fleet.name!r} at {window.start:%H:%M} "
        f"{window.timezone}\n"
        "# CRON_TZ needs cronie (RHEL, Fedora, Arch); elsewhere prefer the systemd timer.\n"
        f"CRON_TZ={window.timezone}\n"
        f"{window.start.minute} {window.start.hour} * * {dow} {command} >> {log} 2>&1\n"
    )


def systemd_schedule(
    fleet: Fleet, *, restartctl: str = "/usr/local/bin/restartctl", config_path: str | None = None
) -> str:
    """A oneshot service and its timer (a timer never starts a unit that is still active)."""
    window = fleet.config.window
    days = list(window.days)
    day_spec = "" if len(days) == 7 else ",".join(d.capitalize() for d in WEEKDAYS if d in days)
    calendar = f"{day_spec} *-*-* {window.start:%H:%M}:00 {window.timezone}".strip()
    unit = f"restartctl-{fleet.name}"
    command = shlex.join(_run_argv(fleet, restartctl, config_path)) + " --output json"
    return (
        f"# /etc/systemd/system/{unit}.service\n"
        "[Unit]\n"
        f"Description=Daily restart of fleet {fleet.name} (restartctl)\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={command}\n"
        "# token_env admin tokens (VAR=value lines, mode 0600); token_file fleets need none.\n"
        f"EnvironmentFile=-/etc/restartctl/{fleet.name}.env\n"
        f"TimeoutStartSec={int(fleet.config.lock.ttl)}\n"
        "# SIGTERM lets restartctl leave its journal consistent; `restartctl recover` resumes.\n"
        "KillMode=mixed\n"
        "\n"
        f"# /etc/systemd/system/{unit}.timer\n"
        "[Unit]\n"
        f"Description=Daily restart of fleet {fleet.name} at {window.start:%H:%M} "
        f"{window.timezone}\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\n"
        "# A missed window must not fire late, in trading hours.\n"
        "Persistent=false\n"
        "AccuracySec=1s\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


#: Where the CronJob's pod keeps the journal (and a file lock): a volume that outlives the pod.
KUBERNETES_STATE_DIR = "/var/lib/restartctl"


def _kubernetes_notes(fleet: Fleet, state_dir: str) -> list[str]:
    """What the manifest cannot hold by itself and where the fleet file disagrees with it."""
    config = fleet.config
    tokens = sorted({s.token_env for s in config.services.values() if s.token_env})
    notes = []
    if tokens:
        notes.append(f"the Secret holds the admin tokens as keys: {', '.join(tokens)}")
    if any(s.token_file for s in config.services.values()):
        notes.append("token_file paths must be mounted into the container as well")
    if not str(config.journal or "").startswith(state_dir + "/"):
        notes.append(
            f'WARNING: set journal = "{state_dir}/{fleet.name}.journal.json" in the fleet '
            "file: the fleet-config mount is read-only and a journal in the pod is lost "
            "with it, so `recover` would find nothing"
        )
    location = config.lock.location
    if not location.startswith(("redis://", "rediss://", state_dir + "/")):
        notes.append(
            f"WARNING: set lock.location to a redis:// URL (or under {state_dir}): "
            "the fleet-config mount is read-only"
        )
    return notes


def kubernetes_schedule(
    fleet: Fleet,
    *,
    image: str = "restartctl:latest",
    namespace: str = "default",
    config_path: str = "/etc/restartctl/fleet.toml",
    token_secret: str | None = None,
    state_claim: str | None = None,
) -> str:
    """A CronJob manifest; ``concurrencyPolicy: Forbid`` and no automatic retries.

    The admin tokens come from a Secret (``envFrom``), the journal lives on a
    PersistentVolumeClaim mounted at :data:`KUBERNETES_STATE_DIR` so that
    ``restartctl recover`` finds it after a failed pod.
    """
    window = fleet.config.window
    days = list(window.days)
    dow = "*" if len(days) == 7 else ",".join(_CRON_DAY[d] for d in WEEKDAYS if d in days)
    name = f"restartctl-{fleet.name}"
    token_secret = token_secret or f"{fleet.name}-admin-tokens"
    state_claim = state_claim or f"{name}-state"
    state_dir = KUBERNETES_STATE_DIR
    needs = (
        f"# Needs: ConfigMap {name} (the fleet file), Secret {token_secret} (admin tokens),\n"
        f"#   PersistentVolumeClaim {state_claim} (the journal), ServiceAccount {name}\n"
        "#   (get/patch Deployments).\n"
    )
    notes = "".join(f"# - {note}\n" for note in _kubernetes_notes(fleet, state_dir))
    return f"""\
{needs}{notes}apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
  namespace: {namespace}
spec:
  schedule: "{window.start.minute} {window.start.hour} * * {dow}"
  timeZone: "{window.timezone}"
  concurrencyPolicy: Forbid
  # Start within the window or not at all.
  startingDeadlineSeconds: {_window_seconds(fleet)}
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 5
  jobTemplate:
    spec:
      # A failed restart is recovered by an operator (`restartctl recover`), never retried.
      backoffLimit: 0
      activeDeadlineSeconds: {int(fleet.config.lock.ttl)}
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: {name}
          containers:
            - name: restartctl
              image: {image}
              args: ["run", "--config", "{config_path}", "--output", "json"]
              envFrom:
                - secretRef:
                    name: {token_secret}
              volumeMounts:
                - name: fleet-config
                  mountPath: /etc/restartctl
                  readOnly: true
                - name: state
                  mountPath: {state_dir}
          volumes:
            - name: fleet-config
              configMap:
                name: {name}
            - name: state
              persistentVolumeClaim:
                claimName: {state_claim}
"""
