"""`Client`: the whole API of one augmentd server over one connection: training jobs
(inherited from `TrainingClient`), `models`, health, and `RemoteAugmenter`s sharing the
connection.

    with Client("http://127.0.0.1:50051", token="admin-token") as client:
        job = client.start_training(preset="fmnist-small", dataset="fashion-mnist", model_name="fmnist")
        final = client.wait(job.id)
        augmenter = client.augmenter("fmnist")
"""

from __future__ import annotations

from .augmenter import RemoteAugmenter
from .connection import Connection, TlsOptions
from .health import check_health
from .models import ModelsClient
from .retry import RetryPolicy
from .training import TrainingClient


class Client(TrainingClient):
    """Training, models, health and augmenters of one server.

    Args:
        url: `http://host:port` or `https://host:port`.
        token: bearer token (`admin` scope for training and models).
        tls: TLS files for an https URL.
        timeout: seconds each unary call attempt may take (None: no limit).
        retry: the policy for RESOURCE_EXHAUSTED / UNAVAILABLE on idempotent calls.
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
        super().__init__(Connection(url, token, tls, timeout=timeout, retry=retry))
        #: The Models service: `list`, `get`, `activate`, `delete`.
        self.models = ModelsClient(self.connection)

    def health(self, service: str = "") -> str:
        """The serving status of `service` ("" for the whole server): `SERVING` or
        `NOT_SERVING`; `NotFoundError` for a service the server does not have."""
        return check_health(self.connection, service)

    def augmenter(
        self, model: str = "", *, layout: str = "auto", sampling: str = "train", standardized: bool = False
    ) -> RemoteAugmenter:
        """A `RemoteAugmenter` of `model` sharing this connection (and its retry policy)."""
        return RemoteAugmenter(
            self.connection, model=model, layout=layout, sampling=sampling, standardized=standardized
        )

    def close(self) -> None:
        """Closes the connection."""
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.connection.url!r})"
