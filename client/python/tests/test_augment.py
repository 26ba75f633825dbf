"""Augment against a real server with a trained model: every type (numpy, torch), dtype
(uint8, float32) and layout (NCHW, NHWC) comes back as it went, the seed decides the output,
the layouts, dtypes and types give the same images (as tests/service.rs asserts for the Rust
client), and copies, parameters and health work."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import COLOUR_SIDE
from support import ServerProcess, pixels

from augmentd_client import AugmentResult, NotFoundError, RemoteAugmenter

N = 4
NCHW_U8 = pixels((N, 3, COLOUR_SIDE, COLOUR_SIDE), seed=7)


def make_batch(kind: str, dtype: str, layout: str) -> Any:
    """The reference images in the requested form (float32: pixels / 255)."""
    array = NCHW_U8 if layout == "NCHW" else NCHW_U8.transpose(0, 2, 3, 1).copy()
    if dtype == "float32":
        array = array.astype(np.float32) / 255.0
    return torch.from_numpy(array) if kind == "torch" else array


def to_numpy(images: Any) -> np.ndarray:
    return images.numpy() if isinstance(images, torch.Tensor) else images


def as_nchw_u8(images: Any, layout: str) -> np.ndarray:
    """Images in NCHW uint8 (float32 rounded back to 8 bits, as the server documents)."""
    array = to_numpy(images)
    if layout == "NHWC":
        array = array.transpose(0, 3, 1, 2)
    if array.dtype == np.float32:
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(array)


@pytest.fixture(scope="module")
def reference(server: ServerProcess, colour_model: str) -> np.ndarray:
    """The uint8 NCHW numpy output for seed 5: what every other form must match."""
    with RemoteAugmenter(server.url, model=colour_model) as augmenter:
        return augmenter.augment(NCHW_U8, seed=5)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_round_trip_preserves_form_and_the_seed_decides(
    augmenter: RemoteAugmenter, reference: np.ndarray, kind: str, dtype: str, layout: str
) -> None:
    batch = make_batch(kind, dtype, layout)
    out = augmenter.augment(batch, seed=5)
    again = augmenter.augment(batch, seed=5)
    other = augmenter.augment(batch, seed=6)

    assert type(out) is type(batch)
    assert out.shape == batch.shape
    assert out.dtype == batch.dtype
    if kind == "torch":
        assert out.device == batch.device
    assert np.array_equal(to_numpy(out), to_numpy(again)), "same seed, same output"
    assert not np.array_equal(to_numpy(out), to_numpy(other)), "another seed, another output"
    assert not np.array_equal(to_numpy(out), to_numpy(batch)), "the images were transformed"
    if dtype == "float32":
        assert np.isfinite(to_numpy(out)).all()
    # Every form gives the images of the uint8 NCHW numpy path.
    np.testing.assert_array_equal(as_nchw_u8(out, layout), reference)


def test_float_pixels_match_the_uint8_path_exactly_after_rounding(
    augmenter: RemoteAugmenter, reference: np.ndarray
) -> None:
    floats = augmenter.augment(NCHW_U8.astype(np.float32) / 255.0, seed=5)
    assert floats.dtype == np.float32
    assert floats.min() >= 0.0 and floats.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(np.round(np.clip(floats, 0, 1) * 255).astype(np.uint8), reference)
    halves = augmenter.augment(torch.from_numpy(NCHW_U8).half() / 255.0, seed=5)
    assert halves.dtype == torch.float16 and halves.shape == (N, 3, COLOUR_SIDE, COLOUR_SIDE)


def test_copies_return_k_images_per_input_with_their_own_transforms(augmenter: RemoteAugmenter) -> None:
    result = augmenter.augment_with_info(NCHW_U8, seed=9, copies=3, return_params=True)
    images = result.images
    assert images.shape == (3 * N, 3, COLOUR_SIDE, COLOUR_SIDE)
    assert result.param_names[:2] == ("a11", "a12") and len(result.param_names) == 10
    assert result.params is not None and result.params.shape == (3 * N, 10)
    assert not np.array_equal(result.params[0], result.params[1]), "copies draw their own transforms"
    assert not np.array_equal(images[0], images[1])
    torch_copies = augmenter.augment(torch.from_numpy(NCHW_U8), seed=9, copies=3)
    np.testing.assert_array_equal(torch_copies.numpy(), images)


def test_the_returned_seed_replays_and_names_the_version(augmenter: RemoteAugmenter, colour_model: str) -> None:
    drawn = augmenter.augment_with_info(NCHW_U8)
    assert isinstance(drawn, AugmentResult)
    assert drawn.model_ref == colour_model
    replay = augmenter.augment_with_info(NCHW_U8, seed=drawn.seed)
    assert replay.seed == drawn.seed
    np.testing.assert_array_equal(replay.images, drawn.images)


def test_eval_sampling_differs_from_train(augmenter: RemoteAugmenter) -> None:
    train = augmenter.augment(NCHW_U8, seed=5)
    evaluated = augmenter.augment(NCHW_U8, seed=5, sampling="eval")
    assert evaluated.shape == train.shape
    assert not np.array_equal(train, evaluated), "dropout off changes the transforms"


def test_health(augmenter: RemoteAugmenter) -> None:
    assert augmenter.health() == "SERVING"
    assert augmenter.health("") == "SERVING"
    with pytest.raises(NotFoundError, match="NOT_FOUND"):
        augmenter.health("no.such.Service")  # the health protocol's answer for an unknown service
