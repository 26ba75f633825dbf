//! augmentd: learned data augmentation by online bilevel optimization (see `shared/ALGORITHM.md`).
//!
//! Layers, bottom up: [`data`] reads and batches images, [`nn`] holds the augmenters and the
//! functional classifiers, [`optim`] their optimizer, and [`bilevel`] performs the online
//! bilevel step that trains them together.

pub mod bilevel;
pub mod data;
pub mod device;
pub mod metrics;
pub mod nn;
pub mod optim;
pub mod store;
pub mod train;
