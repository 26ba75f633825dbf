//! Training runs: the configuration, the epoch loop of the method, records, pictures,
//! checkpoints and the trained augmenter as an artefact.
mod config;
mod datasets;
mod error;
mod evaluate;
mod model;
pub mod pictures;
mod presets;
mod records;
mod run;
mod state;

pub use config::{
    AugmentConfig, AugmentMode, ClassifierConfig, ConfigError, DataConfig, DataSource,
    OutputConfig, RunConfig, ScheduleConfig, SyntheticConfig,
};
pub use error::TrainError;
pub use model::{load_model, save_model, Model, ModelInfo, MODEL_FORMAT};
pub use presets::{preset_toml, PRESET_NAMES};
pub use records::{EpochRecord, RunEvent, TransformAccumulator, TransformStat};
pub use run::{RunSummary, TrainingRun};
