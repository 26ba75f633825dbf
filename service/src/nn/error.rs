//! Errors of the network layer: libtorch failures, parameter-set mismatches and bad shapes.
use std::path::PathBuf;

use crate::fault::Fault;
use crate::torch_error::TorchError;

/// Everything that can go wrong while building, running, saving or loading a network.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// libtorch refused an operation (shape mismatch, out of memory, bad device…).
    #[error(transparent)]
    Torch(#[from] TorchError),
    /// A network asked for a parameter the set does not hold.
    #[error("parameter '{0}' is missing from the parameter set")]
    MissingParameter(String),
    /// The input does not fit the network.
    #[error("input of shape {shape:?} does not fit {network}: {expected}")]
    BadInput {
        /// The network's name.
        network: &'static str,
        /// The offending shape.
        shape: Vec<i64>,
        /// What was expected instead.
        expected: String,
    },
    /// A network configuration that cannot be built.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    /// A weights file that cannot be read, or whose tensors do not match the network.
    #[error("weights file {path}: {problem}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// Result alias of this layer.
pub type NnResult<T> = Result<T, NnError>;

impl From<tch::TchError> for NnError {
    fn from(err: tch::TchError) -> Self {
        Self::Torch(err.into())
    }
}

impl NnError {
    /// What kind of failure this is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Torch(_) | Self::MissingParameter(_) => Fault::Internal,
            Self::BadInput { .. } | Self::InvalidConfig(_) => Fault::InvalidArgument,
            Self::Weights { .. } => Fault::Corrupt,
        }
    }
}
