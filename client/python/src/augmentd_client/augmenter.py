"""`RemoteAugmenter`: augments image batches with a model served by augmentd.

    augmenter = RemoteAugmenter("http://127.0.0.1:50051", token="s3cret", model="cifar")
    out = augmenter.augment(images, seed=7, copies=2)   # same type, dtype, layout, device

Unary calls refused with RESOURCE_EXHAUSTED (a full queue) or UNAVAILABLE are retried as the
`RetryPolicy` says, honouring the server's retry hint; `stream` sends many batches over one
AugmentStream call (back-pressure instead of refusals) for throughput.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .connection import Connection, TlsOptions
from .errors import invalid_input
from .health import check_health
from .options import AugmentOptions, AugmentResult, raw_of_response, result_of_response
from .retry import RetryPolicy, RetryStats
from .streaming import AugmentStream
from .tensors import (
    DTYPES,
    LAYOUTS,
    Images,
    RawBatch,
    as_shape,
    decode,
    encode,
    normalize_layout,
)

AUGMENT_METHOD = "augmentd.v1.Augmenter/Augment"


class RemoteAugmenter:
    """Augments batches with an augmentd model.

    Args:
        url: `http://host:port` or `https://host:port`, or an open `Connection` to share.
        token: bearer token (scope `augment` or `admin`), when the server wants one.
        tls: TLS files for an https URL.
        model: `name`, `name@version` or "" (the server's default model).
        layout: `auto` (the dimension of size 1 or 3 is the channels), `NCHW` or `NHWC`.
        sampling: `train` (dropout on, as during training; the default) or `eval`.
        standardized: float batches hold values standardized with the model's mean/std.
        learned_only: apply the learned transform only, not the hand-crafted base the model was
            learned on top of (its `base`), when the job's own pipeline already applies it.
        timeout: seconds each call attempt may take (None: no limit).
        retry: the policy for RESOURCE_EXHAUSTED / UNAVAILABLE (`RetryPolicy.disabled()` to
            raise at once).
    """

    def __init__(
        self,
        url: str | Connection,
        token: str | None = None,
        tls: TlsOptions | None = None,
        *,
        model: str = "",
        layout: str = "auto",
        sampling: str = "train",
        standardized: bool = False,
        learned_only: bool = False,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if isinstance(url, Connection):
            if token is not None or tls is not None or timeout is not None or retry is not None:
                raise invalid_input("url", "pass token, tls, timeout and retry to the Connection, not with one")
            self.connection = url
        else:
            self.connection = Connection(url, token, tls, timeout=timeout, retry=retry)
        self.model = model
        self.layout = normalize_layout(layout)
        self.sampling = sampling
        self.standardized = standardized
        self.learned_only = learned_only
        self._options(None, 1, None, None, None, False)  # validates the defaults now

    @property
    def retry_stats(self) -> RetryStats:
        """How many calls were retried, by code."""
        return self.connection.retry_stats

    def _options(
        self,
        seed: int | None,
        copies: int,
        model: str | None,
        sampling: str | None,
        standardized: bool | None,
        return_params: bool,
    ) -> AugmentOptions:
        return AugmentOptions(
            model=self.model if model is None else model,
            seed=seed,
            copies=copies,
            sampling=self.sampling if sampling is None else sampling,
            standardized=self.standardized if standardized is None else standardized,
            return_params=return_params,
            learned_only=self.learned_only,
        )

    def augment_raw(
        self,
        batch: RawBatch,
        seed: int | None = None,
        copies: int = 1,
        *,
        model: str | None = None,
        sampling: str | None = None,
        standardized: bool | None = None,
        return_params: bool = False,
    ) -> AugmentResult[RawBatch]:
        """Augments a batch already in the API's format (bytes + dtype + layout + shape); the
        server checks it (a byte count that does not match the shape is INVALID_ARGUMENT)."""
        if batch.dtype not in DTYPES:
            raise invalid_input("dtype", f"{batch.dtype!r}: expected one of {sorted(DTYPES)}")
        if batch.layout not in LAYOUTS:
            raise invalid_input("layout", f"{batch.layout!r}: expected 'NCHW' or 'NHWC'")
        batch = RawBatch(bytes(batch.data), batch.dtype, batch.layout, as_shape(batch.shape))
        options = self._options(seed, copies, model, sampling, standardized, return_params)
        response = self.connection.call(AUGMENT_METHOD, self.connection.augmenter.Augment, options.request(batch))
        return result_of_response(response, raw_of_response(response))

    def augment_with_info(
        self,
        batch: Images,
        seed: int | None = None,
        copies: int = 1,
        *,
        model: str | None = None,
        layout: str | None = None,
        sampling: str | None = None,
        standardized: bool | None = None,
        return_params: bool = False,
    ) -> AugmentResult[Any]:
        """Like `augment`, with the model version, the seed used and (with `return_params`)
        each output image's transformation parameters."""
        raw, spec = encode(batch, self.layout if layout is None else layout)
        result = self.augment_raw(
            raw, seed, copies, model=model, sampling=sampling, standardized=standardized, return_params=return_params
        )
        return AugmentResult(
            images=decode(result.images, spec),
            model_name=result.model_name,
            model_version=result.model_version,
            seed=result.seed,
            param_names=result.param_names,
            params=result.params,
        )

    def augment(
        self,
        batch: Images,
        seed: int | None = None,
        copies: int = 1,
        *,
        model: str | None = None,
        layout: str | None = None,
        sampling: str | None = None,
        standardized: bool | None = None,
    ) -> Any:
        """Augments a 4-D batch (numpy array or torch tensor; uint8, float32 or float16; NCHW or
        NHWC) and returns the augmented batch of the same type, dtype, layout and device, with
        `copies` augmented copies per image (copies of image i are rows i*copies..i*copies+copies-1).

        uint8 holds pixels 0..255; float pixels are in 0..1 (or standardized values with
        `standardized=True`). The same batch, seed and model version give the same output.
        """
        return self.augment_with_info(
            batch, seed, copies, model=model, layout=layout, sampling=sampling, standardized=standardized
        ).images

    def stream(
        self,
        batches: Iterable[Images],
        seed: int | None = None,
        copies: int = 1,
        *,
        model: str | None = None,
        layout: str | None = None,
        sampling: str | None = None,
        standardized: bool | None = None,
        return_params: bool = False,
    ) -> AugmentStream:
        """Augments `batches` over one AugmentStream call: an iterator of the augmented batches,
        in order, each in the form of its input. With a `seed`, batch i uses `seed + i`.
        Close it (or use it as a context manager) to stop early."""
        options = self._options(seed, copies, model, sampling, standardized, return_params)
        return AugmentStream(self.connection, batches, options, self.layout if layout is None else layout)

    def health(self, service: str = "augmentd.v1.Augmenter") -> str:
        """The server's health for `service` ("" for the whole server): `SERVING` or
        `NOT_SERVING` (shutting down); `NotFoundError` for a service the server does not have."""
        return check_health(self.connection, service)

    def close(self) -> None:
        """Closes the connection (a later call opens it again)."""
        self.connection.close()

    def __enter__(self) -> RemoteAugmenter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteAugmenter({self.connection.url!r}, model={self.model!r})"
