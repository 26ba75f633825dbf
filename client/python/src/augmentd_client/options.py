"""The options of an Augment request (`AugmentOptions`: model, seed, copies, sampling,
standardized, return_params) and what comes back (`AugmentResult`: the images with the model
version, the seed used and the transformation parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from ._proto import augmenter_pb2
from .errors import invalid_input
from .tensors import DTYPES, LAYOUTS, RawBatch, dtype_name, layout_name

T = TypeVar("T")
#: Sampling names and their wire values.
SAMPLINGS = {"train": augmenter_pb2.SAMPLING_TRAIN, "eval": augmenter_pb2.SAMPLING_EVAL}
#: Largest seed (seeds are uint64).
MAX_SEED = 2**64 - 1


@dataclass(frozen=True)
class AugmentResult(Generic[T]):
    """An augmented batch with what produced it."""

    #: The images (same type as the input: array, tensor or `RawBatch`).
    images: T
    #: The model name.
    model_name: str
    #: Its version.
    model_version: int
    #: The seed used (the request's, or the one the server drew: pass it again to replay).
    seed: int
    #: With return_params: the parameter names (a11, a12, tx, a21, a22, ty, brightness, ...).
    param_names: tuple[str, ...] = ()
    #: With return_params: [images, len(param_names)] float32 values; else None.
    params: np.ndarray | None = None

    @property
    def model_ref(self) -> str:
        """`name@version`."""
        return f"{self.model_name}@{self.model_version}"


@dataclass(frozen=True)
class AugmentOptions:
    """The per-request options of Augment (see augmenter.proto)."""

    model: str = ""
    seed: int | None = None
    copies: int = 1
    sampling: str = "train"
    standardized: bool = False
    return_params: bool = False
    learned_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.copies, (int, np.integer)) or isinstance(self.copies, bool) or self.copies < 1:
            raise invalid_input("copies", f"must be an integer of at least 1, got {self.copies!r}")
        if self.seed is not None and (
            not isinstance(self.seed, (int, np.integer))
            or isinstance(self.seed, bool)
            or not 0 <= self.seed <= MAX_SEED
        ):
            raise invalid_input("seed", f"must be None or an integer in 0..2**64-1, got {self.seed!r}")
        if self.sampling not in SAMPLINGS:
            raise invalid_input("sampling", f"{self.sampling!r}: expected 'train' or 'eval'")

    def request(self, raw: RawBatch, *, seed: int | None = None, request_id: str = "") -> augmenter_pb2.AugmentRequest:
        """The AugmentRequest of `raw` with these options (`seed` overrides `self.seed`)."""
        chosen = self.seed if seed is None else seed
        return augmenter_pb2.AugmentRequest(
            model=self.model,
            data=raw.data,
            dtype=DTYPES[raw.dtype],
            layout=LAYOUTS[raw.layout],
            shape=list(raw.shape),
            standardized=self.standardized,
            seed=None if chosen is None else int(chosen),
            copies=int(self.copies),
            return_params=self.return_params,
            learned_only=self.learned_only,
            sampling=SAMPLINGS[self.sampling],
            request_id=request_id,
        )


def raw_of_response(response: augmenter_pb2.AugmentResponse) -> RawBatch:
    """The images of an AugmentResponse."""
    return RawBatch(
        data=response.data,
        dtype=dtype_name(response.dtype),
        layout=layout_name(response.layout),
        shape=tuple(int(d) for d in response.shape),
    )


def result_of_response(response: augmenter_pb2.AugmentResponse, images: T) -> AugmentResult[T]:
    """An `AugmentResult` of a response, with `images` already converted."""
    names = tuple(response.param_names)
    params = None
    if names:
        params = np.asarray(response.params, dtype=np.float32).reshape(-1, len(names))
    return AugmentResult(
        images=images,
        model_name=response.model_name,
        model_version=int(response.model_version),
        seed=int(response.seed),
        param_names=names,
        params=params,
    )


def stream_seed(seed: int | None, index: int) -> int | None:
    """The seed of a stream's batch `index`: `seed + index` (modulo 2**64), or None."""
    return None if seed is None else (int(seed) + index) % (MAX_SEED + 1)
