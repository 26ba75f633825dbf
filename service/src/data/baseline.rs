//! The geometric levels of the hand-crafted baselines of the reference code base, applied per
//! batch by the loader to images in [0, 1] before standardization.
//!
//! Order and parameters follow the reference's torchvision pipelines: random crop (zero padding
//! 4), random affine (rotation ±10°, scale 0.5–2, zero fill), random horizontal flip, then the
//! optional colour jitter (brightness, contrast, saturation 0.4, in a random order per image).
//! Parameters are drawn per image from the caller's seeded generator.
use std::f64::consts::PI;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::dataset::ImageShape;
use super::error::DataError;

/// Zero padding on each side before the random crop, by default (the reference's CIFAR-10
/// pipeline; `augment.crop_padding` changes it).
pub const CROP_PADDING: usize = 4;
/// Largest rotation of the random affine transform, in degrees.
pub const MAX_ROTATION_DEGREES: f64 = 10.0;
/// Range of the random affine scale factor.
pub const SCALE_RANGE: (f64, f64) = (0.5, 2.0);
/// Strength of each colour-jitter component: factors are drawn from [1 − s, 1 + s].
pub const JITTER_STRENGTH: f32 = 0.4;

/// A hand-crafted augmentation level: the geometric part of a [`Baseline`](super::Baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// No transformation.
    #[default]
    None,
    /// Random crop after zero padding.
    Crop,
    /// Random horizontal flip.
    Flip,
    /// Crop, then flip.
    CropFlip,
    /// Crop, then a random rotation and scale.
    CropAffine,
    /// Crop, affine, then flip.
    CropAffineFlip,
}

impl Level {
    /// Every level, from the weakest.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::Crop,
        Self::Flip,
        Self::CropFlip,
        Self::CropAffine,
        Self::CropAffineFlip,
    ];

    /// The level's name, its part of a baseline's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Crop => "crop",
            Self::Flip => "flip",
            Self::CropFlip => "crop+flip",
            Self::CropAffine => "crop+affine",
            Self::CropAffineFlip => "crop+affine+flip",
        }
    }

    /// The level with these parts, if there is one (`affine` needs `crop`).
    pub fn from_parts(crop: bool, affine: bool, flip: bool) -> Option<Self> {
        match (crop, affine, flip) {
            (false, false, false) => Some(Self::None),
            (true, false, false) => Some(Self::Crop),
            (false, false, true) => Some(Self::Flip),
            (true, false, true) => Some(Self::CropFlip),
            (true, true, false) => Some(Self::CropAffine),
            (true, true, true) => Some(Self::CropAffineFlip),
            (false, true, _) => None,
        }
    }

    pub(crate) fn crops(self) -> bool {
        !matches!(self, Self::None | Self::Flip)
    }

    pub(crate) fn affine(self) -> bool {
        matches!(self, Self::CropAffine | Self::CropAffineFlip)
    }

    pub(crate) fn flips(self) -> bool {
        matches!(self, Self::Flip | Self::CropFlip | Self::CropAffineFlip)
    }

    /// Applies this level (crops of at most `crop_padding` pixels each way), then colour
    /// jitter when `color_jitter` is set, to `images`: a batch of `shape` images in [0, 1],
    /// NCHW, transformed in place with parameters drawn from `rng`.
    pub fn apply(
        self,
        (color_jitter, crop_padding): (bool, usize),
        images: &mut [f32],
        shape: ImageShape,
        rng: &mut StdRng,
    ) -> Result<(), DataError> {
        let numel = shape.numel();
        if numel == 0 || !images.len().is_multiple_of(numel) {
            return Err(DataError::invalid(
                "baseline input",
                format!("{} values are not a batch of {shape} images", images.len()),
            ));
        }
        if self == Self::None && !color_jitter {
            return Ok(());
        }
        let count = images.len() / numel;
        let params: Vec<SampleParams> = (0..count)
            .map(|_| SampleParams::draw(self, (color_jitter, crop_padding), rng))
            .collect();
        let mut scratch = vec![0.0; numel];
        for (image, p) in images.chunks_exact_mut(numel).zip(&params) {
            if let Some((dy, dx)) = p.shift {
                shift(image, shape, dy, dx, &mut scratch);
            }
        }
        if self.affine() {
            let affine: Vec<(f64, f64)> = params.iter().filter_map(|p| p.affine).collect();
            rotate_scale(images, shape, &affine)?;
        }
        for (image, p) in images.chunks_exact_mut(numel).zip(&params) {
            if p.flip {
                flip_horizontal(image, shape);
            }
            if let Some(jitter) = &p.jitter {
                jitter.apply(image, shape);
            }
        }
        Ok(())
    }
}

/// The random choices for one image.
struct SampleParams {
    /// Crop offset relative to the unpadded image: (rows, columns), each in −pad..=pad.
    shift: Option<(isize, isize)>,
    /// Rotation in radians and scale factor.
    affine: Option<(f64, f64)>,
    flip: bool,
    jitter: Option<ColorJitter>,
}

impl SampleParams {
    fn draw(baseline: Level, (color_jitter, pad): (bool, usize), rng: &mut StdRng) -> Self {
        // rand samples no isize; the padding is tiny, so i32 round-trips exactly.
        let pad = i32::try_from(pad).unwrap_or(i32::MAX);
        let mut offset = || rng.random_range(-pad..=pad) as isize;
        let shift = baseline.crops().then(|| (offset(), offset()));
        let affine = baseline.affine().then(|| {
            let max = MAX_ROTATION_DEGREES * PI / 180.0;
            (
                rng.random_range(-max..=max),
                rng.random_range(SCALE_RANGE.0..=SCALE_RANGE.1),
            )
        });
        let flip = baseline.flips() && rng.random_bool(0.5);
        let jitter = color_jitter.then(|| ColorJitter::draw(rng));
        Self {
            shift,
            affine,
            flip,
            jitter,
        }
    }
}

/// Moves the content of `image` by (`dy`, `dx`) pixels, filling with zeros: the random crop of
/// a zero-padded image, expressed as the offset of the crop window from the unpadded origin.
pub(crate) fn shift(
    image: &mut [f32],
    shape: ImageShape,
    dy: isize,
    dx: isize,
    scratch: &mut [f32],
) {
    let (h, w) = (shape.height as isize, shape.width as isize);
    scratch.fill(0.0);
    for c in 0..shape.channels {
        let plane = c * shape.height * shape.width;
        for y in 0..h {
            let sy = y + dy;
            if !(0..h).contains(&sy) {
                continue;
            }
            for x in 0..w {
                let sx = x + dx;
                if (0..w).contains(&sx) {
                    scratch[plane + (y * w + x) as usize] = image[plane + (sy * w + sx) as usize];
                }
            }
        }
    }
    image.copy_from_slice(scratch);
}

/// Mirrors `image` left to right.
pub(crate) fn flip_horizontal(image: &mut [f32], shape: ImageShape) {
    for row in image.chunks_exact_mut(shape.width) {
        row.reverse();
    }
}

/// Rotates and scales each image about its centre, `params[i] = (angle, scale)` for image `i`,
/// with bilinear sampling and zero fill (libtorch's affine grid and grid sampler).
pub(crate) fn rotate_scale(
    images: &mut [f32],
    shape: ImageShape,
    params: &[(f64, f64)],
) -> Result<(), DataError> {
    let ctx = "applying the affine baseline";
    let (n, c, h, w) = (
        params.len() as i64,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    );
    // theta maps output to input in normalized coordinates; conjugating by the aspect ratio
    // keeps the rotation a true rotation on non-square images.
    let aspect = shape.height as f64 / shape.width as f64;
    let theta: Vec<f32> = params
        .iter()
        .flat_map(|&(angle, scale)| {
            let (sin, cos) = angle.sin_cos();
            [
                cos / scale,
                sin * aspect / scale,
                0.0,
                -sin / aspect / scale,
                cos / scale,
                0.0,
            ]
        })
        .map(|v| v as f32)
        .collect();
    let theta = tch::Tensor::f_from_slice(&theta)
        .and_then(|t| t.f_view([n, 2, 3]))
        .map_err(DataError::tensor(ctx))?;
    let input = tch::Tensor::f_from_slice(images)
        .and_then(|t| t.f_view([n, c, h, w]))
        .map_err(DataError::tensor(ctx))?;
    let grid = tch::Tensor::f_affine_grid_generator(&theta, [n, c, h, w], false)
        .map_err(DataError::tensor(ctx))?;
    // interpolation 0 = bilinear, padding 0 = zeros.
    let output = input
        .f_grid_sampler(&grid, 0, 0, false)
        .and_then(|t| t.f_contiguous())
        .map_err(DataError::tensor(ctx))?;
    output
        .f_copy_data(images, images.len())
        .map_err(DataError::tensor(ctx))
}

/// torchvision's `ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)` for one image.
pub(crate) struct ColorJitter {
    /// Order of the three operations: 0 brightness, 1 contrast, 2 saturation.
    order: [usize; 3],
    brightness: f32,
    contrast: f32,
    saturation: f32,
}

impl ColorJitter {
    fn draw(rng: &mut StdRng) -> Self {
        let mut order = [0, 1, 2];
        order.shuffle(rng);
        let range = (1.0 - JITTER_STRENGTH)..=(1.0 + JITTER_STRENGTH);
        Self {
            order,
            brightness: rng.random_range(range.clone()),
            contrast: rng.random_range(range.clone()),
            saturation: rng.random_range(range),
        }
    }

    /// Applies the three operations in this jitter's order.
    pub(crate) fn apply(&self, image: &mut [f32], shape: ImageShape) {
        for op in self.order {
            self.apply_one(op, image, shape);
        }
    }

    /// Applies operation `op` (0 brightness, 1 contrast, 2 saturation); saturation needs colour
    /// and is skipped on one-channel images.
    fn apply_one(&self, op: usize, image: &mut [f32], shape: ImageShape) {
        match op {
            0 => blend(image, |_, _| 0.0, self.brightness, shape),
            1 => {
                let mean = mean_grey(image, shape);
                blend(image, |_, _| mean, self.contrast, shape);
            }
            _ if shape.channels == 3 => {
                let grey = grey_plane(image, shape);
                blend(image, |_, i| grey[i], self.saturation, shape);
            }
            _ => {}
        }
    }
}

/// `factor·image + (1 − factor)·other`, clamped to [0, 1] (torchvision's `_blend`);
/// `other(channel, pixel)` gives the image blended towards.
fn blend(image: &mut [f32], other: impl Fn(usize, usize) -> f32, factor: f32, shape: ImageShape) {
    let plane = shape.height * shape.width;
    for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
        for (i, v) in channel.iter_mut().enumerate() {
            *v = (factor * *v + (1.0 - factor) * other(c, i)).clamp(0.0, 1.0);
        }
    }
}

/// The grey level of each pixel: the image itself with one channel, else ITU-R 601 luma with
/// torchvision's weights.
fn grey_plane(image: &[f32], shape: ImageShape) -> Vec<f32> {
    let plane = shape.height * shape.width;
    if shape.channels != 3 {
        return image[..plane].to_vec();
    }
    let (r, rest) = image.split_at(plane);
    let (g, b) = rest.split_at(plane);
    (0..plane)
        .map(|i| 0.2989 * r[i] + 0.587 * g[i] + 0.114 * b[i])
        .collect()
}

fn mean_grey(image: &[f32], shape: ImageShape) -> f32 {
    let grey = grey_plane(image, shape);
    grey.iter().sum::<f32>() / grey.len() as f32
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;

    use super::*;

    /// `count` images whose values are all distinct and non-zero.
    fn batch(count: usize, shape: ImageShape) -> Vec<f32> {
        let total = count * shape.numel();
        (0..total)
            .map(|i| (i + 1) as f32 / (total + 1) as f32)
            .collect()
    }

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    #[test]
    fn parts_name_the_levels() {
        for level in Level::ALL {
            let parts = (level.crops(), level.affine(), level.flips());
            assert_eq!(Level::from_parts(parts.0, parts.1, parts.2), Some(level));
        }
        assert_eq!(Level::from_parts(false, true, true), None);
    }

    #[test]
    fn none_is_the_identity() {
        let shape = ImageShape::new(3, 5, 6);
        let original = batch(4, shape);
        let mut images = original.clone();
        Level::None
            .apply((false, CROP_PADDING), &mut images, shape, &mut rng(0))
            .unwrap();
        assert_eq!(images, original);
    }

    #[test]
    fn flip_mirrors_rows_or_leaves_the_image() {
        let shape = ImageShape::new(2, 3, 4);
        let original = batch(32, shape);
        let mut images = original.clone();
        Level::Flip
            .apply((false, CROP_PADDING), &mut images, shape, &mut rng(5))
            .unwrap();
        let mut flipped = 0;
        for (out, inp) in images
            .chunks(shape.numel())
            .zip(original.chunks(shape.numel()))
        {
            if out == inp {
                continue;
            }
            flipped += 1;
            for (orow, irow) in out.chunks(4).zip(inp.chunks(4)) {
                assert_eq!(orow, [irow[3], irow[2], irow[1], irow[0]]);
            }
        }
        assert!((6..=26).contains(&flipped), "{flipped} of 32 flipped");
    }

    /// The (dy, dx) with |dy|, |dx| ≤ 4 such that `out` is `inp` shifted by it, if any.
    fn find_shift(out: &[f32], inp: &[f32], shape: ImageShape) -> Option<(isize, isize)> {
        let mut scratch = vec![0.0; shape.numel()];
        (-4..=4)
            .flat_map(|dy| (-4..=4).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| {
                let mut moved = inp.to_vec();
                shift(&mut moved, shape, dy, dx, &mut scratch);
                moved == out
            })
    }

    #[test]
    fn crop_keeps_the_size_and_shifts_by_at_most_four() {
        let shape = ImageShape::new(3, 10, 12);
        let original = batch(24, shape);
        let mut images = original.clone();
        Level::Crop
            .apply((false, CROP_PADDING), &mut images, shape, &mut rng(9))
            .unwrap();
        assert_eq!(images.len(), original.len());
        let mut shifts = Vec::new();
        for (out, inp) in images
            .chunks(shape.numel())
            .zip(original.chunks(shape.numel()))
        {
            shifts.push(find_shift(out, inp, shape).expect("output is a shifted input"));
        }
        assert!(shifts.iter().any(|&s| s != (0, 0)), "{shifts:?}");
        // The shift fills with zeros and moves content: check one explicitly.
        let mut img: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        shift(&mut img, ImageShape::new(1, 2, 3), 0, 1, &mut [0.0; 6]);
        assert_eq!(img, [2.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
    }

    #[test]
    fn crop_padding_bounds_the_shift() {
        let shape = ImageShape::new(1, 10, 12);
        let original = batch(64, shape);
        let mut images = original.clone();
        Level::Crop
            .apply((false, 2), &mut images, shape, &mut rng(9))
            .unwrap();
        let shifts: Vec<(isize, isize)> = images
            .chunks(shape.numel())
            .zip(original.chunks(shape.numel()))
            .map(|(out, inp)| find_shift(out, inp, shape).expect("a shifted input"))
            .collect();
        let largest = shifts.iter().map(|&(dy, dx)| dy.abs().max(dx.abs())).max();
        assert_eq!(largest, Some(2), "{shifts:?}");
    }

    #[test]
    fn identity_affine_changes_nothing_and_zoom_direction_is_right() {
        let shape = ImageShape::new(2, 6, 8);
        let original = batch(2, shape);
        let mut images = original.clone();
        rotate_scale(&mut images, shape, &[(0.0, 1.0), (0.0, 1.0)]).unwrap();
        for (a, b) in images.iter().zip(&original) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // A flat image: zooming in (scale 2) shows no border; zooming out fills corners with 0.
        let mut flat = vec![1.0; 2 * shape.numel()];
        rotate_scale(&mut flat, shape, &[(0.1, 2.0), (0.0, 0.5)]).unwrap();
        let (zoom_in, zoom_out) = flat.split_at(shape.numel());
        assert!(
            zoom_in.iter().all(|&v| (v - 1.0).abs() < 1e-5),
            "{zoom_in:?}"
        );
        assert_eq!(zoom_out[0], 0.0);
        assert!(
            (zoom_out[3 * 8 + 4] - 1.0).abs() < 1e-5,
            "centre kept: {zoom_out:?}"
        );
    }

    #[test]
    fn affine_baselines_are_seeded_and_stay_in_range() {
        let shape = ImageShape::new(3, 8, 8);
        let original = batch(6, shape);
        let run = |seed| {
            let mut images = original.clone();
            Level::CropAffineFlip
                .apply((true, CROP_PADDING), &mut images, shape, &mut rng(seed))
                .unwrap();
            images
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn jitter_operations_follow_torchvision() {
        let shape = ImageShape::new(3, 1, 2);
        // Pixels: (r, g, b) = (0.5, 0.2, 0.1) and (1.0, 0.4, 0.0).
        let image = [0.5, 1.0, 0.2, 0.4, 0.1, 0.0];
        let only = |op, factor| {
            let jitter = ColorJitter {
                order: [op; 3],
                brightness: factor,
                contrast: factor,
                saturation: factor,
            };
            let mut out = image;
            jitter.apply_one(op, &mut out, shape);
            out
        };
        assert_eq!(only(0, 0.5), [0.25, 0.5, 0.1, 0.2, 0.05, 0.0]);
        assert_eq!(only(0, 1.4)[1], 1.0, "clamped");
        // Contrast 0 gives the mean grey everywhere.
        let grey = [
            0.2989 * 0.5 + 0.587 * 0.2 + 0.114 * 0.1,
            0.2989 * 1.0 + 0.587 * 0.4,
        ];
        let mean = (grey[0] + grey[1]) / 2.0;
        assert!(only(1, 0.0).iter().all(|v| (v - mean).abs() < 1e-6));
        // Saturation 0 gives each pixel's grey in every channel.
        let desaturated = only(2, 0.0);
        for c in 0..3 {
            assert!((desaturated[2 * c] - grey[0]).abs() < 1e-6);
            assert!((desaturated[2 * c + 1] - grey[1]).abs() < 1e-6);
        }
        // One channel: contrast uses the image's own mean, saturation does nothing.
        let g = ImageShape::new(1, 1, 2);
        let jitter = ColorJitter {
            order: [2, 1, 0],
            brightness: 1.0,
            contrast: 0.5,
            saturation: 0.0,
        };
        let mut out = [0.2, 0.6];
        jitter.apply(&mut out, g);
        assert!(
            (out[0] - 0.3).abs() < 1e-6 && (out[1] - 0.5).abs() < 1e-6,
            "{out:?}"
        );
    }
}
