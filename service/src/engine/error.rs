//! What the engine answers when it cannot do what was asked. Every variant says what is wrong
//! in words a client can act on; the gRPC layer maps each one to exactly one status code.
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::data::DataError;
use crate::model::ModelError;
use crate::nn::NnError;
use crate::store::StoreError;
use crate::torch_error::TorchError;
use crate::train::ConfigError;

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
    /// A model could not be loaded, saved or applied (its own error says which kind of
    /// failure: a missing or damaged file, bad input, libtorch).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A file of the state dir could not be written (the store's error keeps its kind).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A batch could not be converted to or from the model's standardization.
    #[error("augmentation failed: {0}")]
    Data(#[from] DataError),
    /// libtorch failed on this request; the server goes on.
    #[error("augmentation failed: {0}")]
    Torch(#[from] TorchError),
    /// An augment worker panicked on this request; the worker is replaced.
    #[error("augmentation failed: {0}")]
    WorkerPanicked(String),
    /// A file or directory of the state dir could not be read, written or locked.
    #[error("state dir: {what} {path}: {source}")]
    StateDir {
        /// What was being done ("read", "create", "lock", …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file of the state dir that is not what the server writes (damaged, foreign).
    #[error("state dir: {path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Another server holds the state dir.
    #[error(
        "{} is in use by {holder}: one state dir belongs to one server (lock file {})",
        dir.display(),
        lock.display()
    )]
    StateDirLocked {
        /// The state dir.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// Who holds it, as the lock file says.
        holder: String,
    },
    /// A thread the engine needs could not be started.
    #[error("cannot start {what}: {source}")]
    Thread {
        /// The thread ("an augment worker", "a training job", …).
        what: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
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

impl EngineError {
    /// A [`EngineError::StateDir`] maker for `map_err`: `what` failed on `path`.
    pub(crate) fn state_dir<'a>(
        what: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| Self::StateDir {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`EngineError::Corrupt`] about `path`.
    pub(crate) fn corrupt(path: &Path, problem: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        }
    }
}

impl From<NnError> for EngineError {
    fn from(e: NnError) -> Self {
        Self::Model(e.into())
    }
}
