//! The `[classifier]` section: the hosted classifier's architecture, its SGD optimizer and its
//! learning-rate schedule.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::names::by_name;
use crate::nn::ClassifierArch;

/// The learning-rate schedule of the classifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// The same rate every epoch.
    Constant,
    /// Multiply by `factor` at each epoch in `milestones`.
    Step {
        /// Epochs (0-based) at which the rate drops.
        milestones: Vec<u64>,
        /// The factor applied at each milestone.
        factor: f64,
    },
}

impl ScheduleConfig {
    /// The learning rate for `epoch` from the initial rate.
    pub fn lr_at(&self, base: f64, epoch: u64) -> f64 {
        match self {
            Self::Constant => base,
            Self::Step { milestones, factor } => {
                let passed = milestones.iter().filter(|&&m| epoch >= m).count();
                base * factor.powi(passed as i32)
            }
        }
    }
}

/// The classifier section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// `resnet18-cifar`, `resnet18-imagenet` or `small-cnn`.
    #[serde(with = "by_name")]
    pub arch: ClassifierArch,
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum (also the virtual step's).
    pub momentum: f64,
    /// SGD weight decay (not in the virtual step).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[serde(default = "constant_schedule")]
    pub schedule: ScheduleConfig,
    /// Start from these weights (a safetensors file with this architecture's names), e.g.
    /// ImageNet-pretrained ones for `bach-paper`.
    #[serde(default)]
    pub initial_weights: Option<PathBuf>,
}

fn constant_schedule() -> ScheduleConfig {
    ScheduleConfig::Constant
}
