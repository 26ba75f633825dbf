"""Training helpers against a real server: a synthetic job watched from start to SUCCEEDED
(epoch records, the published model, the final job), the model listed, fetched and used to
augment; activate/delete; a bad configuration named; a long job cancelled."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest
from support import pixels, synthetic_job

from augmentd_client import (
    Client,
    EpochRecord,
    FailedPreconditionError,
    InvalidArgumentError,
    Job,
    ModelVersion,
    NotFoundError,
    StepProgress,
    is_finished,
    state_name,
)

SIDE = 16


def test_start_watch_publish_and_augment(client: Client, colour_model: str) -> None:
    job = client.start_training(
        **synthetic_job("small_affine", 2, seed=4), model_name="grey", activate=False
    )
    assert job.id.startswith("job-") and state_name(job.state) in ("QUEUED", "RUNNING")
    events = list(client.watch(job.id))

    assert isinstance(events[0], Job) and events[0].id == job.id
    records = [e for e in events if isinstance(e, EpochRecord)]
    assert [r.epoch for r in records] == [0, 1]
    for record in records:
        assert record.HasField("val_loss") and record.HasField("val_acc")
        assert math.isfinite(record.train_loss) and math.isfinite(record.val_loss)
        assert 0 <= record.val_acc <= 100 and record.seconds > 0
        assert {t.name for t in record.transforms} >= {"a11", "tx", "ty"}
    assert any(isinstance(e, StepProgress) for e in events)
    published = [e for e in events if isinstance(e, ModelVersion)]
    assert [(m.name, m.version, m.epoch) for m in published] == [("grey", 1, 1)]
    final = events[-1]
    assert isinstance(final, Job) and state_name(final.state) == "SUCCEEDED" and is_finished(final)
    assert list(final.published) == ["grey@1"] and final.epochs_done == 2

    # A late watcher misses nothing; steps can be left out.
    late = list(client.watch(job.id, steps=False))
    assert [r.epoch for r in late if isinstance(r, EpochRecord)] == [0, 1]
    assert not any(isinstance(e, StepProgress) for e in late)
    assert state_name(client.get_job(job.id).state) == "SUCCEEDED"
    assert job.id in [j.id for j in client.list_jobs("succeeded")]

    listed = client.models.list("grey")
    # activate=False: the name's first version still becomes its active one (the server's rule),
    # but it does not take the server's default model over from "colour".
    assert [(m.name, m.version, m.active, m.default) for m in listed] == [("grey", 1, True, False)]
    model = client.models.get("grey@1")
    assert (model.channels, model.height, model.width, model.augmenter) == (1, SIDE, SIDE, "small_affine")
    assert model.source_job == job.id and model.draws == 4096 and len(model.served) == 6

    images = pixels((3, SIDE, SIDE, 1), seed=5)
    augmenter = client.augmenter("grey@1")
    out = augmenter.augment(images, seed=1)
    assert out.shape == images.shape and out.dtype == np.uint8 and not np.array_equal(out, images)


def test_activate_and_delete(client: Client) -> None:
    job = client.start_training(**synthetic_job("small_affine", 1, seed=8), model_name="spare")
    final = client.wait(job.id, timeout=300)
    assert state_name(final.state) == "SUCCEEDED", final.failure_reason
    activated = client.models.activate("spare")
    assert (activated.name, activated.version, activated.active, activated.default) == ("spare", 1, True, True)
    with pytest.raises(FailedPreconditionError) as refused:
        client.models.delete("spare@1")
    assert "spare@1 is active" in refused.value.message
    deleted = client.models.delete("spare@1", force=True)
    assert [(m.name, m.version) for m in deleted] == [("spare", 1)]
    assert client.models.list("spare") == []
    with pytest.raises(NotFoundError) as missing:
        client.models.get("spare@1")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_a_run_without_validation_split_sends_no_validation_figures(client: Client) -> None:
    job = client.start_training(
        **synthetic_job("none", 2, seed=9),
        overrides=["data.val_ratio=0", "output.test_every=2"],
    )
    final = client.wait(job.id, timeout=300)
    assert state_name(final.state) == "SUCCEEDED", final.failure_reason
    records = [e for e in client.watch(job.id, steps=False) if isinstance(e, EpochRecord)]
    assert [r.epoch for r in records] == [0, 1]
    for record in records:
        assert not record.HasField("val_loss") and not record.HasField("val_acc")
        assert 0 <= record.train_acc <= 100
    # Tested after every second epoch only (and after the last, here the same one).
    assert [r.HasField("test_acc") for r in records] == [False, True]
    assert 0 <= records[1].test_acc <= 100
    assert final.HasField("last_record") and not final.last_record.HasField("val_acc")
    assert list(final.published) == []


def test_a_bad_configuration_names_the_key(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        bad = synthetic_job("small_affine", 2, seed=4)
        client.start_training(preset=bad["preset"], config_toml=bad["config_toml"] + "surprise = 1\n")
    assert "surprise" in raised.value.message
    with pytest.raises(InvalidArgumentError) as raised:
        client.start_training(**synthetic_job("small_affine", 2, seed=4), overrides=["classifier.lr=-1"])
    assert "classifier.lr" in raised.value.message
    with pytest.raises(InvalidArgumentError) as raised:
        client.start_training(**synthetic_job("small_affine", 2, seed=4), overrides=["data.val_ratio=0"])
    assert "data.val_ratio" in raised.value.message and "bilevel" in raised.value.message
    with pytest.raises(NotFoundError):
        client.get_job("job-999999")


def test_cancel_a_running_job(client: Client) -> None:
    job = client.start_training(**synthetic_job("small_affine", 500, seed=6))
    for event in client.watch(job.id):
        if isinstance(event, (StepProgress, EpochRecord)) or (
            isinstance(event, Job) and state_name(event.state) == "RUNNING"
        ):
            break
    client.cancel_job(job.id)
    final = client.wait(job.id, timeout=120)
    assert state_name(final.state) == "CANCELLED"
    assert "cancelled" in final.failure_reason
