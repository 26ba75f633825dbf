//! Random erasing (Zhong et al., 2020) as torchvision's `RandomErasing(p=0.5,
//! scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)`: with probability ½, one rectangle of each
//! standardized image is set to 0 (the channel mean), its area a uniform share of the image
//! and its log aspect ratio uniform; up to ten tries find a rectangle that fits, else the image
//! is kept. Applied after standardization, as torchvision's pipelines place it after
//! `Normalize`.
use rand::rngs::StdRng;
use rand::Rng;

use super::dataset::ImageShape;

/// Probability that an image is erased.
pub const ERASING_PROBABILITY: f64 = 0.5;
/// Range of the erased area, as a share of the image.
pub const ERASING_SCALE: (f64, f64) = (0.02, 0.33);
/// Range of the erased rectangle's aspect ratio (height / width).
pub const ERASING_RATIO: (f64, f64) = (0.3, 3.3);
/// Tries at a rectangle that fits before the image is left whole.
const ATTEMPTS: usize = 10;

/// The rectangle to erase: top row, left column, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rectangle {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
}

/// Draws the rectangle for one image of `height × width`, or `None` when the image is kept
/// (torchvision's `RandomErasing.forward` and `get_params`).
pub(crate) fn draw(height: usize, width: usize, rng: &mut StdRng) -> Option<Rectangle> {
    if !rng.random_bool(ERASING_PROBABILITY) {
        return None;
    }
    let area = (height * width) as f64;
    let log_ratio = (ERASING_RATIO.0.ln(), ERASING_RATIO.1.ln());
    for _ in 0..ATTEMPTS {
        let erase_area = area * rng.random_range(ERASING_SCALE.0..ERASING_SCALE.1);
        let aspect = rng.random_range(log_ratio.0..log_ratio.1).exp();
        // Python's round: half to even.
        let h = (erase_area * aspect).sqrt().round_ties_even() as usize;
        let w = (erase_area / aspect).sqrt().round_ties_even() as usize;
        if !(h < height && w < width) {
            continue;
        }
        let top = rng.random_range(0..=height - h);
        let left = rng.random_range(0..=width - w);
        return Some(Rectangle {
            top,
            left,
            height: h,
            width: w,
        });
    }
    None
}

/// Erases (sets to 0) `rect` in every channel of `image`.
pub(crate) fn erase(image: &mut [f32], shape: ImageShape, rect: Rectangle) {
    let plane = shape.height * shape.width;
    for channel in image.chunks_exact_mut(plane) {
        for row in rect.top..rect.top + rect.height {
            let start = row * shape.width + rect.left;
            channel[start..start + rect.width].fill(0.0);
        }
    }
}

/// Random erasing of each image of a standardized batch, in place.
pub(crate) fn apply(images: &mut [f32], shape: ImageShape, rng: &mut StdRng) {
    for image in images.chunks_exact_mut(shape.numel()) {
        if let Some(rect) = draw(shape.height, shape.width, rng) {
            erase(image, shape, rect);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn erase_zeroes_the_rectangle_in_every_channel() {
        let shape = ImageShape::new(2, 3, 4);
        let mut image = vec![1.0; shape.numel()];
        let rect = Rectangle {
            top: 1,
            left: 2,
            height: 2,
            width: 1,
        };
        erase(&mut image, shape, rect);
        #[rustfmt::skip]
        let plane = [
            1.0, 1.0, 1.0, 1.0,
            1.0, 1.0, 0.0, 1.0,
            1.0, 1.0, 0.0, 1.0,
        ];
        assert_eq!(image[..12], plane);
        assert_eq!(image[12..], plane);
    }

    #[test]
    fn rectangles_follow_the_area_and_ratio_ranges() {
        let (h, w) = (28, 28);
        let mut rng = StdRng::seed_from_u64(11);
        let mut erased = 0;
        let draws = 4_000;
        for _ in 0..draws {
            let Some(r) = draw(h, w, &mut rng) else {
                continue;
            };
            erased += 1;
            assert!(
                r.height < h && r.width < w && r.height > 0 && r.width > 0,
                "{r:?}"
            );
            assert!(r.top + r.height <= h && r.left + r.width <= w, "{r:?}");
            // Rounding each side moves the area by at most about one row and one column.
            let share = (r.height * r.width) as f64 / (h * w) as f64;
            let slack = (r.height + r.width + 1) as f64 / (h * w) as f64;
            assert!(share >= ERASING_SCALE.0 - slack, "{r:?}");
            assert!(share <= ERASING_SCALE.1 + slack, "{r:?}");
            let ratio = r.height as f64 / r.width as f64;
            assert!((0.15..=7.0).contains(&ratio), "{r:?}");
        }
        // p = ½ (a few tries fail to fit, which keeps the image): 2,000 expected, sd ≈ 32.
        assert!((1850..2100).contains(&erased), "{erased}");
    }

    #[test]
    fn erasing_is_seeded() {
        let shape = ImageShape::new(1, 10, 10);
        let run = |seed| {
            let mut images = vec![0.5; 8 * shape.numel()];
            apply(&mut images, shape, &mut StdRng::seed_from_u64(seed));
            images
        };
        let a = run(5);
        assert_eq!(a, run(5));
        assert_ne!(a, run(6));
        assert!(a.contains(&0.0) && a.contains(&0.5));
    }
}
