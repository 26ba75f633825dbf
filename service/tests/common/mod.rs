//! Tiny bilevel problems shared by the integration tests: seeded networks, batches and noise.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use augmentd::bilevel::{BatchRef, BilevelConfig, BilevelLearner};
use augmentd::nn::{
    AugmentNoise, Augmenter, AugmenterKind, AugmenterVariant, Classifier, ClassifierArch,
};
use augmentd::objective::AugmenterObjective;
use augmentd::optim::SgdConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use tch::{Device, Kind, Tensor};

/// An owned labelled batch.
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Batch {
    pub fn as_ref(&self) -> BatchRef<'_> {
        BatchRef {
            images: &self.images,
            labels: &self.labels,
        }
    }
}

/// The shape of a tiny problem.
#[derive(Clone, Copy)]
pub struct Problem {
    pub kind: AugmenterKind,
    pub variant: AugmenterVariant,
    pub channels: i64,
    pub side: i64,
    pub classes: i64,
    pub batch: i64,
    pub inner_steps: usize,
    pub momentum: f64,
    pub lr: f64,
    pub dtype: Kind,
    pub dropout: bool,
    pub objective: AugmenterObjective,
}

impl Problem {
    pub fn new(kind: AugmenterKind, channels: i64) -> Self {
        Self {
            kind,
            variant: AugmenterVariant::Reference,
            channels,
            side: 8,
            classes: 3,
            batch: 4,
            inner_steps: 1,
            momentum: 0.9,
            lr: 0.5,
            dtype: Kind::Double,
            dropout: false,
            objective: AugmenterObjective::default(),
        }
    }

    pub fn config(&self) -> BilevelConfig {
        BilevelConfig {
            inner_steps: self.inner_steps,
            classifier: SgdConfig {
                lr: self.lr,
                momentum: self.momentum,
                weight_decay: 5e-4,
            },
            augmenter: SgdConfig {
                lr: 0.2,
                momentum: 0.9,
                weight_decay: 0.01,
            },
            objective: self.objective,
        }
    }

    pub fn augmenter(&self) -> Augmenter {
        let mean = vec![0.45; self.channels as usize];
        let std = vec![0.25; self.channels as usize];
        Augmenter::new(self.kind, mean, std, None)
            .unwrap()
            .with_variant(self.variant)
    }

    /// A learner with seeded weights and, when `momentum` is on, a non-zero momentum buffer.
    pub fn learner(&self, seed: u64) -> BilevelLearner {
        let classifier =
            Classifier::new(ClassifierArch::SmallCnn, self.channels, self.classes).unwrap();
        let (weights, buffers) = classifier.init(seed, self.dtype, Device::Cpu).unwrap();
        let augmenter = self.augmenter();
        let theta = augmenter.init(seed + 1, self.dtype, Device::Cpu).unwrap();
        let mut learner = BilevelLearner::new(
            (classifier, weights, buffers),
            (augmenter, theta),
            self.config(),
        )
        .unwrap();
        if self.momentum != 0.0 {
            let mut rng = StdRng::seed_from_u64(seed + 2);
            let m = learner
                .classifier
                .weights
                .tensors()
                .iter()
                .map(|w| randn(&mut rng, &w.size(), self.dtype) * 0.05)
                .collect();
            learner.set_virtual_momentum(m).unwrap();
        }
        learner
    }

    /// `count` seeded batches of standardized images and labels.
    pub fn batches(&self, seed: u64, count: usize) -> Vec<Batch> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count)
            .map(|_| {
                let shape = [self.batch, self.channels, self.side, self.side];
                let labels: Vec<i64> = (0..self.batch)
                    .map(|_| rng.random_range(0..self.classes))
                    .collect();
                Batch {
                    images: randn(&mut rng, &shape, self.dtype),
                    labels: Tensor::from_slice(&labels),
                }
            })
            .collect()
    }

    pub fn noise(&self, seed: u64) -> Vec<AugmentNoise> {
        let mut rng = StdRng::seed_from_u64(seed);
        let augmenter = self.augmenter();
        (0..self.inner_steps)
            .map(|_| {
                augmenter
                    .sample_noise(
                        self.batch,
                        &mut rng,
                        self.dropout,
                        (self.dtype, Device::Cpu),
                    )
                    .unwrap()
            })
            .collect()
    }
}

pub fn refs(batches: &[Batch]) -> Vec<BatchRef<'_>> {
    batches.iter().map(Batch::as_ref).collect()
}

pub fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

/// max |a − b| / max |b|: the error relative to the tensor's scale.
pub fn relative_max_error(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_kind(Kind::Double);
    let b = b.to_kind(Kind::Double);
    let diff = (&a - &b).abs().max().double_value(&[]);
    diff / b.abs().max().double_value(&[]).max(1e-30)
}

/// Standard normal values from a seeded RNG: tests run in parallel threads, and libtorch's
/// global generator would make their draws depend on each other's timing.
pub fn randn(rng: &mut StdRng, shape: &[i64], kind: Kind) -> Tensor {
    let count: i64 = shape.iter().product();
    let values: Vec<f64> = (0..count).map(|_| rng.sample(StandardNormal)).collect();
    Tensor::from_slice(&values).view(shape).to_kind(kind)
}
