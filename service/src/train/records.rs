//! What a run reports: one record per epoch (kept in `records.jsonl` and in every checkpoint)
//! and the events of the in-process stream that front ends (the CLI's progress bar, later the
//! gRPC layer) follow.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Mean and standard deviation of one transformation parameter over an epoch's samples.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransformStat {
    /// The parameter (`a11`, `tx`, …, `brightness`, …).
    pub name: String,
    /// Mean over every augmented training sample of the epoch.
    pub mean: f64,
    /// Standard deviation over the same samples.
    pub std: f64,
}

/// One epoch of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: u64,
    /// Mean training loss of the epoch's steps (on the images the classifier trained on).
    pub train_loss: f64,
    /// Loss on the validation split, evaluation mode, after the epoch.
    pub val_loss: f64,
    /// Accuracy (%) on the training split (un-augmented), evaluation mode.
    pub train_acc: f64,
    /// Accuracy (%) on the validation split.
    pub val_acc: f64,
    /// Accuracy (%) on the test set, when there is one.
    pub test_acc: Option<f64>,
    /// The classifier's learning rate during the epoch.
    pub lr: f64,
    /// Wall time of the epoch's training steps and evaluation.
    pub seconds: f64,
    /// Training images per second during the steps.
    pub images_per_second: f64,
    /// Mean L2 norm of the augmenter's hypergradient (learned modes).
    pub augmenter_grad_norm: Option<f64>,
    /// Mean and std of every transformation parameter (learned modes; empty otherwise).
    pub transforms: Vec<TransformStat>,
    /// Every transformation parameter's std was below `COLLAPSE_STD_THRESHOLD` this epoch:
    /// the augmenter applied one fixed transform (learned modes; false otherwise, and in
    /// records written before the flag existed).
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

/// Running sums giving the mean and standard deviation of transformation parameters over all
/// samples of an epoch from per-step means and (unbiased) standard deviations.
#[derive(Debug, Default)]
pub struct TransformAccumulator {
    count: f64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl TransformAccumulator {
    /// Adds a step's statistics over `n` samples.
    pub fn add(&mut self, n: usize, mean: &[f64], std: &[f64]) {
        let n = n as f64;
        if self.sum.len() != mean.len() {
            self.sum = vec![0.0; mean.len()];
            self.sum_sq = vec![0.0; mean.len()];
        }
        for i in 0..mean.len() {
            self.sum[i] += n * mean[i];
            self.sum_sq[i] += (n - 1.0).max(0.0) * std[i] * std[i] + n * mean[i] * mean[i];
        }
        self.count += n;
    }

    /// The epoch's statistics, named.
    pub fn finish(&self, names: &[&str]) -> Vec<TransformStat> {
        if self.count == 0.0 {
            return Vec::new();
        }
        names
            .iter()
            .zip(self.sum.iter().zip(&self.sum_sq))
            .map(|(name, (s, sq))| {
                let mean = s / self.count;
                let var = if self.count > 1.0 {
                    ((sq - self.count * mean * mean) / (self.count - 1.0)).max(0.0)
                } else {
                    0.0
                };
                TransformStat {
                    name: (*name).to_string(),
                    mean,
                    std: var.sqrt(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
