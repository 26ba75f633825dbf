"""`TrainingClient`: training jobs on the server (start, watch, wait, get, list, cancel).
Needs an `admin` token when the server has tokens.

`watch(job_id)` is an iterator of what happens to a job, as the protobuf messages themselves:
the `Job` (first, and after every state change: the last one is the final state), every
`EpochRecord` so far and then live ones, `StepProgress` (a few per second; `steps=False` drops
them) and the `ModelVersion`s it publishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import (
    TYPE_CHECKING,
    Callable,
    Union,
    cast,
)

import grpc

from ._proto import models_pb2, training_pb2
from .errors import error_from_rpc, invalid_input

if TYPE_CHECKING:
    from .connection import Connection

#: One event of a watch.
JobEvent = Union[training_pb2.Job, training_pb2.EpochRecord, training_pb2.StepProgress, models_pb2.ModelVersion]
WATCH_METHOD = "augmentd.v1.Training/WatchJob"
FINISHED_STATES = frozenset(
    {training_pb2.JOB_STATE_SUCCEEDED, training_pb2.JOB_STATE_FAILED, training_pb2.JOB_STATE_CANCELLED}
)


def state_name(state: int) -> str:
    """`JOB_STATE_SUCCEEDED` -> `SUCCEEDED` (accepts a Job's `state`)."""
    return str(training_pb2.JobState.Name(state)).removeprefix("JOB_STATE_")


def parse_state(name: str) -> int:
    """`succeeded` / `SUCCEEDED` / `JOB_STATE_SUCCEEDED` -> the JobState value."""
    key = name.strip().upper()
    if not key.startswith("JOB_STATE_"):
        key = "JOB_STATE_" + key
    try:
        return int(training_pb2.JobState.Value(key))
    except ValueError:
        choices = ", ".join(state_name(v) for v in training_pb2.JobState.values() if v)
        raise invalid_input("state", f"{name!r}: expected one of {choices}") from None


def is_finished(job: training_pb2.Job) -> bool:
    """Whether `job` succeeded, failed or was cancelled."""
    return job.state in FINISHED_STATES


class TrainingClient:
    """The Training service of one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def start_training(
        self,
        *,
        preset: str = "",
        config_toml: str = "",
        overrides: Iterable[str] = (),
        dataset: str = "",
        test_dataset: str = "",
        model_name: str = "",
        publish_every_epochs: int = 0,
        activate: bool | None = None,
    ) -> training_pb2.Job:
        """Queues a training job: a preset, a TOML configuration over it and `key=value`
        overrides (as `augmentd train`), with data from `dataset` inside the server's data dir
        (or `data.source = "synthetic"`). The augmenter is published as `model_name`
        ("" = "default"). A bad configuration is `InvalidArgumentError` naming the key.
        Not retried (a retry could queue the job twice)."""
        if isinstance(overrides, str):
            raise invalid_input("overrides", "expected a list of 'key=value' strings, got one string")
        request = training_pb2.StartTrainingRequest(
            preset=preset,
            config_toml=config_toml,
            overrides=list(overrides),
            dataset=dataset,
            test_dataset=test_dataset,
            model_name=model_name,
            publish_every_epochs=publish_every_epochs,
            activate=activate,
        )
        job: training_pb2.Job = self.connection.call(
            "augmentd.v1.Training/StartTraining", self.connection.training.StartTraining, request, retry=False
        )
        return job

    def get_job(self, job_id: str) -> training_pb2.Job:
        """One job; `NotFoundError` for an unknown id."""
        job: training_pb2.Job = self.connection.call(
            "augmentd.v1.Training/GetJob", self.connection.training.GetJob, training_pb2.GetJobRequest(id=job_id)
        )
        return job

    def list_jobs(self, state: int | str | None = None) -> list[training_pb2.Job]:
        """Every job (or those in `state`: a JobState value or a name like "running"), oldest first."""
        value = parse_state(state) if isinstance(state, str) else int(state or 0)
        request = training_pb2.ListJobsRequest(state=cast(training_pb2.JobState, value))
        response = self.connection.call("augmentd.v1.Training/ListJobs", self.connection.training.ListJobs, request)
        return list(response.jobs)

    def cancel_job(self, job_id: str) -> training_pb2.Job:
        """Cancels a queued or running job (a running one stops at its next step); a finished
        job is returned unchanged."""
        job: training_pb2.Job = self.connection.call(
            "augmentd.v1.Training/CancelJob",
            self.connection.training.CancelJob,
            training_pb2.CancelJobRequest(id=job_id),
        )
        return job

    def watch(self, job_id: str, *, steps: bool = True, timeout: float | None = None) -> Iterator[JobEvent]:
        """The job's events until it finishes (see the module docstring). `timeout` bounds the
        whole watch. A server shutting down ends it with `UnavailableError`."""
        call = self.connection.training.WatchJob(
            training_pb2.WatchJobRequest(id=job_id), timeout=timeout, metadata=self.connection.metadata
        )
        try:
            for event in call:
                kind = event.WhichOneof("event")
                if kind is None or (kind == "step" and not steps):
                    continue
                yield getattr(event, kind)
        except grpc.RpcError as error:
            raise error_from_rpc(error, method=WATCH_METHOD) from None
        finally:
            call.cancel()  # a watch abandoned early must not keep the call open

    def wait(
        self,
        job_id: str,
        *,
        on_event: Callable[[JobEvent], None] | None = None,
        timeout: float | None = None,
    ) -> training_pb2.Job:
        """Watches the job to its end and returns its final state (check `state` and
        `failure_reason`); `on_event` sees every event on the way."""
        last: training_pb2.Job | None = None
        for event in self.watch(job_id, steps=on_event is not None, timeout=timeout):
            if on_event is not None:
                on_event(event)
            if isinstance(event, training_pb2.Job):
                last = event
        if last is None or not is_finished(last):
            # The stream ended without a final state: ask for it.
            last = self.get_job(job_id)
        return last
