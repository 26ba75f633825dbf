//! The gRPC services augmentd serves, by their full names: what health reports on and what
//! the call layer counts.

/// The service names health reports on (besides "", the whole server).
pub const SERVICE_NAMES: [&str; 3] = [
    "augmentd.v1.Augmenter",
    "augmentd.v1.Training",
    "augmentd.v1.Models",
];
