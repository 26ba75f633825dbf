"""Retries with backoff for calls refused with UNAVAILABLE or RESOURCE_EXHAUSTED.

augmentd answers a full augment queue with RESOURCE_EXHAUSTED and says when to come back: the
`retry-after-ms` and `grpc-retry-pushback-ms` trailing metadata, and the message text
("...; retry after 40 ms"). A `RetryPolicy` waits that long (plus a little jitter, so that
shed clients do not all return at once); without a hint it backs off exponentially. A
negative pushback means "do not retry" (the gRPC convention). Sleeps go through an
injectable `sleep`, and every retry is counted in `RetryStats` and reported to `on_retry`.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import grpc

from .errors import error_from_rpc, rpc_status

T = TypeVar("T")

#: Trailing metadata keys carrying the server's retry hint in milliseconds, in order of preference.
RETRY_HINT_KEYS: tuple[str, ...] = ("retry-after-ms", "grpc-retry-pushback-ms")
_RETRY_HINT_TEXT = re.compile(r"retry after (\d+(?:\.\d+)?) ?ms")

DEFAULT_RETRY_CODES: frozenset[grpc.StatusCode] = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
)


def retry_hint_seconds(metadata: Iterable[tuple[str, object]] | None, message: str = "") -> float | None:
    """The server's retry hint in seconds: from the metadata (`retry-after-ms`, then
    `grpc-retry-pushback-ms`), else from the message ("retry after 40 ms"), else None.
    A negative value (pushback meaning "do not retry") is returned as is."""
    values = {}
    for key, value in metadata or ():
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        values[str(key).lower()] = str(value).strip()
    for key in RETRY_HINT_KEYS:
        if key in values:
            try:
                return int(values[key]) / 1000.0
            except ValueError:
                continue  # unparseable: try the next source
    match = _RETRY_HINT_TEXT.search(message)
    if match:
        return float(match.group(1)) / 1000.0
    return None


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen (what `RetryPolicy.on_retry` receives)."""

    #: The RPC, e.g. `augmentd.v1.Augmenter/Augment`.
    method: str
    #: The attempt that failed (1 for the first call).
    attempt: int
    #: Its status code.
    code: grpc.StatusCode
    #: Its status message.
    message: str
    #: The server's hint in seconds, if it sent one.
    hint: float | None
    #: How long the client sleeps before the next attempt.
    delay: float


class RetryStats:
    """Thread-safe counts of the retries a connection made, by status code name. A copy sent
    to another process (a DataLoader worker) starts from zero there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_code: Counter[str] = Counter()

    def record(self, code: grpc.StatusCode) -> None:
        """Counts one retry after `code`."""
        with self._lock:
            self._by_code[str(code.name)] += 1

    @property
    def total(self) -> int:
        """Retries so far."""
        with self._lock:
            return sum(self._by_code.values())

    def by_code(self) -> dict[str, int]:
        """Retries so far per code name (`RESOURCE_EXHAUSTED`, `UNAVAILABLE`)."""
        with self._lock:
            return dict(self._by_code)

    def __reduce__(self) -> tuple[type[RetryStats], tuple[()]]:
        return (RetryStats, ())

    def __repr__(self) -> str:
        return f"RetryStats({self.by_code()})"


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a refused call again.

    The delay before attempt n+1 is the server's hint when it sent one, otherwise
    `initial_backoff * multiplier**(n-1)` capped at `max_backoff`; either way multiplied by
    `1 + jitter * random()`. `max_attempts` counts the first call (1 disables retries).
    """

    max_attempts: int = 8
    initial_backoff: float = 0.05
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    retry_codes: frozenset[grpc.StatusCode] = DEFAULT_RETRY_CODES
    #: Called with the delay in seconds (inject a fake in tests).
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    #: A uniform draw in [0, 1) for the jitter.
    random: Callable[[], float] = field(default=random.random, compare=False)
    #: Told about every retry before its sleep (logging, metrics).
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: must be at least 1, got {self.max_attempts}")
        for name in ("initial_backoff", "max_backoff", "jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative, got {getattr(self, name)}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier: must be at least 1, got {self.multiplier}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries: every refusal is raised at once."""
        return cls(max_attempts=1)

    def delay(self, attempt: int, hint: float | None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based), given the server's hint."""
        if hint is not None:
            base = hint
        else:
            base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return base * (1.0 + self.jitter * self.random())

    def should_retry(self, code: grpc.StatusCode, attempt: int, hint: float | None) -> bool:
        """Whether a call that failed with `code` on attempt `attempt` is sent again."""
        if attempt >= self.max_attempts or code not in self.retry_codes:
            return False
        return hint is None or hint >= 0


def call_with_retry(
    method: str,
    call: Callable[[], T],
    policy: RetryPolicy,
    stats: RetryStats | None = None,
) -> T:
    """Runs `call` (one RPC attempt), retrying as `policy` says; raises the `AugmentdError`
    of the last failure."""
    attempt = 1
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            code, message = rpc_status(error)
            trailing: Sequence[tuple[str, object]] = ()
            if isinstance(error, grpc.Call):
                trailing = error.trailing_metadata() or ()
            hint = retry_hint_seconds(trailing, message)
            if not policy.should_retry(code, attempt, hint):
                raise error_from_rpc(error, method=method, retry_after=hint, attempts=attempt) from None
            delay = policy.delay(attempt, hint)
            if stats is not None:
                stats.record(code)
            if policy.on_retry is not None:
                policy.on_retry(RetryEvent(method, attempt, code, message, hint, delay))
            policy.sleep(delay)
            attempt += 1
