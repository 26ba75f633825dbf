//! The trained augmenter as an artefact, shared by the training runs that save it, the
//! registry that publishes it and the augment pool that serves it: its description
//! ([`ModelInfo`], with the hand-crafted [`ModelBase`] it was learned on), its two files (load and save), applying it ([`augment_standardized`]) and
//! the distribution of transformations it serves ([`served_distribution`], with the collapse
//! flag of ALGORITHM.md).
mod apply;
mod artefact;
mod base;
mod distribution;
mod error;
mod info;
mod moments;
mod served;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use apply::{augment_on_base, augment_standardized};
pub use artefact::{load_model, model_files, save_model, Model};
pub use base::ModelBase;
pub use distribution::{is_collapsed, ServedDistribution, COLLAPSE_STD_THRESHOLD, SERVED_DRAWS};
pub use error::ModelError;
pub use info::{ModelInfo, MODEL_FORMAT};
pub use moments::{ColumnMoments, TransformStat};
pub use served::served_distribution;

/// The result of [`augment_standardized`]: images and their transformations.
pub use crate::nn::Augmented;
