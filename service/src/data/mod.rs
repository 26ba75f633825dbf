//! The data layer: readers for CIFAR binary batches, IDX (MNIST-style) files, image-folder trees
//! and a synthetic generator, all producing an in-memory [`ImageSet`]; seeded subsets and
//! stratified splits; and the [`BatchLoader`], which augments with the hand-crafted
//! [`Baseline`]s and standardizes batches on its own thread.
mod dataset;
mod error;
mod normalization;
mod split;

pub use dataset::{numbered_class_names, ImageSet, ImageShape, Split};
pub use error::DataError;
pub use normalization::Normalization;
pub use split::DEFAULT_VAL_RATIO;
