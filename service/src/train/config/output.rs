//! The `[output]` section: what a run writes besides checkpoints and records, and how often it
//! tests.
use serde::{Deserialize, Serialize};

/// What the run writes besides checkpoints and records.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Training images shown in the original | augmented grid of each epoch (0: no grid).
    pub grid_images: usize,
    /// Save the augmenter as a model into `models/epoch-NNNN/` after every epoch e with
    /// e + 1 divisible by this (learned modes; 0: only the final model). Left out of the
    /// stored configuration when 0, so run directories from before the key still resume.
    #[serde(skip_serializing_if = "is_zero")]
    pub model_every: u64,
    /// Evaluate the test set after every epoch e with e + 1 divisible by this, and always
    /// after the last epoch (at least 1; 1, the default, is every epoch). Left out of the
    /// stored configuration when 1, so run directories from before the key still resume.
    #[serde(skip_serializing_if = "is_one")]
    pub test_every: u64,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            grid_images: 8,
            model_every: 0,
            test_every: 1,
        }
    }
}

impl OutputConfig {
    /// Whether the test set is evaluated after `epoch` (0-based) of a run of `epochs`.
    pub fn tests_after(&self, epoch: u64, epochs: u64) -> bool {
        epoch + 1 >= epochs || (epoch + 1).is_multiple_of(self.test_every)
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_one(value: &u64) -> bool {
    *value == 1
}
