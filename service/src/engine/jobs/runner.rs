//! A job's threads: the training run itself, and the pump that turns its events into watcher
//! updates, metrics, stored records and published model versions.
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

use crate::train::{
    EpochRecord, RunConfig, RunControl, RunEvent, StopReason, TrainError, TrainingRun,
};

use super::{now_ms, Inner, JobState, JobUpdate, StepProgress, STEP_INTERVAL};
use crate::engine::models::Provenance;

/// The records a run directory holds so far (none when it has not started).
pub(super) fn read_records(run_dir: &Path) -> Vec<EpochRecord> {
    std::fs::read_to_string(run_dir.join("records.jsonl"))
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The body of a job's thread: the run, with its events pumped to watchers and metrics.
pub(super) fn run_job(inner: &Arc<Inner>, id: &str, control: &RunControl) {
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
                inner.metrics.job_epoch(id, &record);
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
