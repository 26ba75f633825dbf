"""Each gRPC code raises its own exception class; a damaged file on the server (DATA_LOSS) is
its own class and still an `InternalError` for callers written before it existed."""

from __future__ import annotations

import grpc

from augmentd_client import DataLossError, InternalError, NotFoundError
from augmentd_client.errors import error_for_code


def test_data_loss_is_its_own_class_and_still_an_internal_error() -> None:
    error = error_for_code(grpc.StatusCode.DATA_LOSS, "models/m/1/model.json: not a model description")
    assert type(error) is DataLossError
    assert isinstance(error, InternalError)
    assert str(error) == "DATA_LOSS: models/m/1/model.json: not a model description"
    assert type(error_for_code(grpc.StatusCode.INTERNAL, "libtorch: out of memory")) is InternalError
    assert type(error_for_code(grpc.StatusCode.NOT_FOUND, "model 'm' not found")) is NotFoundError
