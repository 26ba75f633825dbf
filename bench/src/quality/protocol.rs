//! The quality protocol's shared settings: the budgets, the knobs a flag can override, the
//! length of a run (a fixed number of epochs, or a fixed number of SGD steps turned into epochs
//! per arm from its training images), and the configuration every run of a budget shares, as
//! `key = value` pairs that are written to one TOML file (`protocol.toml` in the runs
//! directory) and given to every `augmentd train` with `--config`.
//!
//! A file rather than `--preset fmnist-small`: the GPU budget trains on the full set, and a
//! preset's `data.per_class` cannot be unset by `--set`. The file also pins every key, so a
//! change to a preset cannot silently change the benchmark.
use std::fmt;
use std::path::PathBuf;

use augmentd::data::DEFAULT_VAL_RATIO;
use serde::Serialize;

/// The reference's epochs (the CIFAR-10 configuration of the method).
pub const REFERENCE_EPOCHS: u64 = 201;
/// The reference's learning-rate milestones, scaled to the protocol's epochs.
pub const REFERENCE_MILESTONES: [u64; 3] = [60, 120, 160];
/// The factor applied at each milestone.
pub const MILESTONE_FACTOR: f64 = 0.2;
/// The milestones of a step-budget run, as fractions of its epochs.
pub const STEP_BUDGET_MILESTONES: [f64; 3] = [0.6, 0.8, 0.9];
/// Classes of Fashion-MNIST.
pub const CLASSES: usize = 10;
/// Training images per class of Fashion-MNIST (used when `per_class` is not set).
pub const FULL_PER_CLASS: usize = 6000;
/// The learned augmenter kinds.
pub const LEARNED_KINDS: [&str; 2] = ["small_affine", "affine_color"];
/// Where Debian's `dataset-fashion-mnist` puts the IDX files.
pub const DEFAULT_DATA: &str = "/usr/share/datasets/fashion-mnist";

/// How much compute the protocol is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Budget {
    /// The regime where augmentation matters: 20 and 50 images per class, `small-cnn`, a fixed
    /// budget of SGD steps at batch 32, on the CPU.
    #[serde(rename = "small")]
    #[value(name = "small")]
    Small,
    /// Issue 6's protocol: 200 images per class, `small-cnn`, 60 epochs at batch 128, on the
    /// CPU (augmentation barely matters there).
    #[serde(rename = "cpu-2000")]
    #[value(name = "cpu-2000", alias = "cpu")]
    Cpu2000,
    /// The full training set, `resnet18-cifar`, on CUDA.
    #[serde(rename = "gpu")]
    #[value(name = "gpu")]
    Gpu,
}

impl Budget {
    /// The name (`small`, `cpu-2000`, `gpu`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Cpu2000 => "cpu-2000",
            Self::Gpu => "gpu",
        }
    }

    /// The seeds of this budget unless `--seeds` says otherwise: five for `small`, whose runs
    /// are short and whose subsets vary a lot from seed to seed; three for the others.
    pub fn default_seeds(self) -> &'static [u64] {
        match self {
            Self::Small => &[0, 1, 2, 3, 4],
            Self::Cpu2000 | Self::Gpu => &[0, 1, 2],
        }
    }

    /// The protocol of this budget before any flag changes it.
    pub fn protocol(self) -> Protocol {
        let data = PathBuf::from(DEFAULT_DATA);
        match self {
            Self::Small => Protocol {
                budget: self,
                length: Length::Steps(SMALL_STEPS),
                sizes: SMALL_SIZES.iter().map(|&n| Some(n)).collect(),
                batch_size: 32,
                lr: 0.05,
                milestones: Milestones::Fractions,
                arch: "small-cnn".into(),
                device: "cpu".into(),
                data,
                test_every: None,
                // One learned kind keeps the whole budget within two hours on two cores;
                // affine_color is the one with colour operations.
                kinds: vec!["affine_color".into()],
            },
            Self::Cpu2000 => Protocol {
                budget: self,
                length: Length::Epochs(60),
                sizes: vec![Some(200)],
                batch_size: 128,
                lr: 0.1,
                milestones: Milestones::Reference,
                arch: "small-cnn".into(),
                device: "cpu".into(),
                data,
                test_every: None,
                kinds: LEARNED_KINDS.map(String::from).to_vec(),
            },
            // resnet18-cifar takes any channel count and sides down to 8: 1×28×28 works.
            Self::Gpu => Protocol {
                budget: self,
                length: Length::Epochs(60),
                sizes: vec![None],
                batch_size: 128,
                lr: 0.1,
                milestones: Milestones::Reference,
                arch: "resnet18-cifar".into(),
                device: "cuda".into(),
                data,
                test_every: None,
                kinds: LEARNED_KINDS.map(String::from).to_vec(),
            },
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `small` budget's subset sizes (images per class).
pub const SMALL_SIZES: [usize; 2] = [20, 50];
/// The `small` budget's SGD steps per run.
pub const SMALL_STEPS: u64 = 2000;

/// How long every run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// The same number of epochs for every arm.
    Epochs(u64),
    /// About this many SGD steps for every arm: each arm gets the epochs that reach it on its
    /// own training images (rounded up to whole epochs).
    Steps(u64),
}

/// Where the ×0.2 learning-rate milestones fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Milestones {
    /// The reference's 60/120/160 of 201 epochs, scaled.
    Reference,
    /// At [`STEP_BUDGET_MILESTONES`] of the epochs (60, 80 and 90 %).
    Fractions,
}

/// The knobs of the protocol that flags override.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protocol {
    /// The budget the defaults came from.
    pub budget: Budget,
    /// How long every run trains.
    pub length: Length,
    /// Class-balanced subset sizes, images per class (`None`: the full training set); the
    /// arm table is expanded over them.
    pub sizes: Vec<Option<usize>>,
    /// `batch_size`.
    pub batch_size: usize,
    /// `classifier.lr` (before the milestones).
    pub lr: f64,
    /// Where the milestones fall.
    pub milestones: Milestones,
    /// `classifier.arch`.
    pub arch: String,
    /// `device`.
    pub device: String,
    /// The directory of the IDX files.
    pub data: PathBuf,
    /// `output.test_every` (`None`: the run's epochs, so the test set is evaluated once, at
    /// the end).
    pub test_every: Option<u64>,
    /// The learned augmenter kinds of the bilevel and served arms (the `{K}` of a template).
    pub kinds: Vec<String>,
}

/// One configuration key and its value as a TOML literal (`0.1`, `"idx"`, `[1, 2]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The dotted key (`classifier.lr`).
    pub key: String,
    /// The value, a TOML literal.
    pub value: String,
}

impl Setting {
    /// A setting whose value is already a TOML literal.
    pub fn literal(key: &str, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A setting with a string value (quoted here).
    pub fn string(key: &str, value: &str) -> Self {
        Self::literal(key, toml_string(value))
    }

    /// `key=value`, as `augmentd train --set` takes it.
    pub fn assignment(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A float as a TOML literal that stays a float (`0.0`, not `0`).
pub fn toml_float(value: f64) -> String {
    let text = format!("{value}");
    if text.contains(['.', 'e', 'E']) || !value.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

/// The name of a subset size in arm names: `20`, or `all` for the full training set.
pub fn size_label(per_class: Option<usize>) -> String {
    per_class.map_or_else(|| "all".into(), |n| n.to_string())
}

impl Protocol {
    /// SGD steps of one epoch on `training_images` images, as augmentd cuts them (the last
    /// batch is dropped only when it would hold a single image).
    pub fn steps_per_epoch(&self, training_images: usize) -> u64 {
        let batch = self.batch_size.max(1);
        let steps = if training_images % batch == 1 {
            training_images / batch
        } else {
            training_images.div_ceil(batch)
        };
        steps.max(1) as u64
    }

    /// The epochs of a run on `training_images` images.
    pub fn epochs_for(&self, training_images: usize) -> u64 {
        match self.length {
            Length::Epochs(epochs) => epochs,
            Length::Steps(steps) => steps.div_ceil(self.steps_per_epoch(training_images)).max(1),
        }
    }

    /// The learning-rate milestones of a run of `epochs` epochs (rounded, duplicates dropped):
    /// 18, 36, 48 for the reference's at 60 epochs.
    pub fn milestones_for(&self, epochs: u64) -> Vec<u64> {
        let mut scaled: Vec<u64> = match self.milestones {
            Milestones::Reference => REFERENCE_MILESTONES
                .iter()
                .map(|&m| ((m * epochs) as f64 / REFERENCE_EPOCHS as f64).round() as u64)
                .collect(),
            Milestones::Fractions => STEP_BUDGET_MILESTONES
                .iter()
                .map(|&f| (f * epochs as f64).round() as u64)
                .collect(),
        };
        scaled.dedup();
        scaled
    }

    /// The `output.test_every` of a run of `epochs` epochs.
    pub fn test_every_for(&self, epochs: u64) -> u64 {
        self.test_every.unwrap_or(epochs)
    }

    /// The settings that depend on a run's training images: its epochs, its schedule and when
    /// it evaluates the test set.
    pub fn length_settings(&self, training_images: usize) -> Vec<Setting> {
        let epochs = self.epochs_for(training_images);
        let milestones: Vec<String> = self
            .milestones_for(epochs)
            .iter()
            .map(u64::to_string)
            .collect();
        vec![
            Setting::literal("epochs", epochs.to_string()),
            Setting::literal(
                "classifier.schedule",
                format!(
                    "{{ kind = \"step\", milestones = [{}], factor = {} }}",
                    milestones.join(", "),
                    toml_float(MILESTONE_FACTOR)
                ),
            ),
            Setting::literal("output.test_every", self.test_every_for(epochs).to_string()),
        ]
    }

    /// The settings every run of the protocol shares (not the seed, the subset size, the
    /// length or the arm's own).
    pub fn shared_settings(&self) -> Vec<Setting> {
        vec![
            Setting::string("device", &self.device),
            Setting::literal("batch_size", self.batch_size.to_string()),
            Setting::string("data.source", "idx"),
            Setting::string("data.path", &self.data.display().to_string()),
            Setting::string("data.normalization", "fashion-mnist"),
            Setting::string("classifier.arch", &self.arch),
            Setting::literal("classifier.lr", toml_float(self.lr)),
            Setting::literal("classifier.momentum", "0.9"),
            Setting::literal("classifier.weight_decay", "5e-4"),
            Setting::literal("augment.lr", "0.2"),
            Setting::literal("augment.momentum", "0.9"),
            Setting::literal("augment.weight_decay", "0.01"),
            Setting::literal("output.grid_images", "0"),
        ]
    }
}

/// Training images of a run on `per_class` images per class (`None`: Fashion-MNIST's full
/// training set) holding out `val_ratio` of each class for validation, as augmentd splits them:
/// per class `round(ratio · count)`, at least one when the ratio is positive and the class has
/// two images, never the class's last one.
pub fn training_images(per_class: Option<usize>, val_ratio: f64) -> usize {
    let count = per_class.unwrap_or(FULL_PER_CLASS);
    let mut held_out = (val_ratio * count as f64).round() as usize;
    if val_ratio > 0.0 && count >= 2 {
        held_out = held_out.clamp(1, count - 1);
    }
    CLASSES * (count - held_out.min(count))
}

/// The value of `key` in the last of `layers` that sets it (later layers win, as `--set`
/// after `--config` does).
pub fn lookup<'a>(layers: &[&'a [Setting]], key: &str) -> Option<&'a str> {
    layers
        .iter()
        .rev()
        .find_map(|layer| layer.iter().rev().find(|s| s.key == key))
        .map(|s| s.value.as_str())
}

/// Training images of a run with these settings (`None` when a value cannot be read).
pub fn training_images_of(layers: &[&[Setting]]) -> Option<usize> {
    let per_class = match lookup(layers, "data.per_class") {
        Some(value) => Some(value.trim().parse::<usize>().ok()?),
        None => None,
    };
    let val_ratio = match lookup(layers, "data.val_ratio") {
        Some(value) => value.trim().parse::<f64>().ok()?,
        None => DEFAULT_VAL_RATIO,
    };
    Some(training_images(per_class, val_ratio))
}

/// The TOML document of `settings` (dotted keys, one per line) under a comment.
pub fn settings_toml(settings: &[Setting], comment: &str) -> String {
    let mut text: String = comment.lines().map(|l| format!("# {l}\n")).collect();
    for s in settings {
        text.push_str(&format!("{} = {}\n", s.key, s.value));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_milestones_scale_to_the_epochs() {
        let cpu = Budget::Cpu2000.protocol();
        assert_eq!(cpu.milestones_for(60), [18, 36, 48]);
        assert_eq!(cpu.milestones_for(2), [1, 2]);
        let small = Budget::Small.protocol();
        assert_eq!(small.milestones_for(100), [60, 80, 90]);
        assert_eq!(small.milestones_for(286), [172, 229, 257]);
    }

    #[test]
    fn a_step_budget_gives_each_arm_the_epochs_that_reach_it() {
        let mut small = Budget::Small.protocol();
        small.length = Length::Steps(2000);
        // 200 images at batch 32: 7 steps an epoch (the last one of 8 images).
        assert_eq!(small.steps_per_epoch(200), 7);
        assert_eq!(small.epochs_for(200), 286);
        // 160 images: exactly 5 steps.
        assert_eq!(small.epochs_for(160), 400);
        // 33 images would leave a batch of one, which augmentd drops.
        assert_eq!(small.steps_per_epoch(33), 1);
        assert_eq!(small.steps_per_epoch(500), 16);
        let settings = small.length_settings(500);
        let text: Vec<String> = settings.iter().map(Setting::assignment).collect();
        assert_eq!(
            text,
            [
                "epochs=125",
                "classifier.schedule={ kind = \"step\", milestones = [75, 100, 113], factor = 0.2 }",
                "output.test_every=125",
            ]
        );
        let cpu = Budget::Cpu2000.protocol();
        assert_eq!(
            cpu.epochs_for(1600),
            60,
            "an epoch budget ignores the images"
        );
    }

    #[test]
    fn training_images_follow_the_split() {
        assert_eq!(training_images(Some(200), 0.2), 1600);
        assert_eq!(training_images(Some(200), 0.0), 2000);
        assert_eq!(training_images(None, 0.2), 48_000);
        assert_eq!(training_images(None, 0.0), 60_000);
        assert_eq!(
            training_images(Some(2), 0.2),
            10,
            "one image per class held out"
        );
        let shared = Budget::Cpu2000.protocol().shared_settings();
        let size = [Setting::literal("data.per_class", "200")];
        let arm = [Setting::literal("data.val_ratio", "0.0")];
        assert_eq!(training_images_of(&[&shared, &size, &arm]), Some(2000));
        let user = [Setting::literal("data.per_class", "20")];
        assert_eq!(
            training_images_of(&[&shared, &size, &arm, &user]),
            Some(200)
        );
        assert_eq!(
            training_images_of(&[&shared, &size]),
            Some(1600),
            "augmentd's default ratio"
        );
        let bad = [Setting::literal("data.per_class", "\"many\"")];
        assert_eq!(training_images_of(&[&shared, &bad]), None);
    }

    #[test]
    fn shared_settings_render_as_toml() {
        let small = Budget::Small.protocol();
        let text = settings_toml(&small.shared_settings(), "generated");
        assert!(text.starts_with("# generated\n"), "{text}");
        assert!(text.contains("batch_size = 32\n"), "{text}");
        assert!(text.contains("classifier.lr = 0.05\n"), "{text}");
        assert!(text.contains("data.path = \"/usr/share/datasets/fashion-mnist\"\n"));
        assert!(
            !text.contains("per_class") && !text.contains("epochs"),
            "per arm: {text}"
        );
        let gpu = Budget::Gpu.protocol();
        assert_eq!(gpu.sizes, [None]);
        assert!(gpu
            .shared_settings()
            .contains(&Setting::string("classifier.arch", "resnet18-cifar")));
        assert_eq!(size_label(None), "all");
        assert_eq!(size_label(Some(20)), "20");
    }

    #[test]
    fn strings_and_floats_are_valid_literals() {
        assert_eq!(toml_string(r#"a "b"\c"#), r#""a \"b\"\\c""#);
        assert_eq!(toml_float(0.0), "0.0");
        assert_eq!(toml_float(0.2), "0.2");
        assert_eq!(Setting::string("k", "x").assignment(), "k=\"x\"");
    }
}
