//! The fourteen operations of torchvision's TrivialAugmentWide and RandAugment, their magnitude
//! ranges (torchvision's `_augmentation_space` of each policy, 31 bins), and their application
//! to one 8-bit image (`_apply_op`, nearest interpolation, zero fill).
use super::{color, geometry};
use crate::data::dataset::ImageShape;

/// Magnitude bins of both policies (torchvision's `num_magnitude_bins` default).
pub const MAGNITUDE_BINS: usize = 31;

/// One operation of the policies' shared op set, in torchvision's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// No change.
    Identity,
    /// Horizontal shear about the top-left corner.
    ShearX,
    /// Vertical shear about the top-left corner.
    ShearY,
    /// Horizontal translation by whole pixels.
    TranslateX,
    /// Vertical translation by whole pixels.
    TranslateY,
    /// Rotation about the centre, in degrees counter-clockwise.
    Rotate,
    /// Brightness factor 1 + magnitude.
    Brightness,
    /// Saturation factor 1 + magnitude (identity on grey images).
    Color,
    /// Contrast factor 1 + magnitude.
    Contrast,
    /// Sharpness factor 1 + magnitude.
    Sharpness,
    /// Keep this many bits.
    Posterize,
    /// Invert bytes at or above this threshold.
    Solarize,
    /// Stretch each channel to the full range.
    AutoContrast,
    /// Equalize each channel's histogram.
    Equalize,
}

/// Which policy's magnitude ranges to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// TrivialAugmentWide's wide ranges.
    Wide,
    /// RandAugment's ranges.
    RandAugment,
}

impl Op {
    /// Every operation, in torchvision's order (the index a policy draws).
    pub const ALL: [Self; 14] = [
        Self::Identity,
        Self::ShearX,
        Self::ShearY,
        Self::TranslateX,
        Self::TranslateY,
        Self::Rotate,
        Self::Brightness,
        Self::Color,
        Self::Contrast,
        Self::Sharpness,
        Self::Posterize,
        Self::Solarize,
        Self::AutoContrast,
        Self::Equalize,
    ];

    /// Whether the operation takes a magnitude (torchvision draws a bin only then).
    pub fn has_magnitude(self) -> bool {
        !matches!(self, Self::Identity | Self::AutoContrast | Self::Equalize)
    }

    /// Whether a drawn magnitude is negated with probability ½.
    pub fn signed(self) -> bool {
        self.has_magnitude() && !matches!(self, Self::Posterize | Self::Solarize)
    }

    /// The magnitude of bin `bin` (0..[`MAGNITUDE_BINS`]) in `space`, for images of `shape`:
    /// `linspace(0, top, 31)[bin]` for the continuous ranges, torchvision's posterize bits and
    /// solarize thresholds (`linspace(255, 0, 31)`); 0 for operations without one. Values are
    /// those of torchvision's `float32` tables (see [`linspace`]).
    pub fn magnitude(self, space: Space, bin: usize, shape: ImageShape) -> f64 {
        let last = (MAGNITUDE_BINS - 1) as f64;
        let index = bin.min(MAGNITUDE_BINS - 1);
        let bin = index as f64;
        let linspace = |top: f64| linspace(0.0, top, index);
        let wide = space == Space::Wide;
        match self {
            Self::Identity | Self::AutoContrast | Self::Equalize => 0.0,
            Self::ShearX | Self::ShearY => linspace(if wide { 0.99 } else { 0.3 }),
            Self::TranslateX if wide => linspace(32.0),
            Self::TranslateY if wide => linspace(32.0),
            Self::TranslateX => linspace(150.0 / 331.0 * shape.width as f64),
            Self::TranslateY => linspace(150.0 / 331.0 * shape.height as f64),
            Self::Rotate => linspace(if wide { 135.0 } else { 30.0 }),
            Self::Brightness | Self::Color | Self::Contrast | Self::Sharpness => {
                linspace(if wide { 0.99 } else { 0.9 })
            }
            // 8 − round(bin / (30 / 6)) for the wide space (8..2 bits), 8 − round(bin / 7.5)
            // for RandAugment's (8..4); no bin falls on a tie.
            Self::Posterize => 8.0 - (bin / (last / if wide { 6.0 } else { 4.0 })).round(),
            Self::Solarize => self::linspace(255.0, 0.0, index),
        }
    }

    /// Applies the operation at `magnitude` to `image` (C·H·W bytes) in place; `scratch` is a
    /// buffer of the image's size.
    pub fn apply(self, magnitude: f64, image: &mut [u8], shape: ImageShape, scratch: &mut [u8]) {
        let factor = 1.0 + magnitude;
        let moved = |op: fn(&[u8], ImageShape, f64, &mut [u8]), image: &mut [u8], s: &mut [u8]| {
            op(image, shape, magnitude, s);
            image.copy_from_slice(s);
        };
        match self {
            Self::Identity => {}
            Self::ShearX => moved(geometry::shear_x, image, scratch),
            Self::ShearY => moved(geometry::shear_y, image, scratch),
            Self::TranslateX => moved(geometry::translate_x, image, scratch),
            Self::TranslateY => moved(geometry::translate_y, image, scratch),
            Self::Rotate => moved(geometry::rotate, image, scratch),
            Self::Brightness => color::brightness(image, shape, factor),
            Self::Color => color::saturation(image, shape, factor),
            Self::Contrast => color::contrast(image, shape, factor),
            Self::Sharpness => color::sharpness(image, shape, factor),
            Self::Posterize => color::posterize(image, magnitude as u32),
            Self::Solarize => color::solarize(image, magnitude),
            Self::AutoContrast => color::autocontrast(image, shape),
            Self::Equalize => color::equalize(image, shape),
        }
    }
}

/// Entry `index` of `torch.linspace(start, end, MAGNITUDE_BINS)` in `float32`, as libtorch's
/// CPU kernel computes it (an `f32` step; the first half counted from `start`, the rest back
/// from `end`): torchvision's policies read their magnitudes from such tables, and a magnitude
/// of 0.99 there is 0.9900000095…, which moves truncated bytes.
fn linspace(start: f64, end: f64, index: usize) -> f64 {
    let steps = MAGNITUDE_BINS;
    let (start, end) = (start as f32, end as f32);
    let step = (end - start) / (steps - 1) as f32;
    let value = if index < steps / 2 {
        start + step * index as f32
    } else {
        end - step * (steps - index - 1) as f32
    };
    f64::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MNIST: ImageShape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };

    /// Within `float32` rounding of `b`.
    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn wide_ranges_are_torchvisions() {
        let m = |op: Op, bin| op.magnitude(Space::Wide, bin, MNIST);
        assert!(near(m(Op::ShearX, 30), 0.99));
        assert_eq!(
            m(Op::ShearX, 30),
            f64::from(0.99f32),
            "the float32 table's value"
        );
        assert!(near(m(Op::TranslateY, 15), 16.0));
        assert!(
            near(m(Op::TranslateX, 30), 32.0),
            "absolute pixels, whatever the size"
        );
        assert!(near(m(Op::Rotate, 30), 135.0));
        assert!(near(m(Op::Rotate, 10), 45.0));
        assert_eq!(m(Op::Contrast, 0), 0.0);
        // Posterize: 8 − round(bin / 5): bins 0–2 keep 8 bits, 28–30 keep 2.
        let bits: Vec<f64> = [0, 2, 3, 12, 13, 27, 28, 30]
            .map(|b| m(Op::Posterize, b))
            .to_vec();
        assert_eq!(bits, [8.0, 8.0, 7.0, 6.0, 5.0, 3.0, 2.0, 2.0]);
        assert_eq!(m(Op::Solarize, 0), 255.0);
        assert_eq!(m(Op::Solarize, 30), 0.0);
        assert_eq!(m(Op::Equalize, 30), 0.0);
    }

    #[test]
    fn randaugment_ranges_are_torchvisions() {
        let m = |op: Op, bin| op.magnitude(Space::RandAugment, bin, MNIST);
        assert!(near(m(Op::ShearX, 9), 0.09));
        assert!(near(m(Op::Rotate, 9), 9.0));
        assert!(near(m(Op::Brightness, 9), 0.27));
        // 150 / 331 of the size: 12.69 px at bin 30 of a 28-pixel side.
        assert!(near(m(Op::TranslateX, 30), 12.688821752265861));
        let wide = ImageShape::new(3, 10, 331);
        assert!(near(
            Op::TranslateX.magnitude(Space::RandAugment, 30, wide),
            150.0
        ));
        assert!(near(
            Op::TranslateY.magnitude(Space::RandAugment, 30, wide),
            1500.0 / 331.0
        ));
        // Posterize 8 − round(bin / 7.5): magnitude 9 keeps 7 bits, 30 keeps 4.
        assert_eq!(m(Op::Posterize, 9), 7.0);
        assert_eq!(m(Op::Posterize, 30), 4.0);
        assert_eq!(m(Op::Solarize, 9), 178.5, "255 − 9 · 8.5");
    }

    #[test]
    fn signs_and_magnitudes_follow_the_op_table() {
        let signed: Vec<Op> = Op::ALL.into_iter().filter(|op| op.signed()).collect();
        assert_eq!(
            signed,
            [
                Op::ShearX,
                Op::ShearY,
                Op::TranslateX,
                Op::TranslateY,
                Op::Rotate,
                Op::Brightness,
                Op::Color,
                Op::Contrast,
                Op::Sharpness
            ]
        );
        let without: Vec<Op> = Op::ALL
            .into_iter()
            .filter(|op| !op.has_magnitude())
            .collect();
        assert_eq!(without, [Op::Identity, Op::AutoContrast, Op::Equalize]);
    }

    #[test]
    fn apply_dispatches_with_torchvisions_factor() {
        let shape = ImageShape::new(1, 1, 4);
        let mut scratch = [0; 4];
        let run = |op: Op, magnitude: f64| {
            let mut image = [100, 200, 50, 0];
            op.apply(magnitude, &mut image, shape, &mut [0; 4]);
            image
        };
        assert_eq!(run(Op::Identity, 5.0), [100, 200, 50, 0]);
        // Brightness at magnitude −0.5 is factor 0.5.
        assert_eq!(run(Op::Brightness, -0.5), [50, 100, 25, 0]);
        assert_eq!(run(Op::Color, 0.9), [100, 200, 50, 0], "grey: identity");
        assert_eq!(run(Op::TranslateX, 1.0), [0, 100, 200, 50]);
        assert_eq!(run(Op::TranslateX, -2.5), [50, 0, 0, 0]);
        assert_eq!(run(Op::Posterize, 2.0), [64, 192, 0, 0]);
        assert_eq!(run(Op::Solarize, 100.0), [155, 55, 50, 0]);
        assert_eq!(run(Op::AutoContrast, 0.0), [127, 255, 63, 0]);
        let mut image = [1, 2, 3, 4];
        Op::Rotate.apply(180.0, &mut image, shape, &mut scratch);
        assert_eq!(
            image,
            [4, 3, 2, 1],
            "a half turn about the centre reverses the strip"
        );
    }
}
