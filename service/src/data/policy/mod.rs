//! torchvision's automatic augmentation policies as hand-crafted baselines: TrivialAugmentWide
//! (one operation per image, uniformly drawn, at a uniformly drawn magnitude of the wide
//! ranges) and RandAugment (N operations per image at the fixed magnitude bin M). Both work on
//! the 8-bit image (the loader's [0, 1] values rounded to bytes, as torchvision's policies work
//! on `uint8` images) with nearest interpolation and zero fill, and draw everything from the
//! batch's seeded generator: deterministic on the CPU, on the loader thread.
mod color;
mod geometry;
mod ops;
#[cfg(test)]
mod torchvision_parity;

use rand::rngs::StdRng;
use rand::Rng;

pub use ops::{Op, Space, MAGNITUDE_BINS};

use super::dataset::ImageShape;

/// RandAugment's operations per image by default (torchvision's `num_ops`).
pub const RANDAUGMENT_OPS: usize = 2;
/// RandAugment's magnitude bin by default (torchvision's `magnitude`, of 31 bins).
pub const RANDAUGMENT_MAGNITUDE: usize = 9;

/// An automatic augmentation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `TrivialAugmentWide()`.
    TrivialAugment,
    /// `RandAugment(num_ops=ops, magnitude=magnitude)`.
    RandAugment {
        /// Operations per image.
        ops: usize,
        /// Magnitude bin, 0..[`MAGNITUDE_BINS`].
        magnitude: usize,
    },
}

impl Policy {
    /// RandAugment with torchvision's defaults (2 operations at magnitude 9).
    pub const RANDAUGMENT: Self = Self::RandAugment {
        ops: RANDAUGMENT_OPS,
        magnitude: RANDAUGMENT_MAGNITUDE,
    };

    /// The policy's name in `augment.baseline`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TrivialAugment => "trivialaugment",
            Self::RandAugment { .. } => "randaugment",
        }
    }

    /// The operations and magnitudes for one image, drawn as torchvision draws them: the op
    /// index uniformly, then (TrivialAugment) a magnitude bin uniformly when the op takes one,
    /// then a sign with probability ½ when the op is signed.
    pub fn draw(self, shape: ImageShape, rng: &mut StdRng) -> Vec<(Op, f64)> {
        let (space, count) = match self {
            Self::TrivialAugment => (Space::Wide, 1),
            Self::RandAugment { ops, .. } => (Space::RandAugment, ops),
        };
        (0..count)
            .map(|_| {
                let op = Op::ALL[rng.random_range(0..Op::ALL.len())];
                let mut magnitude = match self {
                    _ if !op.has_magnitude() => 0.0,
                    Self::TrivialAugment => {
                        op.magnitude(space, rng.random_range(0..MAGNITUDE_BINS), shape)
                    }
                    Self::RandAugment { magnitude, .. } => op.magnitude(space, magnitude, shape),
                };
                if op.signed() && rng.random_bool(0.5) {
                    magnitude = -magnitude;
                }
                (op, magnitude)
            })
            .collect()
    }

    /// Applies the policy to each image of `images` (a batch of `shape` images in [0, 1], NCHW)
    /// in place: rounded to bytes, transformed, and scaled back to [0, 1].
    pub fn apply(self, images: &mut [f32], shape: ImageShape, rng: &mut StdRng) {
        let numel = shape.numel();
        let mut bytes = vec![0u8; numel];
        let mut scratch = vec![0u8; numel];
        for image in images.chunks_exact_mut(numel) {
            for (b, v) in bytes.iter_mut().zip(image.iter()) {
                *b = (v * 255.0).round().clamp(0.0, 255.0) as u8;
            }
            for (op, magnitude) in self.draw(shape, rng) {
                op.apply(magnitude, &mut bytes, shape, &mut scratch);
            }
            for (v, b) in image.iter_mut().zip(&bytes) {
                *v = f32::from(*b) / 255.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use rand::SeedableRng;

    use super::*;

    fn pattern(count: usize, shape: ImageShape) -> Vec<f32> {
        (0..count * shape.numel())
            .map(|i| ((i * 37) % 256) as f32 / 255.0)
            .collect()
    }

    #[test]
    fn trivialaugment_draws_every_op_and_bin_uniformly() {
        let shape = ImageShape::new(1, 28, 28);
        let mut rng = StdRng::seed_from_u64(3);
        let mut ops: HashMap<Op, usize> = HashMap::new();
        let mut rotations = Vec::new();
        let draws = 14_000;
        for _ in 0..draws {
            let drawn = Policy::TrivialAugment.draw(shape, &mut rng);
            assert_eq!(drawn.len(), 1, "one op per image");
            let (op, m) = drawn[0];
            *ops.entry(op).or_default() += 1;
            if op == Op::Rotate {
                rotations.push(m);
            }
            if !op.has_magnitude() {
                assert_eq!(m, 0.0);
            }
        }
        assert_eq!(ops.len(), 14);
        // Each op has p = 1/14: 1,000 expected, sd ≈ 30.
        assert!(ops.values().all(|&n| (850..1150).contains(&n)), "{ops:?}");
        assert!(rotations.iter().all(|m| m.abs() <= 135.0));
        assert!(rotations.iter().any(|&m| m < -100.0) && rotations.iter().any(|&m| m > 100.0));
        let negative = rotations.iter().filter(|&&m| m < 0.0).count();
        let share = negative as f64 / rotations.len() as f64;
        assert!((0.4..0.6).contains(&share), "{share}");
    }

    #[test]
    fn randaugment_draws_n_ops_at_the_fixed_bin() {
        let shape = ImageShape::new(1, 28, 28);
        let mut rng = StdRng::seed_from_u64(4);
        let policy = Policy::RandAugment {
            ops: 3,
            magnitude: 30,
        };
        for _ in 0..500 {
            let drawn = policy.draw(shape, &mut rng);
            assert_eq!(drawn.len(), 3);
            for (op, m) in drawn {
                let expected = op.magnitude(Space::RandAugment, 30, shape);
                assert_eq!(m.abs(), expected, "{op:?}");
            }
        }
    }

    #[test]
    fn policies_are_seeded_deterministic_and_stay_on_the_byte_grid() {
        let shape = ImageShape::new(3, 8, 8);
        let original = pattern(16, shape);
        for policy in [Policy::TrivialAugment, Policy::RANDAUGMENT] {
            let run = |seed| {
                let mut images = original.clone();
                policy.apply(&mut images, shape, &mut StdRng::seed_from_u64(seed));
                images
            };
            let a = run(1);
            assert_eq!(a, run(1), "{policy:?}");
            assert_ne!(a, run(2), "{policy:?}");
            assert_ne!(a, original, "{policy:?}");
            for v in &a {
                assert!((0.0..=1.0).contains(v));
                let byte = v * 255.0;
                assert!((byte - byte.round()).abs() < 1e-4, "{v} is not k/255");
            }
        }
    }

    #[test]
    fn an_identity_draw_returns_the_input_bytes() {
        // Values on the byte grid round-trip exactly through the byte conversion.
        let shape = ImageShape::new(1, 2, 2);
        let original: Vec<f32> = [0u8, 1, 128, 255].map(|b| f32::from(b) / 255.0).to_vec();
        let mut rng = StdRng::seed_from_u64(0);
        let mut seen_identity = false;
        for _ in 0..200 {
            let mut probe = rng.clone();
            let drawn = Policy::TrivialAugment.draw(shape, &mut probe);
            let mut images = original.clone();
            Policy::TrivialAugment.apply(&mut images, shape, &mut rng);
            if drawn[0].0 == Op::Identity {
                assert_eq!(images, original);
                seen_identity = true;
            }
        }
        assert!(seen_identity);
    }
}
