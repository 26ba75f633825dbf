//! The learner of the learned modes: the classifier and the augmenter it trains by the online
//! bilevel step (`crate::bilevel`), K training batches at a time with validation batches
//! cycled independently, the noise of each batch drawn from the epoch's seeded RNG. The
//! trained augmenter is what a run publishes.
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind, Tensor};

use crate::bilevel::{BatchRef, BilevelLearner, ClassifierState};
use crate::data::{Batch, EpochBatches, ImageShape, Normalization};

use super::bilevel_batches::{next_group, ValCycle};
use super::config::ConfigError;
use super::error::TrainError;
use super::learner::{EpochStart, EpochSummary, Learner, Preview, StepOutcome, StepTotals};
use super::publish::{served_now, ModelSource, EPOCH_SERVED_DRAWS};
use super::state::Parts;
use crate::model::{is_collapsed, ModelBase};

/// A classifier with the augmenter it trains, and what a model of that augmenter records.
pub struct BilevelRunLearner {
    learner: BilevelLearner,
    /// The normalization of the training images, which a published model undoes and redoes.
    normalization: Normalization,
    /// Their shape.
    shape: ImageShape,
    /// The soft bound on the affine matrix, if any.
    bound: Option<f64>,
    /// The hand-crafted augmentation the loader applies underneath, recorded in its models.
    base: Option<ModelBase>,
    /// The noise of the epoch in progress.
    rng: StdRng,
    /// The validation batches of the epoch in progress.
    val_cycle: Option<ValCycle>,
}

impl BilevelRunLearner {
    /// `learner`, for training images of `shape` standardized with `normalization`, augmented
    /// by `base` before the learned transform.
    pub fn new(
        learner: BilevelLearner,
        normalization: Normalization,
        shape: ImageShape,
        (bound, base): (Option<f64>, Option<ModelBase>),
    ) -> Self {
        Self {
            learner,
            base,
            normalization,
            shape,
            bound,
            // Reseeded at every epoch's start.
            rng: StdRng::seed_from_u64(0),
            val_cycle: None,
        }
    }
}

impl Learner for BilevelRunLearner {
    fn batches_per_step(&self) -> usize {
        self.learner.inner_steps()
    }

    fn start_epoch(&mut self, start: &EpochStart) -> Result<(), TrainError> {
        // `validate` refuses data.val_ratio = 0 in learned modes; this only guards.
        let (val_set, val_loader) = start.val.cloned().ok_or_else(|| ConfigError {
            key: "data.val_ratio".into(),
            problem: "the learned modes need validation images for the bilevel step".into(),
        })?;
        self.learner.start_epoch()?;
        self.rng = StdRng::seed_from_u64(start.noise_seed);
        self.val_cycle = Some(ValCycle::new(val_set, val_loader, start.epoch));
        Ok(())
    }

    fn step(
        &mut self,
        batches: &mut EpochBatches,
        device: Device,
    ) -> Result<Option<StepOutcome>, TrainError> {
        let Some(group) = next_group(batches, self.learner.inner_steps(), device)? else {
            return Ok(None);
        };
        let net = &self.learner.augmenter.net;
        let noise = group
            .iter()
            .map(|b| net.sample_noise(b.len() as i64, &mut self.rng, true, (Kind::Float, device)))
            .collect::<Result<Vec<_>, _>>()?;
        let val_cycle = self.val_cycle.as_mut().ok_or_else(|| {
            TrainError::InvalidArgument("a bilevel step before its epoch's start".into())
        })?;
        let val_batch = val_cycle.next(device)?;
        let refs: Vec<BatchRef> = group.iter().map(BatchRef::from).collect();
        let report = self
            .learner
            .step(&refs, &noise, BatchRef::from(&val_batch))?;
        Ok(Some(StepOutcome {
            loss: report.train_loss,
            correct: report.train_correct,
            images: group.iter().map(Batch::len).sum(),
            augmenter_grad_norm: Some(report.augmenter_grad_norm),
            transform: Some((report.transform_mean, report.transform_std)),
        }))
    }

    fn classifier(&self) -> &ClassifierState {
        &self.learner.classifier
    }

    fn classifier_mut(&mut self) -> &mut ClassifierState {
        &mut self.learner.classifier
    }

    fn parts(&mut self) -> Parts<'_> {
        Parts {
            classifier: &mut self.learner.classifier,
            augmenter: Some(&mut self.learner.augmenter),
            teacher: self.learner.teacher.as_mut(),
        }
    }

    /// Collapse is decided on what a model published now would serve, not on the epoch's
    /// pooled transforms, during which the augmenter kept moving.
    fn epoch_summary(
        &self,
        totals: &StepTotals,
        served_seed: u64,
    ) -> Result<EpochSummary, TrainError> {
        let transforms = totals
            .transforms
            .finish(&self.learner.augmenter.net.transform_names());
        let source = self.source();
        let served = served_now(&source, EPOCH_SERVED_DRAWS, served_seed)?.params;
        Ok(EpochSummary {
            augmenter_grad_norm: Some(totals.grad_norm_sum / totals.steps.max(1) as f64),
            transforms,
            collapsed: is_collapsed(&served),
            served,
        })
    }

    fn preview(&self, preview: &Preview, rng: &mut StdRng) -> Result<Option<Tensor>, TrainError> {
        let _no_grad = tch::no_grad_guard();
        let net = &self.learner.augmenter.net;
        let count = preview.indices.len() as i64;
        let noise = net.sample_noise(count, rng, true, (Kind::Float, preview.device))?;
        let augmented = net.forward(&self.learner.augmenter.theta, preview.images, &noise)?;
        Ok(Some(augmented.images))
    }

    fn model_source(&self) -> Option<ModelSource<'_>> {
        Some(self.source())
    }
}

impl BilevelRunLearner {
    fn source(&self) -> ModelSource<'_> {
        ModelSource {
            augmenter: &self.learner.augmenter,
            normalization: &self.normalization,
            shape: self.shape,
            bound: self.bound,
            base: self.base,
        }
    }
}
