//! What a server and its training runs keep on disk: the state dir's layout ([`layout`], the one
//! place that names files), its JSON files ([`json`]), and the checkpoints of a training run:
//! everything needed to resume, written so that a crash at any moment leaves a loadable
//! checkpoint behind.
//!
//! [`CheckpointStore`] keeps them under `<run_dir>/checkpoints` as safetensors data files with
//! JSON manifests (readable from Python); [`atomic`] holds the crash-safe file replacement they
//! are written with.
pub mod atomic;
mod checkpoint;
mod error;
pub mod json;
pub mod layout;

pub use checkpoint::{
    sha256_of_file, Checkpoint, CheckpointStore, LoadOutcome, SkippedCheckpoint, CHECKPOINT_FORMAT,
};
pub use error::StoreError;
pub use layout::{JobDir, JobsDir, ModelDir, ModelsDir, RunDir, StateDir, VersionDir};
