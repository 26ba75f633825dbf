//! Saving a run's augmenter as a model: the weights, what is needed to apply them, and the
//! distribution of transformations they serve (with its collapse flag), as every published
//! model must carry (ALGORITHM.md, "Serving the learned augmenter").
use std::path::{Path, PathBuf};

use crate::bilevel::AugmenterState;
use crate::data::{ImageShape, Normalization};
use crate::model::{
    save_model, served_distribution, Model, ModelBase, ModelInfo, ServedDistribution, SERVED_DRAWS,
};

use super::error::TrainError;

/// Draws behind the served distribution recorded after every epoch of a learned run.
pub const EPOCH_SERVED_DRAWS: usize = 1024;

/// What a model is saved from: the trained augmenter and the data it was trained on.
pub struct ModelSource<'a> {
    /// The augmenter and its weights.
    pub augmenter: &'a AugmenterState,
    /// The normalization of the training images.
    pub normalization: &'a Normalization,
    /// Their shape.
    pub shape: ImageShape,
    /// The soft bound on the affine matrix, if any.
    pub bound: Option<f64>,
    /// The hand-crafted augmentation it learned on top of.
    pub base: Option<ModelBase>,
}

/// A model [`publish`] wrote.
#[derive(Debug, Clone)]
pub struct PublishedModel {
    /// Its `model.safetensors`.
    pub path: PathBuf,
    /// The distribution of transformations it serves, as recorded in its `model.json`.
    pub served: ServedDistribution,
}

/// Saves the augmenter of `epoch` into `dir` (created if needed) as `model.safetensors` and
/// `model.json`, the latter with the served distribution of [`SERVED_DRAWS`] draws from
/// `seed`, dropout on (the served default).
pub fn publish(
    source: &ModelSource,
    epoch: u64,
    seed: u64,
    dir: &Path,
) -> Result<PublishedModel, TrainError> {
    std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
    let mut model = source.model(epoch);
    let served = served_distribution(&model, SERVED_DRAWS, seed, true)?;
    model.info.served = Some(served.clone());
    let path = save_model(dir, &model.info, &model.theta)?;
    Ok(PublishedModel { path, served })
}

/// The distribution the augmenter would serve if published now: `draws` draws from `seed`,
/// dropout on, as [`publish`] describes it (what a run records after every epoch).
pub fn served_now(
    source: &ModelSource,
    draws: usize,
    seed: u64,
) -> Result<ServedDistribution, TrainError> {
    Ok(served_distribution(&source.model(0), draws, seed, true)?)
}

impl ModelSource<'_> {
    /// The augmenter as a model of `epoch` (weights shared, not copied; no served
    /// distribution yet).
    fn model(&self, epoch: u64) -> Model {
        Model {
            info: ModelInfo {
                kind: self.augmenter.net.kind(),
                variant: self.augmenter.net.variant(),
                normalization: self.normalization.clone(),
                bound: self.bound,
                shape: self.shape,
                epoch,
                served: None,
                base: self.base,
            },
            augmenter: self.augmenter.net.clone(),
            theta: self.augmenter.theta.shallow_clone(),
        }
    }
}
