//! One epoch of a training run: the scheduled learning rate, the learner's steps over the
//! epoch's batches (stoppable after any of them), evaluation, the epoch's record, and the
//! pictures grid; plus the seeds every epoch derives from (seed, epoch).
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::Device;

use crate::data::{BatchLoader, ImageSet, LoaderConfig, Normalization};
use crate::store::RunDir;

use super::config::RunConfig;
use super::control::RunControl;
use super::error::TrainError;
use super::evaluate::evaluate;
use super::learner::{EpochStart, Learner, Preview, StepTotals};
use super::pictures::save_pairs_grid;
use super::records::{EpochRecord, RunEvent};

/// Streams separating the random draws derived from (seed, epoch).
const NOISE_STREAM: u64 = 0x4e4f_4953;
pub(super) const VAL_STREAM: u64 = 0x5641_4c49;
const GRID_STREAM: u64 = 0x4752_4944;
pub(super) const SERVED_STREAM: u64 = 0x5345_5256;

/// The seed of one random stream of one epoch, so that epoch e draws the same numbers whether
/// or not the run was interrupted before it.
pub(super) fn epoch_mix(seed: u64, epoch: u64, stream: u64) -> u64 {
    seed ^ stream.rotate_left(17) ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What every epoch of a run reads: the configuration, the data and its loaders, where
/// progress goes.
pub(super) struct Epochs<'a> {
    pub(super) config: &'a RunConfig,
    pub(super) dir: &'a Path,
    pub(super) device: Device,
    pub(super) train: Arc<ImageSet>,
    pub(super) val: Option<Arc<ImageSet>>,
    pub(super) test: Option<ImageSet>,
    pub(super) norm: Normalization,
    pub(super) train_loader: LoaderConfig,
    /// The validation split and its loader, whose batches the bilevel step cycles through.
    pub(super) val_batches: Option<(Arc<ImageSet>, LoaderConfig)>,
    pub(super) steps_per_epoch: usize,
    pub(super) events: Option<&'a Sender<RunEvent>>,
    pub(super) control: &'a RunControl,
}

impl Epochs<'_> {
    /// Trains `learner` through `epoch` and evaluates it: the epoch's record.
    pub(super) fn train(
        &self,
        learner: &mut dyn Learner,
        epoch: u64,
    ) -> Result<EpochRecord, TrainError> {
        let c = self.config;
        check(self.control)?;
        let start = Instant::now();
        let mut step_start = start;
        let lr = c.classifier.schedule.lr_at(c.classifier.lr, epoch);
        learner.classifier_mut().optimizer.config.lr = lr;
        let mut batches = BatchLoader::epoch(self.train.clone(), &self.train_loader, epoch)?;
        learner.start_epoch(&EpochStart {
            epoch,
            noise_seed: epoch_mix(c.seed, epoch, NOISE_STREAM),
            val: self.val_batches.as_ref(),
        })?;
        let mut totals = StepTotals::default();
        while let Some(outcome) = learner.step(&mut batches, self.device)? {
            totals.add(&outcome);
            send(
                self.events,
                RunEvent::Step {
                    epoch,
                    step: totals.steps,
                    steps_per_epoch: self.steps_per_epoch,
                    train_loss: outcome.loss,
                    images: outcome.images,
                    seconds: lap(&mut step_start),
                },
            );
            check(self.control)?;
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let classifier = learner.classifier();
        // From the steps' own logits: a second pass over the training split would cost
        // about a third of a plain epoch.
        let train_acc = 100.0 * totals.correct as f64 / totals.images.max(1) as f64;
        let (val_loss, val_acc) = match &self.val {
            Some(val) => {
                let (loss, acc) = evaluate(classifier, val, &self.norm, self.device)?;
                (Some(loss), Some(acc))
            }
            None => (None, None),
        };
        let test_acc = match &self.test {
            Some(test) if c.output.tests_after(epoch, c.epochs) => {
                Some(evaluate(classifier, test, &self.norm, self.device)?.1)
            }
            _ => None,
        };
        let summary = learner.epoch_summary(&totals, epoch_mix(c.seed, epoch, SERVED_STREAM))?;
        Ok(EpochRecord {
            epoch,
            train_loss: totals.loss_sum / totals.steps.max(1) as f64,
            val_loss,
            train_acc,
            val_acc,
            test_acc,
            lr,
            seconds: start.elapsed().as_secs_f64(),
            images_per_second: totals.images as f64 / train_seconds.max(1e-9),
            augmenter_grad_norm: summary.augmenter_grad_norm,
            collapsed: summary.collapsed,
            transforms: summary.transforms,
            served: summary.served,
        })
    }

    /// The original | augmented grid of the first training images, as the augmenter (trained
    /// or frozen; or, in `handcrafted` mode, the baseline) transforms them at this epoch.
    pub(super) fn save_grid(&self, learner: &dyn Learner, epoch: u64) -> Result<(), TrainError> {
        let (train, norm) = (&self.train, &self.norm);
        let count = self.config.output.grid_images.min(train.len());
        if count == 0 {
            return Ok(());
        }
        let indices: Vec<usize> = (0..count).collect();
        let batch = train.to_batch(&indices, norm)?.to_device(self.device)?;
        let seed = epoch_mix(self.config.seed, epoch, GRID_STREAM);
        let mut rng = StdRng::seed_from_u64(seed);
        let preview = Preview {
            images: &batch.images,
            train,
            indices: &indices,
            normalization: norm,
            epoch,
            seed,
            device: self.device,
        };
        let Some(augmented) = learner.preview(&preview, &mut rng)? else {
            return Ok(());
        };
        let run = RunDir::new(self.dir);
        let dir = run.grids();
        std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        save_pairs_grid(
            &run.grid(epoch),
            &norm.unstandardize(&batch.images)?,
            &norm.unstandardize(&augmented)?,
        )?;
        Ok(())
    }
}

/// `Err(Stopped)` once a stop is requested.
fn check(control: &RunControl) -> Result<(), TrainError> {
    match control.stop_requested() {
        Some(reason) => Err(TrainError::Stopped(reason)),
        None => Ok(()),
    }
}

/// Seconds since `*since`, which becomes now.
fn lap(since: &mut Instant) -> f64 {
    let now = Instant::now();
    let seconds = now.duration_since(*since).as_secs_f64();
    *since = now;
    seconds
}

/// Sends `event` to `events`, if any.
pub(super) fn send(events: Option<&Sender<RunEvent>>, event: RunEvent) {
    if let Some(events) = events {
        // A front end that went away must not stop the run.
        let _ignored = events.send(event);
    }
}
