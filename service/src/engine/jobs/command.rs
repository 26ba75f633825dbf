//! What the scheduler thread is told: commands from the job manager (each with its oneshot
//! reply) and events from job threads, all on one bounded channel, so that the scheduler sees
//! every change in the order it happened.
use tokio::sync::oneshot;

use crate::train::EpochRecord;

use super::super::error::EngineError;
use super::super::models::ModelView;
use super::record::{JobRecord, JobState, StepProgress, Watch};

/// Commands waiting for the scheduler at most (senders wait when it is full).
pub(super) const COMMAND_QUEUE: usize = 256;

/// What the scheduler is asked to do.
pub(super) enum Command {
    /// Allocate the next job id (refused once stopping).
    Reserve(oneshot::Sender<Result<String, EngineError>>),
    /// Add a job whose folder and first record are written, and schedule it.
    Insert(Box<JobRecord>, oneshot::Sender<JobRecord>),
    /// One job.
    Get(String, oneshot::Sender<Option<JobRecord>>),
    /// Every job (in one state when given), oldest first.
    List(Option<JobState>, oneshot::Sender<Vec<JobRecord>>),
    /// Cancel a job.
    Cancel(String, oneshot::Sender<Result<JobRecord, EngineError>>),
    /// A job's snapshot, backlog and live updates.
    Watch(String, oneshot::Sender<Result<Watch, EngineError>>),
    /// Start queued jobs while slots are free.
    Schedule,
    /// Stop starting jobs and ask running ones to stop; the sender hears when none runs.
    Shutdown(std::sync::mpsc::Sender<()>),
    /// Something happened in a job's thread.
    Job(String, JobEvent),
}

/// What a job's thread reports.
pub(super) enum JobEvent {
    /// The run started (or resumed) with `epochs` epochs and these records so far.
    Started {
        epochs: u64,
        records: Vec<EpochRecord>,
    },
    /// Throttled step progress.
    Step(StepProgress),
    /// An epoch finished.
    Epoch(Box<EpochRecord>),
    /// A model of the job is published (now, or before a restart).
    Published(Box<ModelView>),
    /// The thread is done.
    Finished(Outcome),
}

/// How a job's thread ended.
pub(super) enum Outcome {
    /// Every epoch ran.
    Succeeded,
    /// Stopped by CancelJob.
    Cancelled,
    /// Stopped by a shutdown: stays `running` on disk and resumes at the next start.
    Paused,
    /// Stopped by an error (the reason).
    Failed(String),
}
