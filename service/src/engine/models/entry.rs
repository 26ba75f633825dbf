//! A published version as the registry holds it: its description ([`ModelMeta`]) and its
//! weights as plain numbers, which any engine thread can turn into tensors of its own.
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::Normalization;
use crate::nn::{torch_message, ParamSet};
use crate::train::{load_model, Model, ModelInfo, ServedDistribution, TransformStat};

use super::super::error::EngineError;
use super::storage;

/// Draws behind a published version's served distribution.
pub const SERVED_DRAWS: usize = 4096;

fn reference_variant() -> String {
    crate::nn::AugmenterVariant::Reference.name().into()
}

/// What is known about a published version besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelMeta {
    /// The name.
    pub name: String,
    /// The version (1, 2, …).
    pub version: u64,
    /// Augmenter kind.
    pub augmenter: String,
    /// Augmenter network variant (`narrow`, `spread`, `reference`; absent from versions
    /// published before variants existed, which are `reference`).
    #[serde(default = "reference_variant")]
    pub variant: String,
    /// The training job's dataset.
    pub dataset: String,
    /// Channels.
    pub channels: usize,
    /// Training image height.
    pub height: usize,
    /// Training image width.
    pub width: usize,
    /// Standardization mean.
    pub mean: Vec<f64>,
    /// Standardization std.
    pub std: Vec<f64>,
    /// The job that published it.
    pub source_job: String,
    /// The epoch of the weights.
    pub epoch: u64,
    /// That epoch's metrics.
    pub metrics: BTreeMap<String, f64>,
    /// The served parameter distribution.
    pub served: Vec<TransformStat>,
    /// Draws behind `served`.
    pub draws: usize,
    /// Every served std below `collapse_threshold`.
    pub collapsed: bool,
    /// The collapse threshold.
    pub collapse_threshold: f64,
    /// Unix milliseconds.
    pub created_unix_ms: i64,
}

/// Where a version comes from.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The job.
    pub job: String,
    /// Its dataset name.
    pub dataset: String,
    /// The epoch's metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// One tensor of θ as plain numbers.
#[derive(Debug)]
struct PlainTensor {
    name: String,
    shape: Vec<i64>,
    values: Vec<f32>,
}

/// A published version, shareable across threads.
#[derive(Debug)]
pub struct ModelEntry {
    /// Its description.
    pub meta: ModelMeta,
    info: ModelInfo,
    weights: Vec<PlainTensor>,
}

impl ModelEntry {
    /// A version of `meta` with the weights `theta` (engine threads only: it reads tensors).
    pub(super) fn new(
        meta: ModelMeta,
        info: ModelInfo,
        theta: &ParamSet,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            meta,
            info,
            weights: plain_weights(theta)?,
        })
    }

    /// The standardization of its images.
    pub fn normalization(&self) -> Normalization {
        Normalization {
            mean: self.meta.mean.clone(),
            std: self.meta.std.clone(),
        }
    }

    /// The augmenter as tensors on `device` (engine threads only).
    pub fn instantiate(&self, device: Device) -> Result<Model, EngineError> {
        let torch = |e: tch::TchError| EngineError::Compute(torch_message(&e));
        let augmenter = self
            .info
            .augmenter()
            .map_err(|e| EngineError::Compute(e.to_string()))?;
        let mut theta = ParamSet::new();
        for t in &self.weights {
            let tensor = Tensor::f_from_slice(&t.values)
                .and_then(|v| v.f_view(t.shape.as_slice()))
                .and_then(|v| v.f_to_device(device))
                .map_err(torch)?;
            theta
                .push(t.name.clone(), tensor)
                .map_err(|e| EngineError::Compute(e.to_string()))?;
        }
        Ok(Model {
            info: self.info.clone(),
            augmenter,
            theta,
        })
    }

    /// Parameter names of its transformation.
    pub fn param_names(&self) -> Vec<String> {
        self.meta.served.iter().map(|s| s.name.clone()).collect()
    }
}

/// θ as plain numbers (engine threads only).
fn plain_weights(theta: &ParamSet) -> Result<Vec<PlainTensor>, EngineError> {
    theta
        .iter()
        .map(|(name, t)| {
            let values = t
                .f_to_device(Device::Cpu)
                .and_then(|t| t.f_to_kind(Kind::Float))
                .and_then(|t| t.f_contiguous())
                .and_then(|t| t.f_flatten(0, -1))
                .map_err(|e| EngineError::Compute(torch_message(&e)))?;
            Ok(PlainTensor {
                name: name.to_string(),
                shape: t.size(),
                values: Vec::<f32>::try_from(&values)
                    .map_err(|e| EngineError::Compute(torch_message(&e)))?,
            })
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The description of version `version` of `name`, published now.
pub(super) fn meta_of(
    name: &str,
    version: u64,
    info: &ModelInfo,
    served: &ServedDistribution,
    provenance: Provenance,
) -> ModelMeta {
    ModelMeta {
        name: name.to_string(),
        version,
        augmenter: info.augmenter.clone(),
        variant: info.variant.clone(),
        dataset: provenance.dataset,
        channels: info.mean.len(),
        height: info.height,
        width: info.width,
        mean: info.mean.clone(),
        std: info.std.clone(),
        source_job: provenance.job,
        epoch: info.epoch,
        metrics: provenance.metrics,
        served: served.params.clone(),
        draws: served.draws,
        collapsed: served.collapsed,
        collapse_threshold: served.threshold,
        created_unix_ms: now_ms(),
    }
}

/// Loads a version directory as [`ModelRegistry::publish`](super::ModelRegistry::publish) wrote it.
pub(super) fn load_entry(version_dir: &Path) -> Result<ModelEntry, EngineError> {
    let meta_path = version_dir.join("meta.json");
    let bytes = std::fs::read(&meta_path).map_err(storage(&meta_path))?;
    let meta: ModelMeta = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::Storage(format!("{}: {e}", meta_path.display())))?;
    let model = load_model(version_dir, Device::Cpu)?;
    Ok(ModelEntry {
        meta,
        weights: plain_weights(&model.theta)?,
        info: model.info,
    })
}
