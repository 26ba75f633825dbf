//! Reader for IDX files, the format of MNIST and Fashion-MNIST, plain or gzipped.
//!
//! Gzip is recognised by its magic bytes rather than the file name, since the downloads are
//! often decompressed without being renamed (or the other way round).
use std::io::Read;
use std::path::{Path, PathBuf};

use super::dataset::{label_in_range, numbered_class_names, ImageSet, ImageShape, Split};
use super::error::DataError;

/// Number of classes assumed when none is given (MNIST and Fashion-MNIST have 10).
pub const IDX_DEFAULT_CLASSES: usize = 10;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const UNSIGNED_BYTE: u8 = 0x08;

/// The images of `images` with the labels of `labels`, as a 1-channel set of `num_classes`
/// classes (default [`IDX_DEFAULT_CLASSES`]).
pub fn read_idx(
    images: &Path,
    labels: &Path,
    num_classes: Option<usize>,
) -> Result<ImageSet, DataError> {
    let num_classes = num_classes.unwrap_or(IDX_DEFAULT_CLASSES);
    let (dims, pixels) = read_tensor(images, IMAGES_MAGIC)?;
    let (label_dims, label_bytes) = read_tensor(labels, LABELS_MAGIC)?;
    let (count, height, width) = (dims[0], dims[1], dims[2]);
    if count != label_dims[0] {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count: count,
            labels: labels.to_path_buf(),
            label_count: label_dims[0],
        });
    }
    let mut label_values = Vec::with_capacity(count);
    for (record, &byte) in label_bytes.iter().enumerate() {
        let label = i64::from(byte);
        if !label_in_range(label, num_classes) {
            return Err(DataError::LabelOutOfRange {
                path: labels.to_path_buf(),
                record,
                label,
                num_classes,
            });
        }
        label_values.push(label);
    }
    ImageSet::new(
        pixels,
        label_values,
        ImageShape::new(1, height, width),
        num_classes,
        numbered_class_names(num_classes),
    )
}

/// The `split` of an MNIST-style folder: `train-images-idx3-ubyte` with
/// `train-labels-idx1-ubyte`, or `t10k-*` for the test split, each plain or with `.gz`.
pub fn read_idx_dir(
    dir: &Path,
    split: Split,
    num_classes: Option<usize>,
) -> Result<ImageSet, DataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    read_idx(&images, &labels, num_classes)
}

/// `dir/name`, or `dir/name.gz` when only that exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(DataError::NotFound {
            path: dir.join(format!("{name}(.gz)")),
        })
    }
}

/// The dimensions and the data of an IDX file of unsigned bytes with the given magic number.
fn read_tensor(path: &Path, magic: u32) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let bytes = read_maybe_gzipped(path)?;
    // The magic number is checked before the rest of the header, so that a file of another
    // kind is reported as such rather than as a short header.
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: 4,
            found: bytes.len() as u64,
        });
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let found = word(0);
    if found != magic {
        // Same layout and rank but another element type: say so rather than "wrong magic".
        if found & 0xffff_00ff == magic & 0xffff_00ff {
            return Err(DataError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: bytes[2],
            });
        }
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: magic,
            found,
        });
    }
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    debug_assert_eq!(bytes[2], UNSIGNED_BYTE);
    let dims: Vec<usize> = (0..ndims).map(|d| word(4 + 4 * d) as usize).collect();
    // Saturating: a corrupt header with huge sizes must read as truncation, not overflow.
    let expected = dims.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64));
    let found = (bytes.len() - header) as u64;
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            part: "data",
            expected,
            found,
        });
    }
    // Trailing bytes past the promised data are ignored, as other IDX readers do.
    let data = bytes[header..header + expected as usize].to_vec();
    Ok((dims, data))
}

/// The file's bytes, decompressed when they start with the gzip magic bytes.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;

    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Three 2x3 images with distinct pixels, and their labels.
    fn sample() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..18).map(|i| i * 13).collect();
        let labels = vec![7, 0, 9];
        (
            idx(IMAGES_MAGIC, &[3, 2, 3], &pixels),
            idx(LABELS_MAGIC, &[3], &labels),
            pixels,
            labels,
        )
    }

    fn check(set: &ImageSet, pixels: &[u8], labels: &[u8]) {
        assert_eq!(set.shape(), ImageShape::new(1, 2, 3));
        assert_eq!(set.pixels(), pixels);
        let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        assert_eq!(set.labels(), &labels[..]);
        assert_eq!(set.num_classes(), 10);
    }

    #[test]
    fn plain_and_gzipped_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels, pixels, label_bytes) = sample();
        // Plain train files; gzipped test files, one of them without the .gz suffix.
        std::fs::write(dir.path().join("train-images-idx3-ubyte"), &images).unwrap();
        std::fs::write(dir.path().join("train-labels-idx1-ubyte"), &labels).unwrap();
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), gzip(&labels)).unwrap();
        check(
            &read_idx_dir(dir.path(), Split::Train, None).unwrap(),
            &pixels,
            &label_bytes,
        );
        check(
            &read_idx_dir(dir.path(), Split::Test, None).unwrap(),
            &pixels,
            &label_bytes,
        );
    }

    fn write_pair(images: &[u8], labels: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ip = dir.path().join("imgs-idx3-ubyte");
        let lp = dir.path().join("lbls-idx1-ubyte");
        std::fs::write(&ip, images).unwrap();
        std::fs::write(&lp, labels).unwrap();
        (dir, ip, lp)
    }

    #[test]
    fn a_wrong_magic_number_is_shown_in_hex() {
        let (images, labels, ..) = sample();
        // Labels given where images are expected.
        let (_dir, ip, lp) = write_pair(&labels, &images);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadMagic {
                    expected: 0x803,
                    found: 0x801,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("imgs-idx3-ubyte")
                && msg.contains("expected 0x00000803, found 0x00000801"),
            "{msg}"
        );
    }

    #[test]
    fn a_float_idx_file_is_an_unsupported_dtype() {
        let (_, labels, ..) = sample();
        let (_dir, ip, lp) = write_pair(&idx(0x0000_0d03, &[1, 1, 1], &[0; 4]), &labels);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(
            matches!(err, DataError::UnsupportedDtype { dtype: 0x0d, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("imgs-idx3-ubyte: unsupported IDX element type 0x0d"),
            "{err}"
        );
    }

    #[test]
    fn truncated_data_reports_expected_and_found_bytes() {
        let (images, labels, ..) = sample();
        let (_dir, ip, lp) = write_pair(&images[..images.len() - 5], &labels);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 18,
                    found: 13,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("imgs-idx3-ubyte: truncated data: expected 18 bytes, found 13"),
            "{err}"
        );
        // A header cut short is truncation too.
        let (_dir, ip, lp) = write_pair(&images[..6], &labels);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    found: 6,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("imgs-idx3-ubyte: truncated header: expected 16 bytes, found 6"),
            "{err}"
        );
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let (images, ..) = sample();
        let (_dir, ip, lp) = write_pair(&images, &idx(LABELS_MAGIC, &[2], &[1, 2]));
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::CountMismatch {
                    image_count: 3,
                    label_count: 2,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("imgs-idx3-ubyte holds 3 images")
                && msg.contains("lbls-idx1-ubyte holds 2 labels"),
            "{msg}"
        );
    }

    #[test]
    fn corrupt_gzip_is_named() {
        let (images, labels, ..) = sample();
        let mut bad = gzip(&images);
        let n = bad.len();
        bad[12..n - 8].iter_mut().for_each(|b| *b = 0xff);
        let (_dir, ip, lp) = write_pair(&bad, &labels);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("imgs-idx3-ubyte: corrupt gzip data"),
            "{err}"
        );
        // A stream cut in half is corrupt too.
        let (_dir, ip, lp) = write_pair(&images, &gzip(&labels)[..15]);
        let err = read_idx(&ip, &lp, None).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("lbls-idx1-ubyte"), "{err}");
    }

    #[test]
    fn labels_beyond_the_class_count_are_rejected() {
        let (images, labels, pixels, label_bytes) = sample();
        let (_dir, ip, lp) = write_pair(&images, &labels);
        let err = read_idx(&ip, &lp, Some(8)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::LabelOutOfRange {
                    record: 2,
                    label: 9,
                    num_classes: 8,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("lbls-idx1-ubyte: record 2 has label 9, outside 0..8"),
            "{err}"
        );
        let wide = read_idx(&ip, &lp, Some(12)).unwrap();
        assert_eq!((wide.num_classes(), wide.pixels()), (12, &pixels[..]));
        assert_eq!(wide.labels()[0], i64::from(label_bytes[0]));
    }

    #[test]
    fn a_missing_pair_names_the_expected_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_idx_dir(dir.path(), Split::Test, None).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("t10k-images-idx3-ubyte(.gz): not found"),
            "{err}"
        );
    }
}
