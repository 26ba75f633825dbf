"""`AugmentStream`: many batches over one AugmentStream call, for throughput.

An iterator of batches goes in (arrays, tensors, or `RawBatch`es), an iterator of augmented
batches comes out, in order, each in the form of its input. gRPC reads the input on its own
thread as flow control allows, so a lazy input (a DataLoader) is consumed while earlier batches
are being augmented; the server pipelines a few batches and applies back-pressure instead of
refusing. A stream is not retried: the first failure ends it with its `AugmentdError`, after
every earlier result. An exception raised by the input iterator (or by converting one of its
batches) ends the stream too, and is re-raised, unchanged, in place of the missing results.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from ._proto import augmenter_pb2
from .errors import AugmentdError, CancelledError, error_for_code, error_from_rpc
from .options import (
    AugmentOptions,
    AugmentResult,
    raw_of_response,
    result_of_response,
    stream_seed,
)
from .tensors import BatchSpec, Images, RawBatch, decode, encode

if TYPE_CHECKING:
    from .connection import Connection

STREAM_METHOD = "augmentd.v1.Augmenter/AugmentStream"


class AugmentStream(Iterator[Any]):
    """The augmented batches of a stream, in input order (made by `RemoteAugmenter.stream`).

    Iterating yields the images; `results()` yields `AugmentResult`s (model version, seed,
    parameters) instead. `close()` cancels the call.
    """

    def __init__(self, connection: Connection, batches: Iterable[Images], options: AugmentOptions, layout: str) -> None:
        self._connection = connection
        self._batches = batches
        self._options = options
        self._layout = layout
        # (request index, how to decode) of requests sent and not yet answered, in order.
        self._pending: collections.deque[tuple[int, BatchSpec | None]] = collections.deque()
        self._input_error: BaseException | None = None
        self._lock = threading.Lock()
        self._call: Any = None
        self._responses: Iterator[augmenter_pb2.AugmentResponse] | None = None
        self._received = 0
        self._closed = False

    def _requests(self) -> Iterator[augmenter_pb2.AugmentRequest]:
        """The request iterator gRPC consumes (on its own thread)."""
        try:
            for index, batch in enumerate(self._batches):
                if self._closed:
                    return  # closed by the reader: stop pulling from the input
                if isinstance(batch, RawBatch):
                    raw, spec = batch, None
                else:
                    try:
                        raw, spec = encode(batch, self._layout)
                    except AugmentdError as error:
                        raise error_for_code(
                            error.code, f"batch {index} of the stream: {error.message}", from_server=False
                        ) from None
                request = self._options.request(raw, seed=stream_seed(self._options.seed, index), request_id=str(index))
                self._pending.append((index, spec))
                yield request
        except GeneratorExit:
            # gRPC closes the request iterator once the call has ended (a server error, a
            # cancel): not an input error, and the reader must see the call's own status.
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the reader, not swallowed
            with self._lock:
                self._input_error = error
            # Ending the request stream makes the server finish the earlier batches and close.

    def _start(self) -> Iterator[augmenter_pb2.AugmentResponse]:
        if self._responses is None:
            if self._closed:
                raise CancelledError(
                    grpc.StatusCode.CANCELLED, "stream: closed", method=STREAM_METHOD, from_server=False
                )
            self._call = self._connection.augmenter.AugmentStream(self._requests(), metadata=self._connection.metadata)
            self._responses = self._call
        return self._responses

    def _next_result(self) -> AugmentResult[Any]:
        responses = self._start()
        try:
            response = next(responses)
        except StopIteration:
            with self._lock:
                error = self._input_error
            if error is not None:
                self._input_error = None
                raise error from None
            if self._pending:
                raise error_for_code(
                    grpc.StatusCode.INTERNAL,
                    f"stream: the server closed the stream with {len(self._pending)} batches unanswered",
                    method=STREAM_METHOD,
                ) from None
            raise
        except grpc.RpcError as rpc_error:
            with self._lock:
                error = self._input_error
            if error is not None:
                raise error from None
            raise error_from_rpc(rpc_error, method=STREAM_METHOD) from None
        index, spec = self._pending.popleft()
        if response.request_id != str(index):
            raise error_for_code(
                grpc.StatusCode.INTERNAL,
                f"stream: response for request {response.request_id!r} arrived where request {index} was expected",
                method=STREAM_METHOD,
            )
        self._received += 1
        raw = raw_of_response(response)
        images = raw if spec is None else decode(raw, spec)
        return result_of_response(response, images)

    def __next__(self) -> Any:
        return self._next_result().images

    def results(self) -> Iterator[AugmentResult[Any]]:
        """The remaining results with their model version, seed and parameters."""
        while True:
            try:
                yield self._next_result()
            except StopIteration:
                return

    @property
    def received(self) -> int:
        """Results delivered so far."""
        return self._received

    def close(self) -> None:
        """Cancels the call (results not yet delivered are dropped)."""
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    def __enter__(self) -> AugmentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
