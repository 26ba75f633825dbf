//! The `[augment]` section: the augmentation mode (none, hand-crafted, a learned augmenter
//! trained by the bilevel step, or a frozen trained one), the hand-crafted baseline underneath,
//! and the augmenter's optimizer.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::names::{by_name, by_name_opt};
use crate::data::policy::{RANDAUGMENT_MAGNITUDE, RANDAUGMENT_OPS};
use crate::data::{Baseline, CROP_PADDING};
use crate::model::ModelBase;
use crate::nn::{AugmenterKind, AugmenterVariant};
use crate::objective::{AugmenterObjective, HypergradientScale};
use crate::teacher::TEACHER_DECAY;

/// How training images are augmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AugmentMode {
    /// Plain training: no augmentation beyond `baseline` (the method's baseline).
    None,
    /// The hand-crafted `baseline` level alone.
    Handcrafted,
    /// A learned augmenter, trained by the bilevel step, on top of `baseline`.
    Learned(AugmenterKind),
    /// A frozen, already trained augmenter (`augment.model`) applied on top of `baseline` as
    /// the Augment RPC applies it, to train a fresh classifier with plain SGD. Its name in a
    /// configuration is `served` (the documented one): it applies what a server serves.
    Frozen,
    /// The `broad` variant's prior q₀ of the kind, nothing learned, applied on top of
    /// `baseline` as `served` applies a model (`prior:<kind>`): the control that tells whether
    /// the hypergradient adds anything to random draws from the distribution it starts from.
    Prior(AugmenterKind),
}

impl AugmentMode {
    /// Whether the mode trains an augmenter (and so needs validation batches).
    pub fn is_learned(self) -> bool {
        matches!(self, Self::Learned(_))
    }
}

impl FromStr for AugmentMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(Self::None),
            "handcrafted" => Ok(Self::Handcrafted),
            "served" => Ok(Self::Frozen),
            other => {
                let learned: Vec<String> = AugmenterKind::ALL.iter().map(|k| k.name()).collect();
                if let Some(kind) = other.strip_prefix("prior:") {
                    return kind.parse().map(Self::Prior).map_err(|_| {
                        format!(
                            "unknown kind '{kind}' in mode '{other}': expected prior:{}",
                            learned.join(", prior:")
                        )
                    });
                }
                other.parse().map(Self::Learned).map_err(|_| {
                    format!(
                        "unknown mode '{other}': expected none, handcrafted, served, \
                         prior:<kind>, {}",
                        learned.join(", ")
                    )
                })
            }
        }
    }
}

impl fmt::Display for AugmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Handcrafted => f.write_str("handcrafted"),
            Self::Frozen => f.write_str("served"),
            Self::Learned(kind) => write!(f, "{kind}"),
            Self::Prior(kind) => write!(f, "prior:{kind}"),
        }
    }
}

/// The augmentation section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// `none`, `handcrafted`, `served`, `small_affine[:variant]` or `affine_color`.
    #[serde(with = "by_name")]
    pub mode: AugmentMode,
    /// The trained augmenter a `served` run applies, frozen: a `model.safetensors` written by
    /// a learned run, or the directory holding it (served mode only).
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// The hand-crafted transforms: the level in `handcrafted` mode, the part kept underneath
    /// a learned augmenter otherwise (`flip` for the CIFAR-10 configuration). RandAugment's
    /// settings are kept apart (see [`Self::baseline_with_settings`]).
    #[serde(default, with = "by_name")]
    pub baseline: Baseline,
    /// Colour jitter on top of the baseline.
    #[serde(default)]
    pub color_jitter: bool,
    /// Zero padding, each side, of the baseline's random crop (4, the CIFAR-10 pipeline's, by
    /// default; 2 suits 28 × 28 Fashion-MNIST). Left out of the stored configuration at the
    /// default, so run directories from before the key still resume.
    #[serde(
        default = "default_crop_padding",
        skip_serializing_if = "is_default_crop_padding"
    )]
    pub crop_padding: usize,
    /// RandAugment's operations per image when the baseline has `randaugment` (torchvision's
    /// `num_ops`, 2 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randaugment_ops: Option<usize>,
    /// RandAugment's magnitude bin, 0–30, when the baseline has `randaugment` (torchvision's
    /// `magnitude`, 9 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randaugment_magnitude: Option<usize>,
    /// The augmenter network of the learned modes: `narrow` (the default) or `spread` (mean and
    /// spread per parameter with a floor, see `nn/variant.rs`), or `reference` (the method as
    /// published).
    /// Filled in with the default for learned modes when absent, so a run directory records
    /// which one it trains; absent in the other modes.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "by_name_opt")]
    pub variant: Option<AugmenterVariant>,
    /// Soft bound on the learned affine matrix's distance from the identity (off: none).
    #[serde(default)]
    pub bound: Option<f64>,
    /// Virtual steps per bilevel step.
    #[serde(default = "one")]
    pub inner_steps: usize,
    /// How the hypergradient is scaled: `none` (as published) or `inverse-lr` (times the
    /// classifier's initial over its current learning rate). Learned modes; `broad` fills in `inverse-lr`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "by_name_opt")]
    pub hypergradient_scale: Option<HypergradientScale>,
    /// β of the regulariser β·KL(q_φ‖q₀) toward the broad prior (`broad` only; it fills in
    /// [`BROAD_PRIOR_KL`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_kl: Option<f64>,
    /// γ of the entropy bonus −γ·Σ log σ (spread variants; off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_bonus: Option<f64>,
    /// The augmenter stops learning once the classifier's learning rate is below this fraction
    /// of its initial value (learned modes; never when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_below: Option<f64>,
    /// α of TeachAugment's adversarial term α·E[−log(1 − p_w(y|x̃)) + CE(f_w̄(x̃), y)], with w̄
    /// an EMA of the classifier (learned modes; off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversarial: Option<f64>,
    /// The decay of that EMA teacher (with `adversarial`; [`TEACHER_DECAY`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_decay: Option<f64>,
    /// Augmenter SGD learning rate (constant).
    pub lr: f64,
    /// Augmenter SGD momentum.
    pub momentum: f64,
    /// Augmenter SGD weight decay (learned modes). Filled in by variant when absent: 0 for
    /// `broad`, whose regulariser is the KL toward q₀, [`PUBLISHED_WEIGHT_DECAY`] for the
    /// others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
}

impl AugmentConfig {
    /// The baseline the loader applies: [`Self::baseline`] with RandAugment's operation count
    /// and magnitude bin (torchvision's defaults when absent).
    pub fn baseline_with_settings(&self) -> Baseline {
        self.baseline.with_randaugment(
            self.randaugment_ops.unwrap_or(RANDAUGMENT_OPS),
            self.randaugment_magnitude.unwrap_or(RANDAUGMENT_MAGNITUDE),
        )
    }

    /// The augmenter variant a learned mode trains (the default when absent).
    pub fn variant_or_default(&self) -> AugmenterVariant {
        self.variant.unwrap_or_default()
    }

    /// The hand-crafted augmentation the loader applies under the learned one, as a model
    /// records it (`None` when the loader applies nothing).
    pub fn model_base(&self) -> Option<ModelBase> {
        let baseline = self.baseline_with_settings();
        (!baseline.is_none() || self.color_jitter).then_some(ModelBase {
            baseline,
            crop_padding: self.crop_padding,
            color_jitter: self.color_jitter,
        })
    }

    /// What the augmenter's loss adds to L_val (the keys as filled in at load).
    pub fn objective(&self) -> AugmenterObjective {
        AugmenterObjective {
            scale: self.hypergradient_scale.unwrap_or_default(),
            prior_kl: self.prior_kl.unwrap_or(0.0),
            entropy_bonus: self.entropy_bonus.unwrap_or(0.0),
            freeze_below: self.freeze_below,
            adversarial: self.adversarial.unwrap_or(0.0),
            teacher_decay: self.teacher_decay.unwrap_or(TEACHER_DECAY),
        }
    }

    /// Fills in the defaults of a learned mode's variant, so that a run directory records the
    /// objective it trains with: the variant itself, its weight decay, and for `broad` the
    /// inverse-lr scale and [`BROAD_PRIOR_KL`].
    pub(super) fn fill_learned_defaults(&mut self) {
        if !self.mode.is_learned() {
            return;
        }
        let variant = *self.variant.get_or_insert_with(Default::default);
        if variant == AugmenterVariant::Broad {
            self.hypergradient_scale
                .get_or_insert(HypergradientScale::InverseLr);
            self.prior_kl.get_or_insert(BROAD_PRIOR_KL);
            self.weight_decay.get_or_insert(0.0);
        } else {
            self.weight_decay.get_or_insert(PUBLISHED_WEIGHT_DECAY);
        }
    }
}

/// The augmenter's weight decay as the method publishes it: the default of every variant but
/// `broad`.
pub const PUBLISHED_WEIGHT_DECAY: f64 = 0.01;

/// The `broad` variant's β when `augment.prior_kl` is absent.
pub const BROAD_PRIOR_KL: f64 = 0.05;

fn default_crop_padding() -> usize {
    CROP_PADDING
}

fn is_default_crop_padding(padding: &usize) -> bool {
    *padding == CROP_PADDING
}

fn one() -> usize {
    1
}
