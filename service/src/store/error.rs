//! The store's error type: every failure to write, find, verify or read a checkpoint.
//!
//! A variant about a file always carries its path, so the message alone tells the user which
//! file to look at and what is wrong with it.
use std::path::{Path, PathBuf};

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
    #[error("{path}: {reason}")]
    Tensor {
        /// The data file being written or read.
        path: PathBuf,
        /// The first line of the library's message.
        reason: String,
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
            Self::Corrupt { reason, .. }
            | Self::Format { reason, .. }
            | Self::Tensor { reason, .. } => reason.clone(),
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

    /// A tensor error; libtorch appends a long C++ backtrace after the first line, which says
    /// nothing to the user, so only that first line is kept.
    pub(crate) fn tensor(path: &Path, message: &str) -> Self {
        let first_line = message.lines().next().unwrap_or_default().trim_end();
        Self::Tensor {
            path: path.to_path_buf(),
            reason: first_line.to_string(),
        }
    }
}
