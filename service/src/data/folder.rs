//! Reader for image-folder trees (`root/<class>/<image>`), such as the BACH histology set, with
//! optional non-overlapping square patches and resizing.
//!
//! Patches come first and resizing second, so a patch keeps the full resolution of its region.
//! (The reference code resizes whole images before cutting patches; with the configurations it
//! publishes, which do not resize, the two orders agree.)
use std::path::{Path, PathBuf};

use image::DynamicImage;

use super::dataset::{ImageSet, ImageShape};
use super::error::DataError;

/// File extensions read as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "tif", "tiff"];

/// How to turn the images of a folder tree into same-sized samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// Resize every image (or patch) to `(height, width)`, Lanczos filter, aspect ratio not kept.
    pub resize: Option<(u32, u32)>,
    /// Cut every image into non-overlapping square patches of this side, row by row from the
    /// top-left corner; borders left over are dropped (2048x1536 with 512 gives 12 patches).
    pub patch: Option<u32>,
    /// Force 1 (grey) or 3 (RGB) channels; by default 3 when any image has colour, else 1.
    pub channels: Option<usize>,
}

/// The images under `root`, one sub-folder per class, classes numbered in name order.
///
/// Hidden entries (names starting with '.') are skipped, and so are files whose extension is
/// not in [`IMAGE_EXTENSIONS`]. 16-bit images are scaled to 8 bits; alpha is dropped.
pub fn read_image_folder(root: &Path, options: &FolderOptions) -> Result<ImageSet, DataError> {
    check_options(options)?;
    let class_dirs = sorted_entries(root, |p| p.is_dir())?;
    if class_dirs.is_empty() {
        return Err(DataError::NoClasses {
            path: root.to_path_buf(),
        });
    }
    let mut samples = Vec::new();
    let mut any_colour = false;
    let mut size: Option<(u32, u32)> = None;
    for (label, class_dir) in class_dirs.iter().enumerate() {
        let files = sorted_entries(class_dir, |p| p.is_file() && is_image(p))?;
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                path: class_dir.clone(),
            });
        }
        for file in files {
            let (pieces, colour) = load(&file, options)?;
            any_colour |= colour;
            for piece in pieces {
                let found = (piece.height(), piece.width());
                let expected = *size.get_or_insert(found);
                if found != expected {
                    return Err(DataError::SizeMismatch {
                        path: file,
                        found_height: found.0 as usize,
                        found_width: found.1 as usize,
                        expected_height: expected.0 as usize,
                        expected_width: expected.1 as usize,
                    });
                }
                samples.push((label as i64, piece));
            }
        }
    }
    let channels = options.channels.unwrap_or(if any_colour { 3 } else { 1 });
    let (height, width) = size.unwrap_or((0, 0));
    let shape = ImageShape::new(channels, height as usize, width as usize);
    let mut pixels = Vec::with_capacity(samples.len() * shape.numel());
    let mut labels = Vec::with_capacity(samples.len());
    for (label, piece) in samples {
        append_chw(&piece, channels, &mut pixels);
        labels.push(label);
    }
    let names = class_dirs
        .iter()
        .map(|d| {
            d.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    ImageSet::new(pixels, labels, shape, class_dirs.len(), names)
}

fn check_options(options: &FolderOptions) -> Result<(), DataError> {
    if let Some(c) = options.channels.filter(|&c| c != 1 && c != 3) {
        return Err(DataError::invalid(
            "folder options",
            format!("{c} channels (1 or 3 allowed)"),
        ));
    }
    if options.patch == Some(0) {
        return Err(DataError::invalid("folder options", "patch size 0"));
    }
    if let Some((h, w)) = options.resize.filter(|&(h, w)| h == 0 || w == 0) {
        return Err(DataError::invalid(
            "folder options",
            format!("resize to {h}x{w}"),
        ));
    }
    Ok(())
}

/// The non-hidden entries of `dir` that pass `keep`, sorted by name.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && keep(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The 8-bit samples of one file (its patches, resized, or the image itself) and whether it
/// has colour.
fn load(path: &Path, options: &FolderOptions) -> Result<(Vec<DynamicImage>, bool), DataError> {
    let decoded = image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| DataError::Image {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let colour = decoded.color().has_color();
    // Converting first also brings 16-bit and float images to 8 bits (with rounding).
    let image = if colour {
        DynamicImage::ImageRgb8(decoded.to_rgb8())
    } else {
        DynamicImage::ImageLuma8(decoded.to_luma8())
    };
    let mut pieces = match options.patch {
        Some(side) => {
            if image.width() < side || image.height() < side {
                return Err(DataError::SmallerThanPatch {
                    path: path.to_path_buf(),
                    height: image.height() as usize,
                    width: image.width() as usize,
                    patch: side,
                });
            }
            patches(&image, side)
        }
        None => vec![image],
    };
    if let Some((height, width)) = options.resize {
        for piece in &mut pieces {
            *piece = piece.resize_exact(width, height, image::imageops::FilterType::Lanczos3);
        }
    }
    Ok((pieces, colour))
}

/// The non-overlapping `side`x`side` patches of `image`, row by row.
pub(crate) fn patches(image: &DynamicImage, side: u32) -> Vec<DynamicImage> {
    let (rows, cols) = (image.height() / side, image.width() / side);
    (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| image.crop_imm(c * side, r * side, side, side))
        .collect()
}

/// Appends `image` in CHW order with `channels` channels (grey is repeated, colour is reduced
/// to luma).
fn append_chw(image: &DynamicImage, channels: usize, out: &mut Vec<u8>) {
    if channels == 1 {
        out.extend_from_slice(image.to_luma8().as_raw());
        return;
    }
    let rgb = image.to_rgb8();
    let raw = rgb.as_raw();
    for c in 0..3 {
        out.extend(raw.iter().skip(c).step_by(3));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use image::{ImageBuffer, Luma, Rgb, RgbImage};

    use super::*;

    /// An RGB image whose pixel (x, y) is (x + 10y + seed, 2x, 3y).
    fn rgb(width: u32, height: u32, seed: u8) -> RgbImage {
        ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([(x + 10 * y) as u8 + seed, (2 * x) as u8, (3 * y) as u8])
        })
    }

    /// The CHW bytes of an RGB image, computed independently of the reader.
    fn chw(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        for c in 0..3 {
            for y in 0..image.height() {
                for x in 0..image.width() {
                    out.push(image.get_pixel(x, y)[c]);
                }
            }
        }
        out
    }

    fn class_dir(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn png_tiff_and_jpeg_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let (a, b, c) = (rgb(5, 4, 0), rgb(5, 4, 50), rgb(5, 4, 100));
        // Class folders are numbered by name, not by creation order.
        a.save(class_dir(root.path(), "b_second").join("x.PNG"))
            .unwrap();
        b.save(class_dir(root.path(), "a_first").join("y.tiff"))
            .unwrap();
        c.save(class_dir(root.path(), "a_first").join("z.jpg"))
            .unwrap();
        std::fs::write(root.path().join("a_first/notes.txt"), "ignored").unwrap();
        std::fs::create_dir(root.path().join(".hidden")).unwrap();

        let set = read_image_folder(root.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.class_names(), &["a_first", "b_second"]);
        assert_eq!(set.labels(), &[0, 0, 1]);
        assert_eq!(set.shape(), ImageShape::new(3, 4, 5));
        assert_eq!(set.image(0), &chw(&b)[..], "TIFF is lossless");
        assert_eq!(set.image(2), &chw(&a)[..], "PNG is lossless");
        // JPEG is lossy: compare loosely.
        let worst = set
            .image(1)
            .iter()
            .zip(chw(&c))
            .map(|(&x, y)| (i16::from(x) - i16::from(y)).abs())
            .max()
            .unwrap();
        assert!(worst < 40, "JPEG differs by {worst}");
    }

    #[test]
    fn sixteen_bit_grey_becomes_eight_bit_one_channel() {
        let root = tempfile::tempdir().unwrap();
        let values: Vec<u8> = (0..12).map(|i| i * 20).collect();
        let wide: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(4, 3, |x, y| {
            Luma([u16::from(values[(y * 4 + x) as usize]) * 257])
        });
        wide.save(class_dir(root.path(), "only").join("deep.png"))
            .unwrap();
        let set = read_image_folder(root.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.shape(), ImageShape::new(1, 3, 4));
        assert_eq!(set.pixels(), &values[..]);
        // Forcing three channels repeats the grey plane.
        let options = FolderOptions {
            channels: Some(3),
            ..Default::default()
        };
        let set = read_image_folder(root.path(), &options).unwrap();
        assert_eq!(
            set.pixels(),
            &[values.clone(), values.clone(), values].concat()[..]
        );
    }

    #[test]
    fn patch_extraction_takes_the_right_blocks() {
        // 6 wide, 4 high, patch 2: 3 columns x 2 rows of patches.
        let image = DynamicImage::ImageRgb8(rgb(6, 4, 0));
        let pieces = patches(&image, 2);
        assert_eq!(pieces.len(), 6);
        for (i, piece) in pieces.iter().enumerate() {
            let (r, c) = (i as u32 / 3, i as u32 % 3);
            let expected = image.crop_imm(2 * c, 2 * r, 2, 2).to_rgb8();
            assert_eq!(piece.to_rgb8(), expected, "patch {i}");
            // Spot-check against the generating formula: top-left pixel of the block.
            let x0 = 2 * c;
            let y0 = 2 * r;
            assert_eq!(piece.to_rgb8().get_pixel(0, 0)[0], (x0 + 10 * y0) as u8);
        }
        // Leftover borders are dropped: 22x17 with patch 5 gives 4x3 patches.
        assert_eq!(
            patches(&DynamicImage::ImageRgb8(rgb(22, 17, 0)), 5).len(),
            12
        );
    }

    #[test]
    fn patches_through_the_reader_then_resize() {
        let root = tempfile::tempdir().unwrap();
        // 8x8 made of four flat 4x4 blocks; patch 4 then resize to 2x2 keeps each flat colour.
        let colours = [[10u8, 20, 30], [40, 50, 60], [70, 80, 90], [100, 110, 120]];
        let image: RgbImage =
            ImageBuffer::from_fn(8, 8, |x, y| Rgb(colours[(y / 4 * 2 + x / 4) as usize]));
        image
            .save(class_dir(root.path(), "k").join("big.png"))
            .unwrap();
        let options = FolderOptions {
            patch: Some(4),
            resize: Some((2, 2)),
            channels: None,
        };
        let set = read_image_folder(root.path(), &options).unwrap();
        assert_eq!(set.len(), 4);
        assert_eq!(set.shape(), ImageShape::new(3, 2, 2));
        for (i, colour) in colours.iter().enumerate() {
            let expected: Vec<u8> = colour.iter().flat_map(|&v| [v; 4]).collect();
            assert_eq!(set.image(i), &expected[..], "patch {i}");
        }
        assert_eq!(set.labels(), &[0; 4]);
    }

    #[test]
    fn colour_can_be_forced_to_grey() {
        let root = tempfile::tempdir().unwrap();
        let image: RgbImage = ImageBuffer::from_pixel(2, 2, Rgb([200, 200, 200]));
        image
            .save(class_dir(root.path(), "g").join("a.png"))
            .unwrap();
        let options = FolderOptions {
            channels: Some(1),
            ..Default::default()
        };
        let set = read_image_folder(root.path(), &options).unwrap();
        assert_eq!(set.pixels(), &[200; 4]);
        let bad = FolderOptions {
            channels: Some(2),
            ..Default::default()
        };
        let err = read_image_folder(root.path(), &bad).unwrap_err();
        assert!(
            err.to_string().contains("2 channels (1 or 3 allowed)"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_image_is_named_with_the_decoder_message() {
        let root = tempfile::tempdir().unwrap();
        rgb(3, 3, 0)
            .save(class_dir(root.path(), "c").join("good.png"))
            .unwrap();
        std::fs::write(root.path().join("c/text.png"), "this is not a png").unwrap();
        let err = read_image_folder(root.path(), &FolderOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::Image { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("text.png: cannot decode image") && msg.to_lowercase().contains("png"),
            "{msg}"
        );
    }

    #[test]
    fn mixed_sizes_need_a_resize_or_patches() {
        let root = tempfile::tempdir().unwrap();
        rgb(5, 4, 0)
            .save(class_dir(root.path(), "c").join("a.png"))
            .unwrap();
        rgb(6, 4, 0)
            .save(class_dir(root.path(), "c").join("b.png"))
            .unwrap();
        let err = read_image_folder(root.path(), &FolderOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::SizeMismatch {
                    found_height: 4,
                    found_width: 6,
                    expected_height: 4,
                    expected_width: 5,
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("b.png: image is 4x6") && msg.contains("are 4x5"),
            "{msg}"
        );
        let resized = FolderOptions {
            resize: Some((3, 3)),
            ..Default::default()
        };
        assert_eq!(
            read_image_folder(root.path(), &resized).unwrap().shape(),
            ImageShape::new(3, 3, 3)
        );
        let patched = FolderOptions {
            patch: Some(2),
            ..Default::default()
        };
        // 5x4 -> 2x2 patches, 6x4 -> 3x2 patches.
        assert_eq!(
            read_image_folder(root.path(), &patched).unwrap().len(),
            4 + 6
        );
    }

    #[test]
    fn an_empty_class_folder_is_named() {
        let root = tempfile::tempdir().unwrap();
        rgb(3, 3, 0)
            .save(class_dir(root.path(), "full").join("a.png"))
            .unwrap();
        let empty = class_dir(root.path(), "hollow");
        std::fs::write(empty.join("readme.md"), "no images here").unwrap();
        let err = read_image_folder(root.path(), &FolderOptions::default()).unwrap_err();
        assert!(
            matches!(&err, DataError::EmptyClass { path } if path == &empty),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("hollow: class folder holds no image"),
            "{err}"
        );
    }

    #[test]
    fn a_root_without_class_folders_is_named() {
        let root = tempfile::tempdir().unwrap();
        rgb(3, 3, 0).save(root.path().join("stray.png")).unwrap();
        let err = read_image_folder(root.path(), &FolderOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::NoClasses { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("{}: no class folders", root.path().display())),
            "{err}"
        );
        let missing = root.path().join("nope");
        let err = read_image_folder(&missing, &FolderOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope: not found"), "{err}");
    }

    #[test]
    fn an_image_smaller_than_the_patch_is_named() {
        let root = tempfile::tempdir().unwrap();
        rgb(8, 8, 0)
            .save(class_dir(root.path(), "c").join("big.png"))
            .unwrap();
        rgb(8, 3, 0)
            .save(class_dir(root.path(), "c").join("thin.png"))
            .unwrap();
        let options = FolderOptions {
            patch: Some(4),
            ..Default::default()
        };
        let err = read_image_folder(root.path(), &options).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::SmallerThanPatch {
                    height: 3,
                    width: 8,
                    patch: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("thin.png: image is 3x8 (height x width), smaller than the 4x4 patch"),
            "{err}"
        );
    }
}
