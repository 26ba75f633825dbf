"""Batch conversions without a server: what goes on the wire for each type, dtype and layout,
what comes back, and the input refused before sending (with the field named)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augmentd_client import InvalidArgumentError, RawBatch
from augmentd_client.tensors import decode, encode, repeat_rows, resolve_layout


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float16])
def test_numpy_round_trip_keeps_values_dtype_and_layout(dtype: type) -> None:
    images = (np.arange(2 * 5 * 6 * 3) % 256).astype(dtype).reshape(2, 5, 6, 3)
    raw, spec = encode(images)
    assert (raw.layout, raw.shape, raw.dtype) == ("NHWC", (2, 5, 6, 3), np.dtype(dtype).name)
    assert raw.data == images.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    back = decode(raw, spec)
    assert isinstance(back, np.ndarray) and back.dtype == dtype and back.flags.writeable
    np.testing.assert_array_equal(back, images)


def test_torch_round_trip_keeps_type_dtype_device_and_values() -> None:
    images = torch.rand(3, 1, 8, 8)
    raw, spec = encode(images)
    assert (raw.layout, raw.dtype, raw.shape) == ("NCHW", "float32", (3, 1, 8, 8))
    back = decode(raw, spec)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32 and back.device == images.device
    assert torch.equal(back, images)


def test_non_contiguous_and_big_endian_inputs_are_sent_in_order_little_endian() -> None:
    nhwc = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    view = nhwc.transpose(0, 3, 1, 2)  # NCHW view, not contiguous
    raw, _ = encode(view)
    assert raw.layout == "NCHW" and raw.data == np.ascontiguousarray(view).tobytes()
    big = np.linspace(0, 1, 2 * 3 * 4 * 4, dtype=">f4").reshape(2, 3, 4, 4)
    raw, spec = encode(big)
    assert raw.data == big.astype("<f4").tobytes()
    np.testing.assert_array_equal(decode(raw, spec), big)
    grad = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert encode(grad)[0].data == grad.detach().numpy().tobytes()


def test_auto_layout_and_its_refusals() -> None:
    assert resolve_layout((8, 3, 32, 32), "auto") == "NCHW"
    assert resolve_layout((8, 28, 28, 1), "auto") == "NHWC"
    assert resolve_layout((8, 4, 32, 32), "nchw") == "NCHW"
    with pytest.raises(InvalidArgumentError, match=r"^INVALID_ARGUMENT: layout: cannot tell NCHW from NHWC"):
        resolve_layout((8, 4, 32, 32), "auto")
    with pytest.raises(InvalidArgumentError, match=r"layout: 'CHW'"):
        resolve_layout((8, 3, 32, 32), "CHW")


@pytest.mark.parametrize(
    ("images", "field"),
    [
        (np.zeros((3, 16, 16), np.uint8), "shape: 3 dimensions"),
        (np.zeros((1, 3, 16, 16), np.float64), "dtype: float64 is not supported"),
        (np.zeros((1, 3, 16, 16), np.int32), "dtype: int32 is not supported"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.bfloat16), "dtype: torch.bfloat16 is not supported"),
        ([[1, 2], [3, 4]], "batch: expected a numpy.ndarray or a torch.Tensor, got list"),
    ],
)
def test_unsendable_input_names_the_field(images: object, field: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        encode(images)
    assert raised.value.message.startswith(field), raised.value.message
    assert raised.value.from_server is False
    assert isinstance(raised.value, ValueError)


def test_raw_batch_checks_its_byte_count() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^INVALID_ARGUMENT: data: 5 bytes given"):
        RawBatch(b"12345", "uint8", "NCHW", (1, 1, 2, 2)).to_numpy()


def test_rows_repeat_image_major() -> None:
    assert torch.equal(repeat_rows(torch.tensor([1, 2]), 3), torch.tensor([1, 1, 1, 2, 2, 2]))
    np.testing.assert_array_equal(repeat_rows(np.array([[1], [2]]), 2), [[1], [1], [2], [2]])
    assert repeat_rows(["a", "b"], 2) == ["a", "a", "b", "b"]
