//! The gRPC layer: thin handlers over the engine (check → convert → queue → convert back),
//! one status mapping, token scopes, health, reflection and the server's life cycle.
mod arrival;
mod augmenter;
pub mod auth;
pub mod calls;
mod convert;
mod models;
mod observe;
pub mod server;
mod status;
mod training;

pub use augmenter::deadline_of;
pub use auth::{read_token_file, Scope, Tokens};
pub use server::{start, ServeConfig, ServeError, ServerHandle, TlsFiles, SERVICE_NAMES};
