//! A training run's configuration: a preset, a TOML file and `--set key=value` overrides merged
//! in that order into one validated [`RunConfig`]. Unknown keys, unknown names and out-of-range
//! values are rejected with the dotted name of the key.
//!
//! One file per section (`data`, `classifier`, `augment`, `output`), the merging of sources
//! (`sources`), serde by name for the named values (`names`) and the checks (`validate`).
mod augment;
mod classifier;
mod data;
mod error;
mod names;
mod output;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use augment::{AugmentConfig, AugmentMode};
pub use classifier::{ClassifierConfig, ScheduleConfig};
pub use data::{DataConfig, DataSource, NormalizationSpec, SyntheticConfig};
pub use error::ConfigError;
pub use output::OutputConfig;

use crate::device::DeviceSpec;
use error::problem;
use names::by_name;
use sources::{apply_override, merge, parse_toml, preset_table};

/// Everything a training run needs to know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of everything random: split, order, initialisation, noise.
    pub seed: u64,
    /// `cpu`, `cuda`, `cuda:N` or `auto`.
    #[serde(default = "default_device", with = "by_name")]
    pub device: DeviceSpec,
    /// Epochs to train.
    pub epochs: u64,
    /// Training (and validation) batch size.
    pub batch_size: usize,
    /// The dataset.
    pub data: DataConfig,
    /// The hosted classifier and its optimizer.
    pub classifier: ClassifierConfig,
    /// What augments the training images.
    pub augment: AugmentConfig,
    /// What the run writes besides checkpoints and records.
    #[serde(default)]
    pub output: OutputConfig,
}

fn default_device() -> DeviceSpec {
    DeviceSpec::Auto
}

impl RunConfig {
    /// Merges a preset, a TOML file and `key=value` overrides (later wins), then validates.
    pub fn load(
        preset: Option<&str>,
        file: Option<&Path>,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut table = preset_table(preset)?;
        if let Some(path) = file {
            let source = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| problem(&source, format!("cannot read the config file: {e}")))?;
            merge(&mut table, parse_toml(&text, &source)?);
        }
        if preset.is_none() && file.is_none() {
            return Err(problem("config", "give a preset or a config file"));
        }
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        Self::from_table(table)
    }

    /// Merges a preset, TOML text (as received over the API, named `config_toml` in errors)
    /// and `key=value` overrides (later wins), then validates.
    pub fn load_text(
        preset: Option<&str>,
        text: &str,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut table = preset_table(preset)?;
        if !text.trim().is_empty() {
            merge(&mut table, parse_toml(text, "config_toml")?);
        } else if preset.is_none() {
            return Err(problem("config", "give a preset or a configuration"));
        }
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        Self::from_table(table)
    }

    /// Parses one complete TOML document and validates it.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(parse_toml(text, "config")?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let mut config: Self = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." {
                    "config".to_string()
                } else {
                    path
                };
                problem(&key, e.into_inner().to_string())
            })?;
        config.augment.fill_learned_defaults();
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML (stored with every run).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# not serializable: {e}\n"))
    }
}
