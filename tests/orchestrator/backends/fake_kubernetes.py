"""A fake Kubernetes API server for Deployments: no real API server can run in these tests.

It serves the few endpoints the kubernetes backend uses, over real HTTP, with
the Deployment controller's documented behaviour
(https://kubernetes.io/docs/concepts/workloads/controllers/deployment/):

- ``GET``/``PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`` and its
  ``/scale`` subresource (JSON merge patch; strategic merge patch is treated the
  same, which is exact for the maps the backend patches);
- every change to ``spec`` bumps ``metadata.generation``; the controller
  catches up on its next tick and sets ``status.observedGeneration``;
- a change to ``spec.template`` starts a rolling update (maxSurge 1,
  maxUnavailable 0): one new pod at a time, which becomes available after
  ``ready_ticks`` ticks, after which one old pod terminates;
- scaling adds or removes pods (newest first);
- when new pods never become available (``fail_new_pods``), the ``Progressing``
  condition turns to reason ``ProgressDeadlineExceeded`` after
  ``spec.progressDeadlineSeconds``.

Not modelled: ReplicaSet objects, pods, selectors, resourceVersion conflicts,
watches, pause/resume, other resources. The controller ticks in a thread.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


@dataclass
class Pod:
    revision: int
    doomed: bool = False  # never becomes available (a crash-looping image)
    age_ticks: int = 0
    available: bool = False


@dataclass
class FakeDeployment:
    body: dict[str, Any]
    pods: list[Pod] = field(default_factory=list)
    revision: int = 1
    progress_at: float = field(default_factory=time.monotonic)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def deployment_body(name: str, namespace: str, replicas: int, deadline_s: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "generation": 1, "uid": f"uid-{name}"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline_s,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": f"trading/{name}:1"}]},
            },
        },
        "status": {"observedGeneration": 1},
    }


class FakeKubernetes:
    """The fake's state and controller; ``app`` is the ASGI API server."""

    def __init__(self, *, tick_s: float = 0.05, ready_ticks: int = 2) -> None:
        self.tick_s = tick_s
        self.ready_ticks = ready_ticks
        self.fail_new_pods = False  # pods created from now on never become available
        self.controller_paused = False
        self.patches: list[tuple[str, str, Any]] = []  # (path, content type, body)
        self._deployments: dict[tuple[str, str], FakeDeployment] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-controller", daemon=True)
        base = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        self.app = Starlette(
            routes=[
                Route(base, self._deployment, methods=["GET", "PATCH"]),
                Route(base + "/scale", self._scale, methods=["GET", "PATCH"]),
            ]
        )

    # -- test controls ----------------------------------------------------------------

    def add(self, name: str, *, namespace: str = "trading", replicas: int = 2,
            progress_deadline_s: int = 600) -> None:  # fmt: skip
        body = deployment_body(name, namespace, replicas, progress_deadline_s)
        with self._lock:
            fake = FakeDeployment(body, pods=[Pod(1, available=True) for _ in range(replicas)])
            self._deployments[(namespace, name)] = fake
            self._update_status(fake)

    def get(self, name: str, namespace: str = "trading") -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._deployments[(namespace, name)].body)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # -- API ------------------------------------------------------------------------------

    async def _deployment(self, request: Request) -> JSONResponse:
        key = (request.path_params["namespace"], request.path_params["name"])
        if request.method == "PATCH":
            if (problem := self._check_patch(request)) is not None:
                return problem
            patch = await request.json()
            self.patches.append((request.url.path, request.headers["content-type"], patch))
            with self._lock:
                fake = self._deployments.get(key)
                if fake is None:
                    return not_found(key)
                self._apply(fake, merge_patch(fake.body, patch))
        with self._lock:
            fake = self._deployments.get(key)
            return not_found(key) if fake is None else JSONResponse(copy.deepcopy(fake.body))

    async def _scale(self, request: Request) -> JSONResponse:
        key = (request.path_params["namespace"], request.path_params["name"])
        if request.method == "PATCH":
            if (problem := self._check_patch(request)) is not None:
                return problem
            patch = await request.json()
            self.patches.append((request.url.path, request.headers["content-type"], patch))
            replicas = patch.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                return status_error(422, "Invalid", "spec.replicas: must be a non-negative integer")
            with self._lock:
                fake = self._deployments.get(key)
                if fake is None:
                    return not_found(key)
                self._apply(fake, merge_patch(fake.body, {"spec": {"replicas": replicas}}))
        with self._lock:
            fake = self._deployments.get(key)
            if fake is None:
                return not_found(key)
            body = fake.body
            return JSONResponse(
                {
                    "apiVersion": "autoscaling/v1",
                    "kind": "Scale",
                    "metadata": {"name": key[1], "namespace": key[0]},
                    "spec": {"replicas": body["spec"]["replicas"]},
                    "status": {
                        "replicas": body["status"].get("replicas", 0),
                        "selector": f"app={key[1]}",
                    },
                }
            )

    def _check_patch(self, request: Request) -> JSONResponse | None:
        content_type = request.headers.get("content-type", "").split(";")[0]
        if content_type not in PATCH_TYPES:
            return status_error(415, "UnsupportedMediaType", f"unsupported patch {content_type}")
        return None

    def _apply(self, fake: FakeDeployment, new_body: dict[str, Any]) -> None:
        old_spec = fake.body["spec"]
        new_body["status"] = fake.body["status"]  # status only changes through the controller
        if new_body["spec"] != old_spec:
            new_body["metadata"]["generation"] = fake.body["metadata"]["generation"] + 1
        if new_body["spec"]["template"] != old_spec["template"]:
            fake.revision += 1
            fake.progress_at = time.monotonic()
        fake.body = new_body

    # -- controller -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            if self.controller_paused:
                continue
            with self._lock:
                for fake in self._deployments.values():
                    self._reconcile(fake)

    def _reconcile(self, fake: FakeDeployment) -> None:
        """One controller pass: at most one pod created and one removed (maxSurge 1,
        maxUnavailable 0)."""
        desired = int(fake.body["spec"]["replicas"])
        for pod in fake.pods:
            pod.age_ticks += 1
            if not pod.available and not pod.doomed and pod.age_ticks >= self.ready_ticks:
                pod.available = True
                fake.progress_at = time.monotonic()
        new = [pod for pod in fake.pods if pod.revision == fake.revision]
        old = [pod for pod in fake.pods if pod.revision != fake.revision]
        available = sum(pod.available for pod in fake.pods)
        if len(new) > desired:
            fake.pods.remove(new[-1])
        elif old and (desired == 0 or not old[0].available or available > desired):
            fake.pods.remove(old[0])
        if len(new) < desired and len(fake.pods) < desired + 1:
            fake.pods.append(Pod(fake.revision, doomed=self.fail_new_pods))
            fake.progress_at = time.monotonic()
        fake.body["status"]["observedGeneration"] = fake.body["metadata"]["generation"]
        self._update_status(fake)

    def _update_status(self, fake: FakeDeployment) -> None:
        status = fake.body["status"]
        desired = int(fake.body["spec"]["replicas"])
        updated = [pod for pod in fake.pods if pod.revision == fake.revision]
        available = sum(pod.available for pod in fake.pods)
        status.update(
            replicas=len(fake.pods),
            updatedReplicas=len(updated),
            readyReplicas=available,
            availableReplicas=available,
            unavailableReplicas=max(desired - available, 0),
        )
        complete = len(updated) == desired == len(fake.pods) and available == desired
        deadline = float(fake.body["spec"].get("progressDeadlineSeconds", 600))
        if complete:
            progressing = ("True", "NewReplicaSetAvailable", "has successfully progressed")
        elif time.monotonic() - fake.progress_at > deadline:
            progressing = ("False", "ProgressDeadlineExceeded", "has timed out progressing")
        else:
            progressing = ("True", "ReplicaSetUpdated", "is progressing")
        name = fake.body["metadata"]["name"]
        status["conditions"] = [
            {
                "type": "Available",
                "status": "True" if available >= desired else "False",
                "reason": "MinimumReplicasAvailable",
            },
            {
                "type": "Progressing",
                "status": progressing[0],
                "reason": progressing[1],
                "message": f'ReplicaSet "{name}-{fake.revision}" {progressing[2]}.',
            },
        ]


def status_error(code: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
         "reason": reason, "code": code},
        status_code=code,
    )  # fmt: skip


def not_found(key: tuple[str, str]) -> JSONResponse:
    return status_error(404, "NotFound", f'deployments.apps "{key[1]}" not found')
