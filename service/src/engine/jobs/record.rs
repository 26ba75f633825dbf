//! What the job manager stores and tells: a job's record and state, a training request, the
//! updates a watcher receives.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::engine::models::ModelView;
use crate::train::EpochRecord;

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
