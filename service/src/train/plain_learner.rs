//! The learner of the `none` and `handcrafted` modes: a classifier trained with plain SGD on
//! the loader's batches, whose hand-crafted baseline is all the augmentation there is.
use std::sync::Arc;

use rand::rngs::StdRng;
use tch::{Device, Tensor};

use crate::bilevel::{BatchRef, ClassifierState};
use crate::data::{Baseline, BatchLoader, EpochBatches, LoaderConfig};

use super::config::AugmentConfig;
use super::error::TrainError;
use super::learner::{EpochStart, EpochSummary, Learner, Preview, StepOutcome, StepTotals};
use super::publish::ModelSource;
use super::state::Parts;
use crate::model::is_collapsed;

/// A classifier alone.
pub struct PlainLearner {
    classifier: ClassifierState,
    /// The baseline with its settings, which the grid shows.
    baseline: Baseline,
    color_jitter: bool,
    crop_padding: usize,
}

impl PlainLearner {
    /// `classifier`, with the hand-crafted part of `augment` for the pictures grid.
    pub fn new(classifier: ClassifierState, augment: &AugmentConfig) -> Self {
        Self {
            classifier,
            baseline: augment.baseline_with_settings(),
            color_jitter: augment.color_jitter,
            crop_padding: augment.crop_padding,
        }
    }
}

impl Learner for PlainLearner {
    fn start_epoch(&mut self, _start: &EpochStart) -> Result<(), TrainError> {
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
        let outcome = self.classifier.plain_step(BatchRef::from(&batch))?;
        Ok(Some(StepOutcome {
            loss: outcome.loss,
            correct: outcome.correct,
            images: batch.len(),
            augmenter_grad_norm: None,
            transform: None,
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
        _totals: &StepTotals,
        _served_seed: u64,
    ) -> Result<EpochSummary, TrainError> {
        Ok(EpochSummary {
            augmenter_grad_norm: None,
            transforms: Vec::new(),
            served: Vec::new(),
            collapsed: is_collapsed(&[]),
        })
    }

    /// The baseline's transformation of the grid images, drawn as a loader of the grid's
    /// seed draws it.
    fn preview(&self, preview: &Preview, _rng: &mut StdRng) -> Result<Option<Tensor>, TrainError> {
        let mut loader = LoaderConfig::new(preview.indices.len(), preview.normalization.clone());
        loader.seed = preview.seed;
        loader.shuffle = false;
        loader.prefetch = 0;
        loader.baseline = self.baseline;
        loader.color_jitter = self.color_jitter;
        loader.crop_padding = self.crop_padding;
        let subset = Arc::new(preview.train.subset(preview.indices)?);
        match BatchLoader::epoch(subset, &loader, preview.epoch)?.next() {
            Some(b) => Ok(Some(b?.to_device(preview.device)?.images)),
            None => Ok(None),
        }
    }

    fn model_source(&self) -> Option<ModelSource<'_>> {
        None
    }
}
