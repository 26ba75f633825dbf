//! Seeded models and images with no file behind them, for the tests of every layer above.
#![allow(clippy::unwrap_used)]
use tch::{Device, Kind, Tensor};

use crate::data::{ImageShape, Normalization};
use crate::nn::{Augmenter, AugmenterKind, AugmenterVariant};

use super::artefact::Model;
use super::info::ModelInfo;

/// A `kind` model of `channels` channels (mean 0.4, std 0.3, 12 × 10 images) with weights
/// drawn from `seed`.
pub fn test_model(kind: AugmenterKind, channels: usize, seed: u64) -> Model {
    let (mean, std) = (vec![0.4; channels], vec![0.3; channels]);
    let augmenter = Augmenter::new(kind, mean.clone(), std.clone(), None).unwrap();
    let theta = augmenter.init(seed, Kind::Float, Device::Cpu).unwrap();
    Model {
        info: ModelInfo {
            kind,
            variant: AugmenterVariant::Reference,
            normalization: Normalization { mean, std },
            bound: None,
            shape: ImageShape::new(channels, 12, 10),
            epoch: 0,
            served: None,
            base: None,
        },
        augmenter,
        theta,
    }
}

/// `n` deterministic standardized images of `test_model`'s size (12 × 10).
pub fn test_images(n: i64, channels: i64) -> Tensor {
    let count = n * channels * 12 * 10;
    let values: Vec<f32> = (0..count)
        .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
        .collect();
    Tensor::from_slice(&values).view([n, channels, 12, 10])
}
