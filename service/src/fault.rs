//! What kind of failure an error is, as every layer classifies its own errors: the one thing
//! the gRPC status map needs from errors nested below the engine's. Each layer's `fault()`
//! matches all of its variants (no catch-all arm), so a new variant does not compile until it
//! is classified, and a nested error keeps its kind up to the status map.

/// The kind of a failure, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller's input (a request field, a configuration, an image batch) is wrong.
    InvalidArgument,
    /// A file or object the caller named does not exist.
    NotFound,
    /// A stored file exists but is damaged or not in its format: data has been lost.
    Corrupt,
    /// The process ran out of a resource (threads, memory) it needed.
    Exhausted,
    /// The server failed (libtorch, the file system, a bug); the caller's input was fine.
    Internal,
}
