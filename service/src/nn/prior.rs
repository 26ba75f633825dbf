//! The broad prior q₀ of the `broad` augmenter variant and the two forces that keep a learned
//! distribution near it: β·KL(q_φ‖q₀) and the entropy bonus −γ·Σ log σ.
//!
//! Under q₀ each image is transformed with probability [`PRIOR_APPLY_PROB`] (else left as it
//! is), and each transformation parameter is an offset from the identity with mean 0 and
//! standard deviation σ₀ ([`prior_std`]). The σ₀ are about half of TrivialAugment's standard
//! (not "wide") magnitudes, because every parameter moves at once here where TrivialAugment
//! applies one operation: matrix entries ±0.17 (rotations up to ~10°, scales ±17 %),
//! translations ±2.4 px on 28 px, brightness ±35 %, additive shift ±0.17.
//!
//! The KL treats the learned and the prior distribution of each parameter as Gaussians with
//! their means and stds (ε is uniform with unit variance, so these are the true moments), and
//! adds the Bernoulli KL of the apply probability:
//! Σ_p [log(σ₀/σ) + (σ² + (μ − μ₀)²)/(2σ₀²) − ½] + p·log(p/p₀) + (1−p)·log((1−p)/(1−p₀)),
//! averaged over the batch (μ and σ depend on each image's noise).
use tch::Tensor;

use super::error::NnResult;
use super::transform_param::TransformParam;
use super::variant::SpreadRange;

/// Probability that q₀ transforms an image (the identity mixture's prior weight).
pub const PRIOR_APPLY_PROB: f64 = 0.5;

/// Temperature of the relaxed Bernoulli gate: b = sigmoid((logit p + logistic noise)/τ), so
/// the hypergradient reaches p; at 0.5 most gates are within 0.1 of 0 or 1.
pub const GATE_TEMPERATURE: f64 = 0.5;

/// The smallest spread of a `broad` parameter, as a fraction of σ₀ (a floor far above the
/// collapse threshold, whatever the training does).
pub const BROAD_FLOOR_FRACTION: f64 = 0.1;

/// σ₀ of q₀ for one transformation parameter (the prior's mean is the identity, 0).
pub fn prior_std(param: TransformParam) -> f64 {
    match param {
        TransformParam::A11 | TransformParam::A12 | TransformParam::A21 | TransformParam::A22 => {
            0.1
        }
        TransformParam::Tx | TransformParam::Ty => 0.1,
        TransformParam::Brightness | TransformParam::Saturation => 0.2,
        TransformParam::Shift => 0.1,
        TransformParam::Hue => 0.05,
    }
}

/// The range of a parameter under `broad`: spreads in [0.1σ₀, 1.9σ₀], so that a zero raw
/// output (the start) is σ₀ exactly; means within ±2σ₀ of the identity.
pub fn broad_range(param: TransformParam) -> SpreadRange {
    let s0 = prior_std(param);
    SpreadRange {
        bound: 2.0 * s0,
        floor: BROAD_FLOOR_FRACTION * s0,
        cap: (2.0 - BROAD_FLOOR_FRACTION) * s0,
    }
}

/// The moments of a learned distribution for one batch of noise: per image and parameter the
/// mean and std of the parameter (before the gate), and the apply probability.
#[derive(Debug)]
pub struct SpreadMoments {
    /// μ [B, P].
    pub mean: Tensor,
    /// σ [B, P].
    pub std: Tensor,
    /// p, a scalar tensor.
    pub apply_prob: Tensor,
    /// σ₀ of each column.
    pub prior_std: Vec<f64>,
}

impl SpreadMoments {
    /// KL(q_φ‖q₀) as in the header, averaged over the batch (in the graph of θ).
    pub fn kl_to_prior(&self) -> NnResult<Tensor> {
        let s0 = self.column(&self.prior_std)?;
        let var0 = s0.f_square()?;
        let gaussian = s0
            .f_log()?
            .f_sub(&self.std.f_log()?)?
            .f_add(
                &self
                    .std
                    .f_square()?
                    .f_add(&self.mean.f_square()?)?
                    .f_div(&var0.f_mul_scalar(2.0)?)?,
            )?
            .f_sub_scalar(0.5)?
            .f_sum_dim_intlist(1, false, self.std.kind())?
            .f_mean(self.std.kind())?;
        let p = &self.apply_prob;
        let p0 = PRIOR_APPLY_PROB;
        let bernoulli = p.f_mul(&p.f_div_scalar(p0)?.f_log()?)?.f_add(
            &p.f_neg()?.f_add_scalar(1.0)?.f_mul(
                &p.f_neg()?
                    .f_add_scalar(1.0)?
                    .f_div_scalar(1.0 - p0)?
                    .f_log()?,
            )?,
        )?;
        Ok(gaussian.f_add(&bernoulli.f_to_kind(gaussian.kind())?)?)
    }

    /// Σ_p log σ, averaged over the batch: the (Gaussian) entropy up to a constant.
    pub fn log_spread(&self) -> NnResult<Tensor> {
        Ok(self
            .std
            .f_log()?
            .f_sum_dim_intlist(1, false, self.std.kind())?
            .f_mean(self.std.kind())?)
    }

    fn column(&self, values: &[f64]) -> NnResult<Tensor> {
        Ok(Tensor::from_slice(values)
            .f_view([1, values.len() as i64])?
            .f_to_kind(self.std.kind())?
            .f_to_device(self.std.device())?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn moments(mean: &[f64], std: &[f64], p: f64, s0: &[f64]) -> SpreadMoments {
        let n = mean.len() as i64;
        SpreadMoments {
            mean: Tensor::from_slice(mean).view([1, n]),
            std: Tensor::from_slice(std).view([1, n]),
            apply_prob: Tensor::from_slice(&[p]).view([]),
            prior_std: s0.to_vec(),
        }
    }

    #[test]
    fn the_kl_is_zero_at_the_prior_and_matches_the_closed_form_elsewhere() {
        let at_prior = moments(&[0.0, 0.0], &[0.1, 0.2], 0.5, &[0.1, 0.2]);
        let kl = at_prior.kl_to_prior().unwrap().double_value(&[]);
        assert!(kl.abs() < 1e-12, "{kl}");
        // One parameter at σ = σ₀/2 and μ = σ₀, p = 0.8:
        // log 2 + (1/4 + 1)/2 − 1/2 = log 2 + 1/8; Bernoulli 0.8 log 1.6 + 0.2 log 0.4.
        let off = moments(&[0.1], &[0.05], 0.8, &[0.1]);
        let kl = off.kl_to_prior().unwrap().double_value(&[]);
        let expected = 2f64.ln() + 0.125 + 0.8 * 1.6f64.ln() + 0.2 * 0.4f64.ln();
        assert!((kl - expected).abs() < 1e-12, "{kl} vs {expected}");
        let entropy = off.log_spread().unwrap().double_value(&[]);
        assert!((entropy - 0.05f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn broad_ranges_start_at_the_prior_and_stay_above_the_collapse_threshold() {
        for p in TransformParam::ALL {
            let r = broad_range(p);
            assert!(
                ((r.floor + r.cap) / 2.0 - prior_std(p)).abs() < 1e-12,
                "{p:?}"
            );
            assert!(r.floor >= 0.005 && r.bound > 0.0, "{p:?}");
        }
    }
}
