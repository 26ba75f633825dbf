"""Augmenting the batches of a PyTorch DataLoader (or any iterable of batches) with augmentd.

Two ways, same result:

- `AugmentCollate(augmenter)` is a `collate_fn`: it collates the samples (torch's
  `default_collate` unless told otherwise), then augments the images with one Augment call and
  repeats the other fields (labels) once per copy. Simple, and works in DataLoader workers
  (each worker process opens its own connection).
- `augment_batches(augmenter, loader)` streams the loader's batches through one AugmentStream
  call: the next batches are sent while the current one is augmented, for throughput.

A batch is a tensor/array of images, a tuple or list whose element `image_key` (default 0) is
the images, or a dict whose key `image_key` (e.g. "image") is.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Union,
)

from .errors import invalid_input
from .tensors import repeat_rows

if TYPE_CHECKING:
    from .augmenter import RemoteAugmenter

ImageKey = Union[int, str]


def split_images(batch: Any, image_key: ImageKey) -> Any:
    """The images of a collated batch."""
    if isinstance(batch, dict):
        if image_key not in batch:
            raise invalid_input(
                "image_key", f"{image_key!r} is not a key of the batch (keys: {sorted(map(str, batch))})"
            )
        return batch[image_key]
    if isinstance(batch, (tuple, list)):
        if not isinstance(image_key, int) or not -len(batch) <= image_key < len(batch):
            raise invalid_input("image_key", f"{image_key!r} is not an index of a batch of {len(batch)} fields")
        return batch[image_key]
    return batch


def join_images(batch: Any, image_key: ImageKey, images: Any, copies: int) -> Any:
    """`batch` with its images replaced by `images` and every other field repeated per copy."""
    if isinstance(batch, dict):
        return {key: images if key == image_key else repeat_rows(value, copies) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        index = image_key % len(batch) if isinstance(image_key, int) else -1
        fields = [images if i == index else repeat_rows(value, copies) for i, value in enumerate(batch)]
        if hasattr(batch, "_fields"):  # a namedtuple
            return type(batch)(*fields)
        return type(batch)(fields)
    return images


class AugmentCollate:
    """A DataLoader `collate_fn` that augments each collated batch with `augmenter`.

    Args:
        augmenter: the `RemoteAugmenter`.
        copies: augmented copies per image (labels are repeated to match).
        collate_fn: how to collate the samples (default: torch's `default_collate`).
        image_key: which field of the batch holds the images (index or dict key).
        seed: None (the server draws a seed per batch) or a base seed: batch i of this
            collate (counted per process) uses `seed + i`, for reproducible runs with
            `num_workers=0`.
    """

    def __init__(
        self,
        augmenter: RemoteAugmenter,
        *,
        copies: int = 1,
        collate_fn: Callable[[Sequence[Any]], Any] | None = None,
        image_key: ImageKey = 0,
        seed: int | None = None,
    ) -> None:
        if copies < 1:
            raise invalid_input("copies", f"must be at least 1, got {copies}")
        self.augmenter = augmenter
        self.copies = copies
        self.collate_fn = collate_fn
        self.image_key = image_key
        self.seed = seed
        self.batches = 0

    def _collate(self, samples: Sequence[Any]) -> Any:
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        from torch.utils.data import (
            default_collate,  # torch is optional: only this default needs it
        )

        return default_collate(list(samples))

    def __call__(self, samples: Sequence[Any]) -> Any:
        batch = self._collate(samples)
        seed = None if self.seed is None else self.seed + self.batches
        self.batches += 1
        images = self.augmenter.augment(split_images(batch, self.image_key), seed=seed, copies=self.copies)
        return join_images(batch, self.image_key, images, self.copies)


def augment_batches(
    augmenter: RemoteAugmenter,
    batches: Iterable[Any],
    *,
    copies: int = 1,
    image_key: ImageKey = 0,
    seed: int | None = None,
) -> Iterator[Any]:
    """The batches of `batches` (a DataLoader) with their images augmented, in order, over one
    AugmentStream call; other fields are repeated per copy. With a `seed`, batch i uses
    `seed + i`. Stops the stream when the caller stops iterating."""
    held: collections.deque[Any] = collections.deque()

    def images_of_batches() -> Iterator[Any]:
        for batch in batches:
            images = split_images(batch, image_key)
            held.append(batch)
            yield images

    with augmenter.stream(images_of_batches(), seed=seed, copies=copies) as stream:
        for images in stream:
            yield join_images(held.popleft(), image_key, images, copies)
