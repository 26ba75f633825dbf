//! The learner of a `served` run: a fresh classifier trained with plain SGD on batches that a
//! frozen, already trained augmenter (`augment.model`) augments the way the Augment RPC does —
//! [`augment_standardized`], one copy, dropout on, the noise of each batch drawn from the run's
//! seeded RNG — on top of the hand-crafted baseline the loader already applied. Also the
//! fingerprint of that model kept in the run directory, so that a run whose model file changed
//! is refused rather than resumed with another augmenter.
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::bilevel::{column_stats, BatchRef, ClassifierState};
use crate::data::{ImageShape, Normalization};
use crate::nn::Augmented;
use crate::store::atomic::write_bytes_atomically;
use crate::store::sha256_of_file;

use super::error::TrainError;
use crate::model::{augment_standardized, load_model, model_files, Model};

/// Means and stds closer than this (relative) are the same normalization: a model's
/// description stores them as JSON, which reads floats back to within an ulp.
const SAME_NORMALIZATION: f64 = 1e-9;

/// The file of the run directory that fingerprints the frozen model.
pub const FINGERPRINT_FILE: &str = "served-model.json";

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
                })
            }
        }
    }
}

/// What one step of a served run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedStep {
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
pub struct ServedLearner {
    /// The classifier with its optimizer.
    pub classifier: ClassifierState,
    /// The augmenter, never updated.
    pub augmenter: FrozenAugmenter,
}

impl ServedLearner {
    /// Augments `batch` (noise from `rng`) and takes one plain SGD step on the result.
    pub fn step(&mut self, batch: BatchRef, rng: &mut StdRng) -> Result<ServedStep, TrainError> {
        let augmented = self.augmenter.augment(batch.images, rng)?;
        let step = self.classifier.plain_step(BatchRef {
            images: &augmented.images,
            labels: batch.labels,
        })?;
        let (transform_mean, transform_std) = column_stats(&augmented.transform)?;
        Ok(ServedStep {
            train_loss: step.loss,
            train_correct: step.correct,
            transform_mean,
            transform_std,
        })
    }
}

/// The model a served run started with, as the run directory remembers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ModelFingerprint {
    /// The weights file, as configured.
    weights: PathBuf,
    /// SHA-256 of the weights file.
    weights_sha256: String,
    /// SHA-256 of the description beside it.
    description_sha256: String,
}

/// Lower-case hex SHA-256 of a file.
fn sha256_of(path: &Path) -> Result<String, TrainError> {
    Ok(sha256_of_file(path)?.0)
}

/// Records the fingerprint of the model at `path` in `run_dir` at a run's first start, and at
/// every later start refuses a model whose files changed since.
pub fn check_model_unchanged(run_dir: &Path, path: &Path) -> Result<(), TrainError> {
    let [weights, description] = model_files(path);
    let now = ModelFingerprint {
        weights_sha256: sha256_of(&weights)?,
        description_sha256: sha256_of(&description)?,
        weights: weights.clone(),
    };
    let file = run_dir.join(FINGERPRINT_FILE);
    let unreadable = |problem: String| TrainError::RunDir {
        path: file.clone(),
        problem,
    };
    match std::fs::read(&file) {
        Ok(bytes) => {
            let then: ModelFingerprint = serde_json::from_slice(&bytes)
                .map_err(|e| unreadable(format!("not a model fingerprint: {e}")))?;
            let changed = |what: &str, then: &str, now: &str| {
                (then != now)
                    .then(|| format!("{what} has SHA-256 {now}, the run started with {then}"))
            };
            let differences: Vec<String> = [
                changed(
                    "model.safetensors",
                    &then.weights_sha256,
                    &now.weights_sha256,
                ),
                changed(
                    "model.json",
                    &then.description_sha256,
                    &now.description_sha256,
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            if differences.is_empty() {
                return Ok(());
            }
            Err(TrainError::ServedModel {
                path: weights,
                problem: format!(
                    "changed since this run started ({}); restore it or use a new run directory",
                    differences.join("; ")
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let json = serde_json::to_vec_pretty(&now)
                .map_err(|e| unreadable(format!("cannot write the model fingerprint: {e}")))?;
            write_bytes_atomically(&file, &json)?;
            Ok(())
        }
        Err(e) => Err(TrainError::io(&file)(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;
    use tch::Kind;

    use super::*;
    use crate::model::save_model;
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
        let mut learner = ServedLearner {
            classifier: classifier(),
            augmenter,
        };
        let input = images(6, 1);
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
        let batch = BatchRef {
            images: &input,
            labels: &labels,
        };
        let step = learner.step(batch, &mut StdRng::seed_from_u64(33)).unwrap();

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

    #[test]
    fn a_changed_model_file_is_refused_at_the_next_start() {
        let models = tempfile::tempdir().unwrap();
        let run_dir = tempfile::tempdir().unwrap();
        let model = test_model(AugmenterKind::AffineColor, 3, 5);
        let weights = save_model(models.path(), &model.info, &model.theta).unwrap();
        check_model_unchanged(run_dir.path(), &weights).unwrap();
        let stored = std::fs::read_to_string(run_dir.path().join(FINGERPRINT_FILE)).unwrap();
        assert!(stored.contains(&sha256_of(&weights).unwrap()));
        // The directory names the same files.
        check_model_unchanged(run_dir.path(), models.path()).unwrap();

        let other = test_model(AugmenterKind::AffineColor, 3, 6);
        save_model(models.path(), &other.info, &other.theta).unwrap();
        let err = check_model_unchanged(run_dir.path(), &weights).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TrainError::ServedModel { .. }), "{text}");
        assert!(
            text.contains("changed since this run started") && text.contains("model.safetensors"),
            "{text}"
        );
        assert!(!text.contains("model.json has"), "{text}");
    }
}
