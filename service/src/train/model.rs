//! The trained augmenter as a portable artefact: `model.safetensors` (θ, PyTorch names) and
//! `model.json` (what is needed to apply it: kind, normalization, bound, image shape). This is
//! what `augmentd augment` loads and what the service will publish; published models also
//! describe the distribution of transformations they serve.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

use crate::nn::{Augmenter, AugmenterKind, AugmenterVariant, NnResult, ParamSet};
use crate::store::atomic::{write_atomically, write_bytes_atomically};
use crate::store::StoreError;

use super::error::TrainError;
use super::served::ServedDistribution;

/// The description stored beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Format tag.
    pub format: String,
    /// The augmenter kind (`small_affine`, `affine_color`, …).
    pub augmenter: String,
    /// The network variant (`narrow`, `spread`, `reference`); absent from models saved before
    /// variants existed, which are all `reference`.
    #[serde(default = "reference_variant")]
    pub variant: String,
    /// Per-channel mean the images are standardized with.
    pub mean: Vec<f64>,
    /// Per-channel std.
    pub std: Vec<f64>,
    /// The soft bound on the affine matrix, if any.
    pub bound: Option<f64>,
    /// Image height the augmenter was trained on (any size works).
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// The epoch that produced these weights.
    pub epoch: u64,
    /// The distribution of transformations the model serves, with its collapse flag (absent
    /// from models saved before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ServedDistribution>,
}

fn reference_variant() -> String {
    AugmenterVariant::Reference.name().into()
}

impl ModelInfo {
    /// The augmenter this description applies: its kind, variant, normalization and bound.
    pub fn augmenter(&self) -> NnResult<Augmenter> {
        let kind: AugmenterKind = self.augmenter.parse()?;
        let variant: AugmenterVariant = self.variant.parse()?;
        Ok(
            Augmenter::new(kind, self.mean.clone(), self.std.clone(), self.bound)?
                .with_variant(variant),
        )
    }
}

/// The format tag of [`ModelInfo`].
pub const MODEL_FORMAT: &str = "augmentd-augmenter/1";

/// A loaded augmenter, ready to apply.
pub struct Model {
    /// Its description.
    pub info: ModelInfo,
    /// The network.
    pub augmenter: Augmenter,
    /// Its weights.
    pub theta: ParamSet,
}

/// The JSON path beside a weights path.
fn info_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Writes `model.safetensors` and `model.json` into `dir` (each atomically).
pub fn save_model(dir: &Path, info: &ModelInfo, theta: &ParamSet) -> Result<PathBuf, TrainError> {
    let weights = dir.join("model.safetensors");
    write_atomically(&weights, |temporary| {
        theta.save(temporary).map_err(|e| StoreError::Tensor {
            path: temporary.to_path_buf(),
            reason: e.to_string(),
        })
    })?;
    let json = serde_json::to_vec_pretty(info).map_err(|e| TrainError::RunDir {
        path: dir.to_path_buf(),
        problem: format!("cannot describe the model: {e}"),
    })?;
    write_bytes_atomically(&info_path(&weights), &json)?;
    Ok(weights)
}

/// The two files of the model at `path` (its `.safetensors`, the `.json` beside it, or the
/// directory holding `model.safetensors`): the weights, then the description.
pub(crate) fn model_files(path: &Path) -> [PathBuf; 2] {
    let weights = if path.is_dir() {
        path.join("model.safetensors")
    } else {
        path.with_extension("safetensors")
    };
    let info = info_path(&weights);
    [weights, info]
}

/// Loads a model from its `.safetensors` path (or the `.json` beside it, or a run directory).
pub fn load_model(path: &Path, device: Device) -> Result<Model, TrainError> {
    let [weights, info_file] = model_files(path);
    let bad = |problem: String| TrainError::RunDir {
        path: info_file.clone(),
        problem,
    };
    let text = std::fs::read_to_string(&info_file).map_err(TrainError::io(&info_file))?;
    let info: ModelInfo =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a model description: {e}")))?;
    if info.format != MODEL_FORMAT {
        return Err(bad(format!(
            "format '{}', expected '{MODEL_FORMAT}'",
            info.format
        )));
    }
    let augmenter = info.augmenter()?;
    let template = augmenter.init(0, Kind::Float, device)?;
    let theta = ParamSet::load_like(&template, &weights, false)?;
    Ok(Model {
        info,
        augmenter,
        theta,
    })
}

/// A model with seeded weights and no file behind it, for tests.
#[cfg(test)]
pub(crate) fn test_model(kind: AugmenterKind, channels: usize, seed: u64) -> Model {
    #![allow(clippy::unwrap_used)]
    let (mean, std) = (vec![0.4; channels], vec![0.3; channels]);
    let augmenter = Augmenter::new(kind, mean.clone(), std.clone(), None).unwrap();
    let theta = augmenter.init(seed, Kind::Float, Device::Cpu).unwrap();
    Model {
        info: ModelInfo {
            format: MODEL_FORMAT.into(),
            augmenter: kind.name(),
            variant: reference_variant(),
            mean,
            std,
            bound: None,
            height: 12,
            width: 10,
            epoch: 0,
            served: None,
        },
        augmenter,
        theta,
    }
}

/// `n` deterministic standardized images of `test_model`'s size (12 × 10), for tests.
#[cfg(test)]
pub(crate) fn test_images(n: i64, channels: i64) -> tch::Tensor {
    let count = n * channels * 12 * 10;
    let values: Vec<f32> = (0..count)
        .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
        .collect();
    tch::Tensor::from_slice(&values).view([n, channels, 12, 10])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::train::served::served_distribution;

    #[test]
    fn the_served_distribution_round_trips_and_old_descriptions_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut model = test_model(AugmenterKind::AffineColor, 3, 4);
        model.info.served = Some(served_distribution(&model, 64, 1, true).unwrap());
        let weights = save_model(dir.path(), &model.info, &model.theta).unwrap();
        let loaded = load_model(&weights, Device::Cpu).unwrap();
        // serde_json parses floats to within an ulp, not always bit for bit.
        let (saved, read) = (model.info.served.clone(), loaded.info.served.clone());
        let (saved, read) = (saved.unwrap(), read.unwrap());
        assert_eq!(
            ModelInfo {
                served: None,
                ..loaded.info.clone()
            },
            ModelInfo {
                served: None,
                ..model.info.clone()
            }
        );
        assert_eq!(
            (read.draws, read.collapsed, read.threshold),
            (64, false, 1e-3)
        );
        assert_eq!(read.params.len(), 10);
        for (r, s) in read.params.iter().zip(&saved.params) {
            assert_eq!(r.name, s.name);
            assert!((r.mean - s.mean).abs() < 1e-12 && (r.std - s.std).abs() < 1e-12);
        }

        // A description written before `served` existed.
        let json = dir.path().join("model.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        value.as_object_mut().unwrap().remove("served");
        std::fs::write(&json, serde_json::to_vec(&value).unwrap()).unwrap();
        let old = load_model(dir.path(), Device::Cpu).unwrap();
        assert_eq!(old.info.served, None);
        assert_eq!(old.info.epoch, 0);
        assert!(old
            .theta
            .get("lin3.weight")
            .unwrap()
            .equal(model.theta.get("lin3.weight").unwrap()));
    }
}
