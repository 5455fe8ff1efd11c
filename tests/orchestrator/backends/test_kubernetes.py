"""The kubernetes backend against a fake API server (fake_kubernetes.py): no real one can run here.

The fake follows the Deployment controller's documented semantics over real
HTTP; lightkube talks to it exactly as to a cluster.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from restart_orchestrator.backends import (
    BackendError,
    KubernetesBackend,
    KubernetesBackendConfig,
    ProcessState,
    RolloutFailed,
    ServiceTarget,
    rollout_status,
)
from restart_orchestrator.backends.kubernetes import REPLICAS_BEFORE_STOP, RESTARTED_AT
from tests.orchestrator.backends.fake_kubernetes import FakeKubernetes
from tests.orchestrator.backends.servers import serve_in_thread
from tests.support import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeKubernetes]:
    cluster = FakeKubernetes(tick_s=0.03, ready_ticks=2)
    cluster.add("execution", replicas=2)
    cluster.add("risk-safety", replicas=1, progress_deadline_s=1)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def api_url(fake: FakeKubernetes) -> Iterator[str]:
    with serve_in_thread(fake.app) as url:
        yield url


@pytest.fixture
async def make_backend(api_url: str) -> AsyncIterator[Any]:
    made: list[KubernetesBackend] = []

    def make(name: str = "execution", **options: Any) -> KubernetesBackend:
        settings = {"rollout_timeout_s": 15, "poll_interval_s": 0.05, **options}
        config = KubernetesBackendConfig(server=api_url, namespace="trading", **settings)
        backend = KubernetesBackend(config, ServiceTarget(name, "http://x", None, 30))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


async def test_rollout_restart_stamps_the_pod_template_and_waits_for_completion(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    """1. stop in rollout mode changes nothing 2. start patches the pod template
    3. the controller replaces both pods one by one
    Result: start returns once kubectl would say "successfully rolled out"."""
    backend = make_backend()
    assert await backend.state() == ProcessState.RUNNING

    stopped = await backend.stop()
    assert stopped.graceful
    assert "rollout mode" in stopped.detail
    assert fake.patches == []
    await backend.start()

    path, content_type, body = fake.patches[0]
    assert path == "/apis/apps/v1/namespaces/trading/deployments/execution"
    assert content_type == "application/merge-patch+json"
    assert RESTARTED_AT in body["spec"]["template"]["metadata"]["annotations"]
    deployment = fake.get("execution")
    assert deployment["metadata"]["generation"] == 2
    assert deployment["status"]["observedGeneration"] == 2
    assert deployment["status"]["updatedReplicas"] == 2
    assert deployment["status"]["replicas"] == 2
    assert deployment["status"]["availableReplicas"] == 2
    assert await backend.state() == ProcessState.RUNNING


async def test_progress_deadline_exceeded_is_a_clear_error(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    fake.fail_new_pods = True
    backend = make_backend("risk-safety")

    with pytest.raises(RolloutFailed, match='"risk-safety" exceeded its progress deadline'):
        await backend.start()
    assert await backend.state() == ProcessState.FAILED


async def test_rollout_not_complete_by_the_deadline_says_what_it_waits_for(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    fake.controller_paused = True
    backend = make_backend(rollout_timeout_s=0.5)

    with pytest.raises(
        BackendError, match=r"not complete within 0\.5 s: Waiting for deployment spec"
    ):
        await backend.start()


async def test_scale_mode_stops_to_zero_and_restores_the_recorded_replicas(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    backend = make_backend(stop_mode="scale")

    result = await backend.stop()

    assert result.graceful

    assert "from 2 to 0" in result.detail
    deployment = fake.get("execution")
    assert deployment["spec"]["replicas"] == 0
    assert deployment["status"]["replicas"] == 0
    assert deployment["metadata"]["annotations"][REPLICAS_BEFORE_STOP] == "2"
    assert await backend.state() == ProcessState.STOPPED
    assert any(path.endswith("/execution/scale") for path, _, _ in fake.patches)

    # A second stop (a retried run) keeps the recorded count.
    assert "already scaled to zero (replicas to restore: 2)" in (await backend.stop()).detail
    await make_backend(stop_mode="scale").start()  # a new run: the count comes from the API

    deployment = fake.get("execution")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["status"]["availableReplicas"] == 2
    assert REPLICAS_BEFORE_STOP not in deployment["metadata"].get("annotations", {})
    assert await backend.state() == ProcessState.RUNNING


async def test_scale_start_without_a_recorded_count_refuses_to_guess(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    backend = make_backend(stop_mode="scale")
    await backend.stop()
    await backend._patch({"metadata": {"annotations": {REPLICAS_BEFORE_STOP: None}}})

    with pytest.raises(BackendError, match="0 replicas and no restartctl/replicas-before-stop"):
        await backend.start()


async def test_paused_deployment_is_refused_rather_than_waited_for(
    fake: FakeKubernetes, make_backend: Any
) -> None:
    backend = make_backend()
    await backend._patch({"spec": {"paused": True}})

    with pytest.raises(BackendError, match="is paused: it would not roll out"):
        await backend.start()


async def test_missing_deployment_is_a_clear_error(make_backend: Any) -> None:
    with pytest.raises(BackendError, match="deployment trading/ai-engine not found"):
        await make_backend("ai-engine").state()


async def test_unreachable_api_server_is_a_clear_error() -> None:
    config = KubernetesBackendConfig(server=f"http://127.0.0.1:{free_port()}", request_timeout_s=2)
    backend = KubernetesBackend(config, ServiceTarget("execution", "http://x", None, 30))
    try:
        with pytest.raises(BackendError, match="cannot reach the API server"):
            await backend.state()
    finally:
        await backend.aclose()


async def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    config = KubernetesBackendConfig(kubeconfig=str(tmp_path / "kubeconfig"))
    backend = KubernetesBackend(config, ServiceTarget("execution", "http://x", None, 30))
    with pytest.raises(BackendError, match=r"Kubernetes configuration: .*kubeconfig not found"):
        await backend.state()


async def test_missing_lightkube_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "lightkube", None)
    config = KubernetesBackendConfig(server="http://127.0.0.1:1")
    backend = KubernetesBackend(config, ServiceTarget("execution", "http://x", None, 30))
    with pytest.raises(BackendError, match=r"restart-orchestrator\[kubernetes\]"):
        await backend.state()


def deployment(generation: int = 2, spec_replicas: int = 3, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "execution", "generation": generation},
        "spec": {"replicas": spec_replicas},
        "status": {"observedGeneration": 2, **status},
    }


def test_rollout_status_follows_kubectl_in_order() -> None:
    waiting = [
        (deployment(generation=3), "Waiting for deployment spec update to be observed..."),
        (
            deployment(updatedReplicas=1, replicas=3, availableReplicas=3),
            '"execution" rollout to finish: 1 out of 3 new replicas have been updated...',
        ),
        (
            deployment(updatedReplicas=3, replicas=4, availableReplicas=3),
            '"execution" rollout to finish: 1 old replicas are pending termination...',
        ),
        (
            deployment(updatedReplicas=3, replicas=3, availableReplicas=2),
            '"execution" rollout to finish: 2 of 3 updated replicas are available...',
        ),
    ]
    for state, message in waiting:
        text, done = rollout_status(state)
        assert not done
        assert text.endswith(message), text
    done_state = deployment(updatedReplicas=3, replicas=3, availableReplicas=3)
    assert rollout_status(done_state) == ('deployment "execution" successfully rolled out', True)


def test_rollout_status_raises_on_progress_deadline_only_once_observed() -> None:
    stalled = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    with pytest.raises(RolloutFailed, match="exceeded its progress deadline"):
        rollout_status(deployment(conditions=[stalled]))
    # kubectl checks the condition only after the spec change was observed.
    assert rollout_status(deployment(generation=3, conditions=[stalled]))[1] is False
