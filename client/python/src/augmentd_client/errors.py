"""The exceptions of augmentd_client: every failure is an `AugmentdError` carrying the gRPC
status code and the server's message, raised as the subclass of its code
(`InvalidArgumentError`, `ResourceExhaustedError`, ...), so callers can catch exactly what they
handle. `str(error)` reads `INVALID_ARGUMENT: shape: dimension 0 is 0, ...`, like augmentctl.

Input the client refuses before sending (a 3-D array, a float64 batch, copies=0) raises
`InvalidArgumentError` too, with `from_server` False; it is also a `ValueError`.
"""

from __future__ import annotations

import grpc


class AugmentdError(Exception):
    """A failed augmentd call (or input refused before the call).

    Attributes:
        code: the gRPC status code.
        message: the status message (the server's words, naming the field at fault).
        method: the RPC (`augmentd.v1.Augmenter/Augment`), or None for local checks.
        retry_after: the server's retry hint in seconds (RESOURCE_EXHAUSTED), else None.
        attempts: how many times the call was sent (retries included).
        from_server: False when the client refused the input before sending it.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        method: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        from_server: bool = True,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.method = method
        self.retry_after = retry_after
        self.attempts = attempts
        self.from_server = from_server

    @property
    def code_name(self) -> str:
        """The code as gRPC spells it: `INVALID_ARGUMENT`, `NOT_FOUND`, ..."""
        return str(self.code.name)


class InvalidArgumentError(AugmentdError, ValueError):
    """INVALID_ARGUMENT: a malformed batch, model reference or run configuration."""


class NotFoundError(AugmentdError, LookupError):
    """NOT_FOUND: an unknown model, version, job or dataset."""


class FailedPreconditionError(AugmentdError):
    """FAILED_PRECONDITION: no model to serve yet; deleting an active version without force."""


class PermissionDeniedError(AugmentdError):
    """PERMISSION_DENIED: a token without the scope; a dataset name leaving the data dir."""


class UnauthenticatedError(AugmentdError):
    """UNAUTHENTICATED: no token, a malformed header or an unknown token."""


class ResourceExhaustedError(AugmentdError):
    """RESOURCE_EXHAUSTED: the augment queue is full (see `retry_after`)."""


class DeadlineExceededError(AugmentdError, TimeoutError):
    """DEADLINE_EXCEEDED: the call's timeout passed."""


class UnavailableError(AugmentdError, ConnectionError):
    """UNAVAILABLE: the server is unreachable or shutting down."""


class InternalError(AugmentdError):
    """INTERNAL (or another server-side failure): the request failed, the server goes on."""


class DataLossError(InternalError):
    """DATA_LOSS: a file the server stores (a model's weights or description, the registry, a
    checkpoint) is damaged or not in its format; the message names the file."""


class CancelledError(AugmentdError):
    """CANCELLED: the call was cancelled (by this client, e.g. a closed stream)."""


_ERROR_CLASSES: dict[grpc.StatusCode, type[AugmentdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.CANCELLED: CancelledError,
}


def error_for_code(
    code: grpc.StatusCode,
    message: str,
    *,
    method: str | None = None,
    retry_after: float | None = None,
    attempts: int = 1,
    from_server: bool = True,
) -> AugmentdError:
    """The exception of `code` (its subclass when there is one)."""
    cls = _ERROR_CLASSES.get(code, AugmentdError)
    return cls(
        code,
        message,
        method=method,
        retry_after=retry_after,
        attempts=attempts,
        from_server=from_server,
    )


def invalid_input(field: str, problem: str) -> InvalidArgumentError:
    """An input refused before sending: `InvalidArgumentError("field: problem")`."""
    return InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {problem}", from_server=False)


def rpc_status(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """The code and message of a failed call (`grpc.RpcError` raised by a stub)."""
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else None
    if not isinstance(code, grpc.StatusCode):
        return grpc.StatusCode.UNKNOWN, str(error)
    return code, details or ""


def error_from_rpc(
    error: grpc.RpcError,
    *,
    method: str,
    retry_after: float | None = None,
    attempts: int = 1,
) -> AugmentdError:
    """The `AugmentdError` of a failed call."""
    code, message = rpc_status(error)
    return error_for_code(code, message, method=method, retry_after=retry_after, attempts=attempts)
