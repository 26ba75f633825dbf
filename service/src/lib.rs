//! augmentd: learned data augmentation by online bilevel optimization (see `shared/ALGORITHM.md`).
//!
//! Layers, bottom up: [`data`] reads and batches images, [`nn`] holds the augmenters and the
//! functional classifiers, [`optim`] their optimizer, and [`bilevel`] performs the online
//! bilevel step that trains them together. [`model`] is the trained augmenter as an artefact
//! (its files, applying it, the distribution it serves); [`train`] runs training runs;
//! [`engine`] owns the service's tensor work (augment pool, model registry, jobs) and [`grpc`]
//! serves it. [`torch_error`] and [`fault`] are shared by every layer's errors.

pub mod bilevel;
pub mod data;
pub mod device;
pub mod engine;
pub mod fault;
pub mod grpc;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod objective;
pub mod optim;
pub mod store;
pub mod teacher;
pub mod torch_error;
pub mod train;
