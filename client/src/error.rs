//! [`ClientError`]: every failure of the client library, with a `Display` that reads well on
//! its own (`INVALID_ARGUMENT: shape: ...`, `cat.png: ...`), as `augmentctl` prints it.
pub use augmentd_proto::code_name;
use std::path::PathBuf;

/// What can go wrong talking to augmentd or preparing its input.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server (or tonic on its behalf) answered a call with a non-OK gRPC status.
    #[error("{}: {message}", code_name(*code))]
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message (and its cause, for transport failures during a call).
        message: String,
    },
    /// The connection could not be set up (bad TLS files, refused connection, ...).
    #[error("UNAVAILABLE: {url}: {message}")]
    Transport {
        /// The server URL.
        url: String,
        /// What went wrong, with its causes.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An image file could not be read, written or put in a batch.
    #[error("{}: {message}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An `.npy` file could not be read or written.
    #[error("{}: {message}", path.display())]
    Npy {
        /// The `.npy` file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An argument is unusable (a batch whose bytes do not match its shape, a bad URL, ...).
    #[error("INVALID_ARGUMENT: {0}")]
    InvalidInput(String),
}

impl ClientError {
    /// The gRPC status code of an [`ClientError::Rpc`] error, `Unavailable` for a transport
    /// error, `InvalidArgument` for invalid input, `None` for local file errors.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Rpc { code, .. } => Some(*code),
            ClientError::Transport { .. } => Some(tonic::Code::Unavailable),
            ClientError::InvalidInput(_) => Some(tonic::Code::InvalidArgument),
            ClientError::Io { .. } | ClientError::Image { .. } | ClientError::Npy { .. } => None,
        }
    }

    /// An [`ClientError::Io`] error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClientError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`ClientError::Image`] error on `path`.
    pub(crate) fn image(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        ClientError::Image {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// An [`ClientError::Npy`] error on `path`.
    pub(crate) fn npy(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        ClientError::Npy {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// An [`ClientError::InvalidInput`] error.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ClientError::InvalidInput(message.into())
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        let mut message = status.message().to_string();
        // Transport failures during a call come as UNAVAILABLE "transport error" whose cause
        // (connection refused, broken pipe, ...) is only in the source chain.
        if let Some(source) = std::error::Error::source(&status) {
            let chain = error_chain(source);
            if !chain.is_empty() && !message.contains(&chain) {
                message = if message.is_empty() {
                    chain
                } else {
                    format!("{message}: {chain}")
                };
            }
        }
        ClientError::Rpc {
            code: status.code(),
            message,
        }
    }
}

/// `err: cause: cause's cause ...`, skipping causes that repeat the text before them.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_error_displays_code_name_and_message() {
        let err = ClientError::from(tonic::Status::invalid_argument("shape: expected 4 dims"));
        assert_eq!(err.to_string(), "INVALID_ARGUMENT: shape: expected 4 dims");
        assert_eq!(err.code(), Some(tonic::Code::InvalidArgument));
        let err = ClientError::from(tonic::Status::not_found("no model \"cifar\""));
        assert_eq!(err.to_string(), "NOT_FOUND: no model \"cifar\"");
    }

    #[test]
    fn every_code_has_its_canonical_name() {
        for i in 0..=16 {
            let code = tonic::Code::from_i32(i);
            let name = code_name(code);
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        }
        assert_eq!(code_name(tonic::Code::Unauthenticated), "UNAUTHENTICATED");
        assert_eq!(
            code_name(tonic::Code::DeadlineExceeded),
            "DEADLINE_EXCEEDED"
        );
    }

    #[test]
    fn file_errors_name_the_file() {
        let err = ClientError::image("imgs/cat.png", "expected 32x32, found 64x64");
        assert_eq!(err.to_string(), "imgs/cat.png: expected 32x32, found 64x64");
        let err = ClientError::io(
            "missing.npy",
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
        );
        assert_eq!(err.to_string(), "missing.npy: No such file or directory");
        assert_eq!(err.code(), None);
        let err = ClientError::invalid("copies must be at least 1");
        assert_eq!(
            err.to_string(),
            "INVALID_ARGUMENT: copies must be at least 1"
        );
    }

    #[test]
    fn transport_status_keeps_its_cause() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let status = tonic::Status::from_error(Box::new(cause));
        let err = ClientError::from(status);
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
