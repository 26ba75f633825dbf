"""Python client of augmentd, the learned-data-augmentation service.

    from augmentd_client import RemoteAugmenter
    augmenter = RemoteAugmenter("http://127.0.0.1:50051", token="s3cret", model="cifar")
    augmented = augmenter.augment(images, seed=7)   # numpy or torch, uint8/float32, NCHW/NHWC

- `RemoteAugmenter`: augment one batch (`augment`), many over one stream (`stream`).
- `AugmentCollate` / `augment_batches`: with a PyTorch DataLoader.
- `Client`: training jobs (`start_training`, `watch`, `wait`, ...), `models`, `health`.
- `RetryPolicy`: backoff on RESOURCE_EXHAUSTED / UNAVAILABLE, honouring the server's hint.
- `AugmentdError` and its subclasses: every failure, with the gRPC code and message.
"""

from ._proto import augmenter_pb2, models_pb2, training_pb2
from ._proto.models_pb2 import ModelVersion, TransformStat
from ._proto.training_pb2 import EpochRecord, Job, JobState, StepProgress
from .augmenter import RemoteAugmenter

# The served distribution's entries were a message of their own until 2026-12; the fields and
# the wire are the same as TransformStat's.
ParamDistribution = TransformStat
from .client import Client
from .connection import Connection, TlsOptions
from .dataloader import AugmentCollate, augment_batches
from .errors import (
    AugmentdError,
    CancelledError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from .models import ModelsClient
from .options import AugmentOptions, AugmentResult
from .retry import RetryEvent, RetryPolicy, RetryStats, retry_hint_seconds
from .streaming import AugmentStream
from .tensors import RawBatch
from .training import JobEvent, TrainingClient, is_finished, parse_state, state_name

__version__ = "0.1.0"

__all__ = [
    "AugmentCollate",
    "AugmentOptions",
    "AugmentResult",
    "AugmentStream",
    "AugmentdError",
    "CancelledError",
    "DataLossError",
    "Client",
    "Connection",
    "DeadlineExceededError",
    "EpochRecord",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "Job",
    "JobEvent",
    "JobState",
    "ModelVersion",
    "ModelsClient",
    "NotFoundError",
    "ParamDistribution",
    "PermissionDeniedError",
    "RawBatch",
    "RemoteAugmenter",
    "ResourceExhaustedError",
    "RetryEvent",
    "RetryPolicy",
    "RetryStats",
    "StepProgress",
    "TlsOptions",
    "TrainingClient",
    "TransformStat",
    "UnauthenticatedError",
    "UnavailableError",
    "augment_batches",
    "augmenter_pb2",
    "is_finished",
    "models_pb2",
    "parse_state",
    "retry_hint_seconds",
    "state_name",
    "training_pb2",
]
