//! What a run reports: one record per epoch (kept in `records.jsonl` and in every checkpoint)
//! and the events of the in-process stream that front ends (the CLI's progress bar, later the
//! gRPC layer) follow.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::ColumnMoments;
pub use crate::model::TransformStat;

/// One epoch of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: u64,
    /// Mean training loss of the epoch's steps (on the images the classifier trained on).
    pub train_loss: f64,
    /// Loss on the validation split, evaluation mode, after the epoch; `None` (written as
    /// `null`) when the run has no validation split (`data.val_ratio = 0`).
    pub val_loss: Option<f64>,
    /// Accuracy (%) on the epoch's training batches as its steps saw them: augmented,
    /// training-mode BatchNorm, each batch before its update (the classifier's running
    /// training accuracy, as PyTorch training loops report it).
    pub train_acc: f64,
    /// Accuracy (%) on the validation split; `None` as `val_loss`.
    pub val_acc: Option<f64>,
    /// Accuracy (%) on the test set, when there is one and it was evaluated after this epoch
    /// (every `output.test_every` epochs, and after the last).
    pub test_acc: Option<f64>,
    /// The classifier's learning rate during the epoch.
    pub lr: f64,
    /// Wall time of the epoch's training steps and evaluation.
    pub seconds: f64,
    /// Training images per second during the steps.
    pub images_per_second: f64,
    /// Mean L2 norm of the augmenter's hypergradient (learned modes).
    pub augmenter_grad_norm: Option<f64>,
    /// Mean and std of every transformation parameter over the epoch's augmented training
    /// samples (learned and served modes; empty otherwise).
    pub transforms: Vec<TransformStat>,
    /// The distribution the augmenter serves after this epoch, as it would be published
    /// (`EPOCH_SERVED_DRAWS` draws, dropout on): mean and std of every parameter (learned
    /// modes; empty otherwise and in records written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub served: Vec<TransformStat>,
    /// Every transformation parameter's std is below `COLLAPSE_STD_THRESHOLD`: the augmenter
    /// applies one fixed transform. Learned modes decide on `served` (what a model published
    /// now would do; the epoch's pooled `transforms` can vary while the augmenter moves even
    /// though each moment's output does not), served mode on `transforms`; false otherwise
    /// and in records written before the flag existed.
    #[serde(default)]
    pub collapsed: bool,
}

impl EpochRecord {
    /// The record with its wall-clock fields zeroed: what two runs of the same seed must
    /// agree on.
    pub fn without_timing(&self) -> Self {
        Self {
            seconds: 0.0,
            images_per_second: 0.0,
            ..self.clone()
        }
    }
}

/// Progress of a run, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// The run starts (or resumes) at `first_epoch` of `epochs`, `steps_per_epoch` steps each.
    Started {
        /// First epoch to train (0, or the one after the last checkpoint).
        first_epoch: u64,
        /// Total epochs.
        epochs: u64,
        /// Optimisation steps per epoch.
        steps_per_epoch: usize,
    },
    /// A training step finished.
    Step {
        /// The epoch.
        epoch: u64,
        /// 1-based step within the epoch.
        step: usize,
        /// Steps in the epoch.
        steps_per_epoch: usize,
        /// The step's training loss.
        train_loss: f64,
        /// Training images in the step (all its inner batches).
        images: usize,
        /// Wall time since the previous step ended (or the epoch started): loading and the
        /// step itself, so that the steps' seconds add up to the epoch's training time.
        seconds: f64,
    },
    /// An epoch finished and was checkpointed.
    Epoch(EpochRecord),
    /// The augmenter was saved as a model (`model.safetensors` + `model.json`, with its served
    /// distribution), every `output.model_every` epochs and once at the end (learned modes).
    ModelSaved {
        /// The epoch whose weights these are.
        epoch: u64,
        /// The `model.safetensors` file.
        path: PathBuf,
        /// The run's final model (`<run dir>/model.safetensors`), not a periodic one.
        final_model: bool,
    },
    /// A corrupt or partial checkpoint was passed over while resuming (what and why).
    SkippedCheckpoint(String),
}

/// The mean and standard deviation of transformation parameters over all samples of an
/// epoch, pooled from per-step means and (unbiased) standard deviations.
#[derive(Debug, Default)]
pub struct TransformAccumulator(ColumnMoments);

impl TransformAccumulator {
    /// Adds a step's statistics over `n` samples.
    pub fn add(&mut self, n: usize, mean: &[f64], std: &[f64]) {
        self.0.add_group(n, mean, std);
    }

    /// The epoch's statistics, named.
    pub fn finish(&self, names: &[&str]) -> Vec<TransformStat> {
        self.0.finish(names)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_with_and_without_validation_round_trip() {
        // A line as written before the validation figures became optional.
        let old = r#"{"epoch":3,"train_loss":0.5,"val_loss":0.75,"train_acc":81.5,"val_acc":78.25,"test_acc":77.0,"lr":0.1,"seconds":2.0,"images_per_second":100.0,"augmenter_grad_norm":0.125,"transforms":[{"name":"tx","mean":0.5,"std":0.25}],"collapsed":false}"#;
        let record: EpochRecord = serde_json::from_str(old).unwrap();
        assert_eq!(
            (record.epoch, record.val_loss, record.val_acc),
            (3, Some(0.75), Some(78.25))
        );
        assert_eq!(record.test_acc, Some(77.0));
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(old).unwrap()
        );

        let without = EpochRecord {
            val_loss: None,
            val_acc: None,
            test_acc: None,
            ..record
        };
        let line = serde_json::to_string(&without).unwrap();
        assert!(
            line.contains(r#""val_loss":null"#) && line.contains(r#""val_acc":null"#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<EpochRecord>(&line).unwrap(), without);
    }

    #[test]
    fn pooled_statistics_equal_those_of_all_samples() {
        let steps = [vec![1.0, 2.0, 4.0], vec![3.0, 5.0]];
        let mut acc = TransformAccumulator::default();
        for values in &steps {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            acc.add(values.len(), &[mean], &[var.sqrt()]);
        }
        let stat = &acc.finish(&["x"])[0];
        // All five: mean 3, unbiased variance (4 + 1 + 1 + 0 + 4) / 4 = 2.5.
        assert!((stat.mean - 3.0).abs() < 1e-12);
        assert!((stat.std - 2.5f64.sqrt()).abs() < 1e-12);
    }
}
