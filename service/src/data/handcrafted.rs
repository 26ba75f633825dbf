//! A hand-crafted baseline, as `augment.baseline` names it: a geometric [`Level`] (crop, affine,
//! flip), then optionally an automatic [`Policy`] (TrivialAugmentWide or RandAugment), then
//! optionally random erasing, joined with `+` (`crop+flip+trivialaugment+erasing`).
//!
//! In a batch: the level (and colour jitter) and the policy on the [0, 1] images, then
//! standardization, then erasing, which sets standardized pixels to 0 as torchvision's
//! `RandomErasing` after `Normalize` does. Each part draws from the batch's generator only when
//! present, so a level alone draws exactly what it drew before policies existed.
use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;

use super::baseline::Level;
use super::dataset::ImageShape;
use super::erasing;
use super::error::DataError;
use super::policy::Policy;

/// The parts a baseline's name is made of, for error messages.
const PARTS: &str = "crop, affine (after crop), flip, trivialaugment or randaugment, erasing";

/// A hand-crafted augmentation: level, policy, erasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Baseline {
    /// The geometric transforms.
    pub level: Level,
    /// The automatic augmentation policy after the level, if any.
    pub policy: Option<Policy>,
    /// Random erasing after standardization.
    pub erasing: bool,
}

impl From<Level> for Baseline {
    fn from(level: Level) -> Self {
        Self {
            level,
            policy: None,
            erasing: false,
        }
    }
}

impl Baseline {
    /// Whether the baseline changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// The same baseline with RandAugment's operation count and magnitude bin set (no change
    /// unless its policy is RandAugment).
    pub fn with_randaugment(mut self, ops: usize, magnitude: usize) -> Self {
        if let Some(Policy::RandAugment { .. }) = self.policy {
            self.policy = Some(Policy::RandAugment { ops, magnitude });
        }
        self
    }

    /// The part before standardization: the level (crops of at most `crop_padding` pixels each
    /// way, colour jitter when `color_jitter` is set), then the policy, on `images`, a batch of
    /// `shape` images in [0, 1], NCHW, in place with parameters drawn from `rng`.
    pub fn apply(
        &self,
        (color_jitter, crop_padding): (bool, usize),
        images: &mut [f32],
        shape: ImageShape,
        rng: &mut StdRng,
    ) -> Result<(), DataError> {
        self.level
            .apply((color_jitter, crop_padding), images, shape, rng)?;
        if let Some(policy) = self.policy {
            policy.apply(images, shape, rng);
        }
        Ok(())
    }

    /// The part after standardization: random erasing of `images` (standardized), if set.
    pub fn apply_standardized(&self, images: &mut [f32], shape: ImageShape, rng: &mut StdRng) {
        if self.erasing {
            erasing::apply(images, shape, rng);
        }
    }
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<&str> = Vec::new();
        if self.level != Level::None {
            parts.push(self.level.name());
        }
        if let Some(policy) = self.policy {
            parts.push(policy.name());
        }
        if self.erasing {
            parts.push("erasing");
        }
        if parts.is_empty() {
            parts.push("none");
        }
        f.write_str(&parts.join("+"))
    }
}

impl FromStr for Baseline {
    type Err = DataError;

    /// Parses `none` or parts joined with `+`, in any order, each at most once.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| DataError::UnknownBaseline {
            name: text.to_string(),
            reason,
        };
        let wanted = text.trim().to_ascii_lowercase();
        if wanted == "none" {
            return Ok(Self::default());
        }
        let (mut crop, mut affine, mut flip, mut erasing) = (false, false, false, false);
        let mut policy = None;
        for part in wanted.split('+').map(str::trim) {
            let seen = match part {
                "crop" => std::mem::replace(&mut crop, true),
                "affine" => std::mem::replace(&mut affine, true),
                "flip" => std::mem::replace(&mut flip, true),
                "erasing" => std::mem::replace(&mut erasing, true),
                "trivialaugment" | "randaugment" => {
                    let new = if part == "trivialaugment" {
                        Policy::TrivialAugment
                    } else {
                        Policy::RANDAUGMENT
                    };
                    match policy.replace(new) {
                        Some(old) if old == new => {
                            return Err(invalid(format!("'{part}' appears twice")))
                        }
                        Some(old) => {
                            return Err(invalid(format!(
                                "'{}' and '{part}' are both policies: choose one",
                                old.name()
                            )))
                        }
                        None => {}
                    }
                    false
                }
                "none" => return Err(invalid("'none' cannot be combined with other parts".into())),
                "" => return Err(invalid("an empty part (two '+' in a row?)".into())),
                other => {
                    return Err(invalid(format!(
                        "'{other}' is not a part: expected none, or {PARTS} joined with '+'"
                    )))
                }
            };
            if seen {
                return Err(invalid(format!("'{part}' appears twice")));
            }
        }
        let level = Level::from_parts(crop, affine, flip).ok_or_else(|| {
            invalid("'affine' needs 'crop' (crop+affine, crop+affine+flip)".into())
        })?;
        Ok(Self {
            level,
            policy,
            erasing,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;

    use super::*;

    fn parse(text: &str) -> Baseline {
        text.parse().unwrap()
    }

    fn error(text: &str) -> String {
        let err = text.parse::<Baseline>().unwrap_err();
        assert!(matches!(err, DataError::UnknownBaseline { .. }), "{err}");
        err.to_string()
    }

    #[test]
    fn names_parse_and_print_back() {
        for level in Level::ALL {
            let baseline = Baseline::from(level);
            assert_eq!(parse(&baseline.to_string()), baseline);
            for policy in [
                None,
                Some(Policy::TrivialAugment),
                Some(Policy::RANDAUGMENT),
            ] {
                for erasing in [false, true] {
                    let b = Baseline {
                        level,
                        policy,
                        erasing,
                    };
                    assert_eq!(parse(&b.to_string()), b, "{b}");
                }
            }
        }
        assert_eq!(parse(" Crop+Flip "), Level::CropFlip.into());
        assert_eq!(
            parse("erasing + flip+crop + trivialaugment").to_string(),
            "crop+flip+trivialaugment+erasing"
        );
        assert_eq!(parse("randaugment").level, Level::None);
        assert!(parse("none").is_none());
        assert_eq!(Baseline::default().to_string(), "none");
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        assert_eq!(
            error("crop+rotate"),
            "invalid baseline 'crop+rotate': 'rotate' is not a part: expected none, or crop, \
             affine (after crop), flip, trivialaugment or randaugment, erasing joined with '+'"
        );
        assert!(error("flip+flip").contains("'flip' appears twice"));
        assert!(error("trivialaugment+randaugment").contains("both policies"));
        assert!(error("affine+flip").contains("'affine' needs 'crop'"));
        assert!(error("none+erasing").contains("cannot be combined"));
        assert!(error("crop++flip").contains("empty part"));
    }

    #[test]
    fn randaugment_settings_apply_only_to_randaugment() {
        let ra = parse("crop+randaugment").with_randaugment(3, 14);
        assert_eq!(
            ra.policy,
            Some(Policy::RandAugment {
                ops: 3,
                magnitude: 14
            })
        );
        let ta = parse("trivialaugment").with_randaugment(3, 14);
        assert_eq!(ta.policy, Some(Policy::TrivialAugment));
    }

    #[test]
    fn a_level_alone_draws_what_it_drew_before() {
        // The same generator state after the level, with or without the other parts absent.
        let shape = ImageShape::new(1, 6, 6);
        let original: Vec<f32> = (0..4 * 36).map(|i| (i % 256) as f32 / 255.0).collect();
        let mut via_level = original.clone();
        let mut rng_level = StdRng::seed_from_u64(8);
        Level::CropFlip
            .apply((false, 2), &mut via_level, shape, &mut rng_level)
            .unwrap();
        let mut via_baseline = original.clone();
        let mut rng_baseline = StdRng::seed_from_u64(8);
        let b = parse("crop+flip");
        b.apply((false, 2), &mut via_baseline, shape, &mut rng_baseline)
            .unwrap();
        b.apply_standardized(&mut via_baseline, shape, &mut rng_baseline);
        assert_eq!(via_level, via_baseline);
        assert_eq!(
            rand::Rng::random::<u64>(&mut rng_level),
            rand::Rng::random::<u64>(&mut rng_baseline)
        );
    }

    #[test]
    fn erasing_applies_only_after_standardization() {
        let shape = ImageShape::new(1, 10, 10);
        let original = vec![0.5; 8 * shape.numel()];
        let b = parse("erasing");
        let mut images = original.clone();
        let mut rng = StdRng::seed_from_u64(1);
        b.apply((false, 2), &mut images, shape, &mut rng).unwrap();
        assert_eq!(images, original, "nothing before standardization");
        b.apply_standardized(&mut images, shape, &mut rng);
        assert!(images.contains(&0.0));
    }
}
