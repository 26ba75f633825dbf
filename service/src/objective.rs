//! What the augmenter's update minimises besides the raw hypergradient: its scale (times the
//! classifier's initial over its current learning rate, so the signal does not vanish as the
//! rate decays),
//! the forces toward the broad prior q₀ (β·KL(q_φ‖q₀), the entropy bonus −γ·Σ log σ), and an
//! optional freeze once the classifier's rate falls below a fraction of its start.
use std::fmt;
use std::str::FromStr;

use crate::nn::{NnError, NnResult};
use crate::teacher::TEACHER_DECAY;

/// How the hypergradient ∂L_val/∂θ is scaled before the augmenter's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HypergradientScale {
    /// As it is (the method as published): proportional to the classifier's η, so it fades
    /// with the schedule.
    #[default]
    None,
    /// Multiplied by η₀/η, the classifier's initial learning rate over its current one: the
    /// published signal at the start (so `augment.lr` keeps its meaning), and to first order the
    /// same alignment of the augmented training gradient with the validation gradient however
    /// far the schedule has decayed η.
    InverseLr,
}

impl HypergradientScale {
    /// Every scale, in documentation order.
    pub const ALL: [Self; 2] = [Self::None, Self::InverseLr];

    /// The name in a configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::InverseLr => "inverse-lr",
        }
    }
}

impl fmt::Display for HypergradientScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HypergradientScale {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown hypergradient scale '{text}': expected {}",
                    names.join(", ")
                )
            })
    }
}

/// The augmenter's objective beyond L_val.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmenterObjective {
    /// How the hypergradient is scaled.
    pub scale: HypergradientScale,
    /// β of β·KL(q_φ‖q₀) (0: off; the `broad` variant only).
    pub prior_kl: f64,
    /// γ of the entropy bonus −γ·Σ_p log σ_p (0: off; spread variants only).
    pub entropy_bonus: f64,
    /// The augmenter stops updating once the classifier's η is below this fraction of its
    /// initial value (`None`: it never stops).
    pub freeze_below: Option<f64>,
    /// α of TeachAugment's adversarial term (0: off; see `teacher.rs`).
    pub adversarial: f64,
    /// The decay d of the teacher's moving average (with `adversarial` only).
    pub teacher_decay: f64,
}

impl Default for AugmenterObjective {
    /// The method as published: nothing added to L_val, never frozen.
    fn default() -> Self {
        Self {
            scale: HypergradientScale::None,
            prior_kl: 0.0,
            entropy_bonus: 0.0,
            freeze_below: None,
            adversarial: 0.0,
            teacher_decay: TEACHER_DECAY,
        }
    }
}

impl AugmenterObjective {
    /// Checks the weights: finite, non-negative, a freeze fraction in (0, 1].
    pub fn validate(&self) -> NnResult<()> {
        for (name, value) in [
            ("prior_kl", self.prior_kl),
            ("entropy_bonus", self.entropy_bonus),
            ("adversarial", self.adversarial),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(NnError::InvalidConfig(format!(
                    "{name} must be a finite number ≥ 0, got {value}"
                )));
            }
        }
        if !(0.0..1.0).contains(&self.teacher_decay) {
            return Err(NnError::InvalidConfig(format!(
                "teacher_decay must be in [0, 1), got {}",
                self.teacher_decay
            )));
        }
        if let Some(fraction) = self.freeze_below {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(NnError::InvalidConfig(format!(
                    "freeze_below must be in (0, 1], got {fraction}"
                )));
            }
        }
        Ok(())
    }

    /// Whether the augmenter takes no step at classifier rate `lr` (initial rate `initial`): a
    /// rate equal to the threshold up to rounding (a schedule's 0.1 × 0.1) is not below it.
    pub fn frozen_at(&self, lr: f64, initial: f64) -> bool {
        self.freeze_below
            .is_some_and(|fraction| lr < fraction * initial * (1.0 - 1e-9))
    }

    /// Whether a regulariser on the moments is on.
    pub fn regularises(&self) -> bool {
        self.prior_kl > 0.0 || self.entropy_bonus > 0.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scales_round_trip_and_unknown_names_list_the_known_ones() {
        for scale in HypergradientScale::ALL {
            assert_eq!(scale.name().parse::<HypergradientScale>().unwrap(), scale);
        }
        let err = "inverse".parse::<HypergradientScale>().unwrap_err();
        assert!(
            err.contains("'inverse'") && err.contains("inverse-lr"),
            "{err}"
        );
    }

    #[test]
    fn the_freeze_starts_below_its_fraction_of_the_initial_rate() {
        let objective = AugmenterObjective {
            freeze_below: Some(0.1),
            ..Default::default()
        };
        assert!(!objective.frozen_at(0.02, 0.1));
        assert!(!objective.frozen_at(0.01, 0.1));
        assert!(objective.frozen_at(0.004, 0.1));
        assert!(!AugmenterObjective::default().frozen_at(0.0, 0.1));
    }

    #[test]
    fn bad_weights_are_named() {
        let bad = AugmenterObjective {
            prior_kl: -1.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("prior_kl"));
        let bad = AugmenterObjective {
            freeze_below: Some(0.0),
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("freeze_below"));
    }
}
