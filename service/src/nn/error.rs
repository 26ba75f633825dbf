//! Errors of the network layer: libtorch failures, parameter-set mismatches and bad shapes.
use std::path::PathBuf;

/// Everything that can go wrong while building, running, saving or loading a network.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// libtorch refused an operation (shape mismatch, out of memory, bad device…).
    #[error("libtorch: {0}")]
    Torch(String),
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
        Self::Torch(torch_message(&err))
    }
}

/// libtorch's message without the C++ backtrace it appends (useless to a user, and long).
pub fn torch_message(err: &tch::TchError) -> String {
    let text = err.to_string();
    let cut = text.find("\nException raised from").unwrap_or(text.len());
    text[..cut].trim_end().to_string()
}
