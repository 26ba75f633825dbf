//! A training run: the method's epoch loop over a dataset, resumable from its run directory.
//!
//! Each epoch: the classifier's scheduled learning rate; training batches (hand-crafted baseline
//! underneath) through the run's [`Learner`](super::learner::Learner): a plain SGD step (`none`,
//! `handcrafted`; `served` after a frozen trained augmenter, see `frozen_learner`) or the
//! bilevel step with validation batches cycled independently (learned modes, see
//! `bilevel_learner`); the training accuracy counted from the steps' own logits;
//! evaluation of validation accuracy (none with `data.val_ratio = 0`) and, every
//! `output.test_every` epochs and after the last, test accuracy; a record (for a learned
//! augmenter, with the distribution it would serve and the collapse flag decided on it); a
//! picture of what the augmenter does; every `output.model_every` epochs the augmenter as a
//! model; an atomic checkpoint. A [`RunControl`] stops the loop after any step, leaving the
//! completed epochs checkpointed.
//!
//! Everything random in epoch e comes from (seed, e) — data order, baseline parameters, noise,
//! dropout, the validation cycle — and the checkpoint holds every tensor that carries over
//! (weights, BatchNorm statistics, both optimizers' momentum), so a run killed and restarted
//! produces the records of an uninterrupted one.
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::data::{BatchLoader, ImageSet, LoaderConfig, Normalization};
use crate::store::{CheckpointStore, RunDir};

use super::config::RunConfig;
use super::control::RunControl;
use super::datasets::{self, RunData};
use super::epoch::{epoch_mix, send, Epochs, SERVED_STREAM, VAL_STREAM};
use super::error::TrainError;
use super::frozen_fingerprint::check_model_unchanged;
use super::new_learner;
use super::pictures::{save_accuracy_plot, AccuracyPoint};
use super::publish::publish;
use super::records::{EpochRecord, RunEvent};
use super::state;
use crate::model::ServedDistribution;

/// The outcome of a finished run.
#[derive(Debug)]
pub struct RunSummary {
    /// Every epoch's record, resumed ones included.
    pub records: Vec<EpochRecord>,
    /// The epoch the run resumed after, if it did.
    pub resumed_after: Option<u64>,
    /// The trained augmenter (learned modes; a served run saves none).
    pub model: Option<PathBuf>,
    /// The distribution of transformations that augmenter serves (learned modes). Its
    /// collapse flag can differ from the last record's: a record pools the transforms of a
    /// whole epoch, during which the augmenter kept moving.
    pub served: Option<ServedDistribution>,
    /// The run directory.
    pub dir: PathBuf,
}

/// A run: its configuration and its directory.
pub struct TrainingRun {
    config: RunConfig,
    dir: PathBuf,
}

impl TrainingRun {
    /// A run of `config` in `dir`. A directory that already holds a run must hold this one
    /// (same configuration): the run then resumes.
    pub fn new(config: RunConfig, dir: &Path) -> Result<Self, TrainError> {
        config.validate()?;
        config.check_paths()?;
        std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
        let stored = RunDir::new(dir).config();
        let text = config.to_toml();
        match std::fs::read_to_string(&stored) {
            // Also a run directory that spells a name another way than today's `to_toml`
            // (`flip+crop`, `CUDA`): the names were stored as typed before they were parsed.
            Ok(existing)
                if existing != text
                    && RunConfig::from_toml(&existing).ok().as_ref() != Some(&config) =>
            {
                return Err(TrainError::RunDir {
                    path: dir.to_path_buf(),
                    problem: "it holds a run with another configuration (see its config.toml); \
                              use a new directory"
                        .into(),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::store::atomic::write_bytes_atomically(&stored, text.as_bytes())?;
            }
            Err(e) => return Err(TrainError::io(&stored)(e)),
        }
        if let Some(model) = &config.augment.model {
            check_model_unchanged(dir, model)?;
        }
        Ok(Self {
            config,
            dir: dir.to_path_buf(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Runs (or resumes) to the last epoch, sending progress to `events` when given.
    pub fn run(&self, events: Option<&Sender<RunEvent>>) -> Result<RunSummary, TrainError> {
        self.run_controlled(events, &RunControl::new())
    }

    /// [`Self::run`], stopping with [`TrainError::Stopped`] at the first check (before every
    /// epoch, after every step) that finds a stop requested through `control`. The epoch in
    /// progress is dropped; the completed ones are checkpointed, so running again resumes
    /// after the last of them and ends with the records of an uninterrupted run.
    pub fn run_controlled(
        &self,
        events: Option<&Sender<RunEvent>>,
        control: &RunControl,
    ) -> Result<RunSummary, TrainError> {
        let c = &self.config;
        let device = c.device.resolve()?;
        let data = datasets::load(c)?;
        let mut learner = new_learner::build(c, &data, device)?;
        let RunData {
            train,
            val,
            test,
            normalization: norm,
        } = data;
        let store = CheckpointStore::open(&self.dir)?;
        let resumed = state::resume(&store, &mut learner.parts())?;
        for skipped in &resumed.skipped {
            send(
                events,
                RunEvent::SkippedCheckpoint(format!(
                    "{}: {}",
                    skipped.path.display(),
                    skipped.reason
                )),
            );
        }
        let (mut records, resumed_after) = (resumed.records, resumed.epoch);
        state::write_records(&self.dir, &records)?;
        // Shared with the loader threads, not copied.
        let (train, val) = (Arc::new(train), val.map(Arc::new));
        let train_loader = self.loader_config(&norm, &train, true);
        let val_batches = val.as_ref().map(|set| {
            let mut loader = self.loader_config(&norm, set, false);
            loader.seed = c.seed ^ VAL_STREAM;
            (set.clone(), loader)
        });
        let steps_per_epoch =
            BatchLoader::batches_per_epoch(train.len(), &train_loader) / learner.batches_per_step();
        let epochs = Epochs {
            config: c,
            dir: &self.dir,
            device,
            train,
            val,
            test,
            norm,
            train_loader,
            val_batches,
            steps_per_epoch,
            events,
            control,
        };
        let first_epoch = resumed_after.map_or(0, |e| e + 1);
        send(
            events,
            RunEvent::Started {
                first_epoch,
                epochs: c.epochs,
                steps_per_epoch,
            },
        );
        let mut best_val = records
            .iter()
            .filter_map(|r| r.val_acc)
            .fold(f64::NEG_INFINITY, f64::max);
        for epoch in first_epoch..c.epochs {
            let record = epochs.train(learner.as_mut(), epoch)?;
            records.push(record.clone());
            epochs.save_grid(learner.as_ref(), epoch)?;
            // Before the checkpoint: a run killed in between redoes the epoch and rewrites
            // the same model, rather than never writing it.
            let every = c.output.model_every;
            let saved = match learner.model_source() {
                Some(source) if every > 0 && (epoch + 1) % every == 0 => {
                    let dir = RunDir::new(&self.dir)
                        .epoch_model(epoch)
                        .root()
                        .to_path_buf();
                    let seed = epoch_mix(c.seed, epoch, SERVED_STREAM);
                    Some(publish(&source, epoch, seed, &dir)?.path)
                }
                _ => None,
            };
            let tensors = state::checkpoint_tensors(&learner.parts())?;
            let metadata = state::metadata(c, epoch, &records);
            store.save(epoch, &tensors, &metadata)?;
            // Without a validation split there is no best epoch to keep.
            if let Some(acc) = record.val_acc.filter(|&acc| acc > best_val) {
                best_val = acc;
                store.save_best(epoch, &tensors, &metadata)?;
            }
            state::write_records(&self.dir, &records)?;
            self.save_plot(&records)?;
            send(events, RunEvent::Epoch(record));
            if let Some(path) = saved {
                let final_model = false;
                send(events, model_saved(epoch, path, final_model));
            }
        }
        let published = match learner.model_source() {
            Some(source) => {
                let epoch = records.last().map_or(0, |r| r.epoch);
                let seed = epoch_mix(c.seed, epoch, SERVED_STREAM);
                let published = publish(&source, epoch, seed, &self.dir)?;
                send(events, model_saved(epoch, published.path.clone(), true));
                Some(published)
            }
            None => None,
        };
        let (model, served) = published.map_or((None, None), |p| (Some(p.path), Some(p.served)));
        Ok(RunSummary {
            records,
            resumed_after,
            model,
            served,
            dir: self.dir.clone(),
        })
    }

    fn loader_config(
        &self,
        normalization: &Normalization,
        set: &ImageSet,
        augmented: bool,
    ) -> LoaderConfig {
        let c = &self.config;
        let mut loader = LoaderConfig::new(c.batch_size, normalization.clone());
        loader.seed = c.seed;
        // A batch of one image cannot go through training-mode BatchNorm.
        loader.drop_last = set.len() % c.batch_size == 1;
        if augmented {
            loader.baseline = c.augment.baseline_with_settings();
            loader.color_jitter = c.augment.color_jitter;
            loader.crop_padding = c.augment.crop_padding;
        }
        loader
    }

    fn save_plot(&self, records: &[EpochRecord]) -> Result<(), TrainError> {
        let points: Vec<AccuracyPoint> = records
            .iter()
            .map(|r| AccuracyPoint {
                epoch: r.epoch,
                train: r.train_acc,
                val: r.val_acc,
                test: r.test_acc,
            })
            .collect();
        save_accuracy_plot(&RunDir::new(&self.dir).accuracy_plot(), &points)?;
        Ok(())
    }
}

/// The event of a model written after `epoch`.
fn model_saved(epoch: u64, path: PathBuf, final_model: bool) -> RunEvent {
    RunEvent::ModelSaved {
        epoch,
        path,
        final_model,
    }
}
