//! The one mapping from engine errors to gRPC statuses. Exhaustive on purpose: a new error
//! variant does not compile until it is given its code.
use tonic::metadata::MetadataValue;
use tonic::Status;

use crate::engine::EngineError;

impl From<EngineError> for Status {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::InvalidArgument { .. } | EngineError::Config(_) => {
                Status::invalid_argument(message)
            }
            EngineError::ModelNotFound(_)
            | EngineError::JobNotFound(_)
            | EngineError::DatasetNotFound { .. } => Status::not_found(message),
            EngineError::NoActiveModel | EngineError::ModelConflict(_) => {
                Status::failed_precondition(message)
            }
            EngineError::DatasetRefused { .. } => Status::permission_denied(message),
            EngineError::QueueFull { retry_after, .. } => {
                let mut status = Status::resource_exhausted(message);
                let millis = retry_after.as_millis().to_string();
                if let Ok(value) = MetadataValue::try_from(millis.as_str()) {
                    // The standard gRPC retry pushback, and a plain name for other clients.
                    status
                        .metadata_mut()
                        .insert("grpc-retry-pushback-ms", value.clone());
                    status.metadata_mut().insert("retry-after-ms", value);
                }
                status
            }
            EngineError::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            EngineError::ShuttingDown => Status::unavailable(message),
            EngineError::Compute(_) | EngineError::Storage(_) => Status::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_gets_its_code_and_keeps_its_message() {
        let cases = [
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
            (EngineError::Compute("torch".into()), Code::Internal),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{message}");
            assert_eq!(status.message(), message);
        }
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
}
