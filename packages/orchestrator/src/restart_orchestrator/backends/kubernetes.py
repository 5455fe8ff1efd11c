"""Restart a Deployment through the Kubernetes API, judged as ``kubectl rollout status`` does.

    [services.execution.backend]
    kind = "kubernetes"
    namespace = "trading"
    deployment = "execution"       # default: the service name
    stop_mode = "rollout"          # or "scale"
    rollout_timeout_s = 600

Two modes:

- ``rollout`` (default): ``stop`` does nothing and ``start`` performs a rollout
  restart, the way ``kubectl rollout restart`` does: it stamps
  ``kubectl.kubernetes.io/restartedAt`` on the *pod template*, so the
  Deployment controller replaces every pod under its rolling-update rules.
  Kubernetes stops the old pods itself (SIGTERM, which the SDK turns into
  drain -> save -> close within ``terminationGracePeriodSeconds``) only after
  their replacements are available, so there is never a moment without the
  service; stopping it first would only add downtime.
- ``scale``: a full stop when the fleet needs one (e.g. a schema migration in
  phase 3): ``stop`` records the replica count in the annotation
  ``restartctl/replicas-before-stop`` and scales to zero, waiting until no pod
  is left; ``start`` scales back to the recorded count (it survives a crashed
  run) and waits for the rollout to complete.

Completion follows kubectl's ``DeploymentStatusViewer``
(pkg/polymorphichelpers/rollout_status.go): the spec change is observed
(``observedGeneration >= generation``), a ``Progressing`` condition with reason
``ProgressDeadlineExceeded`` is a failure, then ``updatedReplicas`` reaches
``spec.replicas``, no old replicas are pending termination and every updated
replica is available - all under ``rollout_timeout_s``.

Needs the ``kubernetes`` extra (lightkube). Configuration comes from
``kubeconfig`` (path), else ``server`` (an API server URL, no auth: for
``kubectl proxy`` or tests), else the usual places (in-cluster service
account, ``$KUBECONFIG``, ``~/.kube/config``). No Kubernetes API server runs
in this project's tests: they drive a small fake API server that implements
the Deployment controller's documented semantics (generation bump on template
change, observedGeneration, rolling replica counts, progress deadline).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from restart_orchestrator.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    ProcessState,
    ServiceTarget,
    StopResult,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REPLICAS_BEFORE_STOP = "restartctl/replicas-before-stop"


class KubernetesBackendConfig(BackendConfig):
    """Which Deployment, how to reach the API, and how a stop is done."""

    kind: Literal["kubernetes"] = "kubernetes"
    namespace: str = "default"
    deployment: str | None = Field(default=None, description="Default: the service name.")
    stop_mode: Literal["rollout", "scale"] = "rollout"
    kubeconfig: str | None = Field(default=None, description="Path to a kubeconfig file.")
    context: str | None = Field(default=None, description="Context in the kubeconfig.")
    server: str | None = Field(
        default=None, description="API server URL without auth (kubectl proxy); tests use it."
    )
    rollout_timeout_s: float = Field(default=600.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0)


class RolloutFailed(BackendError):
    """The Deployment controller gave up (progress deadline exceeded)."""


def rollout_status(deployment: Mapping[str, Any]) -> tuple[str, bool]:
    """``(message, done)`` for a Deployment as a dict, exactly as ``kubectl rollout status``.

    Raises ``RolloutFailed`` when the progress deadline was exceeded.

        >>> rollout_status({"metadata": {"name": "x", "generation": 2},
        ...                 "spec": {"replicas": 1},
        ...                 "status": {"observedGeneration": 1}})
        ('Waiting for deployment spec update to be observed...', False)
    """
    metadata, spec = deployment.get("metadata", {}), deployment.get("spec", {})
    status = deployment.get("status") or {}
    name = metadata.get("name", "?")
    if metadata.get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            raise RolloutFailed(
                f'deployment "{name}" exceeded its progress deadline: '
                f"{condition.get('message') or 'no progress'}"
            )
    replicas = spec.get("replicas")
    updated = status.get("updatedReplicas", 0)
    current = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if replicas is not None and updated < replicas:
        return (
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{updated} out of {replicas} new replicas have been updated...",
            False,
        )
    if current > updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{current - updated} old replicas are pending termination...",
            False,
        )
    if available < updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: '
            f"{available} of {updated} updated replicas are available...",
            False,
        )
    return f'deployment "{name}" successfully rolled out', True


class KubernetesBackend(Backend):
    """A Deployment: rollout restart, or scale to zero and back."""

    kind = "kubernetes"
    config_model = KubernetesBackendConfig
    config: KubernetesBackendConfig

    def __init__(self, config: BackendConfig, target: ServiceTarget) -> None:
        super().__init__(config, target)
        self._client: Any = None

    @property
    def deployment(self) -> str:
        return self.config.deployment or self.target.name

    async def stop(self) -> StopResult:
        started = time.monotonic()
        if self.config.stop_mode == "rollout":
            return StopResult(
                True, False, 0.0, "rollout mode: Kubernetes replaces the pods during start"
            )
        current = await self._get()
        replicas = int(current.get("spec", {}).get("replicas") or 0)
        annotations = current.get("metadata", {}).get("annotations") or {}
        if replicas == 0:
            # Already down (a retried run, or by hand): never record 0 as the count to restore.
            await self._wait(lambda d: _pods(d) == 0, "all pods gone", self._deadline())
            recorded = annotations.get(REPLICAS_BEFORE_STOP, "none recorded")
            return StopResult(
                True, False, time.monotonic() - started,
                f"already scaled to zero (replicas to restore: {recorded})",
            )  # fmt: skip
        await self._patch({"metadata": {"annotations": {REPLICAS_BEFORE_STOP: str(replicas)}}})
        await self._scale(0)
        await self._wait(
            lambda d: _observed(d) and _pods(d) == 0, "all pods gone", self._deadline()
        )
        return StopResult(
            True, False, time.monotonic() - started, f"scaled from {replicas} to 0 replicas"
        )

    async def start(self) -> None:
        if self.config.stop_mode == "scale":
            current = await self._get()
            annotations = current.get("metadata", {}).get("annotations") or {}
            recorded = annotations.get(REPLICAS_BEFORE_STOP)
            if recorded is not None:
                await self._scale(int(recorded))
                await self._patch({"metadata": {"annotations": {REPLICAS_BEFORE_STOP: None}}})
            elif not current.get("spec", {}).get("replicas"):
                raise BackendError(
                    f"deployment {self.config.namespace}/{self.deployment} has 0 replicas and "
                    f"no {REPLICAS_BEFORE_STOP} annotation: scale it up by hand"
                )
        else:
            if (await self._get()).get("spec", {}).get("paused"):
                raise BackendError(
                    f"deployment {self.config.namespace}/{self.deployment} is paused: it would "
                    "not roll out (kubectl rollout resume it first)"
                )
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            await self._patch(
                {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
            )
        await self._wait_rollout()

    async def state(self) -> ProcessState:
        deployment = await self._get()
        if not deployment.get("spec", {}).get("replicas"):
            return ProcessState.STOPPING if _pods(deployment) else ProcessState.STOPPED
        try:
            _, done = rollout_status(deployment)
        except RolloutFailed:
            return ProcessState.FAILED
        return ProcessState.RUNNING if done else ProcessState.STARTING

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- API calls -------------------------------------------------------------------------

    async def _wait_rollout(self) -> None:
        deadline = self._deadline()
        while True:
            message, done = rollout_status(await self._get())
            if done:
                return
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"deployment {self.config.namespace}/{self.deployment}: rollout not complete "
                    f"within {self.config.rollout_timeout_s:g} s: {message}"
                )
            await asyncio.sleep(self.config.poll_interval_s)

    async def _wait(
        self, done: Callable[[Mapping[str, Any]], bool], what: str, deadline: float
    ) -> None:
        while True:
            deployment = await self._get()
            if done(deployment):
                return
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"deployment {self.config.namespace}/{self.deployment}: not {what} within "
                    f"{self.config.rollout_timeout_s:g} s ({_pods(deployment)} pods left)"
                )
            await asyncio.sleep(self.config.poll_interval_s)

    def _deadline(self) -> float:
        return time.monotonic() + self.config.rollout_timeout_s

    async def _get(self) -> dict[str, Any]:
        kube = _lightkube()
        client = await self._api()
        deployment = await self._call(
            client.get(kube.Deployment, self.deployment, namespace=self.config.namespace)
        )
        as_dict: dict[str, Any] = deployment.to_dict()
        return as_dict

    async def _patch(self, body: dict[str, Any]) -> None:
        kube = _lightkube()
        client = await self._api()
        await self._call(
            client.patch(
                kube.Deployment,
                self.deployment,
                body,
                namespace=self.config.namespace,
                patch_type=kube.PatchType.MERGE,
            )
        )

    async def _scale(self, replicas: int) -> None:
        kube = _lightkube()
        client = await self._api()
        await self._call(
            client.patch(
                kube.Deployment.Scale,
                self.deployment,
                {"spec": {"replicas": replicas}},
                namespace=self.config.namespace,
                patch_type=kube.PatchType.MERGE,
            )
        )

    async def _call(self, request: Awaitable[Any]) -> Any:
        kube = _lightkube()
        where = f"deployment {self.config.namespace}/{self.deployment}"
        try:
            return await request
        except kube.lightkube.ApiError as exc:
            if exc.status.code == 404:
                raise BackendError(f"{where} not found: {exc.status.message}") from exc
            raise BackendError(
                f"{where}: API server answered {exc.status.code} {exc.status.message}"
            ) from exc
        except (kube.TransportError, OSError) as exc:
            raise BackendError(f"{where}: cannot reach the API server: {exc!r}") from exc

    async def _api(self) -> Any:
        if self._client is None:
            kube = _lightkube()
            self._client = kube.lightkube.AsyncClient(
                config=self._kubeconfig(kube.lightkube),
                namespace=self.config.namespace,
                timeout=self.config.request_timeout_s,
                field_manager="restartctl",
                trust_env=self.config.server is None,  # a local proxy URL must not go via a proxy
            )
        return self._client

    def _kubeconfig(self, lightkube: Any) -> Any:
        try:
            if self.config.kubeconfig is not None:
                config = lightkube.KubeConfig.from_file(self.config.kubeconfig)
            elif self.config.server is not None:
                from lightkube.config.models import Cluster, User

                return lightkube.KubeConfig.from_one(
                    cluster=Cluster(server=self.config.server),
                    user=User(),  # no credentials: kubectl proxy (or the tests' fake) adds none
                    namespace=self.config.namespace,
                )
            else:
                config = lightkube.KubeConfig.from_env()
            if self.config.context is None:
                return config
            return config.get(context_name=self.config.context)
        except lightkube.ConfigError as exc:
            raise BackendError(f"Kubernetes configuration: {exc}") from exc


@dataclass(frozen=True)
class _Kube:
    """lightkube's pieces, imported on first use (it is an optional extra)."""

    lightkube: Any
    Deployment: Any
    PatchType: Any
    TransportError: type[Exception]


def _lightkube() -> _Kube:
    try:
        import lightkube
        from lightkube.core import exceptions
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.types import PatchType
    except ImportError as exc:
        raise BackendError(
            "the kubernetes backend needs lightkube: pip install 'restart-orchestrator[kubernetes]'"
        ) from exc
    # lightkube's HTTP client (httpx, or its fork httpx2 since lightkube 1.0), as it imports it.
    transport_error: type[Exception] = getattr(exceptions, "httpx").TransportError  # noqa: B009 - not re-exported
    return _Kube(lightkube, Deployment, PatchType, transport_error)


def _observed(deployment: Mapping[str, Any]) -> bool:
    generation = deployment.get("metadata", {}).get("generation", 0)
    return bool(generation <= (deployment.get("status") or {}).get("observedGeneration", 0))


def _pods(deployment: Mapping[str, Any]) -> int:
    return int((deployment.get("status") or {}).get("replicas") or 0)
