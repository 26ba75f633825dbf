//! Applying a trained augmenter: the one code path of `augmentd augment`, the service's augment
//! pool and the served-distribution statistics. Sampling follows ALGORITHM.md ("Serving the
//! learned augmenter"): dropout on by default, no gradient, all randomness from the caller's
//! seeded RNG.
use rand::rngs::StdRng;
use tch::Tensor;

use crate::nn::{Augmented, NnError};
use crate::torch_error::TorchError;

use super::artefact::Model;
use super::error::ModelError;

/// Augments `images`, standardized [N, C, H, W] floats on the model's device, `copies` times
/// each: the result's rows `i * copies .. (i + 1) * copies` are copies of image `i`, each with
/// its own noise (and dropout masks when `dropout`). The noise of all N × copies rows is drawn
/// from `rng` in one call, so a seed gives the same images and transformations every time.
pub fn augment_standardized(
    model: &Model,
    images: &Tensor,
    copies: usize,
    rng: &mut StdRng,
    dropout: bool,
) -> Result<Augmented, ModelError> {
    augment(model, images, copies, rng, (dropout, false))
}

/// [`augment_standardized`] with the model's hand-crafted base ([`ModelInfo::base`](
/// super::ModelInfo::base)) applied to every copy before the learned transform, as training
/// applied it; the base draws from `rng` after the learned noise, so a seed gives the same
/// transformation parameters with and without it. A model without a base augments as
/// [`augment_standardized`] does.
pub fn augment_on_base(
    model: &Model,
    images: &Tensor,
    copies: usize,
    rng: &mut StdRng,
    dropout: bool,
) -> Result<Augmented, ModelError> {
    augment(model, images, copies, rng, (dropout, true))
}

fn augment(
    model: &Model,
    images: &Tensor,
    copies: usize,
    rng: &mut StdRng,
    (dropout, on_base): (bool, bool),
) -> Result<Augmented, ModelError> {
    if copies == 0 {
        return Err(ModelError::InvalidArgument(
            "at least one copy per image is needed".into(),
        ));
    }
    let shape = images.size();
    let channels = model.augmenter.channels();
    if shape.len() != 4 || shape[1] != channels {
        return Err(NnError::BadInput {
            network: "augmenter",
            shape,
            expected: format!("[N, {channels}, height, width]"),
        }
        .into());
    }
    let _no_grad = tch::no_grad_guard();
    let copies = copies as i64;
    let batch = images
        .f_repeat_interleave_self_int(copies, 0, shape[0] * copies)
        .map_err(|e| NnError::from(TorchError::from(e)))?;
    let noise = model.augmenter.sample_noise(
        shape[0] * copies,
        rng,
        dropout,
        (images.kind(), images.device()),
    )?;
    let batch = match (on_base, &model.info.base) {
        (true, Some(base)) => base.apply_standardized(&batch, &model.info.normalization, rng)?,
        _ => batch,
    };
    Ok(model.augmenter.forward(&model.theta, &batch, &noise)?)
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;

    use super::*;
    use crate::model::test_support::{test_images as images, test_model as model};
    use crate::nn::{AffineVariant, AugmenterKind};

    #[test]
    fn a_seed_gives_bit_identical_copies() {
        let model = model(AugmenterKind::AffineColor, 3, 3);
        let input = images(2, 3);
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            augment_standardized(&model, &input, 3, &mut rng, true).unwrap()
        };
        let (a, b, other) = (run(7), run(7), run(8));
        assert_eq!(a.images.size(), [6, 3, 12, 10]);
        assert_eq!(a.transform.size(), [6, 10]);
        assert!(a.images.equal(&b.images) && a.transform.equal(&b.transform));
        assert!(!a.transform.equal(&other.transform));
        // Every copy has its own transformation.
        let t = Vec::<f32>::try_from(a.transform.flatten(0, -1)).unwrap();
        assert_ne!(t[..10], t[10..20]);
    }

    #[test]
    fn the_base_goes_under_the_learned_transform_and_keeps_its_parameters() {
        let mut model = model(AugmenterKind::AffineColor, 3, 3);
        let input = images(2, 3);
        let run = |model: &Model, on_base: bool| {
            let mut rng = StdRng::seed_from_u64(7);
            let f = if on_base {
                augment_on_base
            } else {
                augment_standardized
            };
            f(model, &input, 2, &mut rng, true).unwrap()
        };
        // No base recorded: both paths give the same output.
        let (plain, on_base) = (run(&model, false), run(&model, true));
        assert!(plain.images.equal(&on_base.images));
        model.info.base = Some(crate::model::ModelBase {
            baseline: "crop+flip+randaugment".parse().unwrap(),
            crop_padding: 2,
            color_jitter: false,
        });
        let learned_only = run(&model, false);
        let with_base = run(&model, true);
        assert!(
            learned_only.images.equal(&plain.images),
            "learned only ignores the base"
        );
        assert!(
            with_base.transform.equal(&plain.transform),
            "same learned parameters"
        );
        assert!(!with_base.images.allclose(&plain.images, 1e-3, 1e-3, false));
        assert!(
            run(&model, true).images.equal(&with_base.images),
            "same seed, same images"
        );
    }

    #[test]
    fn copies_are_image_major() {
        let model = model(AugmenterKind::SmallAffine(AffineVariant::Affine), 1, 5);
        // Zeroing the last layer's weights makes the transformation its bias for every noise,
        // so the copies of an image are identical and show which image they came from.
        let _no_grad = tch::no_grad_guard();
        let _zeroed = model
            .theta
            .get("lin1.weight")
            .unwrap()
            .shallow_clone()
            .zero_();
        let input = images(2, 1);
        let mut rng = StdRng::seed_from_u64(1);
        let out = augment_standardized(&model, &input, 3, &mut rng, true).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let single = augment_standardized(&model, &input.narrow(0, 1, 1), 1, &mut rng, false)
            .unwrap()
            .images;
        for copy in 3..6 {
            assert!(out
                .images
                .get(copy)
                .allclose(&single.get(0), 1e-6, 1e-6, false));
        }
        assert!(!out
            .images
            .get(0)
            .allclose(&single.get(0), 1e-3, 1e-3, false));
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            augment_standardized(&model, &input, 0, &mut rng, true),
            Err(ModelError::InvalidArgument(_))
        ));
        assert!(matches!(
            augment_standardized(&model, &images(1, 1).view([1, 12, 10]), 1, &mut rng, true),
            Err(ModelError::Nn(NnError::BadInput { .. }))
        ));
    }
}
