from . import models_pb2 as _models_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class StartTrainingRequest(_message.Message):
    __slots__ = ("preset", "config_toml", "overrides", "dataset", "test_dataset", "model_name", "publish_every_epochs", "activate")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TOML_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    TEST_DATASET_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_EVERY_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    preset: str
    config_toml: str
    overrides: _containers.RepeatedScalarFieldContainer[str]
    dataset: str
    test_dataset: str
    model_name: str
    publish_every_epochs: int
    activate: bool
    def __init__(self, preset: _Optional[str] = ..., config_toml: _Optional[str] = ..., overrides: _Optional[_Iterable[str]] = ..., dataset: _Optional[str] = ..., test_dataset: _Optional[str] = ..., model_name: _Optional[str] = ..., publish_every_epochs: _Optional[int] = ..., activate: _Optional[bool] = ...) -> None: ...

class EpochRecord(_message.Message):
    __slots__ = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "test_acc", "lr", "seconds", "images_per_second", "augmenter_grad_norm", "transforms", "served", "collapsed")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ACC_FIELD_NUMBER: _ClassVar[int]
    VAL_ACC_FIELD_NUMBER: _ClassVar[int]
    TEST_ACC_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    AUGMENTER_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMS_FIELD_NUMBER: _ClassVar[int]
    SERVED_FIELD_NUMBER: _ClassVar[int]
    COLLAPSED_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    train_loss: float
    val_loss: float
    train_acc: float
    val_acc: float
    test_acc: float
    lr: float
    seconds: float
    images_per_second: float
    augmenter_grad_norm: float
    transforms: _containers.RepeatedCompositeFieldContainer[_models_pb2.TransformStat]
    served: _containers.RepeatedCompositeFieldContainer[_models_pb2.TransformStat]
    collapsed: bool
    def __init__(self, epoch: _Optional[int] = ..., train_loss: _Optional[float] = ..., val_loss: _Optional[float] = ..., train_acc: _Optional[float] = ..., val_acc: _Optional[float] = ..., test_acc: _Optional[float] = ..., lr: _Optional[float] = ..., seconds: _Optional[float] = ..., images_per_second: _Optional[float] = ..., augmenter_grad_norm: _Optional[float] = ..., transforms: _Optional[_Iterable[_Union[_models_pb2.TransformStat, _Mapping]]] = ..., served: _Optional[_Iterable[_Union[_models_pb2.TransformStat, _Mapping]]] = ..., collapsed: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "failure_reason", "config_toml", "dataset", "model_name", "epochs", "epochs_done", "last_record", "published", "created_unix_ms", "started_unix_ms", "finished_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TOML_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_DONE_FIELD_NUMBER: _ClassVar[int]
    LAST_RECORD_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    failure_reason: str
    config_toml: str
    dataset: str
    model_name: str
    epochs: int
    epochs_done: int
    last_record: EpochRecord
    published: _containers.RepeatedScalarFieldContainer[str]
    created_unix_ms: int
    started_unix_ms: int
    finished_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., failure_reason: _Optional[str] = ..., config_toml: _Optional[str] = ..., dataset: _Optional[str] = ..., model_name: _Optional[str] = ..., epochs: _Optional[int] = ..., epochs_done: _Optional[int] = ..., last_record: _Optional[_Union[EpochRecord, _Mapping]] = ..., published: _Optional[_Iterable[str]] = ..., created_unix_ms: _Optional[int] = ..., started_unix_ms: _Optional[int] = ..., finished_unix_ms: _Optional[int] = ...) -> None: ...

class StepProgress(_message.Message):
    __slots__ = ("epoch", "step", "steps_per_epoch", "train_loss")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    step: int
    steps_per_epoch: int
    train_loss: float
    def __init__(self, epoch: _Optional[int] = ..., step: _Optional[int] = ..., steps_per_epoch: _Optional[int] = ..., train_loss: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job", "epoch", "step", "published")
    JOB_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    job: Job
    epoch: EpochRecord
    step: StepProgress
    published: _models_pb2.ModelVersion
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., epoch: _Optional[_Union[EpochRecord, _Mapping]] = ..., step: _Optional[_Union[StepProgress, _Mapping]] = ..., published: _Optional[_Union[_models_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    def __init__(self, state: _Optional[_Union[JobState, str]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...
