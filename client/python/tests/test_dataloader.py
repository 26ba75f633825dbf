"""PyTorch DataLoader integration against a real server: `AugmentCollate` as collate_fn (labels
repeated per copy, dict batches, worker processes) and `augment_batches` streaming a loader,
which gives the same images as the collate for the same seeds."""

from __future__ import annotations

import pickle

import numpy as np
import torch
from conftest import COLOUR_SIDE
from support import pixels
from torch.utils.data import DataLoader, Dataset, TensorDataset

from augmentd_client import AugmentCollate, RemoteAugmenter, augment_batches

S = COLOUR_SIDE
IMAGES = torch.from_numpy(pixels((20, 3, S, S), seed=11))
LABELS = torch.arange(20)


def test_collate_augments_images_and_repeats_labels(augmenter: RemoteAugmenter) -> None:
    loader = DataLoader(
        TensorDataset(IMAGES, LABELS), batch_size=8, collate_fn=AugmentCollate(augmenter, copies=2, seed=3)
    )
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(16, 3, S, S), (16, 3, S, S), (8, 3, S, S)]
    images, labels = batches[0]
    assert images.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    expected = augmenter.augment(IMAGES[:8], seed=3, copies=2)
    assert torch.equal(images, expected), "batch 0 uses the collate's seed"
    assert not torch.equal(images[::2], IMAGES[:8])


class DictImages(Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> dict:
        return {"image": IMAGES[i].float() / 255.0, "label": int(LABELS[i]), "name": f"img{i}"}


def test_collate_of_dict_samples(augmenter: RemoteAugmenter) -> None:
    loader = DataLoader(DictImages(), batch_size=3, collate_fn=AugmentCollate(augmenter, image_key="image", copies=2))
    batch = next(iter(loader))
    assert batch["image"].shape == (6, 3, S, S) and batch["image"].dtype == torch.float32
    assert batch["label"].tolist() == [0, 0, 1, 1, 2, 2]
    assert batch["name"] == ["img0", "img0", "img1", "img1", "img2", "img2"]


def test_collate_in_worker_processes(augmenter: RemoteAugmenter) -> None:
    collate = AugmentCollate(pickle.loads(pickle.dumps(augmenter)))  # what spawn-started workers get
    loader = DataLoader(TensorDataset(IMAGES, LABELS), batch_size=5, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert len(batches) == 4
    assert torch.cat([labels for _, labels in batches]).tolist() == LABELS.tolist()
    assert all(images.shape == (5, 3, S, S) and images.dtype == torch.uint8 for images, _ in batches)


def test_streaming_a_loader_matches_the_collate(augmenter: RemoteAugmenter) -> None:
    dataset = TensorDataset(IMAGES, LABELS)
    collated = list(DataLoader(dataset, batch_size=8, collate_fn=AugmentCollate(augmenter, copies=2, seed=50)))
    streamed = list(augment_batches(augmenter, DataLoader(dataset, batch_size=8), copies=2, seed=50))
    assert len(streamed) == len(collated) == 3
    for (a_images, a_labels), (b_images, b_labels) in zip(collated, streamed):
        assert torch.equal(a_images, b_images)
        assert torch.equal(a_labels, b_labels)
    assert isinstance(streamed[0], list) and np.array_equal(streamed[0][1][:4].numpy(), [0, 0, 1, 1])
