//! Training jobs: long-running bilevel runs with states queued → running → succeeded / failed /
//! cancelled. Each job has a directory in the state dir (`jobs/<id>/job.json`, written
//! atomically at every change, and `run/`, the training run's own resumable directory). At most
//! `slots` jobs run at once, each on its own thread; the rest wait in submission order. After a
//! restart, jobs that were queued or running are queued again and running ones resume from
//! their last checkpoint (the run directory does that by itself).
//!
//! The parts: [`policy`] checks a request and builds its run configuration; [`persist`] reads
//! and writes job records (on a writer thread of its own); [`scheduler`] is the one thread that
//! owns the job table, driven by [`command`]s; [`runner`] is a job's thread. [`JobManager`] is the
//! handle the server holds: each method is one command and its reply.
mod command;
mod persist;
mod policy;
mod record;
mod runner;
mod scheduler;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::JobsDir;

use super::error::EngineError;
use super::models::{ModelRegistry, ModelSpec};

use command::{Command, COMMAND_QUEUE};
use persist::{create_job, load_jobs, read_records, Persister};
use policy::check_request;
pub use record::{
    JobRecord, JobState, JobUpdate, JobsConfig, StepProgress, TrainingRequest, Watch,
};
use scheduler::{now_ms, Context, Scheduler, Slot, Table};

/// The job manager: the scheduler's handle.
pub struct JobManager {
    settings: JobsConfig,
    dir: JobsDir,
    commands: mpsc::Sender<Command>,
    persister: Arc<Persister>,
    stopping: AtomicBool,
}

/// The jobs stored in `dir`, those that were running queued again, with what they did so far.
fn open_table(dir: &JobsDir, registry: &ModelRegistry) -> Result<Table, EngineError> {
    let mut table = Table::default();
    for mut record in load_jobs(dir)? {
        if let Some(n) = record
            .id
            .strip_prefix("job-")
            .and_then(|n| n.parse::<u64>().ok())
        {
            table.next_id = table.next_id.max(n);
        }
        if record.state == JobState::Running {
            record.state = JobState::Queued;
        }
        // A server killed after a publication but before the job's record said so: the
        // registry knows.
        for view in registry.published_by(&record.id) {
            let name = format!("{}@{}", view.meta.name, view.meta.version);
            if !record.published.contains(&name) {
                record.published.push(name);
            }
        }
        let mut backlog: Vec<JobUpdate> = read_records(&dir.job(&record.id).run())
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
        table.order.push(record.id.clone());
        table
            .jobs
            .insert(record.id.clone(), Slot::new(record, backlog));
    }
    Ok(table)
}

impl JobManager {
    /// Opens the jobs in `config.dir`, queueing again those that were queued or running.
    pub fn open(
        config: JobsConfig,
        registry: Arc<ModelRegistry>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, EngineError> {
        let dir = JobsDir::new(config.dir.clone());
        let table = open_table(&dir, &registry)?;
        let persister = Arc::new(Persister::start(dir.clone())?);
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let scheduler = Scheduler::new(
            Context {
                dir: dir.clone(),
                slots: config.slots,
                registry,
                metrics,
                persister: persister.clone(),
                commands: commands.downgrade(),
            },
            table,
        );
        std::thread::Builder::new()
            .name("augmentd-jobs".into())
            .spawn(move || scheduler.run(receiver))
            .map_err(|source| EngineError::Thread {
                what: "the job scheduler thread",
                source,
            })?;
        Ok(Self {
            settings: config,
            dir,
            commands,
            persister,
            stopping: AtomicBool::new(false),
        })
    }

    /// Sends a command and waits for its reply (off the async runtime).
    fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        // The scheduler is gone only if it panicked: nothing will answer any more.
        self.commands
            .blocking_send(command(reply))
            .map_err(|_| EngineError::ShuttingDown)?;
        answer
            .blocking_recv()
            .map_err(|_| EngineError::ShuttingDown)
    }

    /// Starts queued jobs (those found at open included).
    pub fn start_scheduling(&self) {
        // Only a scheduler that is gone refuses, and then there is nothing to start.
        let _ = self.commands.blocking_send(Command::Schedule);
    }

    /// Checks a request, stores it as a queued job and schedules it.
    pub fn submit(&self, request: TrainingRequest) -> Result<JobRecord, EngineError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let checked = check_request(&self.settings, &request)?;
        let id = self.ask(Command::Reserve)??;
        let record = JobRecord {
            id,
            state: JobState::Queued,
            failure_reason: String::new(),
            config_toml: checked.config.to_toml(),
            dataset: checked.dataset,
            model_name: checked.model_name,
            publish_every: request.publish_every,
            activate: request.activate,
            epochs: checked.config.epochs,
            epochs_done: 0,
            last_record: None,
            published: Vec::new(),
            created_unix_ms: now_ms(),
            started_unix_ms: 0,
            finished_unix_ms: 0,
        };
        create_job(&self.dir, &record)?;
        self.ask(|reply| Command::Insert(Box::new(record), reply))
    }

    /// One job.
    pub fn get(&self, id: &str) -> Result<JobRecord, EngineError> {
        self.ask(|reply| Command::Get(id.to_string(), reply))?
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))
    }

    /// Every job (in one state when given), oldest first.
    pub fn list(&self, state: Option<JobState>) -> Vec<JobRecord> {
        // Only a scheduler that panicked does not answer; it has no jobs to list then.
        self.ask(|reply| Command::List(state, reply))
            .unwrap_or_default()
    }

    /// Cancels a queued job at once, a running one at its next step.
    pub fn cancel(&self, id: &str) -> Result<JobRecord, EngineError> {
        self.ask(|reply| Command::Cancel(id.to_string(), reply))?
    }

    /// The job now, what happened so far, and a receiver of what happens next. Async: the
    /// runtime waits for the scheduler's reply without blocking a thread.
    pub async fn watch(&self, id: &str) -> Result<Watch, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Watch(id.to_string(), reply))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Stops taking jobs, asks running ones to stop at their next step (they stay `running`
    /// on disk and resume at the next start), waits for them up to `timeout`, then for the
    /// records changed so far to be on disk.
    pub fn shutdown(&self, timeout: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let (done, idle) = std::sync::mpsc::channel();
        if self.commands.blocking_send(Command::Shutdown(done)).is_ok() {
            // A timeout leaves the jobs that did not stop running; they resume at the next
            // start from their last checkpoint.
            let _ = idle.recv_timeout(timeout);
        }
        self.persister.flush();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

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

    #[test]
    fn a_reopened_job_is_queued_cancelled_watched_and_stored_by_the_scheduler() {
        let dir = tempfile::tempdir().unwrap();
        let jobs_dir = JobsDir::new(dir.path().join("jobs"));
        let stored = persist::tests::record("job-000041", JobState::Running);
        create_job(&jobs_dir, &stored).unwrap();
        let jobs = manager(dir.path());
        // Not scheduled yet: the job that was running waits in the queue.
        assert_eq!(jobs.get("job-000041").unwrap().state, JobState::Queued);
        assert!(matches!(
            jobs.get("job-000099"),
            Err(EngineError::JobNotFound(id)) if id == "job-000099"
        ));
        assert_eq!(jobs.list(Some(JobState::Queued)).len(), 1);
        assert!(jobs.list(Some(JobState::Running)).is_empty());

        let cancelled = jobs.cancel("job-000041").unwrap();
        assert_eq!(cancelled.state, JobState::Cancelled);
        assert_eq!(cancelled.failure_reason, "cancelled before it started");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let watch = runtime.block_on(jobs.watch("job-000041")).unwrap();
        assert_eq!(watch.snapshot, cancelled);
        assert!(watch.backlog.is_empty());
        assert!(watch.live.is_none(), "a finished job has nothing live");
        assert!(runtime.block_on(jobs.watch("job-000099")).is_err());

        // Nothing runs: the shutdown has nothing to wait for, and then stores the change.
        let started = std::time::Instant::now();
        jobs.shutdown(Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(10));
        let on_disk: JobRecord =
            crate::store::json::read_json(&jobs_dir.job("job-000041").record()).unwrap();
        assert_eq!(on_disk, cancelled);
        let refused = jobs.submit(TrainingRequest {
            preset: "fmnist-small".into(),
            ..TrainingRequest::default()
        });
        assert!(
            matches!(refused, Err(EngineError::ShuttingDown)),
            "{refused:?}"
        );
        drop(jobs);

        // Ids go on after the highest one stored.
        let again = manager(dir.path());
        assert_eq!(again.list(None), vec![cancelled]);
        assert_eq!(again.ask(Command::Reserve).unwrap().unwrap(), "job-000042");
    }
}
