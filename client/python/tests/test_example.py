"""examples/train_with_augmentd.py runs end to end against a real server on synthetic data
(tiny sizes): it trains an augmenter on the server, trains its classifier on augmented batches
and prints the test accuracy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import ServerProcess

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_with_augmentd.py"


def test_the_example_trains_and_prints_its_test_accuracy(server: ServerProcess) -> None:
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE.parents[1] / "src"), "AUGMENTD_URL": server.url}
    env.pop("AUGMENTD_TOKEN", None)
    args = [
        sys.executable, str(EXAMPLE), "--synthetic", "--train-size", "256", "--test-size", "128", "--epochs", "1",
        "--train-augmenter", "--augmenter-epochs", "1", "--model", "example", "--copies", "2",
    ]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "data: synthetic gratings: 256 training, 128 test images" in done.stdout
    assert "published example@1" in done.stdout
    match = re.search(r"^test accuracy: (\d+\.\d\d) %$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    assert 0.0 <= float(match.group(1)) <= 100.0
