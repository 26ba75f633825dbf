//! Measuring the distribution of transformations a model serves ([`ServedDistribution`]), by
//! sampling it as ALGORITHM.md ("Serving the learned augmenter") serves it.
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Kind, Tensor};

use crate::nn::{NnError, ParamSet};
use crate::torch_error::TorchError;

use super::apply::augment_standardized;
use super::artefact::Model;
use super::distribution::{is_collapsed, ServedDistribution, COLLAPSE_STD_THRESHOLD};
use super::error::ModelError;
use super::moments::ColumnMoments;

/// Most samples augmented at once.
const CHUNK: usize = 512;
/// Most input values (samples × channels × height × width) in one chunk, so that large images
/// (512 × 512 patches) are sampled a few at a time.
const CHUNK_VALUES: usize = 1 << 24;

/// The distribution `model` serves: `draws` transformations sampled from `seed` (with dropout
/// masks when `dropout`, as served by default), applied to mean-coloured images of the model's
/// height × width in chunks of at most 512, so memory stays small.
pub fn served_distribution(
    model: &Model,
    draws: usize,
    seed: u64,
    dropout: bool,
) -> Result<ServedDistribution, ModelError> {
    if draws == 0 {
        return Err(ModelError::InvalidArgument(
            "the served distribution needs at least one draw".into(),
        ));
    }
    let channels = model.augmenter.channels() as usize;
    let (height, width) = (
        model.info.shape.height.max(1),
        model.info.shape.width.max(1),
    );
    let chunk = (CHUNK_VALUES / (channels * height * width)).clamp(1, CHUNK);
    let device = theta_device(&model.theta)?;
    // Zero in standardized units: the mean colour.
    let shape = [chunk as i64, channels as i64, height as i64, width as i64];
    let images = Tensor::f_zeros(shape, (Kind::Float, device)).map_err(torch)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let names = model.augmenter.transform_names();
    let mut moments = ColumnMoments::default();
    let mut done = 0;
    while done < draws {
        let n = chunk.min(draws - done);
        let batch = images.f_narrow(0, 0, n as i64).map_err(torch)?;
        let augmented = augment_standardized(model, &batch, 1, &mut rng, dropout)?;
        let transform = augmented
            .transform
            .f_to_kind(Kind::Double)
            .and_then(|t| t.f_to_device(tch::Device::Cpu))
            .and_then(|t| t.f_flatten(0, -1))
            .map_err(torch)?;
        moments.add_rows(
            &Vec::<f64>::try_from(&transform).map_err(torch)?,
            names.len(),
        );
        done += n;
    }
    let params = moments.finish(&names);
    Ok(ServedDistribution {
        collapsed: is_collapsed(&params),
        params,
        draws,
        threshold: COLLAPSE_STD_THRESHOLD,
    })
}

fn torch(e: tch::TchError) -> ModelError {
    NnError::from(TorchError::from(e)).into()
}

fn theta_device(theta: &ParamSet) -> Result<tch::Device, ModelError> {
    theta
        .tensors()
        .first()
        .map(Tensor::device)
        .ok_or_else(|| NnError::MissingParameter("any augmenter weight".into()).into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::test_support::test_model;
    use crate::nn::{AffineVariant, AugmenterKind, AugmenterVariant, TransformParam};

    #[test]
    fn a_fresh_augmenter_varies_and_a_seed_repeats_its_distribution() {
        for kind in [
            AugmenterKind::SmallAffine(AffineVariant::Affine),
            AugmenterKind::AffineColor,
        ] {
            let model = test_model(kind, 3, 9);
            // 700 draws: a full chunk of 512 and a partial one.
            let served = served_distribution(&model, 700, 3, true).unwrap();
            assert_eq!(served.draws, 700);
            assert_eq!(served.params.len(), model.augmenter.transform_names().len());
            assert_eq!(served.params[0].name, "a11");
            assert!(!served.collapsed, "{kind}: {served:?}");
            assert!(served.params.iter().any(|p| p.std > 0.01), "{kind}");
            assert!(served.params.iter().all(|p| p.mean.is_finite()));
            assert_eq!(served_distribution(&model, 700, 3, true).unwrap(), served);
            assert_ne!(served_distribution(&model, 700, 4, true).unwrap(), served);
            // Without dropout the noise alone still moves the outputs of a fresh network.
            assert!(
                !served_distribution(&model, 200, 3, false)
                    .unwrap()
                    .collapsed
            );
        }
    }

    #[test]
    fn an_augmenter_that_ignores_its_noise_is_collapsed() {
        let model = test_model(AugmenterKind::AffineColor, 3, 9);
        {
            let _no_grad = tch::no_grad_guard();
            let _zeroed = model
                .theta
                .get("lin3.weight")
                .unwrap()
                .shallow_clone()
                .zero_();
        }
        let served = served_distribution(&model, 600, 3, true).unwrap();
        assert!(served.collapsed, "{served:?}");
        assert_eq!(served.threshold, COLLAPSE_STD_THRESHOLD);
        // Every draw is tanh(bias): the mean is that, the spread nothing.
        let bias = Vec::<f64>::try_from(
            model
                .theta
                .get("lin3.bias")
                .unwrap()
                .tanh()
                .to_kind(Kind::Double),
        )
        .unwrap();
        for (stat, b) in served.params[6..].iter().zip(&bias[6..]) {
            assert!((stat.mean - b).abs() < 1e-6, "{stat:?} vs {b}");
            assert!(stat.std < 1e-6);
        }
        assert!(!is_collapsed(&[]));
        assert!(matches!(
            served_distribution(&model, 0, 3, true),
            Err(ModelError::InvalidArgument(_))
        ));
    }

    #[test]
    fn a_spread_augmenter_keeps_its_floor_even_when_it_ignores_its_noise() {
        let mut model = test_model(AugmenterKind::AffineColor, 3, 9);
        model.augmenter = model
            .augmenter
            .clone()
            .with_variant(AugmenterVariant::Spread);
        model.info.variant = AugmenterVariant::Spread;
        model.theta = model
            .augmenter
            .init(9, Kind::Float, tch::Device::Cpu)
            .unwrap();
        {
            let _no_grad = tch::no_grad_guard();
            // Means and spreads pinned at their lowest: only the floor is left.
            let _ = model
                .theta
                .get("lin3.weight")
                .unwrap()
                .shallow_clone()
                .zero_();
            let _ = model
                .theta
                .get("lin3.bias")
                .unwrap()
                .shallow_clone()
                .fill_(-30.0);
        }
        let served = served_distribution(&model, 4096, 3, true).unwrap();
        assert!(!served.collapsed, "{served:?}");
        for stat in &served.params {
            let floor = TransformParam::from_name(&stat.name)
                .unwrap()
                .spread_range()
                .floor;
            assert!(
                (stat.std - floor).abs() < 0.05 * floor,
                "{}: std {} vs floor {floor}",
                stat.name,
                stat.std
            );
        }
        // The same weights under the reference network: collapsed.
        model.augmenter = model
            .augmenter
            .clone()
            .with_variant(AugmenterVariant::Reference);
        let reference = model
            .augmenter
            .init(9, Kind::Float, tch::Device::Cpu)
            .unwrap();
        {
            let _no_grad = tch::no_grad_guard();
            let _ = reference
                .get("lin3.weight")
                .unwrap()
                .shallow_clone()
                .zero_();
        }
        model.theta = reference;
        assert!(served_distribution(&model, 600, 3, true).unwrap().collapsed);
    }
}
