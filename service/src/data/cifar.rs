//! Readers for the binary versions of CIFAR-10 and CIFAR-100 (the `*-binary.tar.gz` downloads).
//!
//! A record is the label byte(s) followed by 3072 pixel bytes: 1024 red, 1024 green, 1024 blue,
//! each plane row-major, which is already CHW order.
use std::path::{Path, PathBuf};

use super::dataset::{label_in_range, ImageSet, ImageShape, Split};
use super::error::DataError;

/// CIFAR's image shape: 3 channels of 32x32.
pub const CIFAR_SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

const PIXELS: usize = 3 * 32 * 32;

/// CIFAR-10's class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// CIFAR-100's fine class names, by label.
pub const CIFAR100_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// The two binary layouts.
#[derive(Debug, Clone, Copy)]
enum Variant {
    /// One label byte.
    Cifar10,
    /// A coarse label byte, then the fine label byte that is used.
    Cifar100,
}

impl Variant {
    fn label_bytes(self) -> usize {
        match self {
            Self::Cifar10 => 1,
            Self::Cifar100 => 2,
        }
    }

    fn class_names(self) -> &'static [&'static str] {
        match self {
            Self::Cifar10 => &CIFAR10_CLASSES,
            Self::Cifar100 => &CIFAR100_CLASSES,
        }
    }

    /// The folder the official archive extracts to, tried when `dir` lacks the files.
    fn archive_folder(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-bin",
            Self::Cifar100 => "cifar-100-binary",
        }
    }

    fn files(self, split: Split) -> Vec<String> {
        match (self, split) {
            (Self::Cifar10, Split::Train) => {
                (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
            }
            (Self::Cifar10, Split::Test) => vec!["test_batch.bin".into()],
            (Self::Cifar100, Split::Train) => vec!["train.bin".into()],
            (Self::Cifar100, Split::Test) => vec!["test.bin".into()],
        }
    }
}

/// CIFAR-10's `split` from `dir`: `data_batch_1.bin` … `data_batch_5.bin` or `test_batch.bin`,
/// found in `dir` itself or in the `cifar-10-batches-bin` folder inside it.
pub fn read_cifar10(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    read_dir(dir, split, Variant::Cifar10)
}

/// CIFAR-100's `split` with fine labels from `dir`: `train.bin` or `test.bin`, found in `dir`
/// itself or in the `cifar-100-binary` folder inside it.
pub fn read_cifar100(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    read_dir(dir, split, Variant::Cifar100)
}

/// One CIFAR-10 batch file.
pub fn read_cifar10_file(path: &Path) -> Result<ImageSet, DataError> {
    read_files(&[path.to_path_buf()], Variant::Cifar10)
}

/// One CIFAR-100 file (fine labels).
pub fn read_cifar100_file(path: &Path) -> Result<ImageSet, DataError> {
    read_files(&[path.to_path_buf()], Variant::Cifar100)
}

fn read_dir(dir: &Path, split: Split, variant: Variant) -> Result<ImageSet, DataError> {
    let names = variant.files(split);
    let nested = dir.join(variant.archive_folder());
    let base = if !dir.join(&names[0]).exists() && nested.join(&names[0]).exists() {
        nested
    } else {
        dir.to_path_buf()
    };
    let paths: Vec<PathBuf> = names.iter().map(|n| base.join(n)).collect();
    read_files(&paths, variant)
}

fn read_files(paths: &[PathBuf], variant: Variant) -> Result<ImageSet, DataError> {
    let record = variant.label_bytes() + PIXELS;
    let class_names = variant.class_names();
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        if bytes.is_empty() {
            return Err(DataError::Truncated {
                path: path.clone(),
                part: "record",
                expected: record as u64,
                found: 0,
            });
        }
        if bytes.len() % record != 0 {
            return Err(DataError::RecordSize {
                path: path.clone(),
                size: bytes.len() as u64,
                record_size: record,
            });
        }
        pixels.reserve(bytes.len() / record * PIXELS);
        for (index, chunk) in bytes.chunks_exact(record).enumerate() {
            // The fine label is the last label byte in both layouts.
            let label = i64::from(chunk[variant.label_bytes() - 1]);
            if !label_in_range(label, class_names.len()) {
                return Err(DataError::LabelOutOfRange {
                    path: path.clone(),
                    record: index,
                    label,
                    num_classes: class_names.len(),
                });
            }
            labels.push(label);
            pixels.extend_from_slice(&chunk[variant.label_bytes()..]);
        }
    }
    let names = class_names.iter().map(|s| s.to_string()).collect();
    ImageSet::new(pixels, labels, CIFAR_SHAPE, class_names.len(), names)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Records whose pixels are a function of (record, position), so any mix-up shows.
    fn records(labels: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut file = Vec::new();
        let mut pixels = Vec::new();
        for (r, label) in labels.iter().enumerate() {
            file.extend_from_slice(label);
            let image: Vec<u8> = (0..PIXELS)
                .map(|p| ((p * 7 + r * 31) % 256) as u8)
                .collect();
            file.extend_from_slice(&image);
            pixels.extend_from_slice(&image);
        }
        (file, pixels)
    }

    #[test]
    fn cifar10_directory_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected_pixels = Vec::new();
        let mut expected_labels = Vec::new();
        for i in 1..=5u8 {
            let (file, pixels) = records(&[&[i], &[9 - i]]);
            std::fs::write(dir.path().join(format!("data_batch_{i}.bin")), file).unwrap();
            expected_pixels.extend(pixels);
            expected_labels.extend([i64::from(i), i64::from(9 - i)]);
        }
        let (test_file, test_pixels) = records(&[&[3]]);
        std::fs::write(dir.path().join("test_batch.bin"), test_file).unwrap();

        let train = read_cifar10(dir.path(), Split::Train).unwrap();
        assert_eq!(train.len(), 10);
        assert_eq!(train.shape(), CIFAR_SHAPE);
        assert_eq!(train.pixels(), &expected_pixels[..]);
        assert_eq!(train.labels(), &expected_labels[..]);
        assert_eq!(train.class_names()[9], "truck");

        let test = read_cifar10(dir.path(), Split::Test).unwrap();
        assert_eq!(
            (test.pixels(), test.labels()),
            (&test_pixels[..], &[3i64][..])
        );
    }

    #[test]
    fn cifar100_uses_fine_labels_and_finds_the_archive_folder() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("cifar-100-binary");
        std::fs::create_dir(&nested).unwrap();
        // (coarse, fine) pairs; coarse values deliberately differ from fine ones.
        let (file, pixels) = records(&[&[19, 99], &[4, 0], &[0, 42]]);
        std::fs::write(nested.join("train.bin"), &file).unwrap();
        let set = read_cifar100(dir.path(), Split::Train).unwrap();
        assert_eq!(set.labels(), &[99, 0, 42]);
        assert_eq!(set.pixels(), &pixels[..]);
        assert_eq!(set.num_classes(), 100);
        assert_eq!(set.class_names()[99], "worm");
        let single = read_cifar100_file(&nested.join("train.bin")).unwrap();
        assert_eq!(single, set);
    }

    #[test]
    fn a_missing_batch_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = records(&[&[1]]);
        std::fs::write(dir.path().join("data_batch_1.bin"), file).unwrap();
        let err = read_cifar10(dir.path(), Split::Train).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("data_batch_2.bin"), "{err}");
    }

    #[test]
    fn a_truncated_file_reports_its_size_and_the_record_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test_batch.bin");
        let (file, _) = records(&[&[1], &[2]]);
        std::fs::write(&path, &file[..file.len() - 10]).unwrap();
        let err = read_cifar10_file(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::RecordSize {
                    size: 6136,
                    record_size: 3073,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("test_batch.bin") && msg.contains("6136") && msg.contains("3073"),
            "{msg}"
        );

        std::fs::write(&path, b"").unwrap();
        let err = read_cifar10_file(&path).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { found: 0, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("test_batch.bin: truncated record: expected 3073 bytes, found 0"),
            "{err}"
        );
    }

    #[test]
    fn an_out_of_range_label_names_file_record_and_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data_batch_1.bin");
        let (file, _) = records(&[&[1], &[2], &[10]]);
        std::fs::write(&path, file).unwrap();
        let err = read_cifar10_file(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::LabelOutOfRange {
                    record: 2,
                    label: 10,
                    num_classes: 10,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("data_batch_1.bin") && msg.contains("record 2 has label 10"),
            "{msg}"
        );

        let path = dir.path().join("test.bin");
        let (file, _) = records(&[&[0, 100]]);
        std::fs::write(&path, file).unwrap();
        let err = read_cifar100_file(&path).unwrap_err();
        assert!(
            err.to_string()
                .contains("test.bin: record 0 has label 100, outside 0..100"),
            "{err}"
        );
    }
}
