//! The error of a run configuration: a problem named by the dotted key (or the source) at
//! fault, so that a user can find the line to change.

/// A configuration problem, named by its key (`classifier.lr`) or its source (a file).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The dotted key, or the file, at fault.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// The problem `problem` of `key`.
pub(super) fn problem(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        problem: problem.into(),
    }
}
