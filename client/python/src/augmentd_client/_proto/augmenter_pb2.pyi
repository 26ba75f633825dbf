from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    DTYPE_UINT8: _ClassVar[DType]
    DTYPE_FLOAT32: _ClassVar[DType]
    DTYPE_FLOAT16: _ClassVar[DType]

class Layout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAYOUT_UNSPECIFIED: _ClassVar[Layout]
    LAYOUT_NCHW: _ClassVar[Layout]
    LAYOUT_NHWC: _ClassVar[Layout]

class Sampling(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLING_UNSPECIFIED: _ClassVar[Sampling]
    SAMPLING_TRAIN: _ClassVar[Sampling]
    SAMPLING_EVAL: _ClassVar[Sampling]
DTYPE_UNSPECIFIED: DType
DTYPE_UINT8: DType
DTYPE_FLOAT32: DType
DTYPE_FLOAT16: DType
LAYOUT_UNSPECIFIED: Layout
LAYOUT_NCHW: Layout
LAYOUT_NHWC: Layout
SAMPLING_UNSPECIFIED: Sampling
SAMPLING_TRAIN: Sampling
SAMPLING_EVAL: Sampling

class AugmentRequest(_message.Message):
    __slots__ = ("model", "data", "dtype", "layout", "shape", "standardized", "seed", "copies", "return_params", "sampling", "request_id", "learned_only")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    STANDARDIZED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    RETURN_PARAMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEARNED_ONLY_FIELD_NUMBER: _ClassVar[int]
    model: str
    data: bytes
    dtype: DType
    layout: Layout
    shape: _containers.RepeatedScalarFieldContainer[int]
    standardized: bool
    seed: int
    copies: int
    return_params: bool
    sampling: Sampling
    request_id: str
    learned_only: bool
    def __init__(self, model: _Optional[str] = ..., data: _Optional[bytes] = ..., dtype: _Optional[_Union[DType, str]] = ..., layout: _Optional[_Union[Layout, str]] = ..., shape: _Optional[_Iterable[int]] = ..., standardized: _Optional[bool] = ..., seed: _Optional[int] = ..., copies: _Optional[int] = ..., return_params: _Optional[bool] = ..., sampling: _Optional[_Union[Sampling, str]] = ..., request_id: _Optional[str] = ..., learned_only: _Optional[bool] = ...) -> None: ...

class AugmentResponse(_message.Message):
    __slots__ = ("data", "dtype", "layout", "shape", "model_name", "model_version", "seed", "param_names", "params", "request_id")
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PARAM_NAMES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    dtype: DType
    layout: Layout
    shape: _containers.RepeatedScalarFieldContainer[int]
    model_name: str
    model_version: int
    seed: int
    param_names: _containers.RepeatedScalarFieldContainer[str]
    params: _containers.RepeatedScalarFieldContainer[float]
    request_id: str
    def __init__(self, data: _Optional[bytes] = ..., dtype: _Optional[_Union[DType, str]] = ..., layout: _Optional[_Union[Layout, str]] = ..., shape: _Optional[_Iterable[int]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., seed: _Optional[int] = ..., param_names: _Optional[_Iterable[str]] = ..., params: _Optional[_Iterable[float]] = ..., request_id: _Optional[str] = ...) -> None: ...
