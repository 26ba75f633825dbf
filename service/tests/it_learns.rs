//! It learns: when validation images are systematically rotated relative to training images,
//! a few hundred bilevel steps on the CPU turn the augmenter's mean transformation toward that
//! rotation, in the direction of the data, whichever sign it has.
#![allow(clippy::unwrap_used, missing_docs)]

use std::f64::consts::PI;

use augmentd::bilevel::{BatchRef, BilevelConfig, BilevelLearner};
use augmentd::nn::{AffineVariant, Augmenter, AugmenterKind, Classifier, ClassifierArch};
use augmentd::optim::SgdConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};

const SIDE: usize = 16;
const CLASSES: usize = 4;
const BATCH: i64 = 32;

/// Gratings whose orientation is the class (0°, 45°, 90°, 135°) plus `offset_deg`, with random
/// phase and frequency and pixel noise, standardized.
fn gratings(rng: &mut StdRng, offset_deg: f64) -> (Tensor, Tensor) {
    let mut pixels = Vec::with_capacity(BATCH as usize * SIDE * SIDE);
    let mut labels = Vec::with_capacity(BATCH as usize);
    for _ in 0..BATCH {
        let class = rng.random_range(0..CLASSES);
        let angle = (class as f64 * 45.0 + offset_deg) * PI / 180.0;
        let freq = rng.random_range(0.18..0.28) * 2.0 * PI;
        let phase = rng.random_range(0.0..2.0 * PI);
        let centre = (SIDE as f64 - 1.0) / 2.0;
        for row in 0..SIDE {
            for col in 0..SIDE {
                let (x, y) = (col as f64 - centre, row as f64 - centre);
                let value = (freq * (x * angle.cos() + y * angle.sin()) + phase).sin();
                pixels.push(value + rng.random_range(-0.3..0.3));
            }
        }
        labels.push(class as i64);
    }
    let images = Tensor::from_slice(&pixels)
        .view([BATCH, 1, SIDE as i64, SIDE as i64])
        .to_kind(Kind::Float);
    (images, Tensor::from_slice(&labels))
}

/// The mean rotation angle (degrees) of affine matrices [N, 6] (a11, a12, tx, a21, a22, ty).
fn rotation_deg(mean: &[f64]) -> f64 {
    (mean[3] - mean[1]).atan2(mean[0] + mean[4]) * 180.0 / PI
}

/// Trains for `steps` bilevel steps with validation gratings turned by `val_offset_deg`;
/// returns the augmenter's mean rotation at the first step and averaged over the last steps.
fn learned_rotation(val_offset_deg: f64, steps: usize) -> (f64, f64) {
    let classifier = Classifier::new(ClassifierArch::SmallCnn, 1, CLASSES as i64).unwrap();
    let (weights, buffers) = classifier.init(1, Kind::Float, Device::Cpu).unwrap();
    // The images are already standardized: mean 0, std 1 per channel.
    let kind = AugmenterKind::SmallAffine(AffineVariant::Affine);
    // The optional bound keeps the unconstrained affine matrix near the identity, so a tiny
    // problem that is solved in a few dozen steps cannot throw the augmenter far away.
    let augmenter = Augmenter::new(kind, vec![0.0], vec![1.0], Some(0.5)).unwrap();
    let theta = augmenter.init(2, Kind::Float, Device::Cpu).unwrap();
    let config = BilevelConfig {
        inner_steps: 1,
        classifier: SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 5e-4,
        },
        augmenter: SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 0.01,
        },
        objective: Default::default(),
    };
    let mut learner =
        BilevelLearner::new((classifier, weights, buffers), (augmenter, theta), config).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut angles = Vec::with_capacity(steps);
    for _ in 0..steps {
        let (x, y) = gratings(&mut rng, 0.0);
        let (xv, yv) = gratings(&mut rng, val_offset_deg);
        let noise = learner
            .augmenter
            .net
            .sample_noise(BATCH, &mut rng, true, (Kind::Float, Device::Cpu))
            .unwrap();
        let report = learner
            .step(
                &[BatchRef {
                    images: &x,
                    labels: &y,
                }],
                &[noise],
                BatchRef {
                    images: &xv,
                    labels: &yv,
                },
            )
            .unwrap();
        let angle = rotation_deg(&report.transform_mean);
        angles.push(angle);
    }
    let tail = &angles[steps - TAIL..];
    (angles[0], tail.iter().sum::<f64>() / TAIL as f64)
}

const STEPS: usize = 80;
const TAIL: usize = 20;

#[test]
fn augmenter_learns_the_validation_rotation_in_both_directions() {
    for offset in [20.0, -20.0] {
        let (start, end) = learned_rotation(offset, STEPS);
        eprintln!("validation turned {offset}°: augmenter rotation {start:.1}° → {end:.1}°");
        // A sampling matrix R(α) shows the image turned by −α, so matching validation images
        // turned by φ takes α = −φ. Both runs start from the same θ; the learned rotation must
        // end on the side of the data and reach at least half of it.
        assert!(
            -end * offset.signum() >= offset.abs() / 2.0,
            "validation turned {offset}°: the augmenter ended at {end:.1}° (from {start:.1}°), \
             not toward {:.0}°",
            -offset
        );
    }
}
