//! The datasets of a run, as its configuration describes them: the training set (optionally a
//! class-balanced subset) split into training and validation parts (no split with
//! `data.val_ratio = 0`), the test set when there is one, and the standardization statistics.
use crate::data::{
    read_cifar10, read_cifar100, read_idx_dir, read_image_folder, DataError, FolderOptions,
    ImageSet, ImageShape, Normalization, Split, SyntheticSpec,
};

use super::config::{DataSource, RunConfig};

/// The images of a run.
pub struct RunData {
    /// The training split (augmented during training).
    pub train: ImageSet,
    /// The validation split (never augmented; drives the augmenter); `None` with
    /// `data.val_ratio = 0`, when every training image is trained on.
    pub val: Option<ImageSet>,
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
    let (train, val) = if data.val_ratio == 0.0 {
        (full, None)
    } else {
        let (train, val) = full.stratified_split(data.val_ratio, config.seed)?;
        (train, Some(val))
    };
    // Computed statistics come from the images trained on, never from validation ones.
    let normalization = match data.normalization.fixed() {
        Some(fixed) => fixed,
        None => train.channel_stats()?,
    };
    normalization.check(train.shape().channels)?;
    Ok(RunData {
        train,
        val,
        test,
        normalization,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The `synthetic-smoke` run on 3 classes of 10 images, 8 × 8.
    fn synthetic(val_ratio: f64, mode: &str) -> RunConfig {
        let sets = [
            "seed=3".to_string(),
            format!("data.val_ratio={val_ratio}"),
            "data.synthetic={ classes = 3, per_class = 10, channels = 1, side = 8 }".to_string(),
            format!("augment.mode={mode}"),
        ];
        RunConfig::load(Some("synthetic-smoke"), None, &sets).unwrap()
    }

    #[test]
    fn zero_val_ratio_trains_on_every_image_and_normalizes_with_them() {
        let data = load(&synthetic(0.0, "none")).unwrap();
        assert!(data.val.is_none());
        assert_eq!(data.train.class_counts(), vec![10, 10, 10]);
        assert_eq!(data.test.as_ref().unwrap().len(), 15);
        assert_eq!(data.normalization, data.train.channel_stats().unwrap());

        // With a split, the same images are shared out, and only the training part counts
        // towards the statistics.
        let split = load(&synthetic(0.2, "small_affine")).unwrap();
        let val = split.val.unwrap();
        assert_eq!(val.class_counts(), vec![2, 2, 2]);
        assert_eq!(split.train.class_counts(), vec![8, 8, 8]);
        assert_eq!(split.normalization, split.train.channel_stats().unwrap());
        assert_ne!(split.normalization, data.normalization);
    }
}
