//! The one mapping from engine errors to gRPC statuses. Exhaustive on purpose, down the whole
//! chain: a new engine variant does not compile until it is given its code, and an error nested
//! from below (model, store, data) is mapped by the [`Fault`] its own layer gives it, so a
//! missing model file is NOT_FOUND, a damaged one DATA_LOSS and a libtorch failure INTERNAL.
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::engine::EngineError;
use crate::fault::Fault;

/// The code of a failure of a kind.
fn code_of(fault: Fault) -> Code {
    match fault {
        Fault::InvalidArgument => Code::InvalidArgument,
        Fault::NotFound => Code::NotFound,
        Fault::Corrupt => Code::DataLoss,
        Fault::Exhausted => Code::ResourceExhausted,
        Fault::Internal => Code::Internal,
    }
}

/// The code of an engine error.
fn code(e: &EngineError) -> Code {
    match e {
        EngineError::InvalidArgument { .. } | EngineError::Config(_) => Code::InvalidArgument,
        EngineError::ModelNotFound(_)
        | EngineError::JobNotFound(_)
        | EngineError::DatasetNotFound { .. } => Code::NotFound,
        EngineError::NoActiveModel | EngineError::ModelConflict(_) => Code::FailedPrecondition,
        EngineError::DatasetRefused { .. } => Code::PermissionDenied,
        EngineError::QueueFull { .. } => Code::ResourceExhausted,
        EngineError::DeadlineExceeded(_) => Code::DeadlineExceeded,
        EngineError::ShuttingDown => Code::Unavailable,
        EngineError::Model(e) => code_of(e.fault()),
        EngineError::Store(e) => code_of(e.fault()),
        EngineError::Data(e) => code_of(e.fault()),
        EngineError::Thread { .. } => code_of(Fault::Exhausted),
        EngineError::Torch(_)
        | EngineError::WorkerPanicked(_)
        | EngineError::StateDir { .. }
        | EngineError::StateDirLocked { .. } => Code::Internal,
        EngineError::Corrupt { .. } => code_of(Fault::Corrupt),
    }
}

impl From<EngineError> for Status {
    fn from(e: EngineError) -> Self {
        let mut status = Status::new(code(&e), e.to_string());
        if let EngineError::QueueFull { retry_after, .. } = e {
            let millis = retry_after.as_millis().to_string();
            if let Ok(value) = MetadataValue::try_from(millis.as_str()) {
                // The standard gRPC retry pushback, and a plain name for other clients.
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", value.clone());
                status.metadata_mut().insert("retry-after-ms", value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests;
