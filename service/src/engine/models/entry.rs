//! A published version as the registry holds it: its description ([`ModelMeta`]: the
//! registry's own facts composed with the model's [`ModelInfo`] and the distribution it
//! serves) and its weights as plain numbers, which any engine thread can turn into tensors of
//! its own.
//!
//! On disk a version directory holds the model's two files (`model.safetensors`,
//! `model.json`, the latter with the served distribution) and `meta.json` with what only the
//! registry knows (name, version, provenance, creation time). Versions published before
//! 2026-12 wrote a copy of the model's description into `meta.json` too; those fields are
//! ignored, except the served distribution where `model.json` lacks it.
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::model::{load_model, Model, ModelInfo, ServedDistribution, TransformStat};
use crate::nn::ParamSet;
use crate::store::json::{read_json, write_json_atomically};
use crate::store::VersionDir;
use crate::torch_error::TorchError;

use super::super::error::EngineError;

/// Where a version comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// The job that published it.
    pub job: String,
    /// Its dataset name.
    pub dataset: String,
    /// The epoch's metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// What is known about a published version besides its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMeta {
    /// The name.
    pub name: String,
    /// The version (1, 2, …).
    pub version: u64,
    /// Where it comes from.
    pub provenance: Provenance,
    /// When it was published (Unix milliseconds).
    pub created_unix_ms: i64,
    /// The model's description (kind, variant, normalization, shape, epoch); its `served` is
    /// `None`, the distribution being [`Self::served`].
    pub info: ModelInfo,
    /// The distribution of transformations it serves.
    pub served: ServedDistribution,
}

/// `meta.json`: the registry's facts about a version.
#[derive(Serialize, Deserialize)]
struct MetaFile {
    name: String,
    version: u64,
    dataset: String,
    source_job: String,
    metrics: BTreeMap<String, f64>,
    created_unix_ms: i64,
    /// The served distribution as versions published before 2026-12 recorded it here.
    #[serde(default, skip_serializing)]
    served: Option<Vec<TransformStat>>,
    #[serde(default, skip_serializing)]
    draws: Option<usize>,
    #[serde(default, skip_serializing)]
    collapsed: Option<bool>,
    #[serde(default, skip_serializing)]
    collapse_threshold: Option<f64>,
}

impl MetaFile {
    /// The served distribution of an old `meta.json`, when it has one.
    fn legacy_served(&self) -> Option<ServedDistribution> {
        Some(ServedDistribution {
            params: self.served.clone()?,
            draws: self.draws?,
            collapsed: self.collapsed?,
            threshold: self.collapse_threshold?,
        })
    }
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
    weights: Vec<PlainTensor>,
}

impl ModelEntry {
    /// A version of `meta` with the weights `theta` (engine threads only: it reads tensors).
    pub(super) fn new(meta: ModelMeta, theta: &ParamSet) -> Result<Self, EngineError> {
        Ok(Self {
            meta,
            weights: plain_weights(theta)?,
        })
    }

    /// The augmenter as tensors on `device` (engine threads only).
    pub fn instantiate(&self, device: Device) -> Result<Model, EngineError> {
        let augmenter = self.meta.info.augmenter()?;
        let mut theta = ParamSet::new();
        for t in &self.weights {
            let tensor = Tensor::f_from_slice(&t.values)
                .and_then(|v| v.f_view(t.shape.as_slice()))
                .and_then(|v| v.f_to_device(device))
                .map_err(TorchError::from)?;
            theta.push(t.name.clone(), tensor)?;
        }
        let mut info = self.meta.info.clone();
        info.served = Some(self.meta.served.clone());
        Ok(Model {
            info,
            augmenter,
            theta,
        })
    }

    /// Parameter names of its transformation.
    pub fn param_names(&self) -> Vec<String> {
        self.meta
            .served
            .params
            .iter()
            .map(|s| s.name.clone())
            .collect()
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
                .map_err(TorchError::from)?;
            Ok(PlainTensor {
                name: name.to_string(),
                shape: t.size(),
                values: Vec::<f32>::try_from(&values).map_err(TorchError::from)?,
            })
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ModelMeta {
    /// The description of version `version` of `name` with `info` serving `served`,
    /// published now.
    pub(super) fn published_now(
        name: &str,
        version: u64,
        info: ModelInfo,
        served: ServedDistribution,
        provenance: Provenance,
    ) -> Self {
        Self {
            name: name.to_string(),
            version,
            provenance,
            created_unix_ms: now_ms(),
            info: ModelInfo {
                served: None,
                ..info
            },
            served,
        }
    }
}

/// Writes `meta.json` into a version directory.
pub(super) fn save_meta(path: &Path, meta: &ModelMeta) -> Result<(), EngineError> {
    let file = MetaFile {
        name: meta.name.clone(),
        version: meta.version,
        dataset: meta.provenance.dataset.clone(),
        source_job: meta.provenance.job.clone(),
        metrics: meta.provenance.metrics.clone(),
        created_unix_ms: meta.created_unix_ms,
        served: None,
        draws: None,
        collapsed: None,
        collapse_threshold: None,
    };
    Ok(write_json_atomically(path, &file)?)
}

/// Loads a version directory as [`ModelRegistry::publish`](super::ModelRegistry::publish)
/// wrote it (now or before 2026-12).
pub(super) fn load_entry(version_dir: &VersionDir) -> Result<ModelEntry, EngineError> {
    let meta_path = version_dir.meta();
    let file: MetaFile = read_json(&meta_path)?;
    let mut model = load_model(version_dir.model().root(), Device::Cpu)?;
    let served = match model.info.served.take().or_else(|| file.legacy_served()) {
        Some(served) => served,
        None => {
            return Err(EngineError::corrupt(
                &meta_path,
                "no served distribution in model.json or meta.json",
            ))
        }
    };
    let meta = ModelMeta {
        name: file.name,
        version: file.version,
        provenance: Provenance {
            job: file.source_job,
            dataset: file.dataset,
            metrics: file.metrics,
        },
        created_unix_ms: file.created_unix_ms,
        info: model.info,
        served,
    };
    Ok(ModelEntry {
        meta,
        weights: plain_weights(&model.theta)?,
    })
}
