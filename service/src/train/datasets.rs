//! The datasets of a run, as its configuration describes them: the training set (optionally a
//! class-balanced subset) split into training and validation parts, the test set when there is
//! one, and the standardization statistics.
use crate::data::{
    read_cifar10, read_cifar100, read_idx_dir, read_image_folder, DataError, FolderOptions,
    ImageSet, ImageShape, Normalization, Split, SyntheticSpec,
};

use super::config::{DataSource, RunConfig};

/// The images of a run.
pub struct RunData {
    /// The training split (augmented during training).
    pub train: ImageSet,
    /// The validation split (never augmented; drives the augmenter).
    pub val: ImageSet,
    /// The test set, when the source has one.
    pub test: Option<ImageSet>,
    /// Per-channel standardization.
    pub normalization: Normalization,
}

fn folder_options(config: &RunConfig) -> FolderOptions {
    FolderOptions {
        resize: config.data.resize.map(|[h, w]| (h, w)),
        patch: config.data.patch,
        channels: None,
    }
}

/// Reads, subsets and splits the configured data. Paths must have been checked.
pub fn load(config: &RunConfig) -> Result<RunData, DataError> {
    let data = &config.data;
    let missing = || DataError::Invalid {
        what: "data.path",
        reason: "no path given".into(),
    };
    let path = data.path.as_deref();
    let (full, test) = match data.source {
        DataSource::Idx => {
            let dir = path.ok_or_else(missing)?;
            let test = read_idx_dir(dir, Split::Test, None).ok();
            (read_idx_dir(dir, Split::Train, None)?, test)
        }
        DataSource::Cifar10 => {
            let dir = path.ok_or_else(missing)?;
            let test = read_cifar10(dir, Split::Test).ok();
            (read_cifar10(dir, Split::Train)?, test)
        }
        DataSource::Cifar100 => {
            let dir = path.ok_or_else(missing)?;
            let test = read_cifar100(dir, Split::Test).ok();
            (read_cifar100(dir, Split::Train)?, test)
        }
        DataSource::Folder => {
            let options = folder_options(config);
            let train = read_image_folder(path.ok_or_else(missing)?, &options)?;
            let test = match &data.test_path {
                Some(dir) => Some(read_image_folder(dir, &options)?),
                None => None,
            };
            (train, test)
        }
        DataSource::Synthetic => {
            let s = data.synthetic;
            let spec = |per_class, seed| SyntheticSpec {
                num_classes: s.classes,
                per_class,
                shape: ImageShape::new(s.channels, s.side, s.side),
                seed,
            };
            let test = spec((s.per_class / 2).max(1), config.seed.wrapping_add(1)).generate()?;
            (spec(s.per_class, config.seed).generate()?, Some(test))
        }
    };
    let full = match data.per_class {
        Some(n) => full.balanced_subset(n, config.seed)?,
        None => full,
    };
    let (train, val) = full.stratified_split(data.val_ratio, config.seed)?;
    let normalization = match data.normalization.as_str() {
        "cifar10" => Normalization::cifar10(),
        "cifar100" => Normalization::cifar100(),
        "mnist" => Normalization::mnist(),
        "fashion-mnist" => Normalization::fashion_mnist(),
        _ => train.channel_stats()?,
    };
    normalization.check(train.shape().channels)?;
    Ok(RunData {
        train,
        val,
        test,
        normalization,
    })
}
