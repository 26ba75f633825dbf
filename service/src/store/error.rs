//! The store's error type: every failure to write, find, verify or read a checkpoint.
//!
//! A variant about a file always carries its path, so the message alone tells the user which
//! file to look at and what is wrong with it.
use std::path::{Path, PathBuf};

use crate::fault::Fault;
use crate::torch_error::TorchError;

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating, reading, writing, syncing, renaming or removing a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file whose content does not match what its manifest promises (size, checksum), or a
    /// manifest that disagrees with its own name or points at a file that is not there.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it ("checksum mismatch: expected …, found …").
        reason: String,
    },
    /// A file that is not in the format the store writes (not JSON, unknown format tag, not a
    /// manifest or data file name).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// libtorch or the safetensors codec refused to convert tensors to or from a file.
    #[error("{path}: {}{}", tensor_prefix(.tensor.as_deref()), .source.message())]
    Tensor {
        /// The data file being written or read.
        path: PathBuf,
        /// The tensor being converted, when one is.
        tensor: Option<String>,
        /// libtorch's error.
        source: TorchError,
    },
    /// A tensor name the data file cannot hold: safetensors keys tensors by name, so names must
    /// be unique, and it reserves `__metadata__`.
    #[error("tensor name '{name}' cannot be saved: {reason}")]
    TensorName {
        /// The offending name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

impl StoreError {
    /// The file or directory the error is about, if it concerns one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::Corrupt { path, .. }
            | Self::Format { path, .. }
            | Self::Tensor { path, .. } => Some(path),
            Self::TensorName { .. } => None,
        }
    }

    /// What went wrong, without the path (the message of [`SkippedCheckpoint`] reasons).
    ///
    /// [`SkippedCheckpoint`]: super::SkippedCheckpoint
    pub fn reason(&self) -> String {
        match self {
            Self::Io { source, .. } => source.to_string(),
            Self::Corrupt { reason, .. } | Self::Format { reason, .. } => reason.clone(),
            Self::Tensor { tensor, source, .. } => {
                format!("{}{}", tensor_prefix(tensor.as_deref()), source.message())
            }
            Self::TensorName { .. } => self.to_string(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn format(path: &Path, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A [`StoreError::Tensor`] maker for `map_err`, about `tensor` of the file at `path`.
    pub(crate) fn tensor<'a>(
        path: &'a Path,
        tensor: Option<&'a str>,
    ) -> impl FnOnce(tch::TchError) -> Self + 'a {
        move |source| Self::Tensor {
            path: path.to_path_buf(),
            tensor: tensor.map(String::from),
            source: source.into(),
        }
    }

    /// What kind of failure this is: a missing file is not found, a damaged or foreign one
    /// is lost data, the rest are the server's.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Fault::NotFound
            }
            Self::Io { .. } | Self::Tensor { .. } | Self::TensorName { .. } => Fault::Internal,
            Self::Corrupt { .. } | Self::Format { .. } => Fault::Corrupt,
        }
    }
}

fn tensor_prefix(tensor: Option<&str>) -> String {
    tensor
        .map(|t| format!("tensor '{t}': "))
        .unwrap_or_default()
}
