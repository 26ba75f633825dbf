//! Training-job families, one series per job (`job_id="job-000001"`; not `job`, which Prometheus
//! sets to the scrape job's name): steps, step time, images, losses and accuracies, the
//! augmenter's gradient and transform statistics, collapse, checkpoints, whether the job runs,
//! and the number of jobs in each state. The methods that update them are in `jobs.rs`.
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use super::{register, MetricsError};

/// Step time buckets: 1 ms (a tiny classifier on a GPU) to 60 s (a large batch with second
/// order gradients on a CPU).
const STEP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The job states `augmentd_jobs` always reports, at 0 when no job is in them.
pub(super) const JOB_STATES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];

/// The splits a loss or accuracy series can carry.
pub(super) const SPLITS: [&str; 3] = ["train", "val", "test"];

/// The training handles, registered in the [`Metrics`](super::Metrics) registry.
pub(super) struct TrainingMetrics {
    pub(super) steps: IntCounterVec,
    pub(super) step_duration: HistogramVec,
    pub(super) images: IntCounterVec,
    pub(super) loss: GaugeVec,
    pub(super) epoch: IntGaugeVec,
    pub(super) accuracy: GaugeVec,
    pub(super) images_per_second: GaugeVec,
    pub(super) grad_norm: GaugeVec,
    pub(super) transform_mean: GaugeVec,
    pub(super) transform_std: GaugeVec,
    pub(super) collapsed: IntGaugeVec,
    pub(super) epochs_completed: IntGaugeVec,
    pub(super) last_checkpoint: GaugeVec,
    pub(super) jobs: IntGaugeVec,
    pub(super) running: IntGaugeVec,
    /// The transform parameters each job reported last, so a job's series can be removed.
    pub(super) params: Mutex<HashMap<String, BTreeSet<String>>>,
}

/// A gauge family with one value per label set.
fn gauge(name: &'static str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
    GaugeVec::new(Opts::new(name, help), labels)
}

/// An integer gauge family with one value per label set.
fn int_gauge(name: &'static str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    IntGaugeVec::new(Opts::new(name, help), labels)
}

impl TrainingMetrics {
    /// Creates the training families and registers them in `registry`.
    pub(super) fn register(r: &Registry) -> Result<Self, MetricsError> {
        let jobs = register(
            r,
            "augmentd_jobs",
            int_gauge("augmentd_jobs", "Training jobs in each state.", &["state"]),
        )?;
        for state in JOB_STATES {
            jobs.with_label_values(&[state]).set(0);
        }
        Ok(Self {
            steps: register(
                r,
                "augmentd_training_steps_total",
                IntCounterVec::new(
                    Opts::new(
                        "augmentd_training_steps_total",
                        "Bilevel training steps taken by a job.",
                    ),
                    &["job_id"],
                ),
            )?,
            step_duration: register(
                r,
                "augmentd_training_step_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new(
                        "augmentd_training_step_duration_seconds",
                        "Wall time of one bilevel training step of a job.",
                    )
                    .buckets(STEP_BUCKETS.to_vec()),
                    &["job_id"],
                ),
            )?,
            images: register(
                r,
                "augmentd_training_images_total",
                IntCounterVec::new(
                    Opts::new(
                        "augmentd_training_images_total",
                        "Training images a job's classifier has trained on.",
                    ),
                    &["job_id"],
                ),
            )?,
            loss: register(
                r,
                "augmentd_training_loss",
                gauge(
                    "augmentd_training_loss",
                    "A job's latest loss: split=train is the last step's (then the epoch \
                     mean), split=val the epoch's validation loss. May be NaN or Inf.",
                    &["job_id", "split"],
                ),
            )?,
            epoch: register(
                r,
                "augmentd_training_epoch",
                int_gauge(
                    "augmentd_training_epoch",
                    "The 0-based epoch a job is training.",
                    &["job_id"],
                ),
            )?,
            accuracy: register(
                r,
                "augmentd_training_accuracy_percent",
                gauge(
                    "augmentd_training_accuracy_percent",
                    "A job's accuracy (0-100) after its last epoch, by split (test: its last \
                     evaluation; no val series without a validation split).",
                    &["job_id", "split"],
                ),
            )?,
            images_per_second: register(
                r,
                "augmentd_training_images_per_second",
                gauge(
                    "augmentd_training_images_per_second",
                    "A job's training throughput during its last epoch.",
                    &["job_id"],
                ),
            )?,
            grad_norm: register(
                r,
                "augmentd_training_augmenter_grad_norm",
                gauge(
                    "augmentd_training_augmenter_grad_norm",
                    "Mean L2 norm of the augmenter's hypergradient over a job's last epoch.",
                    &["job_id"],
                ),
            )?,
            transform_mean: register(
                r,
                "augmentd_training_transform_mean",
                gauge(
                    "augmentd_training_transform_mean",
                    "Mean of a transformation parameter over a job's last epoch.",
                    &["job_id", "param"],
                ),
            )?,
            transform_std: register(
                r,
                "augmentd_training_transform_std",
                gauge(
                    "augmentd_training_transform_std",
                    "Standard deviation of a transformation parameter over a job's last epoch.",
                    &["job_id", "param"],
                ),
            )?,
            collapsed: register(
                r,
                "augmentd_training_collapsed",
                int_gauge(
                    "augmentd_training_collapsed",
                    "1 if a job's augmenter collapsed in its last epoch, else 0.",
                    &["job_id"],
                ),
            )?,
            epochs_completed: register(
                r,
                "augmentd_training_epochs_completed",
                int_gauge(
                    "augmentd_training_epochs_completed",
                    "Epochs a job has finished.",
                    &["job_id"],
                ),
            )?,
            last_checkpoint: register(
                r,
                "augmentd_training_last_checkpoint_timestamp_seconds",
                gauge(
                    "augmentd_training_last_checkpoint_timestamp_seconds",
                    "Unix time of a job's last written checkpoint.",
                    &["job_id"],
                ),
            )?,
            jobs,
            running: register(
                r,
                "augmentd_training_running",
                int_gauge(
                    "augmentd_training_running",
                    "1 while a job's training loop runs, else 0.",
                    &["job_id"],
                ),
            )?,
            params: Mutex::new(HashMap::new()),
        })
    }
}
