"""AugmentStream against a real server: batches come back in order and in the form they went
(each equal to the unary call with seed + i), results carry their model and seed, and a bad
batch ends the stream after every earlier result with its field named."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from conftest import COLOUR_SIDE
from support import pixels

from augmentd_client import AugmentResult, InvalidArgumentError, RemoteAugmenter

S = COLOUR_SIDE


def mixed_batches(count: int) -> list:
    """Batches of various forms: numpy NCHW uint8, torch NHWC float32, numpy NHWC uint8, ..."""
    out = []
    for i in range(count):
        images = pixels((2 + i % 3, 3, S, S), seed=100 + i)
        if i % 3 == 1:
            out.append(torch.from_numpy(images.transpose(0, 2, 3, 1).astype(np.float32) / 255.0))
        elif i % 3 == 2:
            out.append(images.transpose(0, 2, 3, 1).copy())
        else:
            out.append(images)
    return out


def test_a_stream_answers_in_order_each_like_its_unary_call(augmenter: RemoteAugmenter) -> None:
    batches = mixed_batches(7)
    streamed = list(augmenter.stream(iter(batches), seed=40, copies=2))
    assert len(streamed) == len(batches)
    for i, (batch, out) in enumerate(zip(batches, streamed)):
        assert type(out) is type(batch) and out.dtype == batch.dtype
        assert out.shape == (2 * batch.shape[0], *batch.shape[1:])
        unary = augmenter.augment(batch, seed=40 + i, copies=2)
        assert np.array_equal(np.asarray(out), np.asarray(unary)), f"batch {i} is in its place"


def test_results_carry_model_and_seed(augmenter: RemoteAugmenter, colour_model: str) -> None:
    batches = [pixels((2, 3, S, S), seed=i) for i in range(3)]
    results = list(augmenter.stream(batches, seed=7, return_params=True).results())
    assert [r.seed for r in results] == [7, 8, 9]
    assert all(isinstance(r, AugmentResult) and r.model_ref == colour_model for r in results)
    assert all(r.params is not None and r.params.shape == (2, 10) for r in results)


def test_an_endless_input_is_read_as_the_stream_goes_and_close_stops_it(augmenter: RemoteAugmenter) -> None:
    produced = []

    def endless() -> Iterator[np.ndarray]:
        i = 0
        while True:
            produced.append(i)
            yield pixels((1, 3, S, S), seed=i)
            i += 1

    with augmenter.stream(endless(), seed=0) as stream:
        taken = [next(stream) for _ in range(3)]
    assert [t.shape for t in taken] == [(1, 3, S, S)] * 3
    np.testing.assert_array_equal(taken[2], augmenter.augment(pixels((1, 3, S, S), seed=2), seed=2))
    assert len(produced) >= 3


def test_a_bad_batch_ends_the_stream_after_the_earlier_results(augmenter: RemoteAugmenter) -> None:
    batches = [pixels((2, 3, S, S), 1), pixels((2, 3, S, S), 2), pixels((2, 1, S, S), 3), pixels((2, 3, S, S), 4)]
    stream = augmenter.stream(batches, seed=1)
    assert next(stream).shape == (2, 3, S, S)
    assert next(stream).shape == (2, 3, S, S)
    with pytest.raises(InvalidArgumentError) as raised:
        next(stream)
    assert raised.value.from_server
    assert raised.value.message.startswith("shape: 1 channels"), raised.value.message
    assert raised.value.method == "augmentd.v1.Augmenter/AugmentStream"


def test_an_input_the_client_cannot_send_ends_the_stream_with_its_index(augmenter: RemoteAugmenter) -> None:
    batches = [pixels((2, 3, S, S), 1), np.zeros((3, S, S), np.uint8)]
    stream = augmenter.stream(batches)
    assert next(stream).shape == (2, 3, S, S)
    with pytest.raises(InvalidArgumentError, match=r"batch 1 of the stream: shape: 3 dimensions"):
        next(stream)


def test_an_exception_of_the_input_iterator_is_raised_unchanged(augmenter: RemoteAugmenter) -> None:
    class LoaderBroke(RuntimeError):
        pass

    def source() -> Iterator[np.ndarray]:
        yield pixels((1, 3, S, S), 1)
        raise LoaderBroke("disk gone")

    stream = augmenter.stream(source())
    assert next(stream).shape == (1, 3, S, S)
    with pytest.raises(LoaderBroke, match="disk gone"):
        next(stream)
