//! The gRPC layer: thin handlers over the engine (check → convert → queue → convert back),
//! one status mapping, token scopes, health, reflection and the server's life cycle.
mod arrival;
mod augmenter;
pub mod auth;
pub mod calls;
mod convert;
mod models;
mod observe;
pub mod serve_config;
pub mod server;
mod services;
mod status;
mod training;

pub use augmenter::deadline_of;
pub use auth::{read_token_file, Scope, Tokens};
pub use serve_config::{ServeConfig, ServeConfigError, ServeFlags, TlsFiles};
pub use server::{start, ServeError, ServerHandle};
pub use services::SERVICE_NAMES;
