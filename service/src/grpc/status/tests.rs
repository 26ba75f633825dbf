//! Every engine error and every nested kind gets its code and keeps its message.
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tonic::Code;

use super::*;
use crate::data::DataError;
use crate::model::ModelError;
use crate::nn::NnError;
use crate::store::StoreError;
use crate::torch_error::TorchError;

fn file() -> PathBuf {
    PathBuf::from("models/m/1/model.json")
}

fn torch() -> TorchError {
    tch::TchError::Torch("out of memory\nException raised from x at y.cpp:1".into()).into()
}

fn assert_codes(cases: Vec<(EngineError, Code)>) {
    for (error, code) in cases {
        let message = error.to_string();
        let status = Status::from(error);
        assert_eq!(status.code(), code, "{message}");
        assert_eq!(status.message(), message);
    }
}

#[test]
fn each_error_gets_its_code_and_keeps_its_message() {
    assert_codes(vec![
        (EngineError::invalid("shape", "bad"), Code::InvalidArgument),
        (EngineError::ModelNotFound("m@3".into()), Code::NotFound),
        (EngineError::JobNotFound("job-1".into()), Code::NotFound),
        (EngineError::NoActiveModel, Code::FailedPrecondition),
        (
            EngineError::ModelConflict("active".into()),
            Code::FailedPrecondition,
        ),
        (
            EngineError::DatasetRefused {
                name: "../x".into(),
                problem: "'..'".into(),
            },
            Code::PermissionDenied,
        ),
        (
            EngineError::DeadlineExceeded("queued"),
            Code::DeadlineExceeded,
        ),
        (EngineError::ShuttingDown, Code::Unavailable),
        (EngineError::Torch(torch()), Code::Internal),
        (
            EngineError::WorkerPanicked("index out of range".into()),
            Code::Internal,
        ),
        (
            EngineError::state_dir("read", &file())(io::Error::other("EIO")),
            Code::Internal,
        ),
        (
            EngineError::StateDirLocked {
                dir: "state".into(),
                lock: "state/augmentd.lock".into(),
                holder: "pid 7".into(),
            },
            Code::Internal,
        ),
        (EngineError::corrupt(&file(), "not JSON"), Code::DataLoss),
        (
            EngineError::Thread {
                what: "a training job thread",
                source: io::Error::from(io::ErrorKind::WouldBlock),
            },
            Code::ResourceExhausted,
        ),
    ]);
}

#[test]
fn nested_errors_are_mapped_by_their_own_kind() {
    let missing = io::Error::from(io::ErrorKind::NotFound);
    assert_codes(vec![
        (ModelError::Missing { path: file() }.into(), Code::NotFound),
        (
            ModelError::Corrupt {
                path: file(),
                problem: "not a model description".into(),
            }
            .into(),
            Code::DataLoss,
        ),
        (
            ModelError::Io {
                path: file(),
                source: io::Error::other("EIO"),
            }
            .into(),
            Code::Internal,
        ),
        (
            ModelError::InvalidArgument("zero copies".into()).into(),
            Code::InvalidArgument,
        ),
        (
            ModelError::Nn(NnError::BadInput {
                network: "augmenter",
                shape: vec![1, 2],
                expected: "[N, 1, H, W]".into(),
            })
            .into(),
            Code::InvalidArgument,
        ),
        (
            ModelError::Nn(NnError::Torch(torch())).into(),
            Code::Internal,
        ),
        (
            ModelError::Nn(NnError::Weights {
                path: file(),
                problem: "tensor 'lin1.weight' is missing".into(),
            })
            .into(),
            Code::DataLoss,
        ),
        (
            NnError::MissingParameter("lin9.bias".into()).into(),
            Code::Internal,
        ),
        (
            NnError::InvalidConfig("std 0".into()).into(),
            Code::InvalidArgument,
        ),
        (
            ModelError::Store(StoreError::io(&file(), missing)).into(),
            Code::NotFound,
        ),
        (
            StoreError::io(&file(), io::Error::other("disk full")).into(),
            Code::Internal,
        ),
        (
            StoreError::corrupt(&file(), "checksum mismatch").into(),
            Code::DataLoss,
        ),
        (
            StoreError::format(&file(), "not JSON").into(),
            Code::DataLoss,
        ),
        (
            StoreError::tensor(&file(), Some("theta"))(tch::TchError::Torch("bad".into())).into(),
            Code::Internal,
        ),
        (
            StoreError::TensorName {
                name: "__metadata__".into(),
                reason: "reserved",
            }
            .into(),
            Code::Internal,
        ),
        (DataError::NotFound { path: file() }.into(), Code::NotFound),
        (
            DataError::tensor("standardizing")(tch::TchError::Torch("bad".into())).into(),
            Code::Internal,
        ),
    ]);
}

#[test]
fn a_full_queue_carries_a_retry_hint() {
    let status = Status::from(EngineError::QueueFull {
        capacity: 4,
        retry_after: Duration::from_millis(40),
    });
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status
            .metadata()
            .get("grpc-retry-pushback-ms")
            .and_then(|v| v.to_str().ok()),
        Some("40")
    );
    assert!(
        status.message().contains("retry after 40 ms"),
        "{}",
        status.message()
    );
}

#[test]
fn a_libtorch_failure_reaches_the_client_without_its_backtrace() {
    let status = Status::from(EngineError::Torch(torch()));
    assert_eq!(
        status.message(),
        "augmentation failed: libtorch: out of memory"
    );
}
