//! Training runs: the configuration, the epoch loop of the method (stoppable from outside),
//! records, pictures and checkpoints; saving the trained augmenter as a model (the artefact itself is
//! [`crate::model`]).
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
mod new_learner;
pub mod pictures;
mod plain_learner;
mod presets;
mod publish;
mod records;
mod run;
mod state;

pub use config::{
    AugmentConfig, AugmentMode, ClassifierConfig, ConfigError, DataConfig, DataSource,
    NormalizationSpec, OutputConfig, RunConfig, ScheduleConfig, SyntheticConfig,
};
pub use control::{RunControl, StopReason};
pub use error::TrainError;
pub use presets::{preset_toml, PRESET_NAMES};
pub use records::{EpochRecord, RunEvent, TransformAccumulator, TransformStat};
pub use run::{RunSummary, TrainingRun};
