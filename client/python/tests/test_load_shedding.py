"""Retries against a real server that sheds load: `--workers 1 --queue-depth 1` and eight
threads sending at once. With retries every call ends with an answer and the retries (counted
by RetryStats and seen by on_retry) waited at least the server's hint; without them the
refusals surface as ResourceExhaustedError carrying that hint."""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import pytest
from conftest import train
from support import ServerProcess, pixels

from augmentd_client import (
    Client,
    RemoteAugmenter,
    ResourceExhaustedError,
    RetryEvent,
    RetryPolicy,
)

THREADS = 8
CALLS_PER_THREAD = 4
BATCH = pixels((64, 3, 32, 32), seed=3)


@pytest.fixture(scope="module")
def small_queue_server(start_server: Callable[..., ServerProcess]) -> tuple[ServerProcess, str]:
    server = start_server(["--workers", "1", "--queue-depth", "1"])
    with Client(server.url, timeout=60) as client:
        model = train(client, "shed", 3, 16, seed=2)
    return server, model


def hammer(augmenter: RemoteAugmenter) -> list[object]:
    """Every thread sends CALLS_PER_THREAD batches at once; the outcomes (arrays or errors)."""
    outcomes: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker() -> None:
        start.wait()
        for _ in range(CALLS_PER_THREAD):
            try:
                outcome: object = augmenter.augment(BATCH)
            except Exception as error:  # noqa: BLE001 - collected and asserted on below
                outcome = error
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    return outcomes


def test_with_retries_every_call_succeeds_after_waiting_the_hint(small_queue_server: tuple[ServerProcess, str]) -> None:
    server, model = small_queue_server
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_attempts=1000, on_retry=events.append)
    with RemoteAugmenter(server.url, model=model, retry=policy) as augmenter:
        outcomes = hammer(augmenter)
        assert len(outcomes) == THREADS * CALLS_PER_THREAD
        failures = [o for o in outcomes if not isinstance(o, np.ndarray)]
        assert not failures, failures[:3]
        assert all(o.shape == BATCH.shape and o.dtype == np.uint8 for o in outcomes)  # type: ignore[union-attr]
        stats = augmenter.retry_stats.by_code()
        assert stats.get("RESOURCE_EXHAUSTED", 0) > 0, "a queue of 1 with 8 threads sheds load"
        assert augmenter.retry_stats.total == len(events)
    assert all(e.hint is not None and e.hint > 0 for e in events if e.code.name == "RESOURCE_EXHAUSTED")
    assert all(e.delay >= e.hint for e in events if e.hint is not None)  # type: ignore[operator]
    assert all("retry after" in e.message for e in events if e.code.name == "RESOURCE_EXHAUSTED")


def test_without_retries_the_refusal_is_raised_with_the_hint(small_queue_server: tuple[ServerProcess, str]) -> None:
    server, model = small_queue_server
    refused: list[ResourceExhaustedError] = []
    deadline = time.monotonic() + 60
    with RemoteAugmenter(server.url, model=model, retry=RetryPolicy.disabled()) as augmenter:
        while not refused and time.monotonic() < deadline:
            outcomes = hammer(augmenter)
            others = [o for o in outcomes if not isinstance(o, (np.ndarray, ResourceExhaustedError))]
            assert not others, others[:3]
            refused += [o for o in outcomes if isinstance(o, ResourceExhaustedError)]
        assert augmenter.retry_stats.total == 0
    assert refused, "a queue of 1 with 8 threads sheds load"
    error = refused[0]
    assert error.attempts == 1 and error.retry_after is not None and error.retry_after > 0
    assert error.message.startswith("the augment queue is full") and "retry after" in error.message
    assert str(error).startswith("RESOURCE_EXHAUSTED: ")
