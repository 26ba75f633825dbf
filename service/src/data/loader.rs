//! The epoch loader: batches are prepared on a named background thread and handed over through a
//! bounded channel, so the trainer finds the next batch ready instead of waiting for it.
//!
//! Every random choice comes from the run's seed: the epoch's order from (seed, epoch) and each
//! batch's augmentation from (seed, epoch, batch index), so runs are reproducible and every epoch
//! is reshuffled (the reference code base keeps one fixed order; augmentd deliberately does not).
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::baseline::CROP_PADDING;
use super::batch::{build, Augment, Batch};
use super::dataset::ImageSet;
use super::error::DataError;
use super::handcrafted::Baseline;
use super::normalization::Normalization;

/// Batches prepared ahead of the trainer unless told otherwise.
pub const DEFAULT_PREFETCH: usize = 2;
/// The name of the loader thread, as shown by debuggers and `top -H`.
pub const LOADER_THREAD_NAME: &str = "augmentd-loader";

/// Separates the random streams derived from one seed.
const SHUFFLE_STREAM: u64 = 0x5348_5546;
const AUGMENT_STREAM: u64 = 0x4155_474d;

/// How an epoch is cut into batches and what each batch goes through.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch (the last batch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// Visit the images in a fresh seeded order every epoch (else in set order).
    pub shuffle: bool,
    /// Drop the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Seed of the order and of the augmentation.
    pub seed: u64,
    /// Batches prepared ahead (0: each batch is prepared while the trainer waits for it).
    pub prefetch: usize,
    /// Hand-crafted augmentation applied to every batch.
    pub baseline: Baseline,
    /// Add colour jitter after the baseline.
    pub color_jitter: bool,
    /// Zero padding of the baseline's random crop, each side.
    pub crop_padding: usize,
    /// Standardization statistics, one entry per image channel.
    pub normalization: Normalization,
}

impl LoaderConfig {
    /// Shuffled batches of `batch_size` without augmentation, seed 0, the last batch kept,
    /// [`DEFAULT_PREFETCH`] batches ahead.
    pub fn new(batch_size: usize, normalization: Normalization) -> Self {
        Self {
            batch_size,
            shuffle: true,
            drop_last: false,
            seed: 0,
            prefetch: DEFAULT_PREFETCH,
            baseline: Baseline::default(),
            color_jitter: false,
            crop_padding: CROP_PADDING,
            normalization,
        }
    }
}

/// Starts epochs of batches over an image set.
#[derive(Debug)]
pub struct BatchLoader;

impl BatchLoader {
    /// The batches of epoch `epoch` of `set`, prepared on a background thread named
    /// [`LOADER_THREAD_NAME`]. Dropping the iterator early stops the thread.
    pub fn epoch(
        set: Arc<ImageSet>,
        config: &LoaderConfig,
        epoch: u64,
    ) -> Result<EpochBatches, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::invalid("loader config", "batch size 0"));
        }
        config.normalization.check(set.shape().channels)?;
        let expected = Self::batches_per_epoch(set.len(), config);
        let order = epoch_order(set.len(), config, epoch);
        let (sender, receiver) = std::sync::mpsc::sync_channel(config.prefetch);
        let config = config.clone();
        let handle = std::thread::Builder::new()
            .name(LOADER_THREAD_NAME.into())
            .spawn(move || produce(&set, &config, epoch, &order, expected, &sender))
            .map_err(|source| DataError::Thread { source })?;
        Ok(EpochBatches {
            receiver: Some(receiver),
            handle: Some(handle),
            delivered: 0,
            expected,
            done: false,
        })
    }

    /// Number of batches in an epoch of `len` images under `config`.
    pub fn batches_per_epoch(len: usize, config: &LoaderConfig) -> usize {
        match config.batch_size {
            0 => 0,
            size if config.drop_last => len / size,
            size => len.div_ceil(size),
        }
    }
}

/// The order in which epoch `epoch` visits the images.
fn epoch_order(len: usize, config: &LoaderConfig, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if config.shuffle {
        let seed = mix(mix(config.seed, SHUFFLE_STREAM), epoch);
        order.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    order
}

/// The loader thread's body: build each batch and send it, until done, an error, or the
/// receiver is gone.
fn produce(
    set: &ImageSet,
    config: &LoaderConfig,
    epoch: u64,
    order: &[usize],
    expected: usize,
    sender: &SyncSender<Result<Batch, DataError>>,
) {
    let augment = Augment {
        baseline: config.baseline,
        color_jitter: config.color_jitter,
        crop_padding: config.crop_padding,
    };
    for (index, indices) in order.chunks(config.batch_size).take(expected).enumerate() {
        let seed = mix(mix(mix(config.seed, AUGMENT_STREAM), epoch), index as u64);
        let mut rng = StdRng::seed_from_u64(seed);
        let batch = build(set, indices, &config.normalization, augment, Some(&mut rng));
        let failed = batch.is_err();
        if sender.send(batch).is_err() || failed {
            return;
        }
    }
}

/// SplitMix64 of `a` combined with `b`: nearby inputs give unrelated seeds.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The batches of one epoch, in order; an error ends the epoch.
#[derive(Debug)]
pub struct EpochBatches {
    receiver: Option<Receiver<Result<Batch, DataError>>>,
    handle: Option<JoinHandle<()>>,
    delivered: usize,
    expected: usize,
    done: bool,
}

impl EpochBatches {
    /// Number of batches this epoch has in all.
    pub fn total(&self) -> usize {
        self.expected
    }
}

impl Iterator for EpochBatches {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.delivered == self.expected {
            return None;
        }
        let received = self.receiver.as_ref().map(Receiver::recv);
        match received {
            Some(Ok(item)) => {
                self.delivered += 1;
                self.done = item.is_err();
                Some(item)
            }
            // The thread ended without sending everything: it panicked.
            _ => {
                self.done = true;
                Some(Err(DataError::LoaderStopped {
                    delivered: self.delivered,
                    expected: self.expected,
                }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.done {
            0
        } else {
            self.expected - self.delivered
        };
        (0, Some(left))
    }
}

impl Drop for EpochBatches {
    fn drop(&mut self) {
        // Closing the channel first makes a thread blocked in `send` return at once; then the
        // join waits at most for the batch being built.
        drop(self.receiver.take());
        if let Some(handle) = self.handle.take() {
            // A panic of the thread was already reported as LoaderStopped, if it mattered.
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::data::dataset::{numbered_class_names, ImageShape};

    /// `n` 1x1x2 grey images whose two pixels spell the image index (low byte, high byte);
    /// label = index mod 3.
    fn indexed_set(n: usize) -> Arc<ImageSet> {
        let pixels = (0..n)
            .flat_map(|i| [(i % 256) as u8, (i / 256) as u8])
            .collect();
        let labels = (0..n).map(|i| (i % 3) as i64).collect();
        Arc::new(
            ImageSet::new(
                pixels,
                labels,
                ImageShape::new(1, 1, 2),
                3,
                numbered_class_names(3),
            )
            .unwrap(),
        )
    }

    fn config(batch_size: usize) -> LoaderConfig {
        LoaderConfig::new(batch_size, Normalization::identity(1))
    }

    /// The image indices of every batch of an epoch, read back from the pixels.
    fn epoch_indices(set: &Arc<ImageSet>, config: &LoaderConfig, epoch: u64) -> Vec<Vec<usize>> {
        BatchLoader::epoch(set.clone(), config, epoch)
            .unwrap()
            .map(|batch| {
                let batch = batch.unwrap();
                let values = Vec::<f32>::try_from(&batch.images.flatten(0, -1)).unwrap();
                let labels = Vec::<i64>::try_from(&batch.labels).unwrap();
                let indices: Vec<usize> = values
                    .chunks(2)
                    .map(|p| {
                        (p[0] * 255.0).round() as usize + 256 * (p[1] * 255.0).round() as usize
                    })
                    .collect();
                for (&i, &l) in indices.iter().zip(&labels) {
                    assert_eq!(l, (i % 3) as i64, "label travels with its image");
                }
                indices
            })
            .collect()
    }

    #[test]
    fn every_image_once_per_epoch_with_the_right_batch_sizes() {
        let set = indexed_set(300);
        let cfg = config(64);
        assert_eq!(BatchLoader::batches_per_epoch(300, &cfg), 5);
        let batches = epoch_indices(&set, &cfg, 0);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [64, 64, 64, 64, 44]);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());

        let dropping = LoaderConfig {
            drop_last: true,
            ..cfg
        };
        assert_eq!(BatchLoader::batches_per_epoch(300, &dropping), 4);
        let batches = epoch_indices(&set, &dropping, 0);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [64; 4]);
        let distinct: HashSet<usize> = batches.concat().into_iter().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn epochs_reshuffle_reproducibly() {
        let set = indexed_set(100);
        let cfg = LoaderConfig {
            seed: 42,
            ..config(100)
        };
        let first = epoch_indices(&set, &cfg, 0).concat();
        assert_eq!(
            first,
            epoch_indices(&set, &cfg, 0).concat(),
            "same seed and epoch"
        );
        assert_ne!(first, epoch_indices(&set, &cfg, 1).concat(), "next epoch");
        let other_seed = LoaderConfig {
            seed: 43,
            ..cfg.clone()
        };
        assert_ne!(
            first,
            epoch_indices(&set, &other_seed, 0).concat(),
            "other seed"
        );
        let ordered = LoaderConfig {
            shuffle: false,
            ..cfg
        };
        assert_eq!(
            epoch_indices(&set, &ordered, 3).concat(),
            (0..100).collect::<Vec<_>>()
        );
    }

    #[test]
    fn batches_are_standardized() {
        // One pixel of 51 (0.2) with mean 0.1 and std 0.5 is 0.2 after standardization.
        let set = Arc::new(
            ImageSet::new(
                vec![51],
                vec![0],
                ImageShape::new(1, 1, 1),
                1,
                numbered_class_names(1),
            )
            .unwrap(),
        );
        let cfg = LoaderConfig::new(
            4,
            Normalization {
                mean: vec![0.1],
                std: vec![0.5],
            },
        );
        let batch = BatchLoader::epoch(set, &cfg, 0)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let value = batch.images.double_value(&[0, 0, 0, 0]);
        assert!((value - 0.2).abs() < 1e-6, "{value}");
        assert_eq!(batch.images.size(), vec![1, 1, 1, 1]);
    }

    #[test]
    fn augmented_epochs_are_reproducible() {
        let set = Arc::new(
            crate::data::synthetic::SyntheticSpec {
                num_classes: 2,
                per_class: 8,
                shape: ImageShape::new(3, 8, 8),
                seed: 1,
            }
            .generate()
            .unwrap(),
        );
        let cfg = LoaderConfig {
            baseline: crate::data::Level::CropAffineFlip.into(),
            color_jitter: true,
            ..LoaderConfig::new(8, Normalization::identity(3))
        };
        let run = |epoch| -> Vec<f32> {
            BatchLoader::epoch(set.clone(), &cfg, epoch)
                .unwrap()
                .flat_map(|b| Vec::<f32>::try_from(&b.unwrap().images.flatten(0, -1)).unwrap())
                .collect()
        };
        let a = run(0);
        assert_eq!(a.len(), 16 * 3 * 64);
        assert_eq!(a, run(0));
        assert_ne!(a, run(1));
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let set = indexed_set(1000);
        let cfg = LoaderConfig {
            prefetch: 1,
            ..config(1)
        };
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut batches = BatchLoader::epoch(set, &cfg, 0).unwrap();
            assert_eq!(batches.total(), 1000);
            assert!(batches.next().unwrap().is_ok());
            // Give the loader time to fill the channel and block on the next send.
            std::thread::sleep(Duration::from_millis(50));
            drop(batches);
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(20))
            .expect("dropping the epoch iterator did not return");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_loader_thread_is_named() {
        let cfg = LoaderConfig {
            prefetch: 1,
            ..config(1)
        };
        // Many batches and a small channel keep the thread alive while we look for it.
        let batches = BatchLoader::epoch(indexed_set(1000), &cfg, 0).unwrap();
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .collect();
        assert!(names.iter().any(|n| n == LOADER_THREAD_NAME), "{names:?}");
        drop(batches);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let set = indexed_set(4);
        let err = BatchLoader::epoch(set.clone(), &config(0), 0).unwrap_err();
        assert!(err.to_string().contains("batch size 0"), "{err}");
        let rgb = LoaderConfig::new(2, Normalization::cifar10());
        let err = BatchLoader::epoch(set, &rgb, 0).unwrap_err();
        assert!(
            err.to_string().contains("for images of 1 channels"),
            "{err}"
        );
    }

    #[test]
    fn seeds_are_mixed() {
        assert_ne!(mix(0, 1), mix(1, 0));
        assert_ne!(mix(0, 0), mix(0, 1));
    }
}
