//! The augmenter variants: `reference`, the method's networks as published; `spread`, which
//! keeps the online bilevel learning but makes the served distribution useful; `narrow`,
//! `spread` started at (and regularized toward) the floor of every spread; and `broad`, the
//! default, `spread` started at a broad prior with a learned apply probability.
//!
//! In the reference, each transformation parameter is a deterministic function of the noise
//! through ReLU units; in a small data regime those units die, the output stops depending on
//! the noise, and the trained augmenter serves one fixed transform to every image (see
//! docs/quality.md). The `spread` variant changes four things, and nothing else:
//! - the network outputs, for each transformation parameter, a mean μ(z) **and** a spread σ(z);
//!   the parameter is μ + σ·ε with ε ~ U(−√3, √3) (unit variance), a reparametrized sample, so
//!   the gradient still reaches both heads;
//! - magnitudes are bounded: μ = m·tanh(raw), σ = floor + (cap − floor)·sigmoid(raw), per
//!   parameter ([`TransformParam::spread_range`](super::TransformParam::spread_range)); the floor keeps every parameter varying whatever the
//!   training does, so a published model cannot collapse;
//! - hidden units are leaky (slope [`LEAKY_SLOPE`]), so none die;
//! - every parameter is an offset from the identity transform, the output layer starts small
//!   (identity-centred means, spreads at the middle of their range), and warps repeat the
//!   border pixels instead of filling with the mean colour.
//!
//! `broad` is `spread` started at the broad prior q₀ of `prior.rs` (every spread at σ₀, means at
//! the identity), with a learned probability of transforming each image at all (an identity
//! mixture through a relaxed Bernoulli gate), meant to be trained with a regulariser toward q₀
//! (`augment.prior_kl`) on top of the hand-crafted base.
//!
//! `narrow` is `spread` with the spreads' sigmoid shifted by [`NARROW_SPREAD_SHIFT`]: a zero raw
//! output means a spread just above the floor, so training starts from the identity with the
//! least jitter, and the augmenter's weight decay (which pulls raw outputs to zero) pulls the
//! spreads back toward the floor rather than to the middle of their range. A spread widens only
//! where the hypergradient keeps asking for it.
use std::fmt;
use std::str::FromStr;

use tch::Tensor;

use super::error::{NnError, NnResult};
use super::prior::broad_range;
use super::transform_param::TransformParam;

/// Negative slope of the `spread` variant's hidden units.
pub const LEAKY_SLOPE: f64 = 0.1;

/// Scale of the `spread` variant's output-layer weights relative to PyTorch's default, so the
/// initial means sit near the identity.
pub const SPREAD_HEAD_INIT_SCALE: f64 = 0.1;

/// Shift of the `narrow` variant's spread sigmoid: a zero raw output gives
/// floor + (cap − floor)·sigmoid(−3) ≈ floor + 4.7 % of the range.
pub const NARROW_SPREAD_SHIFT: f64 = -3.0;

/// How the augmenter network turns noise into transformation parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AugmenterVariant {
    /// The method's networks as published (ReLU, raw outputs, zero padding).
    Reference,
    /// Mean and spread per parameter, bounded, with a floor on the spread.
    Spread,
    /// `spread` with every spread starting near its floor and decaying toward it (issue 13's
    /// default).
    Narrow,
    /// `spread` from the broad prior q₀, with a learned apply probability per image (the
    /// default; docs/quality.md has the measurements that chose it).
    #[default]
    Broad,
}

impl AugmenterVariant {
    /// Every variant.
    pub const ALL: [Self; 4] = [Self::Reference, Self::Spread, Self::Narrow, Self::Broad];

    /// The name used in configuration and model descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Spread => "spread",
            Self::Narrow => "narrow",
            Self::Broad => "broad",
        }
    }

    /// For the variants that output a mean and a spread per parameter, the shift added to the
    /// raw spread before its sigmoid; `None` for the `reference`.
    pub fn spread_shift(self) -> Option<f64> {
        match self {
            Self::Reference => None,
            Self::Spread => Some(0.0),
            Self::Narrow => Some(NARROW_SPREAD_SHIFT),
            Self::Broad => Some(0.0),
        }
    }

    /// Whether the network also outputs the logit of a per-image apply probability (the
    /// identity mixture of `broad`).
    pub fn has_gate(self) -> bool {
        self == Self::Broad
    }

    /// The range of `param` under this variant (`None` for the `reference`, which has none).
    pub fn range(self, param: TransformParam) -> Option<SpreadRange> {
        match self {
            Self::Reference => None,
            Self::Spread | Self::Narrow => Some(param.spread_range()),
            Self::Broad => Some(broad_range(param)),
        }
    }
}

impl fmt::Display for AugmenterVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AugmenterVariant {
    type Err = NnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|v| v.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|v| v.name()).collect();
                NnError::InvalidConfig(format!(
                    "unknown augmenter variant '{text}': expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// The range of one transformation parameter under the `spread` variant: its mean lies within
/// ±`bound` of the identity's value, its spread (standard deviation) in [`floor`, `cap`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpreadRange {
    /// Largest |mean|.
    pub bound: f64,
    /// Smallest standard deviation.
    pub floor: f64,
    /// Largest standard deviation.
    pub cap: f64,
}

/// The mean and spread [B, P] of every parameter from the network's raw output [B, 2P] (means,
/// then spreads): bound·tanh(mean), floor + (cap − floor)·sigmoid(spread + shift).
pub fn spread_moments(
    raw: &Tensor,
    ranges: &[SpreadRange],
    shift: f64,
) -> NnResult<(Tensor, Tensor)> {
    let p = ranges.len() as i64;
    let like = |values: Vec<f64>| -> NnResult<Tensor> {
        Ok(Tensor::from_slice(&values)
            .f_view([1, p])?
            .f_to_kind(raw.kind())?
            .f_to_device(raw.device())?)
    };
    let bound = like(ranges.iter().map(|r| r.bound).collect())?;
    let floor = like(ranges.iter().map(|r| r.floor).collect())?;
    let width = like(ranges.iter().map(|r| r.cap - r.floor).collect())?;
    let mean = raw.f_narrow(1, 0, p)?.f_tanh()?.f_mul(&bound)?;
    let spread = raw
        .f_narrow(1, p, p)?
        .f_add_scalar(shift)?
        .f_sigmoid()?
        .f_mul(&width)?
        .f_add(&floor)?;
    Ok((mean, spread))
}

/// The parameters [B, P] from the network's raw output [B, 2P] (means, then spreads) and the
/// unit-variance noise `eps` [B, P]:
/// bound·tanh(mean) + (floor + (cap − floor)·sigmoid(spread + shift))·ε.
#[cfg(test)]
fn spread_parameters(
    raw: &Tensor,
    eps: &Tensor,
    ranges: &[SpreadRange],
    shift: f64,
) -> NnResult<Tensor> {
    let (mean, spread) = spread_moments(raw, ranges, shift)?;
    Ok(mean.f_add(&spread.f_mul(eps)?)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for v in AugmenterVariant::ALL {
            assert_eq!(v.name().parse::<AugmenterVariant>().unwrap(), v);
        }
        assert_eq!(AugmenterVariant::default(), AugmenterVariant::Broad);
        let err = "wide".parse::<AugmenterVariant>().unwrap_err().to_string();
        assert!(
            err.contains("'wide'") && err.contains("reference, spread, narrow, broad"),
            "{err}"
        );
    }

    #[test]
    fn parameters_stay_within_bound_and_spread_range() {
        let ranges = [
            super::super::TransformParam::A11.spread_range(),
            super::super::TransformParam::Tx.spread_range(),
        ];
        let opts = (Kind::Double, Device::Cpu);
        let values = |raw: &Tensor, eps: &Tensor, shift: f64| {
            let p = spread_parameters(raw, eps, &ranges, shift).unwrap();
            Vec::<f64>::try_from(p.view([-1])).unwrap()
        };
        // Saturated raw outputs: means at ±bound, spreads at the cap or the floor.
        let raw = Tensor::from_slice(&[50.0f64, -50.0, 50.0, -50.0]).view([1, 4]);
        let eps = Tensor::full([1, 2], 3f64.sqrt(), opts);
        let p = values(&raw, &eps, 0.0);
        let root3 = 3f64.sqrt();
        assert!((p[0] - (0.25 + 0.12 * root3)).abs() < 1e-9, "{p:?}");
        assert!((p[1] - (-0.25 + 0.03 * root3)).abs() < 1e-9, "{p:?}");
        // Zero raw output: identity mean, spread in the middle of its range.
        let raw = Tensor::zeros([1, 4], opts);
        let eps = Tensor::ones([1, 2], opts);
        let p = values(&raw, &eps, 0.0);
        assert!(
            (p[0] - 0.07).abs() < 1e-9 && (p[1] - 0.09).abs() < 1e-9,
            "{p:?}"
        );
        // The `narrow` shift: a zero raw output is a spread just above the floor.
        let shift = AugmenterVariant::Narrow.spread_shift().unwrap();
        let p = values(&raw, &eps, shift);
        let near_floor = |floor: f64, cap: f64| floor + (cap - floor) / (1.0 + 3f64.exp());
        assert!(
            (p[0] - near_floor(0.02, 0.12)).abs() < 1e-9
                && (p[1] - near_floor(0.03, 0.15)).abs() < 1e-9,
            "{p:?}"
        );
        assert!(p[0] < 0.025 && p[1] < 0.036, "{p:?}");
    }
}
