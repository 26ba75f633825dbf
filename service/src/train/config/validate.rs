//! The checks of a parsed configuration. Names (device, architecture, mode, baseline, variant,
//! normalization) are their types and were checked while parsing; what is left here are the
//! ranges of single values, the rules that tie several keys together (a mode and the keys it
//! uses or refuses), and whether the paths a run reads exist.
use std::path::Path;

use super::error::{problem, ConfigError};
use super::{AugmentMode, DataSource, RunConfig, ScheduleConfig};
use crate::data::policy::{Op, MAGNITUDE_BINS};
use crate::data::Policy;
use crate::model::model_files;

/// The dotted keys that name paths, in the order of [`RunConfig::paths`].
const PATH_KEYS: [&str; 4] = [
    "data.path",
    "data.test_path",
    "classifier.initial_weights",
    "augment.model",
];

impl RunConfig {
    /// The dotted keys whose values are paths on the machine that runs the training: a server
    /// refuses them from a client, which names datasets and models by their registry names.
    pub fn path_keys() -> &'static [&'static str] {
        &PATH_KEYS
    }

    /// The value of each of [`Self::path_keys`], in that order.
    fn paths(&self) -> [Option<&Path>; 4] {
        [
            self.data.path.as_deref(),
            self.data.test_path.as_deref(),
            self.classifier.initial_weights.as_deref(),
            self.augment.model.as_deref(),
        ]
    }

    /// Checks every value's range and the rules across keys; paths are checked by
    /// [`Self::check_paths`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_values()?;
        self.check_combinations()
    }

    /// The ranges of single values.
    fn check_values(&self) -> Result<(), ConfigError> {
        positive("epochs", self.epochs as f64)?;
        positive("batch_size", self.batch_size as f64)?;
        let data = &self.data;
        if !(0.0..1.0).contains(&data.val_ratio) {
            return Err(problem(
                "data.val_ratio",
                format!("{} is outside [0, 1)", data.val_ratio),
            ));
        }
        if data.per_class == Some(0) {
            return Err(problem("data.per_class", "0 images per class"));
        }
        if data.patch == Some(0) || data.resize.is_some_and(|[h, w]| h == 0 || w == 0) {
            return Err(problem(
                "data.patch",
                "patch and resize sides must be positive",
            ));
        }
        let c = &self.classifier;
        non_negative("classifier.lr", c.lr)?;
        momentum("classifier.momentum", c.momentum)?;
        non_negative("classifier.weight_decay", c.weight_decay)?;
        if let ScheduleConfig::Step { factor, .. } = c.schedule {
            if !(factor.is_finite() && factor > 0.0) {
                return Err(problem(
                    "classifier.schedule.factor",
                    format!("{factor} is not a positive number"),
                ));
            }
        }
        let a = &self.augment;
        non_negative("augment.lr", a.lr)?;
        momentum("augment.momentum", a.momentum)?;
        if let Some(decay) = a.weight_decay {
            non_negative("augment.weight_decay", decay)?;
        }
        if a.crop_padding > 64 {
            return Err(problem(
                "augment.crop_padding",
                format!("{} pixels is more than 64", a.crop_padding),
            ));
        }
        if a.inner_steps == 0 {
            return Err(problem("augment.inner_steps", "must be at least 1"));
        }
        if let Some(bound) = a.bound {
            positive("augment.bound", bound)?;
        }
        for (key, value) in [
            ("augment.prior_kl", a.prior_kl),
            ("augment.entropy_bonus", a.entropy_bonus),
            ("augment.adversarial", a.adversarial),
        ] {
            if let Some(value) = value {
                non_negative(key, value)?;
            }
        }
        if let Some(decay) = a.teacher_decay {
            if !(0.0..1.0).contains(&decay) {
                return Err(problem(
                    "augment.teacher_decay",
                    format!("{decay} is not a decay in [0, 1)"),
                ));
            }
        }
        if let Some(fraction) = a.freeze_below {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(problem(
                    "augment.freeze_below",
                    format!("{fraction} is not a fraction in (0, 1]"),
                ));
            }
        }
        if self.output.test_every == 0 {
            return Err(problem(
                "output.test_every",
                "0 would never test; use 1 to test after every epoch, k for every k-th \
                 (the last epoch is always tested)",
            ));
        }
        Ok(())
    }

    /// The rules that tie several keys together.
    fn check_combinations(&self) -> Result<(), ConfigError> {
        let data = &self.data;
        if data.source != DataSource::Synthetic && data.path.is_none() {
            return Err(problem("data.path", "required for this data source"));
        }
        if data.source == DataSource::Synthetic {
            let s = data.synthetic;
            if s.classes < 2
                || s.per_class < 2
                || !(s.channels == 1 || s.channels == 3)
                || s.side < 8
            {
                return Err(problem(
                    "data.synthetic",
                    format!(
                        "{s:?}: needs ≥ 2 classes, ≥ 2 images per class, 1 or 3 channels, side ≥ 8"
                    ),
                ));
            }
        }
        self.check_randaugment()?;
        let mode = self.augment.mode;
        if let (false, Some(name)) = (mode.is_learned(), self.augment.variant) {
            return Err(problem(
                "augment.variant",
                format!(
                    "'{name}' is only used by the learned modes; mode is '{mode}' (a served run \
                     applies the variant its model was trained with)"
                ),
            ));
        }
        self.check_objective()?;
        if self.data.val_ratio == 0.0 && mode.is_learned() {
            return Err(problem(
                "data.val_ratio",
                format!(
                    "0 (no validation split) does not work in mode '{mode}': the learned modes \
                     need validation images for the bilevel step; use a ratio in (0, 1) or \
                     mode none, handcrafted or served"
                ),
            ));
        }
        if self.output.model_every > 0 && !mode.is_learned() {
            return Err(problem(
                "output.model_every",
                format!("mode '{mode}' trains no augmenter to save; use 0 or a learned mode"),
            ));
        }
        match (mode, &self.augment.model) {
            (AugmentMode::Frozen, _) => self.served_model().map(|_| ()),
            (_, None) => Ok(()),
            (_, Some(path)) => Err(problem(
                "augment.model",
                format!(
                    "{} is only used in served mode; mode is '{mode}'",
                    path.display()
                ),
            )),
        }
    }

    /// The augmenter objective's keys: learned modes only, the prior's KL under `broad` only,
    /// the entropy bonus under a variant with spreads.
    fn check_objective(&self) -> Result<(), ConfigError> {
        let a = &self.augment;
        let mode = a.mode;
        let set = [
            (
                "augment.hypergradient_scale",
                a.hypergradient_scale.is_some(),
            ),
            ("augment.prior_kl", a.prior_kl.is_some()),
            ("augment.entropy_bonus", a.entropy_bonus.is_some()),
            ("augment.freeze_below", a.freeze_below.is_some()),
            ("augment.adversarial", a.adversarial.is_some()),
            ("augment.teacher_decay", a.teacher_decay.is_some()),
        ];
        if !mode.is_learned() {
            if let Some((key, _)) = set.iter().find(|(_, on)| *on) {
                return Err(problem(
                    key,
                    format!("only used by the learned modes; mode is '{mode}'"),
                ));
            }
            return Ok(());
        }
        let variant = a.variant_or_default();
        if a.prior_kl.is_some_and(|beta| beta > 0.0) && !variant.has_gate() {
            return Err(problem(
                "augment.prior_kl",
                format!("needs variant 'broad' (the one with a prior q₀), not '{variant}'"),
            ));
        }
        if a.entropy_bonus.is_some_and(|gamma| gamma > 0.0) && variant.spread_shift().is_none() {
            return Err(problem(
                "augment.entropy_bonus",
                format!("needs a variant with spreads, not '{variant}'"),
            ));
        }
        if a.teacher_decay.is_some() && !a.adversarial.is_some_and(|alpha| alpha > 0.0) {
            return Err(problem(
                "augment.teacher_decay",
                "set, but there is no teacher: augment.adversarial is 0 or absent",
            ));
        }
        Ok(())
    }

    /// RandAugment's settings: set only with a RandAugment baseline, and in range.
    fn check_randaugment(&self) -> Result<(), ConfigError> {
        let a = &self.augment;
        let randaugment = matches!(a.baseline.policy, Some(Policy::RandAugment { .. }));
        for (key, set) in [
            ("augment.randaugment_ops", a.randaugment_ops),
            ("augment.randaugment_magnitude", a.randaugment_magnitude),
        ] {
            if set.is_some() && !randaugment {
                return Err(problem(
                    key,
                    format!(
                        "set, but augment.baseline '{}' has no randaugment",
                        a.baseline
                    ),
                ));
            }
        }
        let Some(Policy::RandAugment { ops, magnitude }) = a.baseline_with_settings().policy else {
            return Ok(());
        };
        if !(1..=Op::ALL.len()).contains(&ops) {
            return Err(problem(
                "augment.randaugment_ops",
                format!("{ops} is not between 1 and {}", Op::ALL.len()),
            ));
        }
        if magnitude >= MAGNITUDE_BINS {
            return Err(problem(
                "augment.randaugment_magnitude",
                format!(
                    "bin {magnitude} is not between 0 and {}",
                    MAGNITUDE_BINS - 1
                ),
            ));
        }
        Ok(())
    }

    /// The frozen model a `served` run applies (`augment.model`).
    pub fn served_model(&self) -> Result<&Path, ConfigError> {
        self.augment.model.as_deref().ok_or_else(|| {
            problem(
                "augment.model",
                "required in served mode: the model.safetensors of a learned run, or its \
                 directory",
            )
        })
    }

    /// Checks that every path the run reads exists.
    pub fn check_paths(&self) -> Result<(), ConfigError> {
        for (&key, path) in PATH_KEYS.iter().zip(self.paths()) {
            let Some(path) = path else { continue };
            if key == "data.path" && self.data.source == DataSource::Synthetic {
                continue;
            }
            // A model is two files; the weights are named first.
            let files = if key == "augment.model" {
                model_files(path).to_vec()
            } else {
                vec![path.to_path_buf()]
            };
            for file in files {
                let exists = if key == "augment.model" {
                    file.is_file()
                } else {
                    file.exists()
                };
                if !exists {
                    return Err(problem(key, format!("{} does not exist", file.display())));
                }
            }
        }
        Ok(())
    }
}

fn positive(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(problem(key, format!("{value} is not a positive number")))
    }
}

fn non_negative(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(problem(key, format!("{value} must be a finite number ≥ 0")))
    }
}

fn momentum(key: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(problem(key, format!("{value} is outside [0, 1)")))
    }
}
