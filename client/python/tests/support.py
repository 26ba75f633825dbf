"""What the tests share: an `augmentd serve` process on 127.0.0.1:0 (started from the built
binary, address parsed from its start-up line, stopped with SIGTERM), the synthetic training
configuration of the Rust tests (tests/common/mod.rs), and deterministic pixels.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "augmentd"
TLS_DIR = REPO_ROOT / "tests" / "fixtures" / "tls"
READY_LINE = re.compile(r"augmentd: serving gRPC on (https?)://(\S+?)(?:, metrics on http://(\S+)/metrics)?$")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def augmentd_binary() -> Path:
    """The server binary: $AUGMENTD_BIN, or target/debug/augmentd of this checkout."""
    path = Path(os.environ.get("AUGMENTD_BIN", DEFAULT_BIN))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"augmentd binary not found at {path}: run `make build` in {REPO_ROOT} "
            "(or point AUGMENTD_BIN at a built augmentd)"
        )
    return path


class ServerProcess:
    """`augmentd serve` on 127.0.0.1:0 with its own state and data dirs under `workdir`."""

    def __init__(self, workdir: Path, extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        state, data = workdir / "state", workdir / "data"
        state.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        self.stderr_path = workdir / "stderr.log"
        self._stderr: IO[bytes] = open(self.stderr_path, "wb")
        args = [
            str(augmentd_binary()),
            "serve",
            "--listen", "127.0.0.1:0",
            "--metrics-listen", "127.0.0.1:0",
            "--state-dir", str(state),
            "--data-dir", str(data),
            "--device", "cpu",
            "--drain-timeout-secs", "20",
            *extra_args,
        ]  # fmt: skip
        clean_env = {k: v for k, v in os.environ.items() if not k.startswith("AUGMENTD_")}
        clean_env.update(env or {})
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr, env=clean_env)
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stdout, name="augmentd-stdout", daemon=True).start()
        self.scheme, self.address, self.metrics_address = self._wait_ready()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stderr_text(self) -> str:
        """What the server wrote on stderr so far."""
        self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def _wait_ready(self) -> tuple[str, str, str | None]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.process.kill()
                raise TimeoutError(
                    f"augmentd did not print its address within {START_TIMEOUT_S} s:\n{self.stderr_text()}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait(timeout=STOP_TIMEOUT_S)
                raise RuntimeError(f"augmentd exited with {code} before serving:\n{self.stderr_text()}")
            match = READY_LINE.search(line)
            if match:
                return match.group(1), match.group(2), match.group(3)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (or https)."""
        return f"{self.scheme}://{self.address}"

    @property
    def port(self) -> int:
        """The gRPC port."""
        return int(self.address.rsplit(":", 1)[1])

    def stop(self) -> int:
        """SIGTERM, then the exit code (the server drains and exits 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            self._stderr.close()
        return code


SYNTHETIC_PRESET = "synthetic-smoke"


def synthetic_job(mode: str, epochs: int, seed: int, channels: int = 1, side: int = 16) -> dict[str, str]:
    """A tiny synthetic run: the server's `synthetic-smoke` preset (4 classes of 1x16x16
    gratings, small-cnn; what the Rust tests refine) with its own mode, epochs, seed and image
    size, as the `preset` and `config_toml` arguments of `Client.start_training`."""
    images = f"{{ classes = 4, per_class = 24, channels = {channels}, side = {side} }}"
    return {
        "preset": SYNTHETIC_PRESET,
        "config_toml": f'seed = {seed}\nepochs = {epochs}\n[data]\nsynthetic = {images}\n[augment]\nmode = "{mode}"\n',
    }


def pixels(shape: Sequence[int], seed: int) -> np.ndarray:
    """Deterministic uint8 pixels of `shape`."""
    return np.random.default_rng(seed).integers(0, 256, size=tuple(shape), dtype=np.uint8)
