//! The scheduler: one thread that owns the job table. Callers and job threads talk to it only
//! through [`Command`]s on a bounded channel, with oneshot replies; nothing else touches the
//! table, so there is no lock to wait on, and the records it changes are handed to the
//! [`Persister`] rather than written here.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc};

use crate::metrics::Metrics;
use crate::store::JobsDir;
use crate::train::{RunControl, StopReason};

use super::super::error::EngineError;
use super::super::models::ModelRegistry;
use super::command::{Command, JobEvent, Outcome};
use super::persist::Persister;
use super::record::{JobRecord, JobState, JobUpdate, Watch};
use super::runner::{run_job, JobContext};

/// Updates a watcher may fall behind by before it misses step progress.
const LIVE_QUEUE: usize = 1024;

/// A job in the table.
pub(super) struct Slot {
    /// The job as stored and listed.
    pub record: JobRecord,
    /// Epoch records and publications so far, replayed to each new watcher.
    pub backlog: Vec<JobUpdate>,
    /// Stops its run, while it has a thread.
    control: Option<RunControl>,
    /// Its watchers.
    live: broadcast::Sender<JobUpdate>,
}

impl Slot {
    /// A job not running, with what happened so far.
    pub fn new(record: JobRecord, backlog: Vec<JobUpdate>) -> Self {
        let (live, _) = broadcast::channel(LIVE_QUEUE);
        Self {
            record,
            backlog,
            control: None,
            live,
        }
    }
}

/// What the scheduler needs to run jobs.
pub(super) struct Context {
    /// Where the jobs' folders are.
    pub dir: JobsDir,
    /// Jobs running at once.
    pub slots: usize,
    /// Where jobs publish.
    pub registry: Arc<ModelRegistry>,
    /// Job and state metrics.
    pub metrics: Arc<Metrics>,
    /// The writer of changed records.
    pub persister: Arc<Persister>,
    /// Job threads get a sender from it; the scheduler's own would keep its channel open.
    pub commands: mpsc::WeakSender<Command>,
}

/// The jobs, as opened from the state dir.
#[derive(Default)]
pub(super) struct Table {
    /// Ids in submission order.
    pub order: Vec<String>,
    /// Every job.
    pub jobs: HashMap<String, Slot>,
    /// The number of the last id handed out.
    pub next_id: u64,
}

/// The scheduler thread's state.
pub(super) struct Scheduler {
    context: Context,
    table: Table,
    running: usize,
    stopping: bool,
    idle_waiters: Vec<std::sync::mpsc::Sender<()>>,
}

/// Unix milliseconds now (0 before 1970).
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Scheduler {
    /// A scheduler of `table`, none of whose jobs runs yet.
    pub fn new(context: Context, table: Table) -> Self {
        let scheduler = Self {
            context,
            table,
            running: 0,
            stopping: false,
            idle_waiters: Vec::new(),
        };
        scheduler.count_states();
        scheduler
    }

    /// Answers commands until every sender is gone.
    pub fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        while let Some(command) = receiver.blocking_recv() {
            self.handle(command);
        }
    }

    // A reply nobody waits for any more is not an error: the caller gave up.
    fn handle(&mut self, command: Command) {
        match command {
            Command::Reserve(reply) => {
                let answer = if self.stopping {
                    Err(EngineError::ShuttingDown)
                } else {
                    self.table.next_id += 1;
                    Ok(format!("job-{:06}", self.table.next_id))
                };
                let _ = reply.send(answer);
            }
            Command::Insert(record, reply) => {
                let id = record.id.clone();
                self.table.order.push(id.clone());
                self.table
                    .jobs
                    .insert(id.clone(), Slot::new(*record, Vec::new()));
                self.count_states();
                self.schedule();
                if let Some(slot) = self.table.jobs.get(&id) {
                    let _ = reply.send(slot.record.clone());
                }
            }
            Command::Get(id, reply) => {
                let _ = reply.send(self.table.jobs.get(&id).map(|s| s.record.clone()));
            }
            Command::List(state, reply) => {
                let records = self
                    .table
                    .order
                    .iter()
                    .filter_map(|id| self.table.jobs.get(id))
                    .map(|s| s.record.clone())
                    .filter(|r| state.is_none_or(|want| r.state == want))
                    .collect();
                let _ = reply.send(records);
            }
            Command::Cancel(id, reply) => {
                let _ = reply.send(self.cancel(&id));
            }
            Command::Watch(id, reply) => {
                let answer = self
                    .table
                    .jobs
                    .get(&id)
                    .map(|slot| Watch {
                        snapshot: slot.record.clone(),
                        backlog: slot.backlog.clone(),
                        live: (!slot.record.state.is_final()).then(|| slot.live.subscribe()),
                    })
                    .ok_or(EngineError::JobNotFound(id));
                let _ = reply.send(answer);
            }
            Command::Schedule => self.schedule(),
            Command::Shutdown(done) => {
                self.stopping = true;
                for slot in self.table.jobs.values() {
                    if let Some(control) = &slot.control {
                        control.request_stop(StopReason::Shutdown);
                    }
                }
                self.idle_waiters.push(done);
                self.tell_if_idle();
            }
            Command::Job(id, event) => self.job_event(&id, event),
        }
    }

    fn cancel(&mut self, id: &str) -> Result<JobRecord, EngineError> {
        let slot = self
            .table
            .jobs
            .get(id)
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))?;
        match slot.record.state {
            JobState::Queued => self.change(id, |r| {
                r.state = JobState::Cancelled;
                r.failure_reason = "cancelled before it started".into();
                r.finished_unix_ms = now_ms();
            }),
            JobState::Running => {
                if let Some(control) = &slot.control {
                    control.request_stop(StopReason::Cancelled);
                }
            }
            JobState::Succeeded | JobState::Failed | JobState::Cancelled => {}
        }
        self.table
            .jobs
            .get(id)
            .map(|s| s.record.clone())
            .ok_or_else(|| EngineError::JobNotFound(id.to_string()))
    }

    fn job_event(&mut self, id: &str, event: JobEvent) {
        match event {
            JobEvent::Started { epochs, records } => {
                // The run has written the records it resumed with: they are the history (a
                // crash between a checkpoint and its record line leaves the file behind).
                if let Some(slot) = self.table.jobs.get_mut(id) {
                    slot.record.epochs = epochs;
                    slot.record.epochs_done = records.last().map_or(0, |r| r.epoch + 1);
                    slot.record.last_record = records.last().cloned();
                    slot.backlog.retain(|u| !matches!(u, JobUpdate::Epoch(_)));
                    let epochs = records.into_iter().map(|r| JobUpdate::Epoch(Box::new(r)));
                    slot.backlog.splice(0..0, epochs);
                }
            }
            JobEvent::Step(progress) => {
                if let Some(slot) = self.table.jobs.get(id) {
                    // No receiver is not an error: nobody is watching.
                    let _ = slot.live.send(JobUpdate::Step(progress));
                }
            }
            JobEvent::Epoch(record) => {
                if let Some(slot) = self.table.jobs.get_mut(id) {
                    slot.backlog.push(JobUpdate::Epoch(record.clone()));
                    let _ = slot.live.send(JobUpdate::Epoch(record.clone()));
                    slot.record.epochs_done = record.epoch + 1;
                    slot.record.last_record = Some(*record);
                    self.context.persister.save(&slot.record);
                }
            }
            JobEvent::Published(view) => {
                if let Some(slot) = self.table.jobs.get_mut(id) {
                    let name = format!("{}@{}", view.meta.name, view.meta.version);
                    // A publication found again after a restart is told once.
                    if !slot.record.published.contains(&name) {
                        slot.record.published.push(name);
                        slot.backlog.push(JobUpdate::Published(view.clone()));
                        let _ = slot.live.send(JobUpdate::Published(view));
                        self.context.persister.save(&slot.record);
                    }
                }
            }
            JobEvent::Finished(outcome) => self.finished(id, outcome),
        }
    }

    fn finished(&mut self, id: &str, outcome: Outcome) {
        self.running = self.running.saturating_sub(1);
        self.context.metrics.job_running(id, false);
        match outcome {
            Outcome::Succeeded => self.change(id, |r| {
                r.state = JobState::Succeeded;
                r.finished_unix_ms = now_ms();
            }),
            Outcome::Cancelled => self.change(id, |r| {
                r.state = JobState::Cancelled;
                r.failure_reason = "cancelled by CancelJob while running".into();
                r.finished_unix_ms = now_ms();
            }),
            Outcome::Paused => {
                tracing::info!(job_id = %id, "job stopped by the shutdown: it resumes at the next start");
            }
            Outcome::Failed(reason) => self.change(id, |r| {
                r.state = JobState::Failed;
                r.failure_reason = reason;
                r.finished_unix_ms = now_ms();
            }),
        }
        if let Some(slot) = self.table.jobs.get_mut(id) {
            slot.control = None;
        }
        self.schedule();
        self.tell_if_idle();
    }

    fn tell_if_idle(&mut self) {
        if self.stopping && self.running == 0 {
            for waiter in self.idle_waiters.drain(..) {
                // A shutdown that stopped waiting is not an error.
                let _ = waiter.send(());
            }
        }
    }

    fn count_states(&self) {
        let counts: Vec<(&str, i64)> = JobState::ALL
            .iter()
            .map(|s| {
                let n = self
                    .table
                    .jobs
                    .values()
                    .filter(|j| j.record.state == *s)
                    .count();
                (s.name(), n as i64)
            })
            .collect();
        self.context.metrics.set_jobs_by_state(&counts);
    }

    /// Applies a change to a job's record, queues it for the disk and tells watchers.
    fn change(&mut self, id: &str, edit: impl FnOnce(&mut JobRecord)) {
        let Some(slot) = self.table.jobs.get_mut(id) else {
            return;
        };
        edit(&mut slot.record);
        log_state(&slot.record);
        self.context.persister.save(&slot.record);
        let _ = slot
            .live
            .send(JobUpdate::Job(Box::new(slot.record.clone())));
        self.count_states();
    }

    /// Starts queued jobs while slots are free.
    fn schedule(&mut self) {
        while self.running < self.context.slots && !self.stopping {
            let Some(id) = self
                .table
                .order
                .iter()
                .find(|id| {
                    self.table
                        .jobs
                        .get(*id)
                        .is_some_and(|s| s.record.state == JobState::Queued)
                })
                .cloned()
            else {
                return;
            };
            match self.start(&id) {
                Ok(control) => {
                    self.running += 1;
                    if let Some(slot) = self.table.jobs.get_mut(&id) {
                        slot.control = Some(control);
                    }
                    self.change(&id, |r| {
                        r.state = JobState::Running;
                        if r.started_unix_ms == 0 {
                            r.started_unix_ms = now_ms();
                        }
                    });
                    self.context.metrics.job_running(&id, true);
                }
                Err(problem) => self.change(&id, |r| {
                    r.state = JobState::Failed;
                    r.failure_reason = format!("cannot start its thread: {problem}");
                    r.finished_unix_ms = now_ms();
                }),
            }
        }
    }

    /// Spawns the thread of a queued job.
    fn start(&self, id: &str) -> Result<RunControl, String> {
        let slot = self.table.jobs.get(id).ok_or("it is not in the table")?;
        let events = self
            .context
            .commands
            .upgrade()
            .ok_or("the job manager is closing")?;
        let control = RunControl::new();
        let r = &slot.record;
        let job = JobContext {
            id: id.to_string(),
            config_toml: r.config_toml.clone(),
            run: self.context.dir.job(id).run(),
            model_name: r.model_name.clone(),
            dataset: r.dataset.clone(),
            activate: r.activate,
            epochs: r.epochs,
            registry: self.context.registry.clone(),
            metrics: self.context.metrics.clone(),
            control: control.clone(),
            events,
        };
        std::thread::Builder::new()
            .name(format!("augmentd-{id}"))
            .spawn(move || run_job(job))
            .map_err(|e| e.to_string())?;
        Ok(control)
    }
}

/// Logs a job's new state: info for its life, warn for a failure.
fn log_state(record: &JobRecord) {
    let (id, state) = (&record.id, record.state.name());
    match record.state {
        JobState::Failed => {
            tracing::warn!(job_id = %id, state, reason = %record.failure_reason, "job failed");
        }
        JobState::Cancelled => {
            tracing::info!(job_id = %id, state, reason = %record.failure_reason, "job cancelled");
        }
        JobState::Queued | JobState::Running | JobState::Succeeded => {
            tracing::info!(job_id = %id, state, "job state changed");
        }
    }
}
