//! The learner of a training run, behind one trait so that the epoch loop is written once: a
//! classifier alone (`plain_learner`), a classifier after a frozen trained augmenter
//! (`frozen_learner`, the `served` mode), or a classifier with the augmenter it trains by the
//! bilevel step (`bilevel_learner`). A learner takes steps over the epoch's batches, lends its
//! classifier for evaluation and its tensors to the checkpoint, sums up its part of the
//! epoch's record, draws the augmented half of the pictures grid, and names what it publishes.
use std::sync::Arc;

use rand::rngs::StdRng;
use tch::{Device, Tensor};

use crate::bilevel::ClassifierState;

use crate::data::{EpochBatches, ImageSet, LoaderConfig, Normalization};

use super::error::TrainError;
use super::publish::ModelSource;
use super::records::{TransformAccumulator, TransformStat};
use super::state::Parts;

/// What one step measured, for the step event and the epoch's sums.
pub struct StepOutcome {
    /// The step's training loss.
    pub loss: f64,
    /// Images its logits classified correctly.
    pub correct: usize,
    /// Images it trained on.
    pub images: usize,
    /// ‖∂L_val/∂θ‖ of a bilevel step.
    pub augmenter_grad_norm: Option<f64>,
    /// Per transformation parameter, the mean and standard deviation over the step's images,
    /// when an augmenter transformed them.
    pub transform: Option<(Vec<f64>, Vec<f64>)>,
}

/// The sums of an epoch's steps.
#[derive(Default)]
pub struct StepTotals {
    /// Steps taken.
    pub steps: usize,
    /// Sum of the steps' losses.
    pub loss_sum: f64,
    /// Images classified correctly.
    pub correct: usize,
    /// Images trained on.
    pub images: usize,
    /// Sum of the bilevel steps' augmenter gradient norms.
    pub grad_norm_sum: f64,
    /// The transformations the augmenter applied.
    pub transforms: TransformAccumulator,
}

impl StepTotals {
    /// Adds one step.
    pub fn add(&mut self, outcome: &StepOutcome) {
        self.steps += 1;
        self.loss_sum += outcome.loss;
        self.correct += outcome.correct;
        self.images += outcome.images;
        if let Some(norm) = outcome.augmenter_grad_norm {
            self.grad_norm_sum += norm;
        }
        if let Some((mean, std)) = &outcome.transform {
            self.transforms.add(outcome.images, mean, std);
        }
    }
}

/// The learner's part of an epoch's record.
pub struct EpochSummary {
    /// Mean ‖∂L_val/∂θ‖ over the epoch's steps (learned modes).
    pub augmenter_grad_norm: Option<f64>,
    /// The transformations applied during the epoch.
    pub transforms: Vec<TransformStat>,
    /// What a model published now would serve (learned modes).
    pub served: Vec<TransformStat>,
    /// Whether the augmenter collapsed, decided on `served` when there is one, else on
    /// `transforms`.
    pub collapsed: bool,
}

/// What an epoch gives its learner before the first step.
pub struct EpochStart<'a> {
    /// The epoch.
    pub epoch: u64,
    /// The seed of the epoch's augmentation noise.
    pub noise_seed: u64,
    /// The validation split and its loader, when the run has one.
    pub val: Option<&'a (Arc<ImageSet>, LoaderConfig)>,
}

/// The first training images of an epoch's pictures grid.
pub struct Preview<'a> {
    /// Their standardized images, on the device.
    pub images: &'a Tensor,
    /// The training split.
    pub train: &'a ImageSet,
    /// Which images of it.
    pub indices: &'a [usize],
    /// The run's normalization.
    pub normalization: &'a Normalization,
    /// The epoch.
    pub epoch: u64,
    /// The seed of the grid's random draws (also `rng`'s).
    pub seed: u64,
    /// The device.
    pub device: Device,
}

/// The learner of a run.
pub trait Learner {
    /// Training batches one step consumes.
    fn batches_per_step(&self) -> usize {
        1
    }

    /// Prepares the epoch's per-epoch state (noise, validation cycle).
    fn start_epoch(&mut self, start: &EpochStart) -> Result<(), TrainError>;

    /// One step over the next batches of `batches`; `None` when the epoch has no more.
    fn step(
        &mut self,
        batches: &mut EpochBatches,
        device: Device,
    ) -> Result<Option<StepOutcome>, TrainError>;

    /// The classifier with its optimizer.
    fn classifier(&self) -> &ClassifierState;

    /// The same, to set its learning rate.
    fn classifier_mut(&mut self) -> &mut ClassifierState;

    /// The tensors a checkpoint holds.
    fn parts(&mut self) -> Parts<'_>;

    /// Its part of the epoch's record; `served_seed` seeds the draws of what it would serve.
    fn epoch_summary(
        &self,
        totals: &StepTotals,
        served_seed: u64,
    ) -> Result<EpochSummary, TrainError>;

    /// The augmented half of the pictures grid (`None`: no grid this epoch), noise from `rng`.
    fn preview(&self, preview: &Preview, rng: &mut StdRng) -> Result<Option<Tensor>, TrainError>;

    /// The augmenter it publishes as a model (learned modes).
    fn model_source(&self) -> Option<ModelSource<'_>>;
}
