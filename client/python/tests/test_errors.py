"""Bad input against a real server: each malformed batch raises the exception of its gRPC code
(INVALID_ARGUMENT, NOT_FOUND) with the server's message naming the field, and the server
answers a valid request right after (the cases of tests/service.rs, through this client)."""

from __future__ import annotations

from typing import Callable

import grpc
import numpy as np
import pytest
from conftest import COLOUR_SIDE
from support import pixels

from augmentd_client import (
    AugmentdError,
    InvalidArgumentError,
    NotFoundError,
    RawBatch,
    RemoteAugmenter,
)

S = COLOUR_SIDE
GOOD = pixels((2, 3, S, S), seed=1)
NAN_FLOATS = np.full((1, 3, S, S), 0.5, np.float32)
NAN_FLOATS[0, 0, 0, 5] = np.nan

CASES: dict[str, tuple[Callable[[RemoteAugmenter], object], type, str]] = {
    "zero-size batch": (
        lambda a: a.augment(np.zeros((0, 3, S, S), np.uint8)),
        InvalidArgumentError,
        "shape: dimension 0 is 0",
    ),
    "zero-size image": (
        lambda a: a.augment(np.zeros((2, 3, 0, S), np.uint8), layout="NCHW"),
        InvalidArgumentError,
        "shape: dimension 2 is 0",
    ),
    "bytes mismatch": (
        lambda a: a.augment_raw(RawBatch(b"\x00" * 10, "uint8", "NCHW", (2, 3, S, S))),
        InvalidArgumentError,
        f"data: 10 bytes given, expected {2 * 3 * S * S}",
    ),
    "wrong rank (raw)": (
        lambda a: a.augment_raw(RawBatch(GOOD.tobytes(), "uint8", "NCHW", (2, 3, S * S))),
        InvalidArgumentError,
        "shape: 3 dimensions given, expected 4",
    ),
    "channels": (
        lambda a: a.augment(pixels((2, 1, S, S), 2)),
        InvalidArgumentError,
        "shape: 1 channels (dimension 1 in this layout), the model takes 3",
    ),
    "image size": (
        lambda a: a.augment(np.zeros((2, 3, 2, 2), np.uint8)),
        InvalidArgumentError,
        "shape: height 2 is outside 4..=4096",
    ),
    "NaN": (lambda a: a.augment(NAN_FLOATS), InvalidArgumentError, "data: contains NaN or infinite values"),
    "standardized uint8": (lambda a: a.augment(GOOD, standardized=True), InvalidArgumentError, "standardized:"),
    "unknown model": (lambda a: a.augment(GOOD, model="other"), NotFoundError, "model 'other' not found"),
    "unknown version": (lambda a: a.augment(GOOD, model="colour@99"), NotFoundError, "model 'colour@99' not found"),
    "bad model reference": (lambda a: a.augment(GOOD, model="colour@x"), InvalidArgumentError, "model: 'colour@x'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_batches_name_their_field_and_the_server_goes_on(augmenter: RemoteAugmenter, case: str) -> None:
    call, error_class, message = CASES[case]
    with pytest.raises(AugmentdError) as raised:
        call(augmenter)
    error = raised.value
    assert type(error) is error_class, repr(error)
    assert error.from_server and error.method == "augmentd.v1.Augmenter/Augment"
    assert error.message.startswith(message), error.message
    assert str(error) == f"{error.code_name}: {error.message}"
    assert error.code == (
        grpc.StatusCode.NOT_FOUND if error_class is NotFoundError else grpc.StatusCode.INVALID_ARGUMENT
    )
    # The server answers a valid request right after.
    assert augmenter.augment(GOOD, seed=1).shape == GOOD.shape


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.augment(GOOD, copies=0), "copies: must be an integer of at least 1, got 0"),
        (lambda a: a.augment(GOOD, seed=-1), "seed: must be None or an integer in 0..2**64-1, got -1"),
        (lambda a: a.augment(GOOD, sampling="test"), "sampling: 'test': expected 'train' or 'eval'"),
        (lambda a: a.augment(GOOD.astype(np.float64)), "dtype: float64 is not supported"),
        (lambda a: a.augment(GOOD[0]), "shape: 3 dimensions [3, 16, 16] given, expected 4"),
        (lambda a: a.augment_raw(RawBatch(b"", "int8", "NCHW", (1, 3, S, S))), "dtype: 'int8': expected one of"),
    ],
    ids=["copies", "seed", "sampling", "float64", "rank", "raw-dtype"],
)
def test_input_refused_before_sending_names_its_field(
    augmenter: RemoteAugmenter, call: Callable[[RemoteAugmenter], object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        call(augmenter)
    assert raised.value.message.startswith(message), raised.value.message
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT and not raised.value.from_server


def test_too_many_output_images_is_refused_by_the_server(augmenter: RemoteAugmenter) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        augmenter.augment(GOOD, copies=3000)
    assert raised.value.message.startswith("shape: 2 images × 3000 copies = 6000 output images"), raised.value.message
