//! The quality protocol's shared settings (issue 6): the two budgets, the knobs a flag can
//! override, and the configuration every run of a budget shares, as `key = value` pairs that
//! are written to one TOML file (`protocol.toml` in the runs directory) and given to every
//! `augmentd train` with `--config`.
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
/// Classes of Fashion-MNIST.
pub const CLASSES: usize = 10;
/// Training images per class of Fashion-MNIST (used when `per_class` is not set).
pub const FULL_PER_CLASS: usize = 6000;
/// Where Debian's `dataset-fashion-mnist` puts the IDX files.
pub const DEFAULT_DATA: &str = "/usr/share/datasets/fashion-mnist";
/// Batch size of every run.
pub const BATCH_SIZE: usize = 128;

/// How much compute the protocol is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// 200 images per class, `small-cnn`, on the CPU.
    Cpu,
    /// The full training set, `resnet18-cifar`, on CUDA.
    Gpu,
}

impl Budget {
    /// The lowercase name (`cpu`, `gpu`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        }
    }

    /// The protocol of this budget before any flag changes it.
    pub fn protocol(self) -> Protocol {
        let (per_class, arch, device) = match self {
            Self::Cpu => (Some(200), "small-cnn", "cpu"),
            // resnet18-cifar takes any channel count and sides down to 8: 1×28×28 works.
            Self::Gpu => (None, "resnet18-cifar", "cuda"),
        };
        Protocol {
            budget: self,
            epochs: 60,
            per_class,
            arch: arch.into(),
            device: device.into(),
            data: PathBuf::from(DEFAULT_DATA),
            test_every: None,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The knobs of the protocol that flags override.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Protocol {
    /// The budget the defaults came from.
    pub budget: Budget,
    /// Epochs of every run.
    pub epochs: u64,
    /// Class-balanced subset size (`None`: the full training set).
    pub per_class: Option<usize>,
    /// `classifier.arch`.
    pub arch: String,
    /// `device`.
    pub device: String,
    /// The directory of the IDX files.
    pub data: PathBuf,
    /// `output.test_every` (`None`: the epochs, so the test set is evaluated once, at the end).
    pub test_every: Option<u64>,
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

impl Protocol {
    /// The reference's milestones scaled to `epochs` (rounded, duplicates dropped):
    /// 18, 36, 48 for 60 epochs.
    pub fn milestones(&self) -> Vec<u64> {
        let mut scaled: Vec<u64> = REFERENCE_MILESTONES
            .iter()
            .map(|&m| ((m * self.epochs) as f64 / REFERENCE_EPOCHS as f64).round() as u64)
            .collect();
        scaled.dedup();
        scaled
    }

    /// The `output.test_every` in effect.
    pub fn test_every(&self) -> u64 {
        self.test_every.unwrap_or(self.epochs)
    }

    /// The settings every run of the protocol shares (not the seed, not the arm's).
    pub fn shared_settings(&self) -> Vec<Setting> {
        let milestones: Vec<String> = self.milestones().iter().map(u64::to_string).collect();
        let mut settings = vec![
            Setting::string("device", &self.device),
            Setting::literal("epochs", self.epochs.to_string()),
            Setting::literal("batch_size", BATCH_SIZE.to_string()),
            Setting::string("data.source", "idx"),
            Setting::string("data.path", &self.data.display().to_string()),
            Setting::string("data.normalization", "fashion-mnist"),
        ];
        if let Some(n) = self.per_class {
            settings.push(Setting::literal("data.per_class", n.to_string()));
        }
        settings.extend([
            Setting::string("classifier.arch", &self.arch),
            Setting::literal("classifier.lr", "0.1"),
            Setting::literal("classifier.momentum", "0.9"),
            Setting::literal("classifier.weight_decay", "5e-4"),
            Setting::literal(
                "classifier.schedule",
                format!(
                    "{{ kind = \"step\", milestones = [{}], factor = {} }}",
                    milestones.join(", "),
                    toml_float(MILESTONE_FACTOR)
                ),
            ),
            Setting::literal("augment.lr", "0.2"),
            Setting::literal("augment.momentum", "0.9"),
            Setting::literal("augment.weight_decay", "0.01"),
            Setting::literal("output.grid_images", "0"),
            Setting::literal("output.test_every", self.test_every().to_string()),
        ]);
        settings
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
        let cpu = Budget::Cpu.protocol();
        assert_eq!(cpu.milestones(), [18, 36, 48]);
        let short = Protocol { epochs: 2, ..cpu };
        assert_eq!(short.milestones(), [1, 2]);
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
        let shared = Budget::Cpu.protocol().shared_settings();
        let arm = [Setting::literal("data.val_ratio", "0.0")];
        assert_eq!(training_images_of(&[&shared, &arm]), Some(2000));
        let user = [Setting::literal("data.per_class", "20")];
        assert_eq!(training_images_of(&[&shared, &arm, &user]), Some(200));
        assert_eq!(
            training_images_of(&[&shared]),
            Some(1600),
            "augmentd's default ratio"
        );
        let bad = [Setting::literal("data.per_class", "\"many\"")];
        assert_eq!(training_images_of(&[&shared, &bad]), None);
    }

    #[test]
    fn shared_settings_render_as_toml() {
        let cpu = Budget::Cpu.protocol();
        let text = settings_toml(&cpu.shared_settings(), "generated");
        assert!(text.starts_with("# generated\n"), "{text}");
        assert!(text.contains("data.per_class = 200\n"), "{text}");
        assert!(text.contains("data.path = \"/usr/share/datasets/fashion-mnist\"\n"));
        assert!(text.contains(
            "classifier.schedule = { kind = \"step\", milestones = [18, 36, 48], factor = 0.2 }"
        ));
        assert!(text.contains("output.test_every = 60\n"), "{text}");
        let gpu = Budget::Gpu.protocol().shared_settings();
        assert!(gpu.iter().all(|s| s.key != "data.per_class"));
        assert!(gpu.contains(&Setting::string("classifier.arch", "resnet18-cifar")));
    }

    #[test]
    fn strings_and_floats_are_valid_literals() {
        assert_eq!(toml_string(r#"a "b"\c"#), r#""a \"b\"\\c""#);
        assert_eq!(toml_float(0.0), "0.0");
        assert_eq!(toml_float(0.2), "0.2");
        assert_eq!(Setting::string("k", "x").assignment(), "k=\"x\"");
    }
}
