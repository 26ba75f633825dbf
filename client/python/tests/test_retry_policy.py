"""The retry policy against a tiny in-process gRPC server that refuses a scripted number of
times: the sleeps follow the server's hint (metadata, else message text), back off
exponentially without one, stop at max_attempts, and skip codes and calls that must not be
retried. The sleep function is injected: nothing really sleeps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent import futures

import grpc
import numpy as np
import pytest

from augmentd_client import (
    Client,
    InvalidArgumentError,
    RemoteAugmenter,
    ResourceExhaustedError,
    RetryEvent,
    RetryPolicy,
    UnavailableError,
    augmenter_pb2,
    retry_hint_seconds,
    training_pb2,
)
from augmentd_client._proto import augmenter_pb2_grpc, training_pb2_grpc

Refusal = tuple[grpc.StatusCode, str, Sequence[tuple[str, str]]]
FULL = "the augment queue is full (1 batches waiting); retry after {} ms"


def queue_full(ms: int, metadata: bool = True) -> Refusal:
    meta = (("grpc-retry-pushback-ms", str(ms)), ("retry-after-ms", str(ms))) if metadata else ()
    return grpc.StatusCode.RESOURCE_EXHAUSTED, FULL.format(ms), meta


class ScriptedServer(augmenter_pb2_grpc.AugmenterServicer, training_pb2_grpc.TrainingServicer):
    """Refuses the first calls as scripted, then answers (Augment echoes its input)."""

    def __init__(self) -> None:
        self.refusals: list[Refusal] = []
        self.calls = 0

    def _refuse_or_pass(self, context: grpc.ServicerContext) -> None:
        self.calls += 1
        if self.refusals:
            code, message, metadata = self.refusals.pop(0)
            context.set_trailing_metadata(tuple(metadata))
            context.abort(code, message)

    def Augment(
        self, request: augmenter_pb2.AugmentRequest, context: grpc.ServicerContext
    ) -> augmenter_pb2.AugmentResponse:
        self._refuse_or_pass(context)
        return augmenter_pb2.AugmentResponse(
            data=request.data, dtype=request.dtype, layout=request.layout, shape=request.shape,
            model_name="scripted", model_version=1, seed=request.seed,
        )  # fmt: skip

    def StartTraining(
        self, request: training_pb2.StartTrainingRequest, context: grpc.ServicerContext
    ) -> training_pb2.Job:
        self._refuse_or_pass(context)
        return training_pb2.Job(id="job-000001", state=training_pb2.JOB_STATE_QUEUED)

    def GetJob(self, request: training_pb2.GetJobRequest, context: grpc.ServicerContext) -> training_pb2.Job:
        self._refuse_or_pass(context)
        return training_pb2.Job(id=request.id, state=training_pb2.JOB_STATE_RUNNING)


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[tuple[ScriptedServer, str]]:
    servicer = ScriptedServer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    augmenter_pb2_grpc.add_AugmenterServicer_to_server(servicer, server)
    training_pb2_grpc.add_TrainingServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"http://127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture()
def scripted(scripted_server: tuple[ScriptedServer, str]) -> tuple[ScriptedServer, str]:
    servicer, url = scripted_server
    servicer.refusals, servicer.calls = [], 0
    return servicer, url


class Recorder:
    """An injected sleep and on_retry that only record."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[RetryEvent] = []

    def policy(self, **overrides: object) -> RetryPolicy:
        settings = dict(sleep=self.sleeps.append, on_retry=self.events.append, jitter=0.0)
        settings.update(overrides)
        return RetryPolicy(**settings)  # type: ignore[arg-type]


IMAGES = np.arange(2 * 1 * 4 * 4, dtype=np.uint8).reshape(2, 1, 4, 4)


def test_resource_exhausted_twice_then_ok_sleeps_what_the_server_says(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [queue_full(40), queue_full(120)]
    recorder = Recorder()
    augmenter = RemoteAugmenter(url, retry=recorder.policy())
    out = augmenter.augment(IMAGES, seed=3)
    np.testing.assert_array_equal(out, IMAGES)  # the scripted server echoes
    assert servicer.calls == 3
    assert recorder.sleeps == pytest.approx([0.040, 0.120])
    assert [(e.attempt, e.code, e.hint) for e in recorder.events] == [
        (1, grpc.StatusCode.RESOURCE_EXHAUSTED, pytest.approx(0.040)),
        (2, grpc.StatusCode.RESOURCE_EXHAUSTED, pytest.approx(0.120)),
    ]
    assert recorder.events[0].method == "augmentd.v1.Augmenter/Augment"
    assert augmenter.retry_stats.total == 2
    assert augmenter.retry_stats.by_code() == {"RESOURCE_EXHAUSTED": 2}


def test_jitter_only_lengthens_the_hinted_wait(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [queue_full(100)]
    recorder = Recorder()
    RemoteAugmenter(url, retry=recorder.policy(jitter=0.2, random=lambda: 0.5)).augment(IMAGES)
    assert recorder.sleeps == pytest.approx([0.100 * 1.1])


def test_the_message_text_is_the_hint_when_the_metadata_is_missing(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [queue_full(25, metadata=False)]
    recorder = Recorder()
    RemoteAugmenter(url, retry=recorder.policy()).augment(IMAGES)
    assert recorder.sleeps == pytest.approx([0.025])


def test_unavailable_without_a_hint_backs_off_exponentially_up_to_the_cap(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [(grpc.StatusCode.UNAVAILABLE, "the server is shutting down", ())] * 4
    recorder = Recorder()
    policy = recorder.policy(initial_backoff=0.05, multiplier=2.0, max_backoff=0.3)
    RemoteAugmenter(url, retry=policy).augment(IMAGES)
    assert recorder.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.3])
    assert all(e.hint is None for e in recorder.events)


def test_it_gives_up_after_max_attempts_with_the_last_error(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [queue_full(40)] * 5
    recorder = Recorder()
    with pytest.raises(ResourceExhaustedError) as raised:
        RemoteAugmenter(url, retry=recorder.policy(max_attempts=3)).augment(IMAGES)
    error = raised.value
    assert (error.code, error.attempts, error.retry_after) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        3,
        pytest.approx(0.04),
    )
    assert error.message == FULL.format(40)
    assert str(error) == "RESOURCE_EXHAUSTED: " + FULL.format(40)
    assert servicer.calls == 3 and len(recorder.sleeps) == 2


def test_disabled_retries_raise_at_once(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    servicer.refusals = [queue_full(40)]
    with pytest.raises(ResourceExhaustedError) as raised:
        RemoteAugmenter(url, retry=RetryPolicy.disabled()).augment(IMAGES)
    assert raised.value.retry_after == pytest.approx(0.04)
    assert servicer.calls == 1


@pytest.mark.parametrize(
    "refusal",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "shape: dimension 0 is 0", ()),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "go away", (("grpc-retry-pushback-ms", "-1"),)),
    ],
    ids=["not-a-retry-code", "negative-pushback"],
)
def test_refusals_that_are_not_retried(scripted: tuple[ScriptedServer, str], refusal: Refusal) -> None:
    servicer, url = scripted
    servicer.refusals = [refusal]
    recorder = Recorder()
    with pytest.raises(Exception) as raised:
        RemoteAugmenter(url, retry=recorder.policy()).augment(IMAGES)
    assert raised.value.code == refusal[0]  # type: ignore[attr-defined]
    assert servicer.calls == 1 and recorder.sleeps == []


def test_start_training_is_not_retried_but_reads_are(scripted: tuple[ScriptedServer, str]) -> None:
    servicer, url = scripted
    recorder = Recorder()
    client = Client(url, retry=recorder.policy())
    servicer.refusals = [(grpc.StatusCode.UNAVAILABLE, "the server is shutting down", ())]
    with pytest.raises(UnavailableError):
        client.start_training(preset="fmnist-small")
    assert servicer.calls == 1
    servicer.refusals = [(grpc.StatusCode.UNAVAILABLE, "the server is shutting down", ())]
    assert client.get_job("job-000001").id == "job-000001"
    assert servicer.calls == 3 and len(recorder.sleeps) == 1


def test_retry_hint_parsing() -> None:
    assert retry_hint_seconds([("retry-after-ms", "40"), ("grpc-retry-pushback-ms", "90")]) == pytest.approx(0.04)
    assert retry_hint_seconds([("grpc-retry-pushback-ms", b"90")]) == pytest.approx(0.09)
    assert retry_hint_seconds([("retry-after-ms", "soon")], "retry after 7 ms") == pytest.approx(0.007)
    assert retry_hint_seconds(
        (), "the augment queue is full (4 batches waiting); retry after 1500 ms"
    ) == pytest.approx(1.5)
    assert retry_hint_seconds(None, "no hint here") is None


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)
    with pytest.raises(InvalidArgumentError, match="url"):
        RemoteAugmenter("127.0.0.1:50051")
