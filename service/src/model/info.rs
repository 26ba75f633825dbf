//! [`ModelInfo`]: what is needed to apply a trained augmenter besides its weights (kind,
//! network variant, the normalization of its images, the affine bound, the image shape, the
//! epoch, the hand-crafted base it was learned on top of), and the distribution it serves once
//! published. Written beside the weights as
//! `model.json`; the file keeps its flat layout (`augmenter`, `variant`, `mean`, `std`, …) so
//! that every model saved so far still loads.
use serde::{Deserialize, Serialize};

use crate::data::{ImageShape, Normalization};
use crate::nn::{Augmenter, AugmenterKind, AugmenterVariant, NnResult};

use super::base::{BaseFile, ModelBase};
use super::distribution::ServedDistribution;

/// The format tag of `model.json`.
pub const MODEL_FORMAT: &str = "augmentd-augmenter/1";

/// The description of a trained augmenter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "InfoFile", into = "InfoFile")]
pub struct ModelInfo {
    /// The augmenter family.
    pub kind: AugmenterKind,
    /// The network variant.
    pub variant: AugmenterVariant,
    /// The standardization of the images it takes (one mean and std per channel).
    pub normalization: Normalization,
    /// The soft bound on the affine matrix, if any.
    pub bound: Option<f64>,
    /// The shape of the images it was trained on (any height and width work when applied).
    pub shape: ImageShape,
    /// The epoch that produced these weights.
    pub epoch: u64,
    /// The distribution of transformations it serves, with its collapse flag (absent from
    /// models saved before it was recorded, and from a run's models until published).
    pub served: Option<ServedDistribution>,
    /// The hand-crafted augmentation it was learned on top of (`None`: none, or a model saved
    /// before the base was recorded).
    pub base: Option<ModelBase>,
}

impl ModelInfo {
    /// The augmenter this description applies.
    pub fn augmenter(&self) -> NnResult<Augmenter> {
        Ok(Augmenter::new(
            self.kind,
            self.normalization.mean.clone(),
            self.normalization.std.clone(),
            self.bound,
        )?
        .with_variant(self.variant))
    }
}

/// `model.json` as written: flat, the enums by name.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoFile {
    format: String,
    augmenter: String,
    /// Absent from models saved before variants existed, which are all `reference`.
    #[serde(default = "reference_variant")]
    variant: String,
    mean: Vec<f64>,
    std: Vec<f64>,
    bound: Option<f64>,
    height: usize,
    width: usize,
    epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    served: Option<ServedDistribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<BaseFile>,
}

fn reference_variant() -> String {
    AugmenterVariant::Reference.name().into()
}

impl TryFrom<InfoFile> for ModelInfo {
    type Error = String;

    fn try_from(file: InfoFile) -> Result<Self, String> {
        if file.format != MODEL_FORMAT {
            return Err(format!(
                "format '{}', expected '{MODEL_FORMAT}'",
                file.format
            ));
        }
        let kind: AugmenterKind = file.augmenter.parse().map_err(|e| format!("{e}"))?;
        let variant: AugmenterVariant = file.variant.parse().map_err(|e| format!("{e}"))?;
        if file.mean.is_empty() || file.mean.len() != file.std.len() {
            return Err(format!(
                "{} mean values and {} std values; one of each per channel is needed",
                file.mean.len(),
                file.std.len()
            ));
        }
        Ok(Self {
            kind,
            variant,
            shape: ImageShape::new(file.mean.len(), file.height, file.width),
            normalization: Normalization {
                mean: file.mean,
                std: file.std,
            },
            bound: file.bound,
            epoch: file.epoch,
            served: file.served,
            base: file.base.map(ModelBase::try_from).transpose()?,
        })
    }
}

impl From<ModelInfo> for InfoFile {
    fn from(info: ModelInfo) -> Self {
        Self {
            format: MODEL_FORMAT.into(),
            augmenter: info.kind.name(),
            variant: info.variant.name().into(),
            mean: info.normalization.mean,
            std: info.normalization.std,
            bound: info.bound,
            height: info.shape.height,
            width: info.shape.width,
            epoch: info.epoch,
            served: info.served,
            base: info.base.map(BaseFile::from),
        }
    }
}
