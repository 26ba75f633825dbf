//! Pictures of a training run, written as PNG files: a grid of original | augmented image pairs
//! (what the augmenter does to a fixed set of training images, as the method's reference code
//! saves every epoch) and a line plot of train / validation / test accuracy per epoch.
//!
//! Everything here is pure Rust: the plot is drawn by `plotters` into an in-memory RGB buffer
//! and its text is rendered by `ab_glyph` from a font bundled in the binary, so neither
//! fontconfig nor system fonts are needed at build or run time. Files are written atomically
//! (temporary file in the same directory, then rename), so a reader polling the output folder
//! never sees half a PNG.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;
use tch::{Device, Kind, Tensor};

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans.LICENSE`), the plot's only font.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family name the font is registered under: plotters' default for captions, axis labels
/// and legends, so every text element finds it without naming a font.
const FONT_FAMILY: &str = "sans-serif";

/// Tiles are upscaled until they are at least this many pixels high, so a 28×28 or 32×32 image
/// is big enough to look at.
const MIN_TILE_HEIGHT: u64 = 64;
/// White space between tiles, in pixels.
const GAP: u64 = 2;
/// White space around the grid, in pixels.
const BORDER: u64 = 2;

/// Size of the accuracy plot, in pixels.
const PLOT_SIZE: (u32, u32) = (800, 500);

/// Why a picture could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// Writing the PNG (or its temporary file) failed.
    #[error("{path}: cannot write: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Drawing the plot or encoding the PNG failed.
    #[error("plot: {0}")]
    Plot(String),
    /// The image tensors cannot be laid out as a grid (shapes, channels, empty batch).
    #[error("bad images: {0}")]
    BadImages(String),
    /// The accuracy points cannot be plotted (none, or a value that is not a percentage).
    #[error("bad accuracy points: {0}")]
    BadPoints(String),
    /// libtorch refused to move or convert the image tensors.
    #[error(transparent)]
    Tensor(#[from] crate::torch_error::TorchError),
}

impl From<tch::TchError> for PictureError {
    fn from(err: tch::TchError) -> Self {
        PictureError::Tensor(err.into())
    }
}

/// Writes a PNG grid of image pairs: one column per image, the original on top and its
/// augmented version below.
///
/// `originals` and `augmented` are `[N, C, H, W]` tensors of the same shape, C = 1 (drawn as
/// grey) or 3 (RGB), values in [0, 1] (values outside are clamped, NaN is drawn black), on any
/// device. Tiles are upscaled by the smallest integer factor that makes them at least 64 px high
/// (nearest neighbour, so pixels stay visible), separated by 2-px white gaps inside a 2-px white
/// border. The file is written atomically. Returns the PNG's (width, height).
pub fn save_pairs_grid(
    path: &Path,
    originals: &Tensor,
    augmented: &Tensor,
) -> Result<(u32, u32), PictureError> {
    let shape = check_pair_shapes(originals, augmented)?;
    let [n, c, h, w] = shape;
    let factor = upscale_factor(h);
    // u128 cannot overflow for any libtorch shape; the PNG size limit is checked below.
    let factor_wide = u128::from(factor);
    let (tile_w, tile_h) = (u128::from(w) * factor_wide, u128::from(h) * factor_wide);
    let (border, gap, count) = (u128::from(BORDER), u128::from(GAP), u128::from(n));
    let width = 2 * border + count * tile_w + (count - 1) * gap;
    let height = 2 * border + 2 * tile_h + gap;
    let too_large = || {
        PictureError::BadImages(format!(
            "a grid of {n} images of shape {:?} would be {width}×{height} px, too large to write",
            &shape[1..]
        ))
    };
    let width_px = u32::try_from(width).map_err(|_| too_large())?;
    let height_px = u32::try_from(height).map_err(|_| too_large())?;
    let raw_len = usize::try_from(width * height * 3).map_err(|_| too_large())?;

    let rows = [to_cpu_floats(originals)?, to_cpu_floats(augmented)?];
    let mut raw = vec![255u8; raw_len];
    // Every size below is at most the PNG's width or height, which fit in u32, hence in usize.
    let (n, c, h, w) = (n as usize, c as usize, h as usize, w as usize);
    let (factor, tile_w, tile_h) = (factor as usize, tile_w as usize, tile_h as usize);
    let (width, border, gap) = (width_px as usize, BORDER as usize, GAP as usize);
    let plane = h * w;
    for (row, values) in rows.iter().enumerate() {
        let top = border + row * (tile_h + gap);
        for img in 0..n {
            let left = border + img * (tile_w + gap);
            let base = img * c * plane;
            for y in 0..tile_h {
                let src_y = y / factor;
                let line = (top + y) * width;
                for x in 0..tile_w {
                    let src = base + src_y * w + x / factor;
                    let out = (line + left + x) * 3;
                    for k in 0..3 {
                        // Greyscale has one plane; RGB reads plane k.
                        let channel = if c == 1 { 0 } else { k };
                        raw[out + k] = to_u8(values[src + channel * plane]);
                    }
                }
            }
        }
    }
    let png = encode_png(&raw, width_px, height_px)?;
    write_atomically(path, &png)?;
    Ok((width_px, height_px))
}

/// Accuracies (in percent) measured at the end of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccuracyPoint {
    /// The epoch the accuracies were measured after.
    pub epoch: u64,
    /// Accuracy on the training split, in percent.
    pub train: f64,
    /// Accuracy on the validation split, in percent, when the run has one.
    pub val: Option<f64>,
    /// Accuracy on the test set, in percent, when it was measured this epoch.
    pub test: Option<f64>,
}

/// Writes an 800×500 PNG line plot of train / validation / test accuracy (%) per epoch.
///
/// Points may come in any order; each accuracy must be a finite percentage in [0, 100]. The
/// y-range is fitted to the data with a small margin (within [0, 100]); a single epoch still
/// plots (every measurement is also marked with a dot). The validation and test lines are
/// drawn through the epochs that have that accuracy and are left out when none has. The file is written
/// atomically. Returns the PNG's (width, height).
pub fn save_accuracy_plot(
    path: &Path,
    points: &[AccuracyPoint],
) -> Result<(u32, u32), PictureError> {
    if points.is_empty() {
        return Err(PictureError::BadPoints("no accuracy points to plot".into()));
    }
    for p in points {
        for (name, value) in [("train", Some(p.train)), ("val", p.val), ("test", p.test)] {
            if let Some(v) = value {
                if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                    return Err(PictureError::BadPoints(format!(
                        "epoch {}: {name} accuracy {v} is not a percentage in [0, 100]",
                        p.epoch
                    )));
                }
            }
        }
    }
    register_font()?;

    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.epoch);
    let (width, height) = PLOT_SIZE;
    let mut raw = vec![255u8; width as usize * height as usize * 3];
    draw_accuracy(&mut raw, &sorted).map_err(PictureError::Plot)?;
    let png = encode_png(&raw, width, height)?;
    write_atomically(path, &png)?;
    Ok(PLOT_SIZE)
}

/// Draws the accuracy plot into an RGB buffer of `PLOT_SIZE`; `points` are sorted by epoch.
fn draw_accuracy(raw: &mut [u8], points: &[AccuracyPoint]) -> Result<(), String> {
    let first = points.first().map_or(0.0, |p| p.epoch as f64);
    let last = points.last().map_or(0.0, |p| p.epoch as f64);
    // A single epoch would make an empty x-range; widen it so the point sits in the middle.
    let x_range = if first == last {
        first - 0.5..last + 0.5
    } else {
        first..last
    };
    let values = points
        .iter()
        .flat_map(|p| [Some(p.train), p.val, p.test])
        .flatten();
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    // Margin keeps lines off the frame; at least 1 point so a flat curve is not squashed.
    let margin = ((hi - lo) * 0.05).max(1.0);
    let y_lo = (lo - margin).max(0.0);
    let y_hi = (hi + margin).min(100.0);

    let backend = BitMapBackend::with_buffer(raw, PLOT_SIZE);
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("accuracy per epoch", (FONT_FAMILY, 24))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, y_lo..y_hi)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy (%)")
        .x_labels(10)
        // Epochs are whole numbers; ticks between them get no label.
        .x_label_formatter(&|x| {
            // Tick values carry rounding error, and -0.0 would print as "-0".
            let whole = x.round();
            if (x - whole).abs() < 1e-6 {
                format!("{:.0}", whole + 0.0)
            } else {
                String::new()
            }
        })
        .y_labels(10)
        .label_style((FONT_FAMILY, 14))
        .axis_desc_style((FONT_FAMILY, 16))
        .draw()
        .map_err(|e| e.to_string())?;

    // Precision loss past 2^53 epochs is irrelevant for a picture.
    let epoch = |p: &AccuracyPoint| p.epoch as f64;
    let train: Vec<(f64, f64)> = points.iter().map(|p| (epoch(p), p.train)).collect();
    let measured = |pick: fn(&AccuracyPoint) -> Option<f64>| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter_map(|p| pick(p).map(|v| (epoch(p), v)))
            .collect()
    };
    let val = measured(|p| p.val);
    let test = measured(|p| p.test);
    let series = [
        ("train", BLUE, train),
        ("validation", RED, val),
        ("test", GREEN, test),
    ];
    for (label, color, data) in series {
        if data.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        // Dots make a lone epoch (a line of one point draws nothing) and each measurement visible.
        chart
            .draw_series(data.iter().map(|&xy| Circle::new(xy, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT_FAMILY, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Registers the bundled font with plotters once per process; plotters' `ab_glyph` text
/// renderer knows only registered fonts.
fn register_font() -> Result<(), PictureError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the bundled DejaVu Sans font does not parse".to_string())
        })
        .clone()
        .map_err(PictureError::Plot)
}

/// Checks that both tensors are `[N, C, H, W]` with N ≥ 1, C ∈ {1, 3}, H, W ≥ 1 and the same
/// shape; returns that shape.
fn check_pair_shapes(originals: &Tensor, augmented: &Tensor) -> Result<[u64; 4], PictureError> {
    if !originals.defined() || !augmented.defined() {
        return Err(PictureError::BadImages(
            "an image tensor is undefined".into(),
        ));
    }
    let (a, b) = (originals.size(), augmented.size());
    if a != b {
        return Err(PictureError::BadImages(format!(
            "originals {a:?} and augmented {b:?} differ in shape"
        )));
    }
    let dims: [i64; 4] = a.as_slice().try_into().map_err(|_| {
        PictureError::BadImages(format!("images of shape {a:?} are not [N, C, H, W]"))
    })?;
    let [n, c, h, w] = dims;
    if n == 0 {
        return Err(PictureError::BadImages(format!(
            "empty batch: images of shape {a:?} hold no image"
        )));
    }
    if c != 1 && c != 3 {
        return Err(PictureError::BadImages(format!(
            "images of shape {a:?} have {c} channels; expected 1 (grey) or 3 (RGB)"
        )));
    }
    if h == 0 || w == 0 {
        return Err(PictureError::BadImages(format!(
            "images of shape {a:?} have no pixels"
        )));
    }
    // Sizes from libtorch are never negative, so these casts keep their values.
    Ok(dims.map(|d| d as u64))
}

/// The smallest integer factor that makes a tile of height `h` at least `MIN_TILE_HEIGHT` high.
fn upscale_factor(h: u64) -> u64 {
    MIN_TILE_HEIGHT.div_ceil(h).max(1)
}

/// The tensor's values as f32 on the CPU, in `[N, C, H, W]` row-major order.
fn to_cpu_floats(t: &Tensor) -> Result<Vec<f32>, PictureError> {
    let flat = t
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?
        .f_reshape([-1])?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

/// A [0, 1] value as an 8-bit intensity, clamping what lies outside (NaN becomes 0).
fn to_u8(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0, so no value can panic here.
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Encodes an RGB8 buffer as PNG bytes.
fn encode_png(raw: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PictureError> {
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(raw, width, height, ExtendedColorType::Rgb8)
        .map_err(|e| PictureError::Plot(format!("PNG encoding of {width}×{height} px: {e}")))?;
    Ok(png)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// the file at `path` is always either the old one or the complete new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PictureError> {
    // Unique per process and call, so concurrent writers never share a temporary file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| PictureError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PictureError::Io { path: p, source }
    };
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        // Best effort: the write already failed, and a stray temporary file is only clutter.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashSet;

    fn rgb_at(img: &image::RgbImage, x: u32, y: u32) -> [u8; 3] {
        img.get_pixel(x, y).0
    }

    fn expected(v: f32) -> u8 {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }

    #[test]
    fn rgb_grid_has_the_layout_and_the_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.png");
        // Values a little outside [0, 1] check the clamping too.
        let orig = Tensor::rand([3, 3, 8, 8], (Kind::Float, Device::Cpu)) * 1.2 - 0.1;
        let aug = Tensor::rand([3, 3, 8, 8], (Kind::Float, Device::Cpu)) * 1.2 - 0.1;
        let (w, h) = save_pairs_grid(&path, &orig, &aug).unwrap();

        // 8 px high -> factor 8 -> 64×64 tiles.
        // width  = border + 3 tiles + 2 gaps + border = 2 + 3*64 + 2*2 + 2 = 200
        // height = border + 2 tiles + 1 gap  + border = 2 + 2*64 + 2 + 2   = 134
        assert_eq!((w, h), (200, 134));
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (200, 134));

        // Source pixel (row 5, col 3) of image 0: tile pixels x = 2 + 3*8 .. +8, y = 2 + 5*8 ..
        let (sy, sx) = (5i64, 3i64);
        let (px, py) = (2 + 8 * sx as u32 + 4, 2 + 8 * sy as u32 + 4);
        let want = |t: &Tensor| -> [u8; 3] {
            [0, 1, 2].map(|ch| expected(t.double_value(&[0, ch, sy, sx]) as f32))
        };
        assert_eq!(rgb_at(&img, px, py), want(&orig));
        // The augmented tile sits one tile and one gap lower: y offset 64 + 2.
        assert_eq!(rgb_at(&img, px, py + 66), want(&aug));
        // The last image of the row: left edge 2 + 2*(64 + 2) = 134.
        let last = [0, 1, 2].map(|ch| expected(orig.double_value(&[2, ch, 0, 0]) as f32));
        assert_eq!(rgb_at(&img, 134, 2), last);

        // Border, the vertical gap between image 0 and 1, and the gap between the rows.
        for (x, y) in [
            (0, 0),
            (1, 50),
            (66, 10),
            (67, 100),
            (30, 66),
            (30, 67),
            (199, 133),
        ] {
            assert_eq!(rgb_at(&img, x, y), [255, 255, 255], "pixel ({x}, {y})");
        }
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn grey_grid_is_written_as_rgb_grey() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grey.png");
        let orig = Tensor::full([2, 1, 28, 28], 0.25, (Kind::Float, Device::Cpu));
        let aug = Tensor::full([2, 1, 28, 28], 0.75, (Kind::Double, Device::Cpu));
        let (w, h) = save_pairs_grid(&path, &orig, &aug).unwrap();
        // 28 px high -> factor 3 (2 gives 56 < 64) -> 84×84 tiles.
        // width = 2 + 2*84 + 1*2 + 2 = 174; height = 2 + 2*84 + 2 + 2 = 174.
        assert_eq!((w, h), (174, 174));
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (174, 174));
        assert_eq!(rgb_at(&img, 10, 10), [64, 64, 64]);
        assert_eq!(rgb_at(&img, 10, 2 + 84 + 2 + 10), [191, 191, 191]);
        assert_eq!(rgb_at(&img, 2 + 84, 10), [255, 255, 255]);
    }

    #[test]
    fn tall_images_are_not_upscaled() {
        assert_eq!(upscale_factor(64), 1);
        assert_eq!(upscale_factor(100), 1);
        assert_eq!(upscale_factor(63), 2);
        assert_eq!(upscale_factor(32), 2);
        assert_eq!(upscale_factor(1), 64);
    }

    #[test]
    fn grid_rejects_bad_shapes_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        let opts = (Kind::Float, Device::Cpu);

        let err = save_pairs_grid(
            &path,
            &Tensor::zeros([2, 3, 8, 8], opts),
            &Tensor::zeros([2, 3, 8, 9], opts),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[2, 3, 8, 8]") && err.contains("[2, 3, 8, 9]"),
            "{err}"
        );

        let err = save_pairs_grid(
            &path,
            &Tensor::zeros([2, 4, 8, 8], opts),
            &Tensor::zeros([2, 4, 8, 8], opts),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[2, 4, 8, 8]") && err.contains("4 channels"),
            "{err}"
        );

        let err = save_pairs_grid(
            &path,
            &Tensor::zeros([0, 3, 8, 8], opts),
            &Tensor::zeros([0, 3, 8, 8], opts),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[0, 3, 8, 8]") && err.contains("empty"),
            "{err}"
        );

        let err = save_pairs_grid(
            &path,
            &Tensor::zeros([3, 8, 8], opts),
            &Tensor::zeros([3, 8, 8], opts),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("[3, 8, 8]"), "{err}");

        assert!(matches!(
            save_pairs_grid(
                &path,
                &Tensor::zeros([1, 3, 8, 8], opts),
                &Tensor::zeros([1, 1, 8, 8], opts)
            ),
            Err(PictureError::BadImages(_))
        ));
        // Nothing was written.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    fn point(epoch: u64, train: f64, val: Option<f64>, test: Option<f64>) -> AccuracyPoint {
        AccuracyPoint {
            epoch,
            train,
            val,
            test,
        }
    }

    fn distinct_colours(img: &image::RgbImage) -> usize {
        img.pixels().map(|p| p.0).collect::<HashSet<_>>().len()
    }

    #[test]
    fn accuracy_plot_is_an_800_by_500_picture() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accuracy.png");
        let points: Vec<AccuracyPoint> = (1..=20)
            .map(|e| {
                let f = e as f64;
                let test = (e % 5 == 0).then_some(60.0 + f);
                point(e, 50.0 + 2.0 * f, Some(48.0 + 1.8 * f), test)
            })
            .collect();
        assert_eq!(save_accuracy_plot(&path, &points).unwrap(), (800, 500));
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (800, 500));
        assert!(
            distinct_colours(&img) > 3,
            "only {} colours",
            distinct_colours(&img)
        );
        // The line colours are present.
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        for c in [[0, 0, 255], [255, 0, 0], [0, 255, 0]] {
            assert!(colours.contains(&c), "colour {c:?} missing");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn accuracy_plot_of_one_epoch_without_test() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.png");
        save_accuracy_plot(&path, &[point(0, 91.5, Some(90.0), None)]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (800, 500));
        assert!(distinct_colours(&img) > 3);
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.contains(&[0, 0, 255]) && colours.contains(&[255, 0, 0]));
        assert!(
            !colours.contains(&[0, 255, 0]),
            "no test line without test accuracies"
        );
    }

    #[test]
    fn accuracy_plot_without_validation_draws_no_validation_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-val.png");
        // Tested every other epoch and after the last.
        let points: Vec<AccuracyPoint> = (0..5)
            .map(|e| {
                point(
                    e,
                    40.0 + 10.0 * e as f64,
                    None,
                    (e % 2 == 1 || e == 4).then_some(50.0),
                )
            })
            .collect();
        assert_eq!(save_accuracy_plot(&path, &points).unwrap(), (800, 500));
        let img = image::open(&path).unwrap().to_rgb8();
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.contains(&[0, 0, 255]) && colours.contains(&[0, 255, 0]));
        assert!(
            !colours.contains(&[255, 0, 0]),
            "no validation line without validation accuracies"
        );
    }

    #[test]
    fn accuracy_plot_rejects_empty_and_non_percentages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.png");
        assert!(matches!(
            save_accuracy_plot(&path, &[]),
            Err(PictureError::BadPoints(_))
        ));
        let err = save_accuracy_plot(&path, &[point(3, f64::NAN, Some(50.0), None)]).unwrap_err();
        assert!(err.to_string().contains("epoch 3"), "{err}");
        assert!(save_accuracy_plot(&path, &[point(1, 50.0, Some(50.0), Some(101.0))]).is_err());
        let err = save_accuracy_plot(&path, &[point(2, 50.0, Some(-1.0), None)]).unwrap_err();
        assert!(err.to_string().contains("val accuracy -1"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_fails_cleanly_into_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("pairs.png");
        let t = Tensor::zeros([1, 1, 4, 4], (Kind::Float, Device::Cpu));
        let err = save_pairs_grid(&path, &t, &t).unwrap_err();
        assert!(matches!(err, PictureError::Io { .. }), "{err}");
    }
}
