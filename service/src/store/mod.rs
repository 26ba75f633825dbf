//! Checkpoints of a training run: everything needed to resume, written so that a crash at any
//! moment leaves a loadable checkpoint behind.
//!
//! [`CheckpointStore`] keeps them under `<run_dir>/checkpoints` as safetensors data files with
//! JSON manifests (readable from Python); [`atomic`] holds the crash-safe file replacement they
//! are written with.
pub mod atomic;
mod checkpoint;
mod error;

pub use checkpoint::{
    sha256_of_file, Checkpoint, CheckpointStore, LoadOutcome, SkippedCheckpoint, CHECKPOINT_FORMAT,
};
pub use error::StoreError;
