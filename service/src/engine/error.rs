//! What the engine answers when it cannot do what was asked. Every variant says what is wrong
//! in words a client can act on; the gRPC layer maps each one to exactly one status code.
use std::time::Duration;

use crate::train::{ConfigError, TrainError};

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A request field is malformed or out of range.
    #[error("{field}: {problem}")]
    InvalidArgument {
        /// The request field (`shape`, `data`, `dtype`, …).
        field: String,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// A training configuration is invalid (the message starts with the dotted key, or
    /// `config` for the whole configuration).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No such model name or version.
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    /// A request named no model and the server has no default model yet.
    #[error(
        "no model is active: publish one with a training job or activate one with ActivateModel"
    )]
    NoActiveModel,
    /// The operation conflicts with the model's state (deleting an active version without force).
    #[error("{0}")]
    ModelConflict(String),
    /// No such job.
    #[error("job '{0}' not found")]
    JobNotFound(String),
    /// The dataset name does not exist inside the data dir.
    #[error("dataset '{name}' not found in the data dir ({problem})")]
    DatasetNotFound {
        /// The requested name.
        name: String,
        /// Why.
        problem: String,
    },
    /// The dataset name points outside the data dir (`..`, absolute path, escaping symlink).
    #[error("dataset '{name}' refused: {problem}")]
    DatasetRefused {
        /// The requested name.
        name: String,
        /// Why.
        problem: String,
    },
    /// The augment queue is full.
    #[error("the augment queue is full ({capacity} batches waiting); retry after {} ms", retry_after.as_millis())]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
        /// When a retry is likely to be admitted.
        retry_after: Duration,
    },
    /// The client's deadline passed before the work was done.
    #[error("the deadline passed {0}")]
    DeadlineExceeded(&'static str),
    /// The server is shutting down and takes no new work.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// libtorch (or the model) failed on this request; the server goes on.
    #[error("augmentation failed: {0}")]
    Compute(String),
    /// The state dir could not be read or written.
    #[error("state dir: {0}")]
    Storage(String),
}

impl EngineError {
    /// An [`EngineError::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl From<TrainError> for EngineError {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Config(c) => Self::Config(c),
            TrainError::InvalidArgument(problem) => Self::invalid("request", problem),
            other => Self::Compute(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for EngineError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Storage(e.to_string())
    }
}
