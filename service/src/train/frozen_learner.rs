//! The learner of a `served` run: a fresh classifier trained with plain SGD on batches that a
//! frozen, already trained augmenter (`augment.model`) augments the way the Augment RPC does —
//! [`augment_standardized`], one copy, dropout on, the noise of each batch drawn from the run's
//! seeded RNG — on top of the hand-crafted baseline the loader already applied. The model's
//! fingerprint in the run directory is `frozen_fingerprint`'s.
use std::path::Path;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Tensor};

use crate::bilevel::{column_stats, BatchRef, ClassifierState};
use crate::data::{EpochBatches, ImageShape, Normalization};
use crate::nn::Augmented;

use super::error::TrainError;
use super::learner::{EpochStart, EpochSummary, Learner, Preview, StepOutcome, StepTotals};
use super::publish::ModelSource;
use super::state::Parts;
use crate::model::{augment_standardized, is_collapsed, load_model, model_files, Model, ModelBase};

/// Means and stds closer than this (relative) are the same normalization: a model's
/// description stores them as JSON, which reads floats back to within an ulp.
const SAME_NORMALIZATION: f64 = 1e-9;

/// A trained augmenter, frozen, checked against the images of the run it augments.
pub struct FrozenAugmenter {
    model: Model,
    /// The model's standardization.
    model_normalization: Normalization,
    /// The run's standardization when it is not the model's: batches then go through pixel
    /// units into the model's standardization and back, as the Augment RPC does for a client
    /// that sends float pixels.
    run_normalization: Option<Normalization>,
}

impl FrozenAugmenter {
    /// Loads the model at `path` (a `model.safetensors`, or the directory holding it) onto
    /// `device` for images of `shape` standardized with `normalization`.
    pub fn load(
        path: &Path,
        normalization: &Normalization,
        shape: ImageShape,
        device: Device,
    ) -> Result<Self, TrainError> {
        let [weights, _] = model_files(path);
        let model = load_model(path, device)?;
        Self::new(model, &weights, normalization, shape)
    }

    /// Checks that `model` (read from `weights`) augments images of `shape`: the same channels
    /// and the height × width it was trained on.
    pub fn new(
        model: Model,
        weights: &Path,
        normalization: &Normalization,
        shape: ImageShape,
    ) -> Result<Self, TrainError> {
        let refuse = |problem: String| TrainError::ServedModel {
            path: weights.to_path_buf(),
            problem,
        };
        let channels = model.augmenter.channels() as usize;
        if channels != shape.channels {
            return Err(refuse(format!(
                "the model augments {channels}-channel images, the run's data has {} channels",
                shape.channels
            )));
        }
        let (height, width) = (model.info.shape.height, model.info.shape.width);
        if (height, width) != (shape.height, shape.width) {
            return Err(refuse(format!(
                "the model was trained on {height}×{width} images, the run's data is {}×{}",
                shape.height, shape.width
            )));
        }
        let model_normalization = model.info.normalization.clone();
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= SAME_NORMALIZATION * x.abs().max(1.0))
        };
        let run_normalization = (!same(&normalization.mean, &model_normalization.mean)
            || !same(&normalization.std, &model_normalization.std))
        .then(|| normalization.clone());
        Ok(Self {
            model,
            model_normalization,
            run_normalization,
        })
    }

    /// Checks that the run's loader applies the base the model was learned on top of
    /// (`run_base`, from `augment.baseline`, `crop_padding` and `color_jitter`): a served
    /// model sees the images it learned on. Models without a recorded base take any.
    pub fn require_base(
        self,
        run_base: Option<ModelBase>,
        weights: &Path,
    ) -> Result<Self, TrainError> {
        let Some(base) = self.model.info.base else {
            return Ok(self);
        };
        if run_base == Some(base) {
            return Ok(self);
        }
        let run = run_base.map_or("none".to_string(), |b| b.to_string());
        Err(TrainError::ServedModel {
            path: weights.to_path_buf(),
            problem: format!(
                "the model was learned on top of the hand-crafted base {base}, but this run's \
                 augment.baseline applies {run}: set augment.baseline (and crop_padding, \
                 color_jitter) to the model's base"
            ),
        })
    }

    /// Names of the columns of the transformations it applies.
    pub fn transform_names(&self) -> Vec<&'static str> {
        self.model.augmenter.transform_names()
    }

    /// Augments standardized `images` [B, C, H, W] once each, with dropout on and the noise
    /// drawn from `rng`; the result is in the run's standardization.
    pub fn augment(&self, images: &Tensor, rng: &mut StdRng) -> Result<Augmented, TrainError> {
        let model = &self.model_normalization;
        match &self.run_normalization {
            None => Ok(augment_standardized(&self.model, images, 1, rng, true)?),
            Some(run) => {
                let input = model.standardize(&run.unstandardize(images)?)?;
                let augmented = augment_standardized(&self.model, &input, 1, rng, true)?;
                Ok(Augmented {
                    images: run.standardize(&model.unstandardize(&augmented.images)?)?,
                    transform: augmented.transform,
                    moments: augmented.moments,
                })
            }
        }
    }
}

/// What one step of a served run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenStep {
    /// The classifier's training loss on the augmented batch.
    pub train_loss: f64,
    /// Images of the augmented batch its logits classified correctly.
    pub train_correct: usize,
    /// Per transformation parameter, the mean over the batch.
    pub transform_mean: Vec<f64>,
    /// Per transformation parameter, the standard deviation over the batch.
    pub transform_std: Vec<f64>,
}

/// A classifier trained on what a frozen augmenter makes of its batches.
pub struct FrozenLearner {
    /// The classifier with its optimizer.
    pub classifier: ClassifierState,
    /// The augmenter, never updated.
    pub augmenter: FrozenAugmenter,
    /// The noise of the epoch in progress.
    rng: StdRng,
}

impl FrozenLearner {
    /// `classifier` trained on what `augmenter` makes of its batches.
    pub fn new(classifier: ClassifierState, augmenter: FrozenAugmenter) -> Self {
        Self {
            classifier,
            augmenter,
            // Reseeded at every epoch's start.
            rng: StdRng::seed_from_u64(0),
        }
    }
}

/// Augments `batch` with `augmenter` (noise from `rng`) and steps `classifier` on the result.
fn frozen_step(
    classifier: &mut ClassifierState,
    augmenter: &FrozenAugmenter,
    batch: BatchRef,
    rng: &mut StdRng,
) -> Result<FrozenStep, TrainError> {
    let augmented = augmenter.augment(batch.images, rng)?;
    let step = classifier.plain_step(BatchRef {
        images: &augmented.images,
        labels: batch.labels,
    })?;
    let (transform_mean, transform_std) = column_stats(&augmented.transform)?;
    Ok(FrozenStep {
        train_loss: step.loss,
        train_correct: step.correct,
        transform_mean,
        transform_std,
    })
}

impl Learner for FrozenLearner {
    fn start_epoch(&mut self, start: &EpochStart) -> Result<(), TrainError> {
        self.rng = StdRng::seed_from_u64(start.noise_seed);
        Ok(())
    }

    fn step(
        &mut self,
        batches: &mut EpochBatches,
        device: Device,
    ) -> Result<Option<StepOutcome>, TrainError> {
        let Some(batch) = batches.next() else {
            return Ok(None);
        };
        let batch = batch?.to_device(device)?;
        let report = frozen_step(
            &mut self.classifier,
            &self.augmenter,
            BatchRef::from(&batch),
            &mut self.rng,
        )?;
        Ok(Some(StepOutcome {
            loss: report.train_loss,
            correct: report.train_correct,
            images: batch.len(),
            augmenter_grad_norm: None,
            transform: Some((report.transform_mean, report.transform_std)),
        }))
    }

    fn classifier(&self) -> &ClassifierState {
        &self.classifier
    }

    fn classifier_mut(&mut self) -> &mut ClassifierState {
        &mut self.classifier
    }

    fn parts(&mut self) -> Parts<'_> {
        Parts {
            classifier: &mut self.classifier,
            augmenter: None,
            teacher: None,
        }
    }

    fn epoch_summary(
        &self,
        totals: &StepTotals,
        _served_seed: u64,
    ) -> Result<EpochSummary, TrainError> {
        let transforms = totals.transforms.finish(&self.augmenter.transform_names());
        Ok(EpochSummary {
            augmenter_grad_norm: None,
            collapsed: is_collapsed(&transforms),
            transforms,
            served: Vec::new(),
        })
    }

    fn preview(&self, preview: &Preview, rng: &mut StdRng) -> Result<Option<Tensor>, TrainError> {
        Ok(Some(self.augmenter.augment(preview.images, rng)?.images))
    }

    fn model_source(&self) -> Option<ModelSource<'_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;
    use tch::Kind;

    use super::*;
    use crate::model::test_support::{test_images as images, test_model};
    use crate::nn::{AugmenterKind, Classifier, ClassifierArch};
    use crate::optim::SgdConfig;

    /// `test_model`'s normalization (0.4, 0.3) and image size (12 × 10).
    fn model_shape(channels: usize) -> (Normalization, ImageShape) {
        (
            Normalization {
                mean: vec![0.4; channels],
                std: vec![0.3; channels],
            },
            ImageShape::new(channels, 12, 10),
        )
    }

    fn frozen(normalization: &Normalization) -> FrozenAugmenter {
        let (_, shape) = model_shape(3);
        let model = test_model(AugmenterKind::AffineColor, 3, 5);
        FrozenAugmenter::new(model, Path::new("m.safetensors"), normalization, shape).unwrap()
    }

    #[test]
    fn a_served_run_must_apply_the_base_its_model_learned_on() {
        let (normalization, shape) = model_shape(3);
        let base = |name: &str| ModelBase {
            baseline: name.parse().unwrap(),
            crop_padding: 2,
            color_jitter: false,
        };
        let weights = Path::new("m.safetensors");
        let with_base = || {
            let mut model = test_model(AugmenterKind::AffineColor, 3, 5);
            model.info.base = Some(base("crop+flip"));
            FrozenAugmenter::new(model, weights, &normalization, shape).unwrap()
        };
        assert!(with_base()
            .require_base(Some(base("crop+flip")), weights)
            .is_ok());
        let err = with_base()
            .require_base(Some(base("crop+flip+randaugment")), weights)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("m.safetensors")
                && err.contains("base crop+flip, crop padding 2")
                && err.contains("applies crop+flip+randaugment"),
            "{err}"
        );
        let err = with_base().require_base(None, weights).err().unwrap();
        assert!(err.to_string().contains("applies none"), "{err}");
        // A model without a recorded base takes any run.
        assert!(frozen(&normalization)
            .require_base(Some(base("crop+flip")), weights)
            .is_ok());
    }

    #[test]
    fn a_batch_is_augmented_exactly_as_the_augment_rpc_does() {
        let (normalization, _) = model_shape(3);
        let augmenter = frozen(&normalization);
        let input = images(4, 3);
        let served = augmenter
            .augment(&input, &mut StdRng::seed_from_u64(21))
            .unwrap();
        let model = test_model(AugmenterKind::AffineColor, 3, 5);
        let rpc =
            augment_standardized(&model, &input, 1, &mut StdRng::seed_from_u64(21), true).unwrap();
        assert!(served.images.equal(&rpc.images));
        assert!(served.transform.equal(&rpc.transform));
        assert!(!served.images.allclose(&input, 1e-3, 1e-3, false));
    }

    #[test]
    fn another_normalization_goes_through_pixels_like_a_float_pixel_client() {
        let run = Normalization {
            mean: vec![0.5, 0.45, 0.35],
            std: vec![0.25, 0.2, 0.3],
        };
        let augmenter = frozen(&run);
        let input = images(3, 3);
        let served = augmenter
            .augment(&input, &mut StdRng::seed_from_u64(4))
            .unwrap();
        // The client: pixels of its images to the server, which standardizes them with the
        // model's statistics, augments, returns pixels; the client standardizes them its way.
        let (model_normalization, _) = model_shape(3);
        let pixels = run.unstandardize(&input).unwrap();
        let model = test_model(AugmenterKind::AffineColor, 3, 5);
        let sent = model_normalization.standardize(&pixels).unwrap();
        let rpc =
            augment_standardized(&model, &sent, 1, &mut StdRng::seed_from_u64(4), true).unwrap();
        let received = model_normalization.unstandardize(&rpc.images).unwrap();
        let expected = run.standardize(&received).unwrap();
        assert!(served.images.allclose(&expected, 1e-5, 1e-5, false));
        assert!(served.transform.equal(&rpc.transform));
    }

    #[test]
    fn the_classifier_steps_on_the_augmented_batch() {
        let (normalization, shape) = model_shape(1);
        let classifier = || {
            let net = Classifier::new(ClassifierArch::SmallCnn, 1, 3).unwrap();
            let (weights, buffers) = net.init(3, Kind::Float, Device::Cpu).unwrap();
            let sgd = SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 5e-4,
            };
            ClassifierState::new((net, weights, buffers), sgd).unwrap()
        };
        let kind = AugmenterKind::SmallAffine(crate::nn::AffineVariant::Affine);
        let model = test_model(kind, 1, 8);
        let augmenter = FrozenAugmenter::new(model, Path::new("m"), &normalization, shape).unwrap();
        let mut learner = FrozenLearner::new(classifier(), augmenter);
        let input = images(6, 1);
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
        let batch = BatchRef {
            images: &input,
            labels: &labels,
        };
        let step = frozen_step(
            &mut learner.classifier,
            &learner.augmenter,
            batch,
            &mut StdRng::seed_from_u64(33),
        )
        .unwrap();

        // The same classifier stepped by hand on augment_standardized's images.
        let model = test_model(kind, 1, 8);
        let rpc =
            augment_standardized(&model, &input, 1, &mut StdRng::seed_from_u64(33), true).unwrap();
        let mut by_hand = classifier();
        let by_hand_step = by_hand
            .plain_step(BatchRef {
                images: &rpc.images,
                labels: &labels,
            })
            .unwrap();
        let loss = by_hand_step.loss;
        assert_eq!(step.train_loss, loss);
        assert_eq!(step.train_correct, by_hand_step.correct);
        assert!(step.train_correct <= 6);
        for (name, weight) in learner.classifier.weights.iter() {
            assert!(weight.equal(by_hand.weights.get(name).unwrap()), "{name}");
        }
        let (mean, std) = column_stats(&rpc.transform).unwrap();
        assert_eq!((&step.transform_mean, &step.transform_std), (&mean, &std));
        assert_eq!(step.transform_std.len(), 6);
        assert!(step.transform_std.iter().any(|s| *s > 1e-3));
        // Not the loss of the un-augmented batch.
        let plain = classifier().plain_step(batch).unwrap();
        assert_ne!(plain.loss, loss);
    }

    #[test]
    fn a_model_for_other_images_is_refused_by_name() {
        let model = || test_model(AugmenterKind::AffineColor, 1, 5);
        let (normalization, _) = model_shape(3);
        let err = FrozenAugmenter::new(
            model(),
            Path::new("runs/grey/model.safetensors"),
            &normalization,
            ImageShape::new(3, 12, 10),
        )
        .err()
        .unwrap();
        let text = err.to_string();
        assert!(matches!(err, TrainError::ServedModel { .. }), "{text}");
        assert!(
            text.contains("runs/grey/model.safetensors")
                && text.contains("1-channel")
                && text.contains("3 channels"),
            "{text}"
        );
        let (normalization, _) = model_shape(1);
        let err = FrozenAugmenter::new(
            model(),
            Path::new("m"),
            &normalization,
            ImageShape::new(1, 16, 16),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("12×10") && err.to_string().contains("16×16"));
    }
}
