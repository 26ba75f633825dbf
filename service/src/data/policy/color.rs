//! The photometric operations of torchvision's automatic augmentation policies on 8-bit images
//! (C·H·W bytes), with the arithmetic of `torchvision.transforms.functional` on `uint8` tensors:
//! blends in `f32` truncated back to bytes, grey levels by ITU-R 601 luma truncated to a byte.
//! Operations that need colour (saturation) leave one-channel images as they are, as
//! torchvision does.
use crate::data::dataset::ImageShape;

/// `(factor·image + (1 − factor)·other).clamp(0, 255)` truncated to a byte: torchvision's
/// `_blend` on `uint8` (`factor` and `1 − factor` are Python floats, each rounded to `f32`
/// where it meets the tensor); `other(channel, pixel)` is what the image is blended towards.
fn blend(image: &mut [u8], shape: ImageShape, factor: f64, other: impl Fn(usize, usize) -> f32) {
    let plane = shape.height * shape.width;
    let (factor, rest) = (factor as f32, (1.0 - factor) as f32);
    for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
        for (i, v) in channel.iter_mut().enumerate() {
            *v = (factor * f32::from(*v) + rest * other(c, i)).clamp(0.0, 255.0) as u8;
        }
    }
}

/// The grey level of each pixel of a 3-channel image, `(0.2989 r + 0.587 g + 0.114 b)`
/// truncated to a byte (`rgb_to_grayscale` on `uint8`).
fn grey_plane(image: &[u8], shape: ImageShape) -> Vec<u8> {
    let plane = shape.height * shape.width;
    let (r, rest) = image.split_at(plane);
    let (g, b) = rest.split_at(plane);
    (0..plane)
        .map(|i| {
            (0.2989 * f32::from(r[i]) + 0.587 * f32::from(g[i]) + 0.114 * f32::from(b[i])) as u8
        })
        .collect()
}

/// `F.adjust_brightness`: blend towards black.
pub(super) fn brightness(image: &mut [u8], shape: ImageShape, factor: f64) {
    blend(image, shape, factor, |_, _| 0.0);
}

/// `F.adjust_saturation`: blend towards the pixel's grey; the identity on one channel.
pub(super) fn saturation(image: &mut [u8], shape: ImageShape, factor: f64) {
    if shape.channels != 3 {
        return;
    }
    let grey = grey_plane(image, shape);
    blend(image, shape, factor, |_, i| f32::from(grey[i]));
}

/// `F.adjust_contrast`: blend towards the mean grey level of the whole image (the mean of the
/// image itself on one channel).
pub(super) fn contrast(image: &mut [u8], shape: ImageShape, factor: f64) {
    let mean_of =
        |levels: &[u8]| levels.iter().map(|&v| f64::from(v)).sum::<f64>() / levels.len() as f64;
    let mean = if shape.channels == 3 {
        mean_of(&grey_plane(image, shape))
    } else {
        mean_of(image)
    };
    blend(image, shape, factor, |_, _| mean as f32);
}

/// `F.adjust_sharpness`: blend with the image smoothed by the 3 × 3 kernel
/// `[[1 1 1] [1 5 1] [1 1 1]] / 13` (rounded to bytes, border pixels kept); the identity on
/// images 2 pixels or less across.
pub(super) fn sharpness(image: &mut [u8], shape: ImageShape, factor: f64) {
    let (h, w) = (shape.height, shape.width);
    if h <= 2 || w <= 2 {
        return;
    }
    let mut smooth = image.to_vec();
    let plane = h * w;
    for c in 0..shape.channels {
        let p = &image[c * plane..(c + 1) * plane];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let mut sum = 4 * u32::from(p[y * w + x]);
                for dy in 0..3 {
                    for dx in 0..3 {
                        sum += u32::from(p[(y + dy - 1) * w + x + dx - 1]);
                    }
                }
                // sum / 13 is never a tie (its fraction is a multiple of 1/13).
                smooth[c * plane + y * w + x] = (f64::from(sum) / 13.0).round() as u8;
            }
        }
    }
    blend(image, shape, factor, |c, i| {
        f32::from(smooth[c * plane + i])
    });
}

/// `F.posterize`: keep the `bits` most significant bits of every byte.
pub(super) fn posterize(image: &mut [u8], bits: u32) {
    let mask = !(u8::MAX.checked_shr(bits).unwrap_or(0));
    image.iter_mut().for_each(|v| *v &= mask);
}

/// `F.solarize`: invert every byte at or above `threshold`.
pub(super) fn solarize(image: &mut [u8], threshold: f64) {
    image
        .iter_mut()
        .filter(|v| f64::from(**v) >= threshold)
        .for_each(|v| *v = 255 - *v);
}

/// `F.autocontrast`: stretch each channel so its darkest byte becomes 0 and its brightest 255
/// (`f32` scale, truncated); a flat channel is left as it is.
pub(super) fn autocontrast(image: &mut [u8], shape: ImageShape) {
    let plane = shape.height * shape.width;
    for channel in image.chunks_exact_mut(plane) {
        let low = channel.iter().copied().min().unwrap_or(0);
        let high = channel.iter().copied().max().unwrap_or(0);
        if high == low {
            continue;
        }
        // `bound / (max − min)` on a tensor is `reciprocal(max − min) · bound` in PyTorch.
        let scale = (1.0f32 / f32::from(high - low)) * 255.0;
        for v in channel.iter_mut() {
            *v = (f32::from(*v - low) * scale).clamp(0.0, 255.0) as u8;
        }
    }
}

/// `F.equalize`: per channel, map bytes through the cumulative histogram so the levels spread
/// evenly (PIL's `ImageOps.equalize`, as torchvision's `_scale_channel`); a channel whose
/// levels other than its brightest hold fewer than 255 pixels is left as it is.
pub(super) fn equalize(image: &mut [u8], shape: ImageShape) {
    let plane = shape.height * shape.width;
    for channel in image.chunks_exact_mut(plane) {
        let mut histogram = [0usize; 256];
        channel.iter().for_each(|&v| histogram[usize::from(v)] += 1);
        let brightest = histogram.iter().rposition(|&n| n > 0).unwrap_or(0);
        let step = histogram[..brightest].iter().sum::<usize>() / 255;
        if step == 0 {
            continue;
        }
        // lut[v] = (pixels below v + step / 2) / step, clamped to a byte.
        let mut lut = [0u8; 256];
        let mut below = 0;
        for (v, entry) in lut.iter_mut().enumerate() {
            *entry = ((below + step / 2) / step).min(255) as u8;
            below += histogram[v];
        }
        channel.iter_mut().for_each(|v| *v = lut[usize::from(*v)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: usize) -> ImageShape {
        ImageShape::new(1, 1, w)
    }

    #[test]
    fn brightness_scales_and_truncates() {
        let mut image = [100, 255, 1, 0];
        brightness(&mut image, grey(4), 0.5);
        assert_eq!(image, [50, 127, 0, 0], "127.5 and 0.5 truncate");
        let mut bright = [100, 200];
        brightness(&mut bright, grey(2), 1.99);
        assert_eq!(bright, [199, 255], "clamped at 255");
    }

    #[test]
    fn contrast_blends_towards_the_mean_grey() {
        let mut image = [100, 200];
        contrast(&mut image, grey(2), 0.5);
        assert_eq!(image, [125, 175]);
        // Colour: the mean of the truncated luma. (200, 100, 0) has grey 118.48 → 118 and
        // (0, 0, 0) grey 0, so the mean is 59; factor 0 gives 59 everywhere.
        let mut rgb = [200, 0, 100, 0, 0, 0];
        contrast(&mut rgb, ImageShape::new(3, 1, 2), 0.0);
        assert_eq!(rgb, [59; 6]);
    }

    #[test]
    fn saturation_blends_towards_grey_and_skips_one_channel() {
        let mut one = [10, 250];
        saturation(&mut one, grey(2), 0.0);
        assert_eq!(one, [10, 250]);
        // (200, 100, 0): grey 118. Factor 0 gives grey; factor 2 gives 2v − 118, clamped.
        let shape = ImageShape::new(3, 1, 1);
        let mut flat = [200, 100, 0];
        saturation(&mut flat, shape, 0.0);
        assert_eq!(flat, [118, 118, 118]);
        let mut vivid = [200, 100, 0];
        saturation(&mut vivid, shape, 2.0);
        assert_eq!(vivid, [255, 82, 0]);
    }

    #[test]
    fn sharpness_blends_with_the_smoothed_interior() {
        // A 3 × 3 image with one bright centre: smoothed centre round(5·130 / 13) = 50, the
        // border kept at 0. Factor 2: centre 2·130 − 50 = 210, border 0.
        let shape = ImageShape::new(1, 3, 3);
        let mut image = [0, 0, 0, 0, 130, 0, 0, 0, 0];
        sharpness(&mut image, shape, 2.0);
        assert_eq!(image, [0, 0, 0, 0, 210, 0, 0, 0, 0]);
        // Factor 0 gives the smoothed image: centre of a ring of 13s and a 0 centre is
        // round(8·13 / 13) = 8.
        let mut ring = [13, 13, 13, 13, 0, 13, 13, 13, 13];
        sharpness(&mut ring, shape, 0.0);
        assert_eq!(ring, [13, 13, 13, 13, 8, 13, 13, 13, 13]);
        let mut thin = [1, 2, 3, 4];
        sharpness(&mut thin, ImageShape::new(1, 2, 2), 0.0);
        assert_eq!(thin, [1, 2, 3, 4], "too small to smooth");
    }

    #[test]
    fn posterize_and_solarize_follow_the_bit_and_threshold_rules() {
        let mut image = [0b1011_0111, 255, 15, 16];
        posterize(&mut image, 4);
        assert_eq!(image, [0b1011_0000, 0b1111_0000, 0, 16]);
        let mut full = [183, 1];
        posterize(&mut full, 8);
        assert_eq!(full, [183, 1], "8 bits keep everything");
        let mut sol = [10, 128, 200, 127];
        solarize(&mut sol, 128.0);
        assert_eq!(sol, [10, 127, 55, 127]);
        let mut none = [0, 255];
        solarize(&mut none, 255.5);
        assert_eq!(none, [0, 255]);
        solarize(&mut none, 0.0);
        assert_eq!(none, [255, 0], "threshold 0 inverts all");
    }

    #[test]
    fn autocontrast_stretches_each_channel() {
        let shape = ImageShape::new(2, 1, 3);
        // Channel 0 spans 50..150 (scale 2.55): 100 → 127.5 → 127. Channel 1 is flat.
        let mut image = [50, 100, 150, 7, 7, 7];
        autocontrast(&mut image, shape);
        assert_eq!(image, [0, 127, 255, 7, 7, 7]);
    }

    #[test]
    fn equalize_spreads_the_histogram() {
        // 255 pixels at 0, 255 at 100, 10 at 200: step = (255 + 255) / 255 = 2, so
        // 0 → 0, 100 → (255 + 1) / 2 = 128, 200 → (510 + 1) / 2 = 255.
        let shape = ImageShape::new(1, 20, 26);
        let mut image: Vec<u8> = [(0, 255), (100, 255), (200, 10)]
            .iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect();
        equalize(&mut image, shape);
        assert_eq!(&image[..255], [0; 255]);
        assert_eq!(&image[255..510], [128; 255]);
        assert_eq!(&image[510..], [255; 10]);
        // Too few pixels below the brightest level: unchanged.
        let mut small = [0, 0, 1, 2];
        equalize(&mut small, grey(4));
        assert_eq!(small, [0, 0, 1, 2]);
    }
}
