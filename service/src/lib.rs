//! augmentd: learned data augmentation by online bilevel optimization (see `shared/ALGORITHM.md`).
//!
//! Layers, bottom up: [`data`] reads and batches images, [`nn`] holds the augmenters and the
//! functional classifiers, [`optim`] their optimizer, and [`bilevel`] performs the online
//! bilevel step that trains them together. [`train`] runs training runs; [`engine`] owns the
//! service's tensor work (augment pool, model registry, jobs) and [`grpc`] serves it.

pub mod bilevel;
pub mod data;
pub mod device;
pub mod engine;
pub mod grpc;
pub mod metrics;
pub mod nn;
pub mod optim;
pub mod store;
pub mod train;
