//! Request policy: what a StartTraining request may ask for, and the run configuration the
//! server builds from it. The server decides the device and where data and weights come from;
//! a request names a preset, TOML and overrides, and a dataset inside the data dir.
use crate::train::{DataSource, RunConfig};

use super::super::dataset::resolve_dataset;
use super::super::error::EngineError;
use super::super::models::check_name;
use super::record::{JobsConfig, TrainingRequest};

/// What a checked request becomes: the run's configuration and the names stored with the job.
pub(super) struct CheckedRequest {
    /// The validated configuration the job runs.
    pub config: RunConfig,
    /// The dataset name as listed (`synthetic` for generated data).
    pub dataset: String,
    /// The name its models are published under.
    pub model_name: String,
}

/// Checks `request` against the server's settings and builds its run configuration.
pub(super) fn check_request(
    settings: &JobsConfig,
    request: &TrainingRequest,
) -> Result<CheckedRequest, EngineError> {
    let model_name = if request.model_name.is_empty() {
        "default".to_string()
    } else {
        request.model_name.clone()
    };
    check_name(&model_name, "model_name")?;
    let config = build_config(settings, request)?;
    let dataset = if config.data.source == DataSource::Synthetic {
        "synthetic".to_string()
    } else {
        request.dataset.clone()
    };
    Ok(CheckedRequest {
        config,
        dataset,
        model_name,
    })
}

fn build_config(
    settings: &JobsConfig,
    request: &TrainingRequest,
) -> Result<RunConfig, EngineError> {
    if !request.config_toml.trim().is_empty() {
        let table: toml::Table = request.config_toml.parse().map_err(|e: toml::de::Error| {
            EngineError::invalid("config_toml", e.message().to_string())
        })?;
        // A request may not set a path: the server decides where data and weights come from.
        for &key in RunConfig::path_keys() {
            let (section, field) = key.split_once('.').unwrap_or((key, ""));
            let set = table
                .get(section)
                .and_then(|s| s.as_table())
                .is_some_and(|s| s.contains_key(field));
            if set {
                return Err(path_refused(key));
            }
        }
    }
    for assignment in &request.overrides {
        let key = assignment.split('=').next().unwrap_or("").trim();
        if RunConfig::path_keys().contains(&key) {
            return Err(path_refused(key));
        }
    }
    let preset = Some(request.preset.as_str()).filter(|p| !p.is_empty());
    if preset.is_none() && request.config_toml.trim().is_empty() {
        return Err(EngineError::invalid(
            "preset",
            "give a preset, a config_toml, or both",
        ));
    }
    let mut config = RunConfig::load_text(preset, &request.config_toml, &request.overrides)?;
    config.device = settings
        .device
        .parse()
        .map_err(|e: crate::device::DeviceError| EngineError::invalid("device", e.to_string()))?;
    if config.data.source == DataSource::Synthetic {
        config.data.path = None;
        config.data.test_path = None;
    } else {
        config.data.path = Some(resolve_dataset(
            settings.data_dir.as_deref(),
            &request.dataset,
        )?);
        config.data.test_path = if request.test_dataset.is_empty() {
            None
        } else {
            Some(resolve_dataset(
                settings.data_dir.as_deref(),
                &request.test_dataset,
            )?)
        };
    }
    config.classifier.initial_weights = None;
    if request.publish_every > 0 {
        config.output.model_every = u64::from(request.publish_every);
    }
    config.validate()?;
    config.check_paths()?;
    Ok(config)
}

fn path_refused(key: &str) -> EngineError {
    EngineError::invalid(
        key,
        "paths are not accepted over the API: name the data with `dataset` (inside the server's data dir)",
    )
}
