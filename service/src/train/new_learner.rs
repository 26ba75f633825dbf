//! The learner a run's configuration asks for, built with its classifier (initial weights
//! loaded when given) and, by mode, nothing else, the frozen trained augmenter, the frozen
//! prior q₀ of the `broad` variant, or the augmenter it trains.
use std::path::PathBuf;

use tch::{Device, Kind};

use crate::bilevel::{BilevelConfig, BilevelLearner, ClassifierState};
use crate::model::{Model, ModelInfo};
use crate::nn::{Augmenter, AugmenterVariant, Classifier, ParamSet};
use crate::optim::SgdConfig;

use super::bilevel_learner::BilevelRunLearner;
use super::config::{AugmentMode, RunConfig};
use super::datasets::RunData;
use super::error::TrainError;
use super::frozen_learner::{FrozenAugmenter, FrozenLearner};
use super::learner::Learner;
use super::plain_learner::PlainLearner;

/// The learner `config` asks for, on `device`, for `data`.
pub fn build(
    config: &RunConfig,
    data: &RunData,
    device: Device,
) -> Result<Box<dyn Learner>, TrainError> {
    let c = config;
    let shape = data.train.shape();
    let net = Classifier::new(
        c.classifier.arch,
        shape.channels as i64,
        data.train.num_classes() as i64,
    )?;
    let (mut weights, buffers) = net.init(c.seed, Kind::Float, device)?;
    if let Some(path) = &c.classifier.initial_weights {
        weights = ParamSet::load_like(&weights, path, true)?;
    }
    let classifier_opt = SgdConfig {
        lr: c.classifier.lr,
        momentum: c.classifier.momentum,
        weight_decay: c.classifier.weight_decay,
    };
    Ok(match c.augment.mode {
        AugmentMode::None | AugmentMode::Handcrafted => Box::new(PlainLearner::new(
            ClassifierState::new((net, weights, buffers), classifier_opt)?,
            &c.augment,
        )),
        AugmentMode::Frozen => Box::new(FrozenLearner::new(
            ClassifierState::new((net, weights, buffers), classifier_opt)?,
            FrozenAugmenter::load(c.served_model()?, &data.normalization, shape, device)?
                .require_base(c.augment.model_base(), c.served_model()?)?,
        )),
        AugmentMode::Prior(kind) => {
            let n = &data.normalization;
            let augmenter = Augmenter::new(kind, n.mean.clone(), n.std.clone(), None)?
                .with_variant(AugmenterVariant::Broad);
            let theta = augmenter.prior_weights(c.seed.wrapping_add(1), Kind::Float, device)?;
            let info = ModelInfo {
                kind,
                variant: AugmenterVariant::Broad,
                normalization: n.clone(),
                bound: None,
                shape,
                epoch: 0,
                served: None,
                base: c.augment.model_base(),
            };
            let model = Model {
                info,
                augmenter,
                theta,
            };
            let name = PathBuf::from(format!("the prior q₀ of {kind}"));
            Box::new(FrozenLearner::new(
                ClassifierState::new((net, weights, buffers), classifier_opt)?,
                FrozenAugmenter::new(model, &name, n, shape)?,
            ))
        }
        AugmentMode::Learned(kind) => {
            let n = &data.normalization;
            let augmenter = Augmenter::new(kind, n.mean.clone(), n.std.clone(), c.augment.bound)?
                .with_variant(c.augment.variant_or_default());
            let theta = augmenter.init(c.seed.wrapping_add(1), Kind::Float, device)?;
            let bilevel = BilevelConfig {
                inner_steps: c.augment.inner_steps,
                classifier: classifier_opt,
                augmenter: SgdConfig {
                    lr: c.augment.lr,
                    momentum: c.augment.momentum,
                    weight_decay: c.augment.weight_decay.unwrap_or(0.0),
                },
                objective: c.augment.objective(),
            };
            let learner =
                BilevelLearner::new((net, weights, buffers), (augmenter, theta), bilevel)?;
            Box::new(BilevelRunLearner::new(
                learner,
                n.clone(),
                shape,
                (c.augment.bound, c.augment.model_base()),
            ))
        }
    })
}
