//! Networks: the augmenters and the functional classifiers, over explicit parameter sets.
mod affine;
mod augmenter;
mod classifier;
mod color;
mod error;
mod init;
mod layers;
mod params;
mod prior;
mod resnet;
mod small_cnn;
mod transform_param;
mod variant;

pub use affine::AffineVariant;
pub use augmenter::{AugmentNoise, Augmented, Augmenter, AugmenterKind, DROPOUT, GATE_LOGIT};
pub use classifier::{Classifier, ClassifierArch};
pub use color::{hsv_to_rgb, rgb_to_hsv, ColorOp};
pub use error::{NnError, NnResult};
pub use layers::Weights;
pub use params::ParamSet;
pub use prior::{prior_std, SpreadMoments, PRIOR_APPLY_PROB};
pub use transform_param::TransformParam;
pub use variant::{AugmenterVariant, SpreadRange};
