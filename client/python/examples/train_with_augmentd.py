#!/usr/bin/env python3
"""Trains a small PyTorch classifier on Fashion-MNIST with every training batch augmented by a
running augmentd, then prints its test accuracy.

    make serve                                   # in another terminal (or any augmentd)
    python examples/train_with_augmentd.py --train-augmenter --epochs 2

Data: the gzipped IDX files of Debian's dataset-fashion-mnist (found with `dpkg -L`, or
--data DIR); synthetic gratings when they are absent (or with --synthetic). The augmenter is
the server's model --model (1 channel); --train-augmenter first trains one on the server (admin
token; on --server-dataset inside the server's data dir, else on synthetic data). Runs on the
CPU in a few minutes with the defaults (2,000 training and 2,000 test images, 2 epochs).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

try:
    import augmentd_client  # noqa: F401  (installed with `pip install client/python`)
except ImportError:  # run from a checkout: use the package next to this example
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from augmentd_client import (  # noqa: E402
    AugmentdError,
    Client,
    EpochRecord,
    RemoteAugmenter,
    augment_batches,
    state_name,
)

DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST pixel statistics (0..1 scale)
# The server-side run of --train-augmenter without --server-dataset: 1x28x28 synthetic images.
SYNTHETIC_RUN = """
seed = 1
epochs = {epochs}
batch_size = 32
device = "cpu"
[data]
source = "synthetic"
val_ratio = 0.25
synthetic = {{ classes = 10, per_class = 40, channels = 1, side = 28 }}
[classifier]
arch = "small-cnn"
lr = 0.05
momentum = 0.9
weight_decay = 5e-4
[augment]
mode = "small_affine"
baseline = "none"
lr = 0.05
momentum = 0.9
weight_decay = 0.01
[output]
grid_images = 0
"""


def find_dataset(explicit: Path | None) -> Path | None:
    """The folder holding the Fashion-MNIST IDX files: --data, dpkg's list, or the default."""
    candidates = [explicit] if explicit else []
    try:
        listed = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, check=False)
        candidates += [Path(line).parent for line in listed.stdout.splitlines() if line.endswith(FILES["train"][0])]
    except OSError:
        pass  # not a Debian system
    candidates.append(DEFAULT_DATA)
    for folder in candidates:
        if folder and all((folder / name).is_file() for pair in FILES.values() for name in pair):
            return folder
    if explicit:
        names = sorted(name for pair in FILES.values() for name in pair)
        sys.exit(f"--data {explicit}: the Fashion-MNIST files {names} are not all there")
    return None


def read_idx(path: Path, dims: int) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes with `dims` dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    (magic,) = struct.unpack(">I", data[:4])
    if magic != 0x0800 + dims:
        sys.exit(f"{path}: magic number {magic:#010x}, expected {0x0800 + dims:#010x} (unsigned bytes, {dims} dims)")
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    body = np.frombuffer(bytearray(data), np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        sys.exit(f"{path}: {body.size} bytes of data, shape {list(shape)} needs {int(np.prod(shape))} (truncated?)")
    return body.reshape(shape)


def synthetic(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes of 28x28 gratings (orientation = class) with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    y, x = np.mgrid[0:28, 0:28].astype(np.float32)
    angles = labels[:, None, None] * (np.pi / 10)
    phase = rng.uniform(0, 2 * np.pi, (count, 1, 1))
    waves = np.sin(0.7 * (x * np.cos(angles) + y * np.sin(angles)) + phase)
    images = np.clip(127.5 + 90 * waves + rng.normal(0, 25, waves.shape), 0, 255).astype(np.uint8)
    return images, labels


def load(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(train images, labels, test images, labels, description): images N x 1 x 28 x 28 uint8."""
    folder = None if args.synthetic else find_dataset(args.data)
    if folder is None:
        if not args.synthetic:
            print("notice: Fashion-MNIST not found (apt-get install dataset-fashion-mnist): using synthetic gratings")
        (xtr, ytr), (xte, yte) = synthetic(args.train_size, 1), synthetic(args.test_size, 2)
        described = "synthetic gratings"
    else:
        xtr, ytr = (read_idx(folder / n, d) for n, d in zip(FILES["train"], (3, 1)))
        xte, yte = (read_idx(folder / n, d) for n, d in zip(FILES["test"], (3, 1)))
        pick = np.random.default_rng(args.seed).permutation(len(xtr))[: args.train_size]
        xtr, ytr, xte, yte = xtr[pick], ytr[pick], xte[: args.test_size], yte[: args.test_size]
        described = f"Fashion-MNIST from {folder}"
    return xtr[:, None], ytr.astype(np.int64), xte[:, None], yte.astype(np.int64), described


def train_augmenter(args: argparse.Namespace) -> None:
    """Trains and publishes `args.model` on the server, printing each epoch."""
    with Client(args.url, token=args.token) as client:
        if args.server_dataset:
            job = client.start_training(
                preset="fmnist-small",
                dataset=args.server_dataset,
                overrides=[f"epochs={args.augmenter_epochs}"],
                model_name=args.model,
            )
        else:
            job = client.start_training(
                config_toml=SYNTHETIC_RUN.format(epochs=args.augmenter_epochs), model_name=args.model
            )
        print(f"training augmenter {args.model!r} on the server: {job.id}")

        def show(event: object) -> None:
            if isinstance(event, EpochRecord):
                # val_acc is absent for runs without a validation split (data.val_ratio = 0).
                val = f"{event.val_acc:.1f} %" if event.HasField("val_acc") else "-"
                print(f"  augmenter epoch {event.epoch}: val acc {val}, {event.seconds:.1f} s")

        final = client.wait(job.id, on_event=show)
        if state_name(final.state) != "SUCCEEDED":
            sys.exit(f"{job.id} {state_name(final.state)}: {final.failure_reason}")
        print(f"published {', '.join(final.published)}")


def classifier() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip


def standardize(images: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255.0 - MEAN) / STD


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        logits = torch.cat(
            [model(standardize(torch.from_numpy(images[i : i + 500]))) for i in range(0, len(images), 500)]
        )
    return 100.0 * float((logits.argmax(1).numpy() == labels).mean())


def train_classifier(
    args: argparse.Namespace,
    augmenter: RemoteAugmenter,
    xtr: np.ndarray,
    ytr: np.ndarray,
    xte: np.ndarray,
    yte: np.ndarray,
) -> nn.Module:
    """Trains the classifier on augmented batches, printing the test accuracy of each epoch."""
    model = classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr)), batch_size=args.batch_size, shuffle=True
    )
    for epoch in range(args.epochs):
        model.train()
        started, losses = time.monotonic(), []
        # One AugmentStream per epoch: batches go out while earlier ones are augmented.
        seed = (args.seed + epoch) * 1_000_003
        batches = loader if args.no_augment else augment_batches(augmenter, loader, copies=args.copies, seed=seed)
        for images, labels in batches:
            loss = nn.functional.cross_entropy(model(standardize(images)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(
            f"epoch {epoch}: loss {np.mean(losses):.4f}, test acc {accuracy(model, xte, yte):.2f} %, "
            f"{time.monotonic() - started:.1f} s"
        )
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--url", default=os.environ.get("AUGMENTD_URL", "http://127.0.0.1:50051"), help="augmentd (env AUGMENTD_URL)"
    )
    parser.add_argument("--token", default=os.environ.get("AUGMENTD_TOKEN"), help="bearer token (env AUGMENTD_TOKEN)")
    parser.add_argument("--model", default="fmnist", help="the server's 1-channel augmenter (default fmnist)")
    parser.add_argument("--train-augmenter", action="store_true", help="first train --model on the server")
    parser.add_argument(
        "--server-dataset", default="", help="with --train-augmenter: a dataset name in the server's data dir"
    )
    parser.add_argument("--augmenter-epochs", type=int, default=2)
    parser.add_argument("--data", type=Path, help=f"Fashion-MNIST folder (default: dpkg -L, then {DEFAULT_DATA})")
    parser.add_argument("--synthetic", action="store_true", help="use synthetic data even if Fashion-MNIST is there")
    parser.add_argument("--train-size", type=int, default=2000, help="training images (default 2000)")
    parser.add_argument("--test-size", type=int, default=2000, help="test images (default 2000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--copies", type=int, default=1, help="augmented copies of each image per batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true", help="train on the plain images (a baseline to compare)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte, described = load(args)
    print(f"data: {described}: {len(xtr)} training, {len(xte)} test images")
    try:
        if args.train_augmenter:
            train_augmenter(args)
        with RemoteAugmenter(args.url, token=args.token, model=args.model) as augmenter:
            model = train_classifier(args, augmenter, xtr, ytr, xte, yte)
    except AugmentdError as error:
        hint = (
            " (start with --train-augmenter to train one)"
            if error.code_name in ("NOT_FOUND", "FAILED_PRECONDITION")
            else ""
        )
        sys.exit(f"augmentd at {args.url}: {error}{hint}")
    print(f"test accuracy: {accuracy(model, xte, yte):.2f} %")


if __name__ == "__main__":
    main()
