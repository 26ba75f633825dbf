//! The one libtorch error type of the crate. libtorch appends a C++ backtrace to its messages
//! ("Exception raised from …" and a stack); users need the first part only, so `Display` trims
//! it, while [`std::error::Error::source`] keeps the original for whoever wants the rest.
use std::fmt;

/// A libtorch failure: shape mismatch, out of memory, a bad device, an unreadable tensor file.
#[derive(Debug)]
pub struct TorchError(tch::TchError);

impl TorchError {
    /// libtorch's message without the C++ backtrace (and without tch's "Internal torch
    /// error" prefix, which says nothing the `libtorch:` of `Display` does not).
    pub fn message(&self) -> String {
        match &self.0 {
            tch::TchError::Torch(text) => trimmed(text),
            other => trimmed(&other.to_string()),
        }
    }
}

/// The part of a libtorch message before its backtrace.
fn trimmed(text: &str) -> String {
    let cut = text.find("\nException raised from").unwrap_or(text.len());
    text[..cut].trim_end().to_string()
}

impl fmt::Display for TorchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "libtorch: {}", self.message())
    }
}

impl std::error::Error for TorchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<tch::TchError> for TorchError {
    fn from(error: tch::TchError) -> Self {
        Self(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_drops_the_backtrace_and_the_source_keeps_it() {
        let raw = "shape '[2, 3]' is invalid for input of size 5\nException raised from \
                   infer_size_impl at aten/src/ATen/InferSize.h:42 (most recent call first):\n\
                   frame #0: c10::Error::Error(...)";
        let error = TorchError::from(tch::TchError::Torch(raw.into()));
        assert_eq!(
            error.to_string(),
            "libtorch: shape '[2, 3]' is invalid for input of size 5"
        );
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(source.is_some_and(|s| s.contains("frame #0")));
    }

    #[test]
    fn a_real_libtorch_failure_is_trimmed() {
        let error = tch::Tensor::from_slice(&[1.0f32; 5])
            .f_view([2, 3])
            .map_err(TorchError::from)
            .err()
            .map(|e| e.to_string());
        let message = error.unwrap_or_default();
        assert!(message.starts_with("libtorch: shape '[2, 3]'"), "{message}");
        assert!(!message.contains("Exception raised from"), "{message}");
    }
}
