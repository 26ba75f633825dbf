//! What carries over from one epoch to the next, in and out of checkpoints: every tensor of
//! the learner (weights, BatchNorm statistics, both optimizers' momentum buffers) under a
//! prefixed name, and the metadata (epoch, seed, records so far, configuration).
use std::collections::HashMap;
use std::path::Path;

use tch::Tensor;

use crate::bilevel::{AugmenterState, ClassifierState};
use crate::nn::{NnError, ParamSet};
use crate::store::atomic::write_bytes_atomically;
use crate::store::{CheckpointStore, RunDir, SkippedCheckpoint};
use crate::teacher::Teacher;

use super::config::RunConfig;
use super::error::TrainError;
use super::records::EpochRecord;

/// The learner's state, borrowed for saving or restoring.
pub struct Parts<'a> {
    /// The classifier with its optimizer.
    pub classifier: &'a mut ClassifierState,
    /// The augmenter with its optimizer, in learned modes.
    pub augmenter: Option<&'a mut AugmenterState>,
    /// The EMA teacher of the adversarial term, when the objective has one.
    pub teacher: Option<&'a mut Teacher>,
}

fn push_set(out: &mut Vec<(String, Tensor)>, prefix: &str, set: &ParamSet) {
    for (name, tensor) in set.iter() {
        out.push((format!("{prefix}.{name}"), tensor.detach()));
    }
}

fn push_momentum(
    out: &mut Vec<(String, Tensor)>,
    prefix: &str,
    set: &ParamSet,
    buffers: &[Option<Tensor>],
) {
    for (name, buffer) in set.names().iter().zip(buffers) {
        if let Some(buffer) = buffer {
            out.push((format!("{prefix}.{name}"), buffer.detach()));
        }
    }
}

/// Every tensor a checkpoint must hold.
pub fn checkpoint_tensors(parts: &Parts) -> Result<Vec<(String, Tensor)>, TrainError> {
    let mut out = Vec::new();
    let c = &parts.classifier;
    push_set(&mut out, "classifier", &c.weights);
    push_set(&mut out, "classifier_buffers", &c.buffers);
    push_momentum(
        &mut out,
        "classifier_opt",
        &c.weights,
        c.optimizer.buffers(),
    );
    if let Some(a) = &parts.augmenter {
        push_set(&mut out, "augmenter", &a.theta);
        push_momentum(&mut out, "augmenter_opt", &a.theta, a.optimizer.buffers());
    }
    if let Some(t) = &parts.teacher {
        push_set(&mut out, "teacher", &t.weights);
        push_set(&mut out, "teacher_buffers", &t.buffers);
    }
    Ok(out)
}

/// The checkpoint's metadata.
pub fn metadata(config: &RunConfig, epoch: u64, records: &[EpochRecord]) -> serde_json::Value {
    serde_json::json!({
        "epoch": epoch,
        "seed": config.seed,
        "records": records,
        "config": config.to_toml(),
    })
}

fn restore_set(
    saved: &mut HashMap<String, Tensor>,
    prefix: &str,
    set: &ParamSet,
) -> Result<(), TrainError> {
    let _no_grad = tch::no_grad_guard();
    for (name, tensor) in set.iter() {
        let key = format!("{prefix}.{name}");
        let source = saved
            .remove(&key)
            .ok_or_else(|| NnError::MissingParameter(key.clone()))?;
        let mut target = tensor.shallow_clone();
        target.f_copy_(&source).map_err(NnError::from)?;
    }
    Ok(())
}

fn restore_momentum(
    saved: &mut HashMap<String, Tensor>,
    prefix: &str,
    set: &ParamSet,
) -> Result<Vec<Option<Tensor>>, TrainError> {
    set.iter()
        .map(|(name, like)| {
            saved
                .remove(&format!("{prefix}.{name}"))
                .map(|t| t.f_to_device(like.device()).map_err(NnError::from))
                .transpose()
                .map_err(TrainError::from)
        })
        .collect()
}

/// What resuming found.
pub struct Resumed {
    /// Records of the completed epochs.
    pub records: Vec<EpochRecord>,
    /// The last completed epoch.
    pub epoch: Option<u64>,
    /// Checkpoints that were corrupt or partial and passed over.
    pub skipped: Vec<SkippedCheckpoint>,
}

/// Restores the newest valid checkpoint into `parts`; an empty store is a fresh start.
pub fn resume(store: &CheckpointStore, parts: &mut Parts) -> Result<Resumed, TrainError> {
    let outcome = store.load_latest()?;
    let Some(checkpoint) = outcome.checkpoint else {
        return Ok(Resumed {
            records: Vec::new(),
            epoch: None,
            skipped: outcome.skipped,
        });
    };
    let mut saved: HashMap<String, Tensor> = checkpoint.tensors.into_iter().collect();
    let c = &mut parts.classifier;
    restore_set(&mut saved, "classifier", &c.weights)?;
    restore_set(&mut saved, "classifier_buffers", &c.buffers)?;
    let momentum = restore_momentum(&mut saved, "classifier_opt", &c.weights)?;
    c.optimizer.set_buffers(momentum);
    if let Some(a) = parts.augmenter.as_mut() {
        restore_set(&mut saved, "augmenter", &a.theta)?;
        let momentum = restore_momentum(&mut saved, "augmenter_opt", &a.theta)?;
        a.optimizer.set_buffers(momentum);
    }
    if let Some(t) = parts.teacher.as_mut() {
        restore_set(&mut saved, "teacher", &t.weights)?;
        restore_set(&mut saved, "teacher_buffers", &t.buffers)?;
    }
    let records: Vec<EpochRecord> = serde_json::from_value(checkpoint.metadata["records"].clone())
        .map_err(|e| TrainError::RunDir {
            path: store.root().to_path_buf(),
            problem: format!(
                "checkpoint of epoch {} has unreadable records: {e}",
                checkpoint.epoch
            ),
        })?;
    Ok(Resumed {
        records,
        epoch: Some(checkpoint.epoch),
        skipped: outcome.skipped,
    })
}

/// Rewrites `records.jsonl` (one JSON record per line) atomically.
pub fn write_records(dir: &Path, records: &[EpochRecord]) -> Result<(), TrainError> {
    let mut text = String::new();
    for record in records {
        let line = serde_json::to_string(record).map_err(|e| TrainError::RunDir {
            path: dir.to_path_buf(),
            problem: format!("cannot serialize a record: {e}"),
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    write_bytes_atomically(&RunDir::new(dir).records(), text.as_bytes())?;
    Ok(())
}
