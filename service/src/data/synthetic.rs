//! A seeded synthetic data-set for tests and demos: every class is a grating of its own
//! orientation (and, with colour, its own tint), shown at a random phase under noise, so a small
//! CNN can learn it but not from any single pixel.
use std::f64::consts::PI;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::dataset::{numbered_class_names, ImageSet, ImageShape};
use super::error::DataError;

/// Standard deviation of the pixel noise, in 0..255 units.
const NOISE: f64 = 20.0;
/// Amplitude of the grating around mid-grey, in 0..255 units.
const AMPLITUDE: f64 = 80.0;

/// What to generate: `per_class` images of each of `num_classes` classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Number of classes.
    pub num_classes: usize,
    /// Images of each class.
    pub per_class: usize,
    /// Size of every image.
    pub shape: ImageShape,
    /// Seed of everything random; the same spec always gives the same set.
    pub seed: u64,
}

impl SyntheticSpec {
    /// The orientation of class `class`'s grating, in radians: the classes share [0, π) evenly.
    pub fn orientation(&self, class: usize) -> f64 {
        PI * class as f64 / self.num_classes as f64
    }

    /// The image set: labels cycle 0, 1, …, `num_classes − 1`, 0, 1, … so that any prefix is
    /// close to balanced.
    pub fn generate(&self) -> Result<ImageSet, DataError> {
        if self.num_classes == 0 || self.shape.numel() == 0 {
            return Err(DataError::invalid(
                "synthetic spec",
                format!(
                    "{} classes of images of shape {} (both must be non-empty)",
                    self.num_classes, self.shape
                ),
            ));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let noise = Normal::new(0.0, NOISE)
            .map_err(|e| DataError::invalid("synthetic spec", e.to_string()))?;
        let ImageShape {
            channels,
            height,
            width,
        } = self.shape;
        // About four periods across the smaller side, never finer than 4 pixels.
        let period = (height.min(width) as f64 / 4.0).max(4.0);
        let wave_number = 2.0 * PI / period;
        // Orientations are jittered by up to a quarter of the gap between classes.
        let jitter = PI / self.num_classes as f64 / 4.0;
        let count = self.num_classes * self.per_class;
        let mut pixels = Vec::with_capacity(count * self.shape.numel());
        let mut labels = Vec::with_capacity(count);
        for i in 0..count {
            let class = i % self.num_classes;
            let angle = self.orientation(class) + rng.random_range(-jitter..=jitter);
            let phase = rng.random_range(0.0..2.0 * PI);
            let (sin, cos) = angle.sin_cos();
            for c in 0..channels {
                let gain = self.tint(class, c);
                for y in 0..height {
                    for x in 0..width {
                        let t = wave_number * (x as f64 * cos + y as f64 * sin) + phase;
                        let value = 128.0 + AMPLITUDE * gain * t.cos() + noise.sample(&mut rng);
                        // Clamped to the byte range first, so the cast cannot truncate.
                        pixels.push(value.round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
            labels.push(class as i64);
        }
        ImageSet::new(
            pixels,
            labels,
            self.shape,
            self.num_classes,
            numbered_class_names(self.num_classes),
        )
    }

    /// How strongly channel `channel` shows class `class`'s grating: 1 for grey images, a
    /// class-dependent mix for colour so that hue is a second cue.
    fn tint(&self, class: usize, channel: usize) -> f64 {
        if self.shape.channels == 1 {
            return 1.0;
        }
        let turn =
            class as f64 / self.num_classes as f64 + channel as f64 / self.shape.channels as f64;
        0.6 + 0.4 * (2.0 * PI * turn).cos()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(seed: u64) -> SyntheticSpec {
        SyntheticSpec {
            num_classes: 6,
            per_class: 20,
            shape: ImageShape::new(1, 24, 24),
            seed,
        }
    }

    /// The dominant gradient orientation of a grey image, in [0, π), from its structure tensor.
    fn orientation(image: &[u8], size: usize) -> f64 {
        let at = |x: usize, y: usize| f64::from(image[y * size + x]);
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for y in 1..size - 1 {
            for x in 1..size - 1 {
                let dx = at(x + 1, y) - at(x - 1, y);
                let dy = at(x, y + 1) - at(x, y - 1);
                sxx += dx * dx;
                syy += dy * dy;
                sxy += dx * dy;
            }
        }
        (0.5 * (2.0 * sxy).atan2(sxx - syy)).rem_euclid(PI)
    }

    #[test]
    fn same_seed_same_set_other_seed_other_set() {
        let a = spec(3).generate().unwrap();
        assert_eq!(a, spec(3).generate().unwrap());
        assert_ne!(a.pixels(), spec(4).generate().unwrap().pixels());
        assert_eq!(a.len(), 120);
        assert_eq!(a.class_counts(), vec![20; 6]);
        assert_eq!(&a.labels()[..7], &[0, 1, 2, 3, 4, 5, 0]);
    }

    #[test]
    fn the_class_can_be_read_from_the_pattern() {
        // A nearest-orientation rule recovers the label, so the classes are learnable; the
        // mean pixel carries no class information, so the pattern is what must be learnt.
        let s = spec(11);
        let set = s.generate().unwrap();
        let mut correct = 0;
        for i in 0..set.len() {
            let found = orientation(set.image(i), 24);
            let guess = (0..s.num_classes)
                .min_by(|&a, &b| {
                    let d = |c: usize| {
                        let diff = (found - s.orientation(c)).rem_euclid(PI);
                        diff.min(PI - diff)
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            correct += usize::from(guess as i64 == set.labels()[i]);
        }
        assert!(correct >= 114, "only {correct} of 120 recognised");
        let stats = set.channel_stats().unwrap();
        assert!((stats.mean[0] - 128.0 / 255.0).abs() < 0.02, "{stats:?}");
    }

    #[test]
    fn colour_sets_have_three_channels_and_bad_specs_are_rejected() {
        let colour = SyntheticSpec {
            shape: ImageShape::new(3, 8, 8),
            ..spec(0)
        };
        assert_eq!(colour.generate().unwrap().shape(), ImageShape::new(3, 8, 8));
        let err = SyntheticSpec {
            num_classes: 0,
            ..spec(0)
        }
        .generate()
        .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Invalid {
                    what: "synthetic spec",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("0 classes"), "{err}");
    }
}
