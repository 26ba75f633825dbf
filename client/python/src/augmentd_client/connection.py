"""One connection to augmentd: the URL (`http://` plain text, `https://` TLS), the TLS files,
the bearer token sent with every call, the per-call timeout and the retry policy.

The gRPC channel is opened lazily and again in a forked or unpickled process (a DataLoader
worker), because a gRPC channel cannot cross a fork. Messages of any size are allowed in both
directions: the server enforces its own limit (and says "split the batch ... or stream").
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar, Union
from urllib.parse import urlsplit

import grpc

from ._proto import augmenter_pb2_grpc, models_pb2_grpc, training_pb2_grpc
from .errors import invalid_input
from .retry import RetryPolicy, RetryStats, call_with_retry

T = TypeVar("T")
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for an `https://` URL. Without `ca_cert` the system's roots are used."""

    #: PEM file of the CA that signed the server's certificate.
    ca_cert: PathLike | None = None
    #: PEM file of the client certificate (mutual TLS, with `client_key`).
    client_cert: PathLike | None = None
    #: PEM file of the client certificate's private key.
    client_key: PathLike | None = None
    #: The name to verify the server's certificate against, when not the URL's host.
    domain: str | None = None


def _read_pem(what: str, path: PathLike | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise invalid_input(f"tls.{what}", f"cannot read {os.fspath(path)!r}: {e.strerror}") from e


def parse_url(url: str) -> tuple[str, bool]:
    """`http://host:port` or `https://host:port` -> (`host:port`, is TLS)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_input("url", f"{url!r}: expected http://host:port or https://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise invalid_input("url", f"{url!r}: expected no path, query or fragment after host:port")
    host, port = parts.hostname, parts.port if parts.port else (443 if parts.scheme == "https" else 80)
    if not host:
        raise invalid_input("url", f"{url!r}: no host")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}", parts.scheme == "https"


def check_token(token: str | None) -> str | None:
    """The token, trimmed; refuses an empty one or one that is not visible ASCII."""
    if token is None:
        return None
    trimmed = token.strip()
    if not trimmed or not all(33 <= ord(c) <= 126 for c in trimmed):
        raise invalid_input("token", "must be non-empty visible ASCII (no spaces or control characters)")
    return trimmed


class Connection:
    """A channel to one augmentd server, shared by `RemoteAugmenter`, `Client` and streams.

    Args:
        url: `http://host:port` or `https://host:port`.
        token: bearer token sent as `authorization: Bearer <token>` (None: none sent).
        tls: TLS files for an https URL (None with https: the system's roots).
        timeout: seconds each unary call attempt may take (None: no limit).
        retry: the retry policy of calls refused with UNAVAILABLE or RESOURCE_EXHAUSTED.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        tls: TlsOptions | None = None,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = url.strip()
        self.target, self.secure = parse_url(self.url)
        if tls is not None and not self.secure:
            raise invalid_input("tls", f"TLS options need an https:// URL, got {self.url!r}")
        if timeout is not None and not timeout > 0:
            raise invalid_input("timeout", f"must be a positive number of seconds, got {timeout}")
        self.tls = tls
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.retry_stats = RetryStats()
        self._token = check_token(token)
        self._credentials = self._channel_credentials() if self.secure else None
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._pid = -1
        self._stubs: dict[str, Any] = {}

    def _channel_credentials(self) -> grpc.ChannelCredentials:
        tls = self.tls or TlsOptions()
        if (tls.client_cert is None) != (tls.client_key is None):
            raise invalid_input("tls", "mutual TLS needs both client_cert and client_key")
        return grpc.ssl_channel_credentials(
            root_certificates=_read_pem("ca_cert", tls.ca_cert),
            private_key=_read_pem("client_key", tls.client_key),
            certificate_chain=_read_pem("client_cert", tls.client_cert),
        )

    def _options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
            ("grpc.primary_user_agent", "augmentd-client-python"),
        ]
        if self.tls is not None and self.tls.domain:
            options.append(("grpc.ssl_target_name_override", self.tls.domain))
        return options

    @property
    def channel(self) -> grpc.Channel:
        """The gRPC channel of this process (opened on first use)."""
        with self._lock:
            if self._channel is None or self._pid != os.getpid():
                if self._credentials is not None:
                    self._channel = grpc.secure_channel(self.target, self._credentials, self._options())
                else:
                    self._channel = grpc.insecure_channel(self.target, self._options())
                self._pid = os.getpid()
                self._stubs = {}
            return self._channel

    def _stub(self, name: str, factory: Callable[[grpc.Channel], T]) -> T:
        channel = self.channel
        with self._lock:
            stub = self._stubs.get(name)
            if stub is None:
                stub = factory(channel)
                self._stubs[name] = stub
            return stub

    @property
    def augmenter(self) -> augmenter_pb2_grpc.AugmenterStub:
        """The generated Augmenter stub."""
        return self._stub("augmenter", augmenter_pb2_grpc.AugmenterStub)

    @property
    def training(self) -> training_pb2_grpc.TrainingStub:
        """The generated Training stub."""
        return self._stub("training", training_pb2_grpc.TrainingStub)

    @property
    def models(self) -> models_pb2_grpc.ModelsStub:
        """The generated Models stub."""
        return self._stub("models", models_pb2_grpc.ModelsStub)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata: the bearer token, if any."""
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def call(self, method: str, attempt: Callable[..., T], request: Any, *, retry: bool = True) -> T:
        """Sends a unary `request` with `attempt` (a stub method), with the token and timeout,
        retrying per the policy when `retry` (idempotent calls); failures raise `AugmentdError`."""

        def once() -> T:
            return attempt(request, timeout=self.timeout, metadata=self.metadata)

        policy = self.retry if retry else RetryPolicy.disabled()
        return call_with_retry(method, once, policy, self.retry_stats)

    def close(self) -> None:
        """Closes the channel (a later call opens a new one)."""
        with self._lock:
            if self._channel is not None and self._pid == os.getpid():
                self._channel.close()
            self._channel = None
            self._stubs = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_channel", "_stubs", "_credentials"):
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._channel = None
        self._pid = -1
        self._stubs = {}
        self._credentials = self._channel_credentials() if self.secure else None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Connection({self.url!r}, token={'set' if self._token else None})"
