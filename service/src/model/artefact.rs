//! The trained augmenter as a portable artefact: `model.safetensors` (θ, PyTorch names) and
//! `model.json` ([`ModelInfo`]). This is what `augmentd augment` loads, what a training run
//! saves and what the registry publishes.
use std::path::{Path, PathBuf};

use tch::{Device, Kind};

use crate::nn::{Augmenter, ParamSet};
use crate::store::atomic::{write_atomically, write_bytes_atomically};
use crate::store::ModelDir;

use super::error::ModelError;
use super::info::ModelInfo;

/// A loaded augmenter, ready to apply.
pub struct Model {
    /// Its description.
    pub info: ModelInfo,
    /// The network.
    pub augmenter: Augmenter,
    /// Its weights.
    pub theta: ParamSet,
}

/// The two files of the model at `path` (its `.safetensors`, the `.json` beside it, or the
/// directory holding `model.safetensors`): the weights, then the description.
pub fn model_files(path: &Path) -> [PathBuf; 2] {
    let weights = if path.is_dir() {
        ModelDir::new(path).weights()
    } else {
        path.with_extension("safetensors")
    };
    let info = weights.with_extension("json");
    [weights, info]
}

/// Writes `model.safetensors` and `model.json` into `dir` (each atomically); returns the
/// weights' path.
pub fn save_model(dir: &Path, info: &ModelInfo, theta: &ParamSet) -> Result<PathBuf, ModelError> {
    let layout = ModelDir::new(dir);
    let [weights, info_path] = [layout.weights(), layout.info()];
    write_atomically(&weights, |temporary| {
        theta.save(temporary).map_err(ModelError::from)
    })?;
    let json = serde_json::to_vec_pretty(info).map_err(|e| ModelError::Corrupt {
        path: info_path.clone(),
        problem: format!("cannot describe the model: {e}"),
    })?;
    write_bytes_atomically(&info_path, &json)?;
    Ok(weights)
}

/// Loads a model from its `.safetensors` path (or the `.json` beside it, or its directory)
/// onto `device`. A missing file is [`ModelError::Missing`]; a description that does not
/// parse is [`ModelError::Corrupt`], weights that do not fit it an [`crate::nn::NnError::Weights`]
/// (both of fault [`crate::fault::Fault::Corrupt`]).
pub fn load_model(path: &Path, device: Device) -> Result<Model, ModelError> {
    let [weights, info_file] = model_files(path);
    let text = std::fs::read_to_string(&info_file).map_err(ModelError::io(&info_file))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
        path: info_file.clone(),
        problem: format!("not a model description: {e}"),
    })?;
    let augmenter = info.augmenter().map_err(|e| ModelError::Corrupt {
        path: info_file.clone(),
        problem: e.to_string(),
    })?;
    if !weights.is_file() {
        return Err(ModelError::Missing { path: weights });
    }
    let template = augmenter.init(0, Kind::Float, device)?;
    // Weights that do not fit are `NnError::Weights`, whose fault is already Corrupt.
    let theta = ParamSet::load_like(&template, &weights, false)?;
    Ok(Model {
        info,
        augmenter,
        theta,
    })
}
