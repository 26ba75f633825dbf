//! A training run's configuration: a preset, a TOML file and `--set key=value` overrides merged
//! in that order into one validated [`RunConfig`]. Unknown keys and out-of-range values are
//! rejected with the dotted name of the key.
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::presets::{preset_toml, PRESET_NAMES};
use crate::data::policy::{Op, MAGNITUDE_BINS, RANDAUGMENT_MAGNITUDE, RANDAUGMENT_OPS};
use crate::data::{Baseline, Policy, CROP_PADDING, DEFAULT_VAL_RATIO};
use crate::device::DeviceSpec;
use crate::model::model_files;
use crate::nn::{AugmenterKind, AugmenterVariant, ClassifierArch};

/// A configuration problem, named by its key (`classifier.lr`) or its source (a file).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The dotted key, or the file, at fault.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

fn problem(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// Everything a training run needs to know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of everything random: split, order, initialisation, noise.
    pub seed: u64,
    /// `cpu`, `cuda`, `cuda:N` or `auto`.
    #[serde(default = "default_device")]
    pub device: String,
    /// Epochs to train.
    pub epochs: u64,
    /// Training (and validation) batch size.
    pub batch_size: usize,
    /// The dataset.
    pub data: DataConfig,
    /// The hosted classifier and its optimizer.
    pub classifier: ClassifierConfig,
    /// What augments the training images.
    pub augment: AugmentConfig,
    /// What the run writes besides checkpoints and records.
    #[serde(default)]
    pub output: OutputConfig,
}

fn default_device() -> String {
    "auto".into()
}

/// Where the images come from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    /// IDX files (MNIST, Fashion-MNIST): `train-*` and `t10k-*` in `path`.
    Idx,
    /// CIFAR-10 binary batches in `path`.
    Cifar10,
    /// CIFAR-100 binary files in `path`.
    Cifar100,
    /// One subfolder per class in `path` (and optionally `test_path`).
    Folder,
    /// Generated gratings (see `[data.synthetic]`), for tests and demos without data.
    Synthetic,
}

/// The dataset section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The format.
    pub source: DataSource,
    /// The training data (not used by `synthetic`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A separate test folder for `folder` data (else no test accuracy).
    #[serde(default)]
    pub test_path: Option<PathBuf>,
    /// Keep this many training images per class (class-balanced, seeded).
    #[serde(default)]
    pub per_class: Option<usize>,
    /// Share of the training set held out for validation (stratified, seeded), in [0, 1).
    /// 0: no validation split, every training image is trained on (modes that need no
    /// validation batches only: `none`, `handcrafted`, `served`).
    #[serde(default = "default_val_ratio")]
    pub val_ratio: f64,
    /// `computed` (from the training split), `cifar10`, `cifar100`, `mnist`, `fashion-mnist`.
    #[serde(default = "default_normalization")]
    pub normalization: String,
    /// Cut folder images into non-overlapping square patches of this side.
    #[serde(default)]
    pub patch: Option<u32>,
    /// Resize folder images (or patches) to `[height, width]`.
    #[serde(default)]
    pub resize: Option<[u32; 2]>,
    /// The generated set of `synthetic`.
    #[serde(default)]
    pub synthetic: SyntheticConfig,
}

fn default_val_ratio() -> f64 {
    DEFAULT_VAL_RATIO
}

fn default_normalization() -> String {
    "computed".into()
}

/// Shape of a generated dataset.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Classes.
    pub classes: usize,
    /// Images per class in the training set (the test set gets half as many).
    pub per_class: usize,
    /// Channels.
    pub channels: usize,
    /// Height and width.
    pub side: usize,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            classes: 4,
            per_class: 64,
            channels: 1,
            side: 16,
        }
    }
}

/// The learning-rate schedule of the classifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// The same rate every epoch.
    Constant,
    /// Multiply by `factor` at each epoch in `milestones`.
    Step {
        /// Epochs (0-based) at which the rate drops.
        milestones: Vec<u64>,
        /// The factor applied at each milestone.
        factor: f64,
    },
}

impl ScheduleConfig {
    /// The learning rate for `epoch` from the initial rate.
    pub fn lr_at(&self, base: f64, epoch: u64) -> f64 {
        match self {
            Self::Constant => base,
            Self::Step { milestones, factor } => {
                let passed = milestones.iter().filter(|&&m| epoch >= m).count();
                base * factor.powi(passed as i32)
            }
        }
    }
}

/// The classifier section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// `resnet18-cifar`, `resnet18-imagenet` or `small-cnn`.
    pub arch: String,
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum (also the virtual step's).
    pub momentum: f64,
    /// SGD weight decay (not in the virtual step).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[serde(default = "constant_schedule")]
    pub schedule: ScheduleConfig,
    /// Start from these weights (a safetensors file with this architecture's names), e.g.
    /// ImageNet-pretrained ones for `bach-paper`.
    #[serde(default)]
    pub initial_weights: Option<PathBuf>,
}

fn constant_schedule() -> ScheduleConfig {
    ScheduleConfig::Constant
}

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
    /// the Augment RPC applies it, to train a fresh classifier with plain SGD.
    Served,
}

impl FromStr for AugmentMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(Self::None),
            "handcrafted" => Ok(Self::Handcrafted),
            "served" => Ok(Self::Served),
            other => other.parse().map(Self::Learned).map_err(|_| {
                let learned: Vec<String> = AugmenterKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown mode '{other}': expected none, handcrafted, served, {}",
                    learned.join(", ")
                )
            }),
        }
    }
}

impl fmt::Display for AugmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Handcrafted => f.write_str("handcrafted"),
            Self::Served => f.write_str("served"),
            Self::Learned(kind) => write!(f, "{kind}"),
        }
    }
}

/// The augmentation section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// `none`, `handcrafted`, `served`, `small_affine[:variant]` or `affine_color`.
    pub mode: String,
    /// The trained augmenter a `served` run applies, frozen: a `model.safetensors` written by
    /// a learned run, or the directory holding it (served mode only).
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// The hand-crafted transforms: the level in `handcrafted` mode, the part kept underneath
    /// a learned augmenter otherwise (`flip` for the CIFAR-10 configuration).
    #[serde(default = "default_baseline")]
    pub baseline: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Soft bound on the learned affine matrix's distance from the identity (off: none).
    #[serde(default)]
    pub bound: Option<f64>,
    /// Virtual steps per bilevel step.
    #[serde(default = "one")]
    pub inner_steps: usize,
    /// Augmenter SGD learning rate (constant).
    pub lr: f64,
    /// Augmenter SGD momentum.
    pub momentum: f64,
    /// Augmenter SGD weight decay.
    pub weight_decay: f64,
}

fn default_crop_padding() -> usize {
    CROP_PADDING
}

fn is_default_crop_padding(padding: &usize) -> bool {
    *padding == CROP_PADDING
}

fn default_baseline() -> String {
    "none".into()
}

fn one() -> usize {
    1
}

/// What the run writes besides checkpoints and records.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Training images shown in the original | augmented grid of each epoch (0: no grid).
    pub grid_images: usize,
    /// Save the augmenter as a model into `models/epoch-NNNN/` after every epoch e with
    /// e + 1 divisible by this (learned modes; 0: only the final model). Left out of the
    /// stored configuration when 0, so run directories from before the key still resume.
    #[serde(skip_serializing_if = "is_zero")]
    pub model_every: u64,
    /// Evaluate the test set after every epoch e with e + 1 divisible by this, and always
    /// after the last epoch (at least 1; 1, the default, is every epoch). Left out of the
    /// stored configuration when 1, so run directories from before the key still resume.
    #[serde(skip_serializing_if = "is_one")]
    pub test_every: u64,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            grid_images: 8,
            model_every: 0,
            test_every: 1,
        }
    }
}

impl OutputConfig {
    /// Whether the test set is evaluated after `epoch` (0-based) of a run of `epochs`.
    pub fn tests_after(&self, epoch: u64, epochs: u64) -> bool {
        epoch + 1 >= epochs || (epoch + 1).is_multiple_of(self.test_every)
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_one(value: &u64) -> bool {
    *value == 1
}

/// The table of a preset (empty without one).
fn preset_table(preset: Option<&str>) -> Result<toml::Table, ConfigError> {
    let mut table = toml::Table::new();
    if let Some(name) = preset {
        let text = preset_toml(name).ok_or_else(|| {
            problem(
                "preset",
                format!(
                    "unknown preset '{name}': expected one of {}",
                    PRESET_NAMES.join(", ")
                ),
            )
        })?;
        merge(&mut table, parse_toml(text, &format!("preset {name}"))?);
    }
    Ok(table)
}

impl RunConfig {
    /// Merges a preset, a TOML file and `key=value` overrides (later wins), then validates.
    pub fn load(
        preset: Option<&str>,
        file: Option<&Path>,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut table = preset_table(preset)?;
        if let Some(path) = file {
            let source = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| problem(&source, format!("cannot read the config file: {e}")))?;
            merge(&mut table, parse_toml(&text, &source)?);
        }
        if preset.is_none() && file.is_none() {
            return Err(problem("config", "give a preset or a config file"));
        }
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        Self::from_table(table)
    }

    /// Merges a preset, TOML text (as received over the API, named `config_toml` in errors)
    /// and `key=value` overrides (later wins), then validates.
    pub fn load_text(
        preset: Option<&str>,
        text: &str,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut table = preset_table(preset)?;
        if !text.trim().is_empty() {
            merge(&mut table, parse_toml(text, "config_toml")?);
        } else if preset.is_none() {
            return Err(problem("config", "give a preset or a configuration"));
        }
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        Self::from_table(table)
    }

    /// Parses one complete TOML document and validates it.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(parse_toml(text, "config")?)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let mut config: Self = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." {
                    "config".to_string()
                } else {
                    path
                };
                problem(&key, e.into_inner().to_string())
            })?;
        if matches!(config.mode(), Ok(AugmentMode::Learned(_))) && config.augment.variant.is_none()
        {
            config.augment.variant = Some(AugmenterVariant::default().name().into());
        }
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML (stored with every run).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# not serializable: {e}\n"))
    }

    /// Checks every value's range and every name; paths are checked by [`Self::check_paths`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.device()?;
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
        self.normalization_name()?;
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
        if data.patch == Some(0) || data.resize.is_some_and(|[h, w]| h == 0 || w == 0) {
            return Err(problem(
                "data.patch",
                "patch and resize sides must be positive",
            ));
        }
        self.arch()?;
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
        self.mode()?;
        self.baseline()?;
        let a = &self.augment;
        non_negative("augment.lr", a.lr)?;
        momentum("augment.momentum", a.momentum)?;
        non_negative("augment.weight_decay", a.weight_decay)?;
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
        let mode = self.mode()?;
        self.variant()?;
        if self.data.val_ratio == 0.0 && matches!(mode, AugmentMode::Learned(_)) {
            return Err(problem(
                "data.val_ratio",
                format!(
                    "0 (no validation split) does not work in mode '{}': the learned modes \
                     need validation images for the bilevel step; use a ratio in (0, 1) or \
                     mode none, handcrafted or served",
                    self.augment.mode
                ),
            ));
        }
        if self.output.test_every == 0 {
            return Err(problem(
                "output.test_every",
                "0 would never test; use 1 to test after every epoch, k for every k-th \
                 (the last epoch is always tested)",
            ));
        }
        if self.output.model_every > 0 && !matches!(mode, AugmentMode::Learned(_)) {
            return Err(problem(
                "output.model_every",
                format!(
                    "mode '{}' trains no augmenter to save; use 0 or a learned mode",
                    self.augment.mode
                ),
            ));
        }
        match (mode, &self.augment.model) {
            (AugmentMode::Served, _) => self.served_model().map(|_| ()),
            (_, None) => Ok(()),
            (_, Some(path)) => Err(problem(
                "augment.model",
                format!(
                    "{} is only used in served mode; mode is '{}'",
                    path.display(),
                    self.augment.mode
                ),
            )),
        }
    }

    /// Checks that every path the run reads exists.
    pub fn check_paths(&self) -> Result<(), ConfigError> {
        let paths = [
            ("data.path", self.data.path.as_ref()),
            ("data.test_path", self.data.test_path.as_ref()),
            (
                "classifier.initial_weights",
                self.classifier.initial_weights.as_ref(),
            ),
        ];
        let used = |key: &str| key != "data.path" || self.data.source != DataSource::Synthetic;
        for (key, path) in paths {
            if let Some(path) = path.filter(|_| used(key)) {
                if !path.exists() {
                    return Err(problem(key, format!("{} does not exist", path.display())));
                }
            }
        }
        if let Some(path) = &self.augment.model {
            for file in model_files(path) {
                if !file.is_file() {
                    return Err(problem(
                        "augment.model",
                        format!("{} does not exist", file.display()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The device.
    pub fn device(&self) -> Result<DeviceSpec, ConfigError> {
        self.device
            .parse()
            .map_err(|e: crate::device::DeviceError| problem("device", e.to_string()))
    }

    /// The classifier architecture.
    pub fn arch(&self) -> Result<ClassifierArch, ConfigError> {
        self.classifier
            .arch
            .parse()
            .map_err(|e: crate::nn::NnError| problem("classifier.arch", e.to_string()))
    }

    /// The augmentation mode.
    pub fn mode(&self) -> Result<AugmentMode, ConfigError> {
        self.augment
            .mode
            .parse()
            .map_err(|e: String| problem("augment.mode", e))
    }

    /// The augmenter variant of a learned mode (`augment.variant`; the default when absent).
    /// Other modes train no augmenter and refuse the key.
    pub fn variant(&self) -> Result<AugmenterVariant, ConfigError> {
        let key = "augment.variant";
        match (self.mode()?, &self.augment.variant) {
            (AugmentMode::Learned(_), None) => Ok(AugmenterVariant::default()),
            (AugmentMode::Learned(_), Some(name)) => name
                .parse()
                .map_err(|e: crate::nn::NnError| problem(key, e.to_string())),
            (_, None) => Ok(AugmenterVariant::default()),
            (_, Some(name)) => Err(problem(
                key,
                format!(
                    "'{name}' is only used by the learned modes; mode is '{}' (a served run \
                     applies the variant its model was trained with)",
                    self.augment.mode
                ),
            )),
        }
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

    /// The hand-crafted baseline: level, policy (with RandAugment's settings), erasing.
    pub fn baseline(&self) -> Result<Baseline, ConfigError> {
        let a = &self.augment;
        let baseline: Baseline = a
            .baseline
            .parse()
            .map_err(|e: crate::data::DataError| problem("augment.baseline", e.to_string()))?;
        let randaugment = matches!(baseline.policy, Some(Policy::RandAugment { .. }));
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
        let ops = a.randaugment_ops.unwrap_or(RANDAUGMENT_OPS);
        if !(1..=Op::ALL.len()).contains(&ops) {
            return Err(problem(
                "augment.randaugment_ops",
                format!("{ops} is not between 1 and {}", Op::ALL.len()),
            ));
        }
        let magnitude = a.randaugment_magnitude.unwrap_or(RANDAUGMENT_MAGNITUDE);
        if magnitude >= MAGNITUDE_BINS {
            return Err(problem(
                "augment.randaugment_magnitude",
                format!(
                    "bin {magnitude} is not between 0 and {}",
                    MAGNITUDE_BINS - 1
                ),
            ));
        }
        Ok(baseline.with_randaugment(ops, magnitude))
    }

    fn normalization_name(&self) -> Result<&str, ConfigError> {
        let name = self.data.normalization.as_str();
        match name {
            "computed" | "cifar10" | "cifar100" | "mnist" | "fashion-mnist" => Ok(name),
            other => Err(problem(
                "data.normalization",
                format!(
                    "unknown '{other}': expected computed, cifar10, cifar100, mnist, fashion-mnist"
                ),
            )),
        }
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

fn parse_toml(text: &str, source: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| problem(source, format!("not valid TOML: {e}")))
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `a.b.c=value`; the value is read as TOML (`0.05`, `true`, `[1, 2]`, `"x"`) or, when
/// that fails, taken as a plain string (`mode=affine_color`).
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| problem(assignment, "an override is written key=value"))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(problem(key, "not a key"));
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(problem(key, format!("'{part}' is a value, not a section"))),
        };
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::data::Level;

    #[test]
    fn every_preset_parses_and_validates() {
        for name in PRESET_NAMES {
            let config = RunConfig::load(Some(name), None, &[]).unwrap();
            assert_eq!(config.seed, 6442, "{name}");
            // Round trip through the stored TOML.
            assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
        }
        let cifar = RunConfig::load(Some("cifar10-paper"), None, &[]).unwrap();
        assert_eq!(cifar.arch().unwrap(), ClassifierArch::ResNet18Cifar);
        assert_eq!(cifar.baseline().unwrap(), Level::Flip.into());
        assert_eq!(cifar.classifier.schedule.lr_at(0.1, 59), 0.1);
        assert!((cifar.classifier.schedule.lr_at(0.1, 160) - 0.1 * 0.2f64.powi(3)).abs() < 1e-15);
        let bach = RunConfig::load(Some("bach-paper"), None, &[]).unwrap();
        assert_eq!((bach.batch_size, bach.data.patch), (16, Some(512)));
    }

    #[test]
    fn learned_modes_record_their_variant_and_other_modes_refuse_one() {
        let load = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            RunConfig::load(Some("fmnist-small"), None, &sets)
        };
        let learned = load(&[]).unwrap();
        assert_eq!(learned.augment.variant.as_deref(), Some("narrow"));
        assert_eq!(learned.variant().unwrap(), AugmenterVariant::Narrow);
        assert!(learned.to_toml().contains("variant = \"narrow\""));
        let reference = load(&["augment.variant=reference"]).unwrap();
        assert_eq!(reference.variant().unwrap(), AugmenterVariant::Reference);
        assert_eq!(
            RunConfig::from_toml(&reference.to_toml()).unwrap(),
            reference
        );
        let plain = load(&["augment.mode=none"]).unwrap();
        assert_eq!(plain.augment.variant, None);
        assert!(!plain.to_toml().contains("variant"));
        let err = load(&["augment.mode=handcrafted", "augment.variant=spread"]).unwrap_err();
        assert_eq!(err.key, "augment.variant");
        assert!(err.problem.contains("learned modes"), "{err}");
        let err = load(&["augment.variant=wide"]).unwrap_err();
        assert_eq!(err.key, "augment.variant");
        assert!(err.problem.contains("'wide'"), "{err}");
    }

    #[test]
    fn crop_padding_is_stored_only_when_changed_and_bounded() {
        let load = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            RunConfig::load(Some("fmnist-small"), None, &sets)
        };
        let default = load(&[]).unwrap();
        assert_eq!(default.augment.crop_padding, CROP_PADDING);
        assert!(!default.to_toml().contains("crop_padding"));
        let two = load(&["augment.crop_padding=2"]).unwrap();
        assert!(two.to_toml().contains("crop_padding = 2"));
        assert_eq!(RunConfig::from_toml(&two.to_toml()).unwrap(), two);
        let err = load(&["augment.crop_padding=65"]).unwrap_err();
        assert_eq!(err.key, "augment.crop_padding");
    }

    #[test]
    fn policies_parse_with_randaugment_settings_checked() {
        let load = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            RunConfig::load(Some("fmnist-small"), None, &sets)
        };
        let ta = load(&[
            "augment.mode=handcrafted",
            "augment.baseline=crop+flip+trivialaugment+erasing",
        ])
        .unwrap();
        let b = ta.baseline().unwrap();
        assert_eq!(b.level, Level::CropFlip);
        assert_eq!(b.policy, Some(Policy::TrivialAugment));
        assert!(b.erasing);
        assert!(!ta.to_toml().contains("randaugment_ops"));
        let ra = load(&[
            "augment.baseline=randaugment",
            "augment.randaugment_ops=3",
            "augment.randaugment_magnitude=20",
        ])
        .unwrap();
        assert_eq!(
            ra.baseline().unwrap().policy,
            Some(Policy::RandAugment {
                ops: 3,
                magnitude: 20
            })
        );
        assert_eq!(RunConfig::from_toml(&ra.to_toml()).unwrap(), ra);
        let default = load(&["augment.baseline=randaugment"]).unwrap();
        assert_eq!(
            default.baseline().unwrap().policy,
            Some(Policy::RANDAUGMENT)
        );
        let err = load(&["augment.baseline=crop", "augment.randaugment_ops=3"]).unwrap_err();
        assert_eq!(err.key, "augment.randaugment_ops");
        assert!(err.problem.contains("has no randaugment"), "{err}");
        let err = load(&[
            "augment.baseline=randaugment",
            "augment.randaugment_magnitude=31",
        ])
        .unwrap_err();
        assert_eq!(err.key, "augment.randaugment_magnitude");
        assert!(err.problem.contains("bin 31"), "{err}");
        let err = load(&["augment.baseline=randaugment", "augment.randaugment_ops=0"]).unwrap_err();
        assert_eq!(err.key, "augment.randaugment_ops");
        let err = load(&["augment.baseline=crop+trivialaugment+trivialaugment"]).unwrap_err();
        assert_eq!(err.key, "augment.baseline");
        assert!(
            err.problem.contains("'trivialaugment' appears twice"),
            "{err}"
        );
    }

    #[test]
    fn overrides_and_files_refine_a_preset() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(&file, "epochs = 3\n[augment]\nmode = \"affine_color\"\n").unwrap();
        let sets = vec![
            "classifier.lr=0.01".to_string(),
            "data.per_class = 50".to_string(),
            "augment.baseline=crop+flip".to_string(),
        ];
        let config = RunConfig::load(Some("fmnist-small"), Some(&file), &sets).unwrap();
        assert_eq!(config.epochs, 3);
        assert_eq!(
            config.mode().unwrap(),
            AugmentMode::Learned(AugmenterKind::AffineColor)
        );
        assert_eq!(config.classifier.lr, 0.01);
        assert_eq!(config.data.per_class, Some(50));
        assert_eq!(config.baseline().unwrap(), Level::CropFlip.into());
        assert_eq!(config.classifier.arch, "small-cnn", "untouched keys stay");
    }

    #[test]
    fn model_every_is_stored_only_when_set() {
        let config = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
        assert_eq!(config.output.model_every, 0);
        // Run directories written before the key existed hold the same config.toml.
        assert!(!config.to_toml().contains("model_every"));
        let sets = vec!["output.model_every=5".to_string()];
        let every = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
        assert_eq!(every.output.model_every, 5);
        assert_eq!(RunConfig::from_toml(&every.to_toml()).unwrap(), every);
    }

    #[test]
    fn test_every_is_stored_only_when_not_one() {
        let config = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
        assert_eq!(config.output.test_every, 1);
        // Run directories written before the key existed hold the same config.toml.
        let text = config.to_toml();
        assert!(!text.contains("test_every"), "{text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap(), config);
        let sets = vec!["output.test_every=3".to_string()];
        let every = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
        assert_eq!(every.output.test_every, 3);
        let text = every.to_toml();
        assert!(text.contains("test_every = 3"), "{text}");
        assert_eq!(RunConfig::from_toml(&text).unwrap(), every);
    }

    #[test]
    fn test_every_picks_every_kth_epoch_and_the_last() {
        let output = |test_every| OutputConfig {
            test_every,
            ..OutputConfig::default()
        };
        let tested = |test_every, epochs| -> Vec<u64> {
            (0..epochs)
                .filter(|&e| output(test_every).tests_after(e, epochs))
                .collect()
        };
        assert_eq!(tested(1, 4), [0, 1, 2, 3]);
        assert_eq!(tested(2, 3), [1, 2]);
        assert_eq!(tested(3, 7), [2, 5, 6]);
        assert_eq!(tested(10, 4), [3]);
        let err = error_of(&["output.test_every=0"]);
        assert_eq!(err.key, "output.test_every");
        assert!(err.problem.contains("never test"), "{err}");
        assert_eq!(error_of(&["output.test_every=-2"]).key, "output.test_every");
    }

    #[test]
    fn val_ratio_zero_is_for_modes_without_validation_batches() {
        let load = |mode: &str| {
            let mut sets = vec![
                "data.val_ratio=0".to_string(),
                format!("augment.mode={mode}"),
            ];
            if mode == "served" {
                sets.push("augment.model=runs/a".to_string());
            }
            RunConfig::load(Some("fmnist-small"), None, &sets)
        };
        for mode in ["none", "handcrafted", "served"] {
            let config = load(mode).unwrap();
            assert_eq!(config.data.val_ratio, 0.0, "{mode}");
            assert_eq!(RunConfig::from_toml(&config.to_toml()).unwrap(), config);
        }
        for mode in ["small_affine", "small_affine:rotation", "affine_color"] {
            let err = load(mode).unwrap_err();
            assert_eq!(err.key, "data.val_ratio", "{mode}");
            assert!(
                err.problem.contains(&format!("mode '{mode}'"))
                    && err
                        .problem
                        .contains("need validation images for the bilevel step"),
                "{err}"
            );
        }
    }

    fn error_of(sets: &[&str]) -> ConfigError {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::load(Some("fmnist-small"), None, &sets).unwrap_err()
    }

    #[test]
    fn bad_values_are_named_by_key() {
        let err = error_of(&["classifier.lrr=0.1"]);
        assert_eq!(err.key, "classifier.lrr");
        assert!(err.problem.contains("unknown field `lrr`"), "{err}");
        let err = error_of(&["classifier.lr=-0.1"]);
        assert_eq!(err.key, "classifier.lr");
        assert!(err.to_string().contains("-0.1"), "{err}");
        for ratio in ["1", "1.5", "-0.2", "nan"] {
            let err = error_of(&[&format!("data.val_ratio={ratio}"), "augment.mode=none"]);
            assert_eq!(err.key, "data.val_ratio", "{ratio}");
            assert!(err.problem.contains("outside [0, 1)"), "{err}");
        }
        assert_eq!(error_of(&["epochs=\"many\""]).key, "epochs");
        assert_eq!(error_of(&["augment.mode=magic"]).key, "augment.mode");
        assert_eq!(error_of(&["classifier.arch=vgg"]).key, "classifier.arch");
        assert_eq!(error_of(&["device=tpu"]).key, "device");
        assert_eq!(
            error_of(&["output.model_every=-1"]).key,
            "output.model_every"
        );
        let err = error_of(&["output.model_every=2", "augment.mode=handcrafted"]);
        assert_eq!(err.key, "output.model_every");
        assert_eq!(error_of(&["nonsense"]).key, "nonsense");
        let err = RunConfig::load(Some("imagenet-huge"), None, &[]).unwrap_err();
        assert!(err.problem.contains("fmnist-small"), "{err}");
    }

    #[test]
    fn served_mode_needs_its_model_and_other_modes_refuse_one() {
        let err = error_of(&["augment.mode=served"]);
        assert_eq!(err.key, "augment.model");
        assert!(err.problem.contains("required in served mode"), "{err}");
        let err = error_of(&["augment.model=runs/a/model.safetensors"]);
        assert_eq!(err.key, "augment.model");
        assert!(
            err.problem.contains("runs/a/model.safetensors")
                && err.problem.contains("small_affine"),
            "{err}"
        );
        let err = error_of(&["augment.mode=none", "augment.model=runs/a"]);
        assert_eq!(err.key, "augment.model");
        let err = error_of(&[
            "augment.mode=served",
            "augment.model=runs/a",
            "output.model_every=2",
        ]);
        assert_eq!(err.key, "output.model_every");

        let sets = vec![
            "augment.mode=served".to_string(),
            "augment.model=runs/a/model.safetensors".to_string(),
        ];
        let served = RunConfig::load(Some("fmnist-small"), None, &sets).unwrap();
        assert_eq!(served.mode().unwrap(), AugmentMode::Served);
        assert_eq!(AugmentMode::Served.to_string(), "served");
        assert_eq!(
            served.served_model().unwrap(),
            Path::new("runs/a/model.safetensors")
        );
        let text = served.to_toml();
        assert!(
            text.contains("[augment]\nmode = \"served\"\nmodel = \"runs/a/model.safetensors\""),
            "{text}"
        );
        assert_eq!(RunConfig::from_toml(&text).unwrap(), served);
        // Stored configurations of the other modes are unchanged.
        let plain = RunConfig::load(Some("fmnist-small"), None, &[]).unwrap();
        assert!(!plain.to_toml().contains("model ="));
    }

    #[test]
    fn a_missing_served_model_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let sets = |model: &Path| {
            vec![
                "augment.mode=served".to_string(),
                format!("augment.model={}", model.display()),
            ]
        };
        let missing = dir.path().join("gone/model.safetensors");
        let config = RunConfig::load(Some("fmnist-small"), None, &sets(&missing)).unwrap();
        let err = RunConfig {
            data: DataConfig {
                source: DataSource::Synthetic,
                ..config.data.clone()
            },
            ..config
        }
        .check_paths()
        .unwrap_err();
        assert_eq!(err.key, "augment.model");
        assert!(
            err.problem.contains(&missing.display().to_string()),
            "{err}"
        );
        // A directory without a model names the file it lacks.
        let config = RunConfig::load(Some("fmnist-small"), None, &sets(dir.path())).unwrap();
        let config = RunConfig {
            data: DataConfig {
                source: DataSource::Synthetic,
                ..config.data.clone()
            },
            ..config
        };
        let err = config.check_paths().unwrap_err();
        let expected = dir.path().join("model.safetensors");
        assert!(
            err.problem.contains(&expected.display().to_string()),
            "{err}"
        );
        // Weights without their description.
        std::fs::write(&expected, b"weights").unwrap();
        let err = config.check_paths().unwrap_err();
        assert!(err.problem.contains("model.json"), "{err}");
    }

    #[test]
    fn a_missing_dataset_path_is_named() {
        let config = RunConfig::load(
            Some("fmnist-small"),
            None,
            &["data.path=/nonexistent/fashion".to_string()],
        )
        .unwrap();
        let err = config.check_paths().unwrap_err();
        assert_eq!(err.key, "data.path");
        assert!(err.problem.contains("/nonexistent/fashion"), "{err}");
    }
}
