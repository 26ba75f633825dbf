//! Errors of a training run: one per layer below it, plus the run directory's own problems.
use std::path::PathBuf;

use super::config::ConfigError;
use super::control::StopReason;
use super::pictures::PictureError;
use crate::data::DataError;
use crate::device::DeviceError;
use crate::model::ModelError;
use crate::nn::NnError;
use crate::store::StoreError;

/// Why a training run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The device cannot be used.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The data could not be read or prepared.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A network failed.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// A model could not be saved, loaded or applied.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A picture could not be drawn.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// A file of the run directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The run directory holds another run, or something unreadable.
    #[error("run directory {path}: {problem}")]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The frozen model of a `served` run (`augment.model`) does not fit the run's data, or
    /// changed since the run started.
    #[error("augment.model {path}: {problem}")]
    ServedModel {
        /// The model's weights file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An argument out of range (zero copies, zero draws).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The run was stopped through its `RunControl`; its completed epochs are checkpointed and
    /// the same run started again resumes after the last of them.
    #[error("the run was stopped ({0})")]
    Stopped(StopReason),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
