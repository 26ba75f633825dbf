//! A job's threads: the training run itself, and the pump that turns its events into metrics,
//! published model versions and [`JobEvent`]s for the scheduler. Neither touches the job table.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc as bounded;

use crate::engine::models::{ModelRegistry, ModelSpec, ModelView, Provenance};
use crate::metrics::Metrics;
use crate::store::RunDir;
use crate::train::{
    EpochRecord, RunConfig, RunControl, RunEvent, StopReason, TrainError, TrainingRun,
};

use super::super::error::EngineError;
use super::command::{Command, JobEvent, Outcome};
use super::persist::read_records;
use super::record::StepProgress;

/// Steps are sent to watchers at most this often (plus the last of each epoch).
const STEP_INTERVAL: Duration = Duration::from_millis(250);

/// What a job's thread needs, taken from its record when it starts.
pub(super) struct JobContext {
    /// The job.
    pub id: String,
    /// Its validated run configuration.
    pub config_toml: String,
    /// Its run folder.
    pub run: RunDir,
    /// The name it publishes under.
    pub model_name: String,
    /// Its dataset name (provenance of what it publishes).
    pub dataset: String,
    /// Activate what it publishes.
    pub activate: bool,
    /// Epochs of the run, as last recorded.
    pub epochs: u64,
    /// Where it publishes.
    pub registry: Arc<ModelRegistry>,
    /// Job metrics.
    pub metrics: Arc<Metrics>,
    /// Stops the run at its next step.
    pub control: RunControl,
    /// The scheduler's commands.
    pub events: bounded::Sender<Command>,
}

impl JobContext {
    /// Tells the scheduler; a scheduler gone means the manager is gone and nobody listens.
    fn tell(&self, event: JobEvent) {
        let _ = self
            .events
            .blocking_send(Command::Job(self.id.clone(), event));
    }
}

/// Tells the scheduler that the thread is done, also when it unwinds from a panic (so that a
/// shutdown never waits for a thread that is gone).
struct Finish<'a> {
    job: &'a JobContext,
    outcome: Option<Outcome>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| Outcome::Failed("its thread panicked".into()));
        self.job.tell(JobEvent::Finished(outcome));
    }
}

/// The body of a job's thread: the run, with its events pumped to the scheduler.
pub(super) fn run_job(job: JobContext) {
    let span = tracing::info_span!("job", job_id = %job.id);
    let _entered = span.enter();
    let mut finish = Finish {
        job: &job,
        outcome: None,
    };
    let outcome = match train(&job) {
        Ok(()) => Outcome::Succeeded,
        Err(TrainError::Stopped(StopReason::Cancelled)) => Outcome::Cancelled,
        Err(TrainError::Stopped(StopReason::Shutdown)) => Outcome::Paused,
        // The scheduler logs the failure with the job's new state.
        Err(e) => Outcome::Failed(e.to_string()),
    };
    finish.outcome = Some(outcome);
}

fn train(job: &JobContext) -> Result<(), TrainError> {
    let config = RunConfig::from_toml(&job.config_toml)?;
    let run = TrainingRun::new(config, job.run.root())?;
    let (events, receiver) = mpsc::channel();
    let span = tracing::Span::current();
    let result = std::thread::scope(|scope| {
        let pump = std::thread::Builder::new()
            .name(format!("augmentd-{}-events", job.id))
            .spawn_scoped(scope, move || {
                let _entered = span.enter();
                Pump::new(job).run(&receiver);
            })
            .map_err(|e| TrainError::RunDir {
                path: job.run.root().to_path_buf(),
                problem: format!("cannot start the event thread: {e}"),
            })?;
        let result = run.run_controlled(Some(&events), &job.control);
        drop(events);
        // The pump ends when the channel closes; a panic there was already reported.
        let _ = pump.join();
        result
    });
    result.map(|_| ())
}

/// The event pump's view of the run.
struct Pump<'a> {
    job: &'a JobContext,
    epochs: u64,
    last_record: Option<EpochRecord>,
    last_step_sent: Option<Instant>,
}

impl<'a> Pump<'a> {
    fn new(job: &'a JobContext) -> Self {
        Self {
            job,
            epochs: job.epochs,
            last_record: None,
            last_step_sent: None,
        }
    }

    fn run(mut self, events: &Receiver<RunEvent>) {
        for event in events {
            self.handle(event);
        }
    }

    fn handle(&mut self, event: RunEvent) {
        let (job, id) = (self.job, self.job.id.as_str());
        match event {
            RunEvent::Started { epochs, .. } => {
                let records = read_records(&job.run);
                self.epochs = epochs;
                self.last_record = records.last().cloned();
                job.tell(JobEvent::Started { epochs, records });
            }
            RunEvent::Step {
                epoch,
                step,
                steps_per_epoch,
                train_loss,
                images,
                seconds,
            } => {
                job.metrics.job_step(id, epoch, train_loss, images, seconds);
                let due = self
                    .last_step_sent
                    .is_none_or(|t| t.elapsed() >= STEP_INTERVAL);
                if due || step == steps_per_epoch {
                    self.last_step_sent = Some(Instant::now());
                    job.tell(JobEvent::Step(StepProgress {
                        epoch,
                        step: step as u64,
                        steps_per_epoch: steps_per_epoch as u64,
                        train_loss,
                    }));
                }
            }
            RunEvent::Epoch(record) => {
                job.metrics.job_epoch(id, &record);
                job.metrics.job_checkpoint(
                    id,
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                );
                self.last_record = Some(record.clone());
                job.tell(JobEvent::Epoch(Box::new(record)));
            }
            RunEvent::ModelSaved {
                epoch,
                path,
                final_model,
            } => {
                // The last epoch's periodic model is the final one: publish it once.
                if final_model || epoch + 1 < self.epochs {
                    match self.publish(epoch, &path) {
                        Ok(view) => {
                            tracing::info!(
                                model = %format_args!("{}@{}", view.meta.name, view.meta.version),
                                epoch,
                                "published"
                            );
                            job.tell(JobEvent::Published(Box::new(view)));
                        }
                        Err(e) => {
                            tracing::error!(
                                error = %e,
                                path = %path.display(),
                                "cannot publish the model"
                            );
                        }
                    }
                }
            }
            RunEvent::SkippedCheckpoint(what) => {
                tracing::warn!(checkpoint = %what, "skipped a damaged checkpoint");
            }
        }
    }

    /// Publishes the model of `epoch` saved at `path` as the next version of the job's model
    /// name, unless this job published that epoch already (a server killed after publishing
    /// and restarted reruns the end of the run): that version is the publication then.
    fn publish(&self, epoch: u64, path: &Path) -> Result<ModelView, EngineError> {
        let job = self.job;
        let registry = &job.registry;
        if let Some(view) = registry.find_published(&job.id, epoch) {
            tracing::info!(
                epoch,
                "this epoch was published before a restart: not again"
            );
            // Killed between writing the version and activating it: finish the activation.
            if job.activate && !view.active {
                let spec = ModelSpec::Version(view.meta.name.clone(), view.meta.version);
                return registry.activate(&spec);
            }
            return Ok(view);
        }
        let mut metrics = BTreeMap::new();
        if let Some(last) = &self.last_record {
            metrics.insert("train_loss".into(), last.train_loss);
            metrics.insert("train_acc".into(), last.train_acc);
            let optional = [
                ("val_loss", last.val_loss),
                ("val_acc", last.val_acc),
                ("test_acc", last.test_acc),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    metrics.insert(name.into(), value);
                }
            }
        }
        let provenance = Provenance {
            job: job.id.clone(),
            dataset: job.dataset.clone(),
            metrics,
        };
        registry.publish(&job.model_name, path, provenance, job.activate)
    }
}
