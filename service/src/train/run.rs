//! A training run: the method's epoch loop over a dataset, resumable from its run directory.
//!
//! Each epoch: the classifier's scheduled learning rate; training batches (hand-crafted baseline
//! underneath) through a plain SGD step (`none`, `handcrafted`; `served` after a frozen trained
//! augmenter, see `served_learner`) or the bilevel step with validation batches cycled
//! independently (learned modes); the training accuracy counted from the steps' own logits;
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
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind};

use crate::bilevel::{BatchRef, BilevelConfig, BilevelLearner, ClassifierState};
use crate::data::{Batch, BatchLoader, ImageSet, LoaderConfig, Normalization};
use crate::nn::{Augmenter, Classifier, ParamSet};
use crate::optim::SgdConfig;
use crate::store::CheckpointStore;

use super::bilevel_batches::{next_group, ValCycle};
use super::config::{AugmentMode, ConfigError, RunConfig};
use super::control::RunControl;
use super::datasets::{self, RunData};
use super::error::TrainError;
use super::evaluate::evaluate;
use super::pictures::{save_accuracy_plot, save_pairs_grid, AccuracyPoint};
use super::publish::{publish, served_now, ModelSource, EPOCH_SERVED_DRAWS};
use super::records::{EpochRecord, RunEvent, TransformAccumulator};
use super::served::{is_collapsed, ServedDistribution};
use super::served_learner::{check_model_unchanged, FrozenAugmenter, ServedLearner};
use super::state;

/// Streams separating the random draws derived from (seed, epoch).
const NOISE_STREAM: u64 = 0x4e4f_4953;
const VAL_STREAM: u64 = 0x5641_4c49;
const GRID_STREAM: u64 = 0x4752_4944;
const SERVED_STREAM: u64 = 0x5345_5256;

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

/// The learner of a run: a classifier alone, after a frozen augmenter, or with an augmenter
/// it trains.
enum Learner {
    Plain(Box<ClassifierState>),
    Served(Box<ServedLearner>),
    Bilevel(Box<BilevelLearner>),
}

impl Learner {
    fn classifier(&self) -> &ClassifierState {
        match self {
            Self::Plain(c) => c,
            Self::Served(s) => &s.classifier,
            Self::Bilevel(b) => &b.classifier,
        }
    }

    fn classifier_mut(&mut self) -> &mut ClassifierState {
        match self {
            Self::Plain(c) => c,
            Self::Served(s) => &mut s.classifier,
            Self::Bilevel(b) => &mut b.classifier,
        }
    }
}

/// A run: its configuration and its directory.
pub struct TrainingRun {
    config: RunConfig,
    dir: PathBuf,
}

/// The seed of one random stream of one epoch, so that epoch e draws the same numbers whether
/// or not the run was interrupted before it.
fn epoch_mix(seed: u64, epoch: u64, stream: u64) -> u64 {
    seed ^ stream.rotate_left(17) ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl TrainingRun {
    /// A run of `config` in `dir`. A directory that already holds a run must hold this one
    /// (same configuration): the run then resumes.
    pub fn new(config: RunConfig, dir: &Path) -> Result<Self, TrainError> {
        config.validate()?;
        config.check_paths()?;
        std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
        let stored = dir.join("config.toml");
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

    fn build_learner(&self, data: &RunData, device: Device) -> Result<Learner, TrainError> {
        let c = &self.config;
        let shape = data.train.shape();
        let net = Classifier::new(
            c.classifier.arch,
            shape.channels as i64,
            data.train.num_classes() as i64,
        )?;
        let (mut weights, buffers) = net.init(c.seed, Kind::Float, device)?;
        if let Some(path) = &c.classifier.initial_weights {
            weights = ParamSet::load_like(&weights, path, true)?;
        }
        let classifier_opt = SgdConfig {
            lr: c.classifier.lr,
            momentum: c.classifier.momentum,
            weight_decay: c.classifier.weight_decay,
        };
        Ok(match c.augment.mode {
            AugmentMode::None | AugmentMode::Handcrafted => Learner::Plain(Box::new(
                ClassifierState::new((net, weights, buffers), classifier_opt)?,
            )),
            AugmentMode::Frozen => Learner::Served(Box::new(ServedLearner {
                classifier: ClassifierState::new((net, weights, buffers), classifier_opt)?,
                augmenter: FrozenAugmenter::load(
                    c.served_model()?,
                    &data.normalization,
                    shape,
                    device,
                )?,
            })),
            AugmentMode::Learned(kind) => {
                let n = &data.normalization;
                let augmenter =
                    Augmenter::new(kind, n.mean.clone(), n.std.clone(), c.augment.bound)?
                        .with_variant(c.augment.variant_or_default());
                let theta = augmenter.init(c.seed.wrapping_add(1), Kind::Float, device)?;
                let config = BilevelConfig {
                    inner_steps: c.augment.inner_steps,
                    classifier: classifier_opt,
                    augmenter: SgdConfig {
                        lr: c.augment.lr,
                        momentum: c.augment.momentum,
                        weight_decay: c.augment.weight_decay,
                    },
                };
                Learner::Bilevel(Box::new(BilevelLearner::new(
                    (net, weights, buffers),
                    (augmenter, theta),
                    config,
                )?))
            }
        })
    }

    fn loader_config(
        &self,
        normalization: &Normalization,
        set: &ImageSet,
        augmented: bool,
    ) -> Result<LoaderConfig, TrainError> {
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
        Ok(loader)
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
        let mut learner = self.build_learner(&data, device)?;
        let RunData {
            train,
            val,
            test,
            normalization: norm,
        } = data;
        let store = CheckpointStore::open(&self.dir)?;
        let resumed = state::resume(&store, &mut learner_parts(&mut learner))?;
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
        let train_loader = self.loader_config(&norm, &train, true)?;
        // The validation split and its loader, whose batches the bilevel step cycles through.
        let val_batches = match &val {
            Some(set) => {
                let mut loader = self.loader_config(&norm, set, false)?;
                loader.seed = c.seed ^ VAL_STREAM;
                Some((set.clone(), loader))
            }
            None => None,
        };
        let inner = match &learner {
            Learner::Bilevel(b) => b.inner_steps(),
            Learner::Plain(_) | Learner::Served(_) => 1,
        };
        let steps_per_epoch = BatchLoader::batches_per_epoch(train.len(), &train_loader) / inner;
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
            check(control)?;
            let start = Instant::now();
            let mut step_start = start;
            let lr = c.classifier.schedule.lr_at(c.classifier.lr, epoch);
            learner.classifier_mut().optimizer.config.lr = lr;
            let mut batches = BatchLoader::epoch(train.clone(), &train_loader, epoch)?;
            let mut loss_sum = 0.0;
            let mut images = 0usize;
            let mut correct = 0usize;
            let mut grad_norm_sum = 0.0;
            let mut transforms = TransformAccumulator::default();
            let mut step = 0usize;
            match &mut learner {
                Learner::Plain(classifier) => {
                    for batch in batches.by_ref() {
                        let batch = batch?.to_device(device)?;
                        let outcome = classifier.plain_step(BatchRef::from(&batch))?;
                        let loss = outcome.loss;
                        step += 1;
                        loss_sum += loss;
                        correct += outcome.correct;
                        images += batch.len();
                        send(
                            events,
                            RunEvent::Step {
                                epoch,
                                step,
                                steps_per_epoch,
                                train_loss: loss,
                                images: batch.len(),
                                seconds: lap(&mut step_start),
                            },
                        );
                        check(control)?;
                    }
                }
                Learner::Served(served) => {
                    let mut rng = StdRng::seed_from_u64(epoch_mix(c.seed, epoch, NOISE_STREAM));
                    for batch in batches.by_ref() {
                        let batch = batch?.to_device(device)?;
                        let report = served.step(BatchRef::from(&batch), &mut rng)?;
                        step += 1;
                        loss_sum += report.train_loss;
                        correct += report.train_correct;
                        images += batch.len();
                        transforms.add(batch.len(), &report.transform_mean, &report.transform_std);
                        send(
                            events,
                            RunEvent::Step {
                                epoch,
                                step,
                                steps_per_epoch,
                                train_loss: report.train_loss,
                                images: batch.len(),
                                seconds: lap(&mut step_start),
                            },
                        );
                        check(control)?;
                    }
                }
                Learner::Bilevel(bilevel) => {
                    // `validate` refuses data.val_ratio = 0 in learned modes; this only guards.
                    let (val_set, val_loader) = val_batches.clone().ok_or_else(|| ConfigError {
                        key: "data.val_ratio".into(),
                        problem: "the learned modes need validation images for the bilevel \
                                      step"
                            .into(),
                    })?;
                    bilevel.start_epoch()?;
                    let mut rng = StdRng::seed_from_u64(epoch_mix(c.seed, epoch, NOISE_STREAM));
                    let mut val_cycle = ValCycle::new(val_set, val_loader, epoch);
                    while let Some(group) = next_group(&mut batches, inner, device)? {
                        let noise = group
                            .iter()
                            .map(|b| {
                                bilevel.augmenter.net.sample_noise(
                                    b.len() as i64,
                                    &mut rng,
                                    true,
                                    (Kind::Float, device),
                                )
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let val_batch = val_cycle.next(device)?;
                        let refs: Vec<BatchRef> = group.iter().map(BatchRef::from).collect();
                        let report = bilevel.step(&refs, &noise, BatchRef::from(&val_batch))?;
                        let n: usize = group.iter().map(Batch::len).sum();
                        step += 1;
                        loss_sum += report.train_loss;
                        correct += report.train_correct;
                        images += n;
                        grad_norm_sum += report.augmenter_grad_norm;
                        transforms.add(n, &report.transform_mean, &report.transform_std);
                        send(
                            events,
                            RunEvent::Step {
                                epoch,
                                step,
                                steps_per_epoch,
                                train_loss: report.train_loss,
                                images: n,
                                seconds: lap(&mut step_start),
                            },
                        );
                        check(control)?;
                    }
                }
            }
            let train_seconds = start.elapsed().as_secs_f64();
            let classifier = learner.classifier();
            // From the steps' own logits: a second pass over the training split would cost
            // about a third of a plain epoch.
            let train_acc = 100.0 * correct as f64 / images.max(1) as f64;
            let (val_loss, val_acc) = match &val {
                Some(val) => {
                    let (loss, acc) = evaluate(classifier, val, &norm, device)?;
                    (Some(loss), Some(acc))
                }
                None => (None, None),
            };
            let test_acc = match &test {
                Some(test) if c.output.tests_after(epoch, c.epochs) => {
                    Some(evaluate(classifier, test, &norm, device)?.1)
                }
                _ => None,
            };
            let (grad_norm, stats) = match &learner {
                Learner::Bilevel(b) => (
                    Some(grad_norm_sum / step.max(1) as f64),
                    transforms.finish(&b.augmenter.net.transform_names()),
                ),
                Learner::Served(s) => (None, transforms.finish(&s.augmenter.transform_names())),
                Learner::Plain(_) => (None, Vec::new()),
            };
            // What a model published now would serve: the collapse flag of a learned run.
            let served = match &learner {
                Learner::Bilevel(b) => {
                    let source = self.model_source(b, &norm, &train);
                    let seed = epoch_mix(c.seed, epoch, SERVED_STREAM);
                    served_now(&source, EPOCH_SERVED_DRAWS, seed)?.params
                }
                Learner::Plain(_) | Learner::Served(_) => Vec::new(),
            };
            let collapsed = match &learner {
                Learner::Bilevel(_) => is_collapsed(&served),
                Learner::Plain(_) | Learner::Served(_) => is_collapsed(&stats),
            };
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / step.max(1) as f64,
                val_loss,
                train_acc,
                val_acc,
                test_acc,
                lr,
                seconds: start.elapsed().as_secs_f64(),
                images_per_second: images as f64 / train_seconds.max(1e-9),
                augmenter_grad_norm: grad_norm,
                collapsed,
                transforms: stats,
                served,
            };
            records.push(record.clone());
            self.save_grid(&learner, &train, &norm, epoch, device)?;
            // Before the checkpoint: a run killed in between redoes the epoch and rewrites
            // the same model, rather than never writing it.
            let every = c.output.model_every;
            let saved = match &learner {
                Learner::Bilevel(b) if every > 0 && (epoch + 1) % every == 0 => {
                    let dir = self.dir.join("models").join(format!("epoch-{epoch:04}"));
                    let source = self.model_source(b, &norm, &train);
                    let seed = epoch_mix(c.seed, epoch, SERVED_STREAM);
                    Some(publish(&source, epoch, seed, &dir)?.path)
                }
                _ => None,
            };
            let tensors = state::checkpoint_tensors(&learner_parts(&mut learner))?;
            let metadata = state::metadata(c, epoch, &records);
            store.save(epoch, &tensors, &metadata)?;
            // Without a validation split there is no best epoch to keep.
            if let Some(acc) = val_acc.filter(|&acc| acc > best_val) {
                best_val = acc;
                store.save_best(epoch, &tensors, &metadata)?;
            }
            state::write_records(&self.dir, &records)?;
            self.save_plot(&records)?;
            send(events, RunEvent::Epoch(record));
            if let Some(path) = saved {
                send(
                    events,
                    RunEvent::ModelSaved {
                        epoch,
                        path,
                        final_model: false,
                    },
                );
            }
        }
        let published = match &learner {
            Learner::Bilevel(b) => {
                let epoch = records.last().map_or(0, |r| r.epoch);
                let source = self.model_source(b, &norm, &train);
                let seed = epoch_mix(c.seed, epoch, SERVED_STREAM);
                let published = publish(&source, epoch, seed, &self.dir)?;
                send(
                    events,
                    RunEvent::ModelSaved {
                        epoch,
                        path: published.path.clone(),
                        final_model: true,
                    },
                );
                Some(published)
            }
            Learner::Plain(_) | Learner::Served(_) => None,
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

    fn model_source<'a>(
        &self,
        bilevel: &'a BilevelLearner,
        normalization: &'a Normalization,
        train: &ImageSet,
    ) -> ModelSource<'a> {
        ModelSource {
            augmenter: &bilevel.augmenter,
            normalization,
            shape: train.shape(),
            bound: self.config.augment.bound,
        }
    }

    /// The original | augmented grid of the first training images, as the augmenter (trained
    /// or frozen; or, in `handcrafted` mode, the baseline) transforms them at this epoch.
    fn save_grid(
        &self,
        learner: &Learner,
        train: &ImageSet,
        norm: &Normalization,
        epoch: u64,
        device: Device,
    ) -> Result<(), TrainError> {
        let count = self.config.output.grid_images.min(train.len());
        if count == 0 {
            return Ok(());
        }
        let indices: Vec<usize> = (0..count).collect();
        let batch = train.to_batch(&indices, norm)?.to_device(device)?;
        let mut rng = StdRng::seed_from_u64(epoch_mix(self.config.seed, epoch, GRID_STREAM));
        let augmented = match learner {
            Learner::Bilevel(b) => {
                let _no_grad = tch::no_grad_guard();
                let net = &b.augmenter.net;
                let noise =
                    net.sample_noise(count as i64, &mut rng, true, (Kind::Float, device))?;
                net.forward(&b.augmenter.theta, &batch.images, &noise)?
                    .images
            }
            Learner::Served(s) => s.augmenter.augment(&batch.images, &mut rng)?.images,
            Learner::Plain(_) => {
                let mut loader = LoaderConfig::new(count, norm.clone());
                loader.seed = epoch_mix(self.config.seed, epoch, GRID_STREAM);
                loader.shuffle = false;
                loader.prefetch = 0;
                loader.baseline = self.config.augment.baseline_with_settings();
                loader.color_jitter = self.config.augment.color_jitter;
                loader.crop_padding = self.config.augment.crop_padding;
                let subset = Arc::new(train.subset(&indices)?);
                match BatchLoader::epoch(subset, &loader, epoch)?.next() {
                    Some(b) => b?.to_device(device)?.images,
                    None => return Ok(()),
                }
            }
        };
        let dir = self.dir.join("grids");
        std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        save_pairs_grid(
            &dir.join(format!("epoch-{epoch:04}.png")),
            &norm.unstandardize(&batch.images)?,
            &norm.unstandardize(&augmented)?,
        )?;
        Ok(())
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
        save_accuracy_plot(&self.dir.join("accuracy.png"), &points)?;
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

fn send(events: Option<&Sender<RunEvent>>, event: RunEvent) {
    if let Some(events) = events {
        // A front end that went away must not stop the run.
        let _ignored = events.send(event);
    }
}

/// The parts of a learner a checkpoint holds.
fn learner_parts(learner: &mut Learner) -> state::Parts<'_> {
    match learner {
        Learner::Plain(c) => state::Parts {
            classifier: c,
            augmenter: None,
        },
        Learner::Served(s) => state::Parts {
            classifier: &mut s.classifier,
            augmenter: None,
        },
        Learner::Bilevel(b) => state::Parts {
            classifier: &mut b.classifier,
            augmenter: Some(&mut b.augmenter),
        },
    }
}
