//! Training runs: the configuration, the epoch loop of the method (stoppable from outside),
//! records, pictures, checkpoints, the trained augmenter as an artefact, and applying it.
mod apply;
mod bilevel_batches;
mod bilevel_learner;
mod config;
mod control;
mod datasets;
mod epoch;
mod error;
mod evaluate;
mod frozen_fingerprint;
mod frozen_learner;
mod learner;
mod model;
pub mod pictures;
mod plain_learner;
mod presets;
mod publish;
mod records;
mod run;
mod served;
mod state;

pub use apply::augment_standardized;

pub use config::{
    AugmentConfig, AugmentMode, ClassifierConfig, ConfigError, DataConfig, DataSource,
    NormalizationSpec, OutputConfig, RunConfig, ScheduleConfig, SyntheticConfig,
};
pub use control::{RunControl, StopReason};
pub use error::TrainError;
pub use model::{load_model, save_model, Model, ModelInfo, MODEL_FORMAT};
pub use presets::{preset_toml, PRESET_NAMES};
pub use records::{EpochRecord, RunEvent, TransformAccumulator, TransformStat};
pub use run::{RunSummary, TrainingRun};
pub use served::{is_collapsed, served_distribution, ServedDistribution, COLLAPSE_STD_THRESHOLD};

/// The result of [`augment_standardized`]: images and their transformations.
pub use crate::nn::Augmented;
