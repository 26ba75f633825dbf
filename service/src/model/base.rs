//! [`ModelBase`]: the hand-crafted augmentation a model was learned on top of (the run's
//! `augment.baseline` with its crop padding, colour jitter and RandAugment settings), recorded
//! in `model.json` so that whoever applies the model can apply the same base underneath, in the
//! order training did: the level, colour jitter and policy on the [0, 1] images, then
//! standardization, then erasing, then the learned transform.
use std::fmt;

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::data::{augment_and_standardize, Augment, Baseline, ImageShape, Normalization, Policy};
use crate::torch_error::TorchError;

use super::error::ModelError;

/// The hand-crafted augmentation underneath a learned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelBase {
    /// The baseline, RandAugment's settings included.
    pub baseline: Baseline,
    /// The crops' largest shift, in pixels each way.
    pub crop_padding: usize,
    /// Colour jitter after the level.
    pub color_jitter: bool,
}

impl ModelBase {
    /// Applies the base to `images`, standardized [N, C, H, W] floats with `normalization`,
    /// drawing its parameters from `rng`, through the loader's own pipeline (training applied
    /// it so); the result is standardized, on the images' device.
    pub fn apply_standardized(
        &self,
        images: &Tensor,
        normalization: &Normalization,
        rng: &mut StdRng,
    ) -> Result<Tensor, ModelError> {
        let size = images.size();
        let [n, c, h, w] = size[..] else {
            return Err(ModelError::InvalidArgument(format!(
                "the base takes images [N, C, H, W], not {size:?}"
            )));
        };
        let torch =
            |e: tch::TchError| ModelError::from(crate::nn::NnError::from(TorchError::from(e)));
        let data = |e: crate::data::DataError| ModelError::InvalidArgument(e.to_string());
        let (device, kind) = (images.device(), images.kind());
        let unit = normalization
            .unstandardize(images)
            .map_err(data)?
            .f_to_device(Device::Cpu)
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_contiguous())
            .and_then(|t| t.f_flatten(0, -1))
            .map_err(torch)?;
        let mut values = Vec::<f32>::try_from(&unit).map_err(torch)?;
        let augment = Augment {
            baseline: self.baseline,
            color_jitter: self.color_jitter,
            crop_padding: self.crop_padding,
        };
        let shape = ImageShape::new(c as usize, h as usize, w as usize);
        augment_and_standardize(&mut values, shape, normalization, augment, Some(rng))
            .map_err(data)?;
        Tensor::from_slice(&values)
            .f_view([n, c, h, w])
            .and_then(|t| t.f_to_kind(kind))
            .and_then(|t| t.f_to_device(device))
            .map_err(torch)
    }
}

impl fmt::Display for ModelBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.baseline)?;
        if let Some(Policy::RandAugment { ops, magnitude }) = self.baseline.policy {
            write!(f, " (N {ops}, M {magnitude})")?;
        }
        if self.baseline.level.crops() {
            write!(f, ", crop padding {}", self.crop_padding)?;
        }
        if self.color_jitter {
            f.write_str(", colour jitter")?;
        }
        Ok(())
    }
}

/// The base as `model.json` writes it (`"base": {"baseline": "crop+flip+randaugment", …}`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BaseFile {
    baseline: String,
    crop_padding: usize,
    #[serde(default)]
    color_jitter: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    randaugment_ops: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    randaugment_magnitude: Option<usize>,
}

impl From<ModelBase> for BaseFile {
    fn from(base: ModelBase) -> Self {
        let (ops, magnitude) = match base.baseline.policy {
            Some(Policy::RandAugment { ops, magnitude }) => (Some(ops), Some(magnitude)),
            _ => (None, None),
        };
        Self {
            baseline: base.baseline.to_string(),
            crop_padding: base.crop_padding,
            color_jitter: base.color_jitter,
            randaugment_ops: ops,
            randaugment_magnitude: magnitude,
        }
    }
}

impl TryFrom<BaseFile> for ModelBase {
    type Error = String;

    fn try_from(file: BaseFile) -> Result<Self, String> {
        let baseline: Baseline = file.baseline.parse().map_err(|e| format!("base: {e}"))?;
        let randaugment = matches!(baseline.policy, Some(Policy::RandAugment { .. }));
        if !randaugment && (file.randaugment_ops.is_some() || file.randaugment_magnitude.is_some())
        {
            return Err(format!(
                "base: RandAugment settings for '{}', which has no randaugment",
                file.baseline
            ));
        }
        let baseline = match (file.randaugment_ops, file.randaugment_magnitude) {
            (None, None) => baseline,
            (ops, magnitude) => match baseline.policy {
                Some(Policy::RandAugment {
                    ops: o,
                    magnitude: m,
                }) => baseline.with_randaugment(ops.unwrap_or(o), magnitude.unwrap_or(m)),
                _ => baseline,
            },
        };
        Ok(Self {
            baseline,
            crop_padding: file.crop_padding,
            color_jitter: file.color_jitter,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;

    use super::*;

    fn base(name: &str) -> ModelBase {
        ModelBase {
            baseline: name.parse().unwrap(),
            crop_padding: 2,
            color_jitter: false,
        }
    }

    #[test]
    fn the_file_form_round_trips_with_randaugment_settings() {
        let mut ra = base("crop+flip+randaugment");
        ra.baseline = ra.baseline.with_randaugment(3, 5);
        for b in [base("crop+flip"), base("none"), ra] {
            let file = serde_json::to_string(&BaseFile::from(b)).unwrap();
            let back: BaseFile = serde_json::from_str(&file).unwrap();
            assert_eq!(ModelBase::try_from(back).unwrap(), b, "{file}");
        }
        assert_eq!(
            ra.to_string(),
            "crop+flip+randaugment (N 3, M 5), crop padding 2"
        );
        let bad: BaseFile =
            serde_json::from_str(r#"{"baseline": "crop+wobble", "crop_padding": 2}"#).unwrap();
        let err = ModelBase::try_from(bad).unwrap_err();
        assert!(err.contains("wobble"), "{err}");
        let bad: BaseFile = serde_json::from_str(
            r#"{"baseline": "crop+flip", "crop_padding": 2, "randaugment_ops": 2}"#,
        )
        .unwrap();
        assert!(ModelBase::try_from(bad)
            .unwrap_err()
            .contains("no randaugment"));
    }

    #[test]
    fn the_base_moves_pixels_from_its_seed_and_keeps_the_shape() {
        let normalization = Normalization {
            mean: vec![0.5],
            std: vec![0.25],
        };
        let unit = Tensor::arange(2 * 8 * 8, (Kind::Float, Device::Cpu))
            .f_view([2, 1, 8, 8])
            .unwrap()
            / 128.0;
        let images = normalization.standardize(&unit).unwrap();
        let apply = |b: &ModelBase, seed| {
            b.apply_standardized(&images, &normalization, &mut StdRng::seed_from_u64(seed))
                .unwrap()
        };
        let none = apply(&base("none"), 1);
        assert!(
            none.allclose(&images, 1e-5, 1e-5, false),
            "no base, no change"
        );
        let flipped = apply(&base("crop+flip+randaugment"), 1);
        assert_eq!(flipped.size(), [2, 1, 8, 8]);
        assert!(!flipped.allclose(&images, 1e-3, 1e-3, false));
        assert!(
            apply(&base("crop+flip+randaugment"), 1).equal(&flipped),
            "same seed"
        );
    }
}
