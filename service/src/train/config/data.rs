//! The `[data]` section: where the images come from, how many, the validation split, and the
//! normalization the classifier sees them in.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::names::by_name;
use crate::data::{Normalization, DEFAULT_VAL_RATIO};

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

/// The per-channel standardization of a run, as the configuration names it: a published
/// dataset's statistics, or statistics computed from the training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormalizationSpec {
    /// Mean and std of the images trained on (never of the validation ones).
    #[default]
    Computed,
    /// CIFAR-10's published statistics.
    Cifar10,
    /// CIFAR-100's published statistics.
    Cifar100,
    /// MNIST's published statistics.
    Mnist,
    /// Fashion-MNIST's published statistics.
    FashionMnist,
}

impl NormalizationSpec {
    /// Every spelling, in the order error messages list them.
    pub const ALL: [Self; 5] = [
        Self::Computed,
        Self::Cifar10,
        Self::Cifar100,
        Self::Mnist,
        Self::FashionMnist,
    ];

    /// The name a configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Computed => "computed",
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
        }
    }

    /// The published statistics it names; `None` for `computed`, which the training split
    /// decides.
    pub fn fixed(self) -> Option<Normalization> {
        match self {
            Self::Computed => None,
            Self::Cifar10 => Some(Normalization::cifar10()),
            Self::Cifar100 => Some(Normalization::cifar100()),
            Self::Mnist => Some(Normalization::mnist()),
            Self::FashionMnist => Some(Normalization::fashion_mnist()),
        }
    }
}

impl fmt::Display for NormalizationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NormalizationSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|spec| spec.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!("unknown '{text}': expected {}", names.join(", "))
            })
    }
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
    #[serde(default, with = "by_name")]
    pub normalization: NormalizationSpec,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn normalization_names_round_trip_and_computed_has_no_fixed_statistics() {
        for spec in NormalizationSpec::ALL {
            assert_eq!(spec.to_string().parse::<NormalizationSpec>(), Ok(spec));
            assert_eq!(spec.fixed().is_none(), spec == NormalizationSpec::Computed);
        }
        let err = "imagenet".parse::<NormalizationSpec>().unwrap_err();
        assert!(
            err.contains("'imagenet'") && err.contains("fashion-mnist"),
            "{err}"
        );
    }
}
