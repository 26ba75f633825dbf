//! The geometric operations of torchvision's automatic augmentation policies on 8-bit images:
//! shear, translate and rotate, each an affine map sampled with nearest interpolation and zero
//! fill, exactly as `torchvision.transforms.functional.affine` / `rotate` compute them on
//! tensors (`_get_inverse_affine_matrix`, `_gen_affine_grid`, `grid_sample(mode="nearest",
//! align_corners=False)`).
use crate::data::dataset::ImageShape;

/// The inverse affine matrix (output to input coordinates, pixel units, origin at the image
/// centre) of a rotation by `angle` degrees, a translation, a scale and a shear (degrees along
/// x and y) about `center` (pixel units relative to the image centre): torchvision's
/// `_get_inverse_affine_matrix`.
fn inverse_affine_matrix(
    center: (f64, f64),
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: (f64, f64),
) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear.0.to_radians(), shear.1.to_radians());
    let (cx, cy) = center;
    let (tx, ty) = translate;
    // Rotation × shear, without the scale; its determinant is 1.
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d, -b, 0.0, -c, a, 0.0].map(|v| v / scale);
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// `image` (C·H·W bytes) resampled through the inverse affine `matrix`: each output pixel takes
/// the input pixel nearest to where the matrix maps its centre (ties to even, as libtorch's
/// `nearbyint`), or 0 outside the image.
fn resample(image: &[u8], shape: ImageShape, matrix: [f64; 6], out: &mut [u8]) {
    let (h, w) = (shape.height, shape.width);
    let (hf, wf) = (h as f64, w as f64);
    let plane = h * w;
    for i in 0..h {
        let y = i as f64 + 0.5 - hf * 0.5;
        for j in 0..w {
            let x = j as f64 + 0.5 - wf * 0.5;
            let sx = (matrix[0] * x + matrix[1] * y + matrix[2] + wf * 0.5 - 0.5).round_ties_even();
            let sy = (matrix[3] * x + matrix[4] * y + matrix[5] + hf * 0.5 - 0.5).round_ties_even();
            let inside = (0.0..wf).contains(&sx) && (0.0..hf).contains(&sy);
            for c in 0..shape.channels {
                out[c * plane + i * w + j] = if inside {
                    image[c * plane + sy as usize * w + sx as usize]
                } else {
                    0
                };
            }
        }
    }
}

/// `F.affine(img, angle=0, translate=[0, 0], scale=1, shear=degrees, center=[0, 0])`: a shear
/// about the top-left corner.
fn shear(image: &[u8], shape: ImageShape, degrees: (f64, f64), out: &mut [u8]) {
    let corner = (-(shape.width as f64) * 0.5, -(shape.height as f64) * 0.5);
    let matrix = inverse_affine_matrix(corner, 0.0, (0.0, 0.0), 1.0, degrees);
    resample(image, shape, matrix, out);
}

/// `F.affine(img, angle=0, translate=pixels, scale=1, shear=[0, 0])`.
fn translate(image: &[u8], shape: ImageShape, pixels: (f64, f64), out: &mut [u8]) {
    let matrix = inverse_affine_matrix((0.0, 0.0), 0.0, pixels, 1.0, (0.0, 0.0));
    resample(image, shape, matrix, out);
}

/// `shear=[degrees(atan(m)), 0]`: rows slide left by `m` pixels per row below the top edge.
pub(super) fn shear_x(image: &[u8], shape: ImageShape, m: f64, out: &mut [u8]) {
    shear(image, shape, (m.atan().to_degrees(), 0.0), out);
}

/// `shear=[0, degrees(atan(m))]`: columns slide up by `m` pixels per column right of the left
/// edge.
pub(super) fn shear_y(image: &[u8], shape: ImageShape, m: f64, out: &mut [u8]) {
    shear(image, shape, (0.0, m.atan().to_degrees()), out);
}

/// `translate=[int(m), 0]`: content moves right by `m` pixels (truncated towards zero, as
/// Python's `int`).
pub(super) fn translate_x(image: &[u8], shape: ImageShape, m: f64, out: &mut [u8]) {
    translate(image, shape, (m.trunc(), 0.0), out);
}

/// `translate=[0, int(m)]`: content moves down by `m` pixels.
pub(super) fn translate_y(image: &[u8], shape: ImageShape, m: f64, out: &mut [u8]) {
    translate(image, shape, (0.0, m.trunc()), out);
}

/// `F.rotate(img, degrees)`: counter-clockwise about the image centre, corners filled with 0.
pub(super) fn rotate(image: &[u8], shape: ImageShape, degrees: f64, out: &mut [u8]) {
    let matrix = inverse_affine_matrix((0.0, 0.0), -degrees, (0.0, 0.0), 1.0, (0.0, 0.0));
    resample(image, shape, matrix, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1..=h·w in row order, one channel.
    fn counting(h: usize, w: usize) -> (Vec<u8>, ImageShape) {
        (
            (1..=h * w).map(|v| v as u8).collect(),
            ImageShape::new(1, h, w),
        )
    }

    fn run(op: fn(&[u8], ImageShape, f64, &mut [u8]), m: f64, h: usize, w: usize) -> Vec<u8> {
        let (image, shape) = counting(h, w);
        let mut out = vec![255; image.len()];
        op(&image, shape, m, &mut out);
        out
    }

    #[test]
    fn zero_magnitudes_are_the_identity() {
        for op in [shear_x, shear_y, translate_x, translate_y, rotate] {
            assert_eq!(run(op, 0.0, 5, 7), counting(5, 7).0);
        }
    }

    #[test]
    fn translations_move_content_and_fill_with_zero() {
        #[rustfmt::skip]
        assert_eq!(run(translate_x, 1.9, 3, 3), [0, 1, 2, 0, 4, 5, 0, 7, 8], "int(1.9) = 1");
        assert_eq!(run(translate_x, -1.0, 3, 3), [2, 3, 0, 5, 6, 0, 8, 9, 0]);
        assert_eq!(run(translate_y, 2.0, 3, 3), [0, 0, 0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(run(translate_y, -1.0, 3, 3), [4, 5, 6, 7, 8, 9, 0, 0, 0]);
    }

    #[test]
    fn rotation_is_counter_clockwise_about_the_centre() {
        // [[1 2 3] [4 5 6] [7 8 9]] turned a quarter to the left.
        assert_eq!(run(rotate, 90.0, 3, 3), [3, 6, 9, 2, 5, 8, 1, 4, 7]);
        assert_eq!(run(rotate, -90.0, 3, 3), [7, 4, 1, 8, 5, 2, 9, 6, 3]);
        assert_eq!(run(rotate, 180.0, 3, 3), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
        // 45° on a 3 × 3: the centre stays, each corner samples outside the rotated square.
        let turned = run(rotate, 45.0, 3, 3);
        assert_eq!(turned[4], 5);
        assert_eq!(
            turned[1], 3,
            "top centre (0, -1) comes from (0.71, -0.71) → (1, -1)"
        );
    }

    #[test]
    fn shear_is_about_the_top_left_corner() {
        // Output (i, j) samples column j + m·(i + 0.5) of row i: with m = 0.5 rows 0..3 take
        // offsets 0.25, 0.75, 1.25, 1.75 → 0, 1, 1, 2.
        #[rustfmt::skip]
        let expected = [
            1, 2, 3, 4,
            6, 7, 8, 0,
            10, 11, 12, 0,
            15, 16, 0, 0,
        ];
        assert_eq!(run(shear_x, 0.5, 4, 4), expected);
        let sheared = run(shear_y, 0.5, 4, 4);
        // Column j samples row i + 0.5·(j + 0.5): offsets 0, 1, 1, 2 by column.
        #[rustfmt::skip]
        let by_column = [
            1, 6, 7, 12,
            5, 10, 11, 16,
            9, 14, 15, 0,
            13, 0, 0, 0,
        ];
        assert_eq!(sheared, by_column);
    }

    #[test]
    fn every_channel_moves_together() {
        let shape = ImageShape::new(3, 2, 2);
        let image: Vec<u8> = (1..=12).collect();
        let mut out = vec![0; 12];
        translate_x(&image, shape, 1.0, &mut out);
        assert_eq!(out, [0, 1, 0, 3, 0, 5, 0, 7, 0, 9, 0, 11]);
    }
}
