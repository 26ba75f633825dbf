"""Fixtures: one real augmentd server for the session (with a trained 3-channel 16x16
`affine_color` model, "colour"), a client of it, and `start_server` for tests that need a
server of their own (small queue, TLS and tokens). Every server is stopped with SIGTERM and must
exit 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Callable

import pytest
from support import ServerProcess, augmentd_binary, synthetic_job

from augmentd_client import Client, RemoteAugmenter, state_name

#: The session model: 3 channels, 16x16, affine_color.
COLOUR_SIDE = 16


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerProcess]]:
    """Starts servers on demand (`start_server(extra_args, env)`); stops them all at the end
    and checks they exit 0."""
    try:
        augmentd_binary()
    except FileNotFoundError as e:
        pytest.fail(str(e), pytrace=False)
    started: list[ServerProcess] = []

    def start(extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(tmp_path_factory.mktemp("augmentd"), extra_args, env)
        started.append(server)
        return server

    yield start
    failures = []
    for server in started:
        code = server.stop()
        if code != 0:
            failures.append(f"{server.url} exited with {code}:\n{server.stderr_text()}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """The shared server (2 augment workers, CPU)."""
    return start_server(["--workers", "2"])


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[Client]:
    """A client of the shared server."""
    with Client(server.url, timeout=60) as client:
        yield client


def train(
    client: Client, name: str, channels: int, side: int, *, epochs: int = 1, seed: int = 1, mode: str = "affine_color"
) -> str:
    """Trains a synthetic model to the end and returns its published `name@version`."""
    job = client.start_training(**synthetic_job(mode, epochs, seed, channels, side), model_name=name)
    final = client.wait(job.id, timeout=300)
    assert state_name(final.state) == "SUCCEEDED", final.failure_reason
    assert final.published, "a finished learned-mode job publishes its model"
    return str(final.published[-1])


@pytest.fixture(scope="session")
def colour_model(client: Client) -> str:
    """`colour@N`: a 3-channel 16x16 affine_color model on the shared server."""
    return train(client, "colour", 3, COLOUR_SIDE)


@pytest.fixture()
def augmenter(server: ServerProcess, colour_model: str) -> Iterator[RemoteAugmenter]:
    """A RemoteAugmenter of the colour model."""
    with RemoteAugmenter(server.url, model=colour_model, timeout=60) as augmenter:
        yield augmenter
