//! Training jobs: long-running bilevel runs with states queued → running → succeeded / failed /
//! cancelled. Each job has a directory in the state dir (`jobs/<id>/job.json`, written
//! atomically at every change, and `run/`, the training run's own resumable directory). At most
//! `slots` jobs run at once, each on its own thread; the rest wait in submission order. After a
//! restart, jobs that were queued or running are queued again and running ones resume from
//! their last checkpoint (the run directory does that by itself).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::metrics::{EpochSnapshot, Metrics};
use crate::store::atomic::write_bytes_atomically;
use crate::train::{
    DataSource, EpochRecord, RunConfig, RunControl, RunEvent, StopReason, TrainError, TrainingRun,
};

use super::dataset::resolve_dataset;
use super::error::EngineError;
use super::models::{check_name, ModelRegistry, ModelSpec, ModelView, Provenance};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a slot.
    Queued,
    /// Training.
    Running,
    /// Finished every epoch.
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// Stopped by a cancel.
    Cancelled,
}

impl JobState {
    /// Every state, for metrics.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A job as stored and listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    /// `job-000001`, …
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// Why it failed or was cancelled.
    pub failure_reason: String,
    /// The validated run configuration.
    pub config_toml: String,
    /// The dataset name.
    pub dataset: String,
    /// The name its models are published under.
    pub model_name: String,
    /// Publish every k-th epoch (0: at the end only).
    pub publish_every: u32,
    /// Activate what it publishes.
    pub activate: bool,
    /// Epochs of the run.
    pub epochs: u64,
    /// Epochs completed.
    pub epochs_done: u64,
    /// The latest epoch record.
    pub last_record: Option<EpochRecord>,
    /// Published versions (`name@version`).
    pub published: Vec<String>,
    /// Unix ms.
    pub created_unix_ms: i64,
    /// Unix ms (0: not started).
    pub started_unix_ms: i64,
    /// Unix ms (0: not finished).
    pub finished_unix_ms: i64,
}

/// Progress within an epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct StepProgress {
    /// Epoch.
    pub epoch: u64,
    /// 1-based step.
    pub step: u64,
    /// Steps per epoch.
    pub steps_per_epoch: u64,
    /// The step's loss.
    pub train_loss: f64,
}

/// What a watcher receives.
#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdate {
    /// The job after a state change.
    Job(Box<JobRecord>),
    /// An epoch finished.
    Epoch(Box<EpochRecord>),
    /// Throttled step progress.
    Step(StepProgress),
    /// A version was published.
    Published(Box<ModelView>),
}

/// A StartTraining request, before checks.
#[derive(Debug, Clone, Default)]
pub struct TrainingRequest {
    /// Preset name or empty.
    pub preset: String,
    /// TOML merged over the preset.
    pub config_toml: String,
    /// `key=value` overrides.
    pub overrides: Vec<String>,
    /// Dataset name in the data dir.
    pub dataset: String,
    /// Test folder name in the data dir.
    pub test_dataset: String,
    /// Publish name ("" = "default").
    pub model_name: String,
    /// Publish every k-th epoch.
    pub publish_every: u32,
    /// Activate published versions.
    pub activate: bool,
}

/// Settings of the job manager.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `<state dir>/jobs`.
    pub dir: PathBuf,
    /// Datasets are resolved inside it.
    pub data_dir: Option<PathBuf>,
    /// The device every job trains on (`cpu`, `cuda:0`, …).
    pub device: String,
    /// Jobs running at once.
    pub slots: usize,
}

/// A watch: what happened so far, then what happens next.
pub struct Watch {
    /// The job now.
    pub snapshot: JobRecord,
    /// Epoch records and publications so far.
    pub backlog: Vec<JobUpdate>,
    /// Live updates (dropped when the job is already over).
    pub live: Option<broadcast::Receiver<JobUpdate>>,
}

struct Slot {
    record: JobRecord,
    control: Option<RunControl>,
    backlog: Vec<JobUpdate>,
    live: broadcast::Sender<JobUpdate>,
    last_step_sent: Option<Instant>,
}

#[derive(Default)]
struct Jobs {
    order: Vec<String>,
    slots: HashMap<String, Slot>,
    next_id: u64,
    running: usize,
    threads: Vec<JoinHandle<()>>,
}

struct Inner {
    config: JobsConfig,
    registry: Arc<ModelRegistry>,
    metrics: Arc<Metrics>,
    jobs: Mutex<Jobs>,
    stopping: AtomicBool,
}

/// The job manager.
pub struct JobManager {
    inner: Arc<Inner>,
}

/// Steps are sent to watchers at most this often (plus the last of each epoch).
const STEP_INTERVAL: Duration = Duration::from_millis(250);
/// Keys a request may not set: the server decides where data comes from.
const PATH_KEYS: [&str; 3] = ["data.path", "data.test_path", "classifier.initial_weights"];

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn storage(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |e| EngineError::Storage(format!("{}: {e}", path.display()))
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn job_dir(&self, id: &str) -> PathBuf {
        self.config.dir.join(id)
    }

    fn persist(&self, record: &JobRecord) -> Result<(), EngineError> {
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| EngineError::Storage(format!("job.json: {e}")))?;
        write_bytes_atomically(&self.job_dir(&record.id).join("job.json"), &bytes)?;
        Ok(())
    }

    fn count_states(&self, jobs: &Jobs) {
        let counts: Vec<(&str, i64)> = JobState::ALL
            .iter()
            .map(|s| {
                let n = jobs.slots.values().filter(|j| j.record.state == *s).count();
                (s.name(), n as i64)
            })
            .collect();
        self.metrics.set_jobs_by_state(&counts);
    }

    /// Applies a change to a job's record, stores it and tells watchers.
    fn change(&self, jobs: &mut Jobs, id: &str, edit: impl FnOnce(&mut JobRecord)) {
        let Some(slot) = jobs.slots.get_mut(id) else {
            return;
        };
        edit(&mut slot.record);
        if let Err(e) = self.persist(&slot.record) {
            eprintln!("augmentd: job {id}: {e}");
        }
        // No receiver is not an error: nobody is watching.
        let _ = slot
            .live
            .send(JobUpdate::Job(Box::new(slot.record.clone())));
        self.count_states(jobs);
    }

    /// Starts queued jobs while slots are free.
    fn schedule(self: &Arc<Self>, jobs: &mut Jobs) {
        while jobs.running < self.config.slots && !self.stopping.load(Ordering::SeqCst) {
            let Some(id) = jobs
                .order
                .iter()
                .find(|id| {
                    jobs.slots
                        .get(*id)
                        .is_some_and(|s| s.record.state == JobState::Queued)
                })
                .cloned()
            else {
                return;
            };
            let control = RunControl::new();
            let inner = self.clone();
            let thread_id = id.clone();
            let thread_control = control.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("augmentd-{id}"))
                .spawn(move || run_job(&inner, &thread_id, &thread_control));
            match spawned {
                Ok(handle) => {
                    jobs.running += 1;
                    jobs.threads.retain(|t| !t.is_finished());
                    jobs.threads.push(handle);
                    if let Some(slot) = jobs.slots.get_mut(&id) {
                        slot.control = Some(control);
                    }
                    self.change(jobs, &id, |r| {
                        r.state = JobState::Running;
                        if r.started_unix_ms == 0 {
                            r.started_unix_ms = now_ms();
                        }
                    });
                    self.metrics.job_running(&id, true);
                }
                Err(e) => {
                    self.change(jobs, &id, |r| {
                        r.state = JobState::Failed;
                        r.failure_reason = format!("cannot start its thread: {e}");
                        r.finished_unix_ms = now_ms();
                    });
                }
            }
        }
    }
}

impl JobManager {
    /// Opens the jobs in `config.dir`, queueing again those that were queued or running.
    pub fn open(
        config: JobsConfig,
        registry: Arc<ModelRegistry>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, EngineError> {
        std::fs::create_dir_all(&config.dir).map_err(storage(&config.dir))?;
        let mut jobs = Jobs::default();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&config.dir)
            .map_err(storage(&config.dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("job.json").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            let path = dir.join("job.json");
            let bytes = std::fs::read(&path).map_err(storage(&path))?;
            let mut record: JobRecord = serde_json::from_slice(&bytes)
                .map_err(|e| EngineError::Storage(format!("{}: {e}", path.display())))?;
            if let Some(n) = record
                .id
                .strip_prefix("job-")
                .and_then(|n| n.parse::<u64>().ok())
            {
                jobs.next_id = jobs.next_id.max(n);
            }
            if record.state == JobState::Running {
                record.state = JobState::Queued;
            }
            let mut backlog: Vec<JobUpdate> = read_records(&dir.join("run"))
                .into_iter()
                .map(|r| JobUpdate::Epoch(Box::new(r)))
                .collect();
            for published in &record.published {
                if let Ok(view) =
                    ModelSpec::parse(published, "published").and_then(|spec| registry.view(&spec))
                {
                    backlog.push(JobUpdate::Published(Box::new(view)));
                }
            }
            let (live, _) = broadcast::channel(1024);
            jobs.order.push(record.id.clone());
            jobs.slots.insert(
                record.id.clone(),
                Slot {
                    record,
                    control: None,
                    backlog,
                    live,
                    last_step_sent: None,
                },
            );
        }
        let inner = Arc::new(Inner {
            config,
            registry,
            metrics,
            jobs: Mutex::new(Jobs::default()),
            stopping: AtomicBool::new(false),
        });
        {
            let mut guard = inner.lock();
            *guard = jobs;
            inner.count_states(&guard);
        }
        Ok(Self { inner })
    }

    /// Starts queued jobs (those found at open included).
    pub fn start_scheduling(&self) {
        let mut jobs = self.inner.lock();
        self.inner.schedule(&mut jobs);
    }

    /// Checks a request, stores it as a queued job and schedules it.
    pub fn submit(&self, request: TrainingRequest) -> Result<JobRecord, EngineError> {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let model_name = if request.model_name.is_empty() {
            "default".to_string()
        } else {
            request.model_name.clone()
        };
        check_name(&model_name, "model_name")?;
        let config = self.build_config(&request)?;
        let dataset = if config.data.source == DataSource::Synthetic {
            "synthetic".to_string()
        } else {
            request.dataset.clone()
        };
        let mut jobs = self.inner.lock();
        jobs.next_id += 1;
        let id = format!("job-{:06}", jobs.next_id);
        let dir = self.inner.job_dir(&id);
        std::fs::create_dir_all(&dir).map_err(storage(&dir))?;
        let record = JobRecord {
            id: id.clone(),
            state: JobState::Queued,
            failure_reason: String::new(),
            config_toml: config.to_toml(),
            dataset,
            model_name,
            publish_every: request.publish_every,
            activate: request.activate,
            epochs: config.epochs,
            epochs_done: 0,
            last_record: None,
            published: Vec::new(),
            created_unix_ms: now_ms(),
            started_unix_ms: 0,
            finished_unix_ms: 0,
        };
        self.inner.persist(&record)?;
        let (live, _) = broadcast::channel(1024);
        jobs.order.push(id.clone());
        jobs.slots.insert(
            id.clone(),
            Slot {
                record,
                control: None,
                backlog: Vec::new(),
                live,
                last_step_sent: None,
            },
        );
        self.inner.count_states(&jobs);
        self.inner.schedule(&mut jobs);
        jobs.slots
            .get(&id)
            .map(|s| s.record.clone())
            .ok_or(EngineError::JobNotFound(id))
    }

    fn build_config(&self, request: &TrainingRequest) -> Result<RunConfig, EngineError> {
        if !request.config_toml.trim().is_empty() {
            let table: toml::Table =
                request.config_toml.parse().map_err(|e: toml::de::Error| {
                    EngineError::invalid("config_toml", e.message().to_string())
                })?;
            for key in PATH_KEYS {
                let (section, field) = key.split_once('.').unwrap_or((key, ""));
                let set = table
                    .get(section)
                    .and_then(|s| s.as_table())
                    .is_some_and(|s| s.contains_key(field));
                if set {
                    return Err(path_refused(key));
                }
            }
        }
        for assignment in &request.overrides {
            let key = assignment.split('=').next().unwrap_or("").trim();
            if PATH_KEYS.contains(&key) {
                return Err(path_refused(key));
            }
        }
        let preset = Some(request.preset.as_str()).filter(|p| !p.is_empty());
        if preset.is_none() && request.config_toml.trim().is_empty() {
            return Err(EngineError::invalid(
                "preset",
                "give a preset, a config_toml, or both",
            ));
        }
        let mut config = RunConfig::load_text(preset, &request.config_toml, &request.overrides)?;
        config.device = self.inner.config.device.clone();
        if config.data.source == DataSource::Synthetic {
            config.data.path = None;
            config.data.test_path = None;
        } else {
            config.data.path = Some(resolve_dataset(
                self.inner.config.data_dir.as_deref(),
                &request.dataset,
            )?);
            config.data.test_path = if request.test_dataset.is_empty() {
                None
            } else {
                Some(resolve_dataset(
                    self.inner.config.data_dir.as_deref(),
                    &request.test_dataset,
                )?)
            };
        }
        config.classifier.initial_weights = None;
        if request.publish_every > 0 {
            config.output.model_every = u64::from(request.publish_every);
        }
        config.validate()?;
        config.check_paths()?;
        Ok(config)
    }

    /// One job.
    pub fn get(&self, id: &str) -> Result<JobRecord, EngineError> {
        self.inner
            .lock()
            .slots
            .get(id)
            .map(|s| s.record.clone())
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))
    }

    /// Every job (in one state when given), oldest first.
    pub fn list(&self, state: Option<JobState>) -> Vec<JobRecord> {
        let jobs = self.inner.lock();
        jobs.order
            .iter()
            .filter_map(|id| jobs.slots.get(id))
            .map(|s| s.record.clone())
            .filter(|r| state.is_none_or(|want| r.state == want))
            .collect()
    }

    /// Cancels a queued job at once, a running one at its next step.
    pub fn cancel(&self, id: &str) -> Result<JobRecord, EngineError> {
        let mut jobs = self.inner.lock();
        let slot = jobs
            .slots
            .get(id)
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))?;
        match slot.record.state {
            JobState::Queued => self.inner.change(&mut jobs, id, |r| {
                r.state = JobState::Cancelled;
                r.failure_reason = "cancelled before it started".into();
                r.finished_unix_ms = now_ms();
            }),
            JobState::Running => {
                if let Some(control) = &slot.control {
                    control.request_stop(StopReason::Cancelled);
                }
            }
            _ => {}
        }
        jobs.slots
            .get(id)
            .map(|s| s.record.clone())
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))
    }

    /// The job now, what happened so far, and a receiver of what happens next.
    pub fn watch(&self, id: &str) -> Result<Watch, EngineError> {
        let jobs = self.inner.lock();
        let slot = jobs
            .slots
            .get(id)
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))?;
        Ok(Watch {
            snapshot: slot.record.clone(),
            backlog: slot.backlog.clone(),
            live: (!slot.record.state.is_final()).then(|| slot.live.subscribe()),
        })
    }

    /// Stops taking jobs, asks running ones to stop at their next step (they stay `running`
    /// on disk and resume at the next start), and waits for them up to `timeout`.
    pub fn shutdown(&self, timeout: Duration) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let threads = {
            let mut jobs = self.inner.lock();
            for slot in jobs.slots.values() {
                if let Some(control) = &slot.control {
                    control.request_stop(StopReason::Shutdown);
                }
            }
            std::mem::take(&mut jobs.threads)
        };
        let deadline = Instant::now() + timeout;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if thread.is_finished() {
                // A job thread reports its own failures; a panic has nothing left to clean up.
                let _ = thread.join();
            }
        }
    }
}

fn path_refused(key: &str) -> EngineError {
    EngineError::invalid(
        key,
        "paths are not accepted over the API: name the data with `dataset` (inside the server's data dir)",
    )
}

/// The records a run directory holds so far (none when it has not started).
fn read_records(run_dir: &Path) -> Vec<EpochRecord> {
    std::fs::read_to_string(run_dir.join("records.jsonl"))
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The body of a job's thread: the run, with its events pumped to watchers and metrics.
fn run_job(inner: &Arc<Inner>, id: &str, control: &RunControl) {
    let config_toml = {
        let jobs = inner.lock();
        match jobs.slots.get(id) {
            Some(slot) => slot.record.config_toml.clone(),
            None => return,
        }
    };
    let run_dir = inner.job_dir(id).join("run");
    let outcome = (|| -> Result<(), TrainError> {
        let config = RunConfig::from_toml(&config_toml)?;
        let run = TrainingRun::new(config, &run_dir)?;
        let (events, receiver) = mpsc::channel();
        let pump_inner = inner.clone();
        let pump_id = id.to_string();
        let pump = std::thread::Builder::new()
            .name(format!("augmentd-{id}-events"))
            .spawn(move || pump_events(&pump_inner, &pump_id, &receiver))
            .map_err(|e| TrainError::RunDir {
                path: run_dir.clone(),
                problem: format!("cannot start the event thread: {e}"),
            })?;
        let result = run.run_controlled(Some(&events), control);
        drop(events);
        // The pump ends when the channel closes; a panic there was already reported.
        let _ = pump.join();
        result.map(|_| ())
    })();
    let mut jobs = inner.lock();
    jobs.running = jobs.running.saturating_sub(1);
    inner.metrics.job_running(id, false);
    match outcome {
        Ok(()) => inner.change(&mut jobs, id, |r| {
            r.state = JobState::Succeeded;
            r.finished_unix_ms = now_ms();
        }),
        Err(TrainError::Stopped(StopReason::Cancelled)) => inner.change(&mut jobs, id, |r| {
            r.state = JobState::Cancelled;
            r.failure_reason = "cancelled by CancelJob while running".into();
            r.finished_unix_ms = now_ms();
        }),
        Err(TrainError::Stopped(StopReason::Shutdown)) => {
            // Stays `running` on disk: the next start resumes it from its last checkpoint.
            if let Some(slot) = jobs.slots.get_mut(id) {
                slot.control = None;
            }
        }
        Err(e) => inner.change(&mut jobs, id, |r| {
            r.state = JobState::Failed;
            r.failure_reason = e.to_string();
            r.finished_unix_ms = now_ms();
        }),
    }
    if let Some(slot) = jobs.slots.get_mut(id) {
        if slot.record.state.is_final() {
            slot.control = None;
        }
    }
    inner.schedule(&mut jobs);
}

fn pump_events(inner: &Arc<Inner>, id: &str, events: &Receiver<RunEvent>) {
    for event in events {
        match event {
            RunEvent::Started { epochs, .. } => {
                // The run has written the records it resumed with: they are the history (a
                // crash between a checkpoint and its record line leaves the file behind).
                let records = read_records(&inner.job_dir(id).join("run"));
                let mut jobs = inner.lock();
                if let Some(slot) = jobs.slots.get_mut(id) {
                    slot.record.epochs = epochs;
                    slot.record.epochs_done = records.last().map_or(0, |r| r.epoch + 1);
                    slot.record.last_record = records.last().cloned();
                    slot.backlog.retain(|u| !matches!(u, JobUpdate::Epoch(_)));
                    let epochs = records.into_iter().map(|r| JobUpdate::Epoch(Box::new(r)));
                    slot.backlog.splice(0..0, epochs);
                }
            }
            RunEvent::Step {
                epoch,
                step,
                steps_per_epoch,
                train_loss,
                images,
                seconds,
            } => {
                inner
                    .metrics
                    .job_step(id, epoch, train_loss, images, seconds);
                let mut jobs = inner.lock();
                if let Some(slot) = jobs.slots.get_mut(id) {
                    let due = slot
                        .last_step_sent
                        .is_none_or(|t| t.elapsed() >= STEP_INTERVAL);
                    if due || step == steps_per_epoch {
                        slot.last_step_sent = Some(Instant::now());
                        let _ = slot.live.send(JobUpdate::Step(StepProgress {
                            epoch,
                            step: step as u64,
                            steps_per_epoch: steps_per_epoch as u64,
                            train_loss,
                        }));
                    }
                }
            }
            RunEvent::Epoch(record) => {
                inner
                    .metrics
                    .job_epoch(id, &EpochSnapshot::from_record(&record));
                inner.metrics.job_checkpoint(
                    id,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                );
                let mut jobs = inner.lock();
                if let Some(slot) = jobs.slots.get_mut(id) {
                    slot.backlog
                        .push(JobUpdate::Epoch(Box::new(record.clone())));
                    let _ = slot.live.send(JobUpdate::Epoch(Box::new(record.clone())));
                    slot.record.epochs_done = record.epoch + 1;
                    slot.record.last_record = Some(record);
                    if let Err(e) = inner.persist(&slot.record) {
                        eprintln!("augmentd: job {id}: {e}");
                    }
                }
            }
            RunEvent::ModelSaved {
                epoch,
                path,
                final_model,
            } => {
                // The last epoch's periodic model is the final one: publish it once.
                let epochs = inner.lock().slots.get(id).map_or(0, |s| s.record.epochs);
                if final_model || epoch + 1 < epochs {
                    publish(inner, id, &path);
                }
            }
            RunEvent::SkippedCheckpoint(what) => {
                eprintln!("augmentd: job {id}: skipped a damaged checkpoint: {what}");
            }
        }
    }
}

/// Publishes a model the run saved, as the next version of the job's model name.
fn publish(inner: &Arc<Inner>, id: &str, path: &Path) {
    let (name, activate, provenance) = {
        let jobs = inner.lock();
        let Some(slot) = jobs.slots.get(id) else {
            return;
        };
        let r = &slot.record;
        let mut metrics = std::collections::BTreeMap::new();
        if let Some(last) = &r.last_record {
            metrics.insert("train_loss".into(), last.train_loss);
            metrics.insert("val_loss".into(), last.val_loss);
            metrics.insert("train_acc".into(), last.train_acc);
            metrics.insert("val_acc".into(), last.val_acc);
            if let Some(test) = last.test_acc {
                metrics.insert("test_acc".into(), test);
            }
        }
        (
            r.model_name.clone(),
            r.activate,
            Provenance {
                job: id.to_string(),
                dataset: r.dataset.clone(),
                metrics,
            },
        )
    };
    match inner.registry.publish(&name, path, provenance, activate) {
        Ok(view) => {
            let mut jobs = inner.lock();
            if let Some(slot) = jobs.slots.get_mut(id) {
                slot.record
                    .published
                    .push(format!("{}@{}", view.meta.name, view.meta.version));
                slot.backlog
                    .push(JobUpdate::Published(Box::new(view.clone())));
                let _ = slot.live.send(JobUpdate::Published(Box::new(view)));
                if let Err(e) = inner.persist(&slot.record) {
                    eprintln!("augmentd: job {id}: {e}");
                }
            }
        }
        Err(e) => eprintln!("augmentd: job {id}: cannot publish {}: {e}", path.display()),
    }
}
