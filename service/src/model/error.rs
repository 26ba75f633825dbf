//! Why a model could not be saved, loaded or applied. Each variant keeps its kind: a missing
//! file, a damaged one, a network failure (itself classified), a store failure, a bad argument.
use std::path::PathBuf;

use crate::fault::Fault;
use crate::nn::NnError;
use crate::store::StoreError;

/// A failure of the model layer.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the model does not exist.
    #[error("{path}: not found")]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// A file of the model could not be read for another reason.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file of the model is not what it should be: not a model description, another
    /// format, weights that do not fit the described network.
    #[error("{path}: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The network failed (building it, running it).
    #[error(transparent)]
    Nn(#[from] NnError),
    /// Writing a file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An argument out of range (zero copies, zero draws, images of the wrong shape).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl ModelError {
    /// An I/O error on `path`, [`ModelError::Missing`] when the file is not there.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Self::Missing { path }
            } else {
                Self::Io { path, source }
            }
        }
    }

    /// What kind of failure this is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Missing { .. } => Fault::NotFound,
            Self::Io { .. } => Fault::Internal,
            Self::Corrupt { .. } => Fault::Corrupt,
            Self::Nn(e) => e.fault(),
            Self::Store(e) => e.fault(),
            Self::InvalidArgument(_) => Fault::InvalidArgument,
        }
    }
}
