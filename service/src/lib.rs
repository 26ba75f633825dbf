//! augmentd: learned data augmentation by online bilevel optimization (see `shared/ALGORITHM.md`).
//!
//! Layers, bottom up: [`data`] reads and batches images, [`nn`] holds the augmenters and the
//! functional classifiers, [`bilevel`] performs the online bilevel step that trains them.

pub mod data;
pub mod device;
