//! Training jobs: long-running bilevel runs with states queued → running → succeeded / failed /
//! cancelled. Each job has a directory in the state dir (`jobs/<id>/job.json`, written
//! atomically at every change, and `run/`, the training run's own resumable directory). At most
//! `slots` jobs run at once, each on its own thread; the rest wait in submission order. After a
//! restart, jobs that were queued or running are queued again and running ones resume from
//! their last checkpoint (the run directory does that by itself).
mod record;
mod runner;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::metrics::Metrics;
use crate::store::atomic::write_bytes_atomically;
use crate::train::{DataSource, RunConfig, RunControl, StopReason};

use super::dataset::resolve_dataset;
use super::error::EngineError;
use super::models::{check_name, ModelRegistry, ModelSpec};

pub use record::{
    JobRecord, JobState, JobUpdate, JobsConfig, StepProgress, TrainingRequest, Watch,
};
use runner::{read_records, run_job};

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
/// Keys a request may not set: the server decides where data and weights come from.
const PATH_KEYS: [&str; 4] = [
    "data.path",
    "data.test_path",
    "classifier.initial_weights",
    "augment.model",
];

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn storage(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    EngineError::state_dir("access", path)
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn job_dir(&self, id: &str) -> PathBuf {
        self.config.dir.join(id)
    }

    fn persist(&self, record: &JobRecord) -> Result<(), EngineError> {
        let path = self.job_dir(&record.id).join("job.json");
        let bytes =
            serde_json::to_vec_pretty(record).map_err(|e| EngineError::corrupt(&path, e))?;
        write_bytes_atomically(&path, &bytes)?;
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
            let mut record: JobRecord =
                serde_json::from_slice(&bytes).map_err(|e| EngineError::corrupt(&path, e))?;
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
        config.device =
            self.inner
                .config
                .device
                .parse()
                .map_err(|e: crate::device::DeviceError| {
                    EngineError::invalid("device", e.to_string())
                })?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn manager(dir: &Path) -> JobManager {
        let metrics = Arc::new(Metrics::new());
        let registry = Arc::new(ModelRegistry::open(&dir.join("models"), metrics.clone()).unwrap());
        let config = JobsConfig {
            dir: dir.join("jobs"),
            data_dir: None,
            device: "cpu".into(),
            slots: 1,
        };
        JobManager::open(config, registry, metrics).unwrap()
    }

    fn refused_field(jobs: &JobManager, request: TrainingRequest) -> String {
        match jobs.submit(request) {
            Err(EngineError::InvalidArgument { field, problem }) => {
                assert!(problem.contains("not accepted over the API"), "{problem}");
                field
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn path_keys_are_refused_by_name_in_toml_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = manager(dir.path());
        let model = dir.path().join("model.safetensors");
        std::fs::write(&model, b"weights").unwrap();
        let toml = format!(
            "[augment]\nmode = \"served\"\nmodel = \"{}\"\n",
            model.display()
        );
        let in_toml = TrainingRequest {
            preset: "fmnist-small".into(),
            config_toml: toml,
            ..TrainingRequest::default()
        };
        assert_eq!(refused_field(&jobs, in_toml), "augment.model");
        let overridden = |set: &str| TrainingRequest {
            preset: "fmnist-small".into(),
            overrides: vec!["augment.mode=served".into(), set.to_string()],
            ..TrainingRequest::default()
        };
        let set = format!("augment.model={}", model.display());
        assert_eq!(refused_field(&jobs, overridden(&set)), "augment.model");
        let data = overridden("data.path=/data/fashion");
        assert_eq!(refused_field(&jobs, data), "data.path");
        assert!(jobs.list(None).is_empty(), "nothing was queued");
    }
}
